//! snap-confine's seccomp side end to end (issue 8, the launcher): which
//! profile files it loads and in which order, what it does with a missing,
//! late, truncated or corrupt one, and `no_new_privs`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use snapcell_core::seccomp::bin2::encode_bin2;
use snapcell_core::seccomp::bpf::{self, BpfProgram, SockFilter};
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

const BPF_DIR: &str = "/var/lib/snapd/seccomp/bpf";
const NOBODY: u32 = 65534;
const EPERM: i32 = 1;
const EACCES: i32 = 13;

/// What the app prints when it got to run.
const STARTED: &str = "the app started";

/// A program that fails each listed system call with its errno and allows
/// everything else.
fn errno_program(rules: &[(u32, i32)]) -> Vec<u8> {
    let mut p = vec![SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR)];
    for (nr, errno) in rules {
        p.push(SockFilter::jump(bpf::JMP_JEQ_K, *nr, 0, 1));
        p.push(SockFilter::stmt(bpf::RET_K, bpf::ret_errno(*errno as u16)));
    }
    p.push(SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW));
    BpfProgram::new(p).unwrap().to_bytes()
}

fn allow_all() -> Vec<u8> {
    errno_program(&[])
}

/// Write `bytes` as `name` in the profile directory, atomically (a launcher
/// polling for it never reads half a file).
fn write_profile(name: &str, bytes: &[u8]) {
    fs::create_dir_all(BPF_DIR).unwrap();
    let tmp = Path::new(BPF_DIR).join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
    fs::rename(&tmp, Path::new(BPF_DIR).join(name)).unwrap();
}

fn remove_profiles() {
    for ext in ["bin2", "bin"] {
        let _ = fs::remove_file(Path::new(BPF_DIR).join(format!("{TAG}.{ext}")));
    }
}

fn launch(fx: &Fixture, script: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut env = snap_env();
    for (k, v) in extra_env {
        env.push((k.into(), v.into()));
    }
    run_with(
        &fx.confine,
        &["--base", "core", TAG, "/bin/sh", "-c", script],
        &env,
    )
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The launch failed with a message containing `want`, and the app never ran.
fn expect_refused(out: &Output, want: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = stderr_of(out);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(!stdout.contains(STARTED), "the app ran: {stdout}");
    assert!(stderr.contains(want), "expected {want:?} in:\n{stderr}");
}

/// x86_64's `mkdir`, `mkdirat`, `rmdir` and `unlinkat`.
const MKDIR_RMDIR: (u32, u32, u32, u32) = (83, 258, 84, 263);

/// The deny program of the two tests below: `EACCES` for making and
/// removing directories.
fn deny_mkdir_rmdir() -> Vec<u8> {
    let (mkdir, mkdirat, rmdir, unlinkat) = MKDIR_RMDIR;
    errno_program(&[
        (mkdir, EACCES),
        (mkdirat, EACCES),
        (rmdir, EACCES),
        (unlinkat, EACCES),
    ])
}

/// Launch with `.bin2` of `allow` and `deny`, making and removing a
/// directory: `mkdir` must fail with the allow program's `EPERM` and
/// `rmdir` with the deny program's `EACCES`. Returns the app's
/// `Seccomp_filters:` line.
fn mkdir_rmdir_filters(fx: &Fixture, allow: &[u8], deny: &[u8]) -> String {
    write_profile(&format!("{TAG}.bin2"), &encode_bin2(false, allow, deny));
    let out = launch(
        fx,
        "mkdir /tmp/d 2>&1; rmdir /tmp/nothing-here 2>&1; grep -E '^Seccomp_filters:' /proc/self/status",
        &[],
    );
    let stdout = expect_success(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("Operation not permitted"), "{stdout}");
    assert!(lines[1].ends_with("Permission denied"), "{stdout}");
    lines[2].to_owned()
}

/// The `.bin2` deny program is loaded before the allow program, as snapd
/// does: for equal actions the kernel returns the data of the filter
/// installed last, so a call that both programs fail gets the allow
/// program's `EPERM`, and a call only the deny program fails gets its
/// `EACCES`. (Loaded the other way round, `mkdir` would say `EACCES`.)
#[test]
fn bin2_loads_the_deny_program_before_the_allow_program() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let (mkdir, mkdirat, _, _) = MKDIR_RMDIR;
        let allow = errno_program(&[(mkdir, EPERM), (mkdirat, EPERM)]);
        // The terminal-injection filter, deny and allow, composed into one
        // filter (Landlock is no filter).
        assert_eq!(
            mkdir_rmdir_filters(&fx, &allow, &deny_mkdir_rmdir()),
            "Seccomp_filters:\t1"
        );
    });
}

