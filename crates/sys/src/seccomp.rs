//! Loading snapd's compiled seccomp profiles (spec §6.7).
//!
//! snapd compiles every security tag's seccomp profile ahead of time, and
//! snap-confine only reads the result and hands it to the kernel. Two file
//! formats exist:
//!
//! * `TAG.bin2` (current snapd): a 128-byte header followed by two classic BPF
//!   programs. Header: `"SC"`, version `1`, a flags byte (bit 0 =
//!   unrestricted: load nothing), 4 bytes of padding, the allow program's
//!   length and the deny program's length (`u32`, native endian), 112
//!   reserved bytes. The allow program follows the header, the deny program
//!   follows the allow program. Each length is at most 32 KiB (`BPF_MAXINSNS`
//!   instructions), a multiple of 8 (`sizeof(struct sock_filter)`) and zero
//!   only in an unrestricted profile; the file is exactly
//!   `128 + allow + deny` bytes. The deny program is loaded first.
//! * `TAG.bin` (snapd up to 2.57, the version Debian 12 ships): one raw BPF
//!   program, or, for a profile whose source is `@unrestricted`, the source
//!   text itself: 2.57's `snap-seccomp compile` copies the 14 bytes
//!   `"@unrestricted\n"` to the output file and 2.57's snap-confine compares
//!   the file with that string. Checked on this machine; see the tests.
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
//! *or* holds `CAP_SYS_ADMIN` in its effective set. Like snapd, snapcell does
//! **not** set `no_new_privs` (it would break setuid programs and, under
//! AppArmor, exec transitions inside the snap), so [`SeccompProgram::install`]
//! must run while the caller still holds `CAP_SYS_ADMIN`: either as euid 0
//! (a root caller) or, after a setuid caller has permanently become the real
//! user, with the capability kept across the uid change
//! ([`crate::creds::drop_privileges`] with
//! [`KeepCapability::SysAdmin`](crate::creds::KeepCapability::SysAdmin)) and
//! cleared right after loading. Without either, loading fails with `EACCES`
//! and the error says so.
//!
//! Filters apply to the calling thread and are inherited by its children and
//! across `execve`; call [`SeccompProgram::install`] while the process is
//! single-threaded (snap-confine always is).

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// Where snapd writes compiled profiles.
pub const DEFAULT_PROFILE_DIR: &str = "/var/lib/snapd/seccomp/bpf";
/// Size of the `.bin2` header.
pub const HEADER_SIZE: usize = 128;
/// Largest program snap-confine accepts: `BPF_MAXINSNS` instructions.
pub const MAX_BPF_SIZE: usize = 32 * 1024;
/// Size of one classic BPF instruction (`struct sock_filter`).
pub const SOCK_FILTER_SIZE: usize = 8;
/// What snapd 2.57 writes to `TAG.bin` for an `@unrestricted` profile.
pub const LEGACY_UNRESTRICTED: &[u8] = b"@unrestricted\n";
/// The name of 2.57's global profile (the TIOCSTI filter), loaded after a
/// restricted per-tag `.bin` profile; see [`load_global_profile`].
pub const LEGACY_GLOBAL_PROFILE: &str = "global.bin";

/// One classic BPF instruction, laid out exactly like the kernel's
/// `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const _: () = assert!(std::mem::size_of::<SockFilter>() == SOCK_FILTER_SIZE);
const _: () =
    assert!(std::mem::size_of::<SockFilter>() == std::mem::size_of::<libc::sock_filter>());
const _: () =
    assert!(std::mem::align_of::<SockFilter>() == std::mem::align_of::<libc::sock_filter>());

