//! Process hygiene for the setuid launcher (security.md §6.5, §6.6; spec
//! §6.3 steps 1 and 8, §6.4 step 11, §7.1).
//!
//! In the order snap-confine uses them:
//!
//! * at the very start: [`ensure_standard_descriptors`],
//!   [`is_secure_execution`], [`set_dumpable`]`(false)`,
//!   [`InheritedFds::snapshot`] and [`ProcessState::capture`] (umask 0,
//!   remember the cwd as an `O_PATH` descriptor, `chdir("/")`);
//! * while still root, inside the new mount namespace: [`ensure_void_dir`];
//! * after the privilege drop, while `CAP_SYS_ADMIN` is still held:
//!   [`harden_tty`] next to the seccomp profile;
//! * just before exec: [`ProcessState::restore`] (umask, then the cwd,
//!   re-resolved as the real user), [`confined_env`] for the environment and
//!   [`InheritedFds::seal_others`] so that nothing snap-confine opened leaks
//!   into the application while descriptors the caller passed on purpose
//!   (systemd socket activation, `3<file`) still reach it.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::{Errno, FdFlags};

use snapcell_core::seccomp::bpf::{self, BpfProgram, SockFilter};
use snapcell_core::seccomp::{FilterRole, SeccompProgram};

use crate::seccomp::{Install, SeccompError};

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

// ---------------------------------------------------------------------------
// Secure execution, dumpable

/// `getauxval(AT_SECURE)`: the kernel started us with changed credentials
/// (setuid/setgid bit or file capabilities, or an LSM asked for it). When
/// true, every environment variable and inherited resource is hostile, and
/// glibc's loader has already removed its list of unsafe variables (see
/// [`UNSAFE_ENV_VARS`]).
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

// ---------------------------------------------------------------------------
// Descriptors

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

// ---------------------------------------------------------------------------
// Environment

/// Prefix under which variables the loader would strip are carried through
/// snap-confine (spec §7.1).
pub const SAVED_PREFIX: &str = "SNAP_SAVED_";

/// Variables escaped with [`SAVED_PREFIX`]: snapd's `unsafeEnv` (glibc's
/// `UNSECURE_ENVVARS` from `sysdeps/generic/unsecvars.h`, which ld.so and the
/// static start-up code remove from the environment of a secure-execution
/// process), plus `MALLOC_CHECK_`, which glibc's tunables code also erases in
/// secure mode (tunable security level `SXID_ERASE`). The other `MALLOC_*`
/// tunable aliases are `SXID_IGNORE`: ignored by the setuid process itself
/// but left in the environment, so they reach the application unescaped.
/// Escaping a superset is harmless (snap-exec restores any prefixed name).
pub const UNSAFE_ENV_VARS: &[&str] = &[
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LD_AUDIT",
    "LD_DEBUG",
    "LD_DEBUG_OUTPUT",
    "LD_DYNAMIC_WEAK",
    "LD_HWCAP_MASK",
    "LD_LIBRARY_PATH",
    "LD_ORIGIN_PATH",
    "LD_PRELOAD",
    "LD_PROFILE",
    "LD_SHOW_AUXV",
    "LD_USE_LOAD_BIAS",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_CHECK_",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// `PATH` for strict and devmode snaps (spec §6.4 step 11): the base snap's
/// layout, not the host's.
pub const STRICT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games";

/// An environment as name/value pairs, in order.
pub type Env = Vec<(OsString, OsString)>;

/// Whether `name` is one of [`UNSAFE_ENV_VARS`].
pub fn is_unsafe_env_var(name: &OsStr) -> bool {
    UNSAFE_ENV_VARS.iter().any(|v| OsStr::new(v) == name)
}

fn saved_name(name: &OsStr) -> OsString {
    let mut s = OsString::from(SAVED_PREFIX);
    s.push(name);
    s
}

fn strip_saved(name: &OsStr) -> Option<&OsStr> {
    name.as_bytes()
        .strip_prefix(SAVED_PREFIX.as_bytes())
        .map(OsStr::from_bytes)
}

/// What `snap run` does before exec'ing snap-confine (snapd's
/// `Environment.ForExecEscapeUnsafe("SNAP_SAVED_")`): variables already
/// carrying the prefix are dropped ("they would be mishandled down the
/// chain"), [`UNSAFE_ENV_VARS`] are renamed to `SNAP_SAVED_NAME`, and the
/// result is sorted by final name. Duplicate names keep the first value.
pub fn escape_unsafe_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let mut out: std::collections::BTreeMap<OsString, OsString> = Default::default();
    for (k, v) in env {
        if strip_saved(&k).is_some() {
            continue;
        }
        let k = if is_unsafe_env_var(&k) {
            saved_name(&k)
        } else {
            k
        };
        out.entry(k).or_insert(v);
    }
    out.into_iter().collect()
}

