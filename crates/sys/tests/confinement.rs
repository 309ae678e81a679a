//! The confinement steps snap-confine performs just before exec: seccomp
//! loading, the privilege drop, process hygiene and Landlock.
//!
//! Everything that changes process state (filters, Landlock, credentials,
//! umask, cwd, descriptors) happens in forked children: the test process
//! itself is never confined. Every test that writes files runs in a
//! throwaway world (`run_in_world`): profile directories must be root-owned
//! and not group/world-writable along their whole path, as the loader
//! demands, which neither `/tmp` nor a scratch directory under `/var/tmp`
//! (both mode 1777) is; they are made in the world's own tmpfs at
//! `/run/snapd` (see [`trusted_dir`]), never in the host's `/run`, which
//! other tests' worlds mimic while they start.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use rustix::fs::{Mode, OFlags};
use rustix::io::{Errno, FdFlags};
use rustix::process::{Pid, WaitOptions, WaitStatus, waitpid};
use rustix::thread::{CapabilitySet, set_thread_groups, set_thread_res_gid, set_thread_res_uid};
use snapcell_core::saved_env;
use snapcell_core::seccomp::bin2::{self, Malformation, encode_bin2};
use snapcell_core::seccomp::bpf::{self, SockFilter};
use snapcell_core::seccomp::{FilterRole, ProfileFormat};
use snapcell_sys::creds::{self, KeepCapability};
use snapcell_sys::fork::{fork_child, unshare};
use snapcell_sys::hygiene::{self, cwd::CwdRestore, fds::InheritedFds, tty_probe::IoctlEntry};
use snapcell_sys::landlock::{RulesetStatus, restrict_self_minimal};
use snapcell_sys::seccomp::{self, Install, SeccompError, load_profile};
use snapcell_sys::system::TMPFS_MAGIC;
use snapcell_test_support::run_in_world;
use snapcell_test_support::world::WORLD_TMPFS_DIRS;

const NOBODY: u32 = 65534;
const SNAP_SECCOMP: &str = "/usr/lib/snapd/snap-seccomp";

// ---------------------------------------------------------------------------
// helpers

type R = Result<(), String>;

fn check(cond: bool, msg: impl FnOnce() -> String) -> R {
    if cond { Ok(()) } else { Err(msg()) }
}

fn wait(pid: Pid) -> WaitStatus {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return status,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(err) => panic!("waitpid: {err}"),
        }
    }
}

/// Run `f` in a forked child; fail the test if it returns an error, panics
/// or dies.
fn in_child(f: impl FnOnce() -> R) {
    let pid = fork_child(|| match f() {
        Ok(()) => 0,
        Err(msg) => {
            let _ = writeln!(std::io::stderr(), "child: {msg}");
            1
        }
    })
    .expect("fork");
    let status = wait(pid);
    assert_eq!(status.exit_status(), Some(0), "child failed: {status:?}");
}

/// Where [`trusted_dir`] makes its directories: a fresh tmpfs of the
/// world's (root-owned, mode 0755, below `/` and `/run`, both root-owned and
/// 0755 in the world).
const TRUSTED_PARENT: &str = "/run/snapd";

/// A fresh directory whose whole path is trusted by the loader. Only in a
/// world body: refuses to write anywhere but the world's own tmpfs.
fn trusted_dir() -> tempfile::TempDir {
    assert!(
        WORLD_TMPFS_DIRS.contains(&TRUSTED_PARENT),
        "worlds no longer cover {TRUSTED_PARENT} with a tmpfs"
    );
    let in_world = rustix::fs::statx(
        rustix::fs::CWD,
        TRUSTED_PARENT,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        rustix::fs::StatxFlags::empty(),
    )
    .is_ok_and(|stx| {
        stx.stx_attributes
            .contains(rustix::fs::StatxAttributes::MOUNT_ROOT)
    }) && rustix::fs::statfs(TRUSTED_PARENT)
        .is_ok_and(|st| st.f_type == TMPFS_MAGIC);
    assert!(
        in_world,
        "{TRUSTED_PARENT} is not a tmpfs of its own: call trusted_dir() in a run_in_world body"
    );
    let d = tempfile::Builder::new()
        .prefix("snapcell-confinement-test.")
        .tempdir_in(TRUSTED_PARENT)
        .expect("tempdir in the world's /run/snapd");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Become "nobody invoking a setuid-root program": real ids nobody,
/// effective and saved uid 0, no supplementary groups. Per-thread calls are
/// fine: the forked child has one thread.
fn simulate_setuid_invocation() -> R {
    set_thread_groups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    let nobody_gid = rustix::process::Gid::from_raw(NOBODY);
    set_thread_res_gid(nobody_gid, nobody_gid, nobody_gid)
        .map_err(|e| format!("setresgid: {e}"))?;
    set_thread_res_uid(
        rustix::process::Uid::from_raw(NOBODY),
        rustix::process::Uid::ROOT,
        rustix::process::Uid::ROOT,
    )
    .map_err(|e| format!("setresuid: {e}"))
}

fn proc_status_field(name: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
        .unwrap_or_default()
        .to_owned()
}

fn errno_of(res: std::io::Result<impl Sized>) -> Option<i32> {
    res.err().and_then(|e| e.raw_os_error())
}

/// A deny program in the `.bin2` sense: allow everything but `mkdir` and
/// `mkdirat`, which fail with EPERM. Built by hand (snapd 2.57's compiler
/// silently ignores `~` deny rules, see `snap_seccomp_257_ignores_deny_rules`).
fn deny_mkdir_program() -> Vec<u8> {
    let mut nrs = vec![libc::SYS_mkdirat as u32];
    #[cfg(target_arch = "x86_64")]
    nrs.push(libc::SYS_mkdir as u32);
    let mut p = vec![SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR)];
    let n = nrs.len();
    for (i, nr) in nrs.iter().enumerate() {
        // Jump over the remaining compares and the "allow" to the "deny".
        p.push(SockFilter::jump(bpf::JMP_JEQ_K, *nr, (n - i) as u8, 0));
    }
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    p.push(SockFilter::stmt(
        bpf::RET_K,
        bpf::ret_errno(libc::EPERM as u16),
    ));
    p.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Everything the test children need, for a 2.57-compiled allow list.
/// `chdir` is deliberately missing: the default action (EPERM) must hit it.
const ALLOW_LIST: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "fstat",
    "newfstatat",
    "statx",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "pipe2",
    "sched_yield",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "getpid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "gettid",
    "exit",
    "exit_group",
    "futex",
    "set_robust_list",
    "get_robust_list",
    "sigaltstack",
    "fcntl",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "getdents64",
    "getcwd",
    "fchdir",
    "clock_gettime",
    "gettimeofday",
    "prlimit64",
    "poll",
    "ppoll",
    "rseq",
    "restart_syscall",
    "wait4",
    "kill",
    "tgkill",
    "uname",
    "getrandom",
    "readlink",
    "readlinkat",
    "faccessat",
    "faccessat2",
    "capget",
    "capset",
    "prctl",
];

