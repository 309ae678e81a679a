//! Several seccomp filters as one: a classic BPF program whose result, for
//! every `seccomp_data`, is the result of the kernel running the filters as
//! a stack ([`kernel::run_stack`]). The kernel charges a fixed cost per
//! filter run (about 16 ns on the benchmark machine, more than the few
//! dozen instructions of a profile), so a launcher that loads one
//! composed filter instead of three pays that cost once.
//!
//! The kernel runs every filter, the newest first, and keeps the return
//! value with the lowest action (signed: `KILL_PROCESS` lowest), the first
//! seen among equal actions. The composed program runs the filters in that
//! order, each body copied unchanged but for its returns, which become
//! jumps of the same size (so no jump inside a body changes):
//!
//! * a *clean* copy of each filter runs while every filter so far allowed
//!   (the running result is `ALLOW`, held by where the program is): an
//!   `ALLOW` return jumps to the next filter's clean copy, a `KILL_PROCESS`
//!   return returns (nothing is lower), any other return stores its value
//!   in a scratch slot and jumps to the next filter's *dirty* copy;
//! * a *dirty* copy (every filter but the newest) runs once a value is
//!   held: an `ALLOW` return jumps on, any other goes through a merge block
//!   that keeps the held value unless the new one's action is strictly
//!   lower (actions compared as unsigned after flipping the sign bit);
//! * the last clean copy returns its own value (`ALLOW` normalised), the
//!   last dirty copy ends in the held value.
//!
//! The clean path uses only what the kernel's action cache emulates
//! (`seccomp_is_const_allow`: loads of `nr` and `arch`, constant jumps,
//! `RET`), so a call every filter allows whatever its arguments is still
//! skipped by the cache, as with the separate filters. A filter after the
//! first that may read `A` or `X` before writing it starts with `A &= 0`
//! / `LDX #0` (the registers start at 0 in each filter); the cache's
//! emulation follows the first but not the second, so a composition where
//! a later filter reads `X` before writing it (libseccomp's never do) is
//! never cached: it decides the same, only slower.
//!
//! [`compose`] refuses (`None`; the caller loads the filters separately)
//! when a program is one the kernel would refuse, when fewer than two
//! scratch slots are left unused by the programs, or when the result would
//! exceed `BPF_MAXINSNS`. It emits only opcodes `seccomp_check_filter`
//! accepts, and checks its result with [`kernel::check`].

use std::collections::BTreeMap;

use super::bpf::{BpfProgram, RET_ALLOW, RET_KILL_PROCESS, SockFilter};
use super::kernel::{
    self, ACTION_FULL, ALU, AND, IMM, JA, JEQ, JGE, JMP, K, LD, LDX, MAXINSNS, MEM, MEMWORDS, MISC,
    RET, RET_A, ST, STX, TAX, X, XOR,
};

/// Flips the sign bit of an action so that unsigned order is the kernel's
/// signed order.
const SIGN: u32 = 0x8000_0000;

/// One filter of the stack, composed: the programs in load order (as they
/// would be passed to `seccomp(2)` one after the other). `None` when the
/// composition is refused (see the module documentation).
pub fn compose(load_order: &[&BpfProgram]) -> Option<BpfProgram> {
    let chain: Vec<&[SockFilter]> = load_order.iter().rev().map(|p| p.instructions()).collect();
    if chain.is_empty() {
        return None;
    }
    let mut used: u32 = 0;
    for prog in &chain {
        kernel::check(prog).ok()?;
        for i in prog.iter() {
            if matches!(i.code, c if c == ST || c == STX || c == LD | MEM || c == LDX | MEM) {
                used |= 1 << i.k;
            }
        }
    }
    let mut free = (0..MEMWORDS).rev().filter(|s| used & (1 << s) == 0);
    let slots = Slots {
        best: free.next()?,
        tmp: free.next()?,
    };

    let n = chain.len();
    let mut asm = Asm::default();
    for (i, prog) in chain.iter().enumerate() {
        let last = i + 1 == n;
        let (clean_next, dirty_next) = if last {
            (None, Label::Final)
        } else {
            (Some(Label::Clean(i + 1)), Label::Dirty(i + 1))
        };
        asm.label(Label::Clean(i));
        asm.body(i, prog, Mode::Clean, clean_next, dirty_next, slots);
        if i > 0 {
            asm.separate(slots);
            asm.label(Label::Dirty(i));
            asm.body(i, prog, Mode::Dirty, clean_next, dirty_next, slots);
        }
        if asm.len > MAXINSNS {
            return None;
        }
    }
    if n > 1 {
        asm.separate(slots);
        asm.label(Label::Final);
        asm.insn(SockFilter::stmt(LD | MEM, slots.best));
        asm.insn(SockFilter::stmt(RET_A, 0));
    }
    let insns = asm.resolve()?;
    debug_assert_eq!(kernel::check(&insns), Ok(()));
    kernel::check(&insns).ok()?;
    BpfProgram::new(insns)
}

