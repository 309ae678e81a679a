//! The descriptor table: standard descriptors 0-2, the descriptors the
//! caller passed on purpose ([`InheritedFds`]) and close-on-exec marking of
//! everything else.

use std::collections::BTreeSet;
use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::{Errno, FdFlags};

use super::{HygieneError, path_err, syscall_err};

/// Make sure descriptors 0, 1 and 2 are open, opening `/dev/null` on the
/// closed ones, so that no file opened later becomes someone's stdout or
/// stderr. Call first thing in `main`. The new descriptors are not
/// close-on-exec: they are the application's standard streams.
pub fn ensure_standard_descriptors() -> Result<(), HygieneError> {
    for fd in 0..3 {
        if fd_is_open(fd) {
            continue;
        }
        // The lowest free number is `fd`: every lower one is open.
        let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
            .map_err(path_err("open", Path::new("/dev/null")))?;
        let got = null.into_raw_fd();
        if got != fd {
            return Err(HygieneError::StdFd { fd, got });
        }
    }
    Ok(())
}

fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table; an unused number
    // yields EBADF. No descriptor is created, closed or borrowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Descriptors ≥ 3 that were open when the process started: the ones the
/// caller passed on purpose. snapd passes them to the application (systemd
/// socket activation of snap services relies on it), so snapcell does too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InheritedFds(BTreeSet<RawFd>);

impl InheritedFds {
    /// List `/proc/self/fd`. Call at the start of `main`, before opening
    /// anything.
    pub fn snapshot() -> Result<Self, HygieneError> {
        let proc_fd = Path::new("/proc/self/fd");
        let mut fds = BTreeSet::new();
        let entries = std::fs::read_dir(proc_fd).map_err(|e| HygieneError::Path {
            what: "list",
            path: proc_fd.to_owned(),
            err: Errno::from_io_error(&e).unwrap_or(Errno::IO),
        })?;
        for entry in entries.flatten() {
            if let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<RawFd>().ok())
                && fd >= 3
            {
                fds.insert(fd);
            }
        }
        // The directory's own descriptor was listed too; it is closed now.
        fds.retain(|&fd| fd_is_open(fd));
        Ok(Self(fds))
    }

    /// An explicit set (for tests, or when the caller knows better).
    pub fn from_fds(fds: impl IntoIterator<Item = RawFd>) -> Self {
        Self(fds.into_iter().filter(|&fd| fd >= 3).collect())
    }

    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.0.iter().copied()
    }

    /// Mark every descriptor ≥ 3 that is not in the set close-on-exec,
    /// whether we opened it with `O_CLOEXEC` or not. Nothing is closed now
    /// (closing could invalidate descriptors owned by live values), and 0, 1,
    /// 2 and the inherited ones are left as they are.
    pub fn seal_others(&self) -> Result<(), HygieneError> {
        let mut start: u32 = 3;
        for &fd in &self.0 {
            let fd = fd as u32;
            if fd > start {
                mark_cloexec_range(start, fd - 1)?;
            }
            start = fd + 1;
        }
        mark_cloexec_range(start, u32::MAX)
    }
}

/// `close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`: every descriptor from
/// `first` on becomes close-on-exec. The blunt alternative to
/// [`InheritedFds::seal_others`] (drops intentionally passed descriptors).
pub fn mark_cloexec_from(first: u32) -> Result<(), HygieneError> {
    mark_cloexec_range(first, u32::MAX)
}

fn mark_cloexec_range(first: u32, last: u32) -> Result<(), HygieneError> {
    if first > last {
        return Ok(());
    }
    // SAFETY: with CLOSE_RANGE_CLOEXEC, close_range closes nothing; it only
    // sets FD_CLOEXEC on open descriptors in the range, which invalidates no
    // descriptor any value owns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            last as libc::c_uint,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO);
    if err != Errno::NOSYS && err != Errno::INVAL {
        return Err(HygieneError::Syscall {
            what: "mark descriptors close-on-exec",
            err,
        });
    }
    // Kernels before 5.11: walk /proc/self/fd.
    let listed = InheritedFds::snapshot()?;
    for fd in listed
        .fds()
        .filter(|&fd| fd as u32 >= first && fd as u32 <= last)
    {
        // SAFETY: `fd` was listed as open a moment ago, this process is
        // single-threaded and nothing closes it during this call; the borrow
        // does not outlive the statement.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let flags =
            rustix::io::fcntl_getfd(borrowed).map_err(syscall_err("read descriptor flags"))?;
        rustix::io::fcntl_setfd(borrowed, flags | FdFlags::CLOEXEC)
            .map_err(syscall_err("mark descriptors close-on-exec"))?;
    }
    Ok(())
}
