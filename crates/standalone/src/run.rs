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
/// opens a shell in the app's sandbox instead.
pub fn launch(target: &str, args: &[OsString], shell: bool) -> Result<Launch, String> {
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
