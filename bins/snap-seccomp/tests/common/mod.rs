//! Shared by the tests that run system calls under compiled profiles
//! (`probe.rs`, `policy.rs`): compiling a profile with a `snap-seccomp`,
//! loading the output, and making one probe's call
//! (`snapcell_test_support::seccomp_probe`) in a forked child under it.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, WaitStatus, waitpid};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_core::seccomp::bin2::{parse_bin2, parse_legacy_bin};
use snapcell_sys::fork::fork_child;
use snapcell_sys::seccomp::Install;
use snapcell_test_support::seccomp_probe::{
    Entry, Outcome, Probe, X32_SYSCALL_BIT, child_exit_code,
};

pub const OURS: &str = env!("CARGO_BIN_EXE_snap-seccomp");

fn sys(nr: u64, a: [u64; 6]) -> i64 {
    // SAFETY: every probe passes invalid descriptors, NULL pointers or
    // flags that make the call fail or do nothing; the probe runs in a
    // throwaway child that exits right after.
    let r = unsafe { libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        r
    }
}

/// An i386 system call through `int 0x80` (the compat entry point), the
/// first three arguments as whole 64-bit registers (seccomp sees the upper
/// halves; the compat system call reads the lower ones).
fn sys32(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i32;
    // SAFETY: `int 0x80` enters the kernel's i386 entry; the arguments are
    // as harmless as `sys`'s. Only eax is written back; rbx is saved by hand
    // (LLVM reserves it) and the kernel preserves every other register.
    unsafe {
        std::arch::asm!(
            "xchg rsi, rbx",
            "int 0x80",
            "xchg rsi, rbx",
            inlateout("eax") nr as i32 => ret,
            in("rsi") a[0],
            in("rcx") a[1],
            in("rdx") a[2],
            options(nostack),
        );
    }
    i64::from(ret)
}

/// Make the probe's call in this process.
fn perform(p: &Probe) -> i64 {
    match p.entry {
        Entry::Native => sys(p.nr, p.args),
        Entry::X32 => sys(p.nr | X32_SYSCALL_BIT, p.args),
        Entry::I386 => sys32(p.nr, p.args),
    }
}

/// Wait for the child `pid` to end.
pub fn wait(pid: Pid) -> WaitStatus {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => break s,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => panic!("waitpid: {e}"),
        }
    }
}

/// Run `probe` in a child under `program`.
pub fn outcome(program: &SeccompProgram, probe: &Probe) -> Outcome {
    let pid = fork_child(|| {
        if rustix::thread::set_no_new_privs(true).is_err() || program.install().is_err() {
            return 250;
        }
        child_exit_code(perform(probe))
    })
    .expect("fork");
    let status = wait(pid);
    if let Some(sig) = status.terminating_signal() {
        return Outcome::Killed(sig);
    }
    match status.exit_status() {
        Some(250) => panic!("cannot install the profile"),
        Some(e) => Outcome::from_exit_code(e),
        None => panic!("child status {status:?}"),
    }
}

pub fn compile(bin: &str, dir: &Path, name: &str, src: &str, args: &[&str]) -> PathBuf {
    let input = dir.join(format!("{name}.src"));
    let out = dir.join(name);
    std::fs::write(&input, src).unwrap();
    let o = Command::new(bin)
        .arg("compile")
        .args(args)
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{bin} compile {name}: {o:?}");
    out
}

pub fn load(path: &Path) -> SeccompProgram {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "bin2") {
        parse_bin2(path, &bytes).unwrap()
    } else {
        parse_legacy_bin(path, &bytes).unwrap()
    }
}