impl SockFilter {
    /// `BPF_STMT(code, k)`.
    pub const fn stmt(code: u16, k: u32) -> Self {
        Self {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// `BPF_JUMP(code, k, jt, jf)`.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        Self { code, jt, jf, k }
    }

    /// The instruction as it is stored in a profile (native endian).
    pub fn to_bytes(self) -> [u8; SOCK_FILTER_SIZE] {
        let mut out = [0u8; SOCK_FILTER_SIZE];
        out[0..2].copy_from_slice(&self.code.to_ne_bytes());
        out[2] = self.jt;
        out[3] = self.jf;
        out[4..8].copy_from_slice(&self.k.to_ne_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Self {
        Self {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// Opcodes and seccomp constants for building small filters by hand
/// (`<linux/filter.h>`, `<linux/seccomp.h>`, `<linux/audit.h>`).
pub mod bpf {
    pub const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
    pub const JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
    pub const JMP_JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
    pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
    pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

    /// Offsets into `struct seccomp_data`.
    pub const DATA_NR: u32 = 0;
    pub const DATA_ARCH: u32 = 4;
    /// Offset of the low 32 bits of syscall argument `i`.
    pub const fn data_arg_low(i: u32) -> u32 {
        if cfg!(target_endian = "little") {
            16 + 8 * i
        } else {
            16 + 8 * i + 4
        }
    }
    /// Offset of the high 32 bits of syscall argument `i`.
    pub const fn data_arg_high(i: u32) -> u32 {
        if cfg!(target_endian = "little") {
            16 + 8 * i + 4
        } else {
            16 + 8 * i
        }
    }

    pub const RET_ALLOW: u32 = 0x7fff_0000;
    pub const RET_ERRNO: u32 = 0x0005_0000;
    pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
    pub const RET_LOG: u32 = 0x7ffc_0000;
    /// `SECCOMP_RET_ERRNO | errno`.
    pub const fn ret_errno(errno: u16) -> u32 {
        RET_ERRNO | errno as u32
    }

    pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
    pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
    pub const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;
    /// `__X32_SYSCALL_BIT`.
    pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
}

/// A non-empty classic BPF program of at most `BPF_MAXINSNS` instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfProgram(Vec<SockFilter>);

impl BpfProgram {
    /// A program from instructions; `None` if empty or longer than
    /// `BPF_MAXINSNS`. The kernel checks the instructions themselves when
    /// the program is installed.
    pub fn new(insns: Vec<SockFilter>) -> Option<Self> {
        if insns.is_empty() || insns.len() * SOCK_FILTER_SIZE > MAX_BPF_SIZE {
            return None;
        }
        Some(Self(insns))
    }

    /// Decode bytes already checked to be a non-empty multiple of 8 and at
    /// most [`MAX_BPF_SIZE`].
    fn from_checked_bytes(bytes: &[u8]) -> Self {
        Self(
            bytes
                .chunks_exact(SOCK_FILTER_SIZE)
                .map(SockFilter::from_bytes)
                .collect(),
        )
    }

    pub fn instructions(&self) -> &[SockFilter] {
        &self.0
    }

    /// The program as stored in a profile file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|i| i.to_bytes()).collect()
    }
}

/// Which part of a profile a filter is, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterRole {
    /// The `.bin2` deny program (loaded first).
    Deny,
    /// The `.bin2` allow program.
    Allow,
    /// The single program of a legacy `.bin` file.
    Legacy,
    /// A filter built in code (e.g. the TIOCSTI filter of
    /// [`crate::hygiene::tty::harden_tty`]).
    Builtin(&'static str),
}

impl fmt::Display for FilterRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterRole::Deny => f.write_str("deny"),
            FilterRole::Allow => f.write_str("allow"),
            FilterRole::Legacy => f.write_str("legacy"),
            FilterRole::Builtin(name) => f.write_str(name),
        }
    }
}

/// The file format a profile was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileFormat {
    /// `TAG.bin2`: header + allow + deny.
    Bin2,
    /// `TAG.bin`: one raw program, or `@unrestricted\n`.
    LegacyBin,
    /// Built in code, not read from a file.
    Builtin,
}

/// A parsed and validated seccomp profile, ready to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompProgram {
    source: PathBuf,
    format: ProfileFormat,
    unrestricted: bool,
    /// In load order.
    filters: Vec<(FilterRole, BpfProgram)>,
}

