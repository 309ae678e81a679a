//! Performing a mount plan as snap-update-ns does (spec §3.2, §3.4–§3.7).
//!
//! [`apply`] plans the changes from the current to the desired profile and
//! performs them one by one:
//!
//! * **mount**: make sure the target exists with the right type (creating
//!   it securely, one component at a time from `/`, never through a symbolic
//!   link, checking before every write that it would not trespass on the
//!   host), the same for a bind-mount source, then mount. A read-only
//!   directory or a host directory in the way gets a **writable mimic**: a
//!   tmpfs over it that looks the same (see `Executor::create_writable_mimic`).
//! * **unmount**: unmount (detaching after making the subtree private when
//!   asked), then remove the mount point unless it is on squashfs, a
//!   non-empty file, or still in use.
//! * **keep**: nothing, but remembered for the tmpfs trust check.
//!
//! Failure policy, as snapd: a failed layout or overname change aborts the
//! update; any other failure is a warning and the update goes on without
//! that entry. snapcell adds **rollback**: an aborted update undoes all it
//! did, in reverse, so that the namespace matches the old current profile,
//! which the caller keeps.
//!
//! Where snapcell departs from snapd (each is commented where it happens):
//! the mimic sets the original aside instead of binding it to `/tmp/.snap`;
//! `ro` with `rbind` is allowed; an unmount whose mount point is gone
//! (`ENOENT`) is forgiven like snapd's `EINVAL`; mount points of mimic
//! entries, and host paths where nothing was mounted, are never removed; a
//! symlink entry removes only its own link; a mimic's entries fail like the
//! layout that needed them; a propagation change that fails takes its mount
//! down again; unknown `x-snapd.kind`s are errors.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use snapcell_core::entry::{
    Kind, MountEntry, OPT_DETACH, OPT_KIND, OPT_NEEDED_BY, OPT_SYNTHETIC, Origin,
};
use snapcell_core::goquote::quote;
use snapcell_core::mount_opts::{MountFlags, split_options};
use snapcell_core::paths;
use snapcell_core::plan::{Action, Change, FsView, needed_changes};
use snapcell_core::profile::Profile;
use snapcell_sys::system::{AsideId, Errno, FileKind, FileMeta, SQUASHFS_MAGIC, System};

use crate::assumptions::{Assumptions, Restrictions};
use crate::errno;
use crate::error::ExecError;

/// The result of a successful update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The new current profile: the entries mounted or kept, in the order
    /// they were made, each writable mimic's entries before the entry that
    /// needed them. The caller saves it (system context only).
    pub profile: Profile,
    /// Changes that failed and were skipped (snapd logs these).
    pub warnings: Vec<String>,
    /// The plan that was performed.
    pub changes: Vec<Change>,
}

/// An update that was aborted. The caller must keep the old current profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateError {
    /// The change that failed.
    pub change: Box<Change>,
    /// Why.
    pub error: ExecError,
    /// What could not be undone while rolling back (empty when the
    /// namespace is back to where it was before the update).
    pub rollback_errors: Vec<String>,
}

impl UpdateError {
    /// Whether the namespace is back to where it was before the update.
    pub fn rolled_back(&self) -> bool {
        self.rollback_errors.is_empty()
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.rollback_errors.is_empty() {
            write!(
                f,
                " (and cannot roll back, the mount namespace may be inconsistent: {})",
                self.rollback_errors.join("; ")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for UpdateError {}

/// The planner's view of the file system, through the system.
struct SysView<'a> {
    sys: RefCell<&'a mut dyn System>,
}

impl FsView for SysView<'_> {
    fn is_dir(&self, path: &str) -> bool {
        paths::is_clean_absolute(path)
            && matches!(self.sys.borrow_mut().stat(path), Ok(Some(m)) if m.kind == FileKind::Dir)
    }

    fn exists(&self, path: &str) -> bool {
        paths::is_clean_absolute(path) && matches!(self.sys.borrow_mut().stat(path), Ok(Some(_)))
    }

    fn is_symlink(&self, path: &str) -> bool {
        paths::is_clean_absolute(path)
            && matches!(self.sys.borrow_mut().lstat(path), Ok(Some(m)) if m.kind == FileKind::Symlink)
    }
}

/// What was removed while cleaning up after an unmount, to put it back.
#[derive(Clone, Debug)]
struct Removed {
    path: String,
    meta: FileMeta,
    link: Option<String>,
}

/// One thing this run did, to undo it.
#[derive(Clone, Debug)]
enum Undo {
    /// An object made by a secure mkdir, mkfile or symlink: remove it.
    Created { path: String },
    /// A mount made at `target`: detach it.
    Mounted { target: String, fs_type: String },
    /// An entry of the current profile that was unmounted: mount it again.
    /// For an entry of a writable mimic, `aside` holds the mimic's tree as
    /// it was before (the original behind the entry is otherwise hidden
    /// under the mimic's tmpfs).
    Unmounted {
        entry: MountEntry,
        removed: Option<Removed>,
        aside: Option<AsideId>,
    },
}

/// `parent/name` for a clean absolute parent.
fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Go's `%#o`.
fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_owned()
    } else {
        format!("0{mode:o}")
    }
}

/// The components of a clean absolute path.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

fn change_text(c: &Change) -> String {
    format!("{} ({})", c.action, c.entry)
}

