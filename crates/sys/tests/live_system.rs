//! `LiveSystem`, the real `System`, exercised in throwaway worlds.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use snapcell_core::mountinfo::{MountInfoEntry, parse_mountinfo};
use snapcell_sys::live::LiveSystem;
use snapcell_sys::system::{
    AsideId, Errno, FileKind, FileMeta, MountFlags, SQUASHFS_MAGIC, System, TMPFS_MAGIC,
};
use snapcell_test_support::{MachineSnapshot, Tree, World, run_in_world, scratch_dir};

/// Run `body` in a world and check the host is as it was.
fn in_world(body: impl FnMut(&mut World)) {
    let before = MachineSnapshot::take();
    run_in_world(body);
    before.assert_unchanged();
}

fn sys() -> LiveSystem {
    LiveSystem::new().expect("cannot open /")
}

fn mounts() -> Vec<MountInfoEntry> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap()
}

/// The topmost mount at `dir`, if any.
fn mount_at(dir: &str) -> Option<MountInfoEntry> {
    mounts().into_iter().rev().find(|e| e.mount_dir == dir)
}

fn must_mount_at(dir: &str) -> MountInfoEntry {
    mount_at(dir).unwrap_or_else(|| {
        panic!(
            "{dir} is not a mount point:\n{}",
            fs::read_to_string("/proc/self/mountinfo").unwrap()
        )
    })
}

fn mount_dirs() -> Vec<String> {
    mounts().into_iter().map(|e| e.mount_dir).collect()
}

fn errno_of(err: std::io::Error) -> Errno {
    Errno::from_io_error(&err).unwrap()
}

fn write_errno(path: &str) -> Errno {
    errno_of(fs::write(path, "x").unwrap_err())
}

fn mkdirs(paths: &[&str]) {
    for p in paths {
        fs::create_dir_all(p).unwrap();
    }
}

fn tmpfs(s: &mut LiveSystem, dir: &str) {
    s.mount_fs("tmpfs", dir, "tmpfs", MountFlags::empty(), "")
        .unwrap_or_else(|err| panic!("tmpfs at {dir}: {err}"));
}

#[test]
fn binds_a_directory_and_a_file() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/src", "/tmp/dst"]);
        fs::write("/tmp/src/f", "dir content").unwrap();
        s.bind("/tmp/src", "/tmp/dst", false, false).unwrap();
        assert_eq!(fs::read_to_string("/tmp/dst/f").unwrap(), "dir content");
        let entry = must_mount_at("/tmp/dst");
        assert_eq!(
            (entry.root.as_str(), entry.fs_type.as_str()),
            ("/src", "tmpfs")
        );
        assert!(!entry.is_read_only());
        // Read-write: a write through the bind shows in the source.
        fs::write("/tmp/dst/g", "through").unwrap();
        assert_eq!(fs::read_to_string("/tmp/src/g").unwrap(), "through");
        assert!(s.is_mount_point("/tmp/dst").unwrap());
        assert!(!s.is_mount_point("/tmp/src").unwrap());

        fs::write("/tmp/file-src", "file content").unwrap();
        fs::write("/tmp/file-dst", "").unwrap();
        s.bind("/tmp/file-src", "/tmp/file-dst", false, false)
            .unwrap();
        assert_eq!(fs::read_to_string("/tmp/file-dst").unwrap(), "file content");
        assert_eq!(must_mount_at("/tmp/file-dst").root, "/file-src");
        assert!(s.is_mount_point("/tmp/file-dst").unwrap());
        assert_eq!(
            s.lstat("/tmp/file-dst").unwrap().unwrap().kind,
            FileKind::File
        );

        // A read-only bind of a file.
        s.bind("/tmp/file-src", "/tmp/src/f", false, true).unwrap();
        assert_eq!(fs::read_to_string("/tmp/src/f").unwrap(), "file content");
        assert_eq!(write_errno("/tmp/src/f"), Errno::ROFS);
        assert!(must_mount_at("/tmp/src/f").is_read_only());
        // The source itself is still writable.
        fs::write("/tmp/file-src", "changed").unwrap();
        assert_eq!(fs::read_to_string("/tmp/src/f").unwrap(), "changed");

        // A directory does not go onto a file, nor a file onto a directory.
        let before = mount_dirs();
        assert!(s.bind("/tmp/src", "/tmp/file-src", false, false).is_err());
        assert!(s.bind("/tmp/file-src", "/tmp/dst", false, false).is_err());
        assert_eq!(mount_dirs(), before);
    });
}

/// A bind right after the check of its source and target attaches the
/// objects that were checked (kept by `lstat`), not whatever the paths lead
/// to by then; a mount forgets them.
#[test]
fn a_bind_attaches_what_lstat_checked() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/a", "/tmp/t"]);
        fs::write("/tmp/a/src", "checked").unwrap();
        fs::write("/tmp/a/dst", "").unwrap();
        fs::write("/tmp/other", "swapped in").unwrap();
        assert_eq!(s.lstat("/tmp/a/src").unwrap().unwrap().kind, FileKind::File);
        assert_eq!(s.lstat("/tmp/a/dst").unwrap().unwrap().kind, FileKind::File);
        // Someone swaps the source after the check (the checked file stays
        // linked elsewhere).
        fs::rename("/tmp/a/src", "/tmp/a/moved").unwrap();
        fs::rename("/tmp/other", "/tmp/a/src").unwrap();
        s.bind("/tmp/a/src", "/tmp/a/dst", false, false).unwrap();
        assert_eq!(fs::read_to_string("/tmp/a/dst").unwrap(), "checked");

        // The bind forgot what was kept: the next one looks the path up again.
        fs::write("/tmp/t/f", "").unwrap();
        assert_eq!(s.lstat("/tmp/a/src").unwrap().unwrap().kind, FileKind::File);
        s.bind("/tmp/a/dst", "/tmp/t/f", false, false).unwrap();
        fs::write("/tmp/other", "second").unwrap();
        fs::rename("/tmp/a/src", "/tmp/a/moved-too").unwrap();
        fs::rename("/tmp/other", "/tmp/a/src").unwrap();
        fs::write("/tmp/t/g", "").unwrap();
        s.bind("/tmp/a/src", "/tmp/t/g", false, false).unwrap();
        assert_eq!(fs::read_to_string("/tmp/t/g").unwrap(), "second");

        // A symlink leaf is reported as one, and never kept for a bind.
        symlink("/tmp/a/src", "/tmp/t/l").unwrap();
        assert_eq!(
            s.lstat("/tmp/t/l").unwrap().unwrap().kind,
            FileKind::Symlink
        );
        assert_eq!(
            s.bind("/tmp/t/l", "/tmp/t/f", false, false),
            Err(Errno::LOOP)
        );
        // Missing leaves and parents are missing; a file as a parent is not a directory.
        assert_eq!(s.lstat("/tmp/t/missing/x").unwrap(), None);
        assert_eq!(s.lstat("/tmp/t/g/x").err(), Some(Errno::NOTDIR));
    });
}

