//! A [`FsView`] over a real directory tree: the live namespace (root `/`) or
//! a directory standing in for it (`snapcell plan --root DIR`).
//!
//! Every lookup resolves inside the root with `openat2(RESOLVE_IN_ROOT)`, so
//! an absolute symlink in the tree resolves within the tree, never on the host.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, openat2, statat};
use snapcell_core::plan::FsView;

/// A file-system view rooted at an open directory.
#[derive(Debug)]
pub struct DirFsView {
    root: OwnedFd,
}

impl DirFsView {
    /// Open `root` as the view's root directory.
    pub fn open(root: &Path) -> std::io::Result<DirFsView> {
        let root = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            std::io::Error::other(format!(
                "cannot open {} as a root directory: {e}",
                root.display()
            ))
        })?;
        Ok(DirFsView { root })
    }

    fn resolve(&self, path: &str) -> Option<OwnedFd> {
        let rel = path.trim_start_matches('/');
        openat2(
            &self.root,
            if rel.is_empty() { "." } else { rel },
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()
    }

    fn file_type(&self, path: &str) -> Option<FileType> {
        let fd = self.resolve(path)?;
        let st = rustix::fs::fstat(&fd).ok()?;
        Some(FileType::from_raw_mode(st.st_mode))
    }
}

impl FsView for DirFsView {
    fn is_dir(&self, path: &str) -> bool {
        self.file_type(path) == Some(FileType::Directory)
    }

    fn exists(&self, path: &str) -> bool {
        self.file_type(path).is_some()
    }

    fn is_symlink(&self, path: &str) -> bool {
        let trimmed = path.trim_end_matches('/');
        let Some((parent, name)) = trimmed.rsplit_once('/') else {
            return false;
        };
        if name.is_empty() || name == "." || name == ".." {
            return false;
        }
        let Some(dir) = self.resolve(if parent.is_empty() { "/" } else { parent }) else {
            return false;
        };
        statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_root_and_never_on_the_host() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::write(r.join("usr/lib/f"), b"").unwrap();
        std::os::unix::fs::symlink("/usr/lib", r.join("lib")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("hostetc")).unwrap();
        let v = DirFsView::open(r).unwrap();
        assert!(v.is_dir("/") && v.is_dir("/usr") && v.is_dir("/usr/lib"));
        assert!(v.exists("/usr/lib/f") && !v.is_dir("/usr/lib/f"));
        assert!(v.is_dir("/lib") && v.is_symlink("/lib") && v.exists("/lib/f"));
        assert!(!v.is_symlink("/usr"));
        // /etc exists on the host but not in the tree: the symlink dangles inside.
        assert!(v.is_symlink("/hostetc") && !v.exists("/hostetc") && !v.exists("/etc/passwd"));
        assert!(!v.exists("/../../etc/passwd"));
    }
}
