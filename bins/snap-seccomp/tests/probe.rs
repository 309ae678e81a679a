//! What the filters decide, system call by system call: a probe performs
//! each call with harmless arguments (bad descriptors, NULL pointers) in a
//! forked child that first installs the profile (with `no_new_privs`), and
//! reports allowed (the kernel's own result) / errno / killed. Profiles
//! compiled by ours (`--format=bin` and `.bin2`) and by Debian's snapd 2.57
//! snap-seccomp must decide alike on 2.57's language; the features newer
//! than 2.57 (`~`, `A|B`) are checked against what the research measured
//! for current snapd. No mounts: no world needed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{OURS, compile, load, outcome};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_test_support::seccomp_probe::{
    CONSTANTS, Outcome, SNAPD, SYSCALL_NUMBERS, probe, probes, snapd_257_profile,
};

const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";

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
        ("brk", SYS_brk),
        ("mmap", SYS_mmap),
        ("futex", SYS_futex),
        ("execve", SYS_execve),
        ("openat", SYS_openat),
        ("clone", SYS_clone),
        ("socketpair", SYS_socketpair),
        ("prlimit64", SYS_prlimit64),
        ("pivot_root", SYS_pivot_root),
        ("fsopen", SYS_fsopen),
        ("open_tree", SYS_open_tree),
        ("move_mount", SYS_move_mount),
        ("chroot", SYS_chroot),
        ("clone3", SYS_clone3),
        ("process_vm_readv", SYS_process_vm_readv),
        ("finit_module", SYS_finit_module),
        ("delete_module", SYS_delete_module),
        ("io_uring_enter", SYS_io_uring_enter),
        ("add_key", SYS_add_key),
        ("request_key", SYS_request_key),
        ("userfaultfd", SYS_userfaultfd),
        ("reboot", SYS_reboot),
        ("mq_open", SYS_mq_open),
        ("pipe2", SYS_pipe2),
        ("bind", SYS_bind),
        ("listen", SYS_listen),
        ("accept", SYS_accept),
        ("accept4", SYS_accept4),
        ("shmctl", SYS_shmctl),
    ];
    for (name, nr) in SYSCALL_NUMBERS {
        let theirs = libc_numbers.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(*nr, theirs as u64, "{name}");
    }
    use snapcell_test_support::seccomp_probe::{FIONREAD as F, TIOCLINUX as L, TIOCSTI as S};
    assert_eq!((F, S, L), (FIONREAD, TIOCSTI, TIOCLINUX));
    let libc_constants: &[(&str, u64)] = &[
        ("FIONREAD", FIONREAD),
        ("TIOCSTI", TIOCSTI),
        ("TIOCLINUX", TIOCLINUX),
        ("PROT_READ", PROT_READ as u64),
        ("MAP_PRIVATE", MAP_PRIVATE as u64),
        ("MAP_ANONYMOUS", MAP_ANONYMOUS as u64),
        ("FUTEX_WAKE", FUTEX_WAKE as u64),
        ("RLIMIT_NOFILE", RLIMIT_NOFILE as u64),
        ("AF_UNIX", AF_UNIX as u64),
        ("AF_INET", AF_INET as u64),
        ("AF_INET6", AF_INET6 as u64),
        ("AF_NETLINK", AF_NETLINK as u64),
        ("AF_PACKET", AF_PACKET as u64),
        ("SOCK_STREAM", SOCK_STREAM as u64),
        ("SOCK_DGRAM", SOCK_DGRAM as u64),
        ("SOCK_RAW", SOCK_RAW as u64),
        ("SOCK_NONBLOCK", SOCK_NONBLOCK as u64),
        ("SOCK_CLOEXEC", SOCK_CLOEXEC as u64),
        ("IPPROTO_ICMP", IPPROTO_ICMP as u64),
        ("NETLINK_ROUTE", NETLINK_ROUTE as u64),
        ("NETLINK_SOCK_DIAG", NETLINK_SOCK_DIAG as u64),
        ("NETLINK_AUDIT", NETLINK_AUDIT as u64),
        ("NETLINK_KOBJECT_UEVENT", NETLINK_KOBJECT_UEVENT as u64),
        ("O_CREAT", O_CREAT as u64),
        ("O_EXCL", O_EXCL as u64),
        ("IPC_STAT", IPC_STAT as u64),
        ("EPERM", EPERM as u64),
        ("EACCES", EACCES as u64),
        ("ENOSYS", ENOSYS as u64),
        ("SIGSYS", SIGSYS as u64),
    ];
    for (name, value) in CONSTANTS {
        let theirs = libc_constants.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(*value, theirs, "{name}");
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