#[test]
fn a_read_only_recursive_bind_covers_submounts() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/src/sub", "/tmp/dst", "/tmp/dst2"]);
        tmpfs(&mut s, "/tmp/src/sub");
        fs::write("/tmp/src/sub/inner", "in the submount").unwrap();
        fs::write("/tmp/src/top", "top").unwrap();

        s.bind("/tmp/src", "/tmp/dst", true, true).unwrap();
        assert_eq!(
            fs::read_to_string("/tmp/dst/sub/inner").unwrap(),
            "in the submount"
        );
        assert_eq!(fs::read_to_string("/tmp/dst/top").unwrap(), "top");
        assert_eq!(write_errno("/tmp/dst/new"), Errno::ROFS);
        assert_eq!(write_errno("/tmp/dst/sub/new"), Errno::ROFS);
        assert_eq!(write_errno("/tmp/dst/sub/inner"), Errno::ROFS);
        assert_eq!(
            errno_of(fs::create_dir("/tmp/dst/sub/d").unwrap_err()),
            Errno::ROFS
        );
        assert!(must_mount_at("/tmp/dst").is_read_only());
        assert!(must_mount_at("/tmp/dst/sub").is_read_only());
        assert!(s.statfs("/tmp/dst/sub").unwrap().read_only);
        // The originals are untouched and writable.
        assert!(!must_mount_at("/tmp/src/sub").is_read_only());
        fs::write("/tmp/src/new", "a").unwrap();
        fs::write("/tmp/src/sub/new", "b").unwrap();
        assert_eq!(fs::read_to_string("/tmp/dst/sub/new").unwrap(), "b");

        // Not recursive: the submount does not come along.
        s.bind("/tmp/src", "/tmp/dst2", false, true).unwrap();
        assert!(must_mount_at("/tmp/dst2").is_read_only());
        assert!(!s.is_mount_point("/tmp/dst2/sub").unwrap());
        assert_eq!(s.read_dir("/tmp/dst2/sub").unwrap(), []);
        assert_eq!(write_errno("/tmp/dst2/new"), Errno::ROFS);
    });
}

/// The per-mount options and the file system of a mount, for comparing
/// mounts made in different ways.
fn shape(entry: &MountInfoEntry) -> String {
    format!(
        "{} {} {:?} {:?}",
        entry.fs_type, entry.mount_source, entry.mount_options, entry.super_options
    )
}

#[test]
fn mount_fs_makes_a_tmpfs_with_mode_and_owner_through_both_apis() {
    in_world(|_world| {
        let mut shapes = Vec::new();
        for legacy in [false, true] {
            let mut s = sys();
            s.set_legacy_mount_api(legacy);
            let dir = format!("/tmp/t-{legacy}");
            let ro = format!("/tmp/ro-{legacy}");
            mkdirs(&[&dir, &ro]);

            s.mount_fs(
                "tmpfs",
                &dir,
                "tmpfs",
                MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                "mode=01777,uid=0,gid=0",
            )
            .unwrap();
            let meta = s.stat(&dir).unwrap().unwrap();
            assert_eq!(
                (meta.kind, meta.mode, meta.uid, meta.gid),
                (FileKind::Dir, 0o1777, 0, 0),
                "legacy: {legacy}"
            );
            let fs_meta = s.statfs(&dir).unwrap();
            assert_eq!(fs_meta.magic, TMPFS_MAGIC);
            assert!(!fs_meta.read_only);
            let entry = must_mount_at(&dir);
            assert_eq!(entry.fs_type, "tmpfs");
            assert_eq!(entry.mount_source, "tmpfs");
            for opt in ["rw", "nosuid", "nodev", "noexec", "relatime"] {
                assert!(entry.mount_options.contains_key(opt), "{opt}: {entry:?}");
            }
            fs::write(format!("{dir}/f"), "x").unwrap();

            s.mount_fs(
                "tmpfs",
                &ro,
                "tmpfs",
                MountFlags::RDONLY | MountFlags::NOATIME,
                "mode=0750,uid=1234,gid=5678,size=1m",
            )
            .unwrap();
            let meta = s.stat(&ro).unwrap().unwrap();
            assert_eq!((meta.mode, meta.uid, meta.gid), (0o750, 1234, 5678));
            assert!(s.statfs(&ro).unwrap().read_only);
            assert_eq!(write_errno(&format!("{ro}/f")), Errno::ROFS);
            let ro_entry = must_mount_at(&ro);
            assert!(ro_entry.is_read_only() && ro_entry.mount_options.contains_key("noatime"));
            assert!(ro_entry.super_options.contains_key("ro"), "{ro_entry:?}");
            assert_eq!(ro_entry.super_options["size"], "1024k");
            shapes.push((shape(&entry), shape(&ro_entry)));

            // Refused before anything is mounted.
            let before = mount_dirs();
            for flag in [
                MountFlags::BIND,
                MountFlags::MOVE,
                MountFlags::REMOUNT,
                MountFlags::REC,
                MountFlags::SHARED,
            ] {
                assert_eq!(
                    s.mount_fs("tmpfs", "/tmp", "tmpfs", flag, ""),
                    Err(Errno::INVAL)
                );
            }
            assert_eq!(
                s.mount_fs("none", "/tmp", "no-such-fs", MountFlags::empty(), ""),
                Err(Errno::NODEV)
            );
            assert_eq!(
                s.mount_fs("tmpfs", "/tmp", "tmpfs", MountFlags::empty(), "bogus=1"),
                Err(Errno::INVAL)
            );
            assert_eq!(mount_dirs(), before);
        }
        assert_eq!(shapes[0], shapes[1], "the two APIs disagree");
    });
}

