//! Installing, refreshing, reverting and removing snaps, as snapd's
//! managers do for local (`xN`) revisions.
//!
//! Every change runs under the state lock ([`StateLock::exclusive`]) and
//! records what it did in an undo list, so a failure leaves the machine as
//! it was; the state file is written last.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::io::Errno;
use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount_bind, mount_bind_recursive,
    mount_change, mount_remount, unmount,
};
use snapcell_core::dirs::{Dirs, SNAP_BLOB_DIR, SNAP_MOUNT_DIR};
use snapcell_core::mountinfo::top_mount_at;
use snapcell_core::snap_yaml::{SnapInfo, SnapType};
use snapcell_sys::mountinfo::read_mounts_at;

use crate::helpers;
use crate::image::mount_squashfs;
use crate::run::run_hook;
use crate::security::{mkdir_p, remove_file, remove_security, write_security};
use crate::snap_file::{self, CheckedSnap, read_snap_yaml_beneath};
use crate::state::{Revision, SnapState, State, StateLock, StatePaths};

/// What an install did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub revision: String,
    /// The revision it refreshed from.
    pub previous: Option<String>,
}

/// Steps to take back, newest last.
#[derive(Default)]
struct Undo(Vec<Box<dyn FnOnce()>>);

impl Undo {
    fn push(&mut self, f: impl FnOnce() + 'static) {
        self.0.push(Box::new(f));
    }
    fn run(self) {
        for f in self.0.into_iter().rev() {
            f();
        }
    }
}

/// `/snap/NAME`.
pub fn snap_dir(name: &str) -> PathBuf {
    Path::new(SNAP_MOUNT_DIR).join(name)
}

/// `/snap/NAME/REV`.
pub fn mount_dir(name: &str, revision: &str) -> PathBuf {
    snap_dir(name).join(revision)
}

/// The metadata of an installed revision, read from its mounted image.
pub fn installed_info(name: &str, revision: &str) -> Result<SnapInfo, String> {
    read_snap_yaml_beneath(&mount_dir(name, revision), &format!("snap {name:?}"))
}

/// The default state location.
pub fn state_paths() -> StatePaths {
    StatePaths::new(&Dirs::HOST)
}

/// `snapcell install FILE.snap` (`dangerous`: accept a file without
/// assertions, the only kind there is) or `snapcell try DIR`.
pub fn install(path: &Path, dangerous: bool) -> Result<Installed, String> {
    let checked = snap_file::check(path)?;
    if !checked.is_dir && !dangerous {
        return Err(format!(
            "cannot find signatures with metadata for snap {:?} (snapcell installs local files only with --dangerous)",
            path.display().to_string()
        ));
    }
    crate::base::provide_missing_base(&checked.info)?;
    install_checked(checked)
}

fn base_of(info: &SnapInfo) -> Option<&str> {
    match info.snap_type {
        SnapType::Base | SnapType::Os | SnapType::Snapd => None,
        _ => match info.base_or_default() {
            "none" => None,
            b => Some(b),
        },
    }
}

