//! snap-update-ns --user-mounts: the per-user profile, expanded and applied
//! in the caller's (fresh) namespace, never saved.

use std::process::Command;

use snapcell_test_support::run_in_world;

#[test]
fn the_user_profile_is_expanded_and_applied_in_the_callers_namespace() {
    run_in_world(|_w| {
        // Keep the world's /run/user off the host's.
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs", "/run/user"])
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::create_dir_all("/run/user/0/doc/by-app/snap.demo").unwrap();
        std::fs::write("/run/user/0/doc/by-app/snap.demo/f", "hi\n").unwrap();
        std::fs::create_dir_all("/var/lib/snapd/mount").unwrap();
        std::fs::write(
            "/var/lib/snapd/mount/snap.demo.user-fstab",
            "$XDG_RUNTIME_DIR/doc/by-app/snap.demo $XDG_RUNTIME_DIR/doc none bind,rw,x-snapd.ignore-missing 0 0\n",
        )
        .unwrap();
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "{} --user-mounts demo && cat /run/user/0/doc/f",
                env!("CARGO_BIN_EXE_snap-update-ns")
            ))
            .env("XDG_RUNTIME_DIR", "/run/user/0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
        // Only in that namespace, and nothing saved.
        assert!(!std::path::Path::new("/run/user/0/doc/f").exists());
        assert!(
            std::fs::read_dir("/run/snapd").unwrap().next().is_none(),
            "something was saved under /run/snapd"
        );
    });
}