fn check_propagation(legacy: bool) {
    in_world(|_world| {
        let mut s = sys();
        s.set_legacy_mount_api(legacy);
        // Worlds start recursively private.
        assert!(must_mount_at("/tmp").propagation().is_private());
        s.set_propagation("/", MountFlags::SHARED | MountFlags::REC)
            .unwrap();
        assert!(must_mount_at("/").propagation().shared.is_some());
        assert!(must_mount_at("/tmp").propagation().shared.is_some());

        mkdirs(&["/tmp/p", "/tmp/q"]);
        tmpfs(&mut s, "/tmp/p");
        // Mounted under a shared mount: shared, in a peer group of its own.
        let group = must_mount_at("/tmp/p")
            .propagation()
            .shared
            .expect("a mount under a shared parent is shared");
        // A bind of a shared mount is a peer of it.
        s.bind("/tmp/p", "/tmp/q", false, false).unwrap();
        assert_eq!(must_mount_at("/tmp/q").propagation().shared, Some(group));
        mkdirs(&["/tmp/p/to-peer"]);
        tmpfs(&mut s, "/tmp/q/to-peer");
        assert!(s.is_mount_point("/tmp/p/to-peer").unwrap());
        s.set_propagation("/tmp/q", MountFlags::PRIVATE).unwrap();
        assert!(must_mount_at("/tmp/q").propagation().is_private());
        s.set_propagation("/tmp/q", MountFlags::SHARED).unwrap();
        let q_group = must_mount_at("/tmp/q").propagation().shared.unwrap();
        assert_ne!(q_group, group);

        // A slave of /tmp/p's group: a peer first, then a slave.
        mkdirs(&["/tmp/peer"]);
        s.bind("/tmp/p", "/tmp/peer", false, false).unwrap();
        assert_eq!(must_mount_at("/tmp/peer").propagation().shared, Some(group));
        s.set_propagation("/tmp/peer", MountFlags::SLAVE).unwrap();
        let slave = must_mount_at("/tmp/peer").propagation();
        assert_eq!(
            (slave.shared, slave.master),
            (None, Some(group)),
            "{slave:?}"
        );
        // Events flow from the master to the slave only.
        mkdirs(&["/tmp/p/from-master", "/tmp/p/from-slave"]);
        tmpfs(&mut s, "/tmp/p/from-master");
        assert!(s.is_mount_point("/tmp/peer/from-master").unwrap());
        tmpfs(&mut s, "/tmp/peer/from-slave");
        assert!(!s.is_mount_point("/tmp/p/from-slave").unwrap());

        s.set_propagation("/tmp/p", MountFlags::UNBINDABLE).unwrap();
        let p = must_mount_at("/tmp/p").propagation();
        assert!(p.unbindable && p.shared.is_none(), "{p:?}");
        mkdirs(&["/tmp/r"]);
        assert_eq!(s.bind("/tmp/p", "/tmp/r", false, false), Err(Errno::INVAL));
        assert!(!s.is_mount_point("/tmp/r").unwrap());

        // Recursive: everything at and below /tmp, nothing above.
        s.set_propagation("/tmp", MountFlags::SLAVE | MountFlags::REC)
            .unwrap();
        for entry in mounts() {
            if entry.mount_dir == "/tmp" || entry.mount_dir.starts_with("/tmp/") {
                // (mount(2) keeps an unbindable mount unbindable here.)
                assert!(entry.propagation().shared.is_none(), "{entry:?}");
            }
        }
        s.set_propagation("/tmp", MountFlags::PRIVATE | MountFlags::REC)
            .unwrap();
        for entry in mounts() {
            if entry.mount_dir == "/tmp" || entry.mount_dir.starts_with("/tmp/") {
                assert!(entry.optional_fields.is_empty(), "{entry:?}");
            }
        }
        assert!(must_mount_at("/").propagation().shared.is_some());

        // Not a mount point, or not one propagation.
        mkdirs(&["/tmp/plain"]);
        assert_eq!(
            s.set_propagation("/tmp/plain", MountFlags::PRIVATE),
            Err(Errno::INVAL)
        );
        for bad in [
            MountFlags::empty(),
            MountFlags::REC,
            MountFlags::SHARED | MountFlags::SLAVE,
            MountFlags::PRIVATE | MountFlags::RDONLY,
        ] {
            assert_eq!(s.set_propagation("/tmp", bad), Err(Errno::INVAL));
        }
    });
}

#[test]
fn propagation_shows_in_mountinfo_with_mount_setattr() {
    check_propagation(false);
}

#[test]
fn propagation_shows_in_mountinfo_with_mount2() {
    check_propagation(true);
}

#[test]
fn unmounts_plainly_and_lazily() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/u", "/tmp/plain"]);
        tmpfs(&mut s, "/tmp/u");
        assert!(s.is_mount_point("/tmp/u").unwrap());
        s.unmount("/tmp/u", false).unwrap();
        assert!(!s.is_mount_point("/tmp/u").unwrap());
        assert!(mount_at("/tmp/u").is_none());

        // Stacked mounts come off one at a time.
        tmpfs(&mut s, "/tmp/u");
        fs::write("/tmp/u/lower", "").unwrap();
        tmpfs(&mut s, "/tmp/u");
        assert_eq!(s.read_dir("/tmp/u").unwrap(), []);
        s.unmount("/tmp/u", false).unwrap();
        assert_eq!(
            s.read_dir("/tmp/u").unwrap(),
            [("lower".to_owned(), FileKind::File)]
        );

        // Busy: only a lazy unmount takes it away; open files stay usable.
        fs::write("/tmp/u/held", "still here").unwrap();
        let held = fs::File::open("/tmp/u/held").unwrap();
        assert_eq!(s.unmount("/tmp/u", false), Err(Errno::BUSY));
        assert!(s.is_mount_point("/tmp/u").unwrap());
        s.unmount("/tmp/u", true).unwrap();
        assert!(!s.is_mount_point("/tmp/u").unwrap());
        assert!(mount_at("/tmp/u").is_none());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &held, &mut text).unwrap();
        assert_eq!(text, "still here");

        assert_eq!(s.unmount("/tmp/plain", false), Err(Errno::INVAL));
        assert_eq!(s.unmount("/tmp/missing", false), Err(Errno::NOENT));
    });
}

