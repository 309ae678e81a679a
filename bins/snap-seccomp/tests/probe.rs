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

const OURS: &str = env!("CARGO_BIN_EXE_snap-seccomp");
const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";
const SNAPD: &str = "/usr/lib/snapd/snapd";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The call reached the kernel: its return was not an error, or the
    /// error is the kernel's (given).
    Ran(Option<i32>),
    /// The filter (or the kernel) failed it with this errno. (A kernel
    /// EPERM/EACCES is reported here too; the probes avoid them.)
    Errno(i32),
    Killed(i32),
}

/// One probe: a name and the raw call, returning the result or `-errno`.
struct Probe {
    name: &'static str,
    call: fn() -> i64,
}

fn sys(nr: i64, a: [u64; 6]) -> i64 {
    // SAFETY: every probe passes invalid descriptors, NULL pointers or
    // flags that make the call fail or do nothing; the probe runs in a
    // throwaway child that exits right after.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        r
    }
}

/// An i386 system call through `int 0x80` (the compat entry point).
fn sys32(nr: u32, a: [u32; 3]) -> i64 {
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
            in("rsi") u64::from(a[0]),
            in("ecx") a[1],
            in("edx") a[2],
            options(nostack),
        );
    }
    i64::from(ret)
}

const HIGH: u64 = 1 << 32;

fn probes() -> Vec<Probe> {
    use libc::*;
    macro_rules! p {
        ($name:expr, $e:expr) => {
            Probe {
                name: $name,
                call: || $e,
            }
        };
    }
    vec![
        p!("getppid", sys(SYS_getppid, [0; 6])),
        p!("read(-1)", sys(SYS_read, [u64::MAX, 0, 0, 0, 0, 0])),
        p!("openat2", sys(SYS_openat2, [u64::MAX, 0, 0, 0, 0, 0])),
        p!(
            "ioctl(-1, FIONREAD)",
            sys(SYS_ioctl, [u64::MAX, FIONREAD, 0, 0, 0, 0])
        ),
        p!(
            "ioctl(-1, TIOCSTI)",
            sys(SYS_ioctl, [u64::MAX, TIOCSTI, 0, 0, 0, 0])
        ),
        p!(
            "ioctl(-1, TIOCSTI|1<<32)",
            sys(SYS_ioctl, [u64::MAX, TIOCSTI | HIGH, 0, 0, 0, 0])
        ),
        p!("mount", sys(SYS_mount, [0; 6])),
        p!("umount2", sys(SYS_umount2, [0; 6])),
        p!("ptrace(PEEKDATA, 0)", sys(SYS_ptrace, [2, 0, 0, 0, 0, 0])),
        p!("bpf", sys(SYS_bpf, [u64::MAX, 0, 0, 0, 0, 0])),
        p!("unshare(0)", sys(SYS_unshare, [0; 6])),
        p!("setns(-1)", sys(SYS_setns, [u64::MAX, 0, 0, 0, 0, 0])),
        p!("io_uring_setup", sys(SYS_io_uring_setup, [0; 6])),
        p!("perf_event_open", sys(SYS_perf_event_open, [0; 6])),
        p!("keyctl", sys(SYS_keyctl, [u64::MAX, 0, 0, 0, 0, 0])),
        p!("init_module", sys(SYS_init_module, [0; 6])),
        p!(
            "socket(AF_NETLINK, ROUTE)",
            sys(SYS_socket, [16, 3, 0, 0, 0, 0])
        ),
        p!("socket(AF_UNIX, 99)", sys(SYS_socket, [1, 99, 0, 0, 0, 0])),
        p!(
            "mknodat(S_IFCHR)",
            sys(SYS_mknodat, [u64::MAX, 0, 0o020000, 0, 0, 0])
        ),
        p!(
            "mknodat(S_IFIFO)",
            sys(SYS_mknodat, [u64::MAX, 0, 0o010000, 0, 0, 0])
        ),
        p!(
            "setpriority(PROCESS, 1, 10)",
            sys(SYS_setpriority, [0, 1, 10, 0, 0, 0])
        ),
        p!(
            "setpriority(PROCESS, 0, 25)",
            sys(SYS_setpriority, [0, 0, 25, 0, 0, 0])
        ),
        p!("chown(NULL, root, root)", sys(SYS_chown, [0; 6])),
        p!(
            "chown(NULL, 1000, -1)",
            sys(SYS_chown, [0, 1000, u64::MAX, 0, 0, 0])
        ),
        p!(
            "chmod(NULL, 04755)",
            sys(SYS_chmod, [0, 0o4755, 0, 0, 0, 0])
        ),
        p!("preadv2(-1)", sys(SYS_preadv2, [u64::MAX, 0, 0, 0, 0, 0])),
        p!("pwritev2(-1)", sys(SYS_pwritev2, [u64::MAX, 0, 0, 0, 0, 0])),
        p!(
            "kcmp(0,0,KCMP_FILE)",
            sys(SYS_kcmp, [u64::MAX, u64::MAX, 0, 0, 0, 0])
        ),
        p!("x32 getpid", sys(SYS_getpid | 0x4000_0000, [0; 6])),
        p!("i386 getpid", sys32(20, [0; 3])),
        p!("i386 mount", sys32(21, [0; 3])),
        p!(
            "i386 ioctl(-1, FIONREAD)",
            sys32(54, [u32::MAX, FIONREAD as u32, 0])
        ),
        p!(
            "i386 ioctl(-1, TIOCSTI)",
            sys32(54, [u32::MAX, TIOCSTI as u32, 0])
        ),
        p!("i386 unshare(0)", sys32(310, [0; 3])),
    ]
}

