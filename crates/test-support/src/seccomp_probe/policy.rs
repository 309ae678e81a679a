//! The probes for snapcell's own policy (`core::seccomp::policy`) and what
//! the policy should answer to each ([`Expect`]), checked by
//! `bins/snap-seccomp/tests/policy.rs` under the default profile, each
//! interface alone and all of them. A probe that is also in
//! [`probes`](super::probes) is taken from there.

use snapcell_core::seccomp::policy::Interface::{self, *};

use super::numbers::*;
use super::{Outcome, Probe, probe};

/// What the policy should answer to a probe.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Allowed for every snap.
    Always,
    /// Refused (EPERM or EACCES) whatever is connected.
    Never,
    /// Allowed only with one of these interfaces.
    With(&'static [Interface]),
    /// This exact outcome everywhere.
    Exactly(Outcome),
}

/// `CLONE_SIGHAND` without `CLONE_VM`: the kernel refuses it with EINVAL,
/// so a clone the filter lets through creates nothing.
const SIGHAND: u64 = 0x800;

/// The probes, in a fixed order, with what the policy should answer.
pub fn cases() -> Vec<(Probe, Expect)> {
    let n = Probe::native;
    let i = Probe::i386;
    const M: u64 = BAD_FD;
    let mut v = vec![
        // An ordinary program's calls.
        (probe("getppid"), Expect::Always),
        (probe("read(-1)"), Expect::Always),
        (n("brk(0)", BRK, [0; 6]), Expect::Always),
        (
            n(
                "mmap(anonymous)",
                MMAP,
                [0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, M, 0],
            ),
            Expect::Always,
        ),
        (
            n("futex(NULL, WAKE)", FUTEX, [0, FUTEX_WAKE, 1, 0, 0, 0]),
            Expect::Always,
        ),
        (n("execve(NULL)", EXECVE, [0; 6]), Expect::Always),
        (
            n("openat(-1, NULL)", OPENAT, [M, 0, 0, 0, 0, 0]),
            Expect::Always,
        ),
        (
            n("clone(CLONE_SIGHAND)", CLONE, [SIGHAND, 0, 0, 0, 0, 0]),
            Expect::Always,
        ),
        (
            n(
                "socketpair(AF_UNIX, SOCK_STREAM, NULL)",
                SOCKETPAIR,
                [AF_UNIX, SOCK_STREAM, 0, 0, 0, 0],
            ),
            Expect::Always,
        ),
        (probe("ioctl(-1, FIONREAD)"), Expect::Always),
        (
            n(
                "setpriority(PROCESS, 0, 10)",
                SETPRIORITY,
                [0, 0, 10, 0, 0, 0],
            ),
            Expect::Always,
        ),
        (
            n(
                "prlimit64(0, NOFILE)",
                PRLIMIT64,
                [0, RLIMIT_NOFILE, 0, 0, 0, 0],
            ),
            Expect::Always,
        ),
        (probe("mknodat(S_IFIFO)"), Expect::Always),
        (
            n("chown(NULL, -1, 1000)", CHOWN, [0, M, 1000, 0, 0, 0]),
            Expect::Always,
        ),
        (probe("i386 getpid"), Expect::Always),
        // Mounts and namespaces.
        (probe("mount"), Expect::Never),
        (probe("umount2"), Expect::Never),
        (n("pivot_root", PIVOT_ROOT, [0; 6]), Expect::Never),
        (n("fsopen", FSOPEN, [0; 6]), Expect::Never),
        (n("open_tree", OPEN_TREE, [M, 0, 0, 0, 0, 0]), Expect::Never),
        (
            n("move_mount", MOVE_MOUNT, [M, 0, M, 0, 0, 0]),
            Expect::Never,
        ),
        (probe("unshare(0)"), Expect::Never),
        (probe("i386 unshare(0)"), Expect::Never),
        (probe("i386 mount"), Expect::Never),
        (probe("setns(-1)"), Expect::Never),
        (n("chroot(NULL)", CHROOT, [0; 6]), Expect::Never),
        // clone3's flags are behind a pointer: as if the kernel lacked it.
        (
            n("clone3(NULL)", CLONE3, [0; 6]),
            Expect::Exactly(Outcome::Ran(Some(ENOSYS))),
        ),
        // Debugging, kernel code, kernel subsystems.
        (probe("ptrace(PEEKDATA, 0)"), Expect::Never),
        (
            n("process_vm_readv(0)", PROCESS_VM_READV, [0; 6]),
            Expect::Never,
        ),
        (probe("init_module"), Expect::Never),
        (
            n("finit_module(-1)", FINIT_MODULE, [M, 0, 0, 0, 0, 0]),
            Expect::Never,
        ),
        (
            n("delete_module(NULL)", DELETE_MODULE, [0; 6]),
            Expect::Never,
        ),
        (probe("bpf"), Expect::Never),
        (probe("perf_event_open"), Expect::Never),
        (probe("io_uring_setup"), Expect::Never),
        (
            n("io_uring_enter(-1)", IO_URING_ENTER, [M, 0, 0, 0, 0, 0]),
            Expect::Never,
        ),
        (probe("keyctl"), Expect::Never),
        (n("add_key(NULL)", ADD_KEY, [0; 6]), Expect::Never),
        (n("request_key(NULL)", REQUEST_KEY, [0; 6]), Expect::Never),
        (
            n("userfaultfd(bad flags)", USERFAULTFD, [M, 0, 0, 0, 0, 0]),
            Expect::Never,
        ),
        (n("reboot(bad magic)", REBOOT, [0; 6]), Expect::Never),
        (n("mq_open(NULL)", MQ_OPEN, [0; 6]), Expect::Never),
        // What the default refuses with EACCES or EPERM, and the x32 kill.
        (probe("openat2"), Expect::Exactly(Outcome::Errno(EPERM))),
        (
            probe("chmod(NULL, 04755)"),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            n(
                "openat(O_CREAT, 02755)",
                OPENAT,
                [M, 0, O_CREAT, 0o2755, 0, 0],
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe("ioctl(-1, TIOCSTI|1<<32)"),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            probe("i386 ioctl(-1, TIOCLINUX)"),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (
            n(
                "pipe2(NULL, O_NOTIFICATION_PIPE)",
                PIPE2,
                [0, O_EXCL, 0, 0, 0, 0],
            ),
            Expect::Exactly(Outcome::Errno(EACCES)),
        ),
        (probe("mknodat(S_IFCHR)"), Expect::Never),
        (
            n("mknodat(S_IFBLK)", MKNODAT, [M, 0, 0o060_000, 0, 0, 0]),
            Expect::Never,
        ),
        (
            n(
                "setpriority(PROCESS, 2147483647, 10)",
                SETPRIORITY,
                [0, 0x7fff_ffff, 10, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (probe("chown(NULL, 1000, -1)"), Expect::Never),
        (
            probe("x32 getpid"),
            Expect::Exactly(Outcome::Killed(SIGSYS)),
        ),
        // What the interfaces grant.
        (
            n(
                "socket(AF_INET, SOCK_STREAM)",
                SOCKET,
                [AF_INET, SOCK_STREAM, 0, 0, 0, 0],
            ),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            n(
                "socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK)",
                SOCKET,
                [AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0, 0, 0, 0],
            ),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            n(
                "socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC)",
                SOCKET,
                [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0, 0],
            ),
            Expect::With(&[Network, NetworkBind, NetworkObserve]),
        ),
        (
            n(
                "socket(AF_INET, SOCK_RAW, ICMP)",
                SOCKET,
                [AF_INET, SOCK_RAW, IPPROTO_ICMP, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (
            n(
                "socket(AF_PACKET, SOCK_RAW)",
                SOCKET,
                [AF_PACKET, SOCK_RAW, 0, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (
            n(
                "socket(AF_NETLINK, NETLINK_ROUTE)",
                SOCKET,
                [AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, 0, 0],
            ),
            Expect::With(&[NetworkObserve]),
        ),
        (
            n(
                "socket(AF_NETLINK, NETLINK_SOCK_DIAG)",
                SOCKET,
                [AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG, 0, 0, 0],
            ),
            Expect::With(&[NetworkObserve]),
        ),
        (
            n(
                "socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)",
                SOCKET,
                [AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT, 0, 0, 0],
            ),
            Expect::With(&[Camera]),
        ),
        (
            n(
                "socket(AF_NETLINK, NETLINK_AUDIT)",
                SOCKET,
                [AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (
            n(
                "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)",
                SOCKET,
                [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0],
            ),
            Expect::With(&[AudioPlayback, X11, Wayland, Desktop]),
        ),
        (
            n(
                "socket(AF_UNIX, SOCK_DGRAM)",
                SOCKET,
                [AF_UNIX, SOCK_DGRAM, 0, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (
            n("bind(-1)", BIND, [M, 0, 0, 0, 0, 0]),
            Expect::With(&[NetworkBind, NetworkObserve, Camera]),
        ),
        (
            n("listen(-1)", LISTEN, [M, 0, 0, 0, 0, 0]),
            Expect::With(&[NetworkBind]),
        ),
        (
            n("accept(-1)", ACCEPT, [M, 0, 0, 0, 0, 0]),
            Expect::With(&[NetworkBind]),
        ),
        (
            n("accept4(-1)", ACCEPT4, [M, 0, 0, 0, 0, 0]),
            Expect::With(&[NetworkBind]),
        ),
        (
            n(
                "kcmp(-1, -1, KCMP_FILE)",
                KCMP,
                [0x7fff_ffff, 0x7fff_ffff, 0, 0, 0, 0],
            ),
            Expect::With(&[Opengl]),
        ),
        (
            n(
                "kcmp(-1, -1, KCMP_VM)",
                KCMP,
                [0x7fff_ffff, 0x7fff_ffff, 1, 0, 0, 0],
            ),
            Expect::Never,
        ),
        (
            n("shmctl(-1, IPC_STAT)", SHMCTL, [M, IPC_STAT, 0, 0, 0, 0]),
            Expect::With(&[X11]),
        ),
    ];
    // The i386 entry: the direct socket calls with their arguments checked,
    // and the socketcall multiplexer (arguments behind a pointer) refused.
    v.extend([
        (
            i(
                "i386 socket(AF_INET, SOCK_STREAM)",
                I386_SOCKET,
                [AF_INET, SOCK_STREAM, 0],
            ),
            Expect::With(&[Network, NetworkBind]),
        ),
        (
            i(
                "i386 socket(AF_UNIX, SOCK_STREAM)",
                I386_SOCKET,
                [AF_UNIX, SOCK_STREAM, 0],
            ),
            Expect::With(&[AudioPlayback, X11, Wayland, Desktop]),
        ),
        (
            i(
                "i386 socket(AF_PACKET, SOCK_RAW)",
                I386_SOCKET,
                [AF_PACKET, SOCK_RAW, 0],
            ),
            Expect::Never,
        ),
        (
            i("i386 bind(-1)", I386_BIND, [BAD_FD32, 0, 0]),
            Expect::With(&[NetworkBind, NetworkObserve, Camera]),
        ),
        (
            // SYS_SOCKET (1) through the multiplexer.
            i("i386 socketcall(SOCKET, NULL)", I386_SOCKETCALL, [1, 0, 0]),
            Expect::Never,
        ),
        (
            i("i386 clone3(NULL)", I386_CLONE3, [0, 0, 0]),
            Expect::Exactly(Outcome::Ran(Some(ENOSYS))),
        ),
    ]);
    // clone with each namespace flag (and CLONE_SIGHAND, which makes the
    // kernel refuse it, should the filter not).
    v.extend(
        [
            ("clone(CLONE_NEWNS)", 0x0002_0000),
            ("clone(CLONE_NEWCGROUP)", 0x0200_0000),
            ("clone(CLONE_NEWUTS)", 0x0400_0000),
            ("clone(CLONE_NEWIPC)", 0x0800_0000),
            ("clone(CLONE_NEWUSER)", 0x1000_0000),
            ("clone(CLONE_NEWPID)", 0x2000_0000),
            ("clone(CLONE_NEWNET)", 0x4000_0000),
        ]
        .map(|(name, flag)| {
            (
                n(name, CLONE, [flag | SIGHAND, 0, 0, 0, 0, 0]),
                Expect::Never,
            )
        }),
    );
    v.push((
        i(
            "i386 clone(CLONE_NEWUSER)",
            I386_CLONE,
            [0x1000_0000 | SIGHAND, 0, 0],
        ),
        Expect::Never,
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_mean_one_call() {
        let cases = cases();
        let names: std::collections::BTreeSet<_> = cases.iter().map(|(p, _)| p.name).collect();
        assert_eq!(names.len(), cases.len(), "names are unique");
        for (p, _) in &cases {
            if let Some(shared) = super::super::probes().iter().find(|s| s.name == p.name) {
                assert_eq!(p, shared, "{} is another call in probes()", p.name);
            }
        }
    }
}
