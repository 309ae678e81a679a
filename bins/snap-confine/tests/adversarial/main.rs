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
mod more;
mod scenarios;

use common::{Fixture, base_tree};
use lab::{Impl, Lab, Scenario};
use more::*;
use scenarios::*;
use snapcell_test_support::build_static_c;

/// Where a scenario needs more than the common fixture.
#[derive(Clone, Copy)]
enum Setup {
    Plain,
    /// Probes in the base: a set-user-ID root `/bin/suid` that prints its
    /// effective uid, `/bin/fds` that lists its descriptors and cwd.
    Probes,
    /// Attack programs in the base: `/bin/swapper` (the staging race of
    /// §8.3) and `/bin/inject` (terminal injection, §8.14).
    Attack,
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
        3,
        "writable-mimic staging hijack (/tmp/.snap planted and swapped from inside)",
        mimic_staging_hijack,
        Setup::Attack,
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
        8,
        "hard link of the set-user-ID launcher beside fake helpers",
        hardlinked_launcher,
        Setup::Plain,
    ),
    (
        9,
        "hostile environment (LD_*, GCONV_PATH, GLIBC_TUNABLES, locale, debug, 120 kB values, bad SNAP_INSTANCE_NAME and SNAP_USER_DATA), closed fds 0-2",
        hostile_environment,
        Setup::Probes,
    ),
    (
        10,
        "instance names and security tags (scratch names, `..`, `/`, newline, 256 characters, `+`, upper case, random)",
        name_grammar,
        Setup::Plain,
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
        13,
        "mount propagation with the host's / recursively shared",
        shared_host_root,
        Setup::Plain,
    ),
    (
        14,
        "terminal injection from a pty (TIOCSTI, TIOCSTI|1<<32, i386 TIOCSTI, TIOCLINUX)",
        tty_injection,
        Setup::Attack,
    ),
    (
        15,
        "trespassing: layouts in host directories (/etc, /var/lib/snapd, /run)",
        trespassing,
        Setup::Plain,
    ),
    (
        16,
        "symbolic links on layout and content paths ($SNAP_DATA, /proc/self/root, SNAP_USER_DATA)",
        layout_symlinks,
        Setup::Plain,
    ),
    (
        17,
        "low rlimits (RLIMIT_NOFILE 4-12, RLIMIT_FSIZE 0, RLIMIT_AS)",
        low_rlimits,
        Setup::Plain,
    ),
    (
        18,
        "hostile snap content (FIFO, socket, device nodes, symlinks to host files; a FIFO base)",
        hostile_snap_content,
        Setup::Plain,
    ),
    (
        19,
        "hostile mount profile (/etc, /proc, /sys, /usr/lib/snapd, /run/snapd, `..`, symlink loop, 100k entries)",
        hostile_profile,
        Setup::Plain,
    ),
    (
        20,
        "fake /proc, /dev and /tmp in the base (symbolic links, a file) with the host's / shared",
        fake_proc_and_dev,
        Setup::Plain,
    ),
    (
        21,
        "policy written from the sandbox (profiles in /tmp, user data, XDG_RUNTIME_DIR; AppArmor includes through a layout)",
        config_from_sandbox,
        Setup::Plain,
    ),
    (
        22,
        "cgroup escape: moving into a delegated cgroup, then a denied device",
        cgroup_escape,
        Setup::Plain,
    ),
    (
        23,
        "parallel launches during construction; the snap lock after launch",
        parallel_launches,
        Setup::Plain,
    ),
    (
        24,
        "debug back-pressure: SNAPD_DEBUG with standard error a full pipe, a slow socket, SIGSTOP",
        debug_back_pressure,
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
        Setup::Attack => Fixture::with_base(attack_base()),
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

/// One test against ours and one against snapd 2.57 per scenario.
macro_rules! suite {
    ($($rank:literal $ours:ident $theirs:ident;)*) => {
        $(
            #[test]
            fn $ours() {
                defend($rank);
            }

            #[test]
            fn $theirs() {
                compare($rank);
            }
        )*
    };
}

suite! {
    1 s01_mount_target_swap_race snapd_257_s01;
    2 s02_precreated_private_tmp snapd_257_s02;
    3 s03_mimic_staging_hijack snapd_257_s03;
    4 s04_setuid_inside_the_sandbox snapd_257_s04;
    5 s05_proc_pid_root_of_outside_processes snapd_257_s05;
    6 s06_descriptor_and_cwd_leaks snapd_257_s06;
    7 s07_proc_access_to_the_launcher snapd_257_s07;
    8 s08_hardlinked_launcher snapd_257_s08;
    9 s09_hostile_environment snapd_257_s09;
    10 s10_name_grammar snapd_257_s10;
    11 s11_kill_and_stop_during_construction snapd_257_s11;
    12 s12_spoofed_preserved_namespace snapd_257_s12;
    13 s13_shared_host_root snapd_257_s13;
    14 s14_terminal_injection snapd_257_s14;
    15 s15_trespassing snapd_257_s15;
    16 s16_layout_symlinks snapd_257_s16;
    17 s17_low_rlimits snapd_257_s17;
    18 s18_hostile_snap_content snapd_257_s18;
    19 s19_hostile_mount_profile snapd_257_s19;
    20 s20_fake_proc_and_dev snapd_257_s20;
    21 s21_policy_from_the_sandbox snapd_257_s21;
    22 s22_cgroup_escape snapd_257_s22;
    23 s23_parallel_launches_and_the_lock snapd_257_s23;
    24 s24_debug_back_pressure snapd_257_s24;
    25 s25_umask_extremes snapd_257_s25;
}

/// The same attack against snapd 2.57's snap-confine: its row of the
/// README's table, printed and written to
/// `$CARGO_TARGET_TMPDIR/adversarial-snapd257/NN.md` (`cat` them for the
/// table). A failing snapd is not a test failure.
fn compare(rank: u32) {
    if !std::path::Path::new(lab::CONFINE).exists() {
        eprintln!("snapd 2.57 is not installed; nothing to compare");
        return;
    }
    let (_, what, scenario, setup) = *SUITE.iter().find(|s| s.0 == rank).unwrap();
    let before = snapcell_test_support::MachineSnapshot::take();
    // A plain launch as the attacker must work, or "defended" would mean
    // nothing.
    let sanity = Lab::with_fixture(Impl::Snapd257, Fixture::new());
    let ok = sanity.world(|_| {
        let out = sanity.launch("cat /snap/hello/x1/data/hello.txt");
        assert!(
            out.status.success() && lab::stdout(&out) == "hi\n",
            "{}",
            lab::text(&out)
        );
        Ok(())
    });
    let lab = Lab::with_fixture(Impl::Snapd257, fixture(setup));
    let verdict = if matches!(ok, lab::Verdict::Defended) {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&lab)))
    } else {
        Err(Box::new(
            "snapd 2.57's snap-confine cannot launch the app as the attacker here".to_owned(),
        ) as Box<dyn std::any::Any + Send>)
    };
    let flake = "cannot preserve mount namespace";
    let cell = match verdict {
        Ok(Err(breach)) if breach.contains(flake) => format!(
            "not run: its 6.18 namespace-id flake ({})",
            one_line(&breach)
        ),
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
    before.assert_unchanged();
    let row = format!("| {rank} | {what} | {cell} |\n");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("adversarial-snapd257");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{rank:02}.md")), &row).unwrap();
    eprint!("{row}");
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    flat.chars().take(200).collect()
}

