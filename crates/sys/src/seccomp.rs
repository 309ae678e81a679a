//! Loading snapd's compiled seccomp profiles (spec §6.7).
//!
//! snapd compiles every security tag's seccomp profile ahead of time, and
//! snap-confine only reads the result and hands it to the kernel. The file
//! formats (`TAG.bin2`, legacy `TAG.bin`) and their parsers are in
//! [`snapcell_core::seccomp::bin2`]; this module finds and reads the files
//! (trusted paths only, bounded reads) and installs the filters
//! ([`Install`], or several profiles as one composed filter:
//! [`install_stack`]).
//!
//! [`load_profile`] prefers `TAG.bin2` and falls back to `TAG.bin` only when
//! `TAG.bin2` does not exist; a `TAG.bin2` that exists but is unusable is an
//! error, never a reason to look further. Every problem is an error that
//! names the file and the reason: a profile that cannot be loaded never
//! becomes an unconfined start.
//!
//! # Privileges and `no_new_privs`
//!
//! The kernel accepts a filter from a process that has `no_new_privs` set
//! *or* holds `CAP_SYS_ADMIN` in its effective set. This module never sets
//! `no_new_privs` itself. snap-confine sets it for strict snaps on kernels
//! without AppArmor (see `snapcell_confine::confinement`); where it does not
//! (classic snaps, AppArmor hosts; snapd never sets it: it would break
//! setuid programs and, under AppArmor, exec transitions inside the snap),
//! [`Install::install`] must run while the caller still holds
//! `CAP_SYS_ADMIN`: either as euid 0
//! (a root caller) or, after a setuid caller has permanently become the real
//! user, with the capability kept across the uid change
//! ([`crate::creds::drop_privileges`] with
//! [`KeepCapability::SysAdmin`](crate::creds::KeepCapability::SysAdmin)) and
//! cleared right after loading. Without either, loading fails with `EACCES`
//! and the error says so.
//!
//! Filters apply to the calling thread and are inherited by its children and
//! across `execve`; call [`Install::install`] while the process is
//! single-threaded (snap-confine always is).

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;
use rustix::io::Errno;
use snapcell_core::paths::{self, PathError};
use snapcell_core::seccomp::bin2::{
    HEADER_SIZE, Malformation, MalformedProfile, parse_bin2, parse_legacy_bin,
};
use snapcell_core::seccomp::bpf::{BpfProgram, MAX_BPF_SIZE, SockFilter};
use snapcell_core::seccomp::compose::compose;
use snapcell_core::seccomp::{FilterRole, SeccompProgram};

use crate::safefs::{self, Trust};

/// The name of 2.57's global profile (the TIOCSTI filter), loaded after a
/// restricted per-tag `.bin` profile; see [`load_global_profile`].
pub const LEGACY_GLOBAL_PROFILE: &str = "global.bin";

// The kernel reads `SockFilter`s as `struct sock_filter`s (see `install_filter`).
const _: () =
    assert!(std::mem::size_of::<SockFilter>() == std::mem::size_of::<libc::sock_filter>());
const _: () =
    assert!(std::mem::align_of::<SockFilter>() == std::mem::align_of::<libc::sock_filter>());

/// Why a profile cannot be loaded or installed. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("cannot find seccomp profile for {tag}: neither {} nor {} exists", .bin2.display(), .bin.display())]
    Missing {
        tag: String,
        bin2: PathBuf,
        bin: PathBuf,
    },
    #[error("cannot use {tag:?} as a seccomp profile name")]
    BadTag { tag: String },
    #[error("cannot use seccomp profile directory {}: {reason}", .path.display())]
    BadDirectory { path: PathBuf, reason: &'static str },
    #[error("cannot open {}: {err}", .path.display())]
    Open { path: PathBuf, err: Errno },
    #[error("cannot read {}: {err}", .path.display())]
    Read { path: PathBuf, err: Errno },
    /// A path component or the file itself fails snapd's
    /// `validate_bpfpath_is_safe` (root-owned, not writable by group or
    /// others) or is a symbolic link or not a regular file.
    #[error("cannot trust seccomp profile path {}: {reason}", .path.display())]
    Unsafe { path: PathBuf, reason: String },
    /// A [`MalformedProfile`] (same text), or a file too big to read.
    #[error("cannot load seccomp profile {}: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: Malformation },
    #[error(
        "cannot apply {role} seccomp filter from {}: seccomp(2): {seccomp}, prctl(2): {prctl}{}",
        .path.display(),
        if *.seccomp == Errno::ACCESS { " (loading needs CAP_SYS_ADMIN or no_new_privs)" } else { "" }
    )]
    Install {
        path: PathBuf,
        role: FilterRole,
        seccomp: Errno,
        prctl: Errno,
    },
}

