//! Terminal input injection (`TIOCSTI`, `TIOCLINUX`): the seccomp filter
//! that denies it to the application.

use snapcell_core::seccomp::bpf::{self, BpfProgram, SockFilter};
use snapcell_core::seccomp::{FilterRole, SeccompProgram};

use crate::seccomp::Install;

use super::HygieneError;

/// `TIOCSTI`: push a byte into a terminal's input queue.
pub const TIOCSTI: u32 = 0x5412;
/// `TIOCLINUX`: virtual console control, including selection paste.
pub const TIOCLINUX: u32 = 0x541c;

/// The ABIs through which this process can call `ioctl`, as
/// (`AUDIT_ARCH_*`, syscall numbers).
#[cfg(target_arch = "x86_64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[
    // Native, plus the x32 numbers (x32 shares AUDIT_ARCH_X86_64 and sets
    // __X32_SYSCALL_BIT; 514 is x32's ioctl). x32 is off on most kernels,
    // but a deny rule must not depend on that.
    (
        bpf::AUDIT_ARCH_X86_64,
        &[16, bpf::X32_SYSCALL_BIT | 16, bpf::X32_SYSCALL_BIT | 514],
    ),
    // i386 through `int 0x80`, available to 64-bit processes whenever the
    // kernel has IA32 emulation.
    (bpf::AUDIT_ARCH_I386, &[54]),
];
#[cfg(target_arch = "x86")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_I386, &[54])];
#[cfg(target_arch = "aarch64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[
    (bpf::AUDIT_ARCH_AARCH64, &[29]),
    (bpf::AUDIT_ARCH_ARM, &[54]),
];
#[cfg(target_arch = "arm")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_ARM, &[54])];
#[cfg(target_arch = "riscv64")]
const IOCTL_ABIS: &[(u32, &[u32])] = &[(bpf::AUDIT_ARCH_RISCV64, &[29])];
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64"
)))]
const IOCTL_ABIS: &[(u32, &[u32])] = &[];

/// The filter behind [`harden_tty`]: `ioctl(fd, TIOCSTI | TIOCLINUX, ...)`
/// fails with `EPERM` on every ABI listed above; everything else is
/// allowed. Only the low 32 bits of the request are compared, on every ABI,
/// because the kernel ignores the upper half (CVE-2019-7303: `TIOCSTI | 1 <<
/// 32` passed a 64-bit compare and still injected). That includes the i386
/// entry: a 64-bit process calling through `int 0x80` with garbage in the
/// upper half of `rcx` hands seccomp the whole register, while the compat
/// `ioctl` only reads `ecx` (tested). Calls through an ABI not listed are
/// allowed: the application's own profile decides about those.
pub fn tty_injection_filter() -> Result<SeccompProgram, HygieneError> {
    if IOCTL_ABIS.is_empty() {
        return Err(HygieneError::UnsupportedArch);
    }
    let n_abis = IOCTL_ABIS.len();
    // Layout: [ld arch] [jeq arch_i → block_i]… [ret allow]
    //         block_i: [ld nr] [jeq nr → check]… [ret allow]
    //         check:   [ld arg1.lo] [jeq TIOCSTI → deny] [jeq TIOCLINUX → deny] [ret allow]
    //         deny:    [ret errno EPERM]
    let mut block_start = Vec::with_capacity(n_abis);
    let mut pc = 1 + n_abis + 1;
    for (_, nrs) in IOCTL_ABIS {
        block_start.push(pc);
        pc += 1 + nrs.len() + 1;
    }
    let check = pc;
    let deny = check + 4;
    let rel = |from: usize, to: usize| -> u8 {
        u8::try_from(to - (from + 1)).expect("filter jump fits in u8")
    };

    let mut p = vec![SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_ARCH)];
    for (i, (arch, _)) in IOCTL_ABIS.iter().enumerate() {
        let here = p.len();
        p.push(SockFilter::jump(
            bpf::JMP_JEQ_K,
            *arch,
            rel(here, block_start[i]),
            0,
        ));
    }
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    for (_, nrs) in IOCTL_ABIS {
        p.push(SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR));
        for nr in nrs.iter() {
            let here = p.len();
            p.push(SockFilter::jump(bpf::JMP_JEQ_K, *nr, rel(here, check), 0));
        }
        p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    }
    debug_assert_eq!(p.len(), check);
    p.push(SockFilter::stmt(bpf::LD_W_ABS, bpf::data_arg_low(1)));
    let here = p.len();
    p.push(SockFilter::jump(
        bpf::JMP_JEQ_K,
        TIOCSTI,
        rel(here, deny),
        0,
    ));
    let here = p.len();
    p.push(SockFilter::jump(
        bpf::JMP_JEQ_K,
        TIOCLINUX,
        rel(here, deny),
        0,
    ));
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    debug_assert_eq!(p.len(), deny);
    p.push(SockFilter::stmt(
        bpf::RET_K,
        bpf::ret_errno(libc::EPERM as u16),
    ));

    let prog = BpfProgram::new(p).expect("small non-empty program");
    Ok(SeccompProgram::builtin(
        "tty-injection",
        vec![(FilterRole::Builtin("tty-injection"), prog)],
    ))
}

/// Deny terminal input injection (`TIOCSTI`, `TIOCLINUX`) to the process and
/// everything it executes, with [`tty_injection_filter`].
///
/// Installed unconditionally, not only when stdin is a terminal: the
/// application can reach its controlling terminal through `/dev/tty` or any
/// other descriptor. This is what flatpak does (a seccomp rule), and what
/// current snapd does in every restricted profile; bubblewrap's alternative,
/// `setsid()`, would take job control away from the application. snapd
/// 2.57 loaded the equivalent `global.bin` only for restricted profiles;
/// whether to also harden unrestricted (classic) snaps is the caller's
/// choice. Needs `CAP_SYS_ADMIN` or `no_new_privs`, like any seccomp filter.
pub fn harden_tty() -> Result<(), HygieneError> {
    tty_injection_filter()?.install()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_shape() {
        let p = tty_injection_filter().unwrap();
        let f = &p.filters()[0].1;
        let last = *f.instructions().last().unwrap();
        assert_eq!(last, SockFilter::stmt(bpf::RET_K, bpf::ret_errno(1)));
    }
}
