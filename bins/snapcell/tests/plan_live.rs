//! `snapcell plan NAME` against a preserved mount namespace, in a throwaway world.

use std::process::Command;

use snapcell_test_support::preserve::preserve_namespace;
use snapcell_test_support::run_in_world;

fn plan(name: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snapcell"))
        .args(["plan", name])
        .output()
        .unwrap()
}

#[test]
fn plan_name_looks_at_the_preserved_namespace() {
    run_in_world(|_w| {
        let mut child = preserve_namespace(
            "demo",
            "mount -t tmpfs none /snap && mkdir -p /snap/demo/x1/zz-exists",
        );
        std::fs::create_dir_all("/var/lib/snapd/mount").unwrap();
        std::fs::write(
            "/var/lib/snapd/mount/snap.demo.fstab",
            "/src1 /snap/demo/x1/zz-exists none bind,ro 0 0\n/src2 /snap/demo/a/b none bind,ro 0 0\n",
        )
        .unwrap();
        std::fs::write(
            "/run/snapd/ns/snap.demo.fstab",
            "tmpfs / tmpfs x-snapd.origin=rootfs 0 0\n",
        )
        .unwrap();
        let out = plan("demo");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // zz-exists exists only inside the preserved namespace: there it is an
        // independent mount and goes first. Seen from the world (where neither
        // exists) both would be bucketed under /snap and /snap/demo/a/b would lead.
        assert_eq!(
            stdout,
            "keep\ttmpfs / tmpfs x-snapd.origin=rootfs 0 0\n\
             mount\t/src1 /snap/demo/x1/zz-exists none bind,ro 0 0\n\
             mount\t/src2 /snap/demo/a/b none bind,ro 0 0\n"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    });
}

#[test]
fn plan_name_without_a_preserved_namespace_is_a_clear_error() {
    run_in_world(|_w| {
        let out = plan("nosuch");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr.contains("cannot plan for snap nosuch: /run/snapd/ns/nosuch.mnt does not hold a preserved mount namespace"),
            "{stderr}"
        );
        // An ordinary file left where the namespace was is not a namespace.
        std::fs::create_dir_all("/run/snapd/ns").unwrap();
        std::fs::write("/run/snapd/ns/nosuch.mnt", b"").unwrap();
        let out = plan("nosuch");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("does not hold a preserved mount namespace")
        );
    });
}