/// The order in which unmounted entries are mounted again when rolling
/// back: parents before children (directory with a trailing slash, byte
/// order); at the same directory, writable mimics last (a mimic is built
/// over what was there); otherwise the current profile's order.
fn restore_key(e: &MountEntry) -> (Vec<u8>, bool) {
    let mut d = e.dir.clone().into_bytes();
    d.push(b'/');
    (d, e.is_synthetic() && e.fs_type == "tmpfs")
}

/// The origin that decides what a failure of `e` does: its own, except
/// that an entry of a writable mimic (which has none) counts as the entry
/// that needed it, so that a layout's mimic is as much a layout as the
/// layout itself (snapcell; snapd treats mimic entries like content).
fn policy_origin(e: &MountEntry, current: &Profile, desired: &Profile) -> Origin {
    if e.is_synthetic()
        && let Some(id) = e.needed_by()
        && let Some(owner) = desired
            .entries
            .iter()
            .chain(current.entries.iter())
            .find(|o| !o.is_synthetic() && o.id() == id)
    {
        return owner.origin();
    }
    e.origin()
}

/// The executor: the system, the assumptions and the undo log of this run.
struct Executor<'s> {
    sys: &'s mut dyn System,
    assumptions: Assumptions,
    undo: Vec<Undo>,
    warnings: Vec<String>,
    /// Trees of writable mimics kept aside while their entries are
    /// unmounted (by directory), released when the update ends.
    held: Vec<(String, AsideId)>,
}

/// Apply `desired` over `current` (snapd's `executeMountProfileUpdate`,
/// steps 3–6; locking, loading and saving are the caller's).
///
/// `assumptions` are typically [`Assumptions::for_system`]; they are seeded
/// with a `mount` of every current entry. On success the returned
/// [`Outcome::profile`] is the new current profile. On failure of a layout
/// or overname change the run is rolled back and the error names the change.
pub fn apply(
    sys: &mut dyn System,
    current: &Profile,
    desired: &Profile,
    assumptions: Assumptions,
) -> Result<Outcome, UpdateError> {
    let mut assumptions = assumptions;
    for e in &current.entries {
        assumptions.add_change(Action::Mount, e);
    }
    let changes = {
        let view = SysView {
            sys: RefCell::new(&mut *sys),
        };
        needed_changes(&current.entries, &desired.entries, &view)
    };
    let mut ex = Executor {
        sys,
        assumptions,
        undo: Vec::new(),
        warnings: Vec::new(),
        held: Vec::new(),
    };
    let mut made: Vec<(Action, MountEntry)> = Vec::new();
    for change in &changes {
        let (synthesized, result) = ex.perform(change);
        made.extend(synthesized.into_iter().map(|e| (Action::Mount, e)));
        let error = match result {
            Ok(()) => {
                made.push((change.action, change.entry.clone()));
                continue;
            }
            Err(e) => e,
        };
        let origin = policy_origin(&change.entry, current, desired);
        let aborts = matches!(origin, Origin::Layout | Origin::Overname)
            || matches!(error, ExecError::Fatal(_));
        if aborts {
            let rollback_errors = ex.rollback();
            ex.release_held();
            return Err(UpdateError {
                change: Box::new(change.clone()),
                error,
                rollback_errors,
            });
        }
        if !matches!(error, ExecError::IgnoredMissing { .. }) {
            ex.warnings.push(format!(
                "cannot change mount namespace according to change {}: {error}",
                change_text(change)
            ));
        }
    }
    ex.release_held();
    let entries = made
        .into_iter()
        .filter(|(a, _)| matches!(a, Action::Mount | Action::Keep))
        .map(|(_, e)| e)
        .collect();
    Ok(Outcome {
        profile: Profile { entries },
        warnings: ex.warnings,
        changes,
    })
}