/// Compile `source` with Debian's snapd 2.57 `snap-seccomp`.
fn snap_seccomp_compile(dir: &Path, name: &str, source: &str) -> Vec<u8> {
    let src = dir.join(format!("{name}.src"));
    let out = dir.join(format!("{name}.out"));
    std::fs::write(&src, source).unwrap();
    let res = Command::new(SNAP_SECCOMP)
        .arg("compile")
        .arg(&src)
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {SNAP_SECCOMP} (Debian's snapd package): {e}"));
    assert!(res.status.success(), "snap-seccomp compile failed: {res:?}");
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&src).unwrap();
    std::fs::remove_file(&out).unwrap();
    bytes
}

fn allow_list_257(dir: &Path) -> Vec<u8> {
    snap_seccomp_compile(dir, "allow", &(ALLOW_LIST.join("\n") + "\n"))
}

/// In a child: `mkdir`/`mkdirat` fail with EPERM, the rest of the file
/// system calls still work.
fn assert_mkdir_denied(scratch: &Path) -> R {
    let target = scratch.join("newdir");
    let e = errno_of(std::fs::create_dir(&target));
    check(e == Some(libc::EPERM), || format!("std mkdir: {e:?}"))?;
    let e = rustix::fs::mkdirat(rustix::fs::CWD, &target, Mode::from_raw_mode(0o755));
    check(e == Err(Errno::PERM), || format!("mkdirat: {e:?}"))?;
    let f = scratch.join("file");
    std::fs::write(&f, b"still works").map_err(|e| format!("write: {e}"))?;
    let back = std::fs::read(&f).map_err(|e| format!("read: {e}"))?;
    check(back == b"still works", || "read back".into())?;
    std::fs::remove_file(&f).map_err(|e| format!("unlink: {e}"))?;
    check(!target.exists(), || "directory was created".into())?;
    check(rustix::process::getpid().as_raw_nonzero().get() > 0, || {
        "getpid".into()
    })
}

fn malformed(err: SeccompError) -> Malformation {
    match err {
        SeccompError::Malformed { reason, .. } => reason,
        other => panic!("expected a malformed profile, got {other}"),
    }
}

// ---------------------------------------------------------------------------
// seccomp: findings about Debian's snapd 2.57

#[test]
fn snap_seccomp_257_writes_unrestricted_as_text() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        // What /work/shared/tools/refrun/inner.sh compiles: 2.57 copies the
        // source to the output, and its snap-confine compares with that string.
        let out = snap_seccomp_compile(dir.path(), "u", "@unrestricted\n");
        assert_eq!(out, bin2::LEGACY_UNRESTRICTED);
        let restricted = allow_list_257(dir.path());
        assert_eq!(restricted.len() % 8, 0);
        // A complete program: arch check, allow list, default errno(EPERM).
        let prog = bin2::parse_legacy_bin(Path::new("/x.bin"), &restricted).unwrap();
        let insns = prog.filters()[0].1.instructions();
        assert_eq!(insns[0], SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_ARCH));
        assert!(insns.contains(&SockFilter::stmt(
            bpf::RET_K,
            bpf::ret_errno(libc::EPERM as u16)
        )));
    });
}

#[test]
fn snap_seccomp_257_ignores_deny_rules() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        let with_deny = snap_seccomp_compile(dir.path(), "d", "read\n~mkdir\n");
        let without = snap_seccomp_compile(dir.path(), "r", "read\n");
        assert_eq!(
            with_deny, without,
            "2.57 has no deny list: only .bin2 deny programs can express it"
        );
    });
}

// ---------------------------------------------------------------------------
// seccomp: loading and installing

#[test]
fn bin2_deny_program_makes_mkdir_fail_with_eperm() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        let allow = allow_list_257(dir.path());
        write_file(
            &dir.path().join("snap.app.app.bin2"),
            &encode_bin2(false, &allow, &deny_mkdir_program()),
        );
        let prog = load_profile(dir.path(), "snap.app.app").unwrap();
        assert_eq!(prog.format(), ProfileFormat::Bin2);
        assert!(!prog.is_unrestricted());
        let roles: Vec<_> = prog.filters().iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, [FilterRole::Deny, FilterRole::Allow]);
        let scratch = dir.path().to_owned();
        in_child(|| {
            // Before: mkdir works.
            std::fs::create_dir(scratch.join("before"))
                .map_err(|e| format!("mkdir before: {e}"))?;
            std::fs::remove_dir(scratch.join("before")).map_err(|e| format!("rmdir: {e}"))?;
            prog.install().map_err(|e| e.to_string())?;
            check(proc_status_field("Seccomp") == "2", || {
                "not in filter mode".into()
            })?;
            check(proc_status_field("Seccomp_filters") == "2", || {
                "expected two filters".into()
            })?;
            assert_mkdir_denied(&scratch)?;
            // The allow program's default action: chdir is not in the list.
            let e = rustix::process::chdir("/");
            check(e == Err(Errno::PERM), || format!("chdir: {e:?}"))?;
            // No no_new_privs: snapd deliberately does not set it.
            check(proc_status_field("NoNewPrivs") == "0", || {
                "NoNewPrivs set".into()
            })
        });
    });
}

#[test]
fn bin2_unrestricted_loads_nothing() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        write_file(
            &dir.path().join("snap.app.app.bin2"),
            &encode_bin2(true, &[], &[]),
        );
        // A broken legacy file next to it must not matter.
        write_file(&dir.path().join("snap.app.app.bin"), b"garbage");
        let prog = load_profile(dir.path(), "snap.app.app").unwrap();
        assert!(prog.is_unrestricted());
        assert!(prog.filters().is_empty());
        in_child(|| {
            prog.install().map_err(|e| e.to_string())?;
            check(proc_status_field("Seccomp") == "0", || {
                "a filter was loaded".into()
            })
        });
    });
}

