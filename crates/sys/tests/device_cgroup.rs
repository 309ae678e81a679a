//! The device cgroup on the kernel, both versions, each in throwaway
//! cgroups (removed by a guard, also on failure) and inside a world: v2
//! with the world's view of the unified hierarchy and a private BPF file
//! system, v1 on the host's hybrid layout. A process put in the cgroup
//! opens `/dev/null` but not a device that is not allowed, until it is.

use std::fs;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use rustix::io::Errno;
use snapcell_core::devices::{Device, MINOR_ANY, default_devices};
use snapcell_sys::cgroup::device::{
    DeviceCgroup, DeviceCgroupSetup, map_path, setup_device_cgroup,
};
use snapcell_sys::cgroup::{CgroupVersion, cgroup_version};
use snapcell_test_support::cgroup::{
    CgroupGuard, device_dir, fake_udev, host_v2_root, in_child, opens_in, private_bpffs,
    show_cgroup_v1, tag_device, unique_snap_name, uuid,
};
use snapcell_test_support::run_in_world;

const LOOP_CONTROL: (u32, u32) = (10, 237);

/// Device nodes in a world: null, loop-control (char) and loop0 (block),
/// and a char node with loop0's numbers.
fn nodes() -> PathBuf {
    device_dir(&[
        ("null", FileType::CharacterDevice, 1, 3),
        (
            "ctl",
            FileType::CharacterDevice,
            LOOP_CONTROL.0,
            LOOP_CONTROL.1,
        ),
        ("blk", FileType::BlockDevice, 7, 0),
        ("chr7", FileType::CharacterDevice, 7, 0),
    ])
}

/// Whether the cgroup let the open through (the driver may still fail it,
/// loop0 without a backing file for one; only `EPERM` is the cgroup's).
fn let_through(r: &Result<(), Errno>) -> bool {
    !matches!(r, Err(Errno::PERM))
}

#[test]
fn v2_program_and_pinned_map() {
    let name = unique_snap_name();
    let tag = format!("snap.{name}.app");
    let parent = format!("snapcell-test-{name}");
    let leaf = format!("snap.{name}.app-{}.scope", uuid());
    let mut guard = CgroupGuard::new();
    guard
        .dir(host_v2_root().join(&parent))
        .dir(host_v2_root().join(&parent).join(&leaf));
    run_in_world(|_world| {
        private_bpffs();
        assert_eq!(cgroup_version().unwrap(), CgroupVersion::V2);
        let dir = Path::new("/sys/fs/cgroup").join(&parent);
        fs::create_dir(&dir).unwrap();
        fs::create_dir(dir.join(&leaf)).unwrap();
        let procs = dir.join(&leaf).join("cgroup.procs");
        let devs = nodes();
        let [null, ctl, blk, chr7] = ["null", "ctl", "blk", "chr7"].map(|n| devs.join(n));
        let paths = [null.as_path(), ctl.as_path(), blk.as_path(), chr7.as_path()];

        // Before: everything opens.
        assert!(opens_in(Some(&procs), &paths).iter().all(let_through));

        // Set up as snap-confine does, from inside the cgroup.
        let setup = in_child(Some(&procs), || {
            let cg = DeviceCgroup::create(&tag).unwrap();
            for d in default_devices() {
                cg.allow(d).unwrap();
            }
            cg.attach_self().unwrap();
            0
        });
        assert_eq!(setup, 0);
        assert!(Path::new(&map_path(&tag)).exists(), "the map is pinned");

        let r = opens_in(Some(&procs), &paths);
        assert_eq!(r[0], Ok(()), "/dev/null");
        assert_eq!(r[1], Err(Errno::PERM), "loop-control is not allowed");
        assert_eq!(r[2], Err(Errno::PERM), "loop0 is not allowed");
        // Outside the cgroup nothing changed.
        assert_eq!(opens_in(None, &[ctl.as_path()])[0], Ok(()));

        // Hot-plug: allowed through the pinned map, from outside.
        let cg = DeviceCgroup::open_existing(&tag)
            .unwrap()
            .expect("the cgroup exists");
        cg.allow(Device::char(LOOP_CONTROL.0, LOOP_CONTROL.1))
            .unwrap();
        cg.allow(Device::block(7, 0)).unwrap();
        let r = opens_in(Some(&procs), &paths);
        assert_eq!(r[1], Ok(()), "loop-control once allowed");
        assert!(let_through(&r[2]), "loop0 once allowed: {:?}", r[2]);
        assert_eq!(r[3], Err(Errno::PERM), "a block rule allows no char device");

        // Removed again.
        cg.deny(Device::char(LOOP_CONTROL.0, LOOP_CONTROL.1))
            .unwrap();
        cg.deny(Device::char(LOOP_CONTROL.0, LOOP_CONTROL.1))
            .unwrap();
        assert_eq!(
            opens_in(Some(&procs), &[ctl.as_path()])[0],
            Err(Errno::PERM)
        );

        // A whole major.
        cg.allow(Device::char(LOOP_CONTROL.0, MINOR_ANY)).unwrap();
        assert_eq!(opens_in(Some(&procs), &[ctl.as_path()])[0], Ok(()));

        // A fresh setup starts from an empty map.
        let again = in_child(Some(&procs), || {
            let cg = DeviceCgroup::create(&tag).unwrap();
            cg.allow(Device::char(1, 3)).unwrap();
            cg.attach_self().unwrap();
            0
        });
        assert_eq!(again, 0);
        let r = opens_in(Some(&procs), &paths);
        assert_eq!(r[0], Ok(()));
        assert_eq!(r[1], Err(Errno::PERM));
        assert_eq!(r[2], Err(Errno::PERM));

        // Never in a group that is not a snap's.
        let outside = in_child(None, || {
            let cg = DeviceCgroup::create(&tag).unwrap();
            match cg.attach_self() {
                Err(e) if e.to_string().ends_with("is not a snap cgroup") => 0,
                other => {
                    eprintln!("{other:?}");
                    1
                }
            }
        });
        assert_eq!(outside, 0);
        // snap-device-helper's view of an app without a map: nothing.
        assert!(
            DeviceCgroup::open_existing("snap.nosuchsnap.app")
                .unwrap()
                .is_none()
        );
    });
    drop(guard);
}

