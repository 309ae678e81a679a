//! Users' snap data (`~/snap/NAME/{REV,common,current}`), kept as snapd
//! keeps it:
//!
//! * on refresh, snapd's `CopySnapData` copies each user's
//!   `~/snap/NAME/OLD` to `~/snap/NAME/NEW` (an existing `NEW` is moved
//!   aside to `NEW.old` first, and put back if the refresh is undone;
//!   `cp -a`: owners, modes, times and extended attributes kept), for every
//!   home snapd knows: `/root` and `/home/*`, and (snapcell's addition, as
//!   snapd's `homedirs` setting adds others) the caller's `$HOME`;
//! * `snap run` points `~/snap/NAME/current` at the revision it runs
//!   ([`point_user_current`]), so a revert needs no copy: the older
//!   revision's directory still holds its data;
//! * on remove, snapd removes every revision's and the common directory of
//!   every user, the `current` link, and then `~/snap/NAME` if it is empty.
//!
//! The system side (`/var/snap/NAME/...`) is done by [`crate::manage`].

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The home directories whose `snap/NAME` snapd looks after: `/root`,
/// `/home/*`, and the caller's `$HOME` when it is elsewhere. Sorted,
/// without duplicates.
pub fn home_dirs() -> Vec<PathBuf> {
    let mut homes = vec![PathBuf::from("/root")];
    if let Ok(entries) = fs::read_dir("/home") {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                homes.push(e.path());
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
        && home.is_dir()
    {
        homes.push(home);
    }
    homes.sort();
    homes.dedup();
    homes
}

/// `HOME/snap/NAME`.
pub fn user_snap_dir(home: &Path, name: &str) -> PathBuf {
    home.join("snap").join(name)
}

/// Whether `HOME/snap` and `HOME/snap/NAME` are directories, not symlinks:
/// snapcell runs as root in users' homes and follows no link a user made
/// there (`~/snap/NAME -> /etc` must not make a remove delete `/etc/common`).
/// (What is left: a user who swaps a directory for a link between this
/// check and the copy or removal.)
fn real_user_snap_dir(home: &Path, name: &str) -> Option<PathBuf> {
    let snap = home.join("snap");
    let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let base = snap.join(name);
    (is_dir(&snap) && is_dir(&base)).then_some(base)
}

/// Copy each user's data of revision `old` to `new` of snap `name` (in
/// `homes`); returns what undoes it (the copies removed, what was moved
/// aside put back). A failure undoes the copies made so far.
pub fn copy_user_data_in(
    homes: &[PathBuf],
    name: &str,
    old: &str,
    new: &str,
) -> Result<Box<dyn FnOnce()>, String> {
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let undo = |done: Vec<(PathBuf, Option<PathBuf>)>| -> Box<dyn FnOnce()> {
        Box::new(move || {
            for (new_dir, trashed) in done.into_iter().rev() {
                let _ = fs::remove_dir_all(&new_dir);
                if let Some(t) = trashed {
                    let _ = fs::rename(&t, &new_dir);
                }
            }
        })
    };
    for home in homes {
        let Some(base) = real_user_snap_dir(home, name) else {
            continue;
        };
        let old_dir = base.join(old);
        if old == new || !fs::symlink_metadata(&old_dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let new_dir = base.join(new);
        let trashed = match trash(&new_dir) {
            Ok(t) => t,
            Err(e) => {
                undo(done)();
                return Err(format!("cannot move {} aside: {e}", new_dir.display()));
            }
        };
        if let Err(e) = copy_dir(&old_dir, &new_dir) {
            if let Some(t) = &trashed {
                let _ = fs::rename(t, &new_dir);
            }
            undo(done)();
            return Err(e);
        }
        done.push((new_dir, trashed));
    }
    Ok(undo(done))
}

/// [`copy_user_data_in`] over [`home_dirs`]: what a refresh from `old` to
/// `new` calls.
pub fn copy_user_data(name: &str, old: &str, new: &str) -> Result<Box<dyn FnOnce()>, String> {
    copy_user_data_in(&home_dirs(), name, old, new)
}

/// Undo [`copy_user_data_in`] from what is on disk alone (a refresh cut
/// short and recovered by the next command): in each of `homes`, remove
/// `~/snap/NAME/NEW` and put back `NEW.old` when the copy moved one aside.
/// Idempotent.
pub fn undo_copy_user_data_in(homes: &[PathBuf], name: &str, new: &str) -> Result<(), String> {
    for home in homes {
        let Some(base) = real_user_snap_dir(home, name) else {
            continue;
        };
        let new_dir = base.join(new);
        let trashed = base.join(format!("{new}.old"));
        match fs::remove_dir_all(&new_dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", new_dir.display()));
            }
            _ => {}
        }
        if fs::symlink_metadata(&trashed).is_ok_and(|m| m.is_dir()) {
            fs::rename(&trashed, &new_dir).map_err(|e| {
                format!(
                    "cannot move {} back to {}: {e}",
                    trashed.display(),
                    new_dir.display()
                )
            })?;
        }
    }
    Ok(())
}

/// [`undo_copy_user_data_in`] over [`home_dirs`].
pub fn undo_copy_user_data(name: &str, new: &str) -> Result<(), String> {
    undo_copy_user_data_in(&home_dirs(), name, new)
}

/// Move `dir` (when it exists) to `DIR.old`, replacing an earlier one, as
/// snapd's `trash` does; returns where it went.
fn trash(dir: &Path) -> io::Result<Option<PathBuf>> {
    if fs::symlink_metadata(dir).is_err() {
        return Ok(None);
    }
    let mut old = dir.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    match fs::remove_dir_all(&old) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::rename(dir, &old)?;
    Ok(Some(old))
}

/// `cp -a OLD NEW`, as snapd copies data (`osutil.CopyFile` with
/// `CopyFlagPreserveAll`, which runs `cp -av`): users' data here, a
/// revision's `/var/snap` data in [`crate::manage`]. A failed copy leaves
/// no `NEW`.
pub(crate) fn copy_dir(old: &Path, new: &Path) -> Result<(), String> {
    let out = Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(old)
        .arg(new)
        .output()
        .map_err(|e| format!("cannot run cp: {e}"))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(new);
        return Err(format!(
            "cannot copy {} to {}: {}",
            old.display(),
            new.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(())
}

/// Point `HOME/snap/NAME/current` at `revision` (a relative link, replaced
/// atomically when it points elsewhere), as `snap run` does for the user
/// it runs as.
pub fn point_user_current(home: &Path, name: &str, revision: &str) -> Result<(), String> {
    let link = user_snap_dir(home, name).join("current");
    if fs::read_link(&link).is_ok_and(|t| t == Path::new(revision)) {
        return Ok(());
    }
    let tmp = link.with_file_name("current.new");
    let _ = fs::remove_file(&tmp);
    symlink(revision, &tmp)
        .and_then(|()| fs::rename(&tmp, &link))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot point {} at {revision}: {e}", link.display())
        })
}

/// Remove the users' data of snap `name` in `homes`, as snapd's remove
/// does: each of `revisions`, `common` and the `current` link (and what a
/// refresh moved aside), then `~/snap/NAME` when nothing else is left in
/// it.
pub fn remove_user_data_in(
    homes: &[PathBuf],
    name: &str,
    revisions: &[&str],
) -> Result<(), String> {
    for home in homes {
        let Some(base) = real_user_snap_dir(home, name) else {
            continue;
        };
        let mut gone: Vec<String> = vec!["common".to_owned(), "current".to_owned()];
        for rev in revisions {
            gone.push((*rev).to_owned());
            gone.push(format!("{rev}.old"));
        }
        for entry in gone {
            let p = base.join(&entry);
            let result = match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(&p),
                Ok(_) => fs::remove_file(&p),
                Err(_) => Ok(()),
            };
            result.map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
        }
        // Only when empty, as snapd's os.Remove.
        let _ = fs::remove_dir(&base);
    }
    Ok(())
}

