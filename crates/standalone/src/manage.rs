//! Installing, refreshing, reverting and removing snaps, as snapd's
//! managers do for local (`xN`) revisions.
//!
//! Every change runs under the state lock ([`StateLock::exclusive`]) and is
//! recorded in the state's change journal ([`crate::state::Journal`])
//! before anything is touched, step by step, so that a failure, or a crash
//! at any point, leaves the machine as it was before the command or as
//! after it: a failure is undone at once ([`finish`]); a crash is undone
//! (or, for a removal, finished) by the next command ([`recover`]). The
//! snaps and connections in the state file change only in the last save,
//! which clears the journal in the same rename.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount_bind, mount_bind_recursive,
    mount_change, mount_remount, unmount,
};
use snapcell_core::dirs::{Dirs, SNAP_BLOB_DIR, SNAP_MOUNT_DIR};
use snapcell_core::mountinfo::{MountInfoEntry, top_mount_at};
use snapcell_core::snap_yaml::{SnapInfo, SnapType};
use snapcell_sys::mountinfo::read_mounts_at;

use crate::fault;
use crate::helpers;
use crate::image::mount_squashfs;
use crate::run::run_hook;
use crate::security::{mkdir_p, remove_file, remove_security, write_security};
use crate::snap_file::{self, CheckedSnap, read_snap_yaml_beneath};
use crate::state::{
    Change, ChangeKind, Journal, Revision, SnapState, State, StateLock, StatePaths,
};

/// What an install did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub revision: String,
    /// The revision it refreshed from.
    pub previous: Option<String>,
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
    recover(&lock, &mut state)?;
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
    let data = PathBuf::from(Dirs::HOST.snap_data(&name));
    let home = caller_home();
    let kind = ChangeKind::Install {
        snap: name.clone(),
        revision: revision.clone(),
        previous: previous.clone(),
        snap_current: fs::read_link(snap_dir(&name).join("current")).ok(),
        data_current: fs::read_link(data.join("current")).ok(),
        snap_dir_existed: exists(&snap_dir(&name)),
        data_existed: exists(&data),
        home_existed: home
            .as_deref()
            .is_some_and(|h| exists(&user_snap_dir(h, &name))),
        home,
    };
    let mut journal = lock.begin(&state, kind).map_err(|e| e.to_string())?;
    let result = (|| {
        // A refresh: the old revision's pre-refresh hook first, as snapd
        // runs it (after the new revision is fetched, before its data is
        // copied); a failing one stops the refresh.
        if let Some(prev) = &previous
            && let Some(old) = snap.revisions.iter().find(|r| &r.revision == prev)
        {
            let old_info = installed_info(&name, prev)?;
            if old_info.hooks.contains_key("pre-refresh") {
                journal.step("hook-pre-refresh", || {
                    run_hook(&old_info, prev, &old.base, "pre-refresh")
                        .map_err(|e| format!("cannot refresh snap {name:?}: {e}"))
                })?;
            }
        }
        place_revision(
            &mut journal,
            &checked.source,
            checked.is_dir,
            &info,
            &revision,
            previous.as_deref(),
        )?;
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
        auto_connect(&mut state, &info);
        journal.step("security", || write_security(&info, &revision, &state))?;
        if previous.is_some() {
            journal.step("discard-namespace", || discard_namespace(&name))?;
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
            journal.step(&format!("hook-{hook}"), || {
                run_hook(&info, &revision, base, hook)
                    .map_err(|e| format!("cannot install snap {name:?}: {e}"))
            })?;
        }
        state.snaps.insert(name.clone(), snap);
        Ok(())
    })();
    finish(journal, &state, result)?;
    // The consumers of its content slots follow it (best effort, after the
    // commit: their policies are only rewritten, never undone).
    crate::interfaces::rewrite_consumers(&state, &name, &[]);
    Ok(Installed {
        name,
        version: info.version.clone(),
        revision,
        previous,
    })
}