#[test]
fn malformed_bin2_files_are_rejected_with_file_and_reason() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        let a = SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW)
            .to_bytes()
            .to_vec();
        let path = dir.path().join("snap.app.app.bin2");
        let mut bad_magic = encode_bin2(false, &a, &a);
        bad_magic[0..2].copy_from_slice(b"XX");
        let mut bad_version = encode_bin2(false, &a, &a);
        bad_version[2] = 2;
        let mut truncated = encode_bin2(false, &a, &a);
        truncated.truncate(140);
        let mut trailing = encode_bin2(false, &a, &a);
        trailing.extend_from_slice(&[0; 8]);
        let oversized = encode_bin2(false, &a, &vec![0; bpf::MAX_BPF_SIZE + 8]);
        let mut huge_len = encode_bin2(false, &a, &a);
        huge_len[8..12].copy_from_slice(&u32::MAX.to_ne_bytes());
        let cases: Vec<(&str, Vec<u8>, Malformation, &str)> = vec![
            (
                "empty file",
                vec![],
                Malformation::TruncatedHeader(0),
                "shorter than the 128-byte header",
            ),
            (
                "short header",
                b"SC\x01\x00".to_vec(),
                Malformation::TruncatedHeader(4),
                "shorter than",
            ),
            (
                "magic",
                bad_magic,
                Malformation::BadMagic(*b"XX"),
                "unexpected seccomp header",
            ),
            (
                "version",
                bad_version,
                Malformation::BadVersion(2),
                "unexpected seccomp file version 2",
            ),
            (
                "truncated program",
                truncated,
                Malformation::SizeMismatch {
                    actual: 140,
                    allow: 8,
                    deny: 8,
                },
                "unexpected file size 140 != 128 + 8 + 8",
            ),
            (
                "trailing bytes",
                trailing,
                Malformation::SizeMismatch {
                    actual: 152,
                    allow: 8,
                    deny: 8,
                },
                "unexpected file size",
            ),
            (
                "deny too big",
                oversized,
                Malformation::FilterTooBig {
                    role: FilterRole::Deny,
                    len: 32776,
                },
                "deny filter size 32776 is too big",
            ),
            (
                "allow length overflow",
                huge_len,
                Malformation::FilterTooBig {
                    role: FilterRole::Allow,
                    len: u32::MAX as u64,
                },
                "allow filter size 4294967295 is too big",
            ),
            (
                "unaligned allow",
                encode_bin2(false, &a[..5], &a),
                Malformation::FilterNotMultiple {
                    role: FilterRole::Allow,
                    len: 5,
                },
                "not a multiple of 8",
            ),
            (
                "empty allow",
                encode_bin2(false, &[], &a),
                Malformation::EmptyFilter {
                    role: FilterRole::Allow,
                },
                "allow filter may only be empty in unrestricted profiles",
            ),
            (
                "empty deny",
                encode_bin2(false, &a, &[]),
                Malformation::EmptyFilter {
                    role: FilterRole::Deny,
                },
                "deny filter may only be empty in unrestricted profiles",
            ),
            (
                "too big a file",
                vec![0; 128 + 2 * 32768 + 1],
                Malformation::TooBig { limit: 65664 },
                "larger than",
            ),
        ];
        for (what, bytes, reason, text) in cases {
            write_file(&path, &bytes);
            let err = load_profile(dir.path(), "snap.app.app").expect_err(what);
            let msg = err.to_string();
            assert!(
                msg.starts_with("cannot load seccomp profile "),
                "{what}: {msg}"
            );
            assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
            assert!(msg.contains(text), "{what}: {msg}");
            assert_eq!(malformed(err), reason, "{what}");
        }
        // A broken .bin2 is never a reason to fall back to a good .bin.
        write_file(
            &dir.path().join("snap.app.app.bin"),
            bin2::LEGACY_UNRESTRICTED,
        );
        write_file(&path, b"SC");
        assert!(matches!(
            load_profile(dir.path(), "snap.app.app"),
            Err(SeccompError::Malformed { .. })
        ));
    });
}

#[test]
fn malformed_legacy_bin_files_are_rejected() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        let path = dir.path().join("snap.app.app.bin");
        let cases: Vec<(Vec<u8>, Malformation)> = vec![
            (vec![], Malformation::EmptyProgram),
            (
                vec![0; 12],
                Malformation::FilterNotMultiple {
                    role: FilterRole::Legacy,
                    len: 12,
                },
            ),
            (
                b"@unrestricted".to_vec(),
                Malformation::FilterNotMultiple {
                    role: FilterRole::Legacy,
                    len: 13,
                },
            ),
            (
                vec![0; bpf::MAX_BPF_SIZE + 8],
                Malformation::TooBig {
                    limit: bpf::MAX_BPF_SIZE,
                },
            ),
        ];
        for (bytes, reason) in cases {
            write_file(&path, &bytes);
            let err = load_profile(dir.path(), "snap.app.app").unwrap_err();
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            assert_eq!(malformed(err), reason);
        }
    });
}

#[test]
fn legacy_bin_from_snapd_257_works() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        // Raw program compiled by 2.57: loaded and enforced.
        write_file(
            &dir.path().join("snap.app.app.bin"),
            &allow_list_257(dir.path()),
        );
        let prog = load_profile(dir.path(), "snap.app.app").unwrap();
        assert_eq!(prog.format(), ProfileFormat::LegacyBin);
        assert_eq!(prog.filters().len(), 1);
        in_child(|| {
            prog.install().map_err(|e| e.to_string())?;
            let e = rustix::process::chdir("/");
            check(e == Err(Errno::PERM), || format!("chdir: {e:?}"))?;
            check(rustix::process::getpid().as_raw_nonzero().get() > 0, || {
                "getpid".into()
            })
        });
        // @unrestricted as 2.57 compiles it: loads nothing.
        let unrestricted = snap_seccomp_compile(dir.path(), "u", "@unrestricted\n");
        write_file(&dir.path().join("snap.other.app.bin"), &unrestricted);
        let prog = load_profile(dir.path(), "snap.other.app").unwrap();
        assert!(prog.is_unrestricted());
        // The global profile of 2.57 is optional.
        assert!(seccomp::load_global_profile(dir.path()).unwrap().is_none());
        write_file(&dir.path().join("global.bin"), &deny_mkdir_program());
        let global = seccomp::load_global_profile(dir.path()).unwrap().unwrap();
        assert_eq!(global.filters()[0].0, FilterRole::Legacy);
    });
}

#[test]
fn bin2_is_preferred_over_bin() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        write_file(&dir.path().join("t.bin"), bin2::LEGACY_UNRESTRICTED);
        assert_eq!(
            load_profile(dir.path(), "t").unwrap().format(),
            ProfileFormat::LegacyBin
        );
        let a = SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW).to_bytes();
        write_file(&dir.path().join("t.bin2"), &encode_bin2(false, &a, &a));
        let p = load_profile(dir.path(), "t").unwrap();
        assert_eq!(p.format(), ProfileFormat::Bin2);
        assert_eq!(p.path(), dir.path().join("t.bin2"));
    });
}

#[test]
fn missing_profile_is_an_error_naming_both_files() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        let err = load_profile(dir.path(), "snap.app.app").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SeccompError::Missing { .. }), "{msg}");
        assert!(
            msg.contains(&format!("{}/snap.app.app.bin2", dir.path().display())),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("{}/snap.app.app.bin", dir.path().display())),
            "{msg}"
        );
        // A missing directory is the same thing (snapd waits for the profile).
        let err = load_profile(&dir.path().join("nope"), "snap.app.app").unwrap_err();
        assert!(matches!(err, SeccompError::Missing { .. }), "{err}");
        // Waiting: it appears within the deadline.
        let late = dir.path().join("late.bin2");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            write_file(&late, &encode_bin2(true, &[], &[]));
        });
        let p =
            seccomp::load_profile_waiting(dir.path(), "late", std::time::Duration::from_secs(5))
                .unwrap();
        writer.join().unwrap();
        assert!(p.is_unrestricted());
        let err = seccomp::load_profile_waiting(
            dir.path(),
            "never",
            std::time::Duration::from_millis(10),
        )
        .unwrap_err();
        assert!(matches!(err, SeccompError::Missing { .. }));
        // Tags that would escape the directory are refused.
        assert!(matches!(
            load_profile(dir.path(), "../t"),
            Err(SeccompError::BadTag { .. })
        ));
    });
}