/// What snap-exec does with its incoming environment (snapd's
/// `OSEnvironmentUnescapeUnsafe("SNAP_SAVED_")`): `SNAP_SAVED_NAME=v` becomes
/// `NAME=v`, unless `NAME` is already set (that value is newer, e.g.
/// `TMPDIR=/tmp` set by snap-confine, and wins). Order is kept; duplicate
/// names keep the first value.
pub fn unescape_unsafe_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let env = dedup(env);
    let plain: BTreeSet<OsString> = env
        .iter()
        .filter(|(k, _)| strip_saved(k).is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Env::with_capacity(env.len());
    let mut seen = BTreeSet::new();
    for (k, v) in env {
        match strip_saved(&k) {
            None => {
                seen.insert(k.clone());
                out.push((k, v));
            }
            Some(name) if name.is_empty() || plain.contains(name) || seen.contains(name) => {}
            Some(name) => {
                seen.insert(name.to_owned());
                out.push((name.to_owned(), v));
            }
        }
    }
    out
}

fn dedup(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let mut seen = BTreeSet::new();
    env.into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

/// How the application is confined, for [`confined_env`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvConfinement {
    /// Strict or devmode: PATH, TMPDIR and TEMPDIR are reset (§6.4 step 11).
    Strict,
    /// Classic: the host's values stay.
    Classic,
}

/// The environment snap-confine passes to the executable, given the one it
/// received (`std::env::vars_os()`):
///
/// * `SNAP_SAVED_*` variables pass unchanged: they are snap run's escaped
///   values, for snap-exec to restore.
/// * A raw [`UNSAFE_ENV_VARS`] entry (only possible when the loader did not
///   strip it: a root caller, which gets no secure execution, or a caller
///   that bypassed `snap run`) never reaches the executable under its own
///   name: it is escaped to `SNAP_SAVED_NAME`, or dropped if that is already
///   present (snap run's value wins). The application still gets it back
///   from snap-exec, exactly as under snapd.
/// * Strict: `PATH` = [`STRICT_PATH`], `TMPDIR` = `TEMPDIR` = `/tmp`, replaced
///   in place or appended. snap-exec keeps this `TMPDIR` over
///   `SNAP_SAVED_TMPDIR`.
/// * Duplicate names keep the first value (snap-exec refuses duplicates).
///
/// `SNAP_COOKIE`/`SNAP_CONTEXT` are the caller's business.
pub fn confined_env(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    confinement: EnvConfinement,
) -> Env {
    let env = dedup(env);
    let saved: BTreeSet<OsString> = env
        .iter()
        .filter(|(k, _)| strip_saved(k).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Env::with_capacity(env.len() + 3);
    for (k, v) in env {
        if is_unsafe_env_var(&k) {
            let escaped = saved_name(&k);
            if !saved.contains(&escaped) {
                out.push((escaped, v));
            }
        } else {
            out.push((k, v));
        }
    }
    if confinement == EnvConfinement::Strict {
        set_var(&mut out, "PATH", STRICT_PATH);
        set_var(&mut out, "TMPDIR", "/tmp");
        set_var(&mut out, "TEMPDIR", "/tmp");
    }
    out
}

fn set_var(env: &mut Env, name: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value.into(),
        None => env.push((name.into(), value.into())),
    }
}