#[test]
fn tells_mount_points() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/d"]);
        fs::write("/tmp/f", "").unwrap();
        for (path, expected) in [
            ("/", true),
            ("/proc", true),
            ("/tmp", true),
            ("/tmp/d", false),
            ("/tmp/f", false),
            ("/tmp/missing", false),
            ("/tmp/missing/x", false),
            ("/tmp/f/x", false),
        ] {
            assert_eq!(s.is_mount_point(path), Ok(expected), "{path}");
        }
        s.bind("/tmp/d", "/tmp/d", false, false).unwrap();
        assert_eq!(s.is_mount_point("/tmp/d"), Ok(true));
    });
}

#[test]
fn a_symlink_anywhere_in_a_path_is_refused() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/real/b/c", "/tmp/src", "/tmp/x", "/tmp/y/b"]);
        fs::write("/tmp/real/b/c/marker", "real").unwrap();
        // Where the symlinks would lead: outside /tmp, in a directory of
        // the world's own (a fresh, empty tmpfs), so that "nothing arrived
        // there" holds whatever the machine's directories hold.
        let outside = "/var/snap";
        assert_eq!(s.read_dir(outside).unwrap(), []);
        symlink(outside, "/tmp/a").unwrap(); // first component below /tmp
        symlink("real", "/tmp/a2").unwrap(); // the same, a relative target
        symlink("/tmp/real/b", "/tmp/x/b").unwrap(); // a middle component
        symlink("/tmp/real/b/c", "/tmp/y/b/c").unwrap(); // the leaf
        // Something to (not) unmount behind the symlinks.
        mkdirs(&["/tmp/real/b/c/m"]);
        tmpfs(&mut s, "/tmp/real/b/c/m");
        let aside = s.set_aside("/tmp/src").unwrap();
        fs::create_dir("/tmp/src/entry").unwrap();
        let mounts_before = mounts().len();

        let paths = ["/tmp/a/b/c", "/tmp/a2/b/c", "/tmp/x/b/c", "/tmp/y/b/c"];
        for t in paths {
            let below = format!("{t}/m");
            let eloop = Some(Errno::LOOP);
            assert_eq!(
                s.bind("/tmp/src", t, false, false).err(),
                eloop,
                "bind onto {t}"
            );
            assert_eq!(
                s.bind("/tmp/src", t, true, true).err(),
                eloop,
                "rbind onto {t}"
            );
            assert_eq!(
                s.bind(t, "/tmp/src", true, false).err(),
                eloop,
                "bind from {t}"
            );
            assert_eq!(
                s.mount_fs("tmpfs", t, "tmpfs", MountFlags::empty(), "")
                    .err(),
                eloop,
                "tmpfs on {t}"
            );
            for legacy in [false, true] {
                s.set_legacy_mount_api(legacy);
                assert_eq!(
                    s.set_propagation(&below, MountFlags::SHARED).err(),
                    eloop,
                    "{below}"
                );
                assert_eq!(
                    s.mount_fs("tmpfs", t, "tmpfs", MountFlags::empty(), "")
                        .err(),
                    eloop
                );
            }
            s.set_legacy_mount_api(false);
            assert_eq!(s.unmount(&below, false).err(), eloop, "unmount {below}");
            assert_eq!(s.unmount(&below, true).err(), eloop, "detach {below}");
            assert_eq!(s.is_mount_point(&below).err(), eloop);
            assert_eq!(s.set_aside(t).map(|_| ()).err(), eloop);
            assert_eq!(s.bind_from_aside(aside, "entry", t, false).err(), eloop);
            assert_eq!(s.read_dir(t).err(), eloop);
            assert_eq!(s.statfs(t).err(), eloop);
            assert_eq!(s.mkdir(t, "n", 0o755, 0, 0).err(), eloop);
            assert_eq!(s.mkfile(t, "n", 0o644, 0, 0).err(), eloop);
            assert_eq!(s.symlink(t, "n", "x").err(), eloop);
            assert_eq!(s.lstat(&below).err(), eloop);
            assert_eq!(s.remove(&format!("{t}/marker")).err(), eloop);
            assert_eq!(s.readlink(&format!("{t}/marker")).err(), eloop);
        }
        // A symlink leaf is seen, not followed, by the calls acting on names.
        let leaf = s.lstat("/tmp/y/b/c").unwrap().unwrap();
        assert_eq!(leaf.kind, FileKind::Symlink);
        assert_eq!(s.readlink("/tmp/y/b/c").unwrap(), "/tmp/real/b/c");
        assert_eq!(s.mkdir("/tmp/y/b", "c", 0o755, 0, 0), Err(Errno::EXIST));
        assert_eq!(s.mkfile("/tmp/y/b", "c", 0o644, 0, 0), Err(Errno::EXIST));
        // stat (the planner's view) follows it.
        assert_eq!(s.stat("/tmp/y/b/c").unwrap().unwrap().kind, FileKind::Dir);
        // An aside entry that is a symlink is refused too.
        let aside_y = s.set_aside("/tmp/y/b").unwrap();
        assert_eq!(
            s.bind_from_aside(aside_y, "c", "/tmp/src", true),
            Err(Errno::LOOP)
        );
        s.release_aside(aside_y);
        s.release_aside(aside);

        // Nothing was mounted or unmounted, nothing written, nowhere.
        assert_eq!(mounts().len(), mounts_before);
        assert!(s.is_mount_point("/tmp/real/b/c/m").unwrap());
        // (The world's tmpfs at /var/snap itself is a mount point.)
        let below_outside = format!("{outside}/");
        assert!(
            mounts()
                .iter()
                .all(|e| !e.mount_dir.starts_with(&below_outside))
        );
        assert_eq!(fs::read_to_string("/tmp/real/b/c/marker").unwrap(), "real");
        assert_eq!(s.read_dir("/tmp/real/b/c").unwrap().len(), 2);
        assert!(!Path::new(outside).join("b").exists());
        // The leaf symlink itself can be removed.
        s.remove("/tmp/y/b/c").unwrap();
        assert!(s.lstat("/tmp/y/b/c").unwrap().is_none());
    });
}

