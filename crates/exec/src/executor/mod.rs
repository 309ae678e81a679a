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
//!
//! The files: this one runs the update ([`apply`]: plan, perform, the
//! failure policy); `perform` mounts and unmounts one entry (snapd's
//! `Change.Perform`); `create` makes missing mount points and sources
//! without trespassing (snapd's `ensureTarget`, `ensureSource` and the
//! secure `Mk*` functions); `mimic` builds writable mimics; `rollback`
//! holds the undo journal and takes an aborted update back.

mod create;
mod mimic;
mod perform;
mod rollback;

use std::cell::RefCell;
use std::fmt;

use snapcell_core::entry::{MountEntry, Origin};
use snapcell_core::paths;
use snapcell_core::plan::{Action, Change, FsView, needed_changes};
use snapcell_core::profile::Profile;
use snapcell_sys::system::{AsideId, FileKind, FileMeta, System};

use crate::assumptions::Assumptions;
use crate::error::ExecError;

use self::rollback::Undo;

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
///
/// `is_dir` and `exists` are `stat`'s answers (symlinks followed), asked
/// through `lstat` first: when no component is a symbolic link the two
/// agree (a missing component is missing for both; `lstat` refuses a
/// symlink in a parent with an error, and reports a symlink leaf as one),
/// and `lstat` resolves from the system's kept directory descriptors
/// instead of walking from `/` (issue 11: the planner asked every target
/// once more from the root). Only a symlink or an error is asked of `stat`.
struct SysView<'a> {
    sys: RefCell<&'a mut dyn System>,
}

impl SysView<'_> {
    /// `stat`'s answer for a clean absolute path.
    fn followed(&self, path: &str) -> Option<FileMeta> {
        let mut sys = self.sys.borrow_mut();
        match sys.lstat(path) {
            Ok(Some(m)) if m.kind != FileKind::Symlink => Some(m),
            Ok(None) => None,
            _ => sys.stat(path).ok().flatten(),
        }
    }
}

impl FsView for SysView<'_> {
    fn is_dir(&self, path: &str) -> bool {
        paths::is_clean_absolute(path)
            && matches!(self.followed(path), Some(m) if m.kind == FileKind::Dir)
    }

    fn exists(&self, path: &str) -> bool {
        paths::is_clean_absolute(path) && self.followed(path).is_some()
    }

    fn is_symlink(&self, path: &str) -> bool {
        paths::is_clean_absolute(path)
            && matches!(self.sys.borrow_mut().lstat(path), Ok(Some(m)) if m.kind == FileKind::Symlink)
    }
}

/// `parent/name` for a clean absolute parent.
pub(super) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn change_text(c: &Change) -> String {
    format!("{} ({})", c.action, c.entry)
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

/// Apply `desired` over `current` (snapd's `applyProfile`, the heart of
/// `executeMountProfileUpdate`; locking, loading and saving are the
/// caller's, see [`crate::update`]).
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
