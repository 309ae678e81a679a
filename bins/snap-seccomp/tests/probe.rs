//! What the filters decide, system call by system call: a probe performs
//! each call with harmless arguments (bad descriptors, NULL pointers) in a
//! forked child that first installs the profile (with `no_new_privs`), and
//! reports allowed (the kernel's own result) / errno / killed. Profiles
//! compiled by ours (`--format=bin` and `.bin2`) and by Debian's snapd 2.57
//! snap-seccomp must decide alike on 2.57's language; the features newer
//! than 2.57 (`~`, `A|B`) are checked against what the research measured
//! for current snapd. No mounts: no world needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::io::Errno;
use rustix::process::{WaitOptions, waitpid};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_core::seccomp::bin2::{parse_bin2, parse_legacy_bin};
use snapcell_sys::fork::fork_child;
use snapcell_sys::seccomp::Install;
use snapcell_test_support::seccomp_probe::{
    Entry, Outcome, Probe, SNAPD, SYSCALL_NUMBERS, X32_SYSCALL_BIT, child_exit_code, probe, probes,
    snapd_257_profile,
};

const OURS: &str = env!("CARGO_BIN_EXE_snap-seccomp");
const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";

fn sys(nr: u64, a: [u64; 6]) -> i64 {
    // SAFETY: every probe passes invalid descriptors, NULL pointers or
    // flags that make the call fail or do nothing; the probe runs in a
    // throwaway child that exits right after.
    let r = unsafe { libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        r
    }
}

/// An i386 system call through `int 0x80` (the compat entry point), the
/// first three arguments as whole 64-bit registers (seccomp sees the upper
/// halves; the compat system call reads the lower ones).
fn sys32(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i32;
    // SAFETY: `int 0x80` enters the kernel's i386 entry; the arguments are
    // as harmless as `sys`'s. Only eax is written back; rbx is saved by hand
    // (LLVM reserves it) and the kernel preserves every other register.
    unsafe {
        std::arch::asm!(
            "xchg rsi, rbx",
            "int 0x80",
            "xchg rsi, rbx",
            inlateout("eax") nr as i32 => ret,
            in("rsi") a[0],
            in("rcx") a[1],
            in("rdx") a[2],
            options(nostack),
        );
    }
    i64::from(ret)
}

/// Make the probe's call in this process.
fn perform(p: &Probe) -> i64 {
    match p.entry {
        Entry::Native => sys(p.nr, p.args),
        Entry::X32 => sys(p.nr | X32_SYSCALL_BIT, p.args),
        Entry::I386 => sys32(p.nr, p.args),
    }
}

#[test]
fn the_shared_probe_list_has_libcs_numbers() {
    use libc::*;
    let libc_numbers: &[(&str, c_long)] = &[
        ("getppid", SYS_getppid),
        ("read", SYS_read),
        ("openat2", SYS_openat2),
        ("ioctl", SYS_ioctl),
        ("mount", SYS_mount),
        ("umount2", SYS_umount2),
        ("ptrace", SYS_ptrace),
        ("bpf", SYS_bpf),
        ("unshare", SYS_unshare),
        ("setns", SYS_setns),
        ("io_uring_setup", SYS_io_uring_setup),
        ("perf_event_open", SYS_perf_event_open),
        ("keyctl", SYS_keyctl),
        ("init_module", SYS_init_module),
        ("socket", SYS_socket),
        ("mknodat", SYS_mknodat),
        ("setpriority", SYS_setpriority),
        ("chown", SYS_chown),
        ("chmod", SYS_chmod),
        ("preadv2", SYS_preadv2),
        ("pwritev2", SYS_pwritev2),
        ("kcmp", SYS_kcmp),
        ("getpid", SYS_getpid),
    ];
    for (name, nr) in SYSCALL_NUMBERS {
        let theirs = libc_numbers.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(*nr, theirs as u64, "{name}");
    }
    use snapcell_test_support::seccomp_probe::{FIONREAD as F, TIOCLINUX as L, TIOCSTI as S};
    assert_eq!((F, S, L), (FIONREAD, TIOCSTI, TIOCLINUX));
}

/// Run `probe` in a child under `program`.
fn outcome(program: &SeccompProgram, probe: &Probe) -> Outcome {
    let pid = fork_child(|| {
        if rustix::thread::set_no_new_privs(true).is_err() || program.install().is_err() {
            return 250;
        }
        child_exit_code(perform(probe))
    })
    .expect("fork");
    let status = loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => break s,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => panic!("waitpid: {e}"),
        }
    };
    if let Some(sig) = status.terminating_signal() {
        return Outcome::Killed(sig);
    }
    match status.exit_status() {
        Some(250) => panic!("cannot install the profile"),
        Some(e) => Outcome::from_exit_code(e),
        None => panic!("child status {status:?}"),
    }
}

fn compile(bin: &str, dir: &Path, name: &str, src: &str, args: &[&str]) -> PathBuf {
    let input = dir.join(format!("{name}.src"));
    let out = dir.join(name);
    std::fs::write(&input, src).unwrap();
    let o = Command::new(bin)
        .arg("compile")
        .args(args)
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{bin} compile {name}: {o:?}");
    out
}

fn load(path: &Path) -> SeccompProgram {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "bin2") {
        parse_bin2(path, &bytes).unwrap()
    } else {
        parse_legacy_bin(path, &bytes).unwrap()
    }
}

