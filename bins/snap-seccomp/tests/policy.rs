//! snapcell's own policy (`core::seccomp::policy`) compiled by our
//! `snap-seccomp` and installed for real: each probe (a system call with
//! harmless arguments, in a forked child with `no_new_privs`) is allowed or
//! refused as the policy says, under the default profile, under each
//! interface alone and under all of them; refused means EPERM or EACCES,
//! never a kill (apart from the x32 numbers, killed on purpose). And real
//! programs (a static busybox, dash with coreutils, Python with a thread and
//! a child) run under the profile of a snap with no plugs. No mounts: no
//! world needed.

#[macro_use]
mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{OURS, Outcome, Probe, compile, load, outcome, sys, sys32};
use rustix::io::Errno;
use rustix::process::{WaitOptions, waitpid};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_core::seccomp::policy::{Interface, profile_source};
use snapcell_sys::fork::fork_child;
use snapcell_sys::seccomp::Install;

/// What the policy should answer to a probe.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Allowed for every snap.
    Always,
    /// Refused (EPERM or EACCES) whatever is connected.
    Never,
    /// Allowed only with one of these interfaces.
    With(&'static [Interface]),
    /// This exact outcome everywhere.
    Exactly(Outcome),
}

use Interface::*;

/// `CLONE_SIGHAND` without `CLONE_VM`: the kernel refuses it with EINVAL,
/// so a clone the filter lets through creates nothing.
const SIGHAND: u64 = 0x800;

