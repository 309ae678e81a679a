//! The seccomp probe: system calls with harmless arguments (bad
//! descriptors, NULL pointers, flags that make the call fail or do
//! nothing), on x86_64, through the i386 `int 0x80` entry and with x32
//! numbers, as data ([`Probe`]), and what a filter made of each
//! ([`Outcome`]). Two lists: [`probes`], which snapd 2.57's template and
//! ours are compared on, and [`policy::cases`], snapcell's own policy with
//! what it should answer. The numbers they are made of are in [`numbers`].
//!
//! Two runners share the probes and the reading of results:
//! * in process (`bins/snap-seccomp/tests/common`, for `probe.rs` and
//!   `policy.rs`): a forked child installs a profile and makes the call;
//! * as a snap's app (`bins/snap-confine/tests/seccomp_probe.rs`): the
//!   static C program [`PROBE_C`] ([`build_probe`]) gets the calls as
//!   arguments ([`Probe::spec`]), makes each in a forked child and prints
//!   one line a call ([`parse_report`]), under whatever the launcher
//!   loaded.
//!
//! Both children exit the same way: [`EXIT_ALLOWED`] when the call
//! returned a non-negative value, the errno (at most 199) when it failed;
//! a filter that kills shows as a signal.
//!
//! The system call numbers are x86_64's and i386's (the probes exercise
//! exactly these two entries, and x32's): the module exists on x86_64 only.

use std::io;
use std::path::{Path, PathBuf};

pub mod numbers;
pub mod policy;

use numbers::*;
pub use numbers::{CONSTANTS, FIONREAD, HIGH, SYSCALL_NUMBERS, TIOCLINUX, TIOCSTI};

/// How a probe enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The x86_64 `syscall` instruction.
    Native,
    /// The i386 entry, `int 0x80` from the 64-bit process: the first
    /// three arguments go in `rbx`, `rcx`, `rdx` as whole 64-bit registers
    /// (the compat system call reads the low halves; seccomp sees the whole).
    I386,
    /// x32: the number with `__X32_SYSCALL_BIT` through `syscall`.
    X32,
}

/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// One system call to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub name: &'static str,
    pub entry: Entry,
    /// The number in `entry`'s table (without the x32 bit).
    pub nr: u64,
    pub args: [u64; 6],
}

impl Probe {
    /// A call through the x86_64 `syscall` instruction.
    pub const fn native(name: &'static str, nr: u64, args: [u64; 6]) -> Probe {
        Probe {
            name,
            entry: Entry::Native,
            nr,
            args,
        }
    }

    /// A call through the i386 entry, with its three arguments (whole
    /// 64-bit register values).
    pub const fn i386(name: &'static str, nr: u64, a: [u64; 3]) -> Probe {
        Probe {
            name,
            entry: Entry::I386,
            nr,
            args: [a[0], a[1], a[2], 0, 0, 0],
        }
    }

    /// An x32 call: `nr` is x86_64's, the x32 bit is added when it runs.
    pub const fn x32(name: &'static str, nr: u64, args: [u64; 6]) -> Probe {
        Probe {
            name,
            entry: Entry::X32,
            nr,
            args,
        }
    }

    /// The probe as an argument of the C program: `E,NR,A0,...,A5`.
    pub fn spec(&self) -> String {
        let e = match self.entry {
            Entry::Native => 'n',
            Entry::I386 => 'i',
            Entry::X32 => 'x',
        };
        let a = self.args;
        format!(
            "{e},{},{},{},{},{},{},{}",
            self.nr, a[0], a[1], a[2], a[3], a[4], a[5]
        )
    }
}

/// What happened to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The call reached the kernel: its return was not an error, or the
    /// error is the kernel's (given).
    Ran(Option<i32>),
    /// The filter (or the kernel) failed it with `EPERM` or `EACCES`, the
    /// errnos filters return (the probes avoid kernel ones).
    Errno(i32),
    /// Killed by this signal (`SIGSYS`: the filter said kill).
    Killed(i32),
}

/// A child's exit status for a call that returned a non-negative value.
pub const EXIT_ALLOWED: i32 = 200;

