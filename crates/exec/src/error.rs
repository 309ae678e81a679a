//! The error of one change of a mount plan, as snapd words it.

use snapcell_core::goquote::quote;
use snapcell_sys::system::Errno;

use crate::errno;

/// Why performing one change failed. Every message starts with `cannot` and
/// names the path concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// `EROFS` while creating something in `path`: a writable mimic over
    /// `path` would help (snapd's `ReadOnlyFsError`, same text).
    #[error("cannot operate on read-only filesystem at {path}")]
    ReadOnly { path: String },
    /// Creating `desired` would write into the host directory `violated`:
    /// a writable mimic over `violated` would help.
    #[error("cannot write to {} because it would affect the host in {}", quote(.desired), quote(.violated))]
    Trespassing { desired: String, violated: String },
    /// The entry has `x-snapd.ignore-missing` and its source or target is
    /// missing: the change is skipped, silently.
    #[error("cannot mount over {}: mount source or target are missing", quote(.dir))]
    IgnoredMissing { dir: String },
    /// Anything else.
    #[error("{0}")]
    Failed(String),
    /// A failure that left the namespace in an unknown state (a writable
    /// mimic that could not be taken down again): the update must stop.
    #[error("{0}")]
    Fatal(String),
}

impl ExecError {
    /// `WHAT "PATH": ERRNO-TEXT`.
    pub(crate) fn sys(what: &str, path: &str, e: Errno) -> ExecError {
        ExecError::Failed(format!("{what} {}: {}", quote(path), errno::text(e)))
    }

    pub(crate) fn failed(msg: String) -> ExecError {
        ExecError::Failed(msg)
    }

    /// Where a writable mimic would cure this error.
    pub(crate) fn mimic_dir(&self) -> Option<&str> {
        match self {
            ExecError::ReadOnly { path } => Some(path),
            ExecError::Trespassing { violated, .. } => Some(violated),
            _ => None,
        }
    }
}
