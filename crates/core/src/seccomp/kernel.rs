//! What the kernel does with a seccomp classic BPF program, as data: the
//! checks it makes before accepting one ([`check`]: `bpf_check_classic`
//! then `seccomp_check_filter`), running one over a `seccomp_data`
//! ([`run`]), running a stack of them ([`run_stack`]:
//! `seccomp_run_filters`), and the emulation behind the action cache
//! ([`is_const_allow`]: `seccomp_is_const_allow`).
//!
//! [`compose`](super::compose) checks its inputs and its output with
//! [`check`]; the tests of the composition, of the split compiler and the
//! benchmarks interpret programs with [`run`] and [`run_stack`].

use super::bpf::{RET_ALLOW, SockFilter};

/// `BPF_MEMWORDS`: scratch memory slots.
pub const MEMWORDS: u32 = 16;
/// `BPF_MAXINSNS`.
pub const MAXINSNS: usize = 4096;
/// `sizeof(struct seccomp_data)`.
const DATA_SIZE: u32 = 64;

// Instruction classes, sizes, modes, operations (`<linux/bpf_common.h>`).
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;
pub const W: u16 = 0x00;
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
/// `BPF_RET | BPF_A`.
pub const RET_A: u16 = RET | 0x10;
pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const XOR: u16 = 0xa0;
pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;
pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// `SECCOMP_RET_ACTION_FULL`.
pub const ACTION_FULL: u32 = 0xffff_0000;

/// `ACTION_ONLY(ret)`: the action of a return value as the kernel orders
/// them (signed: `SECCOMP_RET_KILL_PROCESS`, 0x80000000, is the lowest).
pub const fn action_only(ret: u32) -> i32 {
    (ret & ACTION_FULL) as i32
}

/// The opcodes `seccomp_check_filter` accepts (after `bpf_check_classic`).
pub fn is_seccomp_opcode(code: u16) -> bool {
    matches!(
        code,
        c if c == LD | W | ABS
            || c == LD | W | LEN
            || c == LDX | W | LEN
            || c == RET | K
            || c == RET_A
            || c == LD | IMM
            || c == LDX | IMM
            || c == MISC | TAX
            || c == MISC | TXA
            || c == LD | MEM
            || c == LDX | MEM
            || c == ST
            || c == STX
            || c == JMP | JA
            || c == ALU | NEG
    ) || (code & 0x07 == ALU
        && code & !0xf8 == ALU
        && matches!(
            code & 0xf0,
            ADD | SUB | MUL | DIV | AND | OR | XOR | LSH | RSH
        ))
        || (code & 0x07 == JMP
            && code & !0xf8 == JMP
            && matches!(code & 0xf0, JEQ | JGE | JGT | JSET))
}

/// Why the kernel refuses a program (`EINVAL` from `seccomp(2)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    TooLong,
    Opcode { pc: usize, code: u16 },
    Jump { pc: usize },
    Load { pc: usize },
    Memory { pc: usize },
    Constant { pc: usize },
    NoReturnAtEnd,
}

/// `bpf_check_classic` and `seccomp_check_filter`: `Ok` when the kernel
/// accepts the program as a seccomp filter.
pub fn check(prog: &[SockFilter]) -> Result<(), Invalid> {
    if prog.is_empty() {
        return Err(Invalid::Empty);
    }
    if prog.len() > MAXINSNS {
        return Err(Invalid::TooLong);
    }
    let len = prog.len();
    for (pc, i) in prog.iter().enumerate() {
        if !is_seccomp_opcode(i.code) {
            return Err(Invalid::Opcode { pc, code: i.code });
        }
        let class = i.code & 0x07;
        match class {
            ALU => {
                let op = i.code & 0xf0;
                if i.code & X == 0 {
                    if op == DIV && i.k == 0 {
                        return Err(Invalid::Constant { pc });
                    }
                    if (op == LSH || op == RSH) && i.k >= 32 {
                        return Err(Invalid::Constant { pc });
                    }
                }
            }
            LD | LDX if i.code & 0xe0 == MEM && i.k >= MEMWORDS => {
                return Err(Invalid::Memory { pc });
            }
            ST | STX if i.k >= MEMWORDS => return Err(Invalid::Memory { pc }),
            JMP => {
                let left = len - pc - 1;
                if i.code & 0xf0 == JA {
                    if i.k as usize >= left {
                        return Err(Invalid::Jump { pc });
                    }
                } else if usize::from(i.jt) >= left || usize::from(i.jf) >= left {
                    return Err(Invalid::Jump { pc });
                }
            }
            _ => {}
        }
        if i.code == LD | W | ABS && (i.k >= DATA_SIZE || i.k & 3 != 0) {
            return Err(Invalid::Load { pc });
        }
    }
    if prog[len - 1].code & 0x07 != RET {
        return Err(Invalid::NoReturnAtEnd);
    }
    check_load_and_stores(prog)
}

