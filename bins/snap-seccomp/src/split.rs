//! A large filter built in pieces, to make compiling cheap.
//!
//! libseccomp 2.5's costs grow with the square of a filter's size: every
//! rule added walks the whole rule list of each architecture twice (the
//! transaction's shadow copy), and the BPF generator looks its blocks up in
//! a hash table that only ever uses 8 buckets (`_BPF_HASH_MASK` is
//! `_BPF_HASH_BITS - 1`). snapd's template (about 400 rules on two
//! architectures) spends most of its compile time there.
//!
//! So the allow filter is built as many small libseccomp filters, one
//! architecture each, each holding the rules of a range of system call
//! numbers, exported one by one and glued behind a small dispatcher:
//!
//! ```text
//!     ld arch; jeq I386 → i386 dispatch; else x86_64 dispatch
//!     x86_64 dispatch: ld nr; binary search of the ranges → ja piece
//!     i386 dispatch:   ld nr; socketcall, ipc and their direct numbers
//!                      → ja the multiplexed piece; binary search → ja piece
//!     piece, piece, ...   (each a whole libseccomp program)
//! ```
//!
//! Each piece is a complete program with libseccomp's own preamble (its
//! architecture check, x32 check and default action), so a system call sent
//! to any piece that has no rule for it gets the same answer as from the
//! whole filter: the default action, or KILL_THREAD for an architecture the
//! filter does not cover (these go to the last architecture's pieces). The
//! dispatcher only has to send each system call number to the piece holding
//! its rules. On i386 libseccomp turns a rule for a socket or SysV IPC call
//! into rules on both `socketcall`/`ipc` and the direct system call, so all
//! those names, and any name with no i386 number, share one piece that gets
//! every one of those numbers.
//!
//! Only for x86_64 and i386 (the multiplexing of other architectures is not
//! modelled here) and for more than `2 * PER_PIECE` rules; otherwise, or
//! when a piece refuses a rule, the whole filter is built as one, as before.

use std::collections::HashMap;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpFilterContext, ScmpSyscall};
use snapcell_core::seccomp::bpf::{
    AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, DATA_ARCH, DATA_NR, JMP_JA, JMP_JEQ_K, JMP_JGE_K, LD_W_ABS,
    RET_ALLOW, RET_K, SockFilter,
};

/// Distinct system calls per piece: small enough that the quadratic costs
/// vanish, large enough that the pieces' own preambles stay few.
const PER_PIECE: usize = 24;

/// i386 numbers libseccomp may emit for a rule on a socket or SysV IPC
/// call: `socketcall` (102) and `ipc` (117), which it multiplexes them
/// through, and their direct numbers: `recvmmsg` (337), `sendmmsg` (345),
/// `socket` to `shutdown` (359-373), `semget` to `msgctl` (393-402).
/// (A test checks this against libseccomp's tables.)
const I386_MUX: [(u32, u32); 6] = [
    (102, 102),
    (117, 117),
    (337, 337),
    (345, 345),
    (359, 373),
    (393, 402),
];
/// The i386 numbers libseccomp's i386 rule handling treats as socket or
/// IPC calls (359-373, 392-402): never allowed by the dispatcher itself,
/// whatever `I386_MUX` says.
const I386_SPECIAL: [(u32, u32); 2] = [(359, 373), (392, 402)];
const I386_SOCKETCALL: i32 = 102;
const I386_IPC: i32 = 117;

/// One rule, resolved.
pub struct Rule<'a> {
    pub name: &'a str,
    pub action: ScmpAction,
    pub syscall: ScmpSyscall,
    pub conditions: Vec<ScmpArgCompare>,
}

/// The pieces of one architecture.
struct ArchPieces {
    audit: u32,
    /// System call numbers the dispatcher allows itself, sorted: every rule
    /// for them is an unconditional allow.
    fast: Vec<u32>,
    /// (lowest system call number, filter), by number.
    ranges: Vec<(u32, ScmpFilterContext)>,
    /// i386: the piece for the multiplexed calls (all of `I386_MUX`).
    mux: Option<ScmpFilterContext>,
}

pub struct Split {
    arches: Vec<ArchPieces>,
}

