//! Mount namespaces: entering a preserved one.

use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// `NSFS_MAGIC` from `<linux/magic.h>`.
const NSFS_MAGIC: i64 = 0x6e73_6673;
/// `PROC_SUPER_MAGIC`.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Why a preserved namespace could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum NsError {
    /// The file is missing or is not a namespace (an ordinary file left behind).
    #[error("{0} does not hold a preserved mount namespace")]
    NotPreserved(String),
    #[error("cannot open {path}: {err}")]
    Open {
        path: String,
        err: rustix::io::Errno,
    },
    #[error("cannot enter mount namespace {path}: {err}")]
    Setns {
        path: String,
        err: rustix::io::Errno,
    },
}

/// Whether `path` holds a preserved namespace (a bind-mounted nsfs file).
pub fn is_preserved(path: &Path) -> bool {
    rustix::fs::statfs(path)
        .map(|s| is_ns_magic(s.f_type))
        .unwrap_or(false)
}

fn is_ns_magic(magic: i64) -> bool {
    magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC
}

/// Enter the mount namespace preserved at `path` (e.g. `/run/snapd/ns/NAME.mnt`).
/// The calling process must be single-threaded.
pub fn enter_mount_namespace(path: &Path) -> Result<(), NsError> {
    let shown = path.display().to_string();
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Err(NsError::NotPreserved(shown)),
        Err(err) => return Err(NsError::Open { path: shown, err }),
    };
    let magic = rustix::fs::fstatfs(&fd)
        .map_err(|err| NsError::Open {
            path: shown.clone(),
            err,
        })?
        .f_type;
    if !is_ns_magic(magic) {
        return Err(NsError::NotPreserved(shown));
    }
    move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Mount))
        .map_err(|err| NsError::Setns { path: shown, err })
}
