//! The minimal Landlock domain snap-confine applies (the AppArmor ptrace
//! rule substitute): an app cannot reach processes outside its sandbox
//! through `/proc/PID/root`, not even as root, while everything outside
//! the sandbox still can.

mod common;

use std::process::{Child, Command, Stdio};

use common::*;
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

/// A process outside the sandbox, killed and reaped when dropped.
struct Outside(Child);

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_app_cannot_read_the_root_of_a_process_outside_its_sandbox() {
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        let sleeper = Outside(
            Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .spawn()
                .expect("cannot start sleep"),
        );
        let pid = sleeper.0.id();
        let root = format!("/proc/{pid}/root/");

        // Outside the sandbox (the test, root in the world): readable.
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{root} unreadable outside the sandbox: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "etc"), "{names:?}");
        // The same command as the app runs, without the sandbox: works.
        let plain = Command::new("/bin/busybox")
            .args([
                "sh",
                "-c",
                &format!("ls {root} >/dev/null && echo readable"),
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&plain.stdout), "readable\n");

        // Inside: EACCES, both for the directory and a file below it, even
        // though the app runs as root. The app's own /proc entries and a
        // process it started itself (inside its domain) stay readable.
        let script = format!(
            "ls {root} 2>&1; echo \"ls=$?\"; \
             cat {root}etc/passwd >/dev/null 2>&1; echo \"cat=$?\"; \
             readlink /proc/{pid}/cwd >/dev/null 2>&1; echo \"cwd=$?\"; \
             ls /proc/self/root/ >/dev/null && echo own=ok; \
             sleep 100 & child=$!; ls /proc/$child/root/ >/dev/null && echo child=ok; kill $child; \
             id -u"
        );
        let out = run_app(&fx.confine, "core", &script, true);
        let stdout = expect_success(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(
            lines[0].contains("Permission denied"),
            "ls of {root} inside the sandbox: {stdout}"
        );
        assert_eq!(
            &lines[1..],
            ["ls=1", "cat=1", "cwd=1", "own=ok", "child=ok", "0"],
            "{stdout}"
        );
        assert!(
            stderr.contains("Landlock domain applied (FullyEnforced)"),
            "{stderr}"
        );
        drop(sleeper);
    });
    before.assert_unchanged();
}

/// A restricted profile that, like snapd 2.57's template, does not allow
/// the Landlock system calls (they fail with `EPERM`): the domain is still
/// in place, because snap-confine applies it before the profile. Run set
/// user ID as nobody, against a sleep of nobody's: same-user access that
/// only the domain forbids.
#[test]
fn the_domain_holds_under_a_profile_without_landlock_as_the_caller() {
    use snapcell_core::seccomp::bin2::encode_bin2;
    use snapcell_core::seccomp::bpf::{self, BpfProgram, SockFilter};
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    // landlock_create_ruleset, landlock_add_rule, landlock_restrict_self:
    // numbered alike on every architecture (new system calls since 5.1).
    const LANDLOCK_SYSCALLS: [u32; 3] = [444, 445, 446];

    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let setuid = fx.setuid_copy();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        // allow: EPERM for the three, everything else allowed; deny: allow all.
        let mut allow = vec![SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR)];
        for (i, nr) in LANDLOCK_SYSCALLS.iter().enumerate() {
            let to_deny = (LANDLOCK_SYSCALLS.len() - i) as u8;
            allow.push(SockFilter::jump(bpf::JMP_JEQ_K, *nr, to_deny, 0));
        }
        allow.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
        allow.push(SockFilter::stmt(bpf::RET_K, bpf::ret_errno(1)));
        let allow = BpfProgram::new(allow).unwrap().to_bytes();
        let deny = BpfProgram::new(vec![SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW)])
            .unwrap()
            .to_bytes();
        std::fs::write(
            format!("/var/lib/snapd/seccomp/bpf/{TAG}.bin2"),
            encode_bin2(false, &allow, &deny),
        )
        .unwrap();

        let sleeper = Outside(
            Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .uid(NOBODY)
                .gid(NOBODY)
                .spawn()
                .expect("cannot start sleep"),
        );
        let pid = sleeper.0.id();
        let mut env = snap_env();
        env.push(("SNAPD_DEBUG".into(), "1".into()));
        let script = format!(
            "id -u; ls /proc/{pid}/root/ >/dev/null 2>&1; echo \"ls=$?\"; \
             grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
        );
        let out = Command::new(&setuid)
            .args(["--base", "core", TAG, "/bin/sh", "-c", &script])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = expect_success(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], NOBODY.to_string(), "{stdout}");
        assert_eq!(
            lines[1], "ls=1",
            "same-user /proc/PID/root readable: {stdout}"
        );
        assert!(lines[2].ends_with("0000000000000000"), "{stdout}");
        // A strict snap on this kernel (no AppArmor) gets no_new_privs.
        assert!(lines[3].ends_with('1'), "no_new_privs not set: {stdout}");
        assert!(lines[4].ends_with('2'), "no seccomp filter: {stdout}");
        assert!(
            stderr.contains("Landlock domain applied (FullyEnforced)"),
            "{stderr}"
        );
        // Without the sandbox the same user can read it.
        let plain = Command::new("/bin/busybox")
            .args([
                "sh",
                "-c",
                &format!("ls /proc/{pid}/root/ >/dev/null && echo readable"),
            ])
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&plain.stdout), "readable\n");
        drop(sleeper);
    });
    before.assert_unchanged();
}