/// `NAME=value` strings for `execve`.
pub fn env_for_exec(env: &Env) -> Vec<OsString> {
    env.iter()
        .map(|(k, v)| {
            let mut s = k.clone().into_vec();
            s.push(b'=');
            s.extend_from_slice(v.as_bytes());
            OsString::from_vec(s)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// umask and working directory

/// snap-confine's fallback working directory when the caller's cannot be
/// used inside the sandbox.
pub const VOID_DIR: &str = "/var/lib/snapd/void";

/// The umask and working directory of the caller, saved at start and
/// restored just before exec (spec §6.3 steps 1 and 8).
#[derive(Debug)]
pub struct ProcessState {
    umask: Mode,
    cwd: OwnedFd,
    cwd_dev: u64,
    cwd_ino: u64,
}

/// Where [`ProcessState::restore`] left the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CwdRestore {
    /// The original path, and it is the same directory as before.
    Same(PathBuf),
    /// The original path, but inside the sandbox it is another directory
    /// (e.g. `/tmp`, which is private).
    Reinterpreted(PathBuf),
    /// The original path cannot be used (missing, or not accessible to the
    /// real user); the process is in the void directory.
    Void { original: PathBuf },
}

impl ProcessState {
    /// Set the umask to 0 (objects are created with explicit modes), keep an
    /// `O_PATH` descriptor of the working directory and move to `/`.
    pub fn capture() -> Result<Self, HygieneError> {
        let umask = rustix::process::umask(Mode::empty());
        let cwd = rustix::fs::open(
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(syscall_err("open path of the current working directory"))?;
        let st = rustix::fs::fstat(&cwd)
            .map_err(syscall_err("stat path of the current working directory"))?;
        rustix::process::chdir("/").map_err(syscall_err("move to /"))?;
        Ok(Self {
            umask,
            cwd,
            cwd_dev: st.st_dev,
            cwd_ino: st.st_ino,
        })
    }

    /// The umask the process had at [`capture`](Self::capture).
    pub fn original_umask(&self) -> u32 {
        self.umask.bits()
    }

    /// Restore the umask, then the working directory: read the original
    /// path from the saved descriptor, open that *path* in the current
    /// (sandbox) mount namespace with `O_PATH|O_DIRECTORY|O_NOFOLLOW` and
    /// `fchdir` to it. Call after the privilege drop, so that permissions
    /// are the real user's (CVE-2019-11503). On `ENOENT`/`EACCES`/`EPERM`
    /// from the open, `EACCES`/`EPERM` from `fchdir`, or a path that is not
    /// absolute (e.g. `(unreachable)`), move to `void_dir` ([`VOID_DIR`]),
    /// creating it (0111 root:root) if missing — which needs root, so call
    /// [`ensure_void_dir`] earlier. Other errors are returned.
    pub fn restore(&self, void_dir: &Path) -> Result<CwdRestore, HygieneError> {
        rustix::process::umask(self.umask);
        let link = PathBuf::from(format!("/proc/self/fd/{}", self.cwd.as_raw_fd()));
        let original = std::fs::read_link(&link).map_err(|e| HygieneError::Path {
            what: "read symbolic link target",
            path: link.clone(),
            err: Errno::from_io_error(&e).unwrap_or(Errno::IO),
        })?;
        if !original.is_absolute() {
            return to_void(void_dir, original);
        }
        let inner = match rustix::fs::open(
            &original,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::ACCESS | Errno::PERM) => return to_void(void_dir, original),
            Err(err) => {
                return Err(HygieneError::Path {
                    what: "open path of the original working directory",
                    path: original,
                    err,
                });
            }
        };
        let st = rustix::fs::fstat(&inner).map_err(path_err("stat", &original))?;
        match rustix::process::fchdir(&inner) {
            Ok(()) => {}
            Err(Errno::ACCESS | Errno::PERM) => return to_void(void_dir, original),
            Err(err) => {
                return Err(HygieneError::Path {
                    what: "restore original working directory",
                    path: original,
                    err,
                });
            }
        }
        if st.st_dev == self.cwd_dev && st.st_ino == self.cwd_ino {
            Ok(CwdRestore::Same(original))
        } else {
            Ok(CwdRestore::Reinterpreted(original))
        }
    }
}

fn to_void(void_dir: &Path, original: PathBuf) -> Result<CwdRestore, HygieneError> {
    let fd = ensure_void_dir(void_dir)?;
    rustix::process::fchdir(&fd).map_err(path_err("move to void directory", void_dir))?;
    Ok(CwdRestore::Void { original })
}

/// Open the void directory, creating it (mode 0111, root:root) if missing,
/// as snap-confine does. Creating needs root.
pub fn ensure_void_dir(path: &Path) -> Result<OwnedFd, HygieneError> {
    let flags = OFlags::DIRECTORY | OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(err) => return Err(path_err("open the void directory", path)(err)),
    }
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o111)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(err) => return Err(path_err("create void directory", path)(err)),
    }
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(path_err("open the void directory", path))?;
    // mkdir's mode went through the umask (restored to the caller's by
    // then); make it exact.
    rustix::fs::chmod(path, Mode::from_raw_mode(0o111))
        .map_err(path_err("change mode of void directory", path))?;
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::ROOT),
        Some(rustix::fs::Gid::ROOT),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(path_err("change ownership of void directory", path))?;
    Ok(fd)
}

