//! The attack lab: a world with the base and app snaps installed, a
//! set-user-ID root snap-confine at `/usr/lib/snapd/snap-confine` (ours bound
//! over snapd's inside the world, or snapd 2.57's own), and an attacker
//! running as uid 65534.
//!
//! A scenario is a function of the [`Lab`] that returns `Err(what broke)`
//! when the attack succeeds; a panic is a problem of the harness.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use snapcell_test_support::{World, try_run_in_world};

use crate::common::{Fixture, SNAP, TAG, snap_env};

/// The attacker.
pub const NOBODY: u32 = 65534;
/// Where snapd's set-user-ID snap-confine lives (inside every world).
pub const CONFINE: &str = "/usr/lib/snapd/snap-confine";
const REFERENCE_DISCARD: &str = "/usr/lib/snapd/snap-discard-ns";
const REFERENCE_SECCOMP: &str = "/usr/lib/snapd/snap-seccomp";
/// Longest a launch may take before it counts as a hang.
pub const LAUNCH_TIMEOUT_S: u32 = 30;

/// Which snap-confine is attacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Snapd257,
}

/// What a scenario is.
pub type Scenario = fn(&Lab) -> Result<(), String>;

pub struct Lab {
    pub fx: Fixture,
    pub which: Impl,
    setuid: PathBuf,
}

/// The result of attacking one implementation with one scenario.
pub enum Verdict {
    /// The attack was stopped.
    Defended,
    /// The attack worked; what it did.
    Breached(String),
    /// The harness could not carry the attack out.
    NotRun(String),
}

impl Lab {
    pub fn with_fixture(which: Impl, fx: Fixture) -> Lab {
        let setuid = fx.dir.path().join("snap-confine-setuid");
        fs::copy(&fx.confine, &setuid).unwrap();
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)).unwrap();
        Lab { fx, which, setuid }
    }

    /// How many rounds of a loop: `n` for ours; a quarter (at least 5)
    /// for snapd 2.57, whose comparison only records a verdict.
    pub fn rounds(&self, n: usize) -> usize {
        match self.which {
            Impl::Ours => n,
            Impl::Snapd257 => (n / 4).max(5),
        }
    }

    /// The set-user-ID copy of our snap-confine (outside the world).
    pub fn setuid_path(&self) -> &Path {
        &self.setuid
    }

    /// Run `body` in a fresh, installed world. `Err` is a breach.
    pub fn world(&self, mut body: impl FnMut(&mut World) -> Result<(), String>) -> Verdict {
        let result = try_run_in_world(|world: &mut World| {
            self.install(world);
            body(world)
        });
        match result {
            Ok(()) => Verdict::Defended,
            Err(snapcell_test_support::WorldError::Body(msg))
                if msg.starts_with("returned an error: ") =>
            {
                Verdict::Breached(msg["returned an error: ".len()..].to_owned())
            }
            Err(err) => Verdict::NotRun(err.to_string()),
        }
    }

    fn install(&self, world: &mut World) {
        self.fx.install(world, "core");
        fs::create_dir_all("/var/snap/hello/common").unwrap();
        match self.which {
            Impl::Ours => {
                let status = Command::new("mount")
                    .arg("--bind")
                    .arg(&self.setuid)
                    .arg(CONFINE)
                    .status()
                    .unwrap();
                assert!(status.success(), "cannot install snap-confine in the world");
            }
            Impl::Snapd257 => {
                // snapd 2.57 reads the compiled `.bin` profile.
                let bpf = Path::new("/var/lib/snapd/seccomp/bpf");
                let src = bpf.join(format!("{TAG}.src"));
                fs::write(&src, "@unrestricted\n").unwrap();
                let status = Command::new(REFERENCE_SECCOMP)
                    .arg("compile")
                    .arg(&src)
                    .arg(bpf.join(format!("{TAG}.bin")))
                    .status()
                    .unwrap();
                assert!(status.success(), "snap-seccomp compile failed");
                // Its packaging makes the void directory (we make our own).
                fs::create_dir_all("/var/lib/snapd/void").unwrap();
                fs::set_permissions("/var/lib/snapd/void", fs::Permissions::from_mode(0o111))
                    .unwrap();
                // Its 6.18 namespace-id flake does not happen on one CPU.
                let mut cpus = rustix::thread::CpuSet::new();
                cpus.set(0);
                rustix::thread::sched_setaffinity(None, &cpus).unwrap();
            }
        }
        let meta = fs::metadata(CONFINE).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o4755);
    }

    /// The attacker's snap-confine command line for the app's `script`,
    /// with snap run's environment, from `/`, bounded by a timeout.
    pub fn launch_cmd(&self, script: &str) -> Command {
        let mut cmd = attacker(Command::new("timeout"));
        cmd.args(["-s", "KILL", &LAUNCH_TIMEOUT_S.to_string(), CONFINE])
            .args(["--base", "core", TAG, "/bin/sh", "-c", script])
            .env_clear()
            .envs(snap_env())
            .current_dir("/")
            .stdin(Stdio::null());
        cmd
    }

    /// Launch as the attacker and wait.
    pub fn launch(&self, script: &str) -> Output {
        self.run(self.launch_cmd(script))
    }

    /// Run `cmd` (a launch), retrying snapd 2.57's known flake.
    pub fn run(&self, mut cmd: Command) -> Output {
        for _ in 0..10 {
            let out = cmd.output().unwrap();
            if self.which == Impl::Snapd257
                && String::from_utf8_lossy(&out.stderr).contains("cannot preserve mount namespace")
            {
                self.discard();
                continue;
            }
            return out;
        }
        cmd.output().unwrap()
    }

    /// Discard the snap's preserved namespace as root.
    pub fn discard(&self) {
        let _ = Command::new(REFERENCE_DISCARD)
            .arg(SNAP)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `cmd` as the attacker.
pub fn attacker(mut cmd: Command) -> Command {
    cmd.uid(NOBODY).gid(NOBODY);
    cmd
}

/// A shell command run as the attacker, outside the sandbox.
pub fn as_attacker(script: &str) -> Output {
    attacker(Command::new("/bin/sh"))
        .args(["-c", script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .output()
        .unwrap()
}

/// Run a shell command as the attacker; fail the harness if it fails.
pub fn attacker_sets_up(script: &str) {
    let out = as_attacker(script);
    assert!(
        out.status.success(),
        "attacker setup `{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A shell command as root in the world (harness setup).
pub fn root_sh(script: &str) -> String {
    let out = Command::new("/bin/sh")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "setup `{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the launch ended by itself (not killed by a signal or by the
/// timeout).
pub fn ended_cleanly(out: &Output) -> bool {
    out.status.code().is_some_and(|c| c != 137 && c != 124)
}

pub fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A breach unless `cond`.
pub fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// Run a scenario's worlds one after the other, stopping at the first that
/// is not defended.
pub fn all(verdicts: impl IntoIterator<Item = Verdict>) -> Result<(), String> {
    for v in verdicts {
        match v {
            Verdict::Defended => {}
            Verdict::Breached(msg) => return Err(msg),
            Verdict::NotRun(msg) => panic!("the attack could not be carried out: {msg}"),
        }
    }
    Ok(())
}

pub fn env_with(extra: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    let mut env = snap_env();
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((OsString::from(k), OsString::from(v)));
    }
    env
}
