//! The kernel's numbers the probes are made of: x86_64 and i386 system
//! call numbers, flags, errnos and a signal, written out here (this crate
//! does not link libc) and checked against libc's by
//! `bins/snap-seccomp/tests/probe.rs` through [`SYSCALL_NUMBERS`] and
//! [`CONSTANTS`].

// x86_64 numbers (asm/unistd_64.h).
pub const READ: u64 = 0;
pub const MMAP: u64 = 9;
pub const BRK: u64 = 12;
pub const IOCTL: u64 = 16;
pub const SHMCTL: u64 = 31;
pub const GETPID: u64 = 39;
pub const SOCKET: u64 = 41;
pub const ACCEPT: u64 = 43;
pub const BIND: u64 = 49;
pub const LISTEN: u64 = 50;
pub const SOCKETPAIR: u64 = 53;
pub const CLONE: u64 = 56;
pub const EXECVE: u64 = 59;
pub const CHMOD: u64 = 90;
pub const CHOWN: u64 = 92;
pub const PTRACE: u64 = 101;
pub const GETPPID: u64 = 110;
pub const SETPRIORITY: u64 = 141;
pub const PIVOT_ROOT: u64 = 155;
pub const CHROOT: u64 = 161;
pub const MOUNT: u64 = 165;
pub const UMOUNT2: u64 = 166;
pub const REBOOT: u64 = 169;
pub const INIT_MODULE: u64 = 175;
pub const DELETE_MODULE: u64 = 176;
pub const FUTEX: u64 = 202;
pub const MQ_OPEN: u64 = 240;
pub const ADD_KEY: u64 = 248;
pub const REQUEST_KEY: u64 = 249;
pub const KEYCTL: u64 = 250;
pub const OPENAT: u64 = 257;
pub const MKNODAT: u64 = 259;
pub const UNSHARE: u64 = 272;
pub const ACCEPT4: u64 = 288;
pub const PIPE2: u64 = 293;
pub const PERF_EVENT_OPEN: u64 = 298;
pub const PRLIMIT64: u64 = 302;
pub const SETNS: u64 = 308;
pub const PROCESS_VM_READV: u64 = 310;
pub const KCMP: u64 = 312;
pub const FINIT_MODULE: u64 = 313;
pub const BPF: u64 = 321;
pub const USERFAULTFD: u64 = 323;
pub const PREADV2: u64 = 327;
pub const PWRITEV2: u64 = 328;
pub const IO_URING_SETUP: u64 = 425;
pub const IO_URING_ENTER: u64 = 426;
pub const OPEN_TREE: u64 = 428;
pub const MOVE_MOUNT: u64 = 429;
pub const FSOPEN: u64 = 430;
pub const CLONE3: u64 = 435;
pub const OPENAT2: u64 = 437;

// i386 numbers (asm/unistd_32.h); libc has no table of them on x86_64.
pub const I386_GETPID: u64 = 20;
pub const I386_MOUNT: u64 = 21;
pub const I386_IOCTL: u64 = 54;
pub const I386_SOCKETCALL: u64 = 102;
pub const I386_CLONE: u64 = 120;
pub const I386_UNSHARE: u64 = 310;
pub const I386_SOCKET: u64 = 359;
pub const I386_BIND: u64 = 361;
pub const I386_CLONE3: u64 = 435;

/// The x86_64 numbers above, by libc's name (`SYS_` left out).
pub const SYSCALL_NUMBERS: &[(&str, u64)] = &[
    ("getppid", GETPPID),
    ("read", READ),
    ("openat2", OPENAT2),
    ("ioctl", IOCTL),
    ("mount", MOUNT),
    ("umount2", UMOUNT2),
    ("ptrace", PTRACE),
    ("bpf", BPF),
    ("unshare", UNSHARE),
    ("setns", SETNS),
    ("io_uring_setup", IO_URING_SETUP),
    ("perf_event_open", PERF_EVENT_OPEN),
    ("keyctl", KEYCTL),
    ("init_module", INIT_MODULE),
    ("socket", SOCKET),
    ("mknodat", MKNODAT),
    ("setpriority", SETPRIORITY),
    ("chown", CHOWN),
    ("chmod", CHMOD),
    ("preadv2", PREADV2),
    ("pwritev2", PWRITEV2),
    ("kcmp", KCMP),
    ("getpid", GETPID),
    ("brk", BRK),
    ("mmap", MMAP),
    ("futex", FUTEX),
    ("execve", EXECVE),
    ("openat", OPENAT),
    ("clone", CLONE),
    ("socketpair", SOCKETPAIR),
    ("prlimit64", PRLIMIT64),
    ("pivot_root", PIVOT_ROOT),
    ("fsopen", FSOPEN),
    ("open_tree", OPEN_TREE),
    ("move_mount", MOVE_MOUNT),
    ("chroot", CHROOT),
    ("clone3", CLONE3),
    ("process_vm_readv", PROCESS_VM_READV),
    ("finit_module", FINIT_MODULE),
    ("delete_module", DELETE_MODULE),
    ("io_uring_enter", IO_URING_ENTER),
    ("add_key", ADD_KEY),
    ("request_key", REQUEST_KEY),
    ("userfaultfd", USERFAULTFD),
    ("reboot", REBOOT),
    ("mq_open", MQ_OPEN),
    ("pipe2", PIPE2),
    ("bind", BIND),
    ("listen", LISTEN),
    ("accept", ACCEPT),
    ("accept4", ACCEPT4),
    ("shmctl", SHMCTL),
];