#[test]
fn makes_and_removes_files_dirs_and_symlinks_with_exact_modes_and_owners() {
    in_world(|_world| {
        // The umask must not matter.
        rustix::process::umask(Mode::from_raw_mode(0o077));
        let mut s = sys();
        assert!(s.mkdir("/tmp", "d", 0o1775, 1000, 2000).unwrap());
        let meta = s.lstat("/tmp/d").unwrap().unwrap();
        assert_eq!(
            (meta.kind, meta.mode, meta.uid, meta.gid),
            (FileKind::Dir, 0o1775, 1000, 2000)
        );
        assert_eq!(meta.dev, fs::metadata("/tmp").unwrap().dev());
        // Already there: not made, not changed.
        assert!(!s.mkdir("/tmp", "d", 0o700, 0, 0).unwrap());
        assert_eq!(s.lstat("/tmp/d").unwrap().unwrap(), meta);

        assert!(s.mkfile("/tmp/d", "f", 0o4755, 1, 2).unwrap());
        let file = s.lstat("/tmp/d/f").unwrap().unwrap();
        assert_eq!(
            (file.kind, file.mode, file.uid, file.gid, file.size),
            (FileKind::File, 0o4755, 1, 2, 0)
        );
        fs::write("/tmp/d/f", "content").unwrap();
        assert!(!s.mkfile("/tmp/d", "f", 0o600, 0, 0).unwrap());
        assert_eq!(fs::read_to_string("/tmp/d/f").unwrap(), "content");

        s.symlink("/tmp/d", "l", "f").unwrap();
        assert_eq!(s.symlink("/tmp/d", "l", "g"), Err(Errno::EXIST));
        assert_eq!(s.readlink("/tmp/d/l").unwrap(), "f");
        assert_eq!(
            s.lstat("/tmp/d/l").unwrap().unwrap().kind,
            FileKind::Symlink
        );
        let through = s.stat("/tmp/d/l").unwrap().unwrap();
        assert_eq!((through.kind, through.size), (FileKind::File, 7));
        s.symlink("/tmp/d", "dangling", "nowhere").unwrap();
        assert_eq!(s.stat("/tmp/d/dangling"), Ok(None));

        // Something else in the way.
        assert_eq!(s.mkdir("/tmp/d", "f", 0o755, 0, 0), Err(Errno::EXIST));
        assert_eq!(s.mkfile("/tmp/d", "sub", 0o644, 0, 0).map(|_| ()), Ok(()));
        assert_eq!(s.mkdir("/tmp/d", "sub", 0o755, 0, 0), Err(Errno::EXIST));
        s.remove("/tmp/d/sub").unwrap();
        assert!(s.mkdir("/tmp/d", "sub", 0o700, 0, 0).unwrap());
        assert_eq!(s.mkfile("/tmp/d", "sub", 0o644, 0, 0), Err(Errno::EXIST));
        assert_eq!(s.mkdir("/tmp/d", "l", 0o755, 0, 0), Err(Errno::EXIST));
        assert_eq!(s.mkfile("/tmp/d", "l", 0o644, 0, 0), Err(Errno::EXIST));
        assert_eq!(s.readlink("/tmp/d/f"), Err(Errno::INVAL));
        assert_eq!(s.mkdir("/tmp/missing", "x", 0o755, 0, 0), Err(Errno::NOENT));
        assert_eq!(s.mkdir("/tmp/d/f", "x", 0o755, 0, 0), Err(Errno::NOTDIR));

        let mut listing = s.read_dir("/tmp/d").unwrap();
        listing.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            listing,
            [
                ("dangling".to_owned(), FileKind::Symlink),
                ("f".to_owned(), FileKind::File),
                ("l".to_owned(), FileKind::Symlink),
                ("sub".to_owned(), FileKind::Dir),
            ]
        );
        assert_eq!(s.read_dir("/tmp/d/f"), Err(Errno::NOTDIR));
        assert_eq!(s.read_dir("/tmp/d/none"), Err(Errno::NOENT));

        assert_eq!(s.lstat("/tmp/d/none"), Ok(None));
        assert_eq!(s.lstat("/tmp/none/none"), Ok(None));
        assert_eq!(s.stat("/tmp/none/none"), Ok(None));
        assert_eq!(s.lstat("/").unwrap().unwrap().kind, FileKind::Dir);
        let fs_meta = s.statfs("/tmp/d/f").unwrap();
        assert_eq!(fs_meta.magic, TMPFS_MAGIC);
        assert!(!fs_meta.read_only);

        fs::write("/tmp/d/sub/x", "").unwrap();
        assert_eq!(s.remove("/tmp/d/sub"), Err(Errno::NOTEMPTY));
        s.remove("/tmp/d/sub/x").unwrap();
        for name in ["sub", "l", "dangling", "f"] {
            s.remove(&format!("/tmp/d/{name}")).unwrap();
        }
        assert_eq!(s.remove("/tmp/d/f"), Err(Errno::NOENT));
        assert_eq!(s.read_dir("/tmp/d").unwrap(), []);
        s.remove("/tmp/d").unwrap();
        assert_eq!(s.lstat("/tmp/d"), Ok(None));
    });
}

fn mimic_tree() -> Tree {
    Tree::new()
        .file("meta/snap.yaml", "name: mimic\nversion: '1'\n", 0o644)
        .file("bin/tool", "#!/bin/sh\necho tool\n", 0o755)
        .dir("data/deep", 0o750)
        .file("data/deep/f", "deep", 0o640)
        .file("top-file", "top", 0o600)
        .symlink("link", "bin/tool")
        .dir("empty", 0o700)
}

