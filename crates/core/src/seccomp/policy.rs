//! snapcell's own seccomp policy for the standalone front end: the default
//! profile every snap gets, and the rules each interface the front end
//! supports adds when it is connected. Pure data: [`profile_source`] writes
//! the `.src` text in snapd's language ([`super::lang`]) that `snap-seccomp
//! compile` turns into a `.bin2`.
//!
//! Written from what programs need, not from snapd's template. A snap with
//! no plugs can run ordinary programs (the dynamic loader, a shell, threads,
//! pipes, child processes, files, timers, `socketpair`), and cannot:
//!
//! * mount or change its namespaces: no `mount`/`umount2`/`pivot_root`, no
//!   new mount API (`fsopen`, `fsmount`, `move_mount`, `open_tree`, ...), no
//!   `unshare`, no `setns`, `clone` only without `CLONE_NEW*` flags, and
//!   `clone3` (whose flags a filter cannot see: they are behind a pointer)
//!   fails with `ENOSYS`, so glibc falls back to `clone`;
//! * debug or read other processes: no `ptrace`, `process_vm_readv`/`writev`,
//!   `kcmp` (but see opengl), `pidfd_getfd`;
//! * load kernel code or reach kernel subsystems with a history of bugs: no
//!   module calls, `kexec_*`, `bpf`, `perf_event_open`, `io_uring_*`,
//!   `userfaultfd`, keyrings (`add_key`, `keyctl`, `request_key`),
//!   `fanotify_*`, file handles (`open_by_handle_at`), `O_NOTIFICATION_PIPE`;
//! * change the machine: no `reboot`, swap, host name, clocks, `acct`,
//!   `quotactl`, `iopl`/`ioperm`, `chroot`;
//! * open sockets (beyond `socketpair(AF_UNIX)`), serve (`bind`, `listen`,
//!   `accept`), or share System V IPC or POSIX message queues with other
//!   programs; the interfaces grant these. i386's `socketcall` multiplexer
//!   is refused whatever is connected: its arguments are behind a pointer,
//!   and libseccomp turns a rule on `socket`'s arguments into one comparing
//!   `socketcall`'s pointer and unused registers (seen in its PFC output),
//!   which a program can arrange to match;
//! * make set-user-ID or set-group-ID files (`chmod`, `open`, `mknod` with
//!   those bits fail with `EACCES`), which someone could run outside the
//!   sandbox; `openat2` is refused (its mode is behind a pointer), glibc's
//!   `open` does not use it;
//! * give files away (`chown` only leaves the owner, or gives to root, which
//!   needs `CAP_CHOWN`), raise its own priority, or make device nodes.
//!
//! What each interface adds (the rules are in [`Interface::rules`]):
//!
//! | interface | adds | why |
//! |---|---|---|
//! | network | `socket` AF_INET/AF_INET6, stream and datagram | TCP and UDP clients, DNS through the resolvers of `resolv.conf` |
//! | network-bind | the same sockets, `bind`, `listen`, `accept`, `accept4` | servers; seccomp cannot see the address given to `bind` (a pointer), so any `bind` |
//! | network-observe | `socket` AF_NETLINK for NETLINK_ROUTE and NETLINK_SOCK_DIAG, AF_INET/AF_INET6 datagram, `bind` | list interfaces, addresses, routes and sockets (`ip`, `ss`, `SIOCGIF*` ioctls) |
//! | home | nothing | file access only: mount profile and Landlock |
//! | removable-media | nothing | file access only: mount profile and Landlock |
//! | audio-playback | `socket` AF_UNIX stream | the PulseAudio / PipeWire socket; buffers are memfds, already allowed |
//! | camera | `socket` AF_NETLINK NETLINK_KOBJECT_UEVENT, `bind` | hotplug of video devices (libudev's monitor); the V4L2 ioctls are allowed already |
//! | opengl | `kcmp` KCMP_FILE | Mesa compares descriptors to find the same DRM device |
//! | x11 | `socket` AF_UNIX stream, System V shared memory | the X socket; the MIT-SHM extension |
//! | wayland | `socket` AF_UNIX stream | the compositor's socket; buffers are memfds |
//! | desktop | `socket` AF_UNIX stream | the D-Bus session bus and the portals |
//!
//! Without netlink route (network-observe), glibc's `getaddrinfo` cannot
//! see which address families the machine has and assumes both: name
//! resolution still works with only network.