pub const FIONREAD: u64 = 0x541b;
pub const TIOCSTI: u64 = 0x5412;
pub const TIOCLINUX: u64 = 0x541c;
/// Garbage for the upper half of a 64-bit argument.
pub const HIGH: u64 = 1 << 32;
/// -1 as a descriptor, 64 bits.
pub const BAD_FD: u64 = u64::MAX;
/// -1 as a descriptor for the i386 entry, 32 bits.
pub const BAD_FD32: u64 = u32::MAX as u64;

pub const PROT_READ: u64 = 1;
pub const MAP_PRIVATE: u64 = 2;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const FUTEX_WAKE: u64 = 1;
pub const RLIMIT_NOFILE: u64 = 7;
pub const AF_UNIX: u64 = 1;
pub const AF_INET: u64 = 2;
pub const AF_INET6: u64 = 10;
pub const AF_NETLINK: u64 = 16;
pub const AF_PACKET: u64 = 17;
pub const SOCK_STREAM: u64 = 1;
pub const SOCK_DGRAM: u64 = 2;
pub const SOCK_RAW: u64 = 3;
pub const SOCK_NONBLOCK: u64 = 0o4000;
pub const SOCK_CLOEXEC: u64 = 0o2_000_000;
pub const IPPROTO_ICMP: u64 = 1;
pub const NETLINK_ROUTE: u64 = 0;
pub const NETLINK_SOCK_DIAG: u64 = 4;
pub const NETLINK_AUDIT: u64 = 9;
pub const NETLINK_KOBJECT_UEVENT: u64 = 15;
pub const O_CREAT: u64 = 0o100;
pub const O_EXCL: u64 = 0o200;
pub const IPC_STAT: u64 = 2;

pub const EPERM: i32 = 1;
pub const EACCES: i32 = 13;
pub const ENOSYS: i32 = 38;
pub const SIGSYS: i32 = 31;

/// The other numbers above, by libc's name.
pub const CONSTANTS: &[(&str, u64)] = &[
    ("FIONREAD", FIONREAD),
    ("TIOCSTI", TIOCSTI),
    ("TIOCLINUX", TIOCLINUX),
    ("PROT_READ", PROT_READ),
    ("MAP_PRIVATE", MAP_PRIVATE),
    ("MAP_ANONYMOUS", MAP_ANONYMOUS),
    ("FUTEX_WAKE", FUTEX_WAKE),
    ("RLIMIT_NOFILE", RLIMIT_NOFILE),
    ("AF_UNIX", AF_UNIX),
    ("AF_INET", AF_INET),
    ("AF_INET6", AF_INET6),
    ("AF_NETLINK", AF_NETLINK),
    ("AF_PACKET", AF_PACKET),
    ("SOCK_STREAM", SOCK_STREAM),
    ("SOCK_DGRAM", SOCK_DGRAM),
    ("SOCK_RAW", SOCK_RAW),
    ("SOCK_NONBLOCK", SOCK_NONBLOCK),
    ("SOCK_CLOEXEC", SOCK_CLOEXEC),
    ("IPPROTO_ICMP", IPPROTO_ICMP),
    ("NETLINK_ROUTE", NETLINK_ROUTE),
    ("NETLINK_SOCK_DIAG", NETLINK_SOCK_DIAG),
    ("NETLINK_AUDIT", NETLINK_AUDIT),
    ("NETLINK_KOBJECT_UEVENT", NETLINK_KOBJECT_UEVENT),
    ("O_CREAT", O_CREAT),
    ("O_EXCL", O_EXCL),
    ("IPC_STAT", IPC_STAT),
    ("EPERM", EPERM as u64),
    ("EACCES", EACCES as u64),
    ("ENOSYS", ENOSYS as u64),
    ("SIGSYS", SIGSYS as u64),
];
