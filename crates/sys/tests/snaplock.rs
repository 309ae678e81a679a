//! The snap lock's file: created 0600 and root's, opened again by the one
//! `openat2` of the common case, and never reached through a symbolic link
//! (neither the lock directory nor the file), on either path.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use snapcell_sys::snaplock::{lock_global, lock_snap, verify_snap_locked};
use snapcell_test_support::run_in_world;

#[test]
fn the_lock_file_is_made_then_opened_again() {
    run_in_world(|_world| {
        assert!(!Path::new("/run/snapd/lock").exists());
        // First launch: the walk makes /run/snapd/lock.
        lock_snap("hello").unwrap().unlock();
        let dir = fs::metadata("/run/snapd/lock").unwrap();
        assert!(dir.is_dir());
        assert_eq!(dir.permissions().mode() & 0o7777, 0o755);
        let file = fs::symlink_metadata("/run/snapd/lock/hello.lock").unwrap();
        assert!(file.is_file());
        assert_eq!(file.permissions().mode() & 0o7777, 0o600);
        assert_eq!((file.uid(), file.gid()), (0, 0));
        // Later launches: the same file, held while locked.
        let lock = lock_snap("hello").unwrap();
        verify_snap_locked("hello").unwrap();
        lock.unlock();
        assert!(verify_snap_locked("hello").is_err());
        lock_global().unwrap().unlock();
        assert!(Path::new("/run/snapd/lock/.lock").is_file());
    });
}

#[test]
fn a_symlinked_lock_directory_is_refused() {
    run_in_world(|_world| {
        fs::create_dir_all("/run/snapd").unwrap();
        fs::create_dir("/tmp/elsewhere").unwrap();
        symlink("/tmp/elsewhere", "/run/snapd/lock").unwrap();
        let err = lock_snap("hello").unwrap_err();
        assert!(err.to_string().contains("/run/snapd/lock"), "{err}");
        assert!(!Path::new("/tmp/elsewhere/hello.lock").exists());
    });
}

#[test]
fn a_symlinked_lock_file_is_refused() {
    run_in_world(|_world| {
        fs::create_dir_all("/run/snapd/lock").unwrap();
        fs::write("/tmp/target", "").unwrap();
        symlink("/tmp/target", "/run/snapd/lock/hello.lock").unwrap();
        let err = lock_snap("hello").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot open lock file /run/snapd/lock/hello.lock"),
            "{err}"
        );
        assert_eq!(fs::read("/tmp/target").unwrap(), b"");
    });
}
