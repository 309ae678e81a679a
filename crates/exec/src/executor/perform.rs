//! Performing one change of the plan (snapd's `Change.Perform` and
//! `lowLevelPerform`): a mount (target, source, then the mount and its
//! propagation), an unmount with the cleanup of its mount point, a keep.

use snapcell_core::entry::{Kind, MountEntry};
use snapcell_core::goquote::quote;
use snapcell_core::mount_opts::{MountFlags, split_options};
use snapcell_core::paths;
use snapcell_core::plan::{Action, Change};
use snapcell_sys::system::{Errno, FileKind, SQUASHFS_MAGIC};

use super::Executor;
use super::rollback::{Removed, Undo};
use crate::errno;
use crate::error::ExecError;

impl Executor<'_> {
    /// Perform one change (snapd's `Change.Perform`): the entries of any
    /// writable mimic made for it (kept even when the change then failed),
    /// and the result.
    pub(super) fn perform(&mut self, change: &Change) -> (Vec<MountEntry>, Result<(), ExecError>) {
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

    pub(super) fn kind_of(entry: &MountEntry) -> Result<Kind, ExecError> {
        entry.kind().map_err(|e| ExecError::failed(e.to_string()))
    }

    /// A mount change: target, source, then the mount itself. Mimics are
    /// made only when `allow_mimic` (never while rolling back).
    pub(super) fn mount_entry(
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
    pub(super) fn detach(&mut self, dir: &str) -> Result<(), ExecError> {
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
}