#[test]
fn ours_decides_as_snapd_257_on_its_template() {
    if !Path::new(DEBIAN).exists() {
        eprintln!("SKIPPED: {DEBIAN} is not installed");
        return;
    }
    let Some(src) = snapd_257_profile() else {
        eprintln!("SKIPPED: cannot read snapd 2.57's template out of {SNAPD}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let deb = load(&compile(DEBIAN, dir.path(), "deb.bin", &src, &[]));
    let bin = load(&compile(
        OURS,
        dir.path(),
        "ours.bin",
        &src,
        &["--format=bin"],
    ));
    let bin2 = load(&compile(OURS, dir.path(), "ours.bin2", &src, &[]));
    let mut table = String::new();
    let mut differ = Vec::new();
    for p in probes() {
        let (d, b, b2) = (outcome(&deb, &p), outcome(&bin, &p), outcome(&bin2, &p));
        table.push_str(&format!("{:32} {d:?} {b:?} {b2:?}\n", p.name));
        if d != b || d != b2 {
            differ.push(p.name);
        }
    }
    eprintln!("{table}");
    assert!(
        differ.is_empty(),
        "ours and snapd 2.57 differ on {differ:?}\n{table}"
    );
    // A few the research measured for 2.57.
    let by_name = |n: &str| outcome(&bin2, &probe(n));
    assert_eq!(by_name("mount"), Outcome::Errno(libc::EPERM));
    assert_eq!(by_name("i386 mount"), Outcome::Errno(libc::EPERM));
    assert_eq!(by_name("x32 getpid"), Outcome::Killed(libc::SIGSYS));
    assert_eq!(
        by_name("ioctl(-1, TIOCSTI|1<<32)"),
        Outcome::Ran(Some(libc::EBADF))
    );
    assert_eq!(by_name("getppid"), Outcome::Ran(None));
    assert_eq!(by_name("i386 getpid"), Outcome::Ran(None));
}

#[test]
fn deny_lines_and_masks_as_current_snapd() {
    let src = "read\nwrite\nexit_group\nioctl\nchmod\n~ioctl - 4294967295|TIOCSTI\n~chmod - |S_ISUID\n~openat2\n";
    let dir = tempfile::tempdir().unwrap();
    let bin2 = load(&compile(OURS, dir.path(), "p.bin2", src, &[]));
    let bin = load(&compile(OURS, dir.path(), "p.bin", src, &["--format=bin"]));
    let run = |prog: &SeccompProgram, n: &str| outcome(prog, &probe(n));
    // Allowed and denied by `~`: EACCES, also with the upper bits set and
    // through the i386 entry; denied by `~` and not allowed: EPERM (the
    // allow filter, loaded last, has the same action and wins).
    let run2 = |n: &str| run(&bin2, n);
    assert_eq!(run2("ioctl(-1, TIOCSTI)"), Outcome::Errno(libc::EACCES));
    assert_eq!(
        run2("ioctl(-1, TIOCSTI|1<<32)"),
        Outcome::Errno(libc::EACCES)
    );
    assert_eq!(
        run2("i386 ioctl(-1, TIOCSTI)"),
        Outcome::Errno(libc::EACCES)
    );
    assert_eq!(
        run2("i386 ioctl(-1, TIOCSTI|1<<32)"),
        Outcome::Errno(libc::EACCES)
    );
    assert_eq!(run2("ioctl(-1, FIONREAD)"), Outcome::Ran(Some(libc::EBADF)));
    assert_eq!(run2("chmod(NULL, 04755)"), Outcome::Errno(libc::EACCES));
    assert_eq!(run2("mount"), Outcome::Errno(libc::EPERM));
    assert_eq!(run2("openat2"), Outcome::Errno(libc::EPERM));
    assert_eq!(run2("x32 getpid"), Outcome::Killed(libc::SIGSYS));
    // One program (--format=bin): libseccomp lets the `ioctl` and `chmod`
    // allow rules win over their `~` rules (compile warns); a `~` rule on a
    // system call no allow rule names holds.
    assert_eq!(
        run(&bin, "ioctl(-1, TIOCSTI)"),
        Outcome::Ran(Some(libc::EBADF))
    );
    assert_eq!(run(&bin, "openat2"), Outcome::Errno(libc::EACCES));
    assert_eq!(run(&bin, "mount"), Outcome::Errno(libc::EPERM));
}

#[test]
fn format_bin_warns_about_absorbed_deny_rules() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("p.src");
    std::fs::write(&input, "ioctl\n~ioctl - TIOCSTI\n").unwrap();
    let o = Command::new(OURS)
        .args(["compile", "--format=bin"])
        .arg(&input)
        .arg(dir.path().join("p.bin"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "warning: {}:2: the deny rule may have no effect in --format=bin: ioctl is also allowed on line 1\n",
            input.display()
        )
    );
}

#[test]
fn enosys_lines_in_both_formats() {
    // Ours: `@enosys NAME` answers ENOSYS whatever the arguments, in the
    // .bin2 and in the one program of --format=bin; other calls as before.
    let src = "read\nexit_group\n@enosys openat2\n@enosys unshare\n";
    let dir = tempfile::tempdir().unwrap();
    let bin2 = load(&compile(OURS, dir.path(), "p.bin2", src, &[]));
    let bin = load(&compile(OURS, dir.path(), "p.bin", src, &["--format=bin"]));
    for prog in [&bin2, &bin] {
        let run = |n: &str| {
            let p = probes().into_iter().find(|p| p.name == n).unwrap();
            outcome(prog, &p)
        };
        assert_eq!(run("openat2"), Outcome::Ran(Some(libc::ENOSYS)));
        assert_eq!(run("unshare(0)"), Outcome::Ran(Some(libc::ENOSYS)));
        assert_eq!(run("i386 unshare(0)"), Outcome::Ran(Some(libc::ENOSYS)));
        assert_eq!(run("read(-1)"), Outcome::Ran(Some(libc::EBADF)));
        assert_eq!(run("mount"), Outcome::Errno(libc::EPERM));
    }
}