#[derive(Clone, Copy)]
struct Slots {
    /// The held value (dirty copies).
    best: u32,
    /// A value being merged.
    tmp: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Clean(usize),
    Dirty(usize),
    /// The merge block of filter `i`'s dirty copy.
    Merge(usize),
    /// A stub of filter `i`'s copy (clean or dirty) loading a constant.
    Stub(usize, bool, u32),
    /// The `RET A` stub of filter `i`'s clean copy.
    RetA(usize),
    Final,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Clean,
    Dirty,
}

enum Item {
    Insn(SockFilter),
    /// `JA` to a label (forward).
    Ja(Label),
    Here(Label),
}

#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    len: usize,
}

impl Asm {
    fn insn(&mut self, i: SockFilter) {
        self.items.push(Item::Insn(i));
        self.len += 1;
    }

    fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
        self.len += 1;
    }

    fn label(&mut self, l: Label) {
        self.items.push(Item::Here(l));
    }

    /// The kernel's scratch-memory check lets an instruction after a
    /// return inherit what was valid before it (and a jump passes that on
    /// to its target): between a return and a block that reads the held
    /// value, put a store of it, never run (nothing jumps to it), so that
    /// the check sees the slot written.
    fn separate(&mut self, slots: Slots) {
        let after_ret = self.items.iter().rev().find_map(|it| match it {
            Item::Insn(i) => Some(i.code & 0x07 == RET),
            Item::Ja(_) => Some(false),
            Item::Here(_) => None,
        });
        if after_ret == Some(true) {
            self.insn(SockFilter::stmt(ST, slots.best));
        }
    }

    /// One copy of a filter body, its returns rewritten, then its stubs
    /// (and, dirty, its merge block).
    fn body(
        &mut self,
        index: usize,
        prog: &[SockFilter],
        mode: Mode,
        clean_next: Option<Label>,
        dirty_next: Label,
        slots: Slots,
    ) {
        // A and X are 0 where the composed program starts, as where each
        // filter would.
        let (reset_a, reset_x) = match (index, mode) {
            (0, Mode::Clean) => (false, false),
            _ => reads_before_write(prog),
        };
        if reset_a {
            // `A &= 0`, not `LD #0`: the action cache's emulation follows
            // `AND` and stops at `LD #k`.
            self.insn(SockFilter::stmt(ALU | AND | K, 0));
        }
        if reset_x {
            self.insn(SockFilter::stmt(LDX | IMM, 0));
        }
        let dirty = mode == Mode::Dirty;
        let mut stubs: BTreeMap<u32, Label> = BTreeMap::new();
        let mut ret_a = false;
        for ins in prog {
            if ins.code == RET | K {
                let action = ins.k & ACTION_FULL;
                match (mode, action) {
                    (Mode::Clean, RET_ALLOW) => match clean_next {
                        Some(l) => self.ja(l),
                        None => self.insn(SockFilter::stmt(RET | K, RET_ALLOW)),
                    },
                    (Mode::Clean, _) if clean_next.is_none() || action == RET_KILL_PROCESS => {
                        self.insn(*ins)
                    }
                    (Mode::Dirty, RET_ALLOW) => self.ja(dirty_next),
                    _ => {
                        let l = *stubs
                            .entry(ins.k)
                            .or_insert(Label::Stub(index, dirty, ins.k));
                        self.ja(l);
                    }
                }
            } else if ins.code == RET_A {
                match mode {
                    Mode::Dirty => self.ja(Label::Merge(index)),
                    Mode::Clean => {
                        ret_a = true;
                        self.ja(Label::RetA(index));
                    }
                }
            } else {
                self.insn(*ins);
            }
        }
        for (k, l) in stubs {
            self.label(l);
            self.insn(SockFilter::stmt(LD | IMM, k));
            match mode {
                Mode::Clean => {
                    self.insn(SockFilter::stmt(ST, slots.best));
                    self.ja(dirty_next);
                }
                Mode::Dirty => self.ja(Label::Merge(index)),
            }
        }
        if ret_a {
            // Clean `RET A`: hold A unless its action is ALLOW.
            self.label(Label::RetA(index));
            self.insn(SockFilter::stmt(ST, slots.best));
            self.insn(SockFilter::stmt(ALU | AND | K, ACTION_FULL));
            self.insn(SockFilter::jump(JMP | JEQ | K, RET_ALLOW, 0, 1));
            match clean_next {
                Some(l) => self.ja(l),
                None => self.insn(SockFilter::stmt(RET | K, RET_ALLOW)),
            }
            if clean_next.is_some() {
                self.ja(dirty_next);
            } else {
                self.insn(SockFilter::stmt(LD | MEM, slots.best));
                self.insn(SockFilter::stmt(RET_A, 0));
            }
        }
        if dirty {
            // A: the new value. Keep the held one unless the new action is
            // strictly lower (signed), as `seccomp_run_filters`.
            self.label(Label::Merge(index));
            self.insn(SockFilter::stmt(ST, slots.tmp));
            self.insn(SockFilter::stmt(LD | MEM, slots.best));
            self.insn(SockFilter::stmt(ALU | AND | K, ACTION_FULL));
            self.insn(SockFilter::stmt(ALU | XOR | K, SIGN));
            self.insn(SockFilter::stmt(MISC | TAX, 0));
            self.insn(SockFilter::stmt(LD | MEM, slots.tmp));
            self.insn(SockFilter::stmt(ALU | AND | K, ACTION_FULL));
            self.insn(SockFilter::stmt(ALU | XOR | K, SIGN));
            self.insn(SockFilter::jump(JMP | JGE | X, 0, 2, 0));
            self.insn(SockFilter::stmt(LD | MEM, slots.tmp));
            self.insn(SockFilter::stmt(ST, slots.best));
            self.ja(dirty_next);
        }
    }

    /// Replace labels by offsets. `None` if too long.
    fn resolve(self) -> Option<Vec<SockFilter>> {
        if self.len > MAXINSNS {
            return None;
        }
        let mut at = BTreeMap::new();
        let mut pc = 0usize;
        for it in &self.items {
            match it {
                Item::Here(l) => {
                    at.insert(*l, pc);
                }
                _ => pc += 1,
            }
        }
        let mut out = Vec::with_capacity(self.len);
        for it in self.items {
            match it {
                Item::Insn(i) => out.push(i),
                Item::Ja(l) => {
                    let to = *at.get(&l)?;
                    let off = to.checked_sub(out.len() + 1)?;
                    out.push(SockFilter::stmt(JMP | JA, u32::try_from(off).ok()?));
                }
                Item::Here(_) => {}
            }
        }
        Some(out)
    }
}