/// The exit status of a child whose call returned `ret` (`-errno` on
/// failure).
pub fn child_exit_code(ret: i64) -> i32 {
    if ret >= 0 {
        EXIT_ALLOWED
    } else {
        (-ret).min(199) as i32
    }
}

impl Outcome {
    /// From the exit status of a child (see [`child_exit_code`]).
    pub fn from_exit_code(code: i32) -> Outcome {
        match code {
            EXIT_ALLOWED => Outcome::Ran(None),
            EPERM | EACCES => Outcome::Errno(code),
            e => Outcome::Ran(Some(e)),
        }
    }
}

/// The probes snapd 2.57's template and ours are compared on, in a fixed
/// order.
pub fn probes() -> Vec<Probe> {
    let n = Probe::native;
    let i = Probe::i386;
    vec![
        n("getppid", GETPPID, [0; 6]),
        n("read(-1)", READ, [BAD_FD, 0, 0, 0, 0, 0]),
        n("openat2", OPENAT2, [BAD_FD, 0, 0, 0, 0, 0]),
        n("ioctl(-1, FIONREAD)", IOCTL, [BAD_FD, FIONREAD, 0, 0, 0, 0]),
        n("ioctl(-1, TIOCSTI)", IOCTL, [BAD_FD, TIOCSTI, 0, 0, 0, 0]),
        n(
            "ioctl(-1, TIOCSTI|1<<32)",
            IOCTL,
            [BAD_FD, TIOCSTI | HIGH, 0, 0, 0, 0],
        ),
        n(
            "ioctl(-1, TIOCLINUX)",
            IOCTL,
            [BAD_FD, TIOCLINUX, 0, 0, 0, 0],
        ),
        n("mount", MOUNT, [0; 6]),
        n("umount2", UMOUNT2, [0; 6]),
        n("ptrace(PEEKDATA, 0)", PTRACE, [2, 0, 0, 0, 0, 0]),
        n("bpf", BPF, [BAD_FD, 0, 0, 0, 0, 0]),
        n("unshare(0)", UNSHARE, [0; 6]),
        n("setns(-1)", SETNS, [BAD_FD, 0, 0, 0, 0, 0]),
        n("io_uring_setup", IO_URING_SETUP, [0; 6]),
        n("perf_event_open", PERF_EVENT_OPEN, [0; 6]),
        n("keyctl", KEYCTL, [BAD_FD, 0, 0, 0, 0, 0]),
        n("init_module", INIT_MODULE, [0; 6]),
        n("socket(AF_NETLINK, ROUTE)", SOCKET, [16, 3, 0, 0, 0, 0]),
        n("socket(AF_UNIX, 99)", SOCKET, [1, 99, 0, 0, 0, 0]),
        n("mknodat(S_IFCHR)", MKNODAT, [BAD_FD, 0, 0o020000, 0, 0, 0]),
        n("mknodat(S_IFIFO)", MKNODAT, [BAD_FD, 0, 0o010000, 0, 0, 0]),
        n(
            "setpriority(PROCESS, 1, 10)",
            SETPRIORITY,
            [0, 1, 10, 0, 0, 0],
        ),
        n(
            "setpriority(PROCESS, 0, 25)",
            SETPRIORITY,
            [0, 0, 25, 0, 0, 0],
        ),
        n("chown(NULL, root, root)", CHOWN, [0; 6]),
        n("chown(NULL, 1000, -1)", CHOWN, [0, 1000, u64::MAX, 0, 0, 0]),
        n("chmod(NULL, 04755)", CHMOD, [0, 0o4755, 0, 0, 0, 0]),
        n("preadv2(-1)", PREADV2, [BAD_FD, 0, 0, 0, 0, 0]),
        n("pwritev2(-1)", PWRITEV2, [BAD_FD, 0, 0, 0, 0, 0]),
        n("kcmp(0,0,KCMP_FILE)", KCMP, [BAD_FD, BAD_FD, 0, 0, 0, 0]),
        Probe::x32("x32 getpid", GETPID, [0; 6]),
        i("i386 getpid", I386_GETPID, [0; 3]),
        i("i386 mount", I386_MOUNT, [0; 3]),
        i(
            "i386 ioctl(-1, FIONREAD)",
            I386_IOCTL,
            [BAD_FD32, FIONREAD, 0],
        ),
        i(
            "i386 ioctl(-1, TIOCSTI)",
            I386_IOCTL,
            [BAD_FD32, TIOCSTI, 0],
        ),
        i(
            "i386 ioctl(-1, TIOCSTI|1<<32)",
            I386_IOCTL,
            [BAD_FD32, TIOCSTI | HIGH, 0],
        ),
        i(
            "i386 ioctl(-1, TIOCLINUX)",
            I386_IOCTL,
            [BAD_FD32, TIOCLINUX, 0],
        ),
        i("i386 unshare(0)", I386_UNSHARE, [0; 3]),
    ]
}