fn audit(arch: ScmpArch) -> Option<u32> {
    match arch {
        ScmpArch::X8664 => Some(AUDIT_ARCH_X86_64),
        ScmpArch::X86 => Some(AUDIT_ARCH_I386),
        _ => None,
    }
}

fn is_i386_mux(nr: u32) -> bool {
    I386_MUX.iter().any(|&(lo, hi)| (lo..=hi).contains(&nr))
}

/// Whether libseccomp multiplexes `name` on i386 (through `socketcall` or
/// `ipc`), or `name` is one of those two.
fn is_i386_muxed(name: &str) -> bool {
    matches!(
        ScmpSyscall::from_name_by_arch_rewrite(name, ScmpArch::X86).map(i32::from),
        Ok(I386_SOCKETCALL | I386_IPC)
    )
}

/// Build `rules` in pieces for `arches`; `None` where this does not apply
/// or libseccomp refuses a rule (the caller then builds the whole filter,
/// which reports the error as before).
pub fn build(
    arches: &[ScmpArch],
    rules: &[Rule],
    new_filter: impl Fn(ScmpArch) -> Option<ScmpFilterContext>,
) -> Option<Split> {
    // A small filter is cheap whole, and smaller.
    if rules.len() <= 2 * PER_PIECE
        || arches.is_empty()
        || arches.iter().any(|a| audit(*a).is_none())
    {
        return None;
    }
    let mut out = Vec::new();
    for &arch in arches {
        // The number of each rule on this architecture (negative: none;
        // on the native one, the number the rule was resolved to).
        let native = arch == ScmpArch::native();
        let numbers: Vec<i32> = rules
            .iter()
            .map(|r| {
                if native {
                    i32::from(r.syscall).max(-1)
                } else {
                    ScmpSyscall::from_name_by_arch(r.name, arch)
                        .map(i32::from)
                        .unwrap_or(-1)
                }
            })
            .collect();
        let i386 = arch == ScmpArch::X86;
        let muxed: Vec<bool> = rules
            .iter()
            .zip(&numbers)
            .map(|(r, &n)| i386 && (n < 0 || is_i386_mux(n as u32) || is_i386_muxed(r.name)))
            .collect();
        // A number whose every rule is an unconditional allow is allowed by
        // the dispatcher itself (libseccomp's program for it is `if nr == N
        // return ALLOW`, whatever the arguments): most of a template, which
        // then costs libseccomp nothing. The others go to the pieces.
        let (mut fast, mut distinct) = (Vec::new(), Vec::new());
        for ((rule, &n), &m) in rules.iter().zip(&numbers).zip(&muxed) {
            if n < 0 || m {
                continue;
            }
            let n = n as u32;
            let plain = rule.action == ScmpAction::Allow && rule.conditions.is_empty();
            if plain && !(i386 && I386_SPECIAL.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))) {
                fast.push(n);
            } else {
                distinct.push(n);
            }
        }
        distinct.sort_unstable();
        distinct.dedup();
        fast.sort_unstable();
        fast.dedup();
        fast.retain(|n| distinct.binary_search(n).is_err());
        let mut lows: Vec<u32> = distinct.chunks(PER_PIECE).map(|c| c[0]).collect();
        if lows.is_empty() {
            lows.push(0);
        }
        lows[0] = 0;
        let mut ranges = Vec::with_capacity(lows.len());
        for &lo in &lows {
            ranges.push((lo, new_filter(arch)?));
        }
        let mut mux = if arch == ScmpArch::X86 {
            Some(new_filter(arch)?)
        } else {
            None
        };
        for ((rule, &n), &m) in rules.iter().zip(&numbers).zip(&muxed) {
            if n >= 0 && !m && fast.binary_search(&(n as u32)).is_ok() {
                continue;
            }
            let ctx = if m {
                mux.as_mut()?
            } else {
                // A name with no number here: libseccomp drops it for
                // this architecture, in any piece.
                let n = n.max(0) as u32;
                let i = lows.partition_point(|&lo| lo <= n) - 1;
                &mut ranges[i].1
            };
            // With one architecture `_exact` would succeed where snapd's
            // (two architectures) fails and falls back to this.
            ctx.add_rule_conditional(rule.action, rule.syscall, &rule.conditions)
                .ok()?;
        }
        out.push(ArchPieces {
            audit: audit(arch)?,
            fast,
            ranges,
            mux,
        });
    }
    Some(Split { arches: out })
}