#[test]
fn v1_devices_controller() {
    let name = unique_snap_name();
    let tag = format!("snap.{name}.app");
    let mut guard = CgroupGuard::new();
    let host_dir = PathBuf::from("/sys/fs/cgroup/devices").join(&tag);
    guard.dir(&host_dir);
    run_in_world(|_world| {
        show_cgroup_v1();
        assert_eq!(cgroup_version().unwrap(), CgroupVersion::V1);
        let procs = host_dir.join("cgroup.procs");
        let devs = nodes();
        let [null, ctl, blk, chr7] = ["null", "ctl", "blk", "chr7"].map(|n| devs.join(n));
        let paths = [null.as_path(), ctl.as_path(), blk.as_path(), chr7.as_path()];

        assert!(DeviceCgroup::open_existing(&tag).unwrap().is_none());
        let setup = in_child(None, || {
            let cg = DeviceCgroup::create(&tag).unwrap();
            for d in default_devices() {
                cg.allow(d).unwrap();
            }
            cg.attach_self().unwrap();
            // The process itself is now confined.
            match open_both() {
                (Ok(()), Err(Errno::PERM)) => 0,
                other => {
                    eprintln!("{other:?}");
                    1
                }
            }
        });
        assert_eq!(setup, 0);
        let list = fs::read_to_string(host_dir.join("devices.list")).unwrap();
        assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        assert!(list.lines().any(|l| l == "c 136:* rwm"), "{list}");
        assert!(!list.contains("a *:*"), "{list}");

        let r = opens_in(Some(&procs), &paths);
        assert_eq!(r[0], Ok(()));
        assert_eq!(r[1], Err(Errno::PERM));
        assert_eq!(r[2], Err(Errno::PERM));

        let cg = DeviceCgroup::open_existing(&tag)
            .unwrap()
            .expect("the cgroup exists");
        cg.allow(Device::char(LOOP_CONTROL.0, LOOP_CONTROL.1))
            .unwrap();
        cg.allow(Device::block(7, 0)).unwrap();
        let r = opens_in(Some(&procs), &paths);
        assert_eq!(r[1], Ok(()));
        assert!(let_through(&r[2]), "{:?}", r[2]);
        assert_eq!(r[3], Err(Errno::PERM));
        cg.deny(Device::char(LOOP_CONTROL.0, LOOP_CONTROL.1))
            .unwrap();
        assert_eq!(
            opens_in(Some(&procs), &[ctl.as_path()])[0],
            Err(Errno::PERM)
        );
        // Opening an existing cgroup never resets it.
        let r = opens_in(Some(&procs), &paths);
        assert!(let_through(&r[2]));

        // A fresh setup denies what was allowed before.
        let again = in_child(None, || {
            let cg = DeviceCgroup::create(&tag).unwrap();
            cg.allow(Device::char(1, 3)).unwrap();
            0
        });
        assert_eq!(again, 0);
        assert_eq!(
            opens_in(Some(&procs), &[blk.as_path()])[0],
            Err(Errno::PERM)
        );
    });
    drop(guard);
    assert!(!host_dir.exists(), "{} is left", host_dir.display());
}