impl From<MalformedProfile> for SeccompError {
    fn from(e: MalformedProfile) -> Self {
        SeccompError::Malformed {
            path: e.path,
            reason: e.reason,
        }
    }
}

/// Installing a [`SeccompProgram`] into the kernel.
pub trait Install {
    /// Load every filter into the kernel, in order (deny before allow), each
    /// through `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG)`,
    /// falling back to `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)` when that
    /// fails (older kernels lack the syscall or the flag). An unrestricted
    /// profile loads nothing.
    ///
    /// Needs `CAP_SYS_ADMIN` in the effective set (root, or kept across the
    /// privilege drop) or `no_new_privs`; see the module documentation. An
    /// error after the first filter leaves the earlier ones in force (they
    /// cannot be removed): the caller must not go on to exec.
    fn install(&self) -> Result<(), SeccompError>;
}

impl Install for SeccompProgram {
    fn install(&self) -> Result<(), SeccompError> {
        for (role, filter) in self.filters() {
            install_filter(filter).map_err(|(seccomp, prctl)| SeccompError::Install {
                path: self.path().to_owned(),
                role: *role,
                seccomp,
                prctl,
            })?;
        }
        Ok(())
    }
}

/// How [`install_stack`] loaded its filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackLoad {
    /// Nothing to load (every profile unrestricted).
    Nothing,
    /// As one filter of this many instructions
    /// ([`snapcell_core::seccomp::compose`]).
    Composed { instructions: usize },
    /// One filter each ([`compose`](snapcell_core::seccomp::compose::compose)
    /// refused: a program the kernel would refuse, scratch memory all used,
    /// or more than `BPF_MAXINSNS` together).
    Separate { filters: usize },
}

/// Install the filters of several profiles, in order (the first profile's
/// first filter is the oldest), as one composed filter deciding exactly as
/// the stack would; when composition refuses, each filter on its own, as
/// [`Install::install`] does. The kernel's fixed cost per filter run is
/// then paid once per system call instead of once per filter. Unrestricted
/// profiles contribute nothing. Errors of the composed load name the last
/// restricted profile's file and the role `composed`.
pub fn install_stack(programs: &[&SeccompProgram]) -> Result<StackLoad, SeccompError> {
    let restricted: Vec<&SeccompProgram> = programs
        .iter()
        .copied()
        .filter(|p| !p.is_unrestricted())
        .collect();
    let filters: Vec<&BpfProgram> = restricted
        .iter()
        .flat_map(|p| p.filters().iter().map(|(_, f)| f))
        .collect();
    let Some(last) = restricted.last() else {
        return Ok(StackLoad::Nothing);
    };
    if filters.len() > 1
        && let Some(one) = compose(&filters)
    {
        install_filter(&one).map_err(|(seccomp, prctl)| SeccompError::Install {
            path: last.path().to_owned(),
            role: FilterRole::Builtin("composed"),
            seccomp,
            prctl,
        })?;
        return Ok(StackLoad::Composed {
            instructions: one.instructions().len(),
        });
    }
    for p in &restricted {
        p.install()?;
    }
    Ok(StackLoad::Separate {
        filters: filters.len(),
    })
}

