//! The adversarial suite (issue 12): the attacks of
//! ../shared/research/security.md §8, highest-ranked first, each carried
//! out for real in a throwaway world against a set-user-ID root
//! snap-confine installed where snapd's lives (`/usr/lib/snapd`), by an
//! attacker running as uid 65534.
//!
//! Each `#[test]` attacks snapcell's snap-confine and fails if the attack
//! works. [`snapd_257_comparison`] runs the same attacks against Debian's
//! snapd 2.57 snap-confine (the one installed on the host) and records
//! which it fails, for the README's table; a failing snapd is not a test
//! failure.

#[path = "../common/mod.rs"]
mod common;
mod lab;
mod scenarios;

use std::fmt::Write as _;

use common::{Fixture, base_tree};
use lab::{Impl, Lab, Scenario};
use scenarios::*;
use snapcell_test_support::build_static_c;

/// Where a scenario needs more than the common fixture.
#[derive(Clone, Copy)]
enum Setup {
    Plain,
    /// Probes in the base: a set-user-ID root `/bin/suid` that prints its
    /// effective uid, `/bin/fds` that lists its descriptors and cwd.
    Probes,
}

/// (§8 rank, attack class, scenario, fixture).
const SUITE: &[(u32, &str, Scenario, Setup)] = &[
    (
        1,
        "mount-target swap race (RENAME_EXCHANGE of /tmp/snap-private-tmp)",
        swap_race,
        Setup::Plain,
    ),
    (
        2,
        "pre-created private /tmp objects (dir, planted content, symlink, FIFO, file)",
        precreated_private_tmp,
        Setup::Plain,
    ),
    (
        4,
        "set-user-ID root programs inside the sandbox (base and /tmp)",
        setuid_inside,
        Setup::Probes,
    ),
    (
        5,
        "/proc/PID/root, cwd and fd of a process outside the sandbox",
        proc_pid_root,
        Setup::Plain,
    ),
    (
        6,
        "descriptor and cwd leaks into the app",
        leaked_fds_and_cwd,
        Setup::Probes,
    ),
    (
        7,
        "/proc/PID/{mem,environ,root,cwd} of the launcher while it runs",
        proc_access_during_launch,
        Setup::Plain,
    ),
    (
        9,
        "hostile environment (LD_*, GCONV_PATH, GLIBC_TUNABLES, locale, debug, 120 kB values, bad SNAP_INSTANCE_NAME and SNAP_USER_DATA), closed fds 0-2",
        hostile_environment,
        Setup::Probes,
    ),
    (
        11,
        "SIGKILL/SIGSTOP of the launcher during construction",
        kill_anywhere,
        Setup::Plain,
    ),
    (
        12,
        "spoofed preserved namespace (file, symlink, namespace of another user namespace)",
        spoofed_namespace,
        Setup::Plain,
    ),
    (
        17,
        "low rlimits (RLIMIT_NOFILE 4-12, RLIMIT_FSIZE 0, RLIMIT_AS)",
        low_rlimits,
        Setup::Plain,
    ),
    (
        19,
        "hostile mount profile (/etc, /proc, /sys, /usr/lib/snapd, /run/snapd, `..`, symlink loop, 100k entries)",
        hostile_profile,
        Setup::Plain,
    ),
    (
        23,
        "parallel launches during construction; the snap lock after launch",
        parallel_launches,
        Setup::Plain,
    ),
    (25, "umask 0000 and 0777", umask_extremes, Setup::Plain),
];

fn fixture(setup: Setup) -> Fixture {
    match setup {
        Setup::Plain => Fixture::new(),
        Setup::Probes => {
            let dir = snapcell_test_support::scratch_dir().unwrap();
            let suid = build_static_c(EUID_PROBE, dir.path(), "suid").unwrap();
            let fds = build_static_c(FDS_PROBE, dir.path(), "fds").unwrap();
            Fixture::with_base(
                base_tree(&[])
                    .file("bin/suid", std::fs::read(suid).unwrap(), 0o4755)
                    .file("bin/fds", std::fs::read(fds).unwrap(), 0o755),
            )
        }
    }
}

fn defend(rank: u32) {
    let (_, what, scenario, setup) = *SUITE.iter().find(|s| s.0 == rank).unwrap();
    let before = snapcell_test_support::MachineSnapshot::take();
    let lab = Lab::with_fixture(Impl::Ours, fixture(setup));
    if let Err(breach) = scenario(&lab) {
        panic!("§8.{rank} {what}: the attack succeeded against snapcell's snap-confine: {breach}");
    }
    before.assert_unchanged();
}

#[test]
fn s01_mount_target_swap_race() {
    defend(1);
}

#[test]
fn s02_precreated_private_tmp() {
    defend(2);
}

#[test]
fn s04_setuid_inside_the_sandbox() {
    defend(4);
}

#[test]
fn s05_proc_pid_root_of_outside_processes() {
    defend(5);
}

#[test]
fn s06_descriptor_and_cwd_leaks() {
    defend(6);
}

#[test]
fn s07_proc_access_to_the_launcher() {
    defend(7);
}

#[test]
fn s09_hostile_environment() {
    defend(9);
}

#[test]
fn s11_kill_and_stop_during_construction() {
    defend(11);
}

#[test]
fn s12_spoofed_preserved_namespace() {
    defend(12);
}

#[test]
fn s17_low_rlimits() {
    defend(17);
}

#[test]
fn s19_hostile_mount_profile() {
    defend(19);
}

#[test]
fn s23_parallel_launches_and_the_lock() {
    defend(23);
}

#[test]
fn s25_umask_extremes() {
    defend(25);
}

/// The same attacks against snapd 2.57's snap-confine; writes the table to
/// `$CARGO_TARGET_TMPDIR/adversarial-snapd257.md` and prints it.
#[test]
fn snapd_257_comparison() {
    if !std::path::Path::new(lab::CONFINE).exists() {
        eprintln!("snapd 2.57 is not installed; nothing to compare");
        return;
    }
    let before = snapcell_test_support::MachineSnapshot::take();
    let mut table = String::from("| §8 | attack | snapd 2.57 |\n|---|---|---|\n");
    // A plain launch as the attacker must work, or every "defended" below
    // would mean nothing.
    let sanity = Lab::with_fixture(Impl::Snapd257, Fixture::new());
    let ok = sanity.world(|_| {
        let out = sanity.launch("cat /snap/hello/x1/data/hello.txt");
        assert!(out.status.success() && lab::stdout(&out) == "hi\n", "{}", lab::text(&out));
        Ok(())
    });
    assert!(
        matches!(ok, lab::Verdict::Defended),
        "snapd 2.57's snap-confine cannot launch the app as the attacker here"
    );
    for &(rank, what, scenario, setup) in SUITE {
        let lab = Lab::with_fixture(Impl::Snapd257, fixture(setup));
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&lab)));
        let cell = match verdict {
            Ok(Ok(())) => "defended".to_owned(),
            Ok(Err(breach)) => format!("**fails**: {}", one_line(&breach)),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("not run: {}", one_line(&msg))
            }
        };
        writeln!(table, "| {rank} | {what} | {cell} |").unwrap();
    }
    before.assert_unchanged();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("adversarial-snapd257.md");
    std::fs::write(&out, &table).unwrap();
    eprintln!("{table}\n(written to {})", out.display());
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    flat.chars().take(160).collect()
}