/// Our own helper: runs a program as on a kernel without Landlock.
const NO_LANDLOCK_C: &str = include_str!("fixtures/no_landlock.c");

/// Neither AppArmor (this kernel has none) nor Landlock (hidden from
/// snap-confine by a seccomp filter answering `ENOSYS`, as a kernel built
/// without it does): the app still starts, under its seccomp profile, with
/// the minimal domain and with a domain from snapd's state alike, and
/// `SNAPD_DEBUG` says there is no file confinement.
#[test]
fn without_landlock_the_app_still_runs_and_snapd_debug_says_so() {
    use snapcell_core::seccomp::bin2::encode_bin2;
    use snapcell_core::seccomp::bpf::{self, BpfProgram, SockFilter};
    use snapcell_test_support::build_static_c;

    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let wrapper = build_static_c(NO_LANDLOCK_C, fx.dir.path(), "no-landlock")
        .expect("gcc -static (apt-get install gcc libc6-dev)");
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        // A restricted profile that allows everything: loaded as filters.
        let allow = BpfProgram::new(vec![SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW)])
            .unwrap()
            .to_bytes();
        std::fs::write(
            format!("/var/lib/snapd/seccomp/bpf/{TAG}.bin2"),
            encode_bin2(false, &allow, &allow),
        )
        .unwrap();
        let mut env = snap_env();
        env.push(("SNAPD_DEBUG".into(), "1".into()));
        let launch = || {
            Command::new(&wrapper)
                .arg(&fx.confine)
                .args([
                    "--base",
                    "core",
                    TAG,
                    "/bin/sh",
                    "-c",
                    "echo ran; grep '^Seccomp_filters:' /proc/self/status",
                ])
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir("/")
                .stdin(Stdio::null())
                .output()
                .unwrap()
        };
        // No profile, no snapd state: the minimal domain; then with
        // snapd's state: a domain from the default grants.
        for (what, state) in [
            ("only the minimal Landlock domain", None),
            ("Landlock domain from the default grants", Some("{}")),
        ] {
            if let Some(json) = state {
                std::fs::write("/var/lib/snapd/state.json", json).unwrap();
            }
            let out = launch();
            let stdout = expect_success(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stdout.lines().collect();
            assert_eq!(lines[0], "ran", "{what}: {stdout}");
            // The helper's filter, then ours: the terminal-injection guard
            // and the profile's two programs, composed into one filter.
            let filters: u32 = lines[1].split_whitespace().last().unwrap().parse().unwrap();
            assert_eq!(filters, 2, "{what}: {stdout}");
            assert!(
                stderr.contains(
                    "Landlock is not available on this kernel: no Landlock domain \
                     (and no AppArmor: no file confinement)"
                ),
                "{what}: {stderr}"
            );
            assert!(
                !stderr.contains("Landlock domain applied"),
                "{what}: {stderr}"
            );
        }
        let stderr_state = String::from_utf8_lossy(&launch().stderr).into_owned();
        assert!(stderr_state.contains("default grants"), "{stderr_state}");
    });
    before.assert_unchanged();
}
