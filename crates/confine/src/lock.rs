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

use std::fs::{File, TryLockError};
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::fs::{Mode, OFlags, fchown, openat};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use snapcell_sys::flock::lock_exclusive;
use snapcell_sys::safefs::mkdir_all;

use crate::error::{Error, Result, SysContext};
use crate::paths::{GLOBAL_LOCK, LOCK_DIR};

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

fn open_lock_file(file_name: &str) -> Result<File> {
    let dir = mkdir_all(LOCK_DIR, 0o755)?;
    let fd = openat(
        &dir,
        file_name,
        OFlags::CREATE | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .or_die(|| format!("cannot open lock file {LOCK_DIR}/{file_name}"))?;
    fchown(&fd, Some(Uid::ROOT), Some(Gid::ROOT))
        .or_die(|| format!("cannot chown lock file {LOCK_DIR}/{file_name}"))?;
    Ok(File::from(fd))
}

fn lock_file(file_name: &str, name: String) -> Result<Lock> {
    let file = open_lock_file(file_name)?;
    crate::debug!("acquiring lock {LOCK_DIR}/{file_name}");
    // Blocks until the holder lets go (no polling), up to the timeout.
    match lock_exclusive(file.as_fd(), LOCK_TIMEOUT) {
        Ok(true) => Ok(Lock { file, name }),
        Ok(false) => Err(Error::new(format!(
            "cannot lock {LOCK_DIR}/{file_name}: timed out after {} seconds",
            LOCK_TIMEOUT.as_secs()
        ))),
        Err(err) => Err(Error::sys(
            format!("cannot lock {LOCK_DIR}/{file_name}"),
            err,
        )),
    }
}

/// Take the lock of snap `instance`.
pub fn lock_snap(instance: &str) -> Result<Lock> {
    lock_file(&format!("{instance}.lock"), format!("snap {instance}"))
}

/// Take the global lock.
pub fn lock_global() -> Result<Lock> {
    lock_file(GLOBAL_LOCK, "global".to_owned())
}

/// Check that someone (the calling snap-confine) holds the lock of snap
/// `instance` (snap-discard-ns --from-snap-confine).
pub fn verify_snap_locked(instance: &str) -> Result<()> {
    let file_name = format!("{instance}.lock");
    let file = open_lock_file(&file_name)?;
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => Ok(()),
        Ok(()) => {
            let _ = file.unlock();
            Err(Error::new(format!(
                "unexpectedly managed to acquire the lock of snap {instance}"
            )))
        }
        Err(TryLockError::Error(err)) => Err(Error::sys(
            format!("cannot check lock {LOCK_DIR}/{file_name}"),
            Errno::from_io_error(&err).unwrap_or(Errno::IO),
        )),
    }
}