use std::fmt::Write;

/// One group of rules of the policy, and why a program needs them.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// What the rules are for (written as a comment above them).
    pub why: &'static str,
    /// Lines in snapd's `.src` language.
    pub rules: &'static [&'static str],
}

/// The default profile: what every snap may do.
pub const DEFAULT: &[Group] = &[
    Group {
        why: "start a program: exec, the dynamic loader, the C library's set-up, exit",
        rules: &[
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "brk",
            "arch_prctl",
            "set_thread_area",
            "get_thread_area",
            "set_tid_address",
            "set_robust_list",
            "get_robust_list",
            "rseq",
            "prctl",
            "getrandom",
            "uname",
            "sysinfo",
            "restart_syscall",
            // query, Linux and 32-bit Linux personalities only
            "personality 4294967295",
            "personality 0",
            "personality 8",
        ],
    },
    Group {
        why: "memory",
        rules: &[
            "mmap",
            "mmap2",
            "munmap",
            "mremap",
            "mprotect",
            "madvise",
            "mincore",
            "msync",
            "mlock",
            "mlock2",
            "munlock",
            "mlockall",
            "munlockall",
            "membarrier",
            "memfd_create",
            "get_mempolicy",
            "set_mempolicy",
            "mbind",
        ],
    },
    Group {
        why: "processes and threads; clone only without namespace flags \
              (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 2114060288), \
              clone3 answers ENOSYS so the C library falls back to clone",
        rules: &[
            "fork",
            "vfork",
            "clone 2114060288|0",
            "@enosys clone3",
            "wait4",
            "waitid",
            "waitpid",
            "getpid",
            "getppid",
            "gettid",
            "getpgid",
            "getpgrp",
            "setpgid",
            "getsid",
            "setsid",
            "getrusage",
            "times",
            "pidfd_open",
            "getcpu",
            "ioprio_get",
            "getrlimit",
            "ugetrlimit",
            "setrlimit",
            "prlimit64 0",
        ],
    },
    Group {
        why: "scheduling: lower its own priority only (nice 0 to 19)",
        rules: &[
            "getpriority",
            "setpriority PRIO_PROCESS 0 <=19",
            "nice <=19",
            "sched_yield",
            "sched_getaffinity",
            "sched_setaffinity",
            "sched_getparam",
            "sched_getscheduler",
            "sched_getattr",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_rr_get_interval",
            "sched_rr_get_interval_time64",
        ],
    },
    Group {
        why: "signals (the kernel allows signalling only one's own user's processes)",
        rules: &[
            "rt_sigaction",
            "rt_sigprocmask",
            "rt_sigreturn",
            "rt_sigsuspend",
            "rt_sigpending",
            "rt_sigtimedwait",
            "rt_sigtimedwait_time64",
            "rt_sigqueueinfo",
            "rt_tgsigqueueinfo",
            "sigaction",
            "sigprocmask",
            "sigreturn",
            "sigsuspend",
            "sigpending",
            "signal",
            "sigaltstack",
            "signalfd",
            "signalfd4",
            "kill",
            "tkill",
            "tgkill",
            "pidfd_send_signal",
            "pause",
            "alarm",
        ],
    },
    Group {
        why: "time, timers and sleeping",
        rules: &[
            "clock_gettime",
            "clock_gettime64",
            "clock_getres",
            "clock_getres_time64",
            "clock_nanosleep",
            "clock_nanosleep_time64",
            "gettimeofday",
            "time",
            "nanosleep",
            "getitimer",
            "setitimer",
            "timer_create",
            "timer_settime",
            "timer_settime64",
            "timer_gettime",
            "timer_gettime64",
            "timer_getoverrun",
            "timer_delete",
            "timerfd_create",
            "timerfd_settime",
            "timerfd_settime64",
            "timerfd_gettime",
            "timerfd_gettime64",
        ],
    },
    Group {
        why: "waiting and synchronisation",
        rules: &[
            "futex",
            "futex_time64",
            "futex_waitv",
            "poll",
            "ppoll",
            "ppoll_time64",
            "select",
            "_newselect",
            "pselect6",
            "pselect6_time64",
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_wait",
            "epoll_pwait",
            "epoll_pwait2",
            "eventfd",
            "eventfd2",
            "inotify_init",
            "inotify_init1",
            "inotify_add_watch",
            "inotify_rm_watch",
        ],
    },
    Group {
        why: "descriptors and I/O; no watch-queue pipes (O_NOTIFICATION_PIPE), \
              no faking terminal input (TIOCSTI, TIOCLINUX, also with the upper 32 bits set)",
        rules: &[
            "read",
            "write",
            "readv",
            "writev",
            "pread64",
            "pwrite64",
            "preadv",
            "pwritev",
            "preadv2",
            "pwritev2",
            "close",
            "close_range",
            "dup",
            "dup2",
            "dup3",
            "fcntl",
            "fcntl64",
            "lseek",
            "_llseek",
            "pipe",
            "pipe2",
            "~pipe2 - |O_NOTIFICATION_PIPE",
            "sendfile",
            "sendfile64",
            "splice",
            "tee",
            "vmsplice",
            "copy_file_range",
            "ioctl",
            "~ioctl - 4294967295|TIOCSTI",
            "~ioctl - 4294967295|TIOCLINUX",
            "flock",
            "fsync",
            "fdatasync",
            "sync",
            "syncfs",
            "sync_file_range",
            "fadvise64",
            "fadvise64_64",
            "readahead",
            "fallocate",
            "io_setup",
            "io_destroy",
            "io_submit",
            "io_cancel",
            "io_getevents",
        ],
    },
    Group {
        why: "files and directories (which ones: the mount namespace and Landlock decide)",
        rules: &[
            "open",
            "openat",
            "creat",
            "stat",
            "lstat",
            "fstat",
            "newfstatat",
            "stat64",
            "lstat64",
            "fstat64",
            "fstatat64",
            "statx",
            "statfs",
            "fstatfs",
            "statfs64",
            "fstatfs64",
            "access",
            "faccessat",
            "faccessat2",
            "readlink",
            "readlinkat",
            "getdents",
            "getdents64",
            "getcwd",
            "chdir",
            "fchdir",
            "mkdir",
            "mkdirat",
            "rmdir",
            "unlink",
            "unlinkat",
            "rename",
            "renameat",
            "renameat2",
            "link",
            "linkat",
            "symlink",
            "symlinkat",
            "truncate",
            "truncate64",
            "ftruncate",
            "ftruncate64",
            "umask",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "utime",
            "utimes",
            "utimensat",
            "utimensat_time64",
            "futimesat",
            "getxattr",
            "lgetxattr",
            "fgetxattr",
            "listxattr",
            "llistxattr",
            "flistxattr",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
            "removexattr",
            "lremovexattr",
            "fremovexattr",
        ],
    },
    Group {
        why: "no set-user-ID or set-group-ID files (EACCES): another user could run them outside the sandbox",
        rules: &[
            "~chmod - |S_ISUID",
            "~chmod - |S_ISGID",
            "~fchmod - |S_ISUID",
            "~fchmod - |S_ISGID",
            "~fchmodat - - |S_ISUID",
            "~fchmodat - - |S_ISGID",
            "~fchmodat2 - - |S_ISUID",
            "~fchmodat2 - - |S_ISGID",
            "~creat - |S_ISUID",
            "~creat - |S_ISGID",
            "~open - |O_CREAT |S_ISUID",
            "~open - |O_CREAT |S_ISGID",
            "~open - |O_TMPFILE |S_ISUID",
            "~open - |O_TMPFILE |S_ISGID",
            "~openat - - |O_CREAT |S_ISUID",
            "~openat - - |O_CREAT |S_ISGID",
            "~openat - - |O_TMPFILE |S_ISUID",
            "~openat - - |O_TMPFILE |S_ISGID",
            "~mknod - |S_ISUID",
            "~mknod - |S_ISGID",
            "~mknodat - - |S_ISUID",
            "~mknodat - - |S_ISGID",
        ],
    },
    Group {
        why: "special files: regular files, FIFOs and sockets only, no devices (S_IFMT = 61440, type 0 is a regular file)",
        rules: &[
            "mknod - 61440|0",
            "mknod - 61440|S_IFREG",
            "mknod - 61440|S_IFIFO",
            "mknod - 61440|S_IFSOCK",
            "mknodat - - 61440|0",
            "mknodat - - 61440|S_IFREG",
            "mknodat - - 61440|S_IFIFO",
            "mknodat - - 61440|S_IFSOCK",
        ],
    },
    Group {
        why: "ownership: keep the owner (any group the kernel allows), or give to root (needs CAP_CHOWN)",
        rules: &[
            "chown - -1 -",
            "chown - 0 0",
            "chown - 0 -1",
            "lchown - -1 -",
            "lchown - 0 0",
            "lchown - 0 -1",
            "fchown - -1 -",
            "fchown - 0 0",
            "fchown - 0 -1",
            "fchownat - - -1 -",
            "fchownat - - 0 0",
            "fchownat - - 0 -1",
            "chown32 - -1 -",
            "chown32 - 0 0",
            "chown32 - 0 -1",
            "lchown32 - -1 -",
            "lchown32 - 0 0",
            "lchown32 - 0 -1",
            "fchown32 - -1 -",
            "fchown32 - 0 0",
            "fchown32 - 0 -1",
        ],
    },
    Group {
        why: "identity: read it, drop privileges (the kernel lets only root change ids), clear supplementary groups",
        rules: &[
            "getuid",
            "geteuid",
            "getgid",
            "getegid",
            "getresuid",
            "getresgid",
            "getgroups",
            "getuid32",
            "geteuid32",
            "getgid32",
            "getegid32",
            "getresuid32",
            "getresgid32",
            "getgroups32",
            "capget",
            "capset",
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "setuid32",
            "setgid32",
            "setreuid32",
            "setregid32",
            "setresuid32",
            "setresgid32",
            "setgroups 0",
            "setgroups32 0",
        ],
    },
    Group {
        why: "local pairs of sockets, and using a socket one has (creating one is an interface's grant); \
              not i386's socketcall multiplexer: its arguments are behind a pointer, and libseccomp's \
              translation of the socket rules to it compares the wrong words (EACCES: 32-bit programs \
              must use the direct socket calls of Linux 4.3)",
        rules: &[
            "~socketcall",
            "socketpair AF_UNIX",
            "connect",
            "sendto",
            "recvfrom",
            "sendmsg",
            "recvmsg",
            "sendmmsg",
            "recvmmsg",
            "shutdown",
            "getsockname",
            "getpeername",
            "getsockopt",
            "setsockopt",
        ],
    },
    Group {
        why: "restricting oneself further",
        rules: &[
            "seccomp",
            "landlock_create_ruleset",
            "landlock_add_rule",
            "landlock_restrict_self",
        ],
    },
];