#[test]
fn waiting_for_a_profile_is_announced_once_after_a_second() {
    use std::time::{Duration, Instant};
    run_in_world(|_world| {
        let dir = trusted_dir();
        let mut notices = Vec::new();
        // Present: no notice.
        write_file(&dir.path().join("here.bin2"), &encode_bin2(true, &[], &[]));
        seccomp::load_profile_waiting_notify(dir.path(), "here", Duration::from_secs(5), |w| {
            notices.push(w.clone())
        })
        .unwrap();
        assert!(notices.is_empty());
        // Never there, a wait shorter than a second: no notice.
        let err = seccomp::load_profile_waiting_notify(
            dir.path(),
            "never",
            Duration::from_millis(300),
            |w| notices.push(w.clone()),
        )
        .unwrap_err();
        assert!(matches!(err, SeccompError::Missing { .. }));
        assert!(notices.is_empty());
        // Written after 2.5 s: one notice (after a second), not one a poll.
        let late = dir.path().join("late.bin2");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            let tmp = late.with_extension("tmp");
            write_file(&tmp, &encode_bin2(true, &[], &[]));
            std::fs::rename(&tmp, &late).unwrap();
        });
        let start = Instant::now();
        let p = seccomp::load_profile_waiting_notify(
            dir.path(),
            "late",
            Duration::from_secs(10),
            |w| notices.push(w.clone()),
        )
        .unwrap();
        writer.join().unwrap();
        assert!(p.is_unrestricted());
        assert!(start.elapsed() >= Duration::from_millis(2500));
        assert_eq!(notices.len(), 1, "{notices:?}");
        let w = &notices[0];
        assert_eq!(w.bin2, dir.path().join("late.bin2"));
        assert_eq!(w.bin, dir.path().join("late.bin"));
        assert_eq!(w.max_wait, Duration::from_secs(10));
        assert!(
            w.waited >= seccomp::PROFILE_WAIT_NOTICE_AFTER && w.waited < Duration::from_secs(3),
            "{w:?}"
        );
    });
}

fn expect_unsafe(dir: &Path, tag: &str, path_in_msg: &Path, reason: &str) {
    match load_profile(dir, tag) {
        Err(err @ SeccompError::Unsafe { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(&path_in_msg.display().to_string()), "{msg}");
            assert!(msg.contains(reason), "{msg}");
        }
        other => panic!(
            "expected an unsafe-path error for {}: {other:?}",
            path_in_msg.display()
        ),
    }
}

#[test]
fn unsafe_paths_are_refused() {
    run_in_world(|_world| {
        let top = trusted_dir();
        let good = SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW).to_bytes();
        let profile = encode_bin2(false, &good, &good);
        let sub = top.path().join("bpf");
        std::fs::create_dir(&sub).unwrap();
        write_file(&sub.join("t.bin2"), &profile);
        load_profile(&sub, "t").unwrap();

        // World-writable, then group-writable directory component.
        for mode in [0o777, 0o775, 0o1777] {
            std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(mode)).unwrap();
            expect_unsafe(&sub, "t", &sub, "writable by group or others");
        }
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A component one level up.
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o757)).unwrap();
        expect_unsafe(&sub, "t", top.path(), "writable by group or others");
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // Not owned by root.
        std::os::unix::fs::chown(&sub, Some(NOBODY), None).unwrap();
        expect_unsafe(&sub, "t", &sub, "not owned by root:root but 65534:0");
        std::os::unix::fs::chown(&sub, Some(0), Some(NOBODY)).unwrap();
        expect_unsafe(&sub, "t", &sub, "not owned by root:root but 0:65534");
        std::os::unix::fs::chown(&sub, Some(0), Some(0)).unwrap();
        load_profile(&sub, "t").unwrap();

        // A symbolic link as a directory component.
        let link = top.path().join("link");
        symlink(&sub, &link).unwrap();
        expect_unsafe(&link, "t", &link, "is a symbolic link");
        // The profile itself: symlink, writable, foreign owner, not a regular file.
        let f = sub.join("t.bin2");
        std::fs::rename(&f, sub.join("real")).unwrap();
        symlink("real", &f).unwrap();
        expect_unsafe(&sub, "t", &f, "is a symbolic link");
        std::fs::remove_file(&f).unwrap();
        std::fs::rename(sub.join("real"), &f).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o646)).unwrap();
        expect_unsafe(&sub, "t", &f, "writable by group or others");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&f, Some(NOBODY), None).unwrap();
        expect_unsafe(&sub, "t", &f, "not owned by root:root");
        std::fs::remove_file(&f).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &f,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        expect_unsafe(&sub, "t", &f, "not a regular file");
        std::fs::remove_file(&f).unwrap();
        std::fs::create_dir(&f).unwrap();
        expect_unsafe(&sub, "t", &f, "not a regular file");

        // /tmp is world-writable (sticky or not): nothing under it is trusted.
        let tmp = tempfile::tempdir().unwrap();
        write_file(&tmp.path().join("t.bin2"), &profile);
        expect_unsafe(
            tmp.path(),
            "t",
            Path::new("/tmp"),
            "writable by group or others",
        );
        // Relative directories are refused outright.
        assert!(matches!(
            load_profile(Path::new("run"), "t"),
            Err(SeccompError::BadDirectory { .. })
        ));
        assert!(matches!(
            load_profile(&top.path().join("bpf/../bpf"), "t"),
            Err(SeccompError::BadDirectory { .. })
        ));
    });
}

#[test]
fn install_needs_cap_sys_admin_or_no_new_privs() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        write_file(
            &dir.path().join("t.bin2"),
            &encode_bin2(false, &deny_mkdir_program(), &deny_mkdir_program()),
        );
        let prog = load_profile(dir.path(), "t").unwrap();
        in_child(|| {
            simulate_setuid_invocation()?;
            let mut d =
                creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
            d.release_sys_admin().map_err(|e| e.to_string())?;
            let err = prog.install().expect_err("loaded without privileges");
            let msg = err.to_string();
            check(
                matches!(
                    err,
                    SeccompError::Install {
                        seccomp: Errno::ACCESS,
                        role: FilterRole::Deny,
                        ..
                    }
                ),
                || msg.clone(),
            )?;
            check(
                msg.contains("needs CAP_SYS_ADMIN or no_new_privs") && msg.contains("t.bin2"),
                || msg.clone(),
            )
        });
    });
}

