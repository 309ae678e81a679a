//! snap-confine end to end, in throwaway worlds with a real squashfs base
//! and app snap on loop devices.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use common::*;
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

type Env = Vec<(std::ffi::OsString, std::ffi::OsString)>;

const MOUNTINFO: &str = "cat /proc/self/mountinfo";

#[test]
fn a_cold_start_builds_the_namespace_the_spec_describes() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let out = run_app(&fx.confine, "core", MOUNTINFO, true);
        let stdout = expect_success(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("DEBUG: stage unshare:"), "{stderr}");
        assert!(stderr.contains("DEBUG: stage preserve:"), "{stderr}");
        let table = parse_table(&stdout);

        let root = top(&table, "/").expect("a root mount");
        assert_eq!(root.fs_type, "tmpfs", "/ is a tmpfs");
        assert!(!root.is_read_only());
        for entry in ["/bin", "/usr", "/lib", "/var"] {
            let m = top(&table, entry).unwrap_or_else(|| panic!("{entry} is not bound"));
            assert_eq!(m.fs_type, "squashfs", "{entry}");
            assert_eq!(m.root, entry, "{entry} comes from the base");
            assert!(m.is_read_only(), "{entry} is read-only");
        }
        // Host directories, slave (or private when the host side went away)
        // except the two shared ones.
        for dir in [
            "/dev",
            "/etc",
            "/home",
            "/root",
            "/proc",
            "/sys",
            "/var/snap",
            "/var/lib/snapd",
            "/var/tmp",
            "/run",
            "/usr/src",
            "/var/log",
            "/media",
            "/run/netns",
            "/mnt",
        ] {
            // The topmost mount: where the host's directory is itself a
            // mount point (/run/netns here), the recursive bind of its
            // parent brings a slave copy underneath.
            let m = top(&table, dir).unwrap_or_else(|| panic!("{dir} is not bound from the host"));
            let p = m.propagation();
            if dir == "/media" || dir == "/run/netns" {
                assert!(p.shared.is_some(), "{dir} must be shared: {m}");
            } else {
                assert!(p.shared.is_none(), "{dir} must not be shared: {m}");
            }
        }
        assert!(top(&table, "/etc").unwrap().propagation().master.is_some());
        // /etc/alternatives and /etc/nsswitch.conf come from the base.
        for path in ["/etc/alternatives", "/etc/nsswitch.conf"] {
            let m = top(&table, path).unwrap();
            assert_eq!((m.fs_type.as_str(), m.root.as_str()), ("squashfs", path));
        }
        // The private /tmp.
        let tmp = top(&table, "/tmp").unwrap();
        assert_eq!(tmp.root, "/snap-private-tmp/snap.hello/tmp");
        assert_eq!(tmp.fs_type, "tmpfs");
        assert!(tmp.propagation().is_private(), "{tmp}");
        // The private devpts instance.
        let pts = top(&table, "/dev/pts").unwrap();
        assert_eq!(pts.fs_type, "devpts");
        assert_eq!(
            pts.super_options.get("ptmxmode").map(String::as_str),
            Some("666")
        );
        assert_eq!(
            pts.super_options.get("mode").map(String::as_str),
            Some("620")
        );
        assert_eq!(pts.super_options.get("gid").map(String::as_str), Some("5"));
        let ptmx = top(&table, "/dev/ptmx").unwrap();
        assert_eq!(
            (ptmx.fs_type.as_str(), ptmx.root.as_str()),
            ("devpts", "/ptmx")
        );
        assert_eq!(ptmx.device(), pts.device());
        // The snaps, and hostfs without its /sys, /dev and /proc.
        assert_eq!(top(&table, "/snap/core/x1").unwrap().fs_type, "squashfs");
        assert_eq!(top(&table, "/snap/hello/x1").unwrap().fs_type, "squashfs");
        assert!(top(&table, "/var/lib/snapd/hostfs").is_some());
        // The host's /sys, /dev and /proc are detached from hostfs (the
        // world stacks a second /proc over the machine's: only its top
        // mount, the one the app sees as /proc, goes, as with snapd).
        for gone in ["/sys", "/dev", "/proc"] {
            let path = format!("/var/lib/snapd/hostfs{gone}");
            let inside = top(&table, gone).unwrap();
            assert!(
                table
                    .iter()
                    .all(|e| e.mount_dir != path || e.device() != inside.device()),
                "{path} must be detached"
            );
        }
        assert!(
            !stdout.contains("snap.rootfs"),
            "the scratch root shows:\n{stdout}"
        );
        // The preserved-namespace directory is private inside too.
        assert!(
            top(&table, "/run/snapd/ns")
                .unwrap()
                .propagation()
                .shared
                .is_none()
        );

        // The host side.
        assert!(is_preserved("hello"));
        assert_eq!(
            fs::read_to_string("/run/snapd/ns/snap.hello.info").unwrap(),
            "base-snap-name=core\n"
        );
        assert_eq!(
            fs::read_to_string("/run/snapd/ns/snap.hello.fstab").unwrap(),
            "tmpfs / tmpfs x-snapd.origin=rootfs 0 0\n"
        );
        let mode = |p: &str| {
            let m = fs::symlink_metadata(p).unwrap();
            (m.mode() & 0o7777, m.uid(), m.gid())
        };
        assert_eq!(mode("/tmp/snap-private-tmp"), (0o700, 0, 0));
        assert_eq!(mode("/tmp/snap-private-tmp/snap.hello"), (0o700, 0, 0));
        assert_eq!(mode("/tmp/snap-private-tmp/snap.hello/tmp"), (0o1777, 0, 0));
        assert_eq!(mode("/run/snapd/ns"), (0o755, 0, 0));
        assert_eq!(mode("/run/snapd/lock/hello.lock"), (0o600, 0, 0));
        let leftovers: Vec<_> = fs::read_dir("/tmp/snap-private-tmp")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("snap.rootfs"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "scratch directories left: {leftovers:?}"
        );
        let host = world_mounts().join("\n");
        assert!(!host.contains("snap.rootfs"), "{host}");
        assert!(!host.contains("snap-private-tmp"), "{host}");
        // /run/snapd/ns is a private mount in the host namespace.
        assert!(
            host.contains("/run/snapd/ns /ns tmpfs tmpfs \n")
                || host.contains("/run/snapd/ns /ns tmpfs tmpfs"),
            "{host}"
        );
    });
}