/// The kernel's `check_load_and_stores`: no scratch slot is read on a path
/// where it may not have been written. As the kernel: an instruction after
/// a return inherits what was valid before the return.
fn check_load_and_stores(prog: &[SockFilter]) -> Result<(), Invalid> {
    let mut masks = vec![u16::MAX; prog.len()];
    let mut valid: u16 = 0;
    for (pc, i) in prog.iter().enumerate() {
        valid &= masks[pc];
        match i.code {
            c if c == ST || c == STX => valid |= 1 << i.k,
            c if (c == LD | MEM || c == LDX | MEM) && valid & (1 << i.k) == 0 => {
                return Err(Invalid::Memory { pc });
            }
            c if c == JMP | JA => {
                masks[pc + 1 + i.k as usize] &= valid;
                valid = u16::MAX;
            }
            c if c & 0x07 == JMP => {
                masks[pc + 1 + usize::from(i.jt)] &= valid;
                masks[pc + 1 + usize::from(i.jf)] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    pub fn new(arch: u32, nr: u32, args: [u64; 6]) -> Self {
        Self {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        }
    }

    /// The 32-bit word at `offset` (aligned, below 64), native endian.
    fn word(&self, offset: u32) -> u32 {
        let mut bytes = [0u8; DATA_SIZE as usize];
        bytes[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        bytes[8..16].copy_from_slice(&self.instruction_pointer.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let o = offset as usize;
        u32::from_ne_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]])
    }
}

/// A program [`check`] accepted, ready to [`run`](Filter::run) many times.
#[derive(Clone, Copy, Debug)]
pub struct Filter<'a>(&'a [SockFilter]);

impl<'a> Filter<'a> {
    pub fn new(prog: &'a [SockFilter]) -> Result<Self, Invalid> {
        check(prog)?;
        Ok(Self(prog))
    }

    /// The filter's return value for one system call, as the kernel
    /// computes it.
    pub fn run(&self, data: &SeccompData) -> u32 {
        run_checked(self.0, data)
    }
}

/// Run one program as the kernel does. `None` if the program is one
/// [`check`] refuses (checked first).
pub fn run(prog: &[SockFilter], data: &SeccompData) -> Option<u32> {
    Some(Filter::new(prog).ok()?.run(data))
}

/// Run a program [`check`] accepted. A division by a zero `X` returns 0
/// (the kernel's conversion to eBPF does that); shifts by `X` use its low
/// five bits.
fn run_checked(prog: &[SockFilter], data: &SeccompData) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let mut mem = [0u32; MEMWORDS as usize];
    loop {
        let SockFilter { code, jt, jf, k } = prog[pc];
        pc += 1;
        match code & 0x07 {
            LD => {
                a = match code & 0xe0 {
                    ABS => data.word(k),
                    LEN => DATA_SIZE,
                    MEM => mem[k as usize],
                    _ => k,
                }
            }
            LDX => {
                x = match code & 0xe0 {
                    LEN => DATA_SIZE,
                    MEM => mem[k as usize],
                    _ => k,
                }
            }
            ST => mem[k as usize] = a,
            STX => mem[k as usize] = x,
            ALU => {
                let v = if code & X != 0 { x } else { k };
                a = match code & 0xf0 {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV => match a.checked_div(v) {
                        Some(q) => q,
                        None => return 0,
                    },
                    OR => a | v,
                    AND => a & v,
                    LSH => a << (v & 31),
                    RSH => a >> (v & 31),
                    NEG => a.wrapping_neg(),
                    _ => a ^ v,
                };
            }
            JMP => {
                let v = if code & X != 0 { x } else { k };
                let taken = match code & 0xf0 {
                    JA => {
                        pc += k as usize;
                        continue;
                    }
                    JEQ => a == v,
                    JGT => a > v,
                    JGE => a >= v,
                    _ => a & v != 0,
                };
                pc += usize::from(if taken { jt } else { jf });
            }
            RET => return if code == RET_A { a } else { k },
            _ => {
                if code & 0xf8 == TXA {
                    a = x
                } else {
                    x = a
                }
            }
        }
    }
}

