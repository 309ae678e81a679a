//! Process hygiene for the setuid launcher (security.md §6.5, §6.6; spec
//! §6.3 steps 1 and 8, §6.4 step 11, §7.1).
//!
//! In the order snap-confine uses them:
//!
//! * at the very start: [`fds::ensure_standard_descriptors`],
//!   [`is_secure_execution`], [`set_dumpable`]`(false)`,
//!   [`fds::InheritedFds::snapshot`] and [`cwd::ProcessState::capture`]
//!   (umask 0, remember the cwd as an `O_PATH` descriptor, `chdir("/")`);
//! * while still root, inside the new mount namespace:
//!   [`cwd::ensure_void_dir`];
//! * after the privilege drop, while `CAP_SYS_ADMIN` is still held:
//!   [`tty::harden_tty`] next to the seccomp profile;
//! * just before exec: [`cwd::ProcessState::restore`] (umask, then the cwd,
//!   re-resolved as the real user), [`env::confined_env`] for the
//!   environment and [`fds::InheritedFds::seal_others`] so that nothing
//!   snap-confine opened leaks into the application while descriptors the
//!   caller passed on purpose (systemd socket activation, `3<file`) still
//!   reach it.
//!
//! This module holds what every step shares (the error type) and the two
//! one-call steps, secure execution and the dumpable flag. `tty_probe`, the
//! injection attempts that test [`tty::harden_tty`], is test code: it exists
//! only with the `testing` feature, which only test targets enable.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

use crate::seccomp::SeccompError;

pub mod cwd;
pub mod env;
pub mod fds;
pub mod tty;
#[cfg(feature = "testing")]
pub mod tty_probe;

/// Why a hygiene step failed. Every failure is fatal for snap-confine.
#[derive(Debug, thiserror::Error)]
pub enum HygieneError {
    #[error("cannot {what}: {err}")]
    Syscall { what: &'static str, err: Errno },
    #[error("cannot {what} {}: {err}", .path.display())]
    Path {
        what: &'static str,
        path: PathBuf,
        err: Errno,
    },
    #[error("cannot make descriptor {fd} refer to /dev/null (got {got})")]
    StdFd { fd: RawFd, got: RawFd },
    #[error("cannot build the terminal injection filter for this architecture")]
    UnsupportedArch,
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
}

fn syscall_err(what: &'static str) -> impl FnOnce(Errno) -> HygieneError {
    move |err| HygieneError::Syscall { what, err }
}

fn path_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> HygieneError + 'a {
    move |err| HygieneError::Path {
        what,
        path: path.to_owned(),
        err,
    }
}

/// `getauxval(AT_SECURE)`: the kernel started us with changed credentials
/// (setuid/setgid bit or file capabilities, or an LSM asked for it). When
/// true, every environment variable and inherited resource is hostile, and
/// glibc's loader has already removed its list of unsafe variables (see
/// [`UNSAFE_ENV_VARS`](snapcell_core::saved_env::UNSAFE_ENV_VARS)).
pub fn is_secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector saved at start-up.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// `prctl(PR_SET_DUMPABLE)`. A launcher holding privileges must stay
/// non-dumpable (no ptrace, no core dump, `/proc/PID/*` root-owned) and
/// re-assert it after every credential change; the kernel resets the flag to
/// `fs.suid_dumpable` whenever effective ids change.
pub fn set_dumpable(dumpable: bool) -> Result<(), HygieneError> {
    use rustix::process::DumpableBehavior;
    let b = if dumpable {
        DumpableBehavior::Dumpable
    } else {
        DumpableBehavior::NotDumpable
    };
    rustix::process::set_dumpable_behavior(b).map_err(syscall_err("set the dumpable flag"))
}