#[test]
fn a_warm_start_enters_the_preserved_namespace() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let script =
            "readlink /proc/self/ns/mnt; cat /tmp/marker 2>/dev/null; echo x > /tmp/marker";
        let first = expect_success(&run_app(&fx.confine, "core", script, false));
        let out = run_app(&fx.confine, "core", script, true);
        let second = expect_success(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ns1 = first.lines().next().unwrap();
        let mut lines = second.lines();
        assert_eq!(lines.next().unwrap(), ns1, "not the same namespace");
        // The private /tmp persists with the namespace.
        assert_eq!(lines.next(), Some("x"));
        assert!(
            stderr.contains("joining the preserved mount namespace"),
            "{stderr}"
        );
        assert!(!stderr.contains("stage unshare"), "rebuilt:\n{stderr}");
        let own = fs::read_link("/proc/self/ns/mnt").unwrap();
        assert_ne!(own.to_str().unwrap(), ns1);
    });
}

#[test]
fn a_changed_base_forces_a_rebuild() {
    let fx = Fixture::new();
    fx.run_installed("core", |world: &mut World| {
        let script = "readlink /proc/self/ns/mnt; stat -c %d /usr";
        // Each launch runs in the preserved namespace; ids are never reused.
        let launch = |expect: &str| {
            let out = run_app(&fx.confine, "core", script, true);
            let stdout = expect_success(&out);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(stderr.contains(expect), "expected {expect:?} in:\n{stderr}");
            assert_eq!(stdout.lines().next().unwrap(), preserved_ns_link(SNAP));
            let usr_dev: u64 = stdout.lines().nth(1).unwrap().trim().parse().unwrap();
            (preserved_ns_id(SNAP), usr_dev)
        };
        let (a, _) = launch("constructing a new mount namespace");
        assert_eq!(launch("joining the preserved mount namespace").0, a);

        // The info file names another base: must discard.
        fs::write("/run/snapd/ns/snap.hello.info", "base-snap-name=core18\n").unwrap();
        let (b, _) = launch("it was built from base core18, now the base is core");
        assert_ne!(a, b, "not rebuilt after the base changed");
        assert_eq!(
            fs::read_to_string("/run/snapd/ns/snap.hello.info").unwrap(),
            "base-snap-name=core\n"
        );

        // A refresh of the base (a new revision on a new loop device):
        // should discard, the base is no longer mounted in it.
        let x2 = world.mount_snap("core", "x2", &fx.base_image).unwrap();
        let (c, usr_dev) = launch("is no longer mounted in it");
        assert_ne!(b, c, "not rebuilt after a base refresh");
        assert_eq!(
            usr_dev,
            fs::metadata(&x2).unwrap().dev(),
            "/usr is not from x2"
        );
        // And then it is kept again.
        assert_eq!(launch("joining the preserved mount namespace").0, c);
    });
}

