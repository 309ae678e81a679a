//! snapcell's helper programs (snap-confine, snap-exec, snap-seccomp,
//! snap-discard-ns): found next to the running snapcell, as snapd finds
//! its tools in its libexec directory. `SNAPCELL_LIBEXECDIR` names another
//! directory; `SNAPCELL_SNAP_CONFINE` another snap-confine.

use std::path::PathBuf;
use std::process::Command;

/// The environment variable naming the helpers' directory.
pub const LIBEXECDIR_ENV: &str = "SNAPCELL_LIBEXECDIR";
/// The environment variable naming the snap-confine to run.
pub const SNAP_CONFINE_ENV: &str = "SNAPCELL_SNAP_CONFINE";

/// The running snapcell (what `/snap/bin` links point at).
pub fn snapcell_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the snapcell executable: {e}"))
}

/// The directory holding the helpers.
pub fn libexec_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(LIBEXECDIR_ENV) {
        return Ok(dir.into());
    }
    let exe = snapcell_exe()?;
    exe.parent()
        .map(PathBuf::from)
        .ok_or_else(|| format!("cannot find the directory of {}", exe.display()))
}

/// The path of helper `name`.
pub fn helper(name: &str) -> Result<PathBuf, String> {
    if name == "snap-confine"
        && let Some(p) = std::env::var_os(SNAP_CONFINE_ENV)
    {
        return Ok(p.into());
    }
    let path = libexec_dir()?.join(name);
    if !path.is_file() {
        return Err(format!(
            "cannot find {name}: {} does not exist (set {LIBEXECDIR_ENV} to the directory of snapcell's helpers)",
            path.display()
        ));
    }
    Ok(path)
}

/// Run helper `name` with `args` and fail with its standard error.
pub fn run_helper(name: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let path = helper(name)?;
    let out = Command::new(&path)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(())
}