/// When the filters cannot be composed into one (here the allow program
/// uses every scratch memory slot, which the composition needs two of), the
/// launcher loads them one by one, deciding the same.
#[test]
fn filters_that_cannot_be_composed_are_loaded_separately() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let (mkdir, mkdirat, _, _) = MKDIR_RMDIR;
        let mut allow: Vec<SockFilter> = (0..16).map(|k| SockFilter::stmt(0x02, k)).collect();
        let allow_rest = errno_program(&[(mkdir, EPERM), (mkdirat, EPERM)]);
        allow.extend(allow_rest.chunks(8).map(|b| {
            SockFilter::jump(
                u16::from_ne_bytes([b[0], b[1]]),
                u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                b[2],
                b[3],
            )
        }));
        let allow = BpfProgram::new(allow).unwrap().to_bytes();
        // The terminal-injection filter, deny, allow.
        assert_eq!(
            mkdir_rmdir_filters(&fx, &allow, &deny_mkdir_rmdir()),
            "Seccomp_filters:\t3"
        );
    });
}

/// Missing (after waiting), truncated, corrupt or unloadable profiles stop
/// the launch with a message naming the file; the app never starts.
#[test]
fn a_missing_truncated_or_corrupt_profile_stops_the_launch() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        let script = format!("echo '{STARTED}'");
        let bin2 = format!("{BPF_DIR}/{TAG}.bin2");
        let bin = format!("{BPF_DIR}/{TAG}.bin");
        let good = encode_bin2(false, &allow_all(), &allow_all());

        remove_profiles();
        let start = Instant::now();
        let out = launch(&fx, &script, &[("SNAP_CONFINE_MAX_PROFILE_WAIT", "1")]);
        expect_refused(
            &out,
            &format!("cannot find seccomp profile for {TAG}: neither {bin2} nor {bin} exists"),
        );
        assert!(start.elapsed() >= Duration::from_secs(1), "did not wait");

        let cases: Vec<(&str, Vec<u8>, String)> = vec![
            (
                "truncated header",
                good[..100].to_vec(),
                format!(
                    "cannot load seccomp profile {bin2}: file is 100 bytes, shorter than the 128-byte header"
                ),
            ),
            (
                "truncated program",
                good[..good.len() - 8].to_vec(),
                format!("cannot load seccomp profile {bin2}: unexpected file size"),
            ),
            (
                "bad magic",
                [b"XX".as_slice(), &good[2..]].concat(),
                format!("cannot load seccomp profile {bin2}: unexpected seccomp header"),
            ),
            (
                "empty allow program",
                encode_bin2(false, &[], &allow_all()),
                format!(
                    "cannot load seccomp profile {bin2}: allow filter may only be empty in unrestricted profiles"
                ),
            ),
            (
                // Parses, but the kernel refuses it: no return instruction.
                "program the kernel refuses",
                encode_bin2(
                    false,
                    &allow_all(),
                    &SockFilter::stmt(bpf::LD_W_ABS, bpf::DATA_NR).to_bytes(),
                ),
                format!("cannot apply deny seccomp filter from {bin2}"),
            ),
        ];
        for (what, bytes, want) in cases {
            remove_profiles();
            write_profile(&format!("{TAG}.bin2"), &bytes);
            let out = launch(&fx, &script, &[]);
            eprintln!("{what}: {}", stderr_of(&out).trim());
            expect_refused(&out, &want);
        }
        // A broken .bin2 is not a reason to fall back to a usable .bin.
        write_profile(&format!("{TAG}.bin"), b"@unrestricted\n");
        expect_refused(&launch(&fx, &script, &[]), &bin2);
        // A corrupt legacy .bin (2.57's format) alone.
        remove_profiles();
        write_profile(&format!("{TAG}.bin"), b"@unrestricted");
        expect_refused(
            &launch(&fx, &script, &[]),
            &format!("cannot load seccomp profile {bin}: legacy filter size 13 is not a multiple of 8"),
        );
        // Control: a good profile starts the app.
        remove_profiles();
        write_profile(&format!("{TAG}.bin2"), &good);
        let out = launch(&fx, &script, &[]);
        assert!(expect_success(&out).contains(STARTED));
    });
}