fn open_both() -> (Result<(), Errno>, Result<(), Errno>) {
    let d = Path::new("/tmp/snapcell-devs");
    (
        snapcell_test_support::cgroup::open_result(&d.join("null")),
        snapcell_test_support::cgroup::open_result(&d.join("ctl")),
    )
}

/// snap-confine's step on the v1 layout: nothing without tagged devices on
/// an optional base, the defaults and the tagged device otherwise.
#[test]
fn setup_follows_tags_and_base() {
    let name = unique_snap_name();
    let tag = format!("snap.{name}.app");
    let udev_tag = format!("snap_{name}_app");
    let mut guard = CgroupGuard::new();
    let host_dir = PathBuf::from("/sys/fs/cgroup/devices").join(&tag);
    guard.dir(&host_dir);
    run_in_world(|_world| {
        show_cgroup_v1();
        fake_udev();
        let devs = nodes();
        let procs = host_dir.join("cgroup.procs");

        // No tags, optional base: no cgroup.
        assert_eq!(
            setup_device_cgroup(&name, &tag, "core22").unwrap(),
            DeviceCgroupSetup::NotNeeded
        );
        assert!(!host_dir.exists());

        // No .device file (snapd 2.57): optional on every base.
        assert_eq!(
            setup_device_cgroup(&name, &tag, "core24").unwrap(),
            DeviceCgroupSetup::NotNeeded
        );

        // Self-managed (current snapd's file): nothing, whatever the base.
        fs::create_dir_all("/var/lib/snapd/cgroup").unwrap();
        let info = format!("/var/lib/snapd/cgroup/snap.{name}.device");
        fs::write(&info, "self-managed=true\n").unwrap();
        assert_eq!(
            setup_device_cgroup(&name, &tag, "core24").unwrap(),
            DeviceCgroupSetup::Skipped("self-managed")
        );
        fs::write(&info, "# generated\nself-managed=false\nnon-strict=false\n").unwrap();

        // A tagged device whose tag is no longer current: ignored.
        tag_device(&udev_tag, "c10:237");
        fs::write("/run/udev/data/c10:237", format!("G:{udev_tag}\n")).unwrap();
        assert_eq!(
            setup_device_cgroup(&name, &tag, "core22").unwrap(),
            DeviceCgroupSetup::NotNeeded
        );

        // Tagged (loop-control, which sysfs knows): the cgroup is made.
        tag_device(&udev_tag, "c10:237");
        tag_device(&udev_tag, "n2"); // a network interface: no node
        let code = in_child(None, || match setup_device_cgroup(&name, &tag, "core22") {
            Ok(DeviceCgroupSetup::Joined(devices))
                if devices.contains(&Device::char(10, 237))
                    && devices.starts_with(&default_devices()) =>
            {
                0
            }
            other => {
                eprintln!("{other:?}");
                1
            }
        });
        assert_eq!(code, 0);
        let r = opens_in(
            Some(&procs),
            &[&devs.join("null"), &devs.join("ctl"), &devs.join("blk")],
        );
        assert_eq!(r, vec![Ok(()), Ok(()), Err(Errno::PERM)]);

        // Required base, nothing tagged: the cgroup with the defaults.
        fs::remove_dir_all(format!("/run/udev/tags/{udev_tag}")).unwrap();
        let code = in_child(None, || match setup_device_cgroup(&name, &tag, "core24") {
            Ok(DeviceCgroupSetup::Joined(devices)) if !devices.contains(&Device::char(10, 237)) => {
                0
            }
            other => {
                eprintln!("{other:?}");
                1
            }
        });
        assert_eq!(code, 0);
        let r = opens_in(Some(&procs), &[&devs.join("null"), &devs.join("ctl")]);
        assert_eq!(r, vec![Ok(()), Err(Errno::PERM)]);
    });
    drop(guard);
    assert!(!host_dir.exists(), "{} is left", host_dir.display());
}
