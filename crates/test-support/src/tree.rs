//! A small directory tree described in code.
//!
//! ```no_run
//! # use snapcell_test_support::Tree;
//! Tree::new()
//!     .file("meta/snap.yaml", "name: hello\nversion: 1\n", 0o644)
//!     .file("bin/hello", "#!/bin/sh\necho hello\n", 0o755)
//!     .symlink("bin/hi", "hello")
//!     .dir("empty", 0o700)
//!     .write_to("/var/tmp/some-dir".as_ref())
//!     .unwrap();
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

/// Entries are written in the order they were added; missing parent
/// directories are created with mode 0755. Modes are set exactly (the umask
/// does not apply).
#[derive(Clone, Debug, Default)]
pub struct Tree {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
enum Entry {
    Dir {
        path: PathBuf,
        mode: u32,
    },
    File {
        path: PathBuf,
        contents: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: PathBuf,
        target: PathBuf,
    },
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// A directory (relative path) with `mode`.
    pub fn dir(mut self, path: impl AsRef<Path>, mode: u32) -> Tree {
        self.entries.push(Entry::Dir {
            path: path.as_ref().to_owned(),
            mode,
        });
        self
    }

    /// A regular file (relative path) with `contents` and `mode`.
    pub fn file(mut self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>, mode: u32) -> Tree {
        self.entries.push(Entry::File {
            path: path.as_ref().to_owned(),
            contents: contents.as_ref().to_owned(),
            mode,
        });
        self
    }

    /// A symlink (relative path) pointing at `target` (taken verbatim).
    pub fn symlink(mut self, path: impl AsRef<Path>, target: impl AsRef<Path>) -> Tree {
        self.entries.push(Entry::Symlink {
            path: path.as_ref().to_owned(),
            target: target.as_ref().to_owned(),
        });
        self
    }

    /// Write the tree below `root` (created if missing).
    pub fn write_to(&self, root: &Path) -> io::Result<()> {
        fs::create_dir_all(root)?;
        for entry in &self.entries {
            match entry {
                Entry::Dir { path, mode } => {
                    let path = below(root, path)?;
                    fs::create_dir_all(&path)?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
                }
                Entry::File {
                    path,
                    contents,
                    mode,
                } => {
                    let path = below(root, path)?;
                    make_parent(&path)?;
                    fs::write(&path, contents)?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
                }
                Entry::Symlink { path, target } => {
                    let path = below(root, path)?;
                    make_parent(&path)?;
                    symlink(target, &path)?;
                }
            }
        }
        Ok(())
    }
}

fn below(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || rel.as_os_str().is_empty() {
        return Err(io::Error::other(format!(
            "tree entry {} is not a plain relative path",
            rel.display()
        )));
    }
    Ok(root.join(rel))
}

fn make_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent),
        None => Ok(()),
    }
}

/// The directories of a base snap (as snapd's bases have them) that every
/// test base here has: what snap-confine needs to build a namespace. A test
/// adds the mount points its own layouts need. (The bases snapcell builds
/// have more: `snapcell_standalone::base::BASE_DIRS`.)
pub const TEST_BASE_DIRS: &[&str] = &[
    "bin",
    "dev",
    "etc",
    "home",
    "root",
    "proc",
    "sys",
    "tmp",
    "var/snap",
    "var/lib/snapd/hostfs",
    "var/tmp",
    "var/log",
    "run",
    "lib/modules",
    "usr/src",
    "usr/lib/snapd",
    "media",
    "snap",
    "mnt",
];