/// Whether a program may read `A`, or `X`, before writing it (both start
/// at 0 when the kernel runs a filter). Jumps only go forward: one pass.
fn reads_before_write(prog: &[SockFilter]) -> (bool, bool) {
    // Per instruction: (A maybe unset, X maybe unset) on entry; None if
    // unreachable so far.
    let mut state: Vec<Option<(bool, bool)>> = vec![None; prog.len()];
    state[0] = Some((true, true));
    let (mut read_a, mut read_x) = (false, false);
    let join = |s: &mut Option<(bool, bool)>, v: (bool, bool)| {
        *s = Some(match *s {
            None => v,
            Some(o) => (o.0 || v.0, o.1 || v.1),
        })
    };
    for pc in 0..prog.len() {
        let Some((mut ua, mut ux)) = state[pc] else {
            continue;
        };
        let i = prog[pc];
        let class = i.code & 0x07;
        let uses_x = i.code & X != 0;
        match class {
            LD => ua = false,
            LDX => ux = false,
            ST => read_a |= ua,
            STX => read_x |= ux,
            ALU => {
                read_a |= ua;
                read_x |= uses_x && ux;
            }
            JMP if i.code & 0xf0 != JA => {
                read_a |= ua;
                read_x |= uses_x && ux;
            }
            RET => read_a |= i.code == RET_A && ua,
            MISC => {
                if i.code & 0xf8 == kernel::TXA {
                    read_x |= ux;
                    ua = false;
                } else {
                    read_a |= ua;
                    ux = false;
                }
            }
            _ => {}
        }
        let out = (ua, ux);
        match class {
            RET => {}
            JMP if i.code & 0xf0 == JA => join(&mut state[pc + 1 + i.k as usize], out),
            JMP => {
                join(&mut state[pc + 1 + usize::from(i.jt)], out);
                join(&mut state[pc + 1 + usize::from(i.jf)], out);
            }
            _ => join(&mut state[pc + 1], out),
        }
    }
    (read_a, read_x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, RET_LOG, ret_errno};
    use crate::seccomp::kernel::{ABS, Filter, SeccompData, W, is_const_allow, run_stack};

    fn s(code: u16, k: u32) -> SockFilter {
        SockFilter::stmt(code, k)
    }
    fn j(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter::jump(code, k, jt, jf)
    }
    fn p(v: Vec<SockFilter>) -> BpfProgram {
        BpfProgram::new(v).unwrap()
    }

    /// `nr == NR` → `RET` (or `RET A` with A = ret when `by_a`), else allow.
    fn when_nr(nr: u32, ret: u32, by_a: bool) -> BpfProgram {
        let mut v = vec![
            s(LD | W | ABS, bpf::DATA_NR),
            j(JMP | JEQ | K, nr, 0, if by_a { 2 } else { 1 }),
        ];
        if by_a {
            v.push(s(LD | IMM, ret));
            v.push(s(RET_A, 0));
        } else {
            v.push(s(RET | K, ret));
        }
        v.push(s(RET | K, RET_ALLOW));
        p(v)
    }

    /// Returns the low word of argument 0 as its value (any action).
    fn ret_arg0() -> BpfProgram {
        p(vec![s(LD | W | ABS, bpf::data_arg_low(0)), s(RET_A, 0)])
    }

    fn inputs() -> Vec<SeccompData> {
        let mut v = Vec::new();
        let values = [
            0u64,
            RET_ALLOW as u64,
            RET_ALLOW as u64 | 7,
            ret_errno(1) as u64,
            ret_errno(13) as u64,
            RET_LOG as u64,
            RET_KILL_PROCESS as u64,
            RET_KILL_PROCESS as u64 | 3,
            0x7ff0_0000,
            0x0003_0000,
            0x0004_0001,
        ];
        for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] {
            for nr in 0..6 {
                for &a in &values {
                    v.push(SeccompData::new(arch, nr, [a, 0, 0, 0, 0, 0]));
                }
            }
        }
        v
    }

    fn assert_composes(stack: &[&BpfProgram]) {
        let one = compose(stack).expect("composes");
        let composed = Filter::new(one.instructions()).unwrap();
        let progs: Vec<Filter> = stack
            .iter()
            .map(|p| Filter::new(p.instructions()).unwrap())
            .collect();
        for d in inputs() {
            assert_eq!(composed.run(&d), run_stack(&progs, &d), "{d:x?}");
            let cached = stack
                .iter()
                .all(|p| is_const_allow(p.instructions(), d.arch, d.nr));
            if cached {
                assert!(is_const_allow(one.instructions(), d.arch, d.nr), "{d:x?}");
            }
        }
    }

    #[test]
    fn every_pair_and_triple_of_small_filters() {
        let mut filters = vec![ret_arg0(), p(vec![s(RET | K, RET_ALLOW | 9)])];
        for (nr, ret) in [
            (1, ret_errno(1)),
            (1, ret_errno(13)),
            (2, RET_KILL_PROCESS),
            (2, RET_LOG),
            (3, 0x0003_0005),
        ] {
            filters.push(when_nr(nr, ret, false));
            filters.push(when_nr(nr, ret, true));
        }
        for a in &filters {
            assert_composes(&[a]);
            for b in &filters {
                assert_composes(&[a, b]);
                for c in &filters {
                    assert_composes(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn registers_start_at_zero_in_each_filter() {
        // Reads A and X before writing them: returns X + A + 5.
        let reads = p(vec![
            s(MISC | kernel::TXA, 0),
            s(ALU | kernel::ADD | K, 0x0005_0000),
            s(RET_A, 0),
        ]);
        let sets = p(vec![
            s(LD | IMM, 0x11),
            s(LDX | IMM, 0x22),
            s(RET | K, 0x0003_0000),
        ]);
        assert_composes(&[&reads, &sets]);
        assert_composes(&[&sets, &reads]);
        assert_eq!(reads_before_write(reads.instructions()), (false, true));
        assert_eq!(reads_before_write(sets.instructions()), (false, false));
    }

    #[test]
    fn refuses() {
        // Every slot used.
        let mut v: Vec<SockFilter> = (0..MEMWORDS).map(|k| s(ST, k)).collect();
        v.push(s(RET | K, RET_ALLOW));
        let full = p(v);
        assert!(compose(&[&full, &ret_arg0()]).is_none());
        // An opcode seccomp refuses.
        let bad = p(vec![s(LD | W | 0x40, 0), s(RET | K, RET_ALLOW)]);
        assert!(compose(&[&bad]).is_none());
        // Too long together.
        let long = p((0..3000)
            .map(|_| s(LD | W | ABS, 0))
            .chain([s(RET | K, RET_ALLOW)])
            .collect());
        assert!(compose(&[&long, &long]).is_none());
        assert!(compose(&[]).is_none());
    }

    #[test]
    fn own_memory_is_kept() {
        // Stores nr in slot 0 and returns ERRNO(nr) from it for nr < 3.
        let fixed = p(vec![
            s(LD | W | ABS, bpf::DATA_NR),
            s(ST, 0),
            j(JMP | kernel::JGE | K, 3, 3, 0),
            s(LD | MEM, 0),
            s(ALU | kernel::OR | K, ret_errno(0)),
            s(RET_A, 0),
            s(RET | K, RET_ALLOW),
        ]);
        assert_composes(&[&fixed, &when_nr(1, ret_errno(13), false), &fixed]);
    }

    /// One random instruction at `pc` of a program of `len`: loads of the
    /// call's words, immediates, scratch memory (slots 0-3), ALU, TAX/TXA,
    /// forward jumps, and returns of assorted actions.
    fn insn(pc: usize, len: usize, pick: (u8, u32, u8, u8)) -> SockFilter {
        let (kind, k, jt, jf) = pick;
        let left = (len - pc - 1) as u32;
        let rets = [
            RET_ALLOW,
            RET_ALLOW | 3,
            ret_errno(1),
            ret_errno(13),
            RET_LOG,
            RET_KILL_PROCESS,
            0x0003_0007,
            0x7ff0_0000,
        ];
        match kind % 12 {
            0 => s(LD | W | ABS, [0, 4, 16, 20, 24, 32][k as usize % 6]),
            1 => s(LD | IMM, k),
            2 => s(ST, k % 4),
            3 => s(LD | MEM, k % 4),
            4 => s(
                ALU | [kernel::ADD, AND, kernel::OR, XOR][k as usize % 4] | K,
                k,
            ),
            5 => s(
                ALU | [kernel::ADD, AND, XOR, kernel::SUB][k as usize % 4] | X,
                0,
            ),
            6 => s(MISC | [TAX, kernel::TXA][k as usize % 2], 0),
            7 | 8 if left > 0 => j(
                JMP | [JEQ, JGE, kernel::JGT, kernel::JSET][k as usize % 4] | K,
                k % 8,
                (u32::from(jt) % left.min(255)) as u8,
                (u32::from(jf) % left.min(255)) as u8,
            ),
            9 if left > 0 => s(JMP | JA, k % left),
            10 => s(RET_A, 0),
            _ => s(RET | K, rets[k as usize % rets.len()]),
        }
    }

    fn program() -> impl Strategy<Value = Vec<SockFilter>> {
        proptest::collection::vec(any::<(u8, u32, u8, u8)>(), 1..24).prop_map(|picks| {
            let len = picks.len() + 1;
            let mut v: Vec<SockFilter> = picks
                .into_iter()
                .enumerate()
                .map(|(pc, pick)| insn(pc, len, pick))
                .collect();
            v.push(s(RET | K, RET_ALLOW));
            v
        })
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random stacks of random programs the kernel accepts: the
        /// composed program decides as the stack, and is cached wherever
        /// the stack is.
        #[test]
        fn random_stacks_decide_as_the_kernel(
            progs in proptest::collection::vec(program(), 1..4),
            calls in proptest::collection::vec((0u32..8, any::<bool>(), any::<[u32; 4]>()), 16),
        ) {
            let progs: Vec<BpfProgram> = progs
                .into_iter()
                .filter(|p| kernel::check(p).is_ok())
                .map(p)
                .collect();
            prop_assume!(!progs.is_empty());
            let refs: Vec<&BpfProgram> = progs.iter().collect();
            let one = compose(&refs).expect("composes");
            let composed = Filter::new(one.instructions()).unwrap();
            let stack: Vec<Filter> = progs
                .iter()
                .map(|p| Filter::new(p.instructions()).unwrap())
                .collect();
            // A later filter reading X before writing it starts with
            // `LDX #0`, which the cache's emulation does not follow.
            let x_reset = progs[..progs.len() - 1].iter().any(|p| reads_before_write(p.instructions()).1);
            for (nr, i386, a) in calls {
                let arch = if i386 { AUDIT_ARCH_I386 } else { AUDIT_ARCH_X86_64 };
                let args = [a[0] as u64 | (a[1] as u64) << 32, a[2] as u64, a[3] as u64 % 8, 0, 0, 0];
                let d = SeccompData::new(arch, nr, args);
                prop_assert_eq!(composed.run(&d), run_stack(&stack, &d));
                if !x_reset && progs.iter().all(|p| is_const_allow(p.instructions(), arch, nr)) {
                    prop_assert!(is_const_allow(one.instructions(), arch, nr));
                }
            }
        }
    }
}