/// Why a profile file is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformation {
    #[error("file is {0} bytes, shorter than the {HEADER_SIZE}-byte header")]
    TruncatedHeader(usize),
    #[error("unexpected seccomp header {:?} (expected \"SC\")", String::from_utf8_lossy(.0))]
    BadMagic([u8; 2]),
    #[error("unexpected seccomp file version {0} (expected 1)")]
    BadVersion(u8),
    #[error("{role} filter size {len} is too big (at most {MAX_BPF_SIZE} bytes)")]
    FilterTooBig { role: FilterRole, len: u64 },
    #[error(
        "{role} filter size {len} is not a multiple of {SOCK_FILTER_SIZE} (sizeof struct sock_filter)"
    )]
    FilterNotMultiple { role: FilterRole, len: u64 },
    #[error("{role} filter may only be empty in unrestricted profiles")]
    EmptyFilter { role: FilterRole },
    #[error("unexpected file size {actual} != {HEADER_SIZE} + {allow} + {deny}")]
    SizeMismatch { actual: u64, allow: u64, deny: u64 },
    #[error("file is larger than {limit} bytes")]
    TooBig { limit: usize },
    #[error("empty program")]
    EmptyProgram,
}

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

impl SeccompProgram {
    /// A profile made of filters built in code, installed in the given order.
    pub fn builtin(name: &str, filters: Vec<(FilterRole, BpfProgram)>) -> Self {
        Self {
            source: PathBuf::from(format!("<builtin {name}>")),
            format: ProfileFormat::Builtin,
            unrestricted: filters.is_empty(),
            filters,
        }
    }

    /// The file the profile came from.
    pub fn path(&self) -> &Path {
        &self.source
    }

    pub fn format(&self) -> ProfileFormat {
        self.format
    }

