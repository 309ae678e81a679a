//! Creating missing mount points and bind-mount sources (spec §3.5,
//! §3.6): snapd's `ensureTarget`, `ensureSource` and `createPath`, and its
//! secure `MkDir`, `MkPrefix`, `MkdirAll`, `MkfileAll`, `MksymlinkAll` and
//! `MkdirAllWithin`. Every path is made one component at a time from `/`
//! through the [`System`](snapcell_sys::system::System) (which never
//! follows a symbolic link), and each write is checked first against the
//! trespassing rules of the [`Assumptions`](crate::Assumptions); a
//! read-only or trespassing error may be cured by a writable mimic
//! (`mimic`), made where the error says.

use snapcell_core::entry::{Kind, MountEntry, Origin};
use snapcell_core::goquote::quote;
use snapcell_core::mount_opts::{MountFlags, split_options};
use snapcell_core::paths;
use snapcell_sys::system::{Errno, FileKind, FileMeta};

use super::rollback::Undo;
use super::{Executor, join};
use crate::assumptions::Restrictions;
use crate::error::ExecError;

/// The components of a clean absolute path.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

impl Executor<'_> {
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
    pub(super) fn ensure_target(
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
    pub(super) fn ensure_source(
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
    pub(super) fn mkdir_all(
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
    pub(super) fn mkfile_all(
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
    pub(super) fn mksymlink_all(
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
}
