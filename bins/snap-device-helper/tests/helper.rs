//! snap-device-helper called as udev calls it, for an app whose device
//! cgroup snap-confine set up, on cgroup v1 and v2 (throwaway cgroups
//! removed by a guard, a private BPF file system): a hot-plugged device
//! becomes reachable from inside the cgroup and is gone after removal.
//! Both command lines; snapd 2.57's own helper (Debian's package), where
//! installed, is run through the same 2.57 calls and must agree.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rustix::fs::FileType;
use rustix::io::Errno;
use snapcell_core::devices::default_devices;
use snapcell_sys::cgroup::device::DeviceCgroup;
use snapcell_test_support::cgroup::{
    CgroupGuard, device_dir, host_v2_root, in_child, opens_in, private_bpffs, show_cgroup_v1,
    unique_snap_name, uuid,
};
use snapcell_test_support::run_in_world;

const OURS: &str = env!("CARGO_BIN_EXE_snap-device-helper");
const SNAPD_2_57: &str = "/usr/lib/snapd/snap-device-helper";

const LOOP_CONTROL_DEVPATH: &str = "/devices/virtual/misc/loop-control";
const LOOP0_DEVPATH: &str = "/devices/virtual/block/loop0";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    V1,
    V2,
}

/// Run `helper` with `args` and exactly `env`.
fn call(helper: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(helper)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn expect_ok(out: &Output) {
    assert!(
        out.status.success(),
        "the helper failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// udev's environment for a device event.
fn udev_env<'a>(
    action: &'a str,
    devpath: &'a str,
    major: &'a str,
    minor: &'a str,
    subsystem: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ACTION", action),
        ("DEVPATH", devpath),
        ("MAJOR", major),
        ("MINOR", minor),
        ("SUBSYSTEM", subsystem),
    ]
}

/// An app's device cgroup as snap-confine leaves it (the defaults only),
/// in a world; returns the `cgroup.procs` of a process inside it.
fn confined_app(version: Version, name: &str, guard: &mut CgroupGuard) -> Box<dyn Fn() -> PathBuf> {
    let tag = format!("snap.{name}.app");
    match version {
        Version::V1 => {
            let dir = PathBuf::from("/sys/fs/cgroup/devices").join(&tag);
            guard.dir(&dir);
            Box::new(move || {
                show_cgroup_v1();
                let code = in_child(None, || {
                    let cg = DeviceCgroup::create(&tag).unwrap();
                    default_devices()
                        .into_iter()
                        .for_each(|d| cg.allow(d).unwrap());
                    cg.attach_self().unwrap();
                    0
                });
                assert_eq!(code, 0);
                dir.join("cgroup.procs")
            })
        }
        Version::V2 => {
            let parent = format!("snapcell-test-{name}");
            let leaf = format!("{tag}-{}.scope", uuid());
            guard
                .dir(host_v2_root().join(&parent))
                .dir(host_v2_root().join(&parent).join(&leaf));
            Box::new(move || {
                private_bpffs();
                let dir = Path::new("/sys/fs/cgroup").join(&parent).join(&leaf);
                fs::create_dir_all(&dir).unwrap();
                let procs = dir.join("cgroup.procs");
                let code = in_child(Some(&procs), || {
                    let cg = DeviceCgroup::create(&tag).unwrap();
                    default_devices()
                        .into_iter()
                        .for_each(|d| cg.allow(d).unwrap());
                    cg.attach_self().unwrap();
                    0
                });
                assert_eq!(code, 0);
                procs
            })
        }
    }
}

fn nodes() -> (PathBuf, PathBuf, PathBuf) {
    let dir = device_dir(&[
        ("ctl", FileType::CharacterDevice, 10, 237),
        ("blk", FileType::BlockDevice, 7, 0),
        ("chr7", FileType::CharacterDevice, 7, 0),
    ]);
    (dir.join("ctl"), dir.join("blk"), dir.join("chr7"))
}

fn let_through(r: &Result<(), Errno>) -> bool {
    !matches!(r, Err(Errno::PERM))
}

/// Current snapd's command line (the tag; the device from udev's environment).
fn current_command_line(version: Version) {
    let name = unique_snap_name();
    let udev_tag = format!("snap_{name}_app");
    let mut guard = CgroupGuard::new();
    let setup = confined_app(version, &name, &mut guard);
    run_in_world(|_world| {
        let procs = setup();
        let (ctl, blk, chr7) = nodes();
        let probe = || {
            opens_in(
                Some(&procs),
                &[ctl.as_path(), blk.as_path(), chr7.as_path()],
            )
        };
        let r = probe();
        assert_eq!(
            (r[0], r[1]),
            (Err(Errno::PERM), Err(Errno::PERM)),
            "{version:?}"
        );

        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &udev_env("add", LOOP_CONTROL_DEVPATH, "10", "237", "misc"),
        ));
        assert_eq!(probe()[0], Ok(()), "plugged in ({version:?})");
        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &udev_env("add", LOOP0_DEVPATH, "7", "0", "block"),
        ));
        let r = probe();
        assert!(let_through(&r[1]), "{r:?}");
        assert_eq!(r[2], Err(Errno::PERM), "a block device is no char device");

        // The legacy four arguments from current rules: the device still
        // comes from the environment.
        expect_ok(&call(
            OURS,
            &["remove", &udev_tag, "/devices/bogus/x", "1:1"],
            &udev_env("remove", LOOP_CONTROL_DEVPATH, "10", "237", "misc"),
        ));
        assert_eq!(probe()[0], Err(Errno::PERM), "unplugged ({version:?})");
        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &udev_env("remove", LOOP0_DEVPATH, "7", "0", "block"),
        ));
        assert_eq!(probe()[1], Err(Errno::PERM));

        // Events that change nothing.
        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &udev_env("unbind", LOOP_CONTROL_DEVPATH, "10", "237", "misc"),
        ));
        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &[("ACTION", "add"), ("SUBSYSTEM", "usb")],
        ));
        expect_ok(&call(
            OURS,
            &[&udev_tag],
            &udev_env("add", "/module/loop", "10", "237", "module"),
        ));
        assert_eq!(probe()[0], Err(Errno::PERM));
        // An app without a device cgroup: nothing to do.
        expect_ok(&call(
            OURS,
            &["snap_nosuchsnap_app"],
            &udev_env("add", LOOP_CONTROL_DEVPATH, "10", "237", "misc"),
        ));
        assert!(!Path::new("/sys/fs/cgroup/devices/snap.nosuchsnap.app").exists());
        assert!(!Path::new("/sys/fs/bpf/snap/snap_nosuchsnap_app").exists());

        let out = call(
            OURS,
            &[&udev_tag],
            &udev_env("frob", LOOP_CONTROL_DEVPATH, "10", "237", "misc"),
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "ERROR: unknown action \"frob\"\n"
        );
    });
    drop(guard);
}