/// End a change: commit `after` when `result` is a success; otherwise undo
/// the steps taken and drop the change (or, when the undo fails too, leave
/// it for the next command's recovery) and return the error.
fn finish(journal: Journal<'_>, after: &State, result: Result<(), String>) -> Result<(), String> {
    match result {
        Ok(()) => journal.commit(after).map_err(|e| e.to_string()),
        Err(e) => {
            let before = journal.before();
            let change = journal.change().clone();
            match undo(&before, &change) {
                Ok(()) => {
                    journal.abandon().map_err(|a| format!("{e} ({a})"))?;
                    Err(e)
                }
                Err(u) => Err(format!(
                    "{e} (and cannot undo the change: {u}; the next command tries again)"
                )),
            }
        }
    }
}

/// Run a change of connections (`connect`, `disconnect`) as a journaled
/// change touching the security files of `snaps`: take the state lock,
/// recover an earlier change cut short, record the change, call `run` with
/// the journal and the state, then save the state `run` left (commit) if
/// it succeeds.
///
/// `run` may check what it needs first (nothing is undone while no step
/// was entered), then must change the machine only inside
/// [`Journal::step`]s (each is saved before it starts and is a fault point
/// after it: `enter:STEP` and `STEP`), and change the connections in the
/// state it is given, in memory. If `run` fails, or the command is killed
/// before the commit, the undo (at once, or by the next command) writes the
/// security files of each of `snaps` again from the connections saved
/// before the change and discards its preserved namespace. For example:
///
/// ```ignore
/// manage::change_connections(&[plug_snap.clone()], |journal, state| {
///     let conn = check_connect(state, &plug, &slot)?; // nothing done yet
///     state.connections.insert(plug.clone(), conn);
///     journal.step("security", || write_security(&info, &rev, state))?;
///     journal.step("update-namespace", || update_namespace(&plug_snap))
/// })?;
/// ```
pub fn change_connections(
    snaps: &[String],
    run: impl FnOnce(&mut Journal<'_>, &mut State) -> Result<(), String>,
) -> Result<(), String> {
    let lock = StateLock::exclusive(&state_paths()).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    recover(&lock, &mut state)?;
    let kind = ChangeKind::Connections {
        snaps: snaps.to_vec(),
    };
    let mut journal = lock.begin(&state, kind).map_err(|e| e.to_string())?;
    let result = run(&mut journal, &mut state);
    finish(journal, &state, result)
}

/// The calling user's home directory (`$HOME`, when absolute).
fn caller_home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
}

/// `HOME/snap/NAME`.
fn user_snap_dir(home: &Path, name: &str) -> PathBuf {
    home.join("snap").join(name)
}

/// Whether anything (a dangling symlink included) is at `path`.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Connect the plugs snapd connects by itself to the system's slots.
fn auto_connect(state: &mut State, info: &SnapInfo) {
    let current = state.clone();
    crate::interfaces::auto_connect(state, info, &|n| {
        crate::security::current_info(&current, n)
            .ok()
            .map(|(i, _)| i)
    });
}