/// `seccomp_run_filters`: run every filter of a stack, the newest (last
/// loaded) first, and keep the return value with the lowest
/// [`action_only`]; among equal actions the first one seen (the newest
/// filter's, data included). Starts from `SECCOMP_RET_ALLOW`.
pub fn run_stack(load_order: &[Filter<'_>], data: &SeccompData) -> u32 {
    let mut ret = RET_ALLOW;
    for f in load_order.iter().rev() {
        let cur = f.run(data);
        if action_only(cur) < action_only(ret) {
            ret = cur;
        }
    }
    ret
}

/// `seccomp_is_const_allow`: whether the kernel's action cache, emulating
/// the program for this architecture and number with every argument
/// unknown, finds that it always returns exactly `SECCOMP_RET_ALLOW`. The
/// kernel then skips the filters for that call. A stack is skipped when
/// every filter of it is.
pub fn is_const_allow(prog: &[SockFilter], arch: u32, nr: u32) -> bool {
    let mut a = 0u32;
    let mut pc = 0usize;
    while pc < prog.len() {
        let SockFilter { code, jt, jf, k } = prog[pc];
        match code {
            c if c == LD | W | ABS => {
                a = match k {
                    0 => nr,
                    4 => arch,
                    _ => return false,
                }
            }
            c if c == RET | K => return k == RET_ALLOW,
            c if c == JMP | JA => pc += k as usize,
            c if c == JMP | JEQ | K
                || c == JMP | JGE | K
                || c == JMP | JGT | K
                || c == JMP | JSET | K =>
            {
                let taken = match c & 0xf0 {
                    JEQ => a == k,
                    JGE => a >= k,
                    JGT => a > k,
                    _ => a & k != 0,
                };
                pc += usize::from(if taken { jt } else { jf });
            }
            c if c == ALU | AND | K => a &= k,
            _ => return false,
        }
        pc += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::{self, RET_KILL_PROCESS, ret_errno};

    fn s(code: u16, k: u32) -> SockFilter {
        SockFilter::stmt(code, k)
    }

    #[test]
    fn checks_as_the_kernel() {
        assert_eq!(check(&[]), Err(Invalid::Empty));
        assert_eq!(check(&[s(LD | W | ABS, 0)]), Err(Invalid::NoReturnAtEnd));
        assert_eq!(
            check(&[s(LD | W | ABS, 2), s(RET, 0)]),
            Err(Invalid::Load { pc: 0 })
        );
        assert_eq!(
            check(&[s(LD | MEM, 0), s(RET, 0)]),
            Err(Invalid::Memory { pc: 0 })
        );
        assert_eq!(
            check(&[s(JMP | JA, 1), s(RET, 0)]),
            Err(Invalid::Jump { pc: 0 })
        );
        // BPF_LD | BPF_IND (packet access) is not for seccomp.
        assert_eq!(
            check(&[s(LD | W | 0x40, 0), s(RET, 0)]),
            Err(Invalid::Opcode { pc: 0, code: 0x40 })
        );
        // A store on one branch only does not make the slot valid.
        let p = [
            s(LD | W | ABS, 0),
            SockFilter::jump(JMP | JEQ | K, 1, 0, 1),
            s(ST, 3),
            s(LD | MEM, 3),
            s(RET_A, 0),
        ];
        assert_eq!(check(&p), Err(Invalid::Memory { pc: 3 }));
        let p = [s(ST, 3), s(LD | MEM, 3), s(RET_A, 0)];
        assert_eq!(check(&p), Ok(()));
    }

    #[test]
    fn stack_keeps_lowest_action_newest_first() {
        let d = SeccompData::new(bpf::AUDIT_ARCH_X86_64, 1, [0; 6]);
        let progs: Vec<Vec<SockFilter>> =
            [ret_errno(1), ret_errno(13), RET_KILL_PROCESS, RET_ALLOW | 5]
                .iter()
                .map(|&k| vec![s(RET, k)])
                .collect();
        let f: Vec<Filter> = progs.iter().map(|p| Filter::new(p).unwrap()).collect();
        let (eperm, eacces, kill, allow5) = (f[0], f[1], f[2], f[3]);
        // Equal actions: the newest (last loaded) wins, data included.
        assert_eq!(run_stack(&[eperm, eacces], &d), ret_errno(13));
        assert_eq!(run_stack(&[eacces, eperm], &d), ret_errno(1));
        assert_eq!(run_stack(&[eperm, kill, eacces], &d), RET_KILL_PROCESS);
        // ALLOW with data is ALLOW.
        assert_eq!(run_stack(&[allow5], &d), RET_ALLOW);
        assert_eq!(action_only(RET_KILL_PROCESS), i32::MIN);
    }

    #[test]
    fn const_allow_as_the_kernel() {
        let p = [
            s(LD | W | ABS, 0),
            SockFilter::jump(JMP | JEQ | K, 16, 0, 1),
            s(LD | W | ABS, 24),
            s(RET, RET_ALLOW),
        ];
        assert!(!is_const_allow(&p, 0, 16));
        assert!(is_const_allow(&p, 0, 17));
        let p = [s(LD | IMM, 0), s(RET, RET_ALLOW)];
        assert!(!is_const_allow(&p, 0, 17));
    }
}