    /// Whether the profile says "load nothing" (`.bin2` flag bit 0, or a
    /// legacy `@unrestricted` file).
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// The filters in the order [`install`](Self::install) loads them
    /// (empty when unrestricted).
    pub fn filters(&self) -> &[(FilterRole, BpfProgram)] {
        &self.filters
    }

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
    pub fn install(&self) -> Result<(), SeccompError> {
        for (role, filter) in &self.filters {
            install_filter(filter).map_err(|(seccomp, prctl)| SeccompError::Install {
                path: self.source.clone(),
                role: *role,
                seccomp,
                prctl,
            })?;
        }
        Ok(())
    }
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

fn filter_len(role: FilterRole, len: u32, unrestricted: bool) -> Result<usize, Malformation> {
    let len64 = u64::from(len);
    if len as usize > MAX_BPF_SIZE {
        return Err(Malformation::FilterTooBig { role, len: len64 });
    }
    if !(len as usize).is_multiple_of(SOCK_FILTER_SIZE) {
        return Err(Malformation::FilterNotMultiple { role, len: len64 });
    }
    if len == 0 && !unrestricted {
        return Err(Malformation::EmptyFilter { role });
    }
    Ok(len as usize)
}

/// Parse the contents of a `.bin2` file (no I/O). `path` is only used for
/// the result's [`SeccompProgram::path`] and messages.
///
/// Checks, in snapd's order: header length, magic, version, each length
/// (≤ 32 KiB, multiple of 8), the file size, then (unless unrestricted) that
/// no program is empty. Flag bits other than bit 0 and the reserved bytes
/// are ignored, as snapd does; an unrestricted profile loads nothing even
/// if it carries programs.
pub fn parse_bin2(path: &Path, bytes: &[u8]) -> Result<SeccompProgram, SeccompError> {
    parse_bin2_inner(bytes)
        .map(|(unrestricted, filters)| SeccompProgram {
            source: path.to_owned(),
            format: ProfileFormat::Bin2,
            unrestricted,
            filters,
        })
        .map_err(|reason| SeccompError::Malformed {
            path: path.to_owned(),
            reason,
        })
}

type Filters = Vec<(FilterRole, BpfProgram)>;

fn parse_bin2_inner(bytes: &[u8]) -> Result<(bool, Filters), Malformation> {
    if bytes.len() < HEADER_SIZE {
        return Err(Malformation::TruncatedHeader(bytes.len()));
    }
    if &bytes[0..2] != b"SC" {
        return Err(Malformation::BadMagic([bytes[0], bytes[1]]));
    }
    if bytes[2] != 1 {
        return Err(Malformation::BadVersion(bytes[2]));
    }
    let unrestricted = bytes[3] & 0x1 != 0;
    let allow_raw = u32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
    let deny_raw = u32::from_ne_bytes(bytes[12..16].try_into().expect("4 bytes"));
    // Limits and alignment first (snapd checks them while reading the
    // header), then the size, then emptiness (snapd checks it while reading
    // each program, which only happens for restricted profiles).
    let allow = filter_len(FilterRole::Allow, allow_raw, true)?;
    let deny = filter_len(FilterRole::Deny, deny_raw, true)?;
    if bytes.len() != HEADER_SIZE + allow + deny {
        return Err(Malformation::SizeMismatch {
            actual: bytes.len() as u64,
            allow: allow as u64,
            deny: deny as u64,
        });
    }
    if unrestricted {
        return Ok((true, Vec::new()));
    }
    filter_len(FilterRole::Allow, allow_raw, false)?;
    filter_len(FilterRole::Deny, deny_raw, false)?;
    let allow_prog = BpfProgram::from_checked_bytes(&bytes[HEADER_SIZE..HEADER_SIZE + allow]);
    let deny_prog = BpfProgram::from_checked_bytes(&bytes[HEADER_SIZE + allow..]);
    Ok((
        false,
        vec![
            (FilterRole::Deny, deny_prog),
            (FilterRole::Allow, allow_prog),
        ],
    ))
}

/// Parse the contents of a legacy `.bin` file (no I/O): exactly
/// `"@unrestricted\n"`, or a raw program (non-empty, a multiple of 8 bytes,
/// at most 32 KiB). snapd 2.57 itself did not check the multiple of 8 (the
/// kernel would have rejected the truncated program anyway); we do.
pub fn parse_legacy_bin(path: &Path, bytes: &[u8]) -> Result<SeccompProgram, SeccompError> {
    let malformed = |reason| SeccompError::Malformed {
        path: path.to_owned(),
        reason,
    };
    if bytes == LEGACY_UNRESTRICTED {
        return Ok(SeccompProgram {
            source: path.to_owned(),
            format: ProfileFormat::LegacyBin,
            unrestricted: true,
            filters: Vec::new(),
        });
    }
    if bytes.is_empty() {
        return Err(malformed(Malformation::EmptyProgram));
    }
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    filter_len(FilterRole::Legacy, len, false).map_err(malformed)?;
    Ok(SeccompProgram {
        source: path.to_owned(),
        format: ProfileFormat::LegacyBin,
        unrestricted: false,
        filters: vec![(FilterRole::Legacy, BpfProgram::from_checked_bytes(bytes))],
    })
}

fn errno_of(err: &std::io::Error) -> Errno {
    Errno::from_io_error(err).unwrap_or(Errno::IO)
}

/// snapd's `validate_path_has_strict_perms`, made a little stricter: owned
/// by root:root and writable by neither group nor others.
fn check_strict_perms(path: &Path, st: &Stat) -> Result<(), SeccompError> {
    if st.st_uid != 0 || st.st_gid != 0 {
        return Err(SeccompError::Unsafe {
            path: path.to_owned(),
            reason: format!("not owned by root:root but {}:{}", st.st_uid, st.st_gid),
        });
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SeccompError::Unsafe {
            path: path.to_owned(),
            reason: format!("writable by group or others (mode {mode:04o})"),
        });
    }
    Ok(())
}

fn unsafe_or_open_error(parent: &OwnedFd, name: &OsStr, path: &Path, err: Errno) -> SeccompError {
    if matches!(err, Errno::LOOP | Errno::NOTDIR | Errno::MLINK)
        && let Ok(st) = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
    {
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            return SeccompError::Unsafe {
                path: path.to_owned(),
                reason: "is a symbolic link".into(),
            };
        }
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return SeccompError::Unsafe {
                path: path.to_owned(),
                reason: "is not a directory".into(),
            };
        }
    }
    SeccompError::Open {
        path: path.to_owned(),
        err,
    }
}