#[test]
fn a_writable_mimic_by_hand_over_a_snap() {
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("tree");
    mimic_tree().write_to(&tree).unwrap();
    in_world(|world| {
        let dir = world.mount_snap("mimic", 1, &tree).unwrap();
        let dir = dir.to_str().unwrap();
        let mut s = sys();
        assert_eq!(s.statfs(dir).unwrap().magic, SQUASHFS_MAGIC);
        assert_eq!(s.mkdir(dir, "new", 0o755, 0, 0), Err(Errno::ROFS));

        // Plan: what is there, before anything covers it.
        let meta = s.lstat(dir).unwrap().unwrap();
        let entries = s.read_dir(dir).unwrap();
        let mut children: Vec<(String, FileMeta, Option<String>)> = Vec::new();
        for (name, kind) in &entries {
            let path = format!("{dir}/{name}");
            let child = s.lstat(&path).unwrap().unwrap();
            assert_eq!(child.kind, *kind);
            let target = (*kind == FileKind::Symlink).then(|| s.readlink(&path).unwrap());
            children.push((name.clone(), child, target));
        }
        assert_eq!(children.len(), 6);

        // Do it.
        let aside = s.set_aside(dir).unwrap();
        s.mount_fs(
            "tmpfs",
            dir,
            "tmpfs",
            MountFlags::empty(),
            // Go's %#o; Rust's {:#o} would give "0o755", which tmpfs refuses.
            &format!("mode=0{:o},uid={},gid={}", meta.mode, meta.uid, meta.gid),
        )
        .unwrap();
        assert_eq!(s.read_dir(dir).unwrap(), []);
        for (name, child, target) in &children {
            let path = format!("{dir}/{name}");
            match child.kind {
                FileKind::Dir => {
                    assert!(
                        s.mkdir(dir, name, child.mode, child.uid, child.gid)
                            .unwrap()
                    );
                    s.bind_from_aside(aside, name, &path, true).unwrap();
                }
                FileKind::File => {
                    assert!(
                        s.mkfile(dir, name, child.mode, child.uid, child.gid)
                            .unwrap()
                    );
                    s.bind_from_aside(aside, name, &path, false).unwrap();
                }
                FileKind::Symlink => s.symlink(dir, name, target.as_ref().unwrap()).unwrap(),
                FileKind::Other => unreachable!(),
            }
        }
        s.release_aside(aside);
        assert_eq!(
            s.bind_from_aside(aside, "bin", "/tmp", false),
            Err(Errno::BADF)
        );

        // The original children are visible, as they were, and read-only.
        let root = Path::new(dir);
        assert_eq!(
            fs::read_to_string(root.join("meta/snap.yaml")).unwrap(),
            "name: mimic\nversion: '1'\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("data/deep/f")).unwrap(),
            "deep"
        );
        assert_eq!(fs::read_to_string(root.join("top-file")).unwrap(), "top");
        assert_eq!(
            fs::read_to_string(root.join("link")).unwrap(),
            "#!/bin/sh\necho tool\n"
        );
        let out = std::process::Command::new(root.join("bin/tool"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "tool\n");
        for (name, child, target) in &children {
            let path = format!("{dir}/{name}");
            let now = s.lstat(&path).unwrap().unwrap();
            assert_eq!(
                (now.kind, now.mode, now.uid, now.gid),
                (child.kind, child.mode, child.uid, child.gid),
                "{path}"
            );
            if let Some(target) = target {
                assert_eq!(&s.readlink(&path).unwrap(), target);
            } else {
                assert_eq!(now.dev, child.dev, "{path} is not the snap's");
                assert!(s.is_mount_point(&path).unwrap(), "{path}");
                assert_eq!(must_mount_at(&path).fs_type, "squashfs");
            }
        }
        assert_eq!(
            fs::metadata(root.join("data/deep"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o750
        );
        for path in ["bin/new", "data/deep/new", "top-file", "empty/new"] {
            let path = format!("{dir}/{path}");
            assert_eq!(write_errno(&path), Errno::ROFS, "{path}");
        }
        assert!(s.statfs(&format!("{dir}/bin")).unwrap().read_only);

        // The mimic itself is writable.
        let fs_meta = s.statfs(dir).unwrap();
        assert_eq!((fs_meta.magic, fs_meta.read_only), (TMPFS_MAGIC, false));
        let mimic = s.lstat(dir).unwrap().unwrap();
        assert_eq!(
            (mimic.mode, mimic.uid, mimic.gid),
            (meta.mode, meta.uid, meta.gid)
        );
        assert!(s.mkdir(dir, "new", 0o755, 0, 0).unwrap());
        assert!(s.mkfile(&format!("{dir}/new"), "f", 0o644, 0, 0).unwrap());

        // No staging path anywhere.
        assert_eq!(s.lstat("/tmp/.snap"), Ok(None));
        assert_eq!(s.read_dir("/tmp").unwrap(), []);
        let staged: Vec<String> = mount_dirs()
            .into_iter()
            .filter(|d| d.starts_with("/tmp/"))
            .collect();
        assert!(staged.is_empty(), "{staged:?}");

        // Undo by hand: the snap is back as it was.
        for (name, child, _) in &children {
            if child.kind != FileKind::Symlink {
                s.unmount(&format!("{dir}/{name}"), false).unwrap();
            }
        }
        s.unmount(dir, false).unwrap();
        assert_eq!(s.statfs(dir).unwrap().magic, SQUASHFS_MAGIC);
        assert_eq!(s.lstat(&format!("{dir}/new")), Ok(None));
        let mut names: Vec<String> = s.read_dir(dir).unwrap().into_iter().map(|e| e.0).collect();
        names.sort();
        assert_eq!(names, ["bin", "data", "empty", "link", "meta", "top-file"]);
    });
}

#[test]
fn entries_come_out_of_an_aside_tree_with_or_without_their_submounts() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/orig/sub/inner", "/tmp/rec", "/tmp/flat"]);
        fs::write("/tmp/orig/sub/file", "orig").unwrap();
        tmpfs(&mut s, "/tmp/orig/sub/inner");
        fs::write("/tmp/orig/sub/inner/deep", "deep").unwrap();
        let aside = s.set_aside("/tmp/orig").unwrap();
        // The tree is a copy of the mounts, not of the files: changes show.
        fs::write("/tmp/orig/sub/later", "later").unwrap();

        s.bind_from_aside(aside, "sub", "/tmp/rec", true).unwrap();
        s.bind_from_aside(aside, "sub", "/tmp/flat", false).unwrap();
        assert_eq!(fs::read_to_string("/tmp/rec/inner/deep").unwrap(), "deep");
        assert!(s.is_mount_point("/tmp/rec/inner").unwrap());
        assert!(!s.is_mount_point("/tmp/flat/inner").unwrap());
        assert_eq!(fs::read_to_string("/tmp/flat/later").unwrap(), "later");
        assert_eq!(must_mount_at("/tmp/rec").root, "/orig/sub");

        // Errors: missing entry, bad names, unknown handles.
        assert_eq!(
            s.bind_from_aside(aside, "missing", "/tmp/flat", false),
            Err(Errno::NOENT)
        );
        for bad in ["", ".", "..", "sub/inner"] {
            assert_eq!(
                s.bind_from_aside(aside, bad, "/tmp/flat", false),
                Err(Errno::INVAL),
                "{bad:?}"
            );
        }
        assert_eq!(
            s.bind_from_aside(AsideId(9999), "sub", "/tmp/flat", false),
            Err(Errno::BADF)
        );
        s.release_aside(aside);
        s.release_aside(aside);
        // What was cloned out stays.
        assert!(s.is_mount_point("/tmp/rec/inner").unwrap());
    });
}

