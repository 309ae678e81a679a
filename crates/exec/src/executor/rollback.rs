//! The undo journal of an update and the rollback of an aborted one: what
//! this run created or mounted is removed or detached in reverse, then
//! what it unmounted is mounted again, parents first (a writable mimic's
//! entries bound back from its tree kept aside).

use std::collections::HashSet;

use snapcell_core::entry::{Kind, MountEntry};
use snapcell_core::goquote::quote;
use snapcell_core::paths;
use snapcell_core::plan::Action;
use snapcell_sys::system::{AsideId, Errno, FileKind, FileMeta};

use super::Executor;
use crate::error::ExecError;

/// What was removed while cleaning up after an unmount, to put it back.
#[derive(Clone, Debug)]
pub(super) struct Removed {
    pub(super) path: String,
    pub(super) meta: FileMeta,
    pub(super) link: Option<String>,
}

/// One thing this run did, to undo it.
#[derive(Clone, Debug)]
pub(super) enum Undo {
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

/// The order in which unmounted entries are mounted again when rolling
/// back: parents before children (directory with a trailing slash, byte
/// order); at the same directory, writable mimics last (a mimic is built
/// over what was there); otherwise the current profile's order.
fn restore_key(e: &MountEntry) -> (Vec<u8>, bool) {
    let mut d = e.dir.clone().into_bytes();
    d.push(b'/');
    (d, e.is_synthetic() && e.fs_type == "tmpfs")
}

impl Executor<'_> {
    /// The tree at `dir` (a writable mimic) kept aside, taken the first time.
    /// `None` if it cannot be (then only a rollback would miss it).
    pub(super) fn mimic_aside(&mut self, dir: &str) -> Option<AsideId> {
        if let Some((_, a)) = self.held.iter().find(|(d, _)| d == dir) {
            return Some(*a);
        }
        let a = self.sys.set_aside(dir).ok()?;
        self.held.push((dir.to_owned(), a));
        Some(a)
    }

    pub(super) fn release_held(&mut self) {
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
    pub(super) fn undo_records(&mut self, records: Vec<Undo>) -> Vec<(Undo, String)> {
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
    pub(super) fn rollback(&mut self) -> Vec<String> {
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