// ---------------------------------------------------------------------------
// TIOCSTI / TIOCLINUX

/// `TIOCSTI`: push a byte into a terminal's input queue.
pub const TIOCSTI: u32 = 0x5412;
/// `TIOCLINUX`: virtual console control, including selection paste.
pub const TIOCLINUX: u32 = 0x541c;

/// The ABIs through which this process can call `ioctl`, as
/// (`AUDIT_ARCH_*`, syscall numbers).
#[cfg(target_arch = "x86_64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[
    // Native, plus the x32 numbers (x32 shares AUDIT_ARCH_X86_64 and sets
    // __X32_SYSCALL_BIT; 514 is x32's ioctl). x32 is off on most kernels,
    // but a deny rule must not depend on that.
    (
        bpf::AUDIT_ARCH_X86_64,
        &[16, bpf::X32_SYSCALL_BIT | 16, bpf::X32_SYSCALL_BIT | 514],
    ),
    // i386 through `int 0x80`, available to 64-bit processes whenever the
    // kernel has IA32 emulation.
    (bpf::AUDIT_ARCH_I386, &[54]),
];
#[cfg(target_arch = "x86")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_I386, &[54])];
#[cfg(target_arch = "aarch64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[
    (bpf::AUDIT_ARCH_AARCH64, &[29]),
    (bpf::AUDIT_ARCH_ARM, &[54]),
];
#[cfg(target_arch = "arm")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_ARM, &[54])];
#[cfg(target_arch = "riscv64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_RISCV64, &[29])];
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64"
)))]
const IOCTL_ABIS: &[(u32, &[u32])] = &[];

/// The filter behind [`harden_tty`]: `ioctl(fd, TIOCSTI | TIOCLINUX, ...)`
/// fails with `EPERM` on every ABI listed above; everything else is
/// allowed. Only the low 32 bits of the request are compared, because the
/// kernel ignores the upper half (CVE-2019-7303: `TIOCSTI | 1 << 32` passed
/// a 64-bit compare and still injected). Calls through an ABI not listed are
/// allowed: the application's own profile decides about those.
pub fn tty_injection_filter() -> Result<SeccompProgram, HygieneError> {
    if IOCTL_ABIS.is_empty() {
        return Err(HygieneError::UnsupportedArch);
    }
    let n_abis = IOCTL_ABIS.len();
    // Layout: [ld arch] [jeq arch_i → block_i]… [ret allow]
    //         block_i: [ld nr] [jeq nr → check]… [ret allow]
    //         check:   [ld arg1.lo] [jeq TIOCSTI → deny] [jeq TIOCLINUX → deny] [ret allow]
    //         deny:    [ret errno EPERM]
    let mut block_start = Vec::with_capacity(n_abis);
    let mut pc = 1 + n_abis + 1;
    for (_, nrs) in IOCTL_ABIS {
        block_start.push(pc);
        pc += 1 + nrs.len() + 1;
    }
    let check = pc;
    let deny = check + 4;
    let rel = |from: usize, to: usize| -> u8 {
        u8::try_from(to - (from + 1)).expect("filter jump fits in u8")
    };

    let mut p = vec![SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_ARCH)];
    for (i, (arch, _)) in IOCTL_ABIS.iter().enumerate() {
        let here = p.len();
        p.push(SockFilter::jump(
            bpf::JMP_JEQ_K,
            *arch,
            rel(here, block_start[i]),
            0,
        ));
    }
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    for (_, nrs) in IOCTL_ABIS {
        p.push(SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR));
        for nr in nrs.iter() {
            let here = p.len();
            p.push(SockFilter::jump(bpf::JMP_JEQ_K, *nr, rel(here, check), 0));
        }
        p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    }
    debug_assert_eq!(p.len(), check);
    p.push(SockFilter::stmt(bpf::LD_W_ABS, bpf::data_arg_low(1)));
    let here = p.len();
    p.push(SockFilter::jump(
        bpf::JMP_JEQ_K,
        TIOCSTI,
        rel(here, deny),
        0,
    ));
    let here = p.len();
    p.push(SockFilter::jump(
        bpf::JMP_JEQ_K,
        TIOCLINUX,
        rel(here, deny),
        0,
    ));
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    debug_assert_eq!(p.len(), deny);
    p.push(SockFilter::stmt(
        bpf::RET_K,
        bpf::ret_errno(libc::EPERM as u16),
    ));

    let prog = BpfProgram::new(p).expect("small non-empty program");
    Ok(SeccompProgram::builtin(
        "tty-injection",
        vec![(FilterRole::Builtin("tty-injection"), prog)],
    ))
}