const UNIX_STREAM: Group = Group {
    why: "local stream sockets (AF_UNIX; which socket files: the mount namespace and Landlock decide)",
    rules: &["socket AF_UNIX 15|SOCK_STREAM"],
};

/// An interface of the standalone front end with seccomp rules of its own
/// (or none: it is listed so that every supported interface has an
/// answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interface {
    Network,
    NetworkBind,
    NetworkObserve,
    Home,
    RemovableMedia,
    AudioPlayback,
    Camera,
    Opengl,
    X11,
    Wayland,
    Desktop,
}

impl Interface {
    /// Every interface the policy knows, in the order of the table.
    pub const ALL: [Interface; 11] = [
        Interface::Network,
        Interface::NetworkBind,
        Interface::NetworkObserve,
        Interface::Home,
        Interface::RemovableMedia,
        Interface::AudioPlayback,
        Interface::Camera,
        Interface::Opengl,
        Interface::X11,
        Interface::Wayland,
        Interface::Desktop,
    ];

    /// The interface's name, as in snap.yaml's plugs.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Network => "network",
            Interface::NetworkBind => "network-bind",
            Interface::NetworkObserve => "network-observe",
            Interface::Home => "home",
            Interface::RemovableMedia => "removable-media",
            Interface::AudioPlayback => "audio-playback",
            Interface::Camera => "camera",
            Interface::Opengl => "opengl",
            Interface::X11 => "x11",
            Interface::Wayland => "wayland",
            Interface::Desktop => "desktop",
        }
    }

    /// The interface of that name, if the policy knows it.
    pub fn from_name(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }

    /// What a connection adds to [`DEFAULT`] (nothing for interfaces that
    /// grant only files).
    pub fn rules(self) -> &'static [Group] {
        const INET: Group = Group {
            why: "IPv4 and IPv6 stream and datagram sockets (raw sockets and packet capture are not granted)",
            rules: &[
                "socket AF_INET 15|SOCK_STREAM",
                "socket AF_INET 15|SOCK_DGRAM",
                "socket AF_INET6 15|SOCK_STREAM",
                "socket AF_INET6 15|SOCK_DGRAM",
            ],
        };
        match self {
            Interface::Network => &[INET],
            Interface::NetworkBind => &[
                INET,
                Group {
                    why: "serving: seccomp cannot see the address bind is given (a pointer), so any bind",
                    rules: &["bind", "listen", "accept", "accept4"],
                },
            ],
            Interface::NetworkObserve => &[Group {
                why: "read interfaces, addresses, routes (netlink route, bound to its multicast groups), \
                      sockets (sock_diag), and SIOCGIF* ioctls on a datagram socket",
                rules: &[
                    "socket AF_NETLINK - NETLINK_ROUTE",
                    "socket AF_NETLINK - NETLINK_SOCK_DIAG",
                    "socket AF_INET 15|SOCK_DGRAM",
                    "socket AF_INET6 15|SOCK_DGRAM",
                    "bind",
                ],
            }],
            Interface::Home | Interface::RemovableMedia => &[],
            Interface::AudioPlayback => &[Group {
                why: "the sound server's socket (PulseAudio, PipeWire); buffers are memfds",
                ..UNIX_STREAM
            }],
            Interface::Camera => &[Group {
                why: "device hotplug events (libudev's monitor binds a kobject-uevent netlink socket)",
                rules: &["socket AF_NETLINK - NETLINK_KOBJECT_UEVENT", "bind"],
            }],
            Interface::Opengl => &[Group {
                why: "Mesa compares descriptors (kcmp KCMP_FILE) to find the same DRM device",
                rules: &["kcmp - - KCMP_FILE"],
            }],
            Interface::X11 => &[
                Group {
                    why: "the X server's socket",
                    ..UNIX_STREAM
                },
                Group {
                    why: "the MIT-SHM extension: System V shared memory with the X server",
                    rules: &["shmget", "shmat", "shmdt", "shmctl"],
                },
            ],
            Interface::Wayland => &[Group {
                why: "the compositor's socket; buffers are memfds",
                ..UNIX_STREAM
            }],
            Interface::Desktop => &[Group {
                why: "the D-Bus session bus and the desktop portals",
                ..UNIX_STREAM
            }],
        }
    }
}