/// A jump target while the dispatcher is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Label {
    Arch(usize),
    Range(usize, usize),
    Mux(usize),
    Local(usize),
}

enum Ins {
    Stmt(SockFilter),
    /// `jeq`/`jge k` to `t`, else fall through to the next instruction.
    Jump(u16, u32, Label),
    /// `jeq`/`jge k`: to `t` if taken, to `f` if not.
    Cond(u16, u32, Label, Label),
    /// `ja` anywhere.
    Goto(Label),
    Here(Label),
}

impl Split {
    /// Export every piece (through `export`) and glue them.
    pub fn assemble(
        &self,
        mut export: impl FnMut(&ScmpFilterContext) -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, String> {
        let mut code = vec![Ins::Stmt(SockFilter::stmt(LD_W_ABS, DATA_ARCH))];
        // All but the last architecture by their audit value; anything
        // else goes to the last one's pieces, whose preamble kills it.
        // The last one's dispatcher comes first and may be longer than a
        // conditional jump reaches: through a `ja`.
        let mut local = 0;
        for (a, pieces) in self.arches.iter().enumerate().rev().skip(1) {
            let (far, next) = (Label::Local(local), Label::Local(local + 1));
            local += 2;
            code.push(Ins::Cond(JMP_JEQ_K, pieces.audit, far, next));
            code.push(Ins::Here(far));
            code.push(Ins::Goto(Label::Arch(a)));
            code.push(Ins::Here(next));
        }
        for (a, pieces) in self.arches.iter().enumerate().rev() {
            code.push(Ins::Here(Label::Arch(a)));
            if a + 1 == self.arches.len() && !pieces.fast.is_empty() {
                // The last architecture also gets every foreign one: that
                // goes to a piece, whose preamble kills it, before any
                // number is allowed here.
                let native = Label::Local(local);
                local += 1;
                code.push(Ins::Jump(JMP_JEQ_K, pieces.audit, native));
                code.push(Ins::Goto(Label::Range(a, 0)));
                code.push(Ins::Here(native));
            }
            code.push(Ins::Stmt(SockFilter::stmt(LD_W_ABS, DATA_NR)));
            if pieces.mux.is_some() {
                // Conditional jumps reach 255 instructions: to the piece
                // through a local `ja`.
                let (mux, rest) = (Label::Local(local), Label::Local(local + 1));
                local += 2;
                for &(lo, hi) in &I386_MUX {
                    if lo == hi {
                        code.push(Ins::Jump(JMP_JEQ_K, lo, mux));
                    } else {
                        // lo <= nr <= hi: jge lo, then jge hi+1 not taken.
                        let (inside, next) = (Label::Local(local), Label::Local(local + 1));
                        local += 2;
                        code.push(Ins::Cond(JMP_JGE_K, lo, inside, next));
                        code.push(Ins::Here(inside));
                        code.push(Ins::Cond(JMP_JGE_K, hi + 1, next, mux));
                        code.push(Ins::Here(next));
                    }
                }
                code.push(Ins::Goto(rest));
                code.push(Ins::Here(mux));
                code.push(Ins::Goto(Label::Mux(a)));
                code.push(Ins::Here(rest));
            }
            let lows: Vec<u32> = pieces.ranges.iter().map(|(lo, _)| *lo).collect();
            search(&mut code, &mut local, a, &segments(&lows, &pieces.fast));
        }
        let mut bodies = Vec::new();
        for (a, pieces) in self.arches.iter().enumerate() {
            for (i, (_, ctx)) in pieces.ranges.iter().enumerate() {
                bodies.push((Label::Range(a, i), export(ctx)?));
            }
            if let Some(ctx) = &pieces.mux {
                bodies.push((Label::Mux(a), export(ctx)?));
            }
        }
        // Lay out: dispatcher, then the pieces.
        let mut at: HashMap<Label, usize> = HashMap::with_capacity(code.len() + bodies.len());
        let mut pc = 0;
        for ins in &code {
            match ins {
                Ins::Here(l) => {
                    at.insert(*l, pc);
                }
                _ => pc += 1,
            }
        }
        for (label, body) in &bodies {
            at.insert(*label, pc);
            pc += body.len() / 8;
        }
        let find = |l: Label| -> usize { at[&l] };
        let short = |from: usize, to: Label| -> Result<u8, String> {
            u8::try_from(find(to) - from - 1)
                .map_err(|_| "internal error: dispatcher jump too long".to_string())
        };
        let mut out = Vec::with_capacity(pc * 8);
        let mut pc = 0;
        for ins in &code {
            let insn = match *ins {
                Ins::Here(_) => continue,
                Ins::Stmt(s) => s,
                Ins::Jump(op, k, t) => SockFilter::jump(op, k, short(pc, t)?, 0),
                Ins::Cond(op, k, t, f) => SockFilter::jump(op, k, short(pc, t)?, short(pc, f)?),
                Ins::Goto(t) => SockFilter::stmt(JMP_JA, (find(t) - pc - 1) as u32),
            };
            out.extend_from_slice(&insn.to_bytes());
            pc += 1;
        }
        for (_, body) in bodies {
            out.extend_from_slice(&body);
        }
        Ok(out)
    }
}

/// Where the dispatcher sends a range of system call numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Leaf {
    /// The piece of this index.
    Piece(usize),
    /// `ret ALLOW`.
    Allow,
}