/// Open `dir` one component at a time from `/` without following symbolic
/// links, checking every directory (snapd's `validate_bpfpath_is_safe`).
fn open_trusted_dir(dir: &Path) -> Result<OwnedFd, SeccompError> {
    if !dir.is_absolute() {
        return Err(SeccompError::BadDirectory {
            path: dir.to_owned(),
            reason: "not an absolute path",
        });
    }
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let root = Path::new("/");
    let mut fd =
        rustix::fs::open(root, flags, Mode::empty()).map_err(|err| SeccompError::Open {
            path: root.to_owned(),
            err,
        })?;
    let mut shown = PathBuf::from("/");
    check_dir(&shown, &fd)?;
    for comp in dir.components() {
        let name = match comp {
            Component::RootDir => continue,
            Component::Normal(name) => name,
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(SeccompError::BadDirectory {
                    path: dir.to_owned(),
                    reason: "contains . or .. components",
                });
            }
        };
        shown.push(name);
        let next = rustix::fs::openat(&fd, name, flags, Mode::empty())
            .map_err(|err| unsafe_or_open_error(&fd, name, &shown, err))?;
        check_dir(&shown, &next)?;
        fd = next;
    }
    Ok(fd)
}

fn check_dir(path: &Path, fd: &OwnedFd) -> Result<(), SeccompError> {
    let st = rustix::fs::fstat(fd).map_err(|err| SeccompError::Open {
        path: path.to_owned(),
        err,
    })?;
    check_strict_perms(path, &st)
}

/// Open `name` in the trusted directory: no symlink, a regular file, root
/// owned, not group/world-writable. `Ok(None)` if it does not exist.
fn open_trusted_file(
    dir_fd: &OwnedFd,
    dir: &Path,
    name: &str,
) -> Result<Option<(PathBuf, OwnedFd)>, SeccompError> {
    let path = dir.join(name);
    let fd = match rustix::fs::openat(
        dir_fd,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(err) => return Err(unsafe_or_open_error(dir_fd, OsStr::new(name), &path, err)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|err| SeccompError::Read {
        path: path.clone(),
        err,
    })?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(SeccompError::Unsafe {
            path,
            reason: "not a regular file".into(),
        });
    }
    check_strict_perms(&path, &st)?;
    Ok(Some((path, fd)))
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

fn check_tag(tag: &str) -> Result<(), SeccompError> {
    if tag.is_empty() || tag == "." || tag == ".." || tag.bytes().any(|b| b == b'/' || b == 0) {
        return Err(SeccompError::BadTag {
            tag: tag.to_owned(),
        });
    }
    Ok(())
}

/// Find, read and validate the profile of `tag` in `dir`
/// ([`DEFAULT_PROFILE_DIR`] in production): `dir/TAG.bin2`, or, only if that
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
        return parse_bin2(&path, &bytes);
    }
    if let Some((path, fd)) = open_trusted_file(&dir_fd, dir, &bin)? {
        let bytes = read_bounded(&path, fd, MAX_BPF_SIZE)?;
        return parse_legacy_bin(&path, &bytes);
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
    let deadline = Instant::now() + max_wait;
    loop {
        match load_profile(dir, tag) {
            Err(SeccompError::Missing { .. }) if Instant::now() < deadline => {
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_secs(1)));
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
            parse_legacy_bin(&path, &bytes).map(Some)
        }
    }
}