#[test]
fn setuid_caller_loads_profile_with_kept_cap_sys_admin() {
    run_in_world(|_world| {
        let dir = trusted_dir();
        write_file(
            &dir.path().join("t.bin2"),
            &encode_bin2(false, &allow_list_257(dir.path()), &deny_mkdir_program()),
        );
        let prog = load_profile(dir.path(), "t").unwrap();
        // A directory nobody could create entries in without the filter.
        let scratch = tempfile::tempdir().unwrap();
        std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let scratch_path = scratch.path().to_owned();
        in_child(|| {
            simulate_setuid_invocation()?;
            let mut d =
                creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
            check(d.holds_sys_admin() && d.uid() == NOBODY, || {
                format!("{d:?}")
            })?;
            prog.install().map_err(|e| e.to_string())?;
            hygiene::tty::harden_tty().map_err(|e| e.to_string())?;
            d.release_sys_admin().map_err(|e| e.to_string())?;
            check(proc_status_field("CapEff") == "0000000000000000", || {
                "CapEff".into()
            })?;
            check(proc_status_field("CapPrm") == "0000000000000000", || {
                "CapPrm".into()
            })?;
            check(proc_status_field("Seccomp_filters") == "3", || {
                "three filters".into()
            })?;
            assert_mkdir_denied(&scratch_path)
        });
    });
}

// ---------------------------------------------------------------------------
// credentials

fn check_dropped_to_nobody() -> R {
    let u = creds::getresuid();
    let g = creds::getresgid();
    check(
        u.real == NOBODY && u.effective == NOBODY && u.saved == NOBODY,
        || format!("uids {u:?}"),
    )?;
    check(
        g.real == NOBODY && g.effective == NOBODY && g.saved == NOBODY,
        || format!("gids {g:?}"),
    )?;
    let root = rustix::process::Uid::ROOT;
    let e = set_thread_res_uid(root, root, root);
    check(e == Err(Errno::PERM), || format!("regained root: {e:?}"))?;
    let e = rustix::thread::set_thread_uid(root);
    check(e == Err(Errno::PERM), || format!("setuid(0): {e:?}"))?;
    let e = rustix::thread::set_thread_gid(rustix::process::Gid::ROOT);
    check(e == Err(Errno::PERM), || format!("setgid(0): {e:?}"))
}

#[test]
fn drop_privileges_from_setuid_state() {
    in_child(|| {
        simulate_setuid_invocation()?;
        let d = creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
        check(!d.is_real_root() && !d.holds_sys_admin(), || {
            format!("{d:?}")
        })?;
        check_dropped_to_nobody()?;
        let caps = creds::capabilities().map_err(|e| e.to_string())?;
        check(
            caps.permitted.is_empty() && caps.effective.is_empty(),
            || format!("{caps:?}"),
        )?;
        check(proc_status_field("CapAmb") == "0000000000000000", || {
            "ambient".into()
        })
    });
}

#[test]
fn drop_privileges_keeping_cap_sys_admin_then_release() {
    in_child(|| {
        simulate_setuid_invocation()?;
        let mut d = creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
        check(d.holds_sys_admin(), || format!("{d:?}"))?;
        let u = creds::getresuid();
        check(
            u.real == NOBODY && u.effective == NOBODY && u.saved == NOBODY,
            || format!("uids {u:?}"),
        )?;
        let caps = creds::capabilities().map_err(|e| e.to_string())?;
        check(
            caps.permitted == CapabilitySet::SYS_ADMIN
                && caps.effective == CapabilitySet::SYS_ADMIN
                && caps.inheritable.is_empty(),
            || format!("{caps:?}"),
        )?;
        check(proc_status_field("CapEff") == "0000000000200000", || {
            "CapEff".into()
        })?;
        // CAP_SYS_ADMIN does not give back the uid.
        let root = rustix::process::Uid::ROOT;
        let e = set_thread_res_uid(root, root, root);
        check(e == Err(Errno::PERM), || format!("regained root: {e:?}"))?;
        d.release_sys_admin().map_err(|e| e.to_string())?;
        check(!d.holds_sys_admin(), || "still holds".into())?;
        check(proc_status_field("CapPrm") == "0000000000000000", || {
            "CapPrm".into()
        })?;
        check(
            !rustix::thread::get_keep_capabilities().map_err(|e| e.to_string())?,
            || "KEEPCAPS still set".into(),
        )?;
        check_dropped_to_nobody()
    });
}

#[test]
fn drop_privileges_from_temporarily_dropped_state() {
    // snapd's sc_set_effective_identity leaves euid = real, saved uid 0.
    in_child(|| {
        simulate_setuid_invocation()?;
        let nobody = rustix::process::Uid::from_raw(NOBODY);
        set_thread_res_uid(nobody, nobody, rustix::process::Uid::ROOT)
            .map_err(|e| e.to_string())?;
        let mut d = creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
        check(d.holds_sys_admin(), || format!("{d:?}"))?;
        d.release_sys_admin().map_err(|e| e.to_string())?;
        check_dropped_to_nobody()
    });
}

#[test]
fn drop_privileges_clears_capabilities_of_a_file_capability_launcher() {
    // uids all the user's, capabilities present: what a launcher with file
    // capabilities (instead of the setuid bit) starts with.
    in_child(|| {
        set_thread_groups(&[]).map_err(|e| e.to_string())?;
        rustix::thread::set_keep_capabilities(true).map_err(|e| e.to_string())?;
        let g = rustix::process::Gid::from_raw(NOBODY);
        let u = rustix::process::Uid::from_raw(NOBODY);
        set_thread_res_gid(g, g, g).map_err(|e| e.to_string())?;
        set_thread_res_uid(u, u, u).map_err(|e| e.to_string())?;
        let mut caps = creds::capabilities().map_err(|e| e.to_string())?;
        caps.effective = caps.permitted;
        rustix::thread::set_capabilities(None, caps).map_err(|e| e.to_string())?;
        rustix::thread::set_keep_capabilities(false).map_err(|e| e.to_string())?;
        check(
            creds::capabilities()
                .map_err(|e| e.to_string())?
                .effective
                .contains(CapabilitySet::SYS_ADMIN),
            || "setup".into(),
        )?;
        let _dropped =
            creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
        check(proc_status_field("CapPrm") == "0000000000000000", || {
            "CapPrm".into()
        })?;
        check_dropped_to_nobody()
    });
}

#[test]
fn real_root_keeps_everything() {
    in_child(|| {
        let before = creds::capabilities().map_err(|e| e.to_string())?;
        let mut d = creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
        check(d.is_real_root() && d.uid() == 0, || format!("{d:?}"))?;
        d.release_sys_admin().map_err(|e| e.to_string())?;
        let after = creds::capabilities().map_err(|e| e.to_string())?;
        check(before == after, || format!("{before:?} -> {after:?}"))?;
        check(creds::getresuid().effective == 0, || "euid".into())
    });
}