/// The ranges of numbers, by their lowest (the first is 0): each number
/// allowed by the dispatcher is a range of its own, the numbers between go
/// to the piece holding them (`lows`: the pieces' lowest numbers, the
/// first 0).
fn segments(lows: &[u32], fast: &[u32]) -> Vec<(u32, Leaf)> {
    let piece = |n: u32| lows.partition_point(|&lo| lo <= n) - 1;
    let mut points: Vec<u32> = lows
        .iter()
        .chain(fast)
        .copied()
        .chain(fast.iter().filter_map(|n| n.checked_add(1)))
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut out: Vec<(u32, Leaf)> = Vec::with_capacity(points.len());
    for p in points {
        let leaf = if fast.binary_search(&p).is_ok() {
            Leaf::Allow
        } else {
            Leaf::Piece(piece(p))
        };
        if out.last().is_none_or(|&(_, last)| last != leaf) {
            out.push((p, leaf));
        }
    }
    out
}

/// Instructions of a `search` over `n` ranges.
fn tree_size(n: usize) -> usize {
    if n == 1 {
        return 1;
    }
    let left = tree_size(n / 2);
    1 + usize::from(left > 255) + left + tree_size(n - n / 2)
}

/// A binary search of `segs` (the number is in A): each leaf allows, or
/// jumps to its piece.
fn search(code: &mut Vec<Ins>, local: &mut usize, arch: usize, segs: &[(u32, Leaf)]) {
    if let [(_, leaf)] = segs {
        code.push(match *leaf {
            Leaf::Piece(i) => Ins::Goto(Label::Range(arch, i)),
            Leaf::Allow => Ins::Stmt(SockFilter::stmt(RET_K, RET_ALLOW)),
        });
        return;
    }
    let mid = segs.len() / 2;
    let (high, low) = (Label::Local(*local), Label::Local(*local + 1));
    *local += 2;
    if tree_size(mid) > 255 {
        // A conditional jump reaches 255 instructions: over the lower half
        // through a `ja`.
        let far = Label::Local(*local);
        *local += 1;
        code.push(Ins::Cond(JMP_JGE_K, segs[mid].0, far, low));
        code.push(Ins::Here(far));
        code.push(Ins::Goto(high));
    } else {
        code.push(Ins::Cond(JMP_JGE_K, segs[mid].0, high, low));
    }
    code.push(Ins::Here(low));
    search(code, local, arch, &segs[..mid]);
    code.push(Ins::Here(high));
    search(code, local, arch, &segs[mid..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Compiled, Format, Program, build, is_known};
    use snapcell_core::seccomp::bpf::{AUDIT_ARCH_AARCH64, X32_SYSCALL_BIT};
    use snapcell_core::seccomp::{kernel, lang};

    /// What the kernel returns for one call under `prog`.
    fn run(prog: &kernel::Filter, arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
        prog.run(&kernel::SeccompData::new(arch, nr, *args))
    }

    fn program(bytes: &[u8]) -> Vec<SockFilter> {
        bytes
            .chunks(8)
            .map(|b| SockFilter {
                code: u16::from_ne_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            })
            .collect()
    }

    fn exported(compiled: &Compiled) -> Vec<Vec<SockFilter>> {
        let Compiled::Filters { allow, deny } = compiled else {
            panic!("unrestricted")
        };
        let mut scratch = tempfile::tempfile().unwrap();
        std::iter::once(allow)
            .chain(deny)
            .map(|p| program(&crate::output::export(p, &mut scratch).unwrap()))
            .collect()
    }

    /// Split and whole filters decide alike on every system call number of
    /// both architectures (and x32, and a foreign architecture), for
    /// argument values around those the rules name.
    fn assert_same(src: &str) {
        let profile = lang::parse("t.src", src.as_bytes(), &is_known).unwrap();
        for format in [Format::Bin2, Format::Bin] {
            let split = build("t.src", &profile, format, true).unwrap();
            assert!(matches!(
                &split,
                Compiled::Filters {
                    allow: Program::Split(_),
                    ..
                }
            ));
            let whole = build("t.src", &profile, format, false).unwrap();
            let (split, whole) = (exported(&split), exported(&whole));
            fn checked(stack: &[Vec<SockFilter>]) -> Vec<kernel::Filter<'_>> {
                stack
                    .iter()
                    .map(|p| kernel::Filter::new(p).expect("a valid filter"))
                    .collect()
            }
            let (split, whole) = (checked(&split), checked(&whole));
            let values: &[u64] = &[
                0,
                1,
                2,
                3,
                4,
                5,
                9,
                10,
                11,
                16,
                17,
                19,
                20,
                21,
                38,
                0x5412,
                0x541c,
                0o10000,
                0o20000,
                0o60000,
                0o100000,
                0o4000,
                0xffff_ffff,
                u64::MAX,
                1 << 32 | 0x5412,
            ];
            let mut vectors = vec![[0u64; 6]];
            for &v in values {
                vectors.push([v; 6]);
                for i in 0..4 {
                    let mut a = [0u64; 6];
                    a[i] = v;
                    vectors.push(a);
                }
            }
            let nrs = (0..=470u32)
                .chain((0..=20).map(|n| n | X32_SYSCALL_BIT))
                .chain([1000, 0x3fff_ffff, u32::MAX]);
            let arches = [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64];
            for nr in nrs {
                for arch in arches {
                    for args in &vectors {
                        let decide = |stack: &[kernel::Filter]| {
                            stack
                                .iter()
                                .map(|p| run(p, arch, nr, args))
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(
                            decide(&split),
                            decide(&whole),
                            "{format:?} arch {arch:#x} nr {nr} args {args:x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn i386_mux_holds_every_direct_number_of_a_multiplexed_call() {
        let mut found = 0;
        for nr in 0..1024 {
            if let Ok(name) = ScmpSyscall::from(nr).get_name_by_arch(ScmpArch::X86)
                && is_i386_muxed(&name)
            {
                assert!(is_i386_mux(nr as u32), "{name} ({nr})");
                found += 1;
            }
        }
        // socketcall, ipc, recvmmsg, sendmmsg, 15 direct socket calls and
        // 10 direct IPC calls in libseccomp 2.5.4.
        assert!(found >= 29, "{found}");
    }

    #[test]
    fn segments_send_each_number_where_it_belongs() {
        let lows = [0, 10, 20];
        let fast = [0, 5, 6, 10, 19, 25, u32::MAX];
        let segs = segments(&lows, &fast);
        assert_eq!(segs[0].0, 0);
        assert!(segs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
        let leaf = |n: u32| segs[segs.partition_point(|&(lo, _)| lo <= n) - 1].1;
        for n in (0..40).chain([u32::MAX - 1, u32::MAX]) {
            let want = if fast.contains(&n) {
                Leaf::Allow
            } else {
                Leaf::Piece(lows.partition_point(|&lo| lo <= n) - 1)
            };
            assert_eq!(leaf(n), want, "{n}");
        }
        // More ranges than conditional jumps reach: the search still
        // assembles (through `ja`s) and every leaf is placed.
        let fast: Vec<u32> = (0..2000).map(|n| n * 2).collect();
        let segs = segments(&[0], &fast);
        let mut code = Vec::new();
        search(&mut code, &mut 0, 0, &segs);
        let leaves = code
            .iter()
            .filter(|i| {
                matches!(i, Ins::Stmt(s) if s.code == RET_K)
                    || matches!(i, Ins::Goto(Label::Range(..)))
            })
            .count();
        assert_eq!(leaves, segs.len());
        assert!(
            tree_size(segs.len()) == code.iter().filter(|i| !matches!(i, Ins::Here(_))).count()
        );
    }

    #[test]
    fn split_decides_as_whole_on_a_mixed_profile() {
        let mut src = String::from("read\nwrite\nclose\nexit_group\nrt_sigreturn\n");
        // Argument rules, i386 socketcall/ipc multiplexing, 32-bit ids,
        // names of one architecture only, deny rules.
        src.push_str(
            "socket AF_UNIX\nsocket AF_INET6 - 0\nsocket AF_NETLINK - NETLINK_ROUTE\nbind\n\
             accept4\nsetsockopt - 1 -\nrecvmmsg\nsendmsg\nshmctl\nsemop\nmsgrcv\nipc\n\
             chown - u:root g:root\nchown32 - 0 -1\nfchown - -1 g:root\nsetuid 0\n\
             setpriority PRIO_PROCESS 0 <=19\nmknodat - - |S_IFIFO -\nioctl - !TIOCSTI\n\
             arch_prctl\nmmap2\n_llseek\nsocketcall\nkcmp - - 0\ncopy_file_range - - - - - 0\n\
             ~ioctl - 4294967295|TIOCSTI\n~chmod - |S_ISUID\n~openat2\nopenat\nchmod\n",
        );
        // Enough names for several pieces per architecture.
        for name in [
            "getpid",
            "getppid",
            "futex",
            "clone",
            "clone3",
            "execve",
            "mprotect",
            "munmap",
            "brk",
            "pipe2",
            "dup3",
            "epoll_wait",
            "epoll_ctl",
            "eventfd2",
            "timerfd_create",
            "prctl",
            "uname",
            "fcntl",
            "flock",
            "fsync",
            "truncate",
            "getdents64",
            "getcwd",
            "chdir",
            "rename",
            "mkdir",
            "rmdir",
            "link",
            "unlink",
            "symlink",
            "readlink",
            "umask",
            "gettimeofday",
            "getrlimit",
            "getrusage",
            "sysinfo",
            "times",
            "getuid",
            "getgid",
            "geteuid",
            "getegid",
            "setpgid",
            "getpgrp",
            "setsid",
            "sched_yield",
            "statx",
            "close_range",
            "faccessat2",
            "epoll_pwait2",
            "futex_waitv",
            "rseq",
            "membarrier",
            "memfd_create",
            "getrandom",
            "pidfd_open",
            "waitid",
            "tgkill",
        ] {
            src.push_str(name);
            src.push('\n');
        }
        assert_same(&src);
    }

    #[test]
    fn split_decides_as_whole_on_snapd_257s_template() {
        let Ok(data) = std::fs::read("/usr/lib/snapd/snapd") else {
            eprintln!("SKIPPED: no /usr/lib/snapd/snapd");
            return;
        };
        let start = b"# Description: Allows access to app-specific directories and basic runtime\n#\n# The default seccomp";
        let Some(i) = data.windows(start.len()).position(|w| w == start) else {
            eprintln!("SKIPPED: no template in /usr/lib/snapd/snapd");
            return;
        };
        let rest = &data[i..];
        let end = rest
            .iter()
            .position(|&b| !(b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b)))
            .unwrap();
        let template = String::from_utf8(rest[..end].to_vec()).unwrap();
        assert_same(&format!("{template}\nbind\nlisten\naccept4\nsetuid\n"));
    }
}
