//! The cgroup v2 device program (`BPF_PROG_TYPE_CGROUP_DEVICE`), as eBPF
//! instructions: snapd's logic, written out here.
//!
//! The kernel runs it on every device access with a `struct
//! bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` in `r1`
//! (`access_type` is `BPF_DEVCG_ACC_* << 16 | BPF_DEVCG_DEV_*`). It builds
//! the map key `{type, major, minor}` on the stack, looks it up, then looks
//! up `{type, major, MINOR_ANY}`, and returns 1 (allow) when either is in
//! the map, 0 (deny) otherwise or for a device that is neither a character
//! nor a block device. The access (read, write, mknod) is not looked at,
//! as with snapd.

use super::{DeviceKind, MINOR_ANY};

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register (low nibble of the second byte).
    pub dst: u8,
    /// Source register (high nibble).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The 8 bytes the kernel reads (little-endian machines: `dst` in the
    /// low nibble).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

// Instruction classes, operations and modes (linux/bpf_common.h, linux/bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_B: u8 = 0x10;
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_ADD: u8 = 0x00;
const BPF_AND: u8 = 0x50;
const BPF_MOV: u8 = 0xb0;
const BPF_JA: u8 = 0x00;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
/// `src` of a 64-bit immediate load that names a map by descriptor.
const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `bpf_map_lookup_elem`.
const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
pub const BPF_DEVCG_DEV_BLOCK: u32 = 1;
pub const BPF_DEVCG_DEV_CHAR: u32 = 2;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R6: u8 = 6;
const R10: u8 = 10;

/// Where the 9-byte key starts below the frame pointer: 17 bytes down puts
/// the two `u32` fields (offsets 1 and 5 of the packed key) at 4-byte
/// aligned addresses.
const KEY_AT: i16 = -17;
const KEY_TYPE: i16 = 0;
const KEY_MAJOR: i16 = 1;
const KEY_MINOR: i16 = 5;
/// Offsets in `struct bpf_cgroup_dev_ctx`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// A tiny assembler: jumps name a label, resolved by [`Asm::finish`].
struct Asm {
    out: Vec<Insn>,
    /// (index of the jump, label)
    fixups: Vec<(usize, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            out: Vec::new(),
            fixups: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn push(&mut self, i: Insn) {
        self.out.push(i);
    }
    fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.out.len()));
    }
    fn jump(&mut self, op: u8, reg: u8, imm: i32, to: &'static str) {
        self.fixups.push((self.out.len(), to));
        self.push(insn(BPF_JMP | op | BPF_K, reg, 0, 0, imm));
    }
    fn mov_imm(&mut self, reg: u8, imm: i32) {
        self.push(insn(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, imm));
    }
    fn exit(&mut self) {
        self.push(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    }
    fn load_map(&mut self, reg: u8, map_fd: i32) {
        self.push(insn(
            BPF_LD | BPF_DW | BPF_IMM,
            reg,
            BPF_PSEUDO_MAP_FD,
            0,
            map_fd,
        ));
        self.push(insn(0, 0, 0, 0, 0));
    }
    /// `r0 = bpf_map_lookup_elem(map, r6)`.
    fn lookup(&mut self, map_fd: i32) {
        self.load_map(R1, map_fd);
        self.push(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R6, 0, 0));
        self.push(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_ELEM));
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, name) in &self.fixups {
            let target = self
                .labels
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .expect("every jump names a label");
            self.out[*at].off = (target as isize - *at as isize - 1) as i16;
        }
        self.out
    }
}

/// The program, for the map open as `map_fd` in the loading process (the
/// kernel swaps the descriptor for the map itself when loading).
pub fn device_program(map_fd: i32) -> Vec<Insn> {
    let mut a = Asm::new();
    // r6 = the key on the stack
    a.push(insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R10, 0, 0));
    a.push(insn(BPF_ALU64 | BPF_ADD | BPF_K, R6, 0, 0, KEY_AT as i32));
    // key.major = ctx->major; key.minor = ctx->minor
    a.push(insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1, CTX_MAJOR, 0));
    a.push(insn(BPF_STX | BPF_MEM | BPF_W, R6, R2, KEY_MAJOR, 0));
    a.push(insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1, CTX_MINOR, 0));
    a.push(insn(BPF_STX | BPF_MEM | BPF_W, R6, R2, KEY_MINOR, 0));
    // r2 = the device type (low 16 bits of access_type)
    a.push(insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1, CTX_ACCESS_TYPE, 0));
    a.push(insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff));
    a.jump(BPF_JEQ, R2, BPF_DEVCG_DEV_BLOCK as i32, "block");
    a.jump(BPF_JEQ, R2, BPF_DEVCG_DEV_CHAR as i32, "char");
    a.jump(BPF_JA, 0, 0, "deny");
    a.label("block");
    a.push(insn(
        BPF_ST | BPF_MEM | BPF_B,
        R6,
        0,
        KEY_TYPE,
        DeviceKind::Block.letter() as i32,
    ));
    a.jump(BPF_JA, 0, 0, "lookup");
    a.label("char");
    a.push(insn(
        BPF_ST | BPF_MEM | BPF_B,
        R6,
        0,
        KEY_TYPE,
        DeviceKind::Char.letter() as i32,
    ));
    a.label("lookup");
    a.lookup(map_fd);
    a.jump(BPF_JNE, R0, 0, "allow");
    // key.minor = MINOR_ANY, look up again
    a.push(insn(
        BPF_ST | BPF_MEM | BPF_W,
        R6,
        0,
        KEY_MINOR,
        MINOR_ANY as i32,
    ));
    a.lookup(map_fd);
    a.jump(BPF_JNE, R0, 0, "allow");
    a.label("deny");
    a.mov_imm(R0, 0);
    a.exit();
    a.label("allow");
    a.mov_imm(R0, 1);
    a.exit();
    a.finish()
}