/// snapd 2.57's command line, run by `helper` (ours or snapd's).
fn legacy_command_line(version: Version, helper: &'static str) {
    let name = unique_snap_name();
    let udev_tag = format!("snap_{name}_app");
    let mut guard = CgroupGuard::new();
    let setup = confined_app(version, &name, &mut guard);
    run_in_world(|_world| {
        let procs = setup();
        let (ctl, blk, chr7) = nodes();
        let probe = || {
            opens_in(
                Some(&procs),
                &[ctl.as_path(), blk.as_path(), chr7.as_path()],
            )
        };
        expect_ok(&call(
            helper,
            &["add", &udev_tag, LOOP_CONTROL_DEVPATH, "10:237"],
            &[],
        ));
        expect_ok(&call(
            helper,
            &["add", &udev_tag, LOOP0_DEVPATH, "7:0"],
            &[],
        ));
        let r = probe();
        assert_eq!(r[0], Ok(()), "{helper} {version:?}");
        assert!(let_through(&r[1]), "{helper} {version:?}: {r:?}");
        assert_eq!(r[2], Err(Errno::PERM), "{helper} {version:?}");
        expect_ok(&call(
            helper,
            &["remove", &udev_tag, LOOP_CONTROL_DEVPATH, "10:237"],
            &[],
        ));
        expect_ok(&call(
            helper,
            &["remove", &udev_tag, LOOP0_DEVPATH, "7:0"],
            &[],
        ));
        let r = probe();
        assert_eq!(
            (r[0], r[1]),
            (Err(Errno::PERM), Err(Errno::PERM)),
            "{helper} {version:?}"
        );

        let out = call(
            helper,
            &["bind", &udev_tag, LOOP_CONTROL_DEVPATH, "10:237"],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("ERROR: unknown action \"bind\""),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = call(helper, &["add", &udev_tag], &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("incorrect number of arguments"));
    });
    drop(guard);
}

#[test]
fn current_command_line_v1() {
    current_command_line(Version::V1);
}

#[test]
fn current_command_line_v2() {
    current_command_line(Version::V2);
}

#[test]
fn legacy_command_line_v1() {
    legacy_command_line(Version::V1, OURS);
}

#[test]
fn legacy_command_line_v2() {
    legacy_command_line(Version::V2, OURS);
}

/// Debian's snapd 2.57.6 helper on the same cgroups: the same answers.
#[test]
fn snapd_2_57_helper_agrees_v1() {
    if !Path::new(SNAPD_2_57).exists() {
        eprintln!("SKIPPED: {SNAPD_2_57} is not installed");
        return;
    }
    legacy_command_line(Version::V1, SNAPD_2_57);
}

#[test]
fn snapd_2_57_helper_agrees_v2() {
    if !Path::new(SNAPD_2_57).exists() {
        eprintln!("SKIPPED: {SNAPD_2_57} is not installed");
        return;
    }
    legacy_command_line(Version::V2, SNAPD_2_57);
}