/// Where the time of a large profile of valid mounts goes (issue 12's
/// "100k entries"; not a test: `cargo nextest run -p snap-confine --test
/// adversarial --run-ignored only measure_valid_profiles`). For each size
/// in `SNAPCELL_PROFILE_SIZES` (default 1000,5000,20000) a cold start as
/// root with `SNAPD_DEBUG=1` in a world, with N `tmpfs /usr/share/demo/dI`
/// layout entries (a writable mimic of the base's `/usr`, then N tmpfs
/// mounts); prints the launcher's stage timings ("prepare construction"
/// holds reading and parsing the profile; "mount profile" planning,
/// performing and saving it). `SNAPCELL_CONFINE` runs another build (a
/// release one) instead of the test's; `SNAPCELL_PERF=1` records it with
/// `perf` and prints the report (`SNAPCELL_PERF_SORT`, default
/// `dso,symbol`).
#[test]
#[ignore]
fn measure_valid_profiles() {
    let fx = common::Fixture::new();
    if let Ok(other) = std::env::var("SNAPCELL_CONFINE") {
        std::fs::copy(other, &fx.confine).unwrap();
    }
    let sizes =
        std::env::var("SNAPCELL_PROFILE_SIZES").unwrap_or_else(|_| "1000,5000,20000".into());
    for n in sizes.split(',').map(|s| s.trim().parse::<usize>().unwrap()) {
        fx.run_installed("core", |_| {
            let fstab: String = (0..n)
                .map(|i| format!("tmpfs /usr/share/demo/d{i} tmpfs x-snapd.origin=layout 0 0\n"))
                .collect();
            std::fs::create_dir_all("/var/lib/snapd/mount").unwrap();
            std::fs::write("/var/lib/snapd/mount/snap.hello.fstab", &fstab).unwrap();
            let t = std::time::Instant::now();
            let out = if std::env::var_os("SNAPCELL_PERF").is_some() {
                // Where the CPU time goes (`perf record` in the world's /tmp).
                let mut env = common::snap_env();
                env.push(("SNAPD_DEBUG".into(), "1".into()));
                let out = std::process::Command::new("perf")
                    .args(["record", "-q", "-g", "-o", "/tmp/perf.data", "--"])
                    .arg(&fx.confine)
                    .args(["--base", "core", common::TAG, "/bin/true"])
                    .env_clear()
                    .envs(env)
                    .current_dir("/")
                    .output()
                    .unwrap();
                let sort = std::env::var("SNAPCELL_PERF_SORT").unwrap_or_else(|_| "dso,symbol".into());
                let report = std::process::Command::new("sh")
                    .args(["-c", &format!("perf report -i /tmp/perf.data --stdio --no-children -g none --sort {sort} --percent-limit 1 2>/dev/null | grep '%' | head -40")])
                    .output()
                    .unwrap();
                eprintln!("{}", String::from_utf8_lossy(&report.stdout));
                out
            } else {
                common::run_app(&fx.confine, "core", "true", true)
            };
            let wall = t.elapsed();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}", err.lines().rev().take(5).collect::<Vec<_>>().join("\n"));
            let stages: Vec<&str> = err.lines().filter(|l| l.contains("DEBUG: stage ")).collect();
            eprintln!("N = {n}: wall {wall:?}");
            for s in stages {
                eprintln!("  {s}");
            }
        });
    }
}