#[test]
fn a_root_other_than_slash_confines_every_path() {
    in_world(|_world| {
        mkdirs(&["/tmp/r/data/sub"]);
        symlink("/etc", "/tmp/r/esc").unwrap();
        symlink("/data", "/tmp/r/abs").unwrap();
        let root = rustix::fs::open(
            "/tmp/r",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut s = LiveSystem::with_root(root);
        assert_eq!(s.lstat("/data").unwrap().unwrap().kind, FileKind::Dir);
        assert_eq!(s.lstat("/esc").unwrap().unwrap().kind, FileKind::Symlink);
        assert_eq!(s.read_dir("/esc"), Err(Errno::LOOP));
        assert_eq!(s.lstat("/esc/passwd"), Err(Errno::LOOP));
        // stat follows symlinks, inside the root.
        assert_eq!(s.stat("/abs").unwrap(), s.lstat("/data").unwrap());
        assert_eq!(s.stat("/esc/passwd"), Ok(None));
        let mut names: Vec<String> = s.read_dir("/").unwrap().into_iter().map(|e| e.0).collect();
        names.sort();
        assert_eq!(names, ["abs", "data", "esc"]);

        assert!(s.mkdir("/data", "made", 0o755, 0, 0).unwrap());
        assert!(Path::new("/tmp/r/data/made").is_dir());
        s.mount_fs("tmpfs", "/data/sub", "tmpfs", MountFlags::empty(), "")
            .unwrap();
        assert!(mount_at("/tmp/r/data/sub").is_some());
        assert!(s.is_mount_point("/data/sub").unwrap());
        assert!(!s.is_mount_point("/data").unwrap());
        assert_eq!(s.bind("/esc", "/data/made", false, false), Err(Errno::LOOP));
        s.bind("/data/sub", "/data/made", false, false).unwrap();
        assert!(mount_at("/tmp/r/data/made").is_some());
        s.unmount("/data/made", false).unwrap();
        s.unmount("/data/sub", true).unwrap();
        assert!(mount_at("/tmp/r/data/sub").is_none());
        assert!(mount_at("/tmp/r/data/made").is_none());
    });
}

#[test]
fn relative_and_unclean_paths_and_bad_names_are_invalid() {
    in_world(|_world| {
        let mut s = sys();
        mkdirs(&["/tmp/ok"]);
        let aside = s.set_aside("/tmp/ok").unwrap();
        let mounts_before = mounts().len();
        let inval = Some(Errno::INVAL);
        for bad in [
            "",
            "tmp",
            "tmp/ok",
            "./tmp",
            "/tmp/",
            "//tmp",
            "/tmp//ok",
            "/tmp/./ok",
            "/tmp/ok/..",
            "/tmp/../tmp",
            "/.",
            "/tmp/o\0k",
        ] {
            assert_eq!(s.lstat(bad).err(), inval, "lstat {bad:?}");
            assert_eq!(s.stat(bad).err(), inval, "stat {bad:?}");
            assert_eq!(s.statfs(bad).err(), inval);
            assert_eq!(s.mkdir(bad, "x", 0o755, 0, 0).err(), inval);
            assert_eq!(s.mkfile(bad, "x", 0o644, 0, 0).err(), inval);
            assert_eq!(s.symlink(bad, "x", "y").err(), inval);
            assert_eq!(s.readlink(bad).err(), inval);
            assert_eq!(s.read_dir(bad).err(), inval);
            assert_eq!(s.remove(bad).err(), inval);
            assert_eq!(s.bind(bad, "/tmp/ok", false, false).err(), inval);
            assert_eq!(s.bind("/tmp/ok", bad, true, true).err(), inval);
            assert_eq!(
                s.mount_fs("tmpfs", bad, "tmpfs", MountFlags::empty(), "")
                    .err(),
                inval
            );
            assert_eq!(s.set_propagation(bad, MountFlags::PRIVATE).err(), inval);
            assert_eq!(s.unmount(bad, false).err(), inval);
            assert_eq!(s.unmount(bad, true).err(), inval);
            assert_eq!(s.is_mount_point(bad).err(), inval);
            assert_eq!(s.set_aside(bad).map(|_| ()).err(), inval);
            assert_eq!(s.bind_from_aside(aside, "x", bad, false).err(), inval);
        }
        for bad in ["", ".", "..", "a/b", "/a", "a/", "a\0"] {
            assert_eq!(s.mkdir("/tmp/ok", bad, 0o755, 0, 0).err(), inval, "{bad:?}");
            assert_eq!(s.mkfile("/tmp/ok", bad, 0o644, 0, 0).err(), inval);
            assert_eq!(s.symlink("/tmp/ok", bad, "y").err(), inval);
            assert_eq!(s.bind_from_aside(aside, bad, "/tmp/ok", false).err(), inval);
        }
        // "/" has no parent and no name.
        assert_eq!(s.remove("/").err(), inval);
        assert_eq!(s.readlink("/").err(), inval);
        assert_eq!(mounts().len(), mounts_before);
        assert_eq!(s.read_dir("/tmp/ok").unwrap(), []);
    });
}

/// Kept directories outlive a mount that cannot reach them, and a mount
/// at or above one forgets it (issue 11: the cache is no longer emptied at
/// every mount).
#[test]
fn a_mount_forgets_only_the_directories_it_can_change() {
    in_world(|_world| {
        let mut s = sys();
        // A private /tmp: nothing propagates from it.
        tmpfs(&mut s, "/tmp");
        s.set_propagation("/tmp", MountFlags::PRIVATE).unwrap();
        mkdirs(&["/tmp/a/b", "/tmp/t/x", "/tmp/u"]);
        fs::write("/tmp/a/b/f", "before").unwrap();
        // Keep /tmp/a/b (the trespassing check's statfs keeps what it asks).
        assert_eq!(s.statfs("/tmp/a/b").unwrap().magic, TMPFS_MAGIC);
        assert!(s.lstat("/tmp/a/b/f").unwrap().is_some());

        // A mount elsewhere: /tmp/a/b is still the directory kept, even
        // if someone swaps the path (the race a kept descriptor narrows
        // to what it always was: the object checked is the object used).
        tmpfs(&mut s, "/tmp/t/x");
        fs::rename("/tmp/a/b", "/tmp/a/old").unwrap();
        fs::create_dir("/tmp/a/b").unwrap();
        assert!(s.lstat("/tmp/a/b/f").unwrap().is_some());
        fs::remove_dir("/tmp/a/b").unwrap();
        fs::rename("/tmp/a/old", "/tmp/a/b").unwrap();

        // A mount above it forgets it: the path now leads into the new
        // mount, and so does every later lookup and statfs.
        let bin = s.statfs("/tmp/a/b").unwrap();
        tmpfs(&mut s, "/tmp/a");
        assert_eq!(s.lstat("/tmp/a/b").unwrap(), None);
        assert_eq!(s.lstat("/tmp/a/b/f").unwrap(), None);
        // A mount at it, the same.
        mkdirs(&["/tmp/a/b"]);
        assert!(s.statfs("/tmp/a/b").is_ok());
        fs::write("/tmp/a/b/g", "").unwrap();
        s.mount_fs("bench", "/tmp/a/b", "tmpfs", MountFlags::RDONLY, "")
            .unwrap();
        assert_eq!(s.lstat("/tmp/a/b/g").unwrap(), None);
        assert!(s.statfs("/tmp/a/b").unwrap().read_only);
        assert!(!bin.read_only);
        // mkdir of a kept directory says it exists; one that was removed
        // is made again.
        assert_eq!(s.statfs("/tmp/u").unwrap().magic, TMPFS_MAGIC);
        assert_eq!(s.mkdir("/tmp", "u", 0o755, 0, 0), Ok(false));
        s.remove("/tmp/u").unwrap();
        assert_eq!(s.mkdir("/tmp", "u", 0o755, 0, 0), Ok(true));
        assert!(Path::new("/tmp/u").is_dir());
    });
}

/// Where the mount a target is in is shared, a mount there can appear at
/// other paths too (its peers): then everything kept is forgotten.
#[test]
fn a_mount_that_propagates_forgets_every_kept_directory() {
    in_world(|_world| {
        let mut s = sys();
        tmpfs(&mut s, "/tmp");
        mkdirs(&["/tmp/p", "/tmp/q"]);
        tmpfs(&mut s, "/tmp/p");
        s.set_propagation("/tmp/p", MountFlags::SHARED).unwrap();
        mkdirs(&["/tmp/p/d"]);
        // /tmp/q is a peer of /tmp/p: what is mounted in one appears in both.
        s.bind("/tmp/p", "/tmp/q", false, false).unwrap();
        assert!(s.statfs("/tmp/q/d").is_ok());
        assert_eq!(s.lstat("/tmp/q/d/new").unwrap(), None);
        s.mount_fs("bench", "/tmp/p/d", "tmpfs", MountFlags::empty(), "")
            .unwrap();
        fs::write("/tmp/p/d/new", "propagated").unwrap();
        assert_eq!(
            fs::read_to_string("/tmp/q/d/new").unwrap(),
            "propagated",
            "the mount did not propagate: the test proves nothing"
        );
        // The kept /tmp/q/d (the covered directory) was forgotten.
        assert!(s.lstat("/tmp/q/d/new").unwrap().is_some());
    });
}

/// An unmount forgets what was kept in the tree it takes away (else a
/// kept descriptor would keep it busy), and, where nothing propagates,
/// nothing else; where the parent is shared, its peers lose their copy too.
#[test]
fn an_unmount_forgets_what_it_takes_away() {
    in_world(|_world| {
        let mut s = sys();
        tmpfs(&mut s, "/tmp");
        s.set_propagation("/tmp", MountFlags::PRIVATE).unwrap();
        mkdirs(&["/tmp/a", "/tmp/m"]);
        tmpfs(&mut s, "/tmp/m");
        mkdirs(&["/tmp/m/sub"]);
        assert!(s.statfs("/tmp/m/sub").is_ok());
        assert!(s.statfs("/tmp/m").is_ok());
        assert!(s.statfs("/tmp/a").is_ok());
        s.unmount("/tmp/m", false).unwrap();
        assert_eq!(s.lstat("/tmp/m/sub").unwrap(), None);
        assert_eq!(s.statfs("/tmp/m").unwrap().magic, TMPFS_MAGIC);

        // Lazily, a tree made private first: its submounts go along.
        tmpfs(&mut s, "/tmp/m");
        mkdirs(&["/tmp/m/sub"]);
        tmpfs(&mut s, "/tmp/m/sub");
        mkdirs(&["/tmp/m/sub/deeper"]);
        assert!(s.statfs("/tmp/m/sub/deeper").is_ok());
        s.set_propagation("/tmp/m", MountFlags::PRIVATE | MountFlags::REC)
            .unwrap();
        s.unmount("/tmp/m", true).unwrap();
        assert_eq!(s.lstat("/tmp/m/sub").unwrap(), None);
        assert!(mount_at("/tmp/m").is_none());

        // A shared parent: the unmount takes the peer's copy too, which a
        // kept descriptor of it must not keep busy.
        mkdirs(&["/tmp/p", "/tmp/q"]);
        tmpfs(&mut s, "/tmp/p");
        s.set_propagation("/tmp/p", MountFlags::SHARED).unwrap();
        mkdirs(&["/tmp/p/d"]);
        s.bind("/tmp/p", "/tmp/q", false, false).unwrap();
        s.mount_fs("bench", "/tmp/p/d", "tmpfs", MountFlags::empty(), "")
            .unwrap();
        fs::write("/tmp/p/d/new", "").unwrap();
        assert!(s.statfs("/tmp/q/d").is_ok());
        assert!(s.lstat("/tmp/q/d/new").unwrap().is_some());
        s.unmount("/tmp/p/d", false).unwrap();
        assert_eq!(s.lstat("/tmp/q/d/new").unwrap(), None);
    });
}