/// The program's license: the kernel lets a program call only the helpers
/// its license allows; snapd's says GPL.
pub const LICENSE: &str = "GPL";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{Device, MAP_KEY_SIZE};
    use std::collections::HashSet;

    /// Run the program on a device access with `map` as the map: a small
    /// interpreter for exactly the instructions the program uses.
    fn run(
        prog: &[Insn],
        map: &HashSet<[u8; MAP_KEY_SIZE]>,
        access_type: u32,
        major: u32,
        minor: u32,
    ) -> u64 {
        let mut stack = [0u8; 512];
        let mut r = [0u64; 11];
        let ctx = [access_type, major, minor];
        const FP: u64 = 1 << 32; // r10: the address just above `stack`
        const CTX: u64 = 1 << 40;
        r[10] = FP;
        r[1] = CTX;
        let mut pc = 0usize;
        let stack_at = |addr: u64| (addr as i64 - FP as i64 + 512) as usize;
        loop {
            let i = prog[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                0xbf => r[d] = r[s],
                0xb7 => r[d] = i.imm as i64 as u64,
                0x07 => r[d] = r[d].wrapping_add(i.imm as i64 as u64),
                0x54 => r[d] = (r[d] as u32 & i.imm as u32) as u64,
                0x61 => {
                    assert_eq!(r[s], CTX, "loads only from the context");
                    r[d] = ctx[(i.off / 4) as usize] as u64;
                }
                0x63 => {
                    let at = stack_at(r[d].wrapping_add(i.off as i64 as u64));
                    stack[at..at + 4].copy_from_slice(&(r[s] as u32).to_ne_bytes());
                }
                0x62 => {
                    let at = stack_at(r[d].wrapping_add(i.off as i64 as u64));
                    stack[at..at + 4].copy_from_slice(&(i.imm as u32).to_ne_bytes());
                }
                0x72 => {
                    let at = stack_at(r[d].wrapping_add(i.off as i64 as u64));
                    stack[at] = i.imm as u8;
                }
                0x18 => {
                    assert_eq!(i.src, BPF_PSEUDO_MAP_FD);
                    r[d] = i.imm as u64;
                    pc += 1;
                }
                0x85 => {
                    assert_eq!(i.imm, BPF_FUNC_MAP_LOOKUP_ELEM);
                    let at = stack_at(r[2]);
                    let key: [u8; MAP_KEY_SIZE] = stack[at..at + MAP_KEY_SIZE].try_into().unwrap();
                    r[0] = map.contains(&key) as u64;
                }
                0x05 => pc = (pc as isize + i.off as isize) as usize,
                0x15 => {
                    if r[d] == i.imm as i64 as u64 {
                        pc = (pc as isize + i.off as isize) as usize
                    }
                }
                0x55 => {
                    if r[d] != i.imm as i64 as u64 {
                        pc = (pc as isize + i.off as isize) as usize
                    }
                }
                0x95 => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn allows_exactly_what_the_map_holds() {
        let prog = device_program(7);
        let map: HashSet<_> = [
            Device::char(1, 3),
            Device::char(136, MINOR_ANY),
            Device::block(7, 0),
        ]
        .iter()
        .map(Device::map_key)
        .collect();
        let acc = |dev_type: u32, access: u32| (access << 16) | dev_type;
        let chr = BPF_DEVCG_DEV_CHAR;
        let blk = BPF_DEVCG_DEV_BLOCK;
        assert_eq!(run(&prog, &map, acc(chr, 2), 1, 3), 1);
        assert_eq!(run(&prog, &map, acc(chr, 4), 1, 5), 0);
        assert_eq!(run(&prog, &map, acc(chr, 2), 136, 42), 1, "any minor");
        assert_eq!(run(&prog, &map, acc(chr, 2), 137, 0), 0);
        assert_eq!(run(&prog, &map, acc(blk, 1), 7, 0), 1);
        assert_eq!(
            run(&prog, &map, acc(chr, 1), 7, 0),
            0,
            "a block rule is no char rule"
        );
        assert_eq!(
            run(&prog, &map, acc(blk, 1), 1, 3),
            0,
            "and the other way round"
        );
        assert_eq!(run(&prog, &map, acc(3, 1), 1, 3), 0, "unknown device type");
    }

    #[test]
    fn encoding() {
        let prog = device_program(42);
        let ld = prog.iter().position(|i| i.code == 0x18).unwrap();
        assert_eq!(prog[ld].to_bytes(), [0x18, 0x11, 0, 0, 42, 0, 0, 0]);
        assert_eq!(prog.last().unwrap().to_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert!(prog.len() < 40);
    }
}
