//! `snapcell run NAME.APP [ARGS]`: what `snap run` does before
//! snap-confine: find the current revision, make the user's
//! `~/snap/NAME/{REV,common}`, compute the environment (`core::snapenv`)
//! and build snap-confine's command line:
//! `snap-confine [--classic] --base BASE snap.NAME.APP /usr/lib/snapd/snap-exec [--command=shell] NAME.APP ARGS`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use snapcell_core::dirs::SNAP_BIN_DIR;
use snapcell_core::snap_yaml::{Confinement, SnapInfo};
use snapcell_core::snapenv::{
    BasicInputs, RunInfo, UserInputs, basic_env, split_snap_app, user_env,
};

use crate::helpers;
use crate::manage::{installed_info, read_state};
use crate::security::command_name;

/// snap-exec inside the namespace (snap-confine binds its own directory
/// there for bases other than `core`).
pub const SNAP_EXEC: &str = "/usr/lib/snapd/snap-exec";

/// A program to execute with its arguments and its whole environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// The dpkg architecture of this build.
pub fn dpkg_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// What to run in a snap's sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    App { app: &'a str, shell: bool },
    Hook(&'a str),
}

/// The launch of `target` (`NAME.APP` or `NAME`) with `args`; `shell`
/// opens a shell in the app's sandbox instead. A strict snap is refused
/// where the kernel enforces neither AppArmor nor Landlock, unless
/// `without_file_confinement`.
pub fn launch(
    target: &str,
    args: &[OsString],
    shell: bool,
    without_file_confinement: bool,
) -> Result<Launch, String> {
    let (snap_name, app) = split_snap_app(target);
    let state = read_state()?;
    let snap = state
        .snaps
        .get(snap_name)
        .ok_or_else(|| format!("snap {snap_name:?} is not installed"))?;
    let rev = snap
        .current_revision()
        .ok_or_else(|| format!("snap {snap_name:?} has no current revision"))?;
    let info = installed_info(snap_name, &rev.revision)?;
    if !info.apps.contains_key(app) {
        return Err(format!("cannot find app {app:?} in {snap_name:?}"));
    }
    crate::policy::check_file_confinement(
        &info,
        without_file_confinement,
        crate::policy::file_confinement_available(),
    )?;
    launch_in(
        &info,
        &rev.revision,
        &rev.base,
        Target::App { app, shell },
        args,
    )
}

/// The launch of `target` of the snap `info` at `revision` on `base`
/// (empty: none), without reading the state (hooks run while an install
/// holds the state lock).
pub fn launch_in(
    info: &SnapInfo,
    revision: &str,
    base: &str,
    target: Target<'_>,
    args: &[OsString],
) -> Result<Launch, String> {
    let snap_name = info.name.as_str();
    let run = RunInfo {
        snap_name: snap_name.to_owned(),
        instance_key: String::new(),
        revision: revision.to_owned(),
        version: info.version.clone(),
        confinement: info.confinement,
    };
    let reexec = std::env::var("SNAP_REEXEC").unwrap_or_default();
    let mut env = basic_env(
        &run,
        &BasicInputs {
            uid: rustix::process::getuid().as_raw(),
            euid: rustix::process::geteuid().as_raw(),
            arch: dpkg_arch(),
            snap_reexec: &reexec,
            save_data_exists: Path::new(&snapcell_core::dirs::Dirs::HOST.snap_save(snap_name))
                .is_dir(),
            component: None,
        },
    );
    let home = std::env::var("HOME").ok().filter(|h| h.starts_with('/'));
    let user = user_env(
        &run,
        &UserInputs {
            home: home.as_deref(),
            euid: rustix::process::geteuid().as_raw(),
            ..UserInputs::default()
        },
    );
    for key in ["SNAP_USER_DATA", "SNAP_USER_COMMON"] {
        if let Some(dir) = user.get(key) {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        }
    }
    // snap run's ~/snap/NAME/current -> REVISION.
    if let Some(home) = &home
        && user.contains_key("SNAP_USER_DATA")
    {
        crate::userdata::point_user_current(Path::new(home), snap_name, revision)?;
    }
    env.extend(user);

    let mut full: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k.to_str().is_none_or(|k| !env.contains_key(k)))
        .collect();
    full.extend(env.into_iter().map(|(k, v)| (k.into(), v.into())));

    let mut argv: Vec<OsString> = Vec::new();
    if info.confinement == Confinement::Classic {
        argv.push("--classic".into());
    }
    if !base.is_empty() {
        argv.push("--base".into());
        argv.push(base.into());
    }
    match target {
        Target::App { app, shell } => {
            argv.push(format!("snap.{snap_name}.{app}").into());
            argv.push(SNAP_EXEC.into());
            if shell {
                argv.push("--command=shell".into());
            }
            argv.push(format!("{snap_name}.{app}").into());
        }
        Target::Hook(hook) => {
            argv.push(format!("snap.{snap_name}.hook.{hook}").into());
            argv.push(SNAP_EXEC.into());
            argv.push(format!("--hook={hook}").into());
            argv.push(snap_name.into());
        }
    }
    argv.extend(args.iter().cloned());
    Ok(Launch {
        program: helpers::helper("snap-confine")?,
        args: argv,
        env: full,
    })
}