#[test]
fn keeping_cap_sys_admin_needs_it_permitted() {
    in_child(|| {
        simulate_setuid_invocation()?;
        let _dropped =
            creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
        // Now an ordinary user pretends to be setuid: nothing to keep.
        match creds::drop_privileges(KeepCapability::SysAdmin) {
            Err(creds::CredsError::NoSysAdmin) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

// ---------------------------------------------------------------------------
// hygiene: descriptors

#[test]
fn standard_descriptors_are_reopened_on_dev_null() {
    in_child(|| {
        for fd in [0, 1] {
            // SAFETY: the child owns its descriptor table; nothing in it uses
            // stdin or stdout afterwards.
            unsafe { libc::close(fd) };
        }
        hygiene::fds::ensure_standard_descriptors().map_err(|e| e.to_string())?;
        for fd in [0, 1, 2] {
            let target =
                std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
            if fd < 2 {
                check(target == Path::new("/dev/null"), || {
                    format!("fd {fd} -> {}", target.display())
                })?;
            }
        }
        // Not close-on-exec: they are the application's streams.
        // SAFETY: fd 1 is open (just checked) and stays open.
        let one = unsafe { std::os::fd::BorrowedFd::borrow_raw(1) };
        let flags = rustix::io::fcntl_getfd(one).map_err(|e| e.to_string())?;
        check(!flags.contains(FdFlags::CLOEXEC), || {
            "fd 1 is close-on-exec".into()
        })
    });
}

fn open_without_cloexec() -> OwnedFd {
    rustix::fs::open("/dev/null", OFlags::RDONLY, Mode::empty()).unwrap()
}

fn cloexec(fd: &OwnedFd) -> bool {
    rustix::io::fcntl_getfd(fd)
        .unwrap()
        .contains(FdFlags::CLOEXEC)
}

#[test]
fn sealing_marks_only_descriptors_opened_after_start() {
    in_child(|| {
        // "Inherited": open before the snapshot, e.g. a socket from systemd.
        let inherited = open_without_cloexec();
        let inherited_high = open_without_cloexec();
        let mut high = open_without_cloexec();
        rustix::io::dup2(&inherited_high, &mut high).map_err(|e| e.to_string())?;
        let snap = InheritedFds::snapshot().map_err(|e| e.to_string())?;
        let fds: Vec<_> = snap.fds().collect();
        check(fds.contains(&inherited.as_raw_fd()), || format!("{fds:?}"))?;
        // Ours, opened afterwards without O_CLOEXEC.
        let ours = open_without_cloexec();
        let ours2 = open_without_cloexec();
        snap.seal_others().map_err(|e| e.to_string())?;
        check(
            !cloexec(&inherited) && !cloexec(&inherited_high) && !cloexec(&high),
            || "inherited got CLOEXEC".into(),
        )?;
        check(cloexec(&ours) && cloexec(&ours2), || {
            "ours leak across exec".into()
        })?;
        // SAFETY: fd 2 stays open for the whole child.
        let two = unsafe { std::os::fd::BorrowedFd::borrow_raw(2) };
        check(
            !rustix::io::fcntl_getfd(two)
                .unwrap()
                .contains(FdFlags::CLOEXEC),
            || "stderr".into(),
        )?;
        // The blunt variant takes everything from 3 on.
        hygiene::fds::mark_cloexec_from(3).map_err(|e| e.to_string())?;
        check(cloexec(&inherited) && cloexec(&high), || {
            "mark_cloexec_from".into()
        })
    });
}

#[test]
fn tests_do_not_run_in_secure_execution() {
    assert!(!hygiene::is_secure_execution());
}

// ---------------------------------------------------------------------------
// hygiene: umask and working directory

#[test]
fn umask_and_cwd_are_restored() {
    run_in_world(|_world| {
        let top = trusted_dir();
        let d = top.path().join("work");
        std::fs::create_dir(&d).unwrap();
        let void = top.path().join("void");
        in_child(|| {
            rustix::process::umask(Mode::from_raw_mode(0o027));
            rustix::process::chdir(&d).map_err(|e| e.to_string())?;
            let state = hygiene::cwd::ProcessState::capture().map_err(|e| e.to_string())?;
            check(state.original_umask() == 0o027, || "umask".into())?;
            let now = rustix::process::umask(Mode::empty());
            check(now.bits() == 0, || format!("umask during setup {now:?}"))?;
            let cwd = rustix::process::getcwd(Vec::new()).map_err(|e| e.to_string())?;
            check(cwd.to_bytes() == b"/", || "not in /".into())?;
            let got = state.restore(&void).map_err(|e| e.to_string())?;
            check(got == CwdRestore::Same(d.clone()), || format!("{got:?}"))?;
            check(
                std::env::current_dir().map_err(|e| e.to_string())? == d,
                || "cwd".into(),
            )?;
            check(
                rustix::process::umask(Mode::empty()).bits() == 0o027,
                || "umask not restored".into(),
            )
        });
        assert!(!void.exists(), "void dir created needlessly");
    });
}

#[test]
fn cwd_the_user_cannot_enter_goes_to_the_void() {
    run_in_world(|_world| {
        let top = trusted_dir();
        let private = top.path().join("root-only");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let void = top.path().join("void");
        let v = void.clone();
        in_child(|| {
            rustix::process::chdir(&private).map_err(|e| e.to_string())?;
            let state = hygiene::cwd::ProcessState::capture().map_err(|e| e.to_string())?;
            // While root (in the sandbox): make sure the void exists.
            hygiene::cwd::ensure_void_dir(&v).map_err(|e| e.to_string())?;
            simulate_setuid_invocation()?;
            let _dropped =
                creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
            let got = state.restore(&v).map_err(|e| e.to_string())?;
            check(
                got == CwdRestore::Void {
                    original: private.clone(),
                },
                || format!("{got:?}"),
            )?;
            check(
                std::env::current_dir().map_err(|e| e.to_string())? == v,
                || "not in the void".into(),
            )
        });
        let md = std::fs::metadata(&void).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o111);
        assert_eq!((md.uid(), md.gid()), (0, 0));
    });
}

#[test]
fn cwd_missing_or_different_in_the_sandbox() {
    run_in_world(|_world| {
        let top = trusted_dir();
        let gone = top.path().join("gone");
        let covered = top.path().join("covered");
        std::fs::create_dir(&gone).unwrap();
        std::fs::create_dir(&covered).unwrap();
        let void = top.path().join("void");
        // A deleted directory: the void, created on demand (we are root here).
        in_child(|| {
            rustix::process::chdir(&gone).map_err(|e| e.to_string())?;
            let state = hygiene::cwd::ProcessState::capture().map_err(|e| e.to_string())?;
            std::fs::remove_dir(&gone).map_err(|e| e.to_string())?;
            let got = state.restore(&void).map_err(|e| e.to_string())?;
            check(matches!(got, CwdRestore::Void { .. }), || {
                format!("{got:?}")
            })?;
            check(
                std::env::current_dir().map_err(|e| e.to_string())? == void,
                || "not in the void".into(),
            )
        });
        assert_eq!(
            std::fs::metadata(&void).unwrap().permissions().mode() & 0o7777,
            0o111
        );
        // The same path is another directory in the new mount namespace (like
        // the private /tmp): re-interpreted, by path, not by the old inode.
        in_child(|| {
            rustix::process::chdir(&covered).map_err(|e| e.to_string())?;
            let state = hygiene::cwd::ProcessState::capture().map_err(|e| e.to_string())?;
            unshare(rustix::thread::UnshareFlags::NEWNS).map_err(|e| e.to_string())?;
            rustix::mount::mount_change(
                "/",
                rustix::mount::MountPropagationFlags::PRIVATE
                    | rustix::mount::MountPropagationFlags::REC,
            )
            .map_err(|e| e.to_string())?;
            rustix::mount::mount(
                "tmpfs",
                &covered,
                "tmpfs",
                rustix::mount::MountFlags::empty(),
                None,
            )
            .map_err(|e| e.to_string())?;
            let got = state.restore(&void).map_err(|e| e.to_string())?;
            check(got == CwdRestore::Reinterpreted(covered.clone()), || {
                format!("{got:?}")
            })?;
            let here = rustix::fs::statfs(".").map_err(|e| e.to_string())?;
            check(here.f_type == 0x0102_1994, || "not on the tmpfs".into())
        });
    });
}

// ---------------------------------------------------------------------------
// hygiene: environment

fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

#[test]
fn environment_round_trip_through_snap_run_confine_and_exec() {
    let user = env(&[
        ("HOME", "/home/u"),
        ("LD_LIBRARY_PATH", "/opt/lib"),
        ("LD_PRELOAD", "libfoo.so"),
        ("GCONV_PATH", "/g"),
        ("TMPDIR", "/home/u/tmp"),
        ("PATH", "/home/u/bin:/usr/bin"),
        ("SNAP_SAVED_SNEAKY", "x"),
        ("MALLOC_ARENA_MAX", "2"),
    ]);
    // snap run escapes.
    let escaped = saved_env::escape_unsafe_env(user);
    assert!(
        escaped
            .iter()
            .all(|(k, _)| !saved_env::is_unsafe_env_var(k))
    );
    assert!(!escaped.iter().any(|(k, _)| k == "SNAP_SAVED_SNEAKY"));
    // The loader strips nothing that is left (simulate it anyway).
    let after_loader: Vec<_> = escaped
        .into_iter()
        .filter(|(k, _)| !saved_env::is_unsafe_env_var(k))
        .collect();
    // snap-confine, strict.
    let confined = hygiene::env::confined_env(after_loader, hygiene::env::EnvConfinement::Strict);
    let exec = hygiene::env::env_for_exec(&confined);
    assert!(exec.contains(&OsString::from(format!(
        "PATH={}",
        hygiene::env::STRICT_PATH
    ))));
    assert!(exec.contains(&OsString::from("TMPDIR=/tmp")));
    assert!(exec.contains(&OsString::from("TEMPDIR=/tmp")));
    assert!(exec.contains(&OsString::from("SNAP_SAVED_LD_PRELOAD=libfoo.so")));
    // snap-exec restores.
    let app = saved_env::unescape_unsafe_env(confined);
    let get = |n: &str| {
        app.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone().into_string().unwrap())
    };
    assert_eq!(get("LD_LIBRARY_PATH").as_deref(), Some("/opt/lib"));
    assert_eq!(get("LD_PRELOAD").as_deref(), Some("libfoo.so"));
    assert_eq!(get("GCONV_PATH").as_deref(), Some("/g"));
    assert_eq!(
        get("TMPDIR").as_deref(),
        Some("/tmp"),
        "snap-confine's TMPDIR wins"
    );
    assert_eq!(get("MALLOC_ARENA_MAX").as_deref(), Some("2"));
    assert_eq!(get("HOME").as_deref(), Some("/home/u"));
    assert!(
        !app.iter()
            .any(|(k, _)| k.to_str().unwrap().starts_with(saved_env::SAVED_PREFIX))
    );
}

// ---------------------------------------------------------------------------
// TIOCSTI

struct Pty {
    slave: OwnedFd,
    _master: OwnedFd,
}

fn open_pty() -> Result<Pty, String> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| e.to_string())?;
    grantpt(&master).map_err(|e| e.to_string())?;
    unlockpt(&master).map_err(|e| e.to_string())?;
    let name = ptsname(&master, Vec::new()).map_err(|e| e.to_string())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| e.to_string())?;
    Ok(Pty {
        slave,
        _master: master,
    })
}