#[test]
fn invalid_requests_fail_with_a_clear_error_and_change_nothing() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let mounts = world_mounts();
        let cases: Vec<(Vec<&str>, Env, &str)> = vec![
            (
                vec!["snap.other.hello", "/bin/true"],
                snap_env(),
                "security tag snap.other.hello not allowed",
            ),
            (
                vec!["snap.hello", "/bin/true"],
                snap_env(),
                "security tag snap.hello not allowed",
            ),
            (
                vec![TAG, "/bin/true"],
                snap_env()
                    .into_iter()
                    .filter(|(k, _)| k != "SNAP_INSTANCE_NAME")
                    .collect(),
                "SNAP_INSTANCE_NAME is not set",
            ),
            (
                vec!["--base", "core24", TAG, "/bin/true"],
                snap_env(),
                "cannot locate base snap core24",
            ),
            (
                vec!["--base", "../core", TAG, "/bin/true"],
                snap_env(),
                "snap name must use lower case letters, digits or dashes",
            ),
            (
                vec!["--frobnicate", TAG, "/bin/true"],
                snap_env(),
                "Usage: snap-confine",
            ),
            (vec![TAG], snap_env(), "executable name was not provided"),
        ];
        for (args, env, message) in cases {
            let out = run_with(&fx.confine, &args, &env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(
                stderr.contains(message),
                "{args:?}: expected {message:?} in {stderr:?}"
            );
            assert!(out.stdout.is_empty());
            assert_eq!(ns_dir_listing(), Vec::<String>::new(), "{args:?}");
            assert_eq!(world_mounts(), mounts, "{args:?} changed the mounts");
        }
        let out = run_with(&fx.confine, &["--version"], &[]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("snap-confine "));
    });
}

#[test]
fn a_failed_construction_leaves_nothing_preserved() {
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    // A base without /usr/src: binding the host's /usr/src fails midway.
    let broken = Fixture::with_base(base_tree(&["usr/src"]));
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        world
            .mount_snap("broken", "x1", &broken.base_image)
            .unwrap();
        // A first, good launch sets up the host side (/run/snapd/ns, /snap).
        expect_success(&run_app(&fx.confine, "core", "true", false));
        snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
        let mounts = world_mounts();
        let out = run_app(&fx.confine, "broken", "true", false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot perform operation: mount --rbind /usr/src ")
                && stderr.contains("/usr/src: No such file or directory"),
            "{stderr}"
        );
        assert_eq!(ns_dir_listing(), Vec::<String>::new());
        assert_eq!(world_mounts(), mounts);
        let leftovers: Vec<_> = fs::read_dir("/tmp/snap-private-tmp")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("snap.rootfs"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // The next good launch works.
        expect_success(&run_app(&fx.confine, "core", "true", false));
        assert!(is_preserved("hello"));
    });
    before.assert_unchanged();
}

#[test]
fn another_base_gets_snapds_tools_read_only() {
    let fx = Fixture::new();
    fx.run_installed("core22", |_world: &mut World| {
        let out = run_app(
            &fx.confine,
            "core22",
            "cat /proc/self/mountinfo; test -x /usr/lib/snapd/snap-confine && echo tools-there",
            false,
        );
        let stdout = expect_success(&out);
        assert!(stdout.contains("tools-there"), "{stdout}");
        let table = parse_table(&stdout);
        let tools = top(&table, "/usr/lib/snapd").expect("/usr/lib/snapd is bound");
        assert!(tools.is_read_only(), "{tools}");
        assert!(tools.propagation().shared.is_none());
        assert_eq!(
            fs::read_to_string("/run/snapd/ns/snap.hello.info").unwrap(),
            "base-snap-name=core22\n"
        );
    });
}