fn install_filter(prog: &BpfProgram) -> Result<(), (Errno, Errno)> {
    let insns = prog.instructions();
    let fprog = libc::sock_fprog {
        // BpfProgram holds at most 4096 instructions.
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points at `insns.len()` instructions owned by `prog`,
    // which outlives the call; `SockFilter` is `repr(C)` with the layout of
    // `struct sock_filter` (asserted above). The kernel only reads (copies)
    // the program. The call changes no memory of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_LOG,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let seccomp_err =
        Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    // SAFETY: as above; `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog)`
    // reads the same `sock_fprog`.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let prctl_err =
        Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    Err((seccomp_err, prctl_err))
}

fn errno_of(err: &std::io::Error) -> Errno {
    Errno::from_io_error(err).unwrap_or(Errno::IO)
}

/// A failed step of the trusted walk, in this module's words.
/// `inspect_is_read`: a failed `fstat` is a read error (of a profile file)
/// rather than an open error (of a directory).
fn untrusted(err: safefs::Error, inspect_is_read: bool) -> SeccompError {
    use safefs::{Distrust, Obstacle, Op};
    let unsafe_path = |path, reason: String| SeccompError::Unsafe { path, reason };
    match err {
        safefs::Error::Path(PathError::NotAbsolute(path)) => SeccompError::BadDirectory {
            path: path.into(),
            reason: "not an absolute path",
        },
        safefs::Error::Path(PathError::DotDot(path)) => SeccompError::BadDirectory {
            path: path.into(),
            reason: "contains . or .. components",
        },
        safefs::Error::Sys {
            path,
            obstacle: Some(Obstacle::Symlink),
            ..
        } => unsafe_path(path, "is a symbolic link".into()),
        safefs::Error::Sys {
            path,
            obstacle: Some(Obstacle::NotDirectory),
            ..
        } => unsafe_path(path, "is not a directory".into()),
        safefs::Error::Sys {
            op: Op::Inspect,
            path,
            errno,
            ..
        } if inspect_is_read => SeccompError::Read { path, err: errno },
        safefs::Error::Sys { path, errno, .. } => SeccompError::Open { path, err: errno },
        safefs::Error::NotRegularFile { path } => unsafe_path(path, "not a regular file".into()),
        safefs::Error::Untrusted {
            path,
            uid,
            gid,
            why: Distrust::Owner,
            ..
        } => unsafe_path(path, format!("not owned by root:root but {uid}:{gid}")),
        safefs::Error::Untrusted {
            path,
            mode,
            why: Distrust::Writable,
            ..
        } => unsafe_path(
            path,
            format!("writable by group or others (mode {mode:04o})"),
        ),
        safefs::Error::NotDirectory { path } => unsafe_path(path, "is not a directory".into()),
        // Not said by a trusted walk (only by `safefs::verify_dir`).
        safefs::Error::WrongOwner { ref path, .. } | safefs::Error::WrongMode { ref path, .. } => {
            unsafe_path(path.clone(), err.to_string())
        }
    }
}

/// Open `dir` one component at a time from `/` without following symbolic
/// links, checking every directory (snapd's `validate_bpfpath_is_safe`):
/// owned by root:root, not writable by group or others.
fn open_trusted_dir(dir: &Path) -> Result<OwnedFd, SeccompError> {
    safefs::open_trusted_dir(dir, OFlags::PATH, Trust::RootStrict).map_err(|e| untrusted(e, false))
}

/// Open `name` in the trusted directory: no symlink, a regular file, root
/// owned, not group/world-writable. `Ok(None)` if it does not exist.
fn open_trusted_file(
    dir_fd: &OwnedFd,
    dir: &Path,
    name: &str,
) -> Result<Option<(PathBuf, OwnedFd)>, SeccompError> {
    let path = dir.join(name);
    match safefs::open_trusted_file(
        dir_fd.as_fd(),
        name,
        &path,
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK,
        Trust::RootStrict,
    ) {
        Ok(fd) => Ok(Some((path, fd))),
        Err(safefs::Error::Sys {
            op: safefs::Op::Open,
            errno: Errno::NOENT,
            ..
        }) => Ok(None),
        Err(e) => Err(untrusted(e, true)),
    }
}

/// Read at most `limit` bytes; more is an error.
fn read_bounded(path: &Path, fd: OwnedFd, limit: usize) -> Result<Vec<u8>, SeccompError> {
    let mut buf = Vec::with_capacity(limit.min(64 * 1024) + 1);
    std::fs::File::from(fd)
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| SeccompError::Read {
            path: path.to_owned(),
            err: errno_of(&e),
        })?;
    if buf.len() > limit {
        return Err(SeccompError::Malformed {
            path: path.to_owned(),
            reason: Malformation::TooBig { limit },
        });
    }
    Ok(buf)
}

/// A tag names files in the profile directory: it must be one plain name.
fn check_tag(tag: &str) -> Result<(), SeccompError> {
    if !paths::is_name(tag) {
        return Err(SeccompError::BadTag {
            tag: tag.to_owned(),
        });
    }
    Ok(())
}