/// Run `f` with a pty that is the controlling terminal of a new session.
/// The pty is never closed before `_exit`: closing the master of a session's
/// controlling terminal would SIGHUP the child before it reports.
fn with_controlling_pty(f: impl FnOnce(&Pty) -> R) -> R {
    let pty = open_pty()?;
    let res = take_as_controlling_terminal(&pty).and_then(|()| f(&pty));
    std::mem::forget(pty);
    res
}

/// Make the pty the controlling terminal of a new session.
fn take_as_controlling_terminal(pty: &Pty) -> R {
    rustix::process::setsid().map_err(|e| format!("setsid: {e}"))?;
    rustix::process::ioctl_tiocsctty(&pty.slave).map_err(|e| format!("TIOCSCTTY: {e}"))
}

/// Everything the terminal would deliver to its reader right now.
fn pending_input(pty: &Pty) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = rustix::io::read(&pty.slave, &mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

fn inject_line(pty: &Pty, byte: u8, entry: IoctlEntry) -> Result<(), Errno> {
    hygiene::tty_probe::tiocsti(pty.slave.as_fd(), byte, entry)?;
    hygiene::tty_probe::tiocsti(pty.slave.as_fd(), b'\n', entry)
}

fn all_entries() -> Vec<IoctlEntry> {
    let mut v = vec![IoctlEntry::Native, IoctlEntry::NativeHighBits];
    if cfg!(target_arch = "x86_64") {
        v.push(IoctlEntry::I386);
        v.push(IoctlEntry::I386HighBits);
    }
    v
}

#[test]
fn harden_tty_blocks_tiocsti_and_tioclinux() {
    in_child(|| {
        with_controlling_pty(|pty| {
            // Control: injection works through every entry point, including
            // garbage in the upper 32 bits of the request (root may inject
            // into any terminal).
            let mut expected = Vec::new();
            for (i, entry) in all_entries().into_iter().enumerate() {
                let c = b'a' + i as u8;
                inject_line(pty, c, entry).map_err(|e| format!("control {entry:?}: {e}"))?;
                expected.extend_from_slice(&[c, b'\n']);
            }
            let got = pending_input(pty);
            check(got == expected, || format!("control injected {got:?}"))?;

            hygiene::tty::harden_tty().map_err(|e| e.to_string())?;
            for entry in all_entries() {
                let e = inject_line(pty, b'X', entry);
                check(e == Err(Errno::PERM), || {
                    format!("TIOCSTI via {entry:?}: {e:?}")
                })?;
                let e = hygiene::tty_probe::tioclinux(pty.slave.as_fd(), 3, entry);
                check(e == Err(Errno::PERM), || {
                    format!("TIOCLINUX via {entry:?}: {e:?}")
                })?;
            }
            let got = pending_input(pty);
            check(got.is_empty(), || {
                format!("injected after hardening: {got:?}")
            })?;
            // Other terminal ioctls still work.
            rustix::termios::tcgetattr(&pty.slave).map_err(|e| format!("tcgetattr: {e}"))?;
            Ok(())
        })
    });
}

/// Why the terminal-injection filter masks the request on the i386 entry
/// too: a 64-bit process entering through `int 0x80` hands seccomp the
/// whole of `rcx`, although the compat `ioctl` reads only `ecx`. A filter
/// that looks at the upper half of i386 argument 1 sees the garbage.
#[test]
fn seccomp_sees_the_upper_half_of_i386_arguments() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let p = [
        SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_ARCH),
        SockFilter::jump(bpf::JMP_JEQ_K, bpf::AUDIT_ARCH_I386, 1, 0),
        SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW),
        SockFilter::stmt(bpf::LD_W_ABS, bpf::data_arg_high(1)),
        SockFilter::jump(bpf::JMP_JEQ_K, 0, 0, 1),
        SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW),
        SockFilter::stmt(bpf::RET_K, bpf::ret_errno(libc::EACCES as u16)),
    ];
    let prog = snapcell_core::seccomp::SeccompProgram::builtin(
        "upper-half",
        vec![(
            FilterRole::Builtin("upper-half"),
            bpf::BpfProgram::new(p.to_vec()).unwrap(),
        )],
    );
    in_child(|| {
        let pty = open_pty()?;
        rustix::thread::set_no_new_privs(true).map_err(|e| e.to_string())?;
        prog.install().map_err(|e| e.to_string())?;
        // TIOCSTI on a terminal that is not ours: the kernel says EPERM
        // (or injects, as root); the upper half makes the filter say EACCES.
        let e = hygiene::tty_probe::tiocsti(pty.slave.as_fd(), b'x', IoctlEntry::I386HighBits);
        check(e == Err(Errno::ACCESS), || {
            format!("i386 with the upper half set: {e:?}")
        })?;
        let e = hygiene::tty_probe::tiocsti(pty.slave.as_fd(), b'x', IoctlEntry::I386);
        check(e != Err(Errno::ACCESS), || format!("i386: {e:?}"))
    });
}

