//! The launcher's composed filter (`snapcell_core::seccomp::compose`: the
//! terminal-injection filter, the deny program and the allow program as one
//! filter) decides exactly as the kernel decides for the three stacked, on
//! real profiles: snapd 2.57's template compiled by ours (`.bin2`, and
//! `--format=bin`) and by Debian's snap-seccomp (`.bin`), and profiles
//! with `~` deny rules and `@complain`. Every system call number of
//! x86_64, i386, x32 numbers and a foreign architecture, with argument
//! values around those the rules name, through a classic BPF interpreter
//! (`snapcell_core::seccomp::kernel`). Also: wherever the kernel's action
//! cache would skip the three filters, it skips the composed one.

#[allow(unused_macros)] // the probe macro: this test runs no system calls
mod common;

use std::path::Path;

use common::{OURS, compile, load};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_core::seccomp::bpf::{
    AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, BpfProgram, X32_SYSCALL_BIT,
};
use snapcell_core::seccomp::compose::compose;
use snapcell_core::seccomp::kernel::{Filter, SeccompData, is_const_allow, run_stack};
use snapcell_sys::hygiene::tty::tty_injection_filter;
use snapcell_test_support::seccomp_probe::snapd_257_profile;

const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";

fn arg_vectors() -> Vec<[u64; 6]> {
    let values: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        5,
        9,
        10,
        16,
        17,
        19,
        20,
        38,
        0x5412,
        0x541b,
        0x541c,
        0o4000,
        0o10000,
        0o20000,
        0o60000,
        0o100000,
        0xffff_ffff,
        u64::MAX,
        1 << 32 | 0x5412,
        1 << 32 | 0x541c,
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
    vectors
}

/// The launcher's stack: the terminal-injection filter, then the profile's
/// filters in their load order.
fn launcher_stack(profile: &SeccompProgram) -> Vec<BpfProgram> {
    let tty = tty_injection_filter().unwrap();
    tty.filters()
        .iter()
        .chain(profile.filters())
        .map(|(_, f)| f.clone())
        .collect()
}

/// Composes, and decides as the stack on every input; at least
/// `min_cached` (arch, nr) are skipped by the action cache (those the whole
/// stack allows whatever the arguments). Returns the composed program's
/// length.
fn assert_composes(what: &str, stack: &[BpfProgram], min_cached: usize) -> usize {
    let refs: Vec<&BpfProgram> = stack.iter().collect();
    let one = compose(&refs).unwrap_or_else(|| panic!("{what}: composition refused"));
    let composed = Filter::new(one.instructions()).unwrap();
    let separate: Vec<Filter> = stack
        .iter()
        .map(|p| Filter::new(p.instructions()).unwrap())
        .collect();
    let nrs: Vec<u32> = (0..=470u32)
        .chain((0..=20).map(|n| n | X32_SYSCALL_BIT))
        .chain([512, 514, 1000, 0x3fff_ffff, u32::MAX])
        .collect();
    let vectors = arg_vectors();
    let (mut decided, mut cached) = (0usize, 0usize);
    for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64] {
        for &nr in &nrs {
            if stack
                .iter()
                .all(|p| is_const_allow(p.instructions(), arch, nr))
            {
                assert!(
                    is_const_allow(one.instructions(), arch, nr),
                    "{what}: the action cache skips the stack but not the composed filter \
                     for arch {arch:#x} nr {nr}"
                );
                cached += 1;
            }
            for args in &vectors {
                let d = SeccompData::new(arch, nr, *args);
                assert_eq!(
                    composed.run(&d),
                    run_stack(&separate, &d),
                    "{what}: arch {arch:#x} nr {nr} args {args:x?}"
                );
                decided += 1;
            }
        }
    }
    eprintln!(
        "{what}: {} filters of {:?} instructions composed into {}; {decided} inputs; \
         {cached} (arch, nr) skipped by the action cache",
        stack.len(),
        stack
            .iter()
            .map(|p| p.instructions().len())
            .collect::<Vec<_>>(),
        one.instructions().len()
    );
    assert!(cached >= min_cached, "{what}: {cached} cached");
    one.instructions().len()
}

fn ours(dir: &Path, name: &str, src: &str, args: &[&str]) -> SeccompProgram {
    load(&compile(OURS, dir, name, src, args))
}

#[test]
fn composes_snapd_257s_template_compiled_by_ours_and_by_debians_compiler() {
    let Some(src) = snapd_257_profile() else {
        eprintln!("SKIPPED: cannot read snapd 2.57's template out of /usr/lib/snapd/snapd");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin2 = ours(dir.path(), "ours.bin2", &src, &[]);
    assert_eq!(bin2.filters().len(), 2);
    assert_composes("ours .bin2 + tty", &launcher_stack(&bin2), 500);
    let bin = ours(dir.path(), "ours.bin", &src, &["--format=bin"]);
    assert_composes("ours .bin + tty", &launcher_stack(&bin), 500);
    if Path::new(DEBIAN).exists() {
        let deb = load(&compile(DEBIAN, dir.path(), "deb.bin", &src, &[]));
        // snapd's linear program: several hundred instructions.
        assert_composes("Debian's .bin + tty", &launcher_stack(&deb), 500);
    } else {
        eprintln!("SKIPPED (Debian's part): {DEBIAN} is not installed");
    }
}

#[test]
fn composes_deny_rules_complain_and_small_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let deny = "read\nwrite\nexit_group\nioctl\nchmod\nmkdir\nsocket AF_UNIX\nsetpriority PRIO_PROCESS 0 <=19\n\
                ~ioctl - 4294967295|TIOCSTI\n~ioctl - TIOCLINUX\n~chmod - |S_ISUID\n~openat2\n~mkdir\n";
    let p = ours(dir.path(), "deny.bin2", deny, &[]);
    assert_composes("~ rules", &launcher_stack(&p), 1);
    let complain = format!("@complain\n{deny}");
    let p = ours(dir.path(), "complain.bin2", &complain, &[]);
    assert_composes("@complain", &launcher_stack(&p), 1);
    let p = ours(dir.path(), "tiny.bin2", "read\n", &[]);
    assert_composes("one rule", &launcher_stack(&p), 1);
    // Without the terminal-injection filter: the profile's two programs.
    let p = ours(dir.path(), "two.bin2", deny, &[]);
    let two: Vec<BpfProgram> = p.filters().iter().map(|(_, f)| f.clone()).collect();
    assert_composes("deny + allow", &two, 1);
}