#[test]
fn the_app_gets_its_arguments_environment_and_working_directory() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        fs::create_dir_all("/var/snap/hello/common").unwrap();
        let mut env = snap_env();
        env.push(("LD_PRELOAD".into(), "/evil.so".into()));
        env.push(("KEEP_ME".into(), "yes".into()));
        let out = std::process::Command::new(&fx.confine)
            .args([
                "--base",
                "core",
                TAG,
                "/bin/sh",
                "-c",
                "echo \"$0|$1|$2\"; pwd; echo PATH=$PATH; echo TMPDIR=$TMPDIR; env | grep -E '^(KEEP_ME|LD_PRELOAD|SNAP_SAVED_LD_PRELOAD)=' | sort",
                "arg one",
                "",
            ])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir("/var/snap/hello/common")
            .output()
            .unwrap();
        let stdout = expect_success(&out);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], "arg one||");
        assert_eq!(lines[1], "/var/snap/hello/common");
        assert_eq!(
            lines[2],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games"
        );
        assert_eq!(lines[3], "TMPDIR=/tmp");
        assert_eq!(
            &lines[4..],
            ["KEEP_ME=yes", "SNAP_SAVED_LD_PRELOAD=/evil.so"]
        );
        // A working directory that does not exist inside: the void.
        let out = std::process::Command::new(&fx.confine)
            .args(["--base", "core", TAG, "/bin/pwd"])
            .env_clear()
            .envs(snap_env())
            .current_dir("/usr/share")
            .output()
            .unwrap();
        assert_eq!(expect_success(&out).trim(), "/var/lib/snapd/void");
    });
}

#[test]
fn a_set_user_id_launch_runs_the_app_as_the_caller() {
    const NOBODY: u32 = 65534;
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let setuid = fx.setuid_copy();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        let mut env = snap_env();
        env.push(("SNAPD_DEBUG".into(), "1".into()));
        env.push(("SNAP_USER_DATA".into(), "/tmp/user-data/x1".into()));
        let out = std::process::Command::new(&setuid)
            .args([
                "--base",
                "core",
                TAG,
                "/bin/sh",
                "-c",
                "id -u; id -g; readlink /proc/self/ns/mnt; stat -c '%u %a' /tmp/user-data/x1; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
            ])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = expect_success(&out);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], NOBODY.to_string());
        assert_eq!(lines[1], NOBODY.to_string());
        assert!(lines[2].starts_with("mnt:["));
        assert_eq!(lines[3], format!("{NOBODY} 755"));
        assert!(
            lines[4].ends_with("0000000000000000"),
            "capabilities left: {}",
            lines[4]
        );
        // Debug output came, all at once at the end.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("DEBUG: stage confine"), "{stderr}");
        assert!(is_preserved("hello"));
        // The preserved namespace is root's: owned files, not the caller's.
        let meta = fs::metadata("/run/snapd/ns/snap.hello.info").unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
        assert!(
            !Path::new("/tmp/user-data").exists(),
            "user data made on the host's /tmp"
        );
    });
    before.assert_unchanged();
}

#[test]
fn snap_discard_ns_removes_what_snap_confine_preserved() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        expect_success(&run_app(&fx.confine, "core", "true", false));
        fs::write("/run/snapd/ns/snap.hello.1000.user-fstab", "").unwrap();
        fs::write("/run/snapd/ns/snap.other.fstab", "").unwrap();
        assert!(is_preserved("hello"));
        let mounts_with = world_mounts();
        assert!(
            mounts_with
                .iter()
                .any(|m| m.starts_with("/run/snapd/ns/hello.mnt "))
        );
        snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
        assert_eq!(ns_dir_listing(), ["snap.other.fstab"]);
        assert!(!world_mounts().iter().any(|m| m.contains("hello.mnt")));
        // Nothing there: fine too.
        snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
        // --from-snap-confine insists on the lock being held.
        let err = snapcell_confine::discard::discard_namespace(SNAP, true).unwrap_err();
        assert!(
            err.to_string().contains("unexpectedly managed to acquire"),
            "{err}"
        );
        // A new launch builds again.
        expect_success(&run_app(&fx.confine, "core", "true", false));
        assert!(is_preserved("hello"));
    });
}

#[test]
fn a_classic_snap_stays_in_the_host_namespace() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let mut env = snap_env();
        env.push(("SNAPD_DEBUG".into(), "1".into()));
        let out = run_with(
            &fx.confine,
            &[
                "--classic",
                TAG,
                "/bin/sh",
                "-c",
                "readlink /proc/self/ns/mnt; echo $PATH",
            ],
            &env,
        );
        let stdout = expect_success(&out);
        let mut lines = stdout.lines();
        let own = fs::read_link("/proc/self/ns/mnt").unwrap();
        assert_eq!(lines.next().unwrap(), own.to_str().unwrap());
        assert_eq!(lines.next().unwrap(), "/usr/bin:/bin", "classic keeps PATH");
        assert!(String::from_utf8_lossy(&out.stderr).contains("mount namespace: Classic"));
        assert_eq!(ns_dir_listing(), Vec::<String>::new());
    });
}