/// How to run the apps of `info` (what `snapcell try` says at its end):
/// each app's `/snap/bin` command and the `snapcell run` that does the same.
pub fn how_to_run(info: &SnapInfo) -> String {
    if info.apps.is_empty() {
        return format!("snap {:?} has no apps to run\n", info.name);
    }
    let mut out = String::from("Run its apps with:\n");
    let width = info
        .apps
        .keys()
        .map(|a| command_name(&info.name, a).len())
        .max()
        .unwrap_or(0)
        + SNAP_BIN_DIR.len()
        + 1;
    // The app named like the snap first (the snap's own command).
    let mut apps: Vec<&String> = info.apps.keys().collect();
    apps.sort_by_key(|a| **a != info.name);
    for app in apps {
        let cmd = command_name(&info.name, app);
        let bin = format!("{SNAP_BIN_DIR}/{cmd}");
        out.push_str(&format!("  {bin:<width$}   (or: snapcell run {cmd})\n"));
    }
    out
}

/// Run hook `hook` of `info` at `revision`, if the snap has it, and wait;
/// a hook that fails is an error with its output.
pub fn run_hook(info: &SnapInfo, revision: &str, base: &str, hook: &str) -> Result<(), String> {
    if !info.hooks.contains_key(hook) {
        return Ok(());
    }
    let l = launch_in(info, revision, base, Target::Hook(hook), &[])?;
    let out = std::process::Command::new(&l.program)
        .args(&l.args)
        .env_clear()
        .envs(l.env)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", l.program.display()))?;
    if !out.status.success() {
        let mut said = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
        if said.is_empty() {
            said = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
        }
        return Err(format!(
            "run hook {hook:?} of snap {:?}: {} ({said})",
            info.name, out.status
        ));
    }
    Ok(())
}

/// The lines `snapcell run --trace` reads from snap-confine and snap-exec
/// under `SNAPD_DEBUG=1`: snap-confine's `DEBUG: stage NAME: X ms (total Y
/// ms)` after each stage of its launch, its `DEBUG: mount namespace:
/// OUTCOME`, and snap-exec's `DEBUG: snap-exec: executing PROGRAM (at
/// UNIX time S)` just before it executes the app.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub stages: Vec<Stage>,
    /// `Joined`, `Built` or `Classic`.
    pub namespace: Option<String>,
    /// When snap-exec executed the app (UNIX time, seconds).
    pub exec_at: Option<f64>,
    /// The app's program.
    pub program: Option<String>,
}

/// One stage of snap-confine's launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    pub ms: f64,
    /// Since snap-confine started its log.
    pub total_ms: f64,
}

/// What each of snap-confine's stages belongs to, in the words of
/// `snapcell run --trace`: lock, join or build (the namespace), profile
/// (the mount profile applied), confinement, exec.
pub fn stage_group(name: &str) -> &'static str {
    match name {
        "validate" => "validate",
        "snap lock" => "lock",
        "inspect preserved namespace" | "mount namespace" | "per-user mount namespace" => {
            "join or build"
        }
        "host setup"
        | "prepare construction"
        | "unshare"
        | "replicate base"
        | "host directories"
        | "pivot_root"
        | "private /tmp and devpts"
        | "preserve" => "build",
        "mount profile" => "profile",
        "device cgroup" | "file confinement" | "confine" => "confinement",
        _ => "other",
    }
}

