//! `snapcell run NAME.APP [ARGS]`: what `snap run` does before
//! snap-confine: find the current revision, make the user's
//! `~/snap/NAME/{REV,common}`, compute the environment (`core::snapenv`)
//! and build snap-confine's command line:
//! `snap-confine [--classic] --base BASE snap.NAME.APP /usr/lib/snapd/snap-exec [--command=shell] NAME.APP ARGS`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use snapcell_core::snap_yaml::Confinement;
use snapcell_core::snapenv::{
    BasicInputs, RunInfo, UserInputs, basic_env, split_snap_app, user_env,
};

use crate::helpers;
use crate::manage::{installed_info, read_state};

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
    let run = RunInfo {
        snap_name: snap_name.to_owned(),
        instance_key: String::new(),
        revision: rev.revision.clone(),
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
    if let Some(base) = Some(rev.base.as_str()).filter(|b| !b.is_empty()) {
        argv.push("--base".into());
        argv.push(base.into());
    }
    argv.push(format!("snap.{snap_name}.{app}").into());
    argv.push(SNAP_EXEC.into());
    if shell {
        argv.push("--command=shell".into());
    }
    argv.push(format!("{snap_name}.{app}").into());
    argv.extend(args.iter().cloned());
    Ok(Launch {
        program: helpers::helper("snap-confine")?,
        args: argv,
        env: full,
    })
}