/// The blob, the mount, the data directories and the `current` links of a
/// new revision, one journal step each (`blob`, `mount`, `data`,
/// `current`); [`undo`] takes each back.
fn place_revision(
    journal: &mut Journal<'_>,
    source: &Path,
    is_dir: bool,
    info: &SnapInfo,
    revision: &str,
    previous: Option<&str>,
) -> Result<(), String> {
    let name = info.name.as_str();
    // The blob: a copy of the file, or (snap try) a symlink to the directory.
    let blob = PathBuf::from(Dirs::HOST.snap_blob(name, revision));
    journal.step("blob", || {
        mkdir_p(Path::new(SNAP_BLOB_DIR))?;
        let tmp = blob.with_extension("snap.partial");
        let _ = fs::remove_file(&tmp);
        if is_dir {
            let dir = fs::canonicalize(source)
                .map_err(|e| format!("cannot resolve {}: {e}", source.display()))?;
            symlink(&dir, &tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        } else {
            copy_file_synced(source, &tmp)?;
        }
        fault::point("blob-partial");
        fs::rename(&tmp, &blob).map_err(|e| format!("cannot create {}: {e}", blob.display()))
    })?;

    // The mount.
    let dir = mount_dir(name, revision);
    journal.step("mount", || {
        mkdir_p(&dir)?;
        if is_dir {
            mount_bind(&blob, &dir).map_err(|e| {
                format!(
                    "cannot mount {} at {}: {e}",
                    source.display(),
                    dir.display()
                )
            })?;
            fault::point("bound");
            mount_remount(
                &dir,
                MountFlags::BIND | MountFlags::RDONLY | MountFlags::NODEV,
                "",
            )
            .map_err(|e| format!("cannot make {} read-only: {e}", dir.display()))
        } else {
            mount_squashfs(&blob, &dir)
                .map(drop)
                .map_err(|e| e.to_string())
        }
    })?;

    // Data: /var/snap/NAME/{REV,common}, copied from the previous revision.
    let data = PathBuf::from(Dirs::HOST.snap_data(name));
    journal.step("data", || {
        let rev_data = data.join(revision);
        match previous.map(|p| data.join(p)).filter(|p| p.is_dir()) {
            Some(old) => {
                mkdir_p(&data)?;
                crate::userdata::copy_dir(&old, &rev_data)?;
            }
            None => mkdir_p(&rev_data)?,
        }
        mkdir_p(&data.join("common"))
    })?;
    // Each user's ~/snap/NAME/PREVIOUS, copied to the new revision.
    if let Some(prev) = previous {
        journal.step("user-data", || {
            crate::userdata::copy_user_data(name, prev, revision).map(drop)
        })?;
    }

    // current -> REV, in /snap/NAME and /var/snap/NAME.
    journal.step("current", || {
        point_current(&snap_dir(name), revision)?;
        fault::point("snap-current");
        point_current(&data, revision)
    })
}

fn copy_file_synced(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .and_then(|_| fs::File::open(to)?.sync_all())
        .map_err(|e| {
            let _ = fs::remove_file(to);
            format!("cannot copy {} to {}: {e}", from.display(), to.display())
        })
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

/// Unmount whatever is mounted at `dir` (the loop device goes with the
/// last mount: it auto-clears) and remove the directory; nothing mounted
/// and no directory are fine.
fn unmount_all(dir: &Path) -> Result<(), String> {
    // Until nothing is mounted there (EINVAL: not a mount point).
    for _ in 0..16 {
        match unmount(dir, UnmountFlags::empty()) {
            Ok(()) => continue,
            Err(Errno::INVAL | Errno::NOENT) => break,
            Err(Errno::BUSY) => unmount(dir, UnmountFlags::DETACH)
                .map_err(|e| format!("cannot unmount {}: {e}", dir.display()))?,
            Err(e) => return Err(format!("cannot unmount {}: {e}", dir.display())),
        }
    }
    remove_dir(dir)
}

/// `rmdir`; a missing directory is fine.
fn remove_dir(dir: &Path) -> Result<(), String> {
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Make `/snap` a shared mount before any snap is mounted under it, as
/// snap-confine does before it builds a namespace (if neither `/` nor
/// `/snap` is shared: a recursive self-bind made rshared). Done later, by
/// snap-confine, the self-bind would cover the snaps mounted so far, and
/// unmounting them would leave the covered mounts (and loop devices)
/// behind. A self-bind left unshared (by a crash between the two calls) is
/// made shared, not bound again.
pub fn ensure_shared_snap_mount() -> Result<(), String> {
    let dir = SNAP_MOUNT_DIR;
    mkdir_p(Path::new(dir))?;
    let table = read_mounts_at(&["/", dir]).map_err(|e| e.to_string())?;
    let shared =
        |d: &str| top_mount_at(&table, d).is_some_and(|e| e.propagation().shared.is_some());
    if shared("/") || shared(dir) {
        return Ok(());
    }
    let same = |a: &MountInfoEntry, b: &MountInfoEntry, root: &str| {
        (a.dev_major, a.dev_minor) == (b.dev_major, b.dev_minor) && a.root == root
    };
    let at: Vec<&MountInfoEntry> = table.iter().filter(|e| e.mount_dir == dir).collect();
    let self_bound = match (at.as_slice(), top_mount_at(&table, "/")) {
        ([.., below, top], _) => same(top, below, &below.root),
        ([top], Some(root)) if root.root == "/" => same(top, root, dir),
        _ => false,
    };
    if !self_bound {
        mount_bind_recursive(dir, dir)
            .map_err(|e| format!("cannot bind {dir} onto itself: {e}"))?;
        fault::point("snap-bound");
    }
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
    recover(&lock, &mut state)?;
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
    let data = PathBuf::from(Dirs::HOST.snap_data(name));
    let kind = ChangeKind::Revert {
        snap: name.to_owned(),
        from: snap.current.clone(),
        to: prev.clone(),
        data_current: fs::read_link(data.join("current")).ok(),
    };
    let mut journal = lock.begin(&state, kind).map_err(|e| e.to_string())?;
    let result = (|| {
        journal.step("security", || write_security(&info, &prev, &state))?;
        journal.step("current", || {
            point_current(&snap_dir(name), &prev)?;
            if data.join(&prev).is_dir() {
                point_current(&data, &prev)?;
            }
            Ok(())
        })?;
        journal.step("discard-namespace", || discard_namespace(name))?;
        let entry = state.snaps.get_mut(name).expect("looked up above");
        entry.current = prev.clone();
        Ok(())
    })();
    finish(journal, &state, result)?;
    crate::interfaces::rewrite_consumers(&state, name, &[]);
    Ok((info.version.clone(), prev))
}

/// `snapcell remove NAME [--purge]`: discard the namespace, remove the
/// profiles, seccomp files and commands, unmount every revision (which
/// detaches its loop device), remove the images, the mount points and the
/// data (`~/snap/NAME` of the caller's `$HOME` too), and forget the snap.
/// snapd takes a snapshot of the data first unless `--purge`; snapcell keeps
/// no snapshots, so both remove the data.
///
/// A removal cut short is finished, not undone, by the next command (see
/// [`recover`]); one that fails before anything is removed is dropped.
pub fn remove(name: &str, _purge: bool) -> Result<(), String> {
    let lock = StateLock::exclusive(&state_paths()).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    recover(&lock, &mut state)?;
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
    // The remove hook, before anything goes (not journaled: nothing to undo,
    // and a removal cut short during it runs it again). As snapd, its
    // failure does not stop the removal.
    if let Some(rev) = snap.current_revision()
        && let Ok(info) = installed_info(name, &rev.revision)
        && info.hooks.contains_key("remove")
        && let Err(e) = run_hook(&info, &rev.revision, &rev.base, "remove")
    {
        eprintln!("warning: snap {name:?}: {e} (ignored, as snapd ignores it)");
    }
    let home = caller_home();
    let kind = ChangeKind::Remove {
        snap: name.to_owned(),
        home: home.clone(),
    };
    let mut journal = lock.begin(&state, kind).map_err(|e| e.to_string())?;
    let mut step = |step: &str, run: &dyn Fn() -> Result<(), String>| journal.step(step, run);
    let result = remove_steps(name, &snap, home.as_deref(), &mut step);
    match result {
        Ok(()) => {
            state.snaps.remove(name);
            let consumers = state.consumers_of(name);
            state.forget_connections(name);
            journal.commit(&state).map_err(|e| e.to_string())?;
            crate::interfaces::rewrite_consumers(&state, name, &consumers);
            Ok(())
        }
        // Nothing removed yet: as if the command had not run.
        Err(e) if journal.change().steps.len() <= 1 => {
            journal.abandon().map_err(|a| format!("{e} ({a})"))?;
            Err(e)
        }
        Err(e) => Err(format!(
            "{e} (the removal of snap {name:?} is finished by the next command)"
        )),
    }
}

/// How a step is run: its name and its effect.
type RunStep<'a> = dyn FnMut(&str, &dyn Fn() -> Result<(), String>) -> Result<(), String> + 'a;

/// The steps of a removal, each idempotent (what is gone stays gone), run
/// through `step` (a journal's, or a plain call in recovery).
fn remove_steps(
    name: &str,
    snap: &SnapState,
    home: Option<&Path>,
    step: &mut RunStep<'_>,
) -> Result<(), String> {
    step("discard-namespace", &|| discard_namespace(name))?;
    step("security", &|| remove_security(name))?;
    step("current", &|| remove_file(&snap_dir(name).join("current")))?;
    for rev in &snap.revisions {
        step(&format!("unmount-{}", rev.revision), &|| {
            unmount_all(&mount_dir(name, &rev.revision))?;
            remove_file(Path::new(&Dirs::HOST.snap_blob(name, &rev.revision)))
        })?;
    }
    step("data", &|| {
        remove_dir(&snap_dir(name))?;
        for dir in [
            PathBuf::from(Dirs::HOST.snap_data(name)),
            PathBuf::from(Dirs::HOST.snap_save(name)),
        ] {
            remove_tree(&dir)?;
        }
        if let Some(home) = home {
            remove_tree(&user_snap_dir(home, name))?;
        }
        let revisions: Vec<&str> = snap.revisions.iter().map(|r| r.revision.as_str()).collect();
        crate::userdata::remove_user_data(name, &revisions)
    })
}

fn remove_tree(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Read the state under a shared lock. When a command was cut short (a
/// change is pending) and the caller is root, the change is first recovered
/// under the exclusive lock, as a state-changing command would; otherwise
/// (or if the recovery fails) the state is read as saved, which holds the
/// snaps and connections from before the pending change.
pub fn read_state() -> Result<State, String> {
    let paths = state_paths();
    let lock = StateLock::shared(&paths).map_err(|e| e.to_string())?;
    let state = lock.load().map_err(|e| e.to_string())?;
    if !paths.interrupted(&state) || !rustix::process::geteuid().is_root() {
        return Ok(state);
    }
    drop(lock);
    let lock = StateLock::exclusive(&paths).map_err(|e| e.to_string())?;
    let mut state = lock.load().map_err(|e| e.to_string())?;
    if recover(&lock, &mut state).is_err() {
        state = lock.load().map_err(|e| e.to_string())?;
    }
    Ok(state)
}

/// Recover from a command that was cut short (a crash, a kill, a power
/// cut): if `state` records a pending change, undo the steps it entered
/// (install, refresh, try, revert, connections) or finish it (remove), then
/// save the state without it. Every state-changing command calls this
/// first, under the exclusive lock; [`read_state`] too when run as root.
pub fn recover(lock: &StateLock, state: &mut State) -> Result<(), String> {
    let Some(change) = state.change.clone() else {
        return Ok(());
    };
    let fail = |e: String| {
        format!(
            "cannot recover from the interrupted {} of snap {:?}: {e}",
            change.kind.name(),
            change.kind.snap()
        )
    };
    state.change = None;
    match &change.kind {
        ChangeKind::Remove { snap, home } => {
            if let Some(s) = state.snaps.get(snap).cloned() {
                let mut step = |step: &str, run: &dyn Fn() -> Result<(), String>| {
                    run()?;
                    fault::point(&format!("finish:{step}"));
                    Ok(())
                };
                remove_steps(snap, &s, home.as_deref(), &mut step).map_err(fail)?;
            }
            state.snaps.remove(snap);
            state.forget_connections(snap);
        }
        _ => undo(state, &change).map_err(fail)?,
    }
    lock.save(state).map_err(|e| fail(e.to_string()))
}

/// Take back what the steps `change` entered did, newest first, on a
/// machine whose state (`before`, without the change) is from before it.
/// Every undo is idempotent: it may run on a step done, half done or not
/// started, and again after a crash of its own.
fn undo(before: &State, change: &Change) -> Result<(), String> {
    let entered = |step: &str| change.steps.iter().any(|s| s == step);
    // A fault point after each step's undo (a crash in recovery).
    let undone = |step: &str| fault::point(&format!("undo:{step}"));
    match &change.kind {
        ChangeKind::Install {
            snap: name,
            revision,
            previous,
            snap_current,
            data_current,
            snap_dir_existed,
            data_existed,
            home,
            home_existed,
        } => {
            let data = PathBuf::from(Dirs::HOST.snap_data(name));
            // Hooks and the discard: a namespace may have been built for
            // the new revision, and the hooks may have made the caller's
            // ~/snap/NAME/REV.
            if change
                .steps
                .iter()
                .any(|s| s.starts_with("hook-") || s == "discard-namespace")
            {
                discard_namespace(name)?;
                undone("discard-namespace");
            }
            if entered("security") {
                match previous {
                    Some(prev) => {
                        let old = installed_info(name, prev)?;
                        write_security(&old, prev, before)?;
                    }
                    None => remove_security(name)?,
                }
                undone("security");
            }
            if entered("current") {
                restore_link(&snap_dir(name).join("current"), snap_current.as_deref())?;
                restore_link(&data.join("current"), data_current.as_deref())?;
                undone("current");
            }
            if entered("user-data") {
                crate::userdata::undo_copy_user_data(name, revision)?;
                undone("user-data");
            }
            if entered("data") {
                remove_tree(&data.join(revision))?;
                if !data_existed {
                    remove_tree(&data)?;
                }
                undone("data");
            }
            if entered("mount") {
                unmount_all(&mount_dir(name, revision))?;
                if !snap_dir_existed {
                    remove_file(&snap_dir(name).join("current.new"))?;
                    remove_dir(&snap_dir(name))?;
                }
                undone("mount");
            }
            if entered("blob") {
                let blob = PathBuf::from(Dirs::HOST.snap_blob(name, revision));
                remove_file(&blob.with_extension("snap.partial"))?;
                remove_file(&blob)?;
                undone("blob");
            }
            if let Some(home) = home {
                let dir = user_snap_dir(home, name);
                if *home_existed {
                    remove_tree(&dir.join(revision))?;
                    // A hook run (snap run) pointed ~/snap/NAME/current at
                    // the new revision: back to the previous one.
                    let current = dir.join("current");
                    if fs::read_link(&current).is_ok_and(|t| t == Path::new(revision)) {
                        match previous {
                            Some(prev) => point_current_at(&current, Path::new(prev))?,
                            None => remove_file(&current)?,
                        }
                    }
                } else {
                    remove_tree(&dir)?;
                }
            }
            Ok(())
        }
        ChangeKind::Revert {
            snap: name,
            from,
            data_current,
            ..
        } => {
            if entered("current") {
                point_current(&snap_dir(name), from)?;
                restore_link(
                    &PathBuf::from(Dirs::HOST.snap_data(name)).join("current"),
                    data_current.as_deref(),
                )?;
                undone("current");
            }
            if entered("security") {
                let info = installed_info(name, from)?;
                write_security(&info, from, before)?;
                undone("security");
            }
            Ok(())
        }
        ChangeKind::Connections { snaps } => {
            if change.steps.is_empty() {
                return Ok(());
            }
            for name in snaps {
                let Some(rev) = before.snaps.get(name).and_then(|s| s.current_revision()) else {
                    continue;
                };
                let info = installed_info(name, &rev.revision)?;
                write_security(&info, &rev.revision, before)?;
                discard_namespace(name)?;
                undone(name);
            }
            Ok(())
        }
        ChangeKind::Remove { .. } => Err("a removal cannot be undone".to_owned()),
    }
}

/// Put the symlink `link` back as it was: pointing at `target`, or absent.
fn restore_link(link: &Path, target: Option<&Path>) -> Result<(), String> {
    remove_file(&link.with_file_name("current.new"))?;
    match target {
        Some(target) => point_current_at(link, target),
        None => remove_file(link),
    }
}