/// The `.src` text of the profile of a snap with these interfaces
/// connected: [`DEFAULT`], then each interface's rules (in [`Interface::ALL`]
/// order, each interface once, a rule already written not written again),
/// each group under a comment saying why.
pub fn profile_source(interfaces: &[Interface]) -> String {
    let mut connected: Vec<Interface> = interfaces.to_vec();
    connected.sort();
    connected.dedup();
    let names: Vec<&str> = connected.iter().map(|i| i.name()).collect();
    let mut out = String::from("# snapcell's default seccomp policy\n");
    let _ = writeln!(
        out,
        "# connected interfaces: {}",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(" ")
        }
    );
    let mut written = std::collections::HashSet::new();
    let mut section = |out: &mut String, title: &str, groups: &[Group]| {
        for g in groups {
            let fresh: Vec<&str> = g
                .rules
                .iter()
                .copied()
                .filter(|r| written.insert(*r))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n# {title}: {}", g.why);
            for r in fresh {
                out.push_str(r);
                out.push('\n');
            }
        }
    };
    section(&mut out, "default", DEFAULT);
    for i in connected {
        section(&mut out, i.name(), i.rules());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::lang::{self, Action};

    fn parse(src: &str) -> lang::SourceProfile {
        lang::parse("policy.src", src.as_bytes(), &|_| true).unwrap()
    }

    #[test]
    fn every_profile_parses_and_writes_each_rule_once() {
        let mut all = vec![vec![]];
        all.extend(Interface::ALL.iter().map(|i| vec![*i]));
        all.push(Interface::ALL.to_vec());
        for set in all {
            let src = profile_source(&set);
            let p = parse(&src);
            assert!(!p.unrestricted && !p.complain);
            let mut seen = std::collections::HashSet::new();
            for r in &p.rules {
                assert!(seen.insert(r.text.clone()), "{} twice", r.text);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for i in Interface::ALL {
            assert_eq!(Interface::from_name(i.name()), Some(i));
        }
        assert_eq!(Interface::from_name("network-control"), None);
    }

    #[test]
    fn default_allows_nothing_dangerous() {
        let p = parse(&profile_source(&[]));
        let allowed: Vec<&str> = p
            .rules
            .iter()
            .filter(|r| r.action == Action::Allow)
            .map(|r| r.syscall.as_str())
            .collect();
        for forbidden in [
            "mount",
            "umount2",
            "pivot_root",
            "fsopen",
            "move_mount",
            "open_tree",
            "unshare",
            "setns",
            "clone3",
            "ptrace",
            "process_vm_readv",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "bpf",
            "perf_event_open",
            "io_uring_setup",
            "io_uring_enter",
            "keyctl",
            "add_key",
            "request_key",
            "userfaultfd",
            "socket",
            "bind",
            "listen",
            "accept",
            "kcmp",
            "openat2",
            "chroot",
            "shmget",
        ] {
            assert!(!allowed.contains(&forbidden), "{forbidden}");
        }
        // clone only with a condition, clone3 only as ENOSYS.
        let clone: Vec<_> = p.rules.iter().filter(|r| r.syscall == "clone").collect();
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].conditions.len(), 1);
        assert!(
            p.rules
                .iter()
                .any(|r| r.syscall == "clone3" && r.action == Action::Enosys)
        );
    }

    #[test]
    fn interfaces_add_after_the_default() {
        let none = profile_source(&[]);
        let net = profile_source(&[Interface::Network, Interface::Network]);
        assert!(
            net.starts_with(
                "# snapcell's default seccomp policy\n# connected interfaces: network\n"
            )
        );
        assert!(net.contains("\n# network: IPv4"));
        assert!(net.contains("socket AF_INET 15|SOCK_STREAM\n"));
        assert!(!none.contains("socket AF_INET"));
        // Files only: nothing beyond the default but the header.
        let home = profile_source(&[Interface::Home, Interface::RemovableMedia]);
        assert_eq!(
            home.lines().skip(2).collect::<Vec<_>>(),
            none.lines().skip(2).collect::<Vec<_>>()
        );
        // A rule two interfaces grant is written once, under the first.
        let both = profile_source(&[Interface::Wayland, Interface::X11]);
        assert_eq!(both.matches("socket AF_UNIX 15|SOCK_STREAM").count(), 1);
        assert!(both.contains("# x11: the X server's socket\nsocket AF_UNIX"));
    }
}