/// Deny terminal input injection (`TIOCSTI`, `TIOCLINUX`) to the process and
/// everything it executes, with [`tty_injection_filter`].
///
/// Installed unconditionally, not only when stdin is a terminal: the
/// application can reach its controlling terminal through `/dev/tty` or any
/// other descriptor. This is what flatpak does (a seccomp rule), and what
/// current snapd does in every restricted profile; bubblewrap's alternative,
/// `setsid()`, would take job control away from the application. snapd
/// 2.57 loaded the equivalent `global.bin` only for restricted profiles;
/// whether to also harden unrestricted (classic) snaps is the caller's
/// choice. Needs `CAP_SYS_ADMIN` or `no_new_privs`, like any seccomp filter.
pub fn harden_tty() -> Result<(), HygieneError> {
    tty_injection_filter()?.install()?;
    Ok(())
}

/// Issue terminal-injection ioctls the way an attacker would, to check the
/// defence. For tests and self-checks only.
pub mod tty_probe {
    use super::*;

    /// How to call `ioctl`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum IoctlEntry {
        /// The native syscall with the plain request number.
        Native,
        /// The native syscall with garbage in the request's upper 32 bits,
        /// which the kernel ignores (CVE-2019-7303).
        NativeHighBits,
        /// The i386 syscall through `int 0x80` (x86_64 only; `NOSYS`
        /// elsewhere).
        I386,
    }

    /// `ioctl(fd, TIOCSTI, &byte)`.
    pub fn tiocsti(fd: BorrowedFd<'_>, byte: u8, entry: IoctlEntry) -> Result<(), Errno> {
        ioctl_with_byte(fd, TIOCSTI, byte, entry)
    }

    /// `ioctl(fd, TIOCLINUX, &subcode)`; subcode 3 is `TIOCL_PASTESEL`.
    pub fn tioclinux(fd: BorrowedFd<'_>, subcode: u8, entry: IoctlEntry) -> Result<(), Errno> {
        ioctl_with_byte(fd, TIOCLINUX, subcode, entry)
    }

    fn last_errno() -> Errno {
        Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
    }

    fn ioctl_with_byte(
        fd: BorrowedFd<'_>,
        request: u32,
        byte: u8,
        entry: IoctlEntry,
    ) -> Result<(), Errno> {
        let fd = fd.as_fd().as_raw_fd();
        match entry {
            IoctlEntry::Native | IoctlEntry::NativeHighBits => {
                let mut req = u64::from(request);
                if entry == IoctlEntry::NativeHighBits {
                    req |= 0xdead_beef_0000_0000;
                }
                let arg = byte;
                // SAFETY: TIOCSTI and TIOCLINUX read one byte through the
                // pointer, which points at `arg` on our stack; `fd` is
                // borrowed for the call.
                let rc = unsafe {
                    libc::syscall(libc::SYS_ioctl, fd, req as libc::c_ulong, &arg as *const u8)
                };
                if rc == 0 { Ok(()) } else { Err(last_errno()) }
            }
            IoctlEntry::I386 => i386_ioctl(fd, request, byte),
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn i386_ioctl(fd: RawFd, request: u32, byte: u8) -> Result<(), Errno> {
        // The compat syscall takes 32-bit pointers: the argument must live
        // below 4 GiB.
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(last_errno());
        }
        // SAFETY: `page` is a fresh writable mapping of 4096 bytes.
        unsafe { page.cast::<u8>().write(byte) };
        let ptr32 = page as u64 as u32;
        let ret: i32;
        // SAFETY: `int 0x80` with eax = 54 is the i386 ioctl(ebx, ecx, edx);
        // TIOCSTI/TIOCLINUX read one byte at `ptr32`, inside our mapping.
        // rbx is reserved by LLVM, so the fd is swapped into it around the
        // call. The compat entry may clobber r8-r11 on older kernels.
        unsafe {
            std::arch::asm!(
                "xchg {fd:r}, rbx",
                "int 0x80",
                "xchg {fd:r}, rbx",
                fd = inout(reg) u64::from(fd as u32) => _,
                inlateout("eax") 54i32 => ret,
                in("ecx") request,
                in("edx") ptr32,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        // SAFETY: unmapping the mapping created above, no longer used.
        unsafe { libc::munmap(page, 4096) };
        if ret >= 0 {
            Ok(())
        } else {
            Err(Errno::from_raw_os_error(-ret))
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn i386_ioctl(_fd: RawFd, _request: u32, _byte: u8) -> Result<(), Errno> {
        Err(Errno::NOSYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn escape_like_snap_run() {
        let got = escape_unsafe_env(env(&[
            ("PATH", "/bin"),
            ("LD_PRELOAD", "x.so"),
            ("SNAP_SAVED_FOO", "dropped"),
            ("TMPDIR", "/var/tmp"),
            ("HOME", "/home/u"),
        ]));
        assert_eq!(
            got,
            env(&[
                ("HOME", "/home/u"),
                ("PATH", "/bin"),
                ("SNAP_SAVED_LD_PRELOAD", "x.so"),
                ("SNAP_SAVED_TMPDIR", "/var/tmp"),
            ])
        );
    }

    #[test]
    fn unescape_like_snap_exec() {
        let got = unescape_unsafe_env(env(&[
            ("SNAP_SAVED_LD_PRELOAD", "x.so"),
            ("SNAP_SAVED_TMPDIR", "/var/tmp"),
            ("TMPDIR", "/tmp"),
            ("SNAP_SAVED_", "empty"),
        ]));
        assert_eq!(got, env(&[("LD_PRELOAD", "x.so"), ("TMPDIR", "/tmp")]));
    }

    #[test]
    fn confined_env_strict_and_classic() {
        let input = env(&[
            ("PATH", "/host/bin"),
            ("SNAP_SAVED_LD_LIBRARY_PATH", "/a"),
            ("LD_LIBRARY_PATH", "/raw"),
            ("LD_PRELOAD", "evil.so"),
            ("HOME", "/home/u"),
            ("HOME", "/dup"),
            ("SNAP_SAVED_TMPDIR", "/var/tmp"),
        ]);
        let strict = confined_env(input.clone(), EnvConfinement::Strict);
        assert_eq!(
            strict,
            env(&[
                ("PATH", STRICT_PATH),
                ("SNAP_SAVED_LD_LIBRARY_PATH", "/a"),
                ("SNAP_SAVED_LD_PRELOAD", "evil.so"),
                ("HOME", "/home/u"),
                ("SNAP_SAVED_TMPDIR", "/var/tmp"),
                ("TMPDIR", "/tmp"),
                ("TEMPDIR", "/tmp"),
            ])
        );
        let classic = confined_env(input, EnvConfinement::Classic);
        assert_eq!(
            classic[0],
            (OsString::from("PATH"), OsString::from("/host/bin"))
        );
        assert!(
            !classic
                .iter()
                .any(|(k, _)| k == "TMPDIR" || k == "LD_PRELOAD" || k == "LD_LIBRARY_PATH")
        );
        // What the application finally sees, after snap-exec.
        let app = unescape_unsafe_env(strict);
        let get = |n: &str| {
            app.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("TMPDIR").as_deref(), Some("/tmp"));
        assert_eq!(get("LD_LIBRARY_PATH").as_deref(), Some("/a"));
        assert_eq!(get("LD_PRELOAD").as_deref(), Some("evil.so"));
    }

    #[test]
    fn filter_shape() {
        let p = tty_injection_filter().unwrap();
        let f = &p.filters()[0].1;
        let last = *f.instructions().last().unwrap();
        assert_eq!(last, SockFilter::stmt(bpf::RET_K, bpf::ret_errno(1)));
    }
}