impl Executor<'_> {
    // ---- one change ----

    /// Perform one change (snapd's `Change.Perform`): the entries of any
    /// writable mimic made for it (kept even when the change then failed),
    /// and the result.
    fn perform(&mut self, change: &Change) -> (Vec<MountEntry>, Result<(), ExecError>) {
        match change.action {
            Action::Keep => {
                self.assumptions.add_change(Action::Keep, &change.entry);
                (Vec::new(), Ok(()))
            }
            Action::Mount => {
                let mut synthesized = Vec::new();
                let r = self.mount_entry(&change.entry, true, &mut synthesized);
                (synthesized, r)
            }
            Action::Unmount => (Vec::new(), self.unmount_entry(&change.entry)),
        }
    }

    fn kind_of(entry: &MountEntry) -> Result<Kind, ExecError> {
        entry.kind().map_err(|e| ExecError::failed(e.to_string()))
    }

    /// A mount change: target, source, then the mount itself. Mimics are
    /// made only when `allow_mimic` (never while rolling back).
    fn mount_entry(
        &mut self,
        entry: &MountEntry,
        allow_mimic: bool,
        synthesized: &mut Vec<MountEntry>,
    ) -> Result<(), ExecError> {
        let kind = Self::kind_of(entry)?;
        self.ensure_target(entry, kind, allow_mimic, synthesized)?;
        self.ensure_source(entry, kind, allow_mimic, synthesized)?;
        self.low_level_mount(entry, kind)
    }

    /// lstat a path that may be relative or unclean (treated as missing, so
    /// that creation reports snapd's error for it).
    fn lstat_any(&mut self, path: &str) -> Result<Option<FileMeta>, ExecError> {
        if !paths::is_clean_absolute(path) {
            return Ok(None);
        }
        self.sys
            .lstat(path)
            .map_err(|e| ExecError::sys("cannot inspect", path, e))
    }

    /// snapd's `ensureTarget`.
    fn ensure_target(
        &mut self,
        entry: &MountEntry,
        kind: Kind,
        allow_mimic: bool,
        synthesized: &mut Vec<MountEntry>,
    ) -> Result<(), ExecError> {
        let path = entry.dir.as_str();
        match self.lstat_any(path)? {
            Some(m) => match kind {
                Kind::Directory if m.kind != FileKind::Dir => Err(ExecError::failed(format!(
                    "cannot use {} as mount point: not a directory",
                    quote(path)
                ))),
                Kind::File if m.kind != FileKind::File => Err(ExecError::failed(format!(
                    "cannot use {} as mount point: not a regular file",
                    quote(path)
                ))),
                Kind::Symlink if m.kind == FileKind::Symlink => {
                    // Creating it again verifies that it points where it should.
                    self.create_path(entry, kind, path, false, synthesized)
                }
                Kind::Symlink => Err(ExecError::failed(format!(
                    "cannot create symlink in {}: existing file in the way",
                    quote(path)
                ))),
                Kind::EnsureDir if m.kind != FileKind::Dir => Err(ExecError::failed(format!(
                    "cannot create ensure-dir target {}: existing file in the way",
                    quote(path)
                ))),
                _ => Ok(()),
            },
            None => self.create_path(
                entry,
                kind,
                path,
                allow_mimic && kind != Kind::EnsureDir,
                synthesized,
            ),
        }
    }

    /// snapd's `ensureSource`: only bind mounts have a source to make, and
    /// only layouts may get a writable mimic for it.
    fn ensure_source(
        &mut self,
        entry: &MountEntry,
        kind: Kind,
        allow_mimic: bool,
        synthesized: &mut Vec<MountEntry>,
    ) -> Result<(), ExecError> {
        if kind == Kind::EnsureDir
            || !split_options(&entry.options)
                .flags
                .contains(MountFlags::BIND)
        {
            return Ok(());
        }
        let path = entry.name.as_str();
        match self.lstat_any(path)? {
            Some(m) => match kind {
                Kind::Directory if m.kind != FileKind::Dir => Err(ExecError::failed(format!(
                    "cannot use {} as bind-mount source: not a directory",
                    quote(path)
                ))),
                Kind::File if m.kind != FileKind::File => Err(ExecError::failed(format!(
                    "cannot use {} as bind-mount source: not a regular file",
                    quote(path)
                ))),
                _ => Ok(()),
            },
            None => {
                let poke_holes = allow_mimic && entry.origin() == Origin::Layout;
                self.create_path(entry, kind, path, poke_holes, synthesized)
            }
        }
    }

    /// snapd's `createPath`: make `path` as the entry's kind asks; on a
    /// read-only or trespassing error, and if allowed, build a writable
    /// mimic where the error says and try once more.
    fn create_path(
        &mut self,
        entry: &MountEntry,
        kind: Kind,
        path: &str,
        poke_holes: bool,
        synthesized: &mut Vec<MountEntry>,
    ) -> Result<(), ExecError> {
        if entry.ignore_missing() {
            return Err(ExecError::IgnoredMissing {
                dir: entry.dir.clone(),
            });
        }
        let mode = self.assumptions.mode_for_path(path);
        let mut rs = Restrictions::for_path(&self.assumptions, path);
        let result = match kind {
            Kind::Directory => self.mkdir_all(path, mode, 0, 0, &mut rs),
            Kind::File => self.mkfile_all(path, mode, 0, 0, &mut rs),
            Kind::Symlink => {
                let target = entry.symlink_target().unwrap_or("").to_owned();
                self.mksymlink_all(path, mode, 0, 0, &target, &mut rs)
            }
            Kind::EnsureDir => {
                let (uid, gid) = self.assumptions.caller();
                let within = entry.must_exist_dir().unwrap_or("").to_owned();
                self.mkdir_all_within(path, &within, 0o700, uid, gid, &mut rs)
            }
        };
        let err = match result {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let Some(dir) = err.mimic_dir().filter(|_| poke_holes).map(str::to_owned) else {
            return Err(err);
        };
        match self.create_writable_mimic(&dir, entry.id()) {
            Ok(entries) => {
                synthesized.extend(entries);
                self.create_path(entry, kind, path, false, synthesized)
            }
            Err(ExecError::Fatal(m)) => Err(ExecError::Fatal(format!(
                "cannot create writable mimic over {}: {m}",
                quote(&dir)
            ))),
            Err(e) => Err(ExecError::failed(format!(
                "cannot create writable mimic over {}: {e}",
                quote(&dir)
            ))),
        }
    }

    /// snapd's `lowLevelPerform` for a mount. The bind or mount and the
    /// propagation change that may follow it are one step: if the latter
    /// fails, the mount is taken down again.
    fn low_level_mount(&mut self, entry: &MountEntry, kind: Kind) -> Result<(), ExecError> {
        if matches!(kind, Kind::EnsureDir | Kind::Symlink) {
            // ensure-dir only creates directories; symlinks are made by ensure_target.
            return Ok(());
        }
        let dir = entry.dir.as_str();
        if !paths::is_clean_absolute(dir) {
            return Err(ExecError::failed(format!(
                "cannot use {} as mount point: not an absolute, clean path",
                quote(dir)
            )));
        }
        let split = split_options(&entry.options);
        let rest = split.rest();
        let result = if rest.contains(MountFlags::BIND) {
            // snapd refuses `ro` with `rbind` (the old mount API cannot make a
            // whole tree read-only). System::bind applies read-only to the
            // detached clone recursively (mount_setattr(AT_RECURSIVE)) before
            // attaching it, so ro+rbind is allowed here.
            self.sys
                .bind(
                    &entry.name,
                    dir,
                    split.recursive(),
                    rest.contains(MountFlags::RDONLY),
                )
                .map_err(|e| {
                    ExecError::failed(format!(
                        "cannot {}bind-mount {} over {}: {}",
                        if split.recursive() {
                            "recursively "
                        } else {
                            ""
                        },
                        quote(&entry.name),
                        quote(dir),
                        errno::text(e)
                    ))
                })
        } else {
            self.sys
                .mount_fs(&entry.name, dir, &entry.fs_type, rest, &split.data())
                .map_err(|e| {
                    ExecError::failed(format!(
                        "cannot mount {} {} over {}: {}",
                        entry.fs_type,
                        quote(&entry.name),
                        quote(dir),
                        errno::text(e)
                    ))
                })
        };
        result?;
        self.undo.push(Undo::Mounted {
            target: dir.to_owned(),
            fs_type: entry.fs_type.clone(),
        });
        let propagation = split.propagation();
        if !propagation.is_empty() {
            let flags = if split.recursive() {
                propagation | MountFlags::REC
            } else {
                propagation
            };
            if let Err(e) = self.sys.set_propagation(dir, flags) {
                let err = ExecError::sys("cannot change mount propagation of", dir, e);
                if self.detach(dir).is_ok() {
                    self.undo.pop();
                }
                return Err(err);
            }
        }
        self.assumptions.add_change(Action::Mount, entry);
        Ok(())
    }

    /// An unmount's `EINVAL` is forgiven when `dir` is no longer a mount
    /// point (snapd). So is `ENOENT` (snapcell): the mount point itself is
    /// gone, typically with a tmpfs detached before it (the current profile
    /// may list a mimic's tmpfs after the entries inside it, see `apply`).
    fn forgive_gone(&mut self, dir: &str, e: Errno) -> bool {
        (e == Errno::INVAL || e == Errno::NOENT)
            && matches!(self.sys.is_mount_point(dir), Ok(false))
    }

    /// Make the tree at `dir` private, then detach it (undo of our mounts).
    /// Best effort: the detach is tried even if the propagation change fails.
    fn detach(&mut self, dir: &str) -> Result<(), ExecError> {
        let private = match self
            .sys
            .set_propagation(dir, MountFlags::PRIVATE | MountFlags::REC)
        {
            Err(e) if !self.forgive_gone(dir, e) => {
                Err(ExecError::sys("cannot change mount propagation of", dir, e))
            }
            _ => Ok(()),
        };
        match self.sys.unmount(dir, true) {
            Err(e) if !self.forgive_gone(dir, e) => {
                private.and(Err(ExecError::sys("cannot unmount", dir, e)))
            }
            _ => Ok(()),
        }
    }

    /// snapd's `lowLevelPerform` for an unmount, with the mount point's cleanup.
    fn unmount_entry(&mut self, entry: &MountEntry) -> Result<(), ExecError> {
        let kind = Self::kind_of(entry)?;
        let dir = entry.dir.as_str();
        if kind == Kind::EnsureDir {
            // Directories made for ensure-dir entries are never removed.
            return Ok(());
        }
        if !paths::is_clean_absolute(dir) {
            return Err(ExecError::failed(format!(
                "cannot unmount {}: not an absolute, clean path",
                quote(dir)
            )));
        }
        if kind == Kind::Symlink {
            // Only our own link is removed: it may be gone already (with a
            // mimic's tmpfs detached before it), and what is there instead
            // is not ours (snapd removes whatever is there).
            let meta = self
                .sys
                .lstat(dir)
                .map_err(|e| ExecError::sys("cannot inspect", dir, e))?;
            let link = match meta {
                Some(m) if m.kind == FileKind::Symlink => self.sys.readlink(dir).ok(),
                _ => None,
            };
            let ours =
                meta.is_some() && link.is_some() && link.as_deref() == entry.symlink_target();
            if ours {
                self.sys
                    .remove(dir)
                    .map_err(|e| ExecError::sys("cannot remove symlink", dir, e))?;
            }
            let removed = meta.filter(|_| ours).map(|meta| Removed {
                path: dir.to_owned(),
                meta,
                link,
            });
            self.undo.push(Undo::Unmounted {
                entry: entry.clone(),
                removed,
                aside: None,
            });
            return Ok(());
        }
        // Before the first entry of a writable mimic goes, keep the mimic's
        // tree aside: a rollback binds the entry back from there.
        let aside = if entry.is_synthetic() && entry.fs_type != "tmpfs" {
            self.mimic_aside(&paths::dir(dir))
        } else {
            None
        };
        if entry.detach()
            && let Err(e) = self
                .sys
                .set_propagation(dir, MountFlags::PRIVATE | MountFlags::REC)
            && !self.forgive_gone(dir, e)
        {
            return Err(ExecError::sys("cannot change mount propagation of", dir, e));
        }
        let mut forgiven = false;
        if let Err(e) = self.sys.unmount(dir, entry.detach()) {
            if !self.forgive_gone(dir, e) {
                return Err(ExecError::sys("cannot unmount", dir, e));
            }
            forgiven = true;
        }
        self.undo.push(Undo::Unmounted {
            entry: entry.clone(),
            removed: None,
            aside,
        });
        let record = self.undo.len() - 1;
        self.assumptions.add_change(Action::Unmount, entry);
        if entry.is_synthetic() {
            // A writable mimic's mount points are either in its tmpfs (gone
            // with it) or pre-existing directories (the mimic's own, or,
            // once the tmpfs is gone, the original's): never removed.
            return Ok(());
        }
        if forgiven && self.assumptions.is_restricted(dir) {
            // Nothing was mounted there: what is at `dir` now is not our
            // mount point (typically the host's, a mimic having gone first).
            return Ok(());
        }
        let meta = match self.sys.lstat(dir) {
            Ok(None) => return Ok(()),
            Ok(Some(m)) => m,
            Err(e) => return Err(ExecError::sys("cannot inspect", dir, e)),
        };
        if meta.kind == FileKind::Symlink {
            return Err(ExecError::failed(format!(
                "cannot remove mount point {}: it is a symbolic link",
                quote(dir)
            )));
        }
        let fs = self
            .sys
            .statfs(dir)
            .map_err(|e| ExecError::sys("cannot inspect", dir, e))?;
        if fs.magic == SQUASHFS_MAGIC || (kind == Kind::File && meta.size != 0) {
            return Ok(());
        }
        match self.sys.remove(dir) {
            Ok(()) => {
                if let Some(Undo::Unmounted { removed, .. }) = self.undo.get_mut(record) {
                    *removed = Some(Removed {
                        path: dir.to_owned(),
                        meta,
                        link: None,
                    });
                }
                Ok(())
            }
            Err(Errno::ROFS) => Ok(()),
            Err(Errno::BUSY) => {
                self.warnings.push(format!(
                    "cannot remove mount point {}: {}",
                    quote(dir),
                    errno::text(Errno::BUSY)
                ));
                Ok(())
            }
            Err(Errno::NOTEMPTY | Errno::EXIST) if kind == Kind::Directory => Ok(()),
            Err(e) => Err(ExecError::sys("cannot remove mount point", dir, e)),
        }
    }

    // ---- secure creation (spec §3.5) ----

    /// Refuse to write into `dir` if that would trespass on the host.
    fn check(&mut self, rs: &Restrictions, dir: &str) -> Result<(), ExecError> {
        if !rs.restricted || self.assumptions.can_write_to_directory(self.sys, dir)? {
            return Ok(());
        }
        if dir == "/" {
            return Err(ExecError::failed(
                "cannot recover from trespassing over /".to_owned(),
            ));
        }
        Err(ExecError::Trespassing {
            desired: rs.desired.clone(),
            violated: dir.to_owned(),
        })
    }

    /// snapd's `MkDir`: one directory `name` in `parent`.
    fn mk_dir(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        self.check(rs, parent)?;
        let path = join(parent, name);
        match self.sys.mkdir(parent, name, mode, uid, gid) {
            Ok(true) => {
                self.undo.push(Undo::Created { path });
                // What is below something we made cannot be the host's.
                rs.lift();
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(Errno::EXIST) => Err(ExecError::sys(
                "cannot open directory",
                &path,
                Errno::NOTDIR,
            )),
            Err(Errno::ROFS) => Err(ExecError::ReadOnly {
                path: parent.to_owned(),
            }),
            Err(e) => Err(ExecError::sys("cannot create directory", &path, e)),
        }
    }

    /// snapd's `MkPrefix`: every directory of `base`, from `/`.
    fn mk_prefix(
        &mut self,
        base: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        let mut parent = "/".to_owned();
        for name in components(base) {
            self.mk_dir(&parent, name, mode, uid, gid, rs)?;
            parent = join(&parent, name);
        }
        Ok(())
    }

    fn check_clean(path: &str) -> Result<(), ExecError> {
        if path != paths::clean(path) {
            return Err(ExecError::failed(format!(
                "cannot split unclean path {}",
                quote(path)
            )));
        }
        Ok(())
    }

    /// The checks snapd makes of a file or symlink path before creating it
    /// (clean, absolute, not ending in `/`); its directory and name.
    fn split_leaf(path: &str, what: &str) -> Result<(String, String), ExecError> {
        Self::check_clean(path)?;
        if !path.starts_with('/') {
            return Err(ExecError::failed(format!(
                "cannot create {what} with relative path: {}",
                quote(path)
            )));
        }
        if path.ends_with('/') {
            return Err(ExecError::failed(format!(
                "cannot create non-file path: {}",
                quote(path)
            )));
        }
        Ok((paths::dir(path), paths::base(path)))
    }

    /// snapd's `MkdirAll`.
    fn mkdir_all(
        &mut self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        Self::check_clean(path)?;
        if !path.starts_with('/') {
            return Err(ExecError::failed(format!(
                "cannot create directory with relative path: {}",
                quote(path)
            )));
        }
        self.mk_prefix(path, mode, uid, gid, rs)
    }

    /// snapd's `MkfileAll`.
    fn mkfile_all(
        &mut self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        let (base, name) = Self::split_leaf(path, "file")?;
        self.mk_prefix(&base, mode, uid, gid, rs)?;
        self.check(rs, &base)?;
        match self.sys.mkfile(&base, &name, mode, uid, gid) {
            Ok(true) => {
                self.undo.push(Undo::Created {
                    path: path.to_owned(),
                });
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(Errno::ROFS) => Err(ExecError::ReadOnly { path: base }),
            Err(e) => Err(ExecError::sys("cannot open file", path, e)),
        }
    }

    /// snapd's `MksymlinkAll`: an existing symlink is fine if it points to `target`.
    fn mksymlink_all(
        &mut self,
        path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        target: &str,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        let (base, name) = Self::split_leaf(path, "symlink")?;
        if target.is_empty() {
            return Err(ExecError::failed(format!(
                "cannot create symlink with empty target: {}",
                quote(path)
            )));
        }
        self.mk_prefix(&base, mode, uid, gid, rs)?;
        self.check(rs, &base)?;
        match self.sys.symlink(&base, &name, target) {
            Ok(()) => {
                self.undo.push(Undo::Created {
                    path: path.to_owned(),
                });
                Ok(())
            }
            Err(Errno::EXIST) => {
                let meta = match self.sys.lstat(path) {
                    Ok(Some(m)) => m,
                    Ok(None) => {
                        return Err(ExecError::sys(
                            "cannot open existing file",
                            path,
                            Errno::NOENT,
                        ));
                    }
                    Err(e) => return Err(ExecError::sys("cannot open existing file", path, e)),
                };
                if meta.kind != FileKind::Symlink {
                    return Err(ExecError::failed(format!(
                        "cannot create symbolic link {}: existing file in the way",
                        quote(path)
                    )));
                }
                let existing = self
                    .sys
                    .readlink(path)
                    .map_err(|e| ExecError::sys("cannot read symbolic link", path, e))?;
                if existing != target {
                    return Err(ExecError::failed(format!(
                        "cannot create symbolic link {}: existing symbolic link in the way",
                        quote(path)
                    )));
                }
                Ok(())
            }
            Err(Errno::ROFS) => Err(ExecError::ReadOnly { path: base }),
            Err(e) => Err(ExecError::sys("cannot create symlink", path, e)),
        }
    }

    /// snapd's `MkdirAllWithin` (ensure-dir): create the missing directories
    /// of `path` strictly below `parent`, which must exist.
    fn mkdir_all_within(
        &mut self,
        path: &str,
        parent: &str,
        mode: u32,
        uid: u32,
        gid: u32,
        rs: &mut Restrictions,
    ) -> Result<(), ExecError> {
        for p in [path, parent] {
            Self::check_clean(p)?;
            if !p.starts_with('/') {
                return Err(ExecError::failed(format!(
                    "cannot create directory with relative path: {}",
                    quote(p)
                )));
            }
        }
        let fail = |why: String| {
            ExecError::failed(format!(
                "cannot create ensure-dir target {}: {why}",
                quote(path)
            ))
        };
        let below = if parent == "/" {
            path != "/"
        } else {
            path.starts_with(&format!("{parent}/"))
        };
        if !below {
            return Err(fail(format!(
                "path {} is not a parent of {}",
                quote(parent),
                quote(path)
            )));
        }
        match self.sys.lstat(path) {
            Ok(Some(m)) if m.kind == FileKind::Dir => return Ok(()),
            Ok(Some(_)) => return Err(fail("existing file in the way".to_owned())),
            Ok(None) => {}
            Err(e) => return Err(ExecError::sys("cannot inspect", path, e)),
        }
        match self.sys.lstat(parent) {
            Ok(Some(m)) if m.kind == FileKind::Dir => {}
            Ok(Some(_)) => {
                return Err(fail(format!(
                    "parent directory {} is not a directory",
                    quote(parent)
                )));
            }
            Ok(None) => {
                return Err(fail(format!(
                    "parent directory {} does not exist",
                    quote(parent)
                )));
            }
            Err(e) => return Err(ExecError::sys("cannot inspect", parent, e)),
        }
        let rel = if parent == "/" {
            &path[1..]
        } else {
            &path[parent.len() + 1..]
        };
        let mut cur = parent.to_owned();
        let mut names = components(rel).peekable();
        // Walk down over what exists, then create the rest.
        while let Some(name) = names.peek() {
            let next = join(&cur, name);
            match self.sys.lstat(&next) {
                Ok(Some(m)) if m.kind == FileKind::Dir => {
                    cur = next;
                    names.next();
                }
                Ok(Some(_)) => return Err(fail(format!("{} is not a directory", quote(&next)))),
                Ok(None) => break,
                Err(e) => return Err(ExecError::sys("cannot inspect", &next, e)),
            }
        }
        for name in names {
            self.mk_dir(&cur, name, mode, uid, gid, rs)?;
            cur = join(&cur, name);
        }
        Ok(())
    }

    // ---- writable mimic (spec §3.7) ----

    /// Turn directory `dir` into a writable tmpfs that looks the same, and
    /// return the entries that record it (exactly snapd's, so that snapd's
    /// snap-update-ns can take over): the tmpfs, then one self-bind per
    /// directory and per regular file; symlinks are recreated but not
    /// recorded. Instead of snapd's safe-keeping bind under `/tmp/.snap`,
    /// the original tree is set aside as a detached clone. On failure what
    /// was done is undone in reverse.
    fn create_writable_mimic(
        &mut self,
        dir: &str,
        needed_by: &str,
    ) -> Result<Vec<MountEntry>, ExecError> {
        if dir == "/" {
            return Err(ExecError::failed(
                "cannot recover from trespassing over /".to_owned(),
            ));
        }
        if !paths::is_clean_absolute(dir) {
            return Err(ExecError::failed(format!(
                "cannot use {} for a writable mimic: not an absolute, clean path",
                quote(dir)
            )));
        }
        let meta = match self.sys.lstat(dir) {
            Ok(Some(m)) => m,
            Ok(None) => return Err(ExecError::sys("cannot inspect", dir, Errno::NOENT)),
            Err(e) => return Err(ExecError::sys("cannot inspect", dir, e)),
        };
        if meta.kind != FileKind::Dir {
            return Err(ExecError::sys("cannot read directory", dir, Errno::NOTDIR));
        }
        // Look at the original before the tmpfs hides it. In name order, as
        // snapd's Go `ReadDir` returns it (not the kernel's readdir order): the
        // mimic's entries, and so the saved profile, come in that order.
        let mut listing = self
            .sys
            .read_dir(dir)
            .map_err(|e| ExecError::sys("cannot read directory", dir, e))?;
        listing.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut children: Vec<(String, MimicChild)> = Vec::new();
        for (name, _) in listing {
            let path = join(dir, &name);
            let child = match self.sys.lstat(&path) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => return Err(ExecError::sys("cannot inspect", &path, e)),
            };
            let what = match child.kind {
                FileKind::Dir => MimicChild::Dir,
                FileKind::File => MimicChild::File,
                FileKind::Symlink => match self.sys.readlink(&path) {
                    Ok(target) => MimicChild::Symlink(target),
                    Err(_) => continue,
                },
                // Devices, sockets and FIFOs are not supported (never in snaps).
                FileKind::Other => continue,
            };
            children.push((name, what));
        }
        let aside = self
            .sys
            .set_aside(dir)
            .map_err(|e| ExecError::sys("cannot set aside", dir, e))?;
        let start = self.undo.len();
        let result = self.mimic_steps(dir, needed_by, &meta, aside, &children);
        self.sys.release_aside(aside);
        let err = match result {
            Ok(entries) => return Ok(entries),
            Err(e) => e,
        };
        let records = self.undo.split_off(start);
        let failed = self.undo_records(records);
        if failed.is_empty() {
            return Err(err);
        }
        let why: Vec<String> = failed.iter().map(|(_, e)| e.clone()).collect();
        // Keep what could not be undone for the update's rollback.
        self.undo.extend(failed.into_iter().map(|(r, _)| r));
        Err(ExecError::Fatal(format!(
            "cannot undo writable mimic over {} while recovering from earlier error {err}: {}",
            quote(dir),
            why.join("; ")
        )))
    }

    fn mimic_steps(
        &mut self,
        dir: &str,
        needed_by: &str,
        meta: &FileMeta,
        aside: AsideId,
        children: &[(String, MimicChild)],
    ) -> Result<Vec<MountEntry>, ExecError> {
        let attrs = format!(
            "mode={},uid={},gid={}",
            octal(meta.mode & 0o7777),
            meta.uid,
            meta.gid
        );
        self.sys
            .mount_fs("tmpfs", dir, "tmpfs", MountFlags::empty(), &attrs)
            .map_err(|e| ExecError::sys("cannot mount tmpfs over", dir, e))?;
        self.undo.push(Undo::Mounted {
            target: dir.to_owned(),
            fs_type: "tmpfs".to_owned(),
        });
        let synthetic = OPT_SYNTHETIC.to_owned();
        let needed = format!("{OPT_NEEDED_BY}={needed_by}");
        let tmpfs = MountEntry {
            name: "tmpfs".to_owned(),
            dir: dir.to_owned(),
            fs_type: "tmpfs".to_owned(),
            options: vec![
                synthetic.clone(),
                needed.clone(),
                format!("mode={}", octal(meta.mode & 0o7777)),
                format!("uid={}", meta.uid),
                format!("gid={}", meta.gid),
            ],
            ..MountEntry::default()
        };
        self.assumptions.add_change(Action::Mount, &tmpfs);
        let mut entries = vec![tmpfs];
        for (name, what) in children {
            let path = join(dir, name);
            let mode = self.assumptions.mode_for_path(&path);
            let mut rs = Restrictions::for_path(&self.assumptions, &path);
            let options = match what {
                MimicChild::Symlink(target) => {
                    self.mksymlink_all(&path, mode, 0, 0, target, &mut rs)?;
                    continue;
                }
                MimicChild::Dir => {
                    self.mkdir_all(&path, mode, 0, 0, &mut rs)?;
                    vec![
                        "rbind".to_owned(),
                        synthetic.clone(),
                        needed.clone(),
                        OPT_DETACH.to_owned(),
                    ]
                }
                MimicChild::File => {
                    self.mkfile_all(&path, mode, 0, 0, &mut rs)?;
                    vec![
                        "bind".to_owned(),
                        format!("{OPT_KIND}=file"),
                        synthetic.clone(),
                        needed.clone(),
                    ]
                }
            };
            let recursive = matches!(what, MimicChild::Dir);
            self.sys
                .bind_from_aside(aside, name, &path, recursive)
                .map_err(|e| {
                    ExecError::failed(format!(
                        "cannot bind-mount the original {} over {}: {}",
                        quote(&path),
                        quote(&path),
                        errno::text(e)
                    ))
                })?;
            self.undo.push(Undo::Mounted {
                target: path.clone(),
                fs_type: "none".to_owned(),
            });
            let entry = MountEntry {
                name: path.clone(),
                dir: path,
                fs_type: "none".to_owned(),
                options,
                ..MountEntry::default()
            };
            self.assumptions.add_change(Action::Mount, &entry);
            entries.push(entry);
        }
        Ok(entries)
    }

    // ---- rollback ----

    /// The tree at `dir` (a writable mimic) kept aside, taken the first time.
    /// `None` if it cannot be (then only a rollback would miss it).
    fn mimic_aside(&mut self, dir: &str) -> Option<AsideId> {
        if let Some((_, a)) = self.held.iter().find(|(d, _)| d == dir) {
            return Some(*a);
        }
        let a = self.sys.set_aside(dir).ok()?;
        self.held.push((dir.to_owned(), a));
        Some(a)
    }

    fn release_held(&mut self) {
        for (_, a) in std::mem::take(&mut self.held) {
            self.sys.release_aside(a);
        }
    }

    /// Undo one `Created` or `Mounted` record.
    fn undo_one(&mut self, record: &Undo) -> Result<(), ExecError> {
        match record {
            Undo::Created { path } => match self.sys.remove(path) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(ExecError::sys("cannot remove", path, e)),
            },
            Undo::Mounted { target, fs_type } => {
                self.detach(target)?;
                let entry = MountEntry {
                    dir: target.clone(),
                    fs_type: fs_type.clone(),
                    ..MountEntry::default()
                };
                self.assumptions.add_change(Action::Unmount, &entry);
                Ok(())
            }
            Undo::Unmounted { entry, .. } => Err(ExecError::failed(format!(
                "cannot restore {} out of order",
                quote(&entry.dir)
            ))),
        }
    }

    /// Undo `Created`/`Mounted` records in reverse; return those that failed.
    fn undo_records(&mut self, records: Vec<Undo>) -> Vec<(Undo, String)> {
        let mut failed = Vec::new();
        for r in records.into_iter().rev() {
            if let Err(e) = self.undo_one(&r) {
                failed.push((r, e.to_string()));
            }
        }
        failed.reverse();
        failed
    }

    /// Put back something removed while cleaning up after an unmount.
    fn recreate(&mut self, r: &Removed) {
        let parent = paths::dir(&r.path);
        let name = paths::base(&r.path);
        let m = r.meta;
        let _ = match (m.kind, &r.link) {
            (FileKind::Dir, _) => self
                .sys
                .mkdir(&parent, &name, m.mode, m.uid, m.gid)
                .map(|_| ()),
            (FileKind::File, _) => self
                .sys
                .mkfile(&parent, &name, m.mode, m.uid, m.gid)
                .map(|_| ()),
            (FileKind::Symlink, Some(target)) => self.sys.symlink(&parent, &name, target),
            _ => Ok(()),
        };
    }

    /// Mount an entry of the current profile again after this run unmounted it.
    fn restore(
        &mut self,
        entry: &MountEntry,
        removed: Option<&Removed>,
        aside: Option<AsideId>,
        remimicked: &mut HashSet<String>,
    ) -> Result<(), ExecError> {
        let fail =
            |e: ExecError| ExecError::failed(format!("cannot restore {}: {e}", quote(&entry.dir)));
        if entry.is_synthetic() {
            if entry.fs_type == "tmpfs" {
                self.create_writable_mimic(&entry.dir, entry.needed_by().unwrap_or(""))
                    .map_err(fail)?;
                remimicked.insert(entry.dir.clone());
                return Ok(());
            }
            if remimicked.contains(&paths::dir(&entry.dir)) {
                // Restored with the writable mimic it belongs to.
                return Ok(());
            }
            // The mimic's tmpfs is still there: bind the original back from
            // the tree kept aside (its mount point was not removed).
            let Some(aside) = aside else {
                return Err(fail(ExecError::failed(
                    "cannot find the writable mimic it belongs to".to_owned(),
                )));
            };
            let recursive = Self::kind_of(entry)? == Kind::Directory;
            let name = paths::base(&entry.dir);
            return self
                .sys
                .bind_from_aside(aside, &name, &entry.dir, recursive)
                .map_err(|e| {
                    fail(ExecError::sys(
                        "cannot bind-mount the original",
                        &entry.dir,
                        e,
                    ))
                });
        }
        if Self::kind_of(entry)? == Kind::EnsureDir {
            return Ok(());
        }
        if let Some(r) = removed {
            self.recreate(r);
        }
        let mut synthesized = Vec::new();
        self.mount_entry(entry, false, &mut synthesized)
            .map_err(fail)
    }

    /// Undo everything this run did: mounts and creations in reverse, then
    /// mount again what was unmounted, parents first. Returns what failed.
    fn rollback(&mut self) -> Vec<String> {
        let log = std::mem::take(&mut self.undo);
        let mut errors = Vec::new();
        // Unmounts all happen before any mount or creation, so undoing the
        // rest in reverse first and then restoring is reverse order.
        let mut unmounted = Vec::new();
        for record in log.into_iter().rev() {
            match record {
                Undo::Unmounted {
                    entry,
                    removed,
                    aside,
                } => unmounted.push((entry, removed, aside)),
                other => {
                    if let Err(e) = self.undo_one(&other) {
                        errors.push(e.to_string());
                    }
                }
            }
        }
        // `unmounted` is now in the current profile's order; sort stably.
        unmounted.sort_by_key(|(e, _, _)| restore_key(e));
        let mut remimicked = HashSet::new();
        for (entry, removed, aside) in &unmounted {
            if let Err(e) = self.restore(entry, removed.as_ref(), *aside, &mut remimicked) {
                errors.push(e.to_string());
            }
        }
        // What the restoration itself did is not undone.
        self.undo.clear();
        errors
    }
}

/// A child of a directory being mimicked.
#[derive(Clone, Debug)]
enum MimicChild {
    Dir,
    File,
    Symlink(String),
}