/// A profile that snapd writes only after the launch started (snapd's
/// 120 s wait): after a second snap-confine says once which file it waits
/// for and why, then goes on when the file appears.
#[test]
fn a_late_profile_is_waited_for_and_the_wait_is_announced() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        remove_profiles();
        let writer = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            write_profile(
                &format!("{TAG}.bin2"),
                &encode_bin2(false, &allow_all(), &allow_all()),
            );
        });
        let start = Instant::now();
        // Bounded: at most 10 s even if the file never came.
        let out = launch(
            &fx,
            &format!("echo '{STARTED}'"),
            &[("SNAP_CONFINE_MAX_PROFILE_WAIT", "10")],
        );
        let took = start.elapsed();
        writer.join().unwrap();
        let stdout = expect_success(&out);
        assert!(stdout.contains(STARTED), "{stdout}");
        // It waited for the file (and, having succeeded, did not run into
        // the 10 s limit).
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        let stderr = stderr_of(&out);
        let notices: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("waiting for the seccomp profile"))
            .collect();
        assert_eq!(notices.len(), 1, "one notice, not one a poll:\n{stderr}");
        let notice = notices[0];
        eprintln!("{notice}");
        for want in [
            format!("{BPF_DIR}/{TAG}.bin2"),
            format!("{BPF_DIR}/{TAG}.bin"),
            "does not exist yet".to_owned(),
            "snapd writes it".to_owned(),
            "10 s".to_owned(),
        ] {
            assert!(notice.contains(&want), "{want:?} not in {notice:?}");
        }
        // No notice when the profile is there.
        let out = launch(&fx, &format!("echo '{STARTED}'"), &[]);
        expect_success(&out);
        assert!(
            !stderr_of(&out).contains("waiting for"),
            "{}",
            stderr_of(&out)
        );
    });
}

fn no_new_privs_and_caps(stdout: &str) -> (String, String) {
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_owned()
    };
    (field("NoNewPrivs"), field("CapEff"))
}

/// On this kernel (no AppArmor) a strict snap's app runs with
/// `no_new_privs`, whether root or a set-user-ID caller launched it, with a
/// restricted or an unrestricted profile; a classic snap does not get it.
#[test]
fn a_strict_snap_runs_with_no_new_privs() {
    if Path::new("/sys/kernel/security/apparmor").exists() {
        eprintln!("SKIPPED: this kernel has AppArmor (no_new_privs is then not set)");
        return;
    }
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let setuid = fx.setuid_copy();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        let script = "grep -E '^(NoNewPrivs|CapEff):' /proc/self/status";
        // Unrestricted profile, launched by root.
        let out = launch(&fx, script, &[("SNAPD_DEBUG", "1")]);
        let stdout = expect_success(&out);
        assert_eq!(no_new_privs_and_caps(&stdout).0, "1", "{stdout}");
        assert!(stderr_of(&out).contains("no_new_privs set"));
        // Restricted profile, launched set-user-ID by nobody.
        write_profile(
            &format!("{TAG}.bin2"),
            &encode_bin2(false, &allow_all(), &allow_all()),
        );
        let out = Command::new(&setuid)
            .args(["--base", "core", TAG, "/bin/sh", "-c", script])
            .env_clear()
            .envs(snap_env().iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = expect_success(&out);
        assert_eq!(
            no_new_privs_and_caps(&stdout),
            ("1".to_owned(), "0000000000000000".to_owned()),
            "{stdout}"
        );
        // Classic: the host's world, no no_new_privs (as with snapd).
        let out = run_with(
            &fx.confine,
            &["--classic", TAG, "/bin/sh", "-c", script],
            &snap_env(),
        );
        let stdout = expect_success(&out);
        assert_eq!(no_new_privs_and_caps(&stdout).0, "0", "{stdout}");
    });
    before.assert_unchanged();
}