/// The probe called `name`; panics if there is none.
pub fn probe(name: &str) -> Probe {
    probes()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no probe {name:?}"))
}

/// The installed snapd (2.57 on Debian 12), whose default template
/// [`snapd_257_profile`] reads.
pub use crate::snapd::SNAPD;

/// snapd 2.57's default template, read out of the installed [`SNAPD`].
fn template_257() -> Option<String> {
    crate::snapd::SnapdBinary::installed()?
        .text(
            "# Description: Allows access to app-specific directories and basic runtime\n#\n# The default seccomp",
            "pwritev\n",
        )
        .ok()
}

/// The `.src` snapd 2.57 writes for a strict app with no plugs on a host
/// without AppArmor: a version header, the default template, the bare
/// privilege-drop rules and `bind` (what `generateContent` appends without
/// system users and without AppArmor). `None` when snapd is not installed
/// or its template cannot be found in it.
pub fn snapd_257_profile() -> Option<String> {
    let template = template_257()?;
    Some(format!(
        "# snap-seccomp version information:\n# x\n{template}\nsetgid\nsetgid32\nsetregid\nsetregid32\nsetresgid\nsetresgid32\nsetresuid\nsetresuid32\nsetreuid\nsetreuid32\nsetuid\nsetuid32\nbind\n"
    ))
}

/// The C source of the probe program.
pub const PROBE_C: &str = include_str!("seccomp_probe/probe.c");

/// Compile [`PROBE_C`] with `gcc -static` into `dir/seccomp-probe` (mode
/// 0755): a program with no dependencies, which runs on any base.
pub fn build_probe(dir: &Path) -> io::Result<PathBuf> {
    crate::static_c::build_static_c(PROBE_C, dir, "seccomp-probe")
}

/// Read the probe program's output for `n` probes: one line a probe,
/// `exit N` or `signal N`.
pub fn parse_report(report: &str, n: usize) -> Result<Vec<Outcome>, String> {
    let outcomes = report
        .lines()
        .map(|line| match line.split_once(' ') {
            Some(("exit", code)) => code
                .parse()
                .map(Outcome::from_exit_code)
                .map_err(|_| format!("bad line {line:?}")),
            Some(("signal", sig)) => sig
                .parse()
                .map(Outcome::Killed)
                .map_err(|_| format!("bad line {line:?}")),
            _ => Err(format!("bad line {line:?}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if outcomes.len() != n {
        return Err(format!(
            "{} results for {n} probes:\n{report}",
            outcomes.len()
        ));
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_reports() {
        let p = probe("i386 ioctl(-1, TIOCSTI|1<<32)");
        assert_eq!(p.spec(), "i,54,4294967295,4294988818,0,0,0,0");
        assert_eq!(
            parse_report("exit 200\nexit 9\nexit 1\nsignal 31\n", 4).unwrap(),
            [
                Outcome::Ran(None),
                Outcome::Ran(Some(9)),
                Outcome::Errno(1),
                Outcome::Killed(31)
            ]
        );
        assert!(parse_report("exit 200\n", 2).is_err());
        assert!(parse_report("what\n", 1).is_err());
        let names: std::collections::BTreeSet<_> = probes().iter().map(|p| p.name).collect();
        assert_eq!(names.len(), probes().len(), "names are unique");
    }
}