fn cases() -> Vec<(Probe, Expect)> {
    use libc::*;
    const M: u64 = u64::MAX;
    const HIGH: u64 = 1 << 32;
    let mut v = vec![
        // An ordinary program's calls.
        (probe!("getppid", sys(SYS_getppid, [0; 6])), Expect::Always),
        (
            probe!("read(-1)", sys(SYS_read, [M, 0, 0, 0, 0, 0])),
            Expect::Always,
        ),
        (probe!("brk(0)", sys(SYS_brk, [0; 6])), Expect::Always),
        (
            probe!(
                "mmap(anonymous)",
                sys(
                    SYS_mmap,
                    [
                        0,
                        4096,
                        PROT_READ as u64,
                        (MAP_PRIVATE | MAP_ANONYMOUS) as u64,
                        M,
                        0
                    ]
                )
            ),
            Expect::Always,
        ),
        (
            probe!(
                "futex(NULL, WAKE)",
                sys(SYS_futex, [0, FUTEX_WAKE as u64, 1, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!("execve(NULL)", sys(SYS_execve, [0; 6])),
            Expect::Always,
        ),
        (
            probe!("openat(-1, NULL)", sys(SYS_openat, [M, 0, 0, 0, 0, 0])),
            Expect::Always,
        ),
        (
            probe!(
                "clone(CLONE_SIGHAND)",
                sys(SYS_clone, [SIGHAND, 0, 0, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!(
                "socketpair(AF_UNIX, SOCK_STREAM, NULL)",
                sys(
                    SYS_socketpair,
                    [(AF_UNIX) as u64, (SOCK_STREAM) as u64, 0, 0, 0, 0]
                )
            ),
            Expect::Always,
        ),
        (
            probe!(
                "ioctl(-1, FIONREAD)",
                sys(SYS_ioctl, [M, FIONREAD, 0, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!(
                "setpriority(PROCESS, 0, 10)",
                sys(SYS_setpriority, [0, 0, 10, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!(
                "prlimit64(0, NOFILE)",
                sys(SYS_prlimit64, [0, RLIMIT_NOFILE as u64, 0, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!(
                "mknodat(S_IFIFO)",
                sys(SYS_mknodat, [M, 0, 0o010_000, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (
            probe!(
                "chown(NULL, -1, 1000)",
                sys(SYS_chown, [0, M, 1000, 0, 0, 0])
            ),
            Expect::Always,
        ),
        (probe!("i386 getpid", sys32(20, [0; 3])), Expect::Always),
        // Mounts and namespaces.
        (probe!("mount", sys(SYS_mount, [0; 6])), Expect::Never),
        (probe!("umount2", sys(SYS_umount2, [0; 6])), Expect::Never),
        (
            probe!("pivot_root", sys(SYS_pivot_root, [0; 6])),
            Expect::Never,
        ),
        (probe!("fsopen", sys(SYS_fsopen, [0; 6])), Expect::Never),
        (
            probe!("open_tree", sys(SYS_open_tree, [M, 0, 0, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("move_mount", sys(SYS_move_mount, [M, 0, M, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("unshare(0)", sys(SYS_unshare, [0; 6])),
            Expect::Never,
        ),
        (probe!("i386 unshare(0)", sys32(310, [0; 3])), Expect::Never),
        (probe!("i386 mount", sys32(21, [0; 3])), Expect::Never),
        (
            probe!("setns(-1)", sys(SYS_setns, [M, 0, 0, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("chroot(NULL)", sys(SYS_chroot, [0; 6])),
            Expect::Never,
        ),
        // clone3's flags are behind a pointer: as if the kernel lacked it.
        (
            probe!("clone3(NULL)", sys(SYS_clone3, [0; 6])),
            Expect::Exactly(Outcome::Ran(Some(ENOSYS))),
        ),
        // Debugging, kernel code, kernel subsystems.
        (
            probe!("ptrace(PEEKDATA, 0)", sys(SYS_ptrace, [2, 0, 0, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("process_vm_readv(0)", sys(SYS_process_vm_readv, [0; 6])),
            Expect::Never,
        ),
        (
            probe!("init_module", sys(SYS_init_module, [0; 6])),
            Expect::Never,
        ),
        (
            probe!(
                "finit_module(-1)",
                sys(SYS_finit_module, [M, 0, 0, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!("delete_module(NULL)", sys(SYS_delete_module, [0; 6])),
            Expect::Never,
        ),
        (
            probe!("bpf", sys(SYS_bpf, [M, 0, 0, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("perf_event_open", sys(SYS_perf_event_open, [0; 6])),
            Expect::Never,
        ),
        (
            probe!("io_uring_setup", sys(SYS_io_uring_setup, [0; 6])),
            Expect::Never,
        ),
        (
            probe!(
                "io_uring_enter(-1)",
                sys(SYS_io_uring_enter, [M, 0, 0, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!("keyctl", sys(SYS_keyctl, [M, 0, 0, 0, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("add_key(NULL)", sys(SYS_add_key, [0; 6])),
            Expect::Never,
        ),
        (
            probe!("request_key(NULL)", sys(SYS_request_key, [0; 6])),
            Expect::Never,
        ),
        (
            probe!(
                "userfaultfd(bad flags)",
                sys(SYS_userfaultfd, [M, 0, 0, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!("reboot(bad magic)", sys(SYS_reboot, [0; 6])),
            Expect::Never,
        ),
        (
            probe!("mq_open(NULL)", sys(SYS_mq_open, [0; 6])),
            Expect::Never,
        ),
        // What the default refuses with EACCES or EPERM, and the x32 kill.
        (
            probe!("openat2", sys(SYS_openat2, [M, 0, 0, 0, 0, 0])),
            Expect::Exactly(Outcome::Errno(EPERM)),
        ),
        (
            probe!(
                "chmod(NULL, 04755)",
                sys(SYS_chmod, [0, 0o4755, 0, 0, 0, 0])
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe!(
                "openat(O_CREAT, 02755)",
                sys(SYS_openat, [M, 0, O_CREAT as u64, 0o2755, 0, 0])
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe!(
                "ioctl(-1, TIOCSTI|1<<32)",
                sys(SYS_ioctl, [M, TIOCSTI | HIGH, 0, 0, 0, 0])
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe!(
                "i386 ioctl(-1, TIOCLINUX)",
                sys32(54, [u32::MAX, 0x541C, 0])
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe!(
                "pipe2(NULL, O_NOTIFICATION_PIPE)",
                sys(SYS_pipe2, [0, O_EXCL as u64, 0, 0, 0, 0])
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe!(
                "mknodat(S_IFCHR)",
                sys(SYS_mknodat, [M, 0, 0o020_000, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!(
                "mknodat(S_IFBLK)",
                sys(SYS_mknodat, [M, 0, 0o060_000, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!(
                "setpriority(PROCESS, 2147483647, 10)",
                sys(SYS_setpriority, [0, 0x7fff_ffff, 10, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!(
                "chown(NULL, 1000, -1)",
                sys(SYS_chown, [0, 1000, M, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!("x32 getpid", sys(SYS_getpid | 0x4000_0000, [0; 6])),
            Expect::Exactly(Outcome::Killed(SIGSYS)),
        ),
        // What the interfaces grant.
        (
            probe!(
                "socket(AF_INET, SOCK_STREAM)",
                sys(
                    SYS_socket,
                    [(AF_INET) as u64, (SOCK_STREAM) as u64, 0, 0, 0, 0]
                )
            ),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            probe!(
                "socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK)",
                sys(
                    SYS_socket,
                    [
                        (AF_INET6) as u64,
                        (SOCK_STREAM | SOCK_NONBLOCK) as u64,
                        0,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            probe!(
                "socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC)",
                sys(
                    SYS_socket,
                    [
                        (AF_INET) as u64,
                        (SOCK_DGRAM | SOCK_CLOEXEC) as u64,
                        0,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[Network, NetworkBind, NetworkObserve]),
        ),
        (
            probe!(
                "socket(AF_INET, SOCK_RAW, ICMP)",
                sys(
                    SYS_socket,
                    [
                        (AF_INET) as u64,
                        (SOCK_RAW) as u64,
                        IPPROTO_ICMP as u64,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::Never,
        ),
        (
            probe!(
                "socket(AF_PACKET, SOCK_RAW)",
                sys(
                    SYS_socket,
                    [(AF_PACKET) as u64, (SOCK_RAW) as u64, 0, 0, 0, 0]
                )
            ),
            Expect::Never,
        ),
        (
            probe!(
                "socket(AF_NETLINK, NETLINK_ROUTE)",
                sys(
                    SYS_socket,
                    [
                        (AF_NETLINK) as u64,
                        (SOCK_RAW) as u64,
                        NETLINK_ROUTE as u64,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[NetworkObserve]),
        ),
        (
            probe!(
                "socket(AF_NETLINK, NETLINK_SOCK_DIAG)",
                sys(
                    SYS_socket,
                    [
                        (AF_NETLINK) as u64,
                        (SOCK_DGRAM) as u64,
                        NETLINK_SOCK_DIAG as u64,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[NetworkObserve]),
        ),
        (
            probe!(
                "socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)",
                sys(
                    SYS_socket,
                    [
                        (AF_NETLINK) as u64,
                        (SOCK_RAW) as u64,
                        NETLINK_KOBJECT_UEVENT as u64,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[Camera]),
        ),
        (
            probe!(
                "socket(AF_NETLINK, NETLINK_AUDIT)",
                sys(
                    SYS_socket,
                    [
                        (AF_NETLINK) as u64,
                        (SOCK_RAW) as u64,
                        NETLINK_AUDIT as u64,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::Never,
        ),
        (
            probe!(
                "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)",
                sys(
                    SYS_socket,
                    [
                        (AF_UNIX) as u64,
                        (SOCK_STREAM | SOCK_CLOEXEC) as u64,
                        0,
                        0,
                        0,
                        0
                    ]
                )
            ),
            Expect::With(&[AudioPlayback, X11, Wayland, Desktop]),
        ),
        (
            probe!(
                "socket(AF_UNIX, SOCK_DGRAM)",
                sys(
                    SYS_socket,
                    [(AF_UNIX) as u64, (SOCK_DGRAM) as u64, 0, 0, 0, 0]
                )
            ),
            Expect::Never,
        ),
        (
            probe!("bind(-1)", sys(SYS_bind, [M, 0, 0, 0, 0, 0])),
            Expect::With(&[NetworkBind, NetworkObserve, Camera]),
        ),
        (
            probe!("listen(-1)", sys(SYS_listen, [M, 0, 0, 0, 0, 0])),
            Expect::With(&[NetworkBind]),
        ),
        (
            probe!("accept(-1)", sys(SYS_accept, [M, 0, 0, 0, 0, 0])),
            Expect::With(&[NetworkBind]),
        ),
        (
            probe!("accept4(-1)", sys(SYS_accept4, [M, 0, 0, 0, 0, 0])),
            Expect::With(&[NetworkBind]),
        ),
        (
            probe!(
                "kcmp(-1, -1, KCMP_FILE)",
                sys(SYS_kcmp, [0x7fff_ffff, 0x7fff_ffff, 0, 0, 0, 0])
            ),
            Expect::With(&[Opengl]),
        ),
        (
            probe!(
                "kcmp(-1, -1, KCMP_VM)",
                sys(SYS_kcmp, [0x7fff_ffff, 0x7fff_ffff, 1, 0, 0, 0])
            ),
            Expect::Never,
        ),
        (
            probe!(
                "shmctl(-1, IPC_STAT)",
                sys(SYS_shmctl, [M, IPC_STAT as u64, 0, 0, 0, 0])
            ),
            Expect::With(&[X11]),
        ),
    ];
    // The i386 entry: the direct socket calls with their arguments checked,
    // and the socketcall multiplexer (arguments behind a pointer) refused.
    v.extend([
        (
            probe!("i386 socket(AF_INET, SOCK_STREAM)", sys32(359, [2, 1, 0])),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            probe!("i386 socket(AF_UNIX, SOCK_STREAM)", sys32(359, [1, 1, 0])),
            Expect::With(&[AudioPlayback, X11, Wayland, Desktop]),
        ),
        (
            probe!("i386 socket(AF_PACKET, SOCK_RAW)", sys32(359, [17, 3, 0])),
            Expect::Never,
        ),
        (
            probe!("i386 bind(-1)", sys32(361, [u32::MAX, 0, 0])),
            Expect::With(&[NetworkBind, NetworkObserve, Camera]),
        ),
        (
            probe!("i386 socketcall(SOCKET, NULL)", sys32(102, [1, 0, 0])),
            Expect::Never,
        ),
        (
            probe!("i386 clone3(NULL)", sys32(435, [0, 0, 0])),
            Expect::Exactly(Outcome::Ran(Some(ENOSYS))),
        ),
    ]);
    // clone with each namespace flag (and CLONE_SIGHAND, which makes the
    // kernel refuse it, should the filter not).
    v.extend(
        [
            probe!(
                "clone(CLONE_NEWNS)",
                sys(SYS_clone, [0x0002_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWCGROUP)",
                sys(SYS_clone, [0x0200_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWUTS)",
                sys(SYS_clone, [0x0400_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWIPC)",
                sys(SYS_clone, [0x0800_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWUSER)",
                sys(SYS_clone, [0x1000_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWPID)",
                sys(SYS_clone, [0x2000_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
            probe!(
                "clone(CLONE_NEWNET)",
                sys(SYS_clone, [0x4000_0000 | SIGHAND, 0, 0, 0, 0, 0])
            ),
        ]
        .map(|p| (p, Expect::Never)),
    );
    v.push((
        probe!("i386 clone(CLONE_NEWUSER)", sys32(120, [0x1000_0800, 0, 0])),
        Expect::Never,
    ));
    v
}

fn policy(dir: &Path, name: &str, interfaces: &[Interface]) -> SeccompProgram {
    let src = profile_source(interfaces);
    load(&compile(OURS, dir, &format!("{name}.bin2"), &src, &[]))
}

/// The answers the policy for `connected` gives, checked against the
/// expectations; a table of every mismatch.
fn check(program: &SeccompProgram, connected: &[Interface]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (probe, expect) in cases() {
        let got = outcome(program, &probe);
        let refused = matches!(got, Outcome::Errno(libc::EPERM | libc::EACCES));
        let ok = match expect {
            Expect::Always => matches!(got, Outcome::Ran(_)),
            Expect::Never => refused,
            Expect::With(by) => {
                if connected.iter().any(|i| by.contains(i)) {
                    matches!(got, Outcome::Ran(_))
                } else {
                    refused
                }
            }
            Expect::Exactly(want) => got == want,
        };
        if !ok {
            wrong.push(format!("{:44} {got:?}, expected {expect:?}", probe.name));
        }
    }
    wrong
}

#[test]
fn no_plugs_runs_calls_of_ordinary_programs_and_nothing_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let wrong = check(&program, &[]);
    assert!(wrong.is_empty(), "no plugs:\n{}", wrong.join("\n"));
}

#[test]
fn each_interface_grants_its_calls_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for i in Interface::ALL {
        let program = policy(dir.path(), i.name(), &[i]);
        wrong.extend(
            check(&program, &[i])
                .into_iter()
                .map(|w| format!("{}: {w}", i.name())),
        );
    }
    let program = policy(dir.path(), "all", &Interface::ALL);
    wrong.extend(
        check(&program, &Interface::ALL)
            .into_iter()
            .map(|w| format!("all: {w}")),
    );
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// Run a program with the profile installed (and `no_new_privs`) between
/// fork and exec; its status and output.
fn run_under(program: &SeccompProgram, argv: &[&str]) -> std::process::Output {
    let program = program.clone();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    // SAFETY: the closure runs in the forked child before exec; it makes
    // two system calls (prctl, seccomp) on memory the parent prepared and
    // allocates nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            rustix::thread::set_no_new_privs(true)?;
            program
                .install()
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        });
    }
    cmd.output().expect("spawn")
}

fn present(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    eprintln!("SKIPPED: {path} is not installed");
    false
}

#[test]
fn ordinary_programs_run_without_plugs() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let text = |o: &std::process::Output| {
        format!(
            "{}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // A static busybox: its shell, a pipeline, applets.
    if present("/bin/busybox") {
        let o = run_under(
            &program,
            &[
                "/bin/busybox",
                "sh",
                "-c",
                "echo hello; busybox ls / >/dev/null && busybox cat /etc/passwd >/dev/null; busybox seq 3 | busybox wc -l",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "hello\n3\n",
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // dash and dynamically linked coreutils: fork, exec, pipes, files.
    if present("/bin/dash") {
        let script = format!(
            "ls -l / | sort -r | head -n 3 >/dev/null && date +%Y >/dev/null && \
             mkdir {d}/x && echo data >{d}/x/f && cp -p {d}/x/f {d}/x/g && mkfifo {d}/x/p && \
             cat {d}/x/g && rm -r {d}/x && id -u",
            d = dir.path().display()
        );
        let o = run_under(&program, &["/bin/dash", "-c", &script]);
        let uid = rustix::process::getuid().as_raw();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("data\n{uid}\n"),
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // Python: threads (glibc's pthread_create tries clone3, gets ENOSYS,
    // falls back to clone) and a child process.
    if present("/usr/bin/python3") {
        let o = run_under(
            &program,
            &[
                "/usr/bin/python3",
                "-I",
                "-c",
                "import threading, subprocess\n\
                 out = []\n\
                 t = threading.Thread(target=lambda: out.append('thread'))\n\
                 t.start(); t.join()\n\
                 print(out[0], subprocess.run(['/bin/true']).returncode)",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "thread 0\n",
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // What the profile refuses, seen from real programs.
    if present("/usr/bin/unshare") {
        let o = run_under(&program, &["/usr/bin/unshare", "--user", "/bin/true"]);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
            "{}",
            text(&o)
        );
    }
    if present("/bin/busybox") {
        let o = run_under(
            &program,
            &[
                "/bin/busybox",
                "mount",
                "-t",
                "tmpfs",
                "none",
                "/nonexistent-snapcell",
            ],
        );
        assert!(!o.status.success(), "{}", text(&o));
    }
}

#[test]
fn threads_and_children_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let pid = fork_child(|| {
        if rustix::thread::set_no_new_privs(true).is_err() || program.install().is_err() {
            return 250;
        }
        match std::thread::Builder::new().spawn(|| 7).map(|t| t.join()) {
            Ok(Ok(7)) => {}
            _ => return 10,
        }
        match Command::new("/bin/true").status() {
            Ok(s) if s.success() => 0,
            _ => 11,
        }
    })
    .expect("fork");
    let status = loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => break s,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => panic!("waitpid: {e}"),
        }
    };
    assert_eq!(
        status.exit_status(),
        Some(0),
        "{status:?} (10: thread, 11: child)"
    );
}
