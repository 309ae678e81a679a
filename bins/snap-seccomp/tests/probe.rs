//! What the filters decide, system call by system call: a probe performs
//! each call with harmless arguments (bad descriptors, NULL pointers) in a
//! forked child that first installs the profile (with `no_new_privs`), and
//! reports allowed (the kernel's own result) / errno / killed. Profiles
//! compiled by ours (`--format=bin` and `.bin2`) and by Debian's snapd 2.57
//! snap-seccomp must decide alike on 2.57's language; the features newer
//! than 2.57 (`~`, `A|B`) are checked against what the research measured
//! for current snapd. No mounts: no world needed.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::{OURS, Outcome, Probe, compile, load, outcome, sys, sys32};
use snapcell_core::seccomp::SeccompProgram;

const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";
const SNAPD: &str = "/usr/lib/snapd/snapd";

const HIGH: u64 = 1 << 32;

fn probes() -> Vec<Probe> {
    use libc::*;
    vec![
        probe!("getppid", sys(SYS_getppid, [0; 6])),
        probe!("read(-1)", sys(SYS_read, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!("openat2", sys(SYS_openat2, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!(
            "ioctl(-1, FIONREAD)",
            sys(SYS_ioctl, [u64::MAX, FIONREAD, 0, 0, 0, 0])
        ),
        probe!(
            "ioctl(-1, TIOCSTI)",
            sys(SYS_ioctl, [u64::MAX, TIOCSTI, 0, 0, 0, 0])
        ),
        probe!(
            "ioctl(-1, TIOCSTI|1<<32)",
            sys(SYS_ioctl, [u64::MAX, TIOCSTI | HIGH, 0, 0, 0, 0])
        ),
        probe!("mount", sys(SYS_mount, [0; 6])),
        probe!("umount2", sys(SYS_umount2, [0; 6])),
        probe!("ptrace(PEEKDATA, 0)", sys(SYS_ptrace, [2, 0, 0, 0, 0, 0])),
        probe!("bpf", sys(SYS_bpf, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!("unshare(0)", sys(SYS_unshare, [0; 6])),
        probe!("setns(-1)", sys(SYS_setns, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!("io_uring_setup", sys(SYS_io_uring_setup, [0; 6])),
        probe!("perf_event_open", sys(SYS_perf_event_open, [0; 6])),
        probe!("keyctl", sys(SYS_keyctl, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!("init_module", sys(SYS_init_module, [0; 6])),
        probe!(
            "socket(AF_NETLINK, ROUTE)",
            sys(SYS_socket, [16, 3, 0, 0, 0, 0])
        ),
        probe!("socket(AF_UNIX, 99)", sys(SYS_socket, [1, 99, 0, 0, 0, 0])),
        probe!(
            "mknodat(S_IFCHR)",
            sys(SYS_mknodat, [u64::MAX, 0, 0o020000, 0, 0, 0])
        ),
        probe!(
            "mknodat(S_IFIFO)",
            sys(SYS_mknodat, [u64::MAX, 0, 0o010000, 0, 0, 0])
        ),
        probe!(
            "setpriority(PROCESS, 1, 10)",
            sys(SYS_setpriority, [0, 1, 10, 0, 0, 0])
        ),
        probe!(
            "setpriority(PROCESS, 0, 25)",
            sys(SYS_setpriority, [0, 0, 25, 0, 0, 0])
        ),
        probe!("chown(NULL, root, root)", sys(SYS_chown, [0; 6])),
        probe!(
            "chown(NULL, 1000, -1)",
            sys(SYS_chown, [0, 1000, u64::MAX, 0, 0, 0])
        ),
        probe!(
            "chmod(NULL, 04755)",
            sys(SYS_chmod, [0, 0o4755, 0, 0, 0, 0])
        ),
        probe!("preadv2(-1)", sys(SYS_preadv2, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!("pwritev2(-1)", sys(SYS_pwritev2, [u64::MAX, 0, 0, 0, 0, 0])),
        probe!(
            "kcmp(0,0,KCMP_FILE)",
            sys(SYS_kcmp, [u64::MAX, u64::MAX, 0, 0, 0, 0])
        ),
        probe!("x32 getpid", sys(SYS_getpid | 0x4000_0000, [0; 6])),
        probe!("i386 getpid", sys32(20, [0; 3])),
        probe!("i386 mount", sys32(21, [0; 3])),
        probe!(
            "i386 ioctl(-1, FIONREAD)",
            sys32(54, [u32::MAX, FIONREAD as u32, 0])
        ),
        probe!(
            "i386 ioctl(-1, TIOCSTI)",
            sys32(54, [u32::MAX, TIOCSTI as u32, 0])
        ),
        probe!("i386 unshare(0)", sys32(310, [0; 3])),
    ]
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