impl Trace {
    /// Take in one line of standard error; false when it is not one of
    /// the lines above (the caller passes it on).
    pub fn read_line(&mut self, line: &str) -> bool {
        let Some(rest) = line.strip_prefix("DEBUG: ") else {
            return false;
        };
        if let Some(stage) = rest.strip_prefix("stage ") {
            // NAME: X ms (total Y ms); NAME may hold spaces and slashes.
            let Some((name, times)) = stage.rsplit_once(": ") else {
                return false;
            };
            let number = |s: &str| s.trim().parse::<f64>().ok();
            let parsed = times
                .strip_suffix(" ms)")
                .and_then(|t| t.split_once(" ms (total "))
                .and_then(|(ms, total)| Some((number(ms)?, number(total)?)));
            let Some((ms, total_ms)) = parsed else {
                return false;
            };
            self.stages.push(Stage {
                name: name.to_owned(),
                ms,
                total_ms,
            });
            return true;
        }
        if let Some(outcome) = rest.strip_prefix("mount namespace: ") {
            self.namespace = Some(outcome.trim().to_owned());
            return true;
        }
        if let Some(exec) = rest.strip_prefix("snap-exec: executing ") {
            if let Some((program, at)) = exec.rsplit_once(" (at UNIX time ") {
                self.program = Some(program.to_owned());
                self.exec_at = at.strip_suffix(')').and_then(|t| t.parse().ok());
            }
            return true;
        }
        // snap-confine's other debug lines: only with SNAPD_DEBUG itself.
        true
    }

    /// The table `--trace` prints; `spawned_at` is when snapcell started
    /// snap-confine (UNIX time, seconds).
    pub fn render(&self, target: &str, spawned_at: f64) -> String {
        let mut out = format!(
            "trace of {target}: namespace {}\n",
            match self.namespace.as_deref() {
                Some("Joined") => "joined (preserved)",
                Some("Built") => "built",
                Some("Classic") => "none (classic)",
                Some(other) => other,
                None => "unknown",
            }
        );
        out.push_str(&format!(
            "  {:<14} {:<30} {:>9} {:>9}\n",
            "group", "stage", "ms", "total ms"
        ));
        for s in &self.stages {
            out.push_str(&format!(
                "  {:<14} {:<30} {:>9.3} {:>9.3}\n",
                stage_group(&s.name),
                s.name,
                s.ms,
                s.total_ms
            ));
        }
        let confine_ms = self.stages.last().map_or(0.0, |s| s.total_ms);
        match self.exec_at {
            Some(at) => {
                let total = (at - spawned_at) * 1e3;
                out.push_str(&format!(
                    "  {:<14} {:<30} {:>9.3} {:>9.3}\n",
                    "exec",
                    "snap-exec, to the app's exec",
                    total - confine_ms,
                    total
                ));
                out.push_str(&format!(
                    "  (exec: snap-confine's own start and exec, and snap-exec until it executed {})\n",
                    self.program.as_deref().unwrap_or("the app")
                ));
            }
            None => {
                out.push_str("  exec: snap-exec did not report (it failed, or is not snapcell's)\n")
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_is_read_from_snapd_debug_lines() {
        let mut t = Trace::default();
        for line in [
            "DEBUG: stage validate: 0.120 ms (total 0.120 ms)",
            "DEBUG: stage snap lock: 0.030 ms (total 0.150 ms)",
            "DEBUG: something else",
            "DEBUG: stage private /tmp and devpts: 1.000 ms (total 1.150 ms)",
            "DEBUG: mount namespace: Built",
            "DEBUG: stage confine: 0.850 ms (total 2.000 ms)",
            "DEBUG: snap-exec: executing /snap/a/x1/bin/a (at UNIX time 100.005)",
        ] {
            assert!(t.read_line(line), "{line}");
        }
        assert!(!t.read_line("the app's own line"));
        assert!(!t.read_line("DEBUG: stage broken"));
        assert_eq!(t.stages.len(), 4);
        assert_eq!(t.stages[2].name, "private /tmp and devpts");
        assert_eq!(stage_group(&t.stages[2].name), "build");
        assert_eq!(t.namespace.as_deref(), Some("Built"));
        assert_eq!(t.exec_at, Some(100.005));
        let text = t.render("a.a", 100.0);
        assert!(
            text.starts_with("trace of a.a: namespace built\n"),
            "{text}"
        );
        assert!(
            text.contains("  lock           snap lock                          0.030     0.150\n"),
            "{text}"
        );
        assert!(
            text.contains("  exec           snap-exec, to the app's exec       3.000     5.000\n"),
            "{text}"
        );
    }

    #[test]
    fn how_to_run_names_the_snaps_own_app_first() {
        let info = SnapInfo::parse(
            "name: hello\nversion: 1\napps:\n  env:\n    command: e\n  hello:\n    command: h\n",
        )
        .unwrap();
        assert_eq!(
            how_to_run(&info),
            "Run its apps with:\n  /snap/bin/hello       (or: snapcell run hello)\n  \
             /snap/bin/hello.env   (or: snapcell run hello.env)\n"
        );
    }
}