#[test]
fn harden_tty_as_the_real_user_after_the_drop() {
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").unwrap_or_default();
    if legacy.trim() == "1" {
        // Control: an ordinary user can inject into their controlling
        // terminal on this kernel.
        in_child(|| {
            with_controlling_pty(|pty| {
                simulate_setuid_invocation()?;
                let _dropped =
                    creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
                inject_line(pty, b'u', IoctlEntry::NativeHighBits)
                    .map_err(|e| format!("control: {e}"))?;
                let got = pending_input(pty);
                check(got == b"u\n", || format!("control injected {got:?}"))
            })
        });
    }
    in_child(|| {
        with_controlling_pty(|pty| {
            simulate_setuid_invocation()?;
            let mut d =
                creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
            hygiene::tty::harden_tty().map_err(|e| e.to_string())?;
            d.release_sys_admin().map_err(|e| e.to_string())?;
            for entry in all_entries() {
                let e = inject_line(pty, b'X', entry);
                check(e == Err(Errno::PERM), || {
                    format!("TIOCSTI via {entry:?}: {e:?}")
                })?;
            }
            check(pending_input(pty).is_empty(), || "injected".into())
        })
    });
}

// ---------------------------------------------------------------------------
// Landlock

/// A process outside any sandbox, killed and reaped when dropped (and
/// killed by the kernel should the test process die first).
struct Outside(Pid);

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(self.0, rustix::process::Signal::KILL);
        wait(self.0);
    }
}

/// `as_nobody` makes it a dumpable uid-65534 process.
fn outside_process(as_nobody: bool) -> Outside {
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let pid = fork_child(move || {
        if rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .is_err()
        {
            return 1;
        }
        if as_nobody {
            let g = rustix::process::Gid::from_raw(NOBODY);
            let u = rustix::process::Uid::from_raw(NOBODY);
            if set_thread_groups(&[]).is_err()
                || set_thread_res_gid(g, g, g).is_err()
                || set_thread_res_uid(u, u, u).is_err()
                || hygiene::set_dumpable(true).is_err()
            {
                return 1;
            }
        }
        let _ = rustix::io::write(&ready_w, b"r");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    })
    .unwrap();
    let outside = Outside(pid);
    let mut b = [0u8; 1];
    assert_eq!(
        rustix::io::read(&ready_r, &mut b).unwrap(),
        1,
        "outside process did not start"
    );
    outside
}

fn proc_access(pid: Pid) -> (Option<i32>, Option<i32>) {
    let p = pid.as_raw_nonzero();
    let root = errno_of(std::fs::read(format!("/proc/{p}/root/etc/passwd")));
    let cwd = errno_of(std::fs::read_link(format!("/proc/{p}/cwd")));
    (root, cwd)
}

#[test]
fn landlock_blocks_proc_root_of_outside_processes() {
    let outside = outside_process(false);
    let outside_pid = outside.0;
    in_child(|| {
        let before = proc_access(outside_pid);
        check(before == (None, None), || format!("before: {before:?}"))?;
        let status = restrict_self_minimal().map_err(|e| e.to_string())?;
        check(status.ruleset == RulesetStatus::FullyEnforced, || {
            format!("{status:?}")
        })?;
        check(!status.no_new_privs, || "no_new_privs was set".into())?;
        let after = proc_access(outside_pid);
        check(after == (Some(libc::EACCES), Some(libc::EACCES)), || {
            format!("after: {after:?}")
        })?;
        // Our own /proc entries and the file system are untouched.
        std::fs::read("/proc/self/root/etc/passwd").map_err(|e| format!("own root: {e}"))?;
        std::fs::read("/etc/passwd").map_err(|e| format!("read: {e}"))?;
        Ok(())
    });
    drop(outside);
}

#[test]
fn landlock_as_the_real_user_with_kept_cap_sys_admin() {
    let outside = outside_process(true);
    let outside_pid = outside.0;
    in_child(|| {
        simulate_setuid_invocation()?;
        let mut d = creds::drop_privileges(KeepCapability::SysAdmin).map_err(|e| e.to_string())?;
        let before = proc_access(outside_pid);
        check(before == (None, None), || {
            format!("same-uid access before: {before:?}")
        })?;
        let status = restrict_self_minimal().map_err(|e| e.to_string())?;
        check(status.ruleset == RulesetStatus::FullyEnforced, || {
            format!("{status:?}")
        })?;
        d.release_sys_admin().map_err(|e| e.to_string())?;
        let after = proc_access(outside_pid);
        check(after == (Some(libc::EACCES), Some(libc::EACCES)), || {
            format!("after: {after:?}")
        })
    });
    drop(outside);
}

#[test]
fn landlock_needs_cap_sys_admin_without_no_new_privs() {
    in_child(|| {
        simulate_setuid_invocation()?;
        let _dropped =
            creds::drop_privileges(KeepCapability::Nothing).map_err(|e| e.to_string())?;
        match restrict_self_minimal() {
            Err(e) => check(
                e.to_string()
                    .starts_with("cannot apply the Landlock domain"),
                || e.to_string(),
            ),
            Ok(s) => Err(format!("applied without privileges: {s:?}")),
        }
    });
}