fn install_checked(checked: CheckedSnap) -> Result<Installed, String> {
    let info = checked.info;
    let name = info.name.clone();
    let lock = StateLock::exclusive(&state_paths()).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    let base = base_of(&info).map(str::to_owned);
    if let Some(base) = &base
        && !state.snaps.contains_key(base)
    {
        return Err(format!(
            "cannot install snap {name:?}: it requires base {base:?}, which is not installed; \
             install it first (snapcell install --dangerous {base}.snap, or build one with snapcell base build {base})"
        ));
    }
    ensure_shared_snap_mount()?;
    let mut snap = state.snaps.get(&name).cloned().unwrap_or_default();
    let previous = (!snap.current.is_empty()).then(|| snap.current.clone());
    let revision = snap.next_local_revision();
    let mut undo = Undo::default();
    let result = place_revision(
        &checked.source,
        checked.is_dir,
        &info,
        &revision,
        previous.as_deref(),
        &mut undo,
    )
    .and_then(|()| {
        snap.revisions.push(Revision {
            revision: revision.clone(),
            version: info.version.clone(),
            snap_type: info.snap_type.as_str().to_owned(),
            base: base.clone().unwrap_or_default(),
            dangerous: true,
            try_dir: checked
                .is_dir
                .then(|| fs::canonicalize(&checked.source).unwrap_or(checked.source.clone())),
        });
        snap.current = revision.clone();
        let old_state = state.clone();
        auto_connect(&mut state, &info);
        // On failure: the previous revision's files back, or none.
        let undo_name = name.clone();
        let restore = previous.clone();
        undo.push(move || {
            let _ = remove_security(&undo_name);
            if let Some(prev) = restore
                && let Ok(old) = installed_info(&undo_name, &prev)
            {
                let _ = write_security(&old, &prev, &old_state);
            }
        });
        write_security(&info, &revision, &state)?;
        if previous.is_some() {
            discard_namespace(&name)?;
        }
        // Hooks, as snapd runs them: install (first install only), then
        // configure; post-refresh then configure on a refresh. A failing
        // hook undoes the install.
        let base = base.as_deref().unwrap_or("");
        let hooks: &[&str] = if previous.is_some() {
            &["post-refresh", "configure"]
        } else {
            &["install", "configure"]
        };
        for hook in hooks {
            if let Err(e) = run_hook(&info, &revision, base, hook) {
                let _ = discard_namespace(&name);
                return Err(format!("cannot install snap {name:?}: {e}"));
            }
        }
        state.snaps.insert(name.clone(), snap);
        crate::interfaces::rewrite_consumers(&state, &name, &[]);
        lock.save(&state).map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        undo.run();
        return Err(e);
    }
    Ok(Installed {
        name,
        version: info.version.clone(),
        revision,
        previous,
    })
}

/// Connect the plugs snapd connects by itself (see
/// [`crate::interfaces::auto_connect`]).
fn auto_connect(state: &mut State, info: &SnapInfo) {
    let current = state.clone();
    crate::interfaces::auto_connect(state, info, &|n| {
        crate::security::current_info(&current, n)
            .ok()
            .map(|(i, _)| i)
    });
}

/// The blob, the mount, the data directories and the `current` links of a
/// new revision.
fn place_revision(
    source: &Path,
    is_dir: bool,
    info: &SnapInfo,
    revision: &str,
    previous: Option<&str>,
    undo: &mut Undo,
) -> Result<(), String> {
    let name = info.name.as_str();
    // The blob: a copy of the file, or (snap try) a symlink to the directory.
    mkdir_p(Path::new(SNAP_BLOB_DIR))?;
    let blob = PathBuf::from(Dirs::HOST.snap_blob(name, revision));
    let tmp = blob.with_extension("snap.partial");
    let _ = fs::remove_file(&tmp);
    if is_dir {
        let dir = fs::canonicalize(source)
            .map_err(|e| format!("cannot resolve {}: {e}", source.display()))?;
        symlink(&dir, &tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    } else {
        copy_file_synced(source, &tmp)?;
    }
    fs::rename(&tmp, &blob).map_err(|e| format!("cannot create {}: {e}", blob.display()))?;
    let b = blob.clone();
    undo.push(move || {
        let _ = fs::remove_file(b);
    });

    // The mount.
    let dir = mount_dir(name, revision);
    let snap_dir_existed = snap_dir(name).exists();
    mkdir_p(&dir)?;
    let (d, n) = (dir.clone(), name.to_owned());
    undo.push(move || {
        let _ = fs::remove_dir(&d);
        if !snap_dir_existed {
            let _ = fs::remove_dir(snap_dir(&n));
        }
    });
    if is_dir {
        mount_bind(&blob, &dir).map_err(|e| {
            format!(
                "cannot mount {} at {}: {e}",
                source.display(),
                dir.display()
            )
        })?;
        if let Err(e) = mount_remount(
            &dir,
            MountFlags::BIND | MountFlags::RDONLY | MountFlags::NODEV,
            "",
        ) {
            let _ = unmount(&dir, UnmountFlags::DETACH);
            return Err(format!("cannot make {} read-only: {e}", dir.display()));
        }
    } else {
        mount_squashfs(&blob, &dir).map_err(|e| e.to_string())?;
    }
    let d = dir.clone();
    undo.push(move || unmount_snap(&d));

    // Data: /var/snap/NAME/{REV,common}, copied from the previous revision.
    let data = PathBuf::from(Dirs::HOST.snap_data(name));
    let data_existed = data.exists();
    let rev_data = data.join(revision);
    match previous.map(|p| data.join(p)).filter(|p| p.is_dir()) {
        Some(old) => {
            mkdir_p(&data)?;
            copy_data(&old, &rev_data)?;
        }
        None => mkdir_p(&rev_data)?,
    }
    mkdir_p(&data.join("common"))?;
    let (rd, dd) = (rev_data.clone(), data.clone());
    undo.push(move || {
        let _ = fs::remove_dir_all(&rd);
        if !data_existed {
            let _ = fs::remove_dir_all(&dd);
        }
    });
    if let Some(prev) = previous {
        undo.push(crate::userdata::copy_user_data(name, prev, revision)?);
    }

    // current -> REV, in /snap/NAME and /var/snap/NAME.
    for parent in [snap_dir(name), data.clone()] {
        let link = parent.join("current");
        let old = fs::read_link(&link).ok();
        point_current(&parent, revision)?;
        undo.push(move || match old {
            Some(old) => {
                let _ = point_current_at(&link, &old);
            }
            None => {
                let _ = fs::remove_file(&link);
            }
        });
    }
    Ok(())
}

fn copy_file_synced(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .and_then(|_| fs::File::open(to)?.sync_all())
        .map_err(|e| {
            let _ = fs::remove_file(to);
            format!("cannot copy {} to {}: {e}", from.display(), to.display())
        })
}

/// Copy a revision's data as snapd does (`cp -av OLD NEW`).
fn copy_data(old: &Path, new: &Path) -> Result<(), String> {
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

/// Point `PARENT/current` at `revision`, atomically (a new link renamed
/// over the old one).
fn point_current(parent: &Path, revision: &str) -> Result<(), String> {
    point_current_at(&parent.join("current"), Path::new(revision))
}

fn point_current_at(link: &Path, target: &Path) -> Result<(), String> {
    let tmp = link.with_file_name("current.new");
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    fs::rename(&tmp, link).map_err(|e| format!("cannot replace {}: {e}", link.display()))
}

/// Unmount a revision (the loop device goes with the mount) and remove
/// its mount point.
fn unmount_snap(dir: &Path) {
    if unmount(dir, UnmountFlags::empty()) == Err(Errno::BUSY) {
        let _ = unmount(dir, UnmountFlags::DETACH);
    }
    let _ = fs::remove_dir(dir);
}

/// Make `/snap` a shared mount before any snap is mounted under it, as
/// snap-confine does before it builds a namespace (if neither `/` nor
/// `/snap` is shared: a recursive self-bind made rshared). Done later, by
/// snap-confine, the self-bind would cover the snaps mounted so far, and
/// unmounting them would leave the covered mounts (and loop devices)
/// behind.
pub fn ensure_shared_snap_mount() -> Result<(), String> {
    let dir = SNAP_MOUNT_DIR;
    mkdir_p(Path::new(dir))?;
    let table = read_mounts_at(&["/", dir]).map_err(|e| e.to_string())?;
    let shared =
        |d: &str| top_mount_at(&table, d).is_some_and(|e| e.propagation().shared.is_some());
    if shared("/") || shared(dir) {
        return Ok(());
    }
    mount_bind_recursive(dir, dir).map_err(|e| format!("cannot bind {dir} onto itself: {e}"))?;
    mount_change(
        dir,
        MountPropagationFlags::SHARED | MountPropagationFlags::REC,
    )
    .map_err(|e| format!("cannot make {dir} shared: {e}"))
}

/// Discard the snap's preserved namespace, so the next launch builds one
/// for the new revision (`snap-discard-ns NAME`).
pub fn discard_namespace(name: &str) -> Result<(), String> {
    helpers::run_helper("snap-discard-ns", &[OsStr::new(name)])
        .map_err(|e| format!("cannot discard the namespace of snap {name:?}: {e}"))
}

/// `snapcell revert NAME`: back to the revision before the current one.
pub fn revert(name: &str) -> Result<(String, String), String> {
    let lock = StateLock::exclusive(&state_paths()).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    let snap = state
        .snaps
        .get(name)
        .cloned()
        .ok_or_else(|| format!("snap {name:?} is not installed"))?;
    let pos = snap
        .revisions
        .iter()
        .position(|r| r.revision == snap.current)
        .unwrap_or(0);
    let Some(prev) = pos
        .checked_sub(1)
        .map(|p| snap.revisions[p].revision.clone())
    else {
        return Err(format!("cannot revert {name:?}: no revision to revert to"));
    };
    let info = installed_info(name, &prev)?;
    write_security(&info, &prev, &state)?;
    point_current(&snap_dir(name), &prev)?;
    let data = PathBuf::from(Dirs::HOST.snap_data(name));
    if data.join(&prev).is_dir() {
        point_current(&data, &prev)?;
    }
    discard_namespace(name)?;
    let entry = state.snaps.get_mut(name).expect("looked up above");
    entry.current = prev.clone();
    crate::interfaces::rewrite_consumers(&state, name, &[]);
    let version = info.version.clone();
    lock.save(&state).map_err(|e| e.to_string())?;
    Ok((version, prev))
}

/// `snapcell remove NAME [--purge]`: discard the namespace, remove the
/// profiles, seccomp files and commands, unmount every revision (which
/// detaches its loop device), remove the images, the mount points and the
/// data (`~/snap/NAME` of the caller's `$HOME` too), and forget the snap.
/// snapd takes a snapshot of the data first unless `--purge`; snapcell keeps
/// no snapshots, so both remove the data.
pub fn remove(name: &str, _purge: bool) -> Result<(), String> {
    let lock = StateLock::exclusive(&state_paths()).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    let Some(snap) = state.snaps.get(name).cloned() else {
        return Err(format!("snap {name:?} is not installed"));
    };
    let users: Vec<&str> = state
        .snaps
        .iter()
        .filter(|(_, s)| s.current_revision().is_some_and(|r| r.base == name))
        .map(|(n, _)| n.as_str())
        .collect();
    if !users.is_empty() {
        return Err(format!(
            "cannot remove {name:?}: it is the base of {}; remove {} first",
            users.join(", "),
            if users.len() == 1 { "it" } else { "them" }
        ));
    }
    discard_namespace(name)?;
    remove_security(name)?;
    remove_revisions(name, &snap)?;
    for dir in [
        PathBuf::from(Dirs::HOST.snap_data(name)),
        PathBuf::from(Dirs::HOST.snap_save(name)),
    ] {
        remove_tree(&dir)?;
    }
    let revisions: Vec<&str> = snap.revisions.iter().map(|r| r.revision.as_str()).collect();
    crate::userdata::remove_user_data(name, &revisions)?;
    state.snaps.remove(name);
    let consumers = state.consumers_of(name);
    state.forget_connections(name);
    crate::interfaces::rewrite_consumers(&state, name, &consumers);
    lock.save(&state).map_err(|e| e.to_string())
}

fn remove_revisions(name: &str, snap: &SnapState) -> Result<(), String> {
    let dir = snap_dir(name);
    remove_file(&dir.join("current"))?;
    for rev in &snap.revisions {
        let m = mount_dir(name, &rev.revision);
        // Until nothing is mounted there (EINVAL: not a mount point).
        for _ in 0..16 {
            match unmount(&m, UnmountFlags::empty()) {
                Ok(()) => continue,
                Err(Errno::INVAL | Errno::NOENT) => break,
                Err(e) => return Err(format!("cannot unmount {}: {e}", m.display())),
            }
        }
        match fs::remove_dir(&m) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", m.display()));
            }
            _ => {}
        }
        remove_file(Path::new(&Dirs::HOST.snap_blob(name, &rev.revision)))?;
    }
    match fs::remove_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn remove_tree(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Read the state under a shared lock.
pub fn read_state() -> Result<State, String> {
    let lock = StateLock::shared(&state_paths()).map_err(|e| e.to_string())?;
    lock.load().map_err(|e| e.to_string())
}