/// Encode a `.bin2` file (for tests and tools): header, allow, deny.
pub fn encode_bin2(unrestricted: bool, allow: &[u8], deny: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + allow.len() + deny.len());
    out.extend_from_slice(b"SC");
    out.push(1);
    out.push(u8::from(unrestricted));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(allow.len() as u32).to_ne_bytes());
    out.extend_from_slice(&(deny.len() as u32).to_ne_bytes());
    out.extend_from_slice(&[0; 112]);
    debug_assert_eq!(out.len(), HEADER_SIZE);
    out.extend_from_slice(allow);
    out.extend_from_slice(deny);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret_allow() -> Vec<u8> {
        SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW)
            .to_bytes()
            .to_vec()
    }

    fn bin2_err(bytes: &[u8]) -> Malformation {
        match parse_bin2(Path::new("/x/t.bin2"), bytes) {
            Err(SeccompError::Malformed { reason, .. }) => reason,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn bin2_round_trip() {
        let allow = ret_allow();
        let deny = [ret_allow(), ret_allow()].concat();
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(false, &allow, &deny)).unwrap();
        assert!(!p.is_unrestricted());
        assert_eq!(p.filters().len(), 2);
        assert_eq!(p.filters()[0].0, FilterRole::Deny);
        assert_eq!(p.filters()[0].1.instructions().len(), 2);
        assert_eq!(p.filters()[1].0, FilterRole::Allow);
        assert_eq!(p.filters()[1].1.to_bytes(), allow);
    }

    #[test]
    fn bin2_malformed() {
        let a = ret_allow();
        assert_eq!(bin2_err(&[]), Malformation::TruncatedHeader(0));
        let mut bad = encode_bin2(false, &a, &a);
        bad[0] = b'X';
        assert_eq!(bin2_err(&bad), Malformation::BadMagic([b'X', b'C']));
        let mut bad = encode_bin2(false, &a, &a);
        bad[2] = 2;
        assert_eq!(bin2_err(&bad), Malformation::BadVersion(2));
        assert_eq!(
            bin2_err(&encode_bin2(false, &a, &[])),
            Malformation::EmptyFilter {
                role: FilterRole::Deny
            }
        );
        assert_eq!(
            bin2_err(&encode_bin2(false, &[], &a)),
            Malformation::EmptyFilter {
                role: FilterRole::Allow
            }
        );
        assert_eq!(
            bin2_err(&encode_bin2(false, &a[..4], &a)),
            Malformation::FilterNotMultiple {
                role: FilterRole::Allow,
                len: 4
            }
        );
        let big = vec![0u8; MAX_BPF_SIZE + 8];
        assert_eq!(
            bin2_err(&encode_bin2(false, &a, &big)),
            Malformation::FilterTooBig {
                role: FilterRole::Deny,
                len: (MAX_BPF_SIZE + 8) as u64
            }
        );
        let mut short = encode_bin2(false, &a, &a);
        short.pop();
        assert_eq!(
            bin2_err(&short),
            Malformation::SizeMismatch {
                actual: 143,
                allow: 8,
                deny: 8
            }
        );
        let mut long = encode_bin2(true, &[], &[]);
        long.push(0);
        assert_eq!(
            bin2_err(&long),
            Malformation::SizeMismatch {
                actual: 129,
                allow: 0,
                deny: 0
            }
        );
    }

    #[test]
    fn bin2_unrestricted_loads_nothing() {
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(true, &[], &[])).unwrap();
        assert!(p.is_unrestricted());
        assert!(p.filters().is_empty());
        // snapd ignores programs in an unrestricted profile, and so do we.
        let a = ret_allow();
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(true, &a, &a)).unwrap();
        assert!(p.filters().is_empty());
    }

    #[test]
    fn legacy_bin() {
        let p = parse_legacy_bin(Path::new("/x/t.bin"), LEGACY_UNRESTRICTED).unwrap();
        assert!(p.is_unrestricted());
        let p = parse_legacy_bin(Path::new("/x/t.bin"), &ret_allow()).unwrap();
        assert_eq!(p.filters()[0].0, FilterRole::Legacy);
        let err = |b: &[u8]| match parse_legacy_bin(Path::new("/x/t.bin"), b) {
            Err(SeccompError::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b""), Malformation::EmptyProgram);
        assert_eq!(
            err(b"@unrestricted"),
            Malformation::FilterNotMultiple {
                role: FilterRole::Legacy,
                len: 13
            }
        );
        assert_eq!(
            err(b"@unrestricted\n\n"),
            Malformation::FilterNotMultiple {
                role: FilterRole::Legacy,
                len: 15
            }
        );
    }

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
