//! Classic BPF programs as seccomp runs them: one instruction laid out like
//! the kernel's `struct sock_filter`, a bounded program, and the opcodes and
//! seccomp constants for building small filters by hand
//! (`<linux/filter.h>`, `<linux/seccomp.h>`, `<linux/audit.h>`).
//!
//! Handing a program to the kernel is `snapcell_sys::seccomp`'s job; this is
//! data only.

/// Size of one classic BPF instruction (`struct sock_filter`).
pub const SOCK_FILTER_SIZE: usize = 8;
/// Largest program snap-confine accepts: `BPF_MAXINSNS` instructions.
pub const MAX_BPF_SIZE: usize = 32 * 1024;

/// One classic BPF instruction, laid out exactly like the kernel's
/// `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const _: () = assert!(std::mem::size_of::<SockFilter>() == SOCK_FILTER_SIZE);

impl SockFilter {
    /// `BPF_STMT(code, k)`.
    pub const fn stmt(code: u16, k: u32) -> Self {
        Self {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// `BPF_JUMP(code, k, jt, jf)`.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        Self { code, jt, jf, k }
    }

    /// The instruction as it is stored in a profile (native endian).
    pub fn to_bytes(self) -> [u8; SOCK_FILTER_SIZE] {
        let mut out = [0u8; SOCK_FILTER_SIZE];
        out[0..2].copy_from_slice(&self.code.to_ne_bytes());
        out[2] = self.jt;
        out[3] = self.jf;
        out[4..8].copy_from_slice(&self.k.to_ne_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Self {
        Self {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A non-empty classic BPF program of at most `BPF_MAXINSNS` instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfProgram(Vec<SockFilter>);

impl BpfProgram {
    /// A program from instructions; `None` if empty or longer than
    /// `BPF_MAXINSNS`. The kernel checks the instructions themselves when
    /// the program is installed.
    pub fn new(insns: Vec<SockFilter>) -> Option<Self> {
        if insns.is_empty() || insns.len() * SOCK_FILTER_SIZE > MAX_BPF_SIZE {
            return None;
        }
        Some(Self(insns))
    }

    /// Decode bytes already checked to be a non-empty multiple of 8 and at
    /// most [`MAX_BPF_SIZE`].
    pub(crate) fn from_checked_bytes(bytes: &[u8]) -> Self {
        Self(
            bytes
                .chunks_exact(SOCK_FILTER_SIZE)
                .map(SockFilter::from_bytes)
                .collect(),
        )
    }

    pub fn instructions(&self) -> &[SockFilter] {
        &self.0
    }

    /// The program as stored in a profile file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|i| i.to_bytes()).collect()
    }
}

pub const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
pub const JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets into `struct seccomp_data`.
pub const DATA_NR: u32 = 0;
pub const DATA_ARCH: u32 = 4;
/// Offset of the low 32 bits of syscall argument `i`.
pub const fn data_arg_low(i: u32) -> u32 {
    if cfg!(target_endian = "little") {
        16 + 8 * i
    } else {
        16 + 8 * i + 4
    }
}
/// Offset of the high 32 bits of syscall argument `i`.
pub const fn data_arg_high(i: u32) -> u32 {
    if cfg!(target_endian = "little") {
        16 + 8 * i + 4
    } else {
        16 + 8 * i
    }
}

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ERRNO | errno`.
pub const fn ret_errno(errno: u16) -> u32 {
    RET_ERRNO | errno as u32
}

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
pub const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;
/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
