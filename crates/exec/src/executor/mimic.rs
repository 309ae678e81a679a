//! Writable mimics (spec §3.7): a directory that cannot be written to
//! (read-only, or the host's) is replaced by a tmpfs that looks the same,
//! the original's entries bound back one by one from a detached copy of
//! the original tree.

use snapcell_core::entry::{MountEntry, OPT_DETACH, OPT_KIND, OPT_NEEDED_BY, OPT_SYNTHETIC};
use snapcell_core::goquote::quote;
use snapcell_core::mount_opts::MountFlags;
use snapcell_core::paths;
use snapcell_core::plan::Action;
use snapcell_sys::system::{AsideId, Errno, FileKind, FileMeta};

use super::rollback::Undo;
use super::{Executor, join};
use crate::assumptions::Restrictions;
use crate::errno;
use crate::error::ExecError;

/// Go's `%#o`.
fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_owned()
    } else {
        format!("0{mode:o}")
    }
}

impl Executor<'_> {
    /// Turn directory `dir` into a writable tmpfs that looks the same, and
    /// return the entries that record it (exactly snapd's, so that snapd's
    /// snap-update-ns can take over): the tmpfs, then one self-bind per
    /// directory and per regular file; symlinks are recreated but not
    /// recorded. Instead of snapd's safe-keeping bind under `/tmp/.snap`,
    /// the original tree is set aside as a detached clone. On failure what
    /// was done is undone in reverse.
    pub(super) fn create_writable_mimic(
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
}

/// A child of a directory being mimicked.
#[derive(Clone, Debug)]
enum MimicChild {
    Dir,
    File,
    Symlink(String),
}