/// Run `probe` in a child under `program`.
fn outcome(program: &SeccompProgram, probe: &Probe) -> Outcome {
    let pid = fork_child(|| {
        if rustix::thread::set_no_new_privs(true).is_err() || program.install().is_err() {
            return 250;
        }
        let r = (probe.call)();
        if r >= 0 {
            return 200;
        }
        (-r).min(199) as i32
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
        Some(200) => Outcome::Ran(None),
        Some(250) => panic!("cannot install the profile"),
        Some(e) if e == libc::EPERM || e == libc::EACCES => Outcome::Errno(e),
        Some(e) => Outcome::Ran(Some(e)),
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

/// snapd 2.57's default template, read out of the installed snapd.
fn template_257() -> Option<String> {
    let data = std::fs::read(SNAPD).ok()?;
    let start = b"# Description: Allows access to app-specific directories and basic runtime\n#\n# The default seccomp";
    let i = data.windows(start.len()).position(|w| w == start)?;
    let rest = &data[i..];
    let end = rest
        .iter()
        .position(|&b| !(b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b)))?;
    let text = String::from_utf8(rest[..end].to_vec()).ok()?;
    text.ends_with("pwritev\n").then_some(text)
}

#[test]
fn ours_decides_as_snapd_257_on_its_template() {
    if !Path::new(DEBIAN).exists() {
        eprintln!("SKIPPED: {DEBIAN} is not installed");
        return;
    }
    let Some(template) = template_257() else {
        eprintln!("SKIPPED: cannot read snapd 2.57's template out of {SNAPD}");
        return;
    };
    // The template plus what generateContent appends without system users
    // and without AppArmor (the bare privilege-drop rules and bind).
    let src = format!(
        "# snap-seccomp version information:\n# x\n{template}\nsetgid\nsetgid32\nsetregid\nsetregid32\nsetresgid\nsetresgid32\nsetresuid\nsetresuid32\nsetreuid\nsetreuid32\nsetuid\nsetuid32\nbind\n"
    );
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
    let by_name = |n: &str| {
        let p = probes().into_iter().find(|p| p.name == n).unwrap();
        outcome(&bin2, &p)
    };
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
    let run = |prog: &SeccompProgram, n: &str| {
        let p = probes().into_iter().find(|p| p.name == n).unwrap();
        outcome(prog, &p)
    };
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
