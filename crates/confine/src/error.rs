//! The one error type of the launcher: a message that says what could not be
//! done, to what, and why, in snap-confine's words (`cannot ...`).

use std::fmt;

use rustix::io::Errno;
use snapcell_sys::snaplock::LockError;

/// Why snap-confine (or snap-discard-ns) gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    /// A usage error: the message already holds the usage text.
    usage: bool,
    errno: Option<Errno>,
}

impl Error {
    /// A failure described by `message` alone.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            usage: false,
            errno: None,
        }
    }

    /// A failed system call: `WHAT: strerror(errno)`.
    pub fn sys(what: impl fmt::Display, errno: Errno) -> Error {
        Error {
            message: format!("{what}: {}", strerror(errno)),
            usage: false,
            errno: Some(errno),
        }
    }

    /// A usage error (the text holds the usage line).
    pub fn usage(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            usage: true,
            errno: None,
        }
    }

    /// Whether this is a usage error.
    pub fn is_usage(&self) -> bool {
        self.usage
    }

    /// The errno of a failed system call, if that is what failed.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// Prefix the message with what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The C library's text for an errno (one home: `snapcell_sys::errno`).
pub use snapcell_sys::errno::strerror;

impl From<LockError> for Error {
    /// The same message, and errno, as when the locks were taken here.
    fn from(e: LockError) -> Error {
        match e.errno() {
            Some(errno) => Error::sys(e.what(), errno),
            None => Error::new(e.what()),
        }
    }
}

impl From<snapcell_sys::safefs::Error> for Error {
    /// The same message as before the primitives moved to `sys`: a failed
    /// system call keeps its errno and reads `WHAT: strerror(errno)`.
    fn from(e: snapcell_sys::safefs::Error) -> Error {
        match e.failed_call() {
            Some((what, errno)) => Error::sys(what, errno),
            None => Error::new(e.to_string()),
        }
    }
}

impl From<snapcell_sys::mountinfo::MountTableError> for Error {
    /// The same message as when snap-confine read the table itself.
    fn from(e: snapcell_sys::mountinfo::MountTableError) -> Error {
        match e.failed_call() {
            Some((what, errno)) => Error::sys(what, errno),
            None => Error::new(e.to_string()),
        }
    }
}

/// Errors of the layers below whose text already reads as snap-confine's
/// message (`cannot ...`, naming the path): taken as they are.
macro_rules! from_message {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Error {
                Error::new(e.to_string())
            }
        }
    )*};
}

from_message!(
    snapcell_core::paths::PathError,
    snapcell_core::naming::NameError,
    snapcell_core::system_params::BadHomedir,
    snapcell_sys::creds::CredsError,
    snapcell_sys::hygiene::HygieneError,
    snapcell_sys::landlock::LandlockError,
    snapcell_sys::profile_io::ProfileIoError,
    snapcell_sys::seccomp::SeccompError,
);

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Attach "what" to an errno result.
pub(crate) trait SysContext<T> {
    fn or_die(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for std::result::Result<T, Errno> {
    fn or_die(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::sys(what(), errno))
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn or_die(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| match Errno::from_io_error(&err) {
            Some(errno) => Error::sys(what(), errno),
            None => Error::new(format!("{}: {err}", what())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_snap_confine() {
        let e = Error::sys("cannot open /x", Errno::NOENT);
        assert_eq!(e.to_string(), "cannot open /x: No such file or directory");
        assert_eq!(e.errno(), Some(Errno::NOENT));
        let e = e.context("cannot set up");
        assert_eq!(
            e.to_string(),
            "cannot set up: cannot open /x: No such file or directory"
        );
        assert!(!e.is_usage());
        assert!(Error::usage("Usage: x").is_usage());
    }

    #[test]
    fn safe_file_system_errors_read_like_snap_confine() {
        // A path known to be absent, whatever the machine has.
        let tmp = tempfile::tempdir().unwrap();
        let missing = format!("{}/absent/x", tmp.path().display());
        let e = Error::from(snapcell_sys::safefs::open_dir(&missing).unwrap_err());
        assert_eq!(
            e.to_string(),
            format!("cannot open directory {missing}: No such file or directory")
        );
        assert_eq!(e.errno(), Some(Errno::NOENT));
        let e = Error::from(snapcell_sys::safefs::mkdir_all("a/b", 0o755).unwrap_err());
        assert_eq!(e.to_string(), "a/b is not an absolute path");
        assert_eq!(e.errno(), None);
        let e = Error::from(snapcell_core::paths::components("/a/../b").unwrap_err());
        assert_eq!(e.to_string(), "/a/../b contains \"..\"");
    }

    #[test]
    fn mount_table_errors_read_like_snap_confine() {
        use snapcell_core::mountinfo::{MountInfoError, MountInfoLineError};
        use snapcell_sys::mountinfo::MountTableError;
        let e = Error::from(MountTableError::Read {
            path: "/proc/self/mountinfo",
            errno: Errno::IO,
        });
        assert_eq!(
            e.to_string(),
            "cannot read /proc/self/mountinfo: Input/output error"
        );
        assert_eq!(e.errno(), Some(Errno::IO));
        let e = Error::from(MountTableError::Parse(MountInfoLineError {
            line: 3,
            error: MountInfoError::FieldCount(2),
        }));
        assert_eq!(
            e.to_string(),
            "cannot parse /proc/self/mountinfo: line 3: incorrect number of fields, expected at least 10 but found 2"
        );
        assert_eq!(e.errno(), None);
    }
}