/// Find, read and validate the profile of `tag` in `dir`
/// (`snapcell_core::dirs::SECCOMP_DIR` in production): `dir/TAG.bin2`, or, only if that
/// does not exist, `dir/TAG.bin`. No syscalls beyond opening and reading.
///
/// `dir` must be absolute; it and every directory above it must be owned by
/// root:root and not writable by group or others, and none may be a
/// symbolic link; the same holds for the file, which must be a regular file.
pub fn load_profile(dir: &Path, tag: &str) -> Result<SeccompProgram, SeccompError> {
    check_tag(tag)?;
    let bin2 = format!("{tag}.bin2");
    let bin = format!("{tag}.bin");
    let missing = || SeccompError::Missing {
        tag: tag.to_owned(),
        bin2: dir.join(&bin2),
        bin: dir.join(&bin),
    };
    let dir_fd = match open_trusted_dir(dir) {
        Err(SeccompError::Open {
            err: Errno::NOENT, ..
        }) => return Err(missing()),
        other => other?,
    };
    if let Some((path, fd)) = open_trusted_file(&dir_fd, dir, &bin2)? {
        let bytes = read_bounded(&path, fd, HEADER_SIZE + 2 * MAX_BPF_SIZE)?;
        return Ok(parse_bin2(&path, &bytes)?);
    }
    if let Some((path, fd)) = open_trusted_file(&dir_fd, dir, &bin)? {
        let bytes = read_bounded(&path, fd, MAX_BPF_SIZE)?;
        return Ok(parse_legacy_bin(&path, &bytes)?);
    }
    Err(missing())
}

/// [`load_profile`], waiting up to `max_wait` for the profile to appear
/// (snapd waits for profiles that a booting snapd has not written yet;
/// `SNAP_CONFINE_MAX_PROFILE_WAIT`, default 120 s). Polls once a second;
/// only a missing profile is waited for, any other error is returned at once.
pub fn load_profile_waiting(
    dir: &Path,
    tag: &str,
    max_wait: Duration,
) -> Result<SeccompProgram, SeccompError> {
    load_profile_waiting_notify(dir, tag, max_wait, |_| {})
}

/// What [`load_profile_waiting_notify`] tells its caller once the profile
/// has been missing for a second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileWait {
    /// The file looked for first (`DIR/TAG.bin2`).
    pub bin2: PathBuf,
    /// The legacy file looked for when that is absent (`DIR/TAG.bin`).
    pub bin: PathBuf,
    /// How long it has waited so far.
    pub waited: Duration,
    /// How long it waits at most, from the start.
    pub max_wait: Duration,
}

/// How long a profile may be missing before [`load_profile_waiting_notify`]
/// says so.
pub const PROFILE_WAIT_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// [`load_profile_waiting`], calling `notice` once (not once a poll) when
/// the profile is still missing [`PROFILE_WAIT_NOTICE_AFTER`] after the
/// start and the wait goes on, so that a launcher can say what it is
/// waiting for instead of hanging silently.
pub fn load_profile_waiting_notify(
    dir: &Path,
    tag: &str,
    max_wait: Duration,
    notice: impl FnOnce(&ProfileWait),
) -> Result<SeccompProgram, SeccompError> {
    let start = Instant::now();
    let deadline = start + max_wait;
    let mut notice = Some(notice);
    loop {
        match load_profile(dir, tag) {
            Err(SeccompError::Missing { bin2, bin, .. }) if Instant::now() < deadline => {
                let waited = start.elapsed();
                if waited >= PROFILE_WAIT_NOTICE_AFTER
                    && let Some(notice) = notice.take()
                {
                    notice(&ProfileWait {
                        bin2,
                        bin,
                        waited,
                        max_wait,
                    });
                }
                // Poll once a second, and once right after the notice
                // threshold so that the notice comes after one second.
                let left = deadline.saturating_duration_since(Instant::now());
                let step = match PROFILE_WAIT_NOTICE_AFTER.checked_sub(waited) {
                    Some(to_notice) if !to_notice.is_zero() => to_notice,
                    _ => Duration::from_secs(1),
                };
                std::thread::sleep(left.min(step));
            }
            other => return other,
        }
    }
}

/// snapd 2.57's global profile `dir/global.bin` (a raw program, loaded after
/// a restricted legacy per-tag profile). `Ok(None)` if absent. Current snapd
/// folds its content (the TIOCSTI/TIOCLINUX rules) into every `.bin2` and no
/// longer writes it; [`crate::hygiene::tty::harden_tty`] covers the same ground.
pub fn load_global_profile(dir: &Path) -> Result<Option<SeccompProgram>, SeccompError> {
    let dir_fd = open_trusted_dir(dir)?;
    match open_trusted_file(&dir_fd, dir, LEGACY_GLOBAL_PROFILE)? {
        None => Ok(None),
        Some((path, fd)) => {
            let bytes = read_bounded(&path, fd, MAX_BPF_SIZE)?;
            Ok(Some(parse_legacy_bin(&path, &bytes)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(
                matches!(check_tag(bad), Err(SeccompError::BadTag { .. })),
                "{bad:?}"
            );
        }
        check_tag("snap.hello.hello").unwrap();
    }
}
