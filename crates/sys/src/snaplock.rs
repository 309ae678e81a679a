//! snapd's locks: `/run/snapd/lock/INSTANCE.lock` serialises everything
//! done to one snap's namespace (inspect, discard, construct, update,
//! preserve); `/run/snapd/lock/.lock` serialises setting up `/run/snapd/ns`.
//!
//! Lock order: the global lock is never held while taking a snap lock (a
//! launch that builds a namespace takes the global lock while it holds the
//! snap lock, never the other way round; snapd's snap-confine takes and
//! releases the global lock before the snap lock).
//! The lock files are opened `O_NOFOLLOW|O_CLOEXEC` (a lock descriptor
//! leaked into the app would keep the snap locked), created 0600 and owned
//! by root.
//!
//! Used by snap-confine, snap-discard-ns and snap-update-ns; the messages
//! are snap-confine's.

use std::fmt;
use std::fs::{File, TryLockError};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, fchown, openat, openat2};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use snapcell_core::dirs::{GLOBAL_LOCK, LOCK_DIR, lock_name};

use crate::errno::strerror;
use crate::flock::lock_exclusive;
use crate::safefs::mkdir_all;

/// How long to wait for a lock before giving up (snapd's sanity timeout).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// A held lock; dropping it unlocks.
#[derive(Debug)]
pub struct Lock {
    file: File,
    name: String,
}

impl Lock {
    /// Release the lock now. `flock(LOCK_UN)` releases it for the open file
    /// description even if a forked process still holds a copy of the
    /// descriptor.
    pub fn unlock(self) {
        let _ = self.file.unlock();
    }

    /// What is locked (`snap hello`, `global`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Why a lock could not be taken or checked: what failed and, for a
/// failed system call, its errno (`WHAT: strerror(errno)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    what: String,
    errno: Option<Errno>,
}

impl LockError {
    fn new(what: String) -> LockError {
        LockError { what, errno: None }
    }

    fn sys(what: String, errno: Errno) -> LockError {
        LockError {
            what,
            errno: Some(errno),
        }
    }

    /// What failed (the message without the errno's text).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The errno of the failed system call, if that is what failed.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(errno) => write!(f, "{}: {}", self.what, strerror(errno)),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for LockError {}

/// Attach "what" to an errno result.
trait OrDie<T> {
    fn or_die(self, what: impl FnOnce() -> String) -> Result<T, LockError>;
}

impl<T> OrDie<T> for Result<T, Errno> {
    fn or_die(self, what: impl FnOnce() -> String) -> Result<T, LockError> {
        self.map_err(|errno| LockError::sys(what(), errno))
    }
}

/// Make the missing directories of `LOCK_DIR` (0755, root's) and open it,
/// walking from `/` without following symbolic links; existing directories
/// are walked, never changed.
fn open_lock_dir() -> Result<OwnedFd, LockError> {
    mkdir_all(LOCK_DIR, 0o755).map_err(|e| match e.failed_call() {
        Some((what, errno)) => LockError::sys(what.to_string(), errno),
        None => LockError::new(e.to_string()),
    })
}

const LOCK_FILE_FLAGS: OFlags = OFlags::CREATE
    .union(OFlags::RDWR)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

fn open_lock_file(file_name: &str) -> Result<File, LockError> {
    // Every launch takes a snap lock: where the lock directory exists (all
    // but the first launch after boot), one openat2 that refuses symbolic
    // links in every component opens the file, as the walk below would,
    // in one system call instead of ten. Anything else (a directory
    // missing, a symbolic link, an older kernel) takes the walk, which
    // makes what is missing and reports errors in snap-confine's words.
    let fd = match openat2(
        CWD,
        format!("{LOCK_DIR}/{file_name}"),
        LOCK_FILE_FLAGS,
        Mode::from_raw_mode(0o600),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(_) => {
            let dir = open_lock_dir()?;
            openat(&dir, file_name, LOCK_FILE_FLAGS, Mode::from_raw_mode(0o600))
                .or_die(|| format!("cannot open lock file {LOCK_DIR}/{file_name}"))?
        }
    };
    fchown(&fd, Some(Uid::ROOT), Some(Gid::ROOT))
        .or_die(|| format!("cannot chown lock file {LOCK_DIR}/{file_name}"))?;
    Ok(File::from(fd))
}

fn lock_file(file_name: &str, name: String) -> Result<Lock, LockError> {
    let file = open_lock_file(file_name)?;
    crate::debug!("acquiring lock {LOCK_DIR}/{file_name}");
    // Blocks until the holder lets go (no polling), up to the timeout.
    match lock_exclusive(file.as_fd(), LOCK_TIMEOUT) {
        Ok(true) => Ok(Lock { file, name }),
        Ok(false) => Err(LockError::new(format!(
            "cannot lock {LOCK_DIR}/{file_name}: timed out after {} seconds",
            LOCK_TIMEOUT.as_secs()
        ))),
        Err(err) => Err(LockError::sys(
            format!("cannot lock {LOCK_DIR}/{file_name}"),
            err,
        )),
    }
}

/// Take the lock of snap `instance`.
pub fn lock_snap(instance: &str) -> Result<Lock, LockError> {
    lock_file(&lock_name(instance), format!("snap {instance}"))
}

/// Take the global lock.
pub fn lock_global() -> Result<Lock, LockError> {
    lock_file(GLOBAL_LOCK, "global".to_owned())
}

/// Check that someone (the calling snap-confine) holds the lock of snap
/// `instance` (snap-discard-ns --from-snap-confine).
pub fn verify_snap_locked(instance: &str) -> Result<(), LockError> {
    let file_name = lock_name(instance);
    let file = open_lock_file(&file_name)?;
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => Ok(()),
        Ok(()) => {
            let _ = file.unlock();
            Err(LockError::new(format!(
                "unexpectedly managed to acquire the lock of snap {instance}"
            )))
        }
        Err(TryLockError::Error(err)) => Err(LockError::sys(
            format!("cannot check lock {LOCK_DIR}/{file_name}"),
            Errno::from_io_error(&err).unwrap_or(Errno::IO),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_snap_confines() {
        let e = LockError::sys(
            "cannot lock /run/snapd/lock/x.lock".to_owned(),
            Errno::ACCESS,
        );
        assert_eq!(
            e.to_string(),
            "cannot lock /run/snapd/lock/x.lock: Permission denied"
        );
        assert_eq!(e.what(), "cannot lock /run/snapd/lock/x.lock");
        assert_eq!(e.errno(), Some(Errno::ACCESS));
        let e = LockError::new("unexpectedly managed to acquire the lock of snap x".to_owned());
        assert_eq!(
            e.to_string(),
            "unexpectedly managed to acquire the lock of snap x"
        );
        assert_eq!(e.errno(), None);
    }
}
