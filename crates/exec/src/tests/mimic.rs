//! snapd's reference traces for writable mimics, in spirit, and the life of
//! a mimic: made, kept, torn down.

use snapcell_core::plan::Action;
use snapcell_sys::system::{Errno, FileKind, SQUASHFS_MAGIC};

use super::*;
use crate::fake::{MountOrigin, Op};

/// snapd's `TestPerformFilesystemMountWithoutMountPointAndReadOnlyBase`:
/// the mount point is missing on a read-only base, so creating it fails
/// with EROFS, exactly one mimic is made, creation is retried and works.
#[test]
fn read_only_base_gets_exactly_one_mimic_and_the_retry_succeeds() {
    let mut fs = FakeSystem::new();
    fs.add_dir("/rofs", 0o755)
        .mark_read_only("/", SQUASHFS_MAGIC);
    let desired = profile(&["tmpfs /rofs/target tmpfs"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        lines(&out.profile),
        vec![
            "tmpfs /rofs tmpfs x-snapd.synthetic,x-snapd.needed-by=/rofs/target,mode=0755,uid=0,gid=0 0 0",
            "tmpfs /rofs/target tmpfs defaults 0 0",
        ]
    );
    assert_eq!(
        fs.mutation_calls(),
        vec![
            "mkdir \"/\" \"rofs\" 0755 0 0",
            "mkdir \"/rofs\" \"target\" 0755 0 0 -> EROFS",
            "mount_fs tmpfs \"/rofs\" source=\"tmpfs\" flags=0x0 data=\"mode=0755,uid=0,gid=0\"",
            "mkdir \"/\" \"rofs\" 0755 0 0",
            "mkdir \"/rofs\" \"target\" 0755 0 0",
            "mount_fs tmpfs \"/rofs/target\" source=\"tmpfs\" flags=0x0 data=\"\"",
        ]
    );
    let mimics = fs
        .calls()
        .iter()
        .filter(|c| c.starts_with("set_aside"))
        .count();
    assert_eq!(mimics, 1);
    assert_eq!(fs.asides_held(), 0);
    assert!(out.warnings.is_empty());
}

#[test]
fn a_mimic_recreates_dirs_files_and_symlinks_and_records_snapds_entries() {
    let mut fs = world();
    let before_rofs: Vec<String> = fs
        .tree()
        .into_iter()
        .filter(|l| l.starts_with("/rofs"))
        .collect();
    let desired =
        profile(&["/snap/app/1/data /rofs/target none rbind,rw,x-snapd.origin=layout 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        lines(&out.profile),
        vec![
            "tmpfs /rofs tmpfs x-snapd.synthetic,x-snapd.needed-by=/rofs/target,mode=0755,uid=0,gid=0 0 0",
            "/rofs/dir /rofs/dir none rbind,x-snapd.synthetic,x-snapd.needed-by=/rofs/target,x-snapd.detach 0 0",
            "/rofs/file /rofs/file none bind,x-snapd.kind=file,x-snapd.synthetic,x-snapd.needed-by=/rofs/target 0 0",
            "/snap/app/1/data /rofs/target none rbind,rw,x-snapd.origin=layout 0 0",
        ]
    );
    // The original's content shows through; symlinks are recreated; the
    // device node is not supported (as in snapd).
    assert_eq!(
        fs.peek("/rofs/dir/deeper").map(|m| m.kind),
        Some(FileKind::Dir)
    );
    assert_eq!(
        fs.peek("/rofs/file").map(|m| (m.size, m.mode)),
        Some((3, 0o600))
    );
    assert_eq!(fs.peek_link("/rofs/link").as_deref(), Some("dir/deeper"));
    assert_eq!(fs.peek("/rofs/null"), None);
    assert_eq!(
        fs.peek("/rofs/target/sub").map(|m| m.kind),
        Some(FileKind::Dir)
    );
    let after_rofs: Vec<String> = fs
        .tree()
        .into_iter()
        .filter(|l| l.starts_with("/rofs"))
        .collect();
    for line in &before_rofs {
        if line.starts_with("/rofs/null") {
            continue;
        }
        let path = line.split(' ').next().unwrap_or_default();
        assert!(
            after_rofs
                .iter()
                .any(|l| l.starts_with(&format!("{path} "))),
            "{path} is missing from the mimic"
        );
    }
    let mounts = fs.mounts();
    assert!(
        mounts
            .iter()
            .any(|m| m.target == "/rofs/dir" && m.origin == MountOrigin::Aside)
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.target == "/rofs/file" && m.origin == MountOrigin::Aside)
    );
    assert_eq!(fs.asides_held(), 0);
}

#[test]
fn the_mimic_copies_the_originals_mode_and_owner() {
    let mut fs = world();
    fs.add_dir("/odd", 0o1750)
        .chown("/odd", 12, 34)
        .mark_read_only("/odd", SQUASHFS_MAGIC);
    let desired = profile(&["tmpfs /odd/x tmpfs x-snapd.origin=layout 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        out.profile.entries[0].to_string(),
        "tmpfs /odd tmpfs x-snapd.synthetic,x-snapd.needed-by=/odd/x,mode=01750,uid=12,gid=34 0 0"
    );
    let m = fs.peek("/odd").expect("still there");
    assert_eq!((m.mode, m.uid, m.gid), (0o1750, 12, 34));
}

#[test]
fn reapplying_is_all_keeps_without_mutations_and_removing_tears_the_mimic_down() {
    let mut fs = world();
    let initial = fs.state();
    let desired = profile(&[
        "/snap/app/1/data /rofs/target none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/share /usr/share/app none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let first = ok(&mut fs, &Profile::default(), &desired);
    let applied = fs.state();
    // Synthesized entries come before the entry that needed them.
    let order: Vec<&str> = first
        .profile
        .entries
        .iter()
        .map(|e| e.dir.as_str())
        .collect();
    let cause = order.iter().position(|d| *d == "/rofs/target").unwrap();
    let mimic = order.iter().position(|d| *d == "/rofs").unwrap();
    assert!(mimic < cause);

    fs.clear_log();
    let second = ok(&mut fs, &first.profile, &desired);
    assert!(second.changes.iter().all(|c| c.action == Action::Keep));
    assert!(fs.mutation_calls().is_empty(), "{:#?}", fs.mutation_calls());
    assert_eq!(fs.state(), applied);
    // snapd's keep pass walks the current profile backwards, so the saved
    // profile flips at every run that only keeps.
    let mut reversed = first.profile.entries.clone();
    reversed.reverse();
    assert_eq!(second.profile.entries, reversed);

    // Removing one layout tears down its mimic only.
    let only_share =
        profile(&["/snap/app/1/share /usr/share/app none rbind,rw,x-snapd.origin=layout 0 0"]);
    let third = ok(&mut fs, &second.profile, &only_share);
    assert!(
        third
            .profile
            .entries
            .iter()
            .all(|e| !e.dir.starts_with("/rofs")),
        "{:#?}",
        lines(&third.profile)
    );
    assert!(fs.mounts().iter().all(|m| !m.target.starts_with("/rofs")));
    assert!(
        fs.mounts()
            .iter()
            .any(|m| m.target == "/usr/share/app" && m.visible)
    );

    // And removing everything restores the initial namespace.
    let last = ok(&mut fs, &third.profile, &Profile::default());
    assert!(last.profile.entries.is_empty());
    assert_eq!(fs.state(), initial);
}

#[test]
fn teardown_works_in_either_profile_order() {
    for flips in 0..3 {
        let mut fs = world();
        let initial = fs.state();
        let desired = profile(&[
            "/snap/app/1/data /rofs/target none rbind,rw,x-snapd.origin=layout 0 0",
            "none /rofs/app.conf none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/conf/app.conf,x-snapd.origin=layout 0 0",
            "/snap/app/1/lib /etc/app none rbind,rw,x-snapd.origin=layout 0 0",
        ]);
        let mut cur = ok(&mut fs, &Profile::default(), &desired).profile;
        for _ in 0..flips {
            cur = ok(&mut fs, &cur, &desired).profile;
        }
        let out = ok(&mut fs, &cur, &Profile::default());
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(fs.state(), initial, "after {flips} flips");
    }
}

#[test]
fn entries_in_one_directory_share_one_mimic() {
    let mut fs = world();
    let desired = profile(&[
        "/snap/app/1/data /usr/share/a none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/lib /usr/share/b none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/bin/tool /usr/share/tool none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    let tmpfs: Vec<&str> = out
        .profile
        .entries
        .iter()
        .filter(|e| e.fs_type == "tmpfs")
        .map(|e| e.dir.as_str())
        .collect();
    assert_eq!(tmpfs, vec!["/usr/share"]);
    assert_eq!(fs.peek("/usr/share/tool").map(|m| m.size), Some(100));
    assert_eq!(
        fs.peek_link("/usr/share/fonts-link").as_deref(),
        Some("fonts")
    );
}

#[test]
fn a_failed_mimic_is_undone_and_a_content_entry_is_only_a_warning() {
    let mut fs = world();
    let initial = fs.state();
    fs.fail_on(Op::BindFromAside, "/rofs/file", Errno::IO);
    let desired = profile(&["/snap/app/1/data /rofs/target none rbind,rw 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert!(out.profile.entries.is_empty());
    assert_eq!(
        out.warnings,
        vec![
            "cannot change mount namespace according to change mount (/snap/app/1/data /rofs/target none rbind,rw 0 0): \
             cannot create writable mimic over \"/rofs\": cannot bind-mount the original \"/rofs/file\" over \"/rofs/file\": input/output error"
        ]
    );
    assert_eq!(fs.state(), initial);
}

#[test]
fn a_failure_after_the_mimic_keeps_the_mimic_for_a_content_entry() {
    // snapd records a mimic even when the change that needed it fails.
    let mut fs = world();
    fs.fail_on(Op::Bind, "/rofs/target", Errno::PERM);
    let desired = profile(&["/snap/app/1/data /rofs/target none rbind,rw 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].ends_with(
            "cannot recursively bind-mount \"/snap/app/1/data\" over \"/rofs/target\": operation not permitted"
        ),
        "{}",
        out.warnings[0]
    );
    let dirs: Vec<&str> = out.profile.entries.iter().map(|e| e.dir.as_str()).collect();
    assert_eq!(dirs, vec!["/rofs", "/rofs/dir", "/rofs/file"]);
    assert!(out.profile.entries.iter().all(|e| e.is_synthetic()));
}

#[test]
fn a_mimic_that_cannot_be_taken_down_stops_the_update_even_for_content() {
    let mut fs = world();
    fs.fail_on(Op::BindFromAside, "/rofs/file", Errno::IO);
    fs.fail_on(Op::Unmount, "/rofs", Errno::BUSY);
    let desired = profile(&["/snap/app/1/data /rofs/target none rbind,rw 0 0"]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert!(matches!(e.error, crate::ExecError::Fatal(_)), "{e}");
    assert!(
        e.to_string().starts_with(
            "cannot create writable mimic over \"/rofs\": cannot undo writable mimic over \"/rofs\" while recovering from earlier error"
        ),
        "{e}"
    );
    assert!(!e.rolled_back());
    assert_eq!(fs.asides_held(), 0);
}