/// [`remove_user_data_in`] over [`home_dirs`].
pub fn remove_user_data(name: &str, revisions: &[&str]) -> Result<(), String> {
    remove_user_data_in(&home_dirs(), name, revisions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_copy_is_undone_from_the_disk_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let alice = tmp.path().join("alice");
        let bob = tmp.path().join("bob");
        let homes = vec![alice.clone(), bob.clone()];
        fs::create_dir_all(alice.join("snap/s/x1")).unwrap();
        fs::write(alice.join("snap/s/x1/f"), "alice").unwrap();
        fs::create_dir_all(bob.join("snap/s/x1")).unwrap();
        fs::create_dir_all(bob.join("snap/s/x2")).unwrap();
        fs::write(bob.join("snap/s/x2/kept"), "before").unwrap();
        let _closure_not_used = copy_user_data_in(&homes, "s", "x1", "x2").unwrap();
        assert!(alice.join("snap/s/x2/f").exists());
        assert!(bob.join("snap/s/x2.old/kept").exists());
        undo_copy_user_data_in(&homes, "s", "x2").unwrap();
        assert!(!alice.join("snap/s/x2").exists());
        assert_eq!(
            fs::read_to_string(bob.join("snap/s/x2/kept")).unwrap(),
            "before"
        );
        assert!(!bob.join("snap/s/x2.old").exists());
        assert!(alice.join("snap/s/x1/f").exists());
        // Again (a recovery cut short): nothing more goes where nothing was
        // moved aside. (A NEW that existed before the copy, put back by the
        // first undo, is not told from a copy by a second one: revisions
        // are new, so it is one a failed refresh left behind.)
        undo_copy_user_data_in(std::slice::from_ref(&alice), "s", "x2").unwrap();
        assert!(!alice.join("snap/s/x2").exists());
        assert!(alice.join("snap/s/x1/f").exists());
    }

    #[test]
    fn each_users_data_is_copied_and_the_copy_undone() {
        let tmp = tempfile::tempdir().unwrap();
        let alice = tmp.path().join("alice");
        let bob = tmp.path().join("bob");
        let carol = tmp.path().join("carol"); // never ran the snap
        let homes = vec![alice.clone(), bob.clone(), carol.clone()];
        fs::create_dir_all(alice.join("snap/s/x1/sub")).unwrap();
        fs::write(alice.join("snap/s/x1/sub/f"), "alice").unwrap();
        fs::create_dir_all(bob.join("snap/s/x1")).unwrap();
        fs::write(bob.join("snap/s/x1/f"), "bob").unwrap();
        // Something already at the new revision is moved aside.
        fs::create_dir_all(bob.join("snap/s/x2")).unwrap();
        fs::write(bob.join("snap/s/x2/stale"), "").unwrap();
        fs::create_dir_all(&carol).unwrap();

        let undo = copy_user_data_in(&homes, "s", "x1", "x2").unwrap();
        assert_eq!(
            fs::read_to_string(alice.join("snap/s/x2/sub/f")).unwrap(),
            "alice"
        );
        assert_eq!(fs::read_to_string(bob.join("snap/s/x2/f")).unwrap(), "bob");
        assert!(!bob.join("snap/s/x2/stale").exists());
        assert!(bob.join("snap/s/x2.old/stale").exists());
        assert!(!carol.join("snap").exists());
        assert_eq!(
            fs::metadata(alice.join("snap/s/x1/sub/f")).unwrap().mtime(),
            fs::metadata(alice.join("snap/s/x2/sub/f")).unwrap().mtime()
        );
        undo();
        assert!(!alice.join("snap/s/x2").exists());
        assert!(bob.join("snap/s/x2/stale").exists());
        assert!(!bob.join("snap/s/x2.old").exists());
        assert!(alice.join("snap/s/x1/sub/f").exists());

        point_user_current(&alice, "s", "x1").unwrap();
        point_user_current(&alice, "s", "x1").unwrap();
        assert_eq!(
            fs::read_link(alice.join("snap/s/current")).unwrap(),
            Path::new("x1")
        );
        point_user_current(&alice, "s", "x2").unwrap();
        assert_eq!(
            fs::read_link(alice.join("snap/s/current")).unwrap(),
            Path::new("x2")
        );

        // Remove: the revisions, common and current go; what else a user
        // keeps there stays, with the directory.
        fs::create_dir_all(alice.join("snap/s/common")).unwrap();
        fs::write(bob.join("snap/s/notes"), "mine").unwrap();
        remove_user_data_in(&homes, "s", &["x1", "x2"]).unwrap();
        assert!(!alice.join("snap/s").exists());
        assert_eq!(
            fs::read_dir(bob.join("snap/s"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect::<Vec<_>>(),
            ["notes"]
        );
        // A ~/snap/NAME that is a link is not followed, by a copy or a
        // remove.
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(elsewhere.join("x1")).unwrap();
        fs::create_dir_all(elsewhere.join("common")).unwrap();
        fs::create_dir_all(carol.join("snap")).unwrap();
        symlink(&elsewhere, carol.join("snap/s")).unwrap();
        let undo = copy_user_data_in(&homes, "s", "x1", "x2").unwrap();
        assert!(!elsewhere.join("x2").exists());
        undo();
        remove_user_data_in(&homes, "s", &["x1"]).unwrap();
        assert!(elsewhere.join("x1").is_dir());
        assert!(elsewhere.join("common").is_dir());
    }
}
