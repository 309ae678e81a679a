//! snap-update-ns: make a snap's live mount namespace match its mount profile.
//!
//! `snap-update-ns [--from-snap-confine] [--user-mounts] [-u UID] INSTANCE`,
//! snapd's command line (spec §3.1). It enters `/run/snapd/ns/INSTANCE.mnt`
//! (unless called by snap-confine, which already built the namespace and holds
//! the lock), applies `/var/lib/snapd/mount/snap.INSTANCE.fstab` over
//! `/run/snapd/ns/snap.INSTANCE.fstab` with snapcell's executor, and saves the
//! new current profile atomically. A failed layout change rolls the whole run
//! back and leaves the saved profile as it was.

use std::path::Path;
use std::process::ExitCode;

use snapcell_core::args::{UpdateNsArgs, parse_update_ns_args};
use snapcell_core::expand::expand_user_entries;
use snapcell_core::profile::Profile;
use snapcell_exec::{Assumptions, apply};
use snapcell_sys::debug;
use snapcell_sys::live::LiveSystem;
use snapcell_sys::log;
use snapcell_sys::ns::{NsError, enter_mount_namespace};
use snapcell_sys::profile_io::{load_profile, save_profile};

/// What a run ended with.
enum Exit {
    /// Nothing to do (no preserved namespace): exit 0 silently, as snapd.
    NoNamespace,
    Done,
}

fn main() -> ExitCode {
    // Run by root (snapd, or snap-confine before it drops privileges):
    // nothing to hold back.
    log::init(
        log::debug_enabled(std::env::var_os("SNAPD_DEBUG").as_deref()),
        false,
    );
    let argv: Vec<String> = match std::env::args_os()
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(v) => v,
        Err(_) => {
            eprintln!("cannot update snap namespace: arguments are not valid UTF-8");
            return ExitCode::FAILURE;
        }
    };
    let args = match parse_update_ns_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot update snap namespace: {e}");
            return ExitCode::FAILURE;
        }
    };
    // snapd's bootstrap clears the environment and keeps only SNAPD_DEBUG;
    // the user context also reads XDG_RUNTIME_DIR and SNAP_REAL_HOME.
    rustix::process::umask(rustix::fs::Mode::empty());
    match run(&args) {
        Ok(Exit::NoNamespace) => {
            debug!(
                "no preserved mount namespace for snap {}, nothing to update",
                args.instance_name
            );
            ExitCode::SUCCESS
        }
        Ok(Exit::Done) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("cannot update snap namespace: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &UpdateNsArgs) -> Result<Exit, String> {
    let instance = &args.instance_name;
    if args.process_user_fstab {
        return run_user(args);
    }
    // Lock first (the lock files live in the host's /run/snapd/lock, which
    // the snap's namespace shares).
    let _lock = if args.from_snap_confine {
        snapcell_sys::snaplock::verify_snap_locked(instance).map_err(|_| {
            format!("mount namespace of snap {instance:?} is not locked but --from-snap-confine was used")
        })?;
        None
    } else {
        Some(snapcell_sys::snaplock::lock_snap(instance).map_err(|e| e.to_string())?)
    };
    if args.should_setns && !enter(&format!("/run/snapd/ns/{instance}.mnt"))? {
        return Ok(Exit::NoNamespace);
    }
    let desired_path = format!("/var/lib/snapd/mount/snap.{instance}.fstab");
    let current_path = format!("/run/snapd/ns/snap.{instance}.fstab");
    let desired = load_profile(Path::new(&desired_path)).map_err(|e| e.to_string())?;
    let current = load_profile(Path::new(&current_path)).map_err(|e| e.to_string())?;
    #[cfg_attr(feature = "fault-injection", allow(unused_mut))]
    let mut sys = LiveSystem::new().map_err(|e| format!("cannot open /: {e}"))?;
    // Test builds only (tests/faults.rs): fail the K-th mutating call.
    #[cfg(feature = "fault-injection")]
    let mut sys = snapcell_exec::faulty::FaultySystem::from_env(sys);
    let outcome = apply(
        &mut sys,
        &current,
        &desired,
        Assumptions::for_system(instance),
    )
    .map_err(|e| e.to_string())?;
    for w in &outcome.warnings {
        eprintln!("WARNING: {w}");
    }
    debug!("performed {} changes", outcome.changes.len());
    save_profile(Path::new(&current_path), &outcome.profile).map_err(|e| e.to_string())?;
    Ok(Exit::Done)
}

/// Enter the namespace preserved at `ns_file`; `Ok(false)` when there is
/// none (missing, a plain file, or EINVAL from setns), which snapd treats as
/// nothing to update.
fn enter(ns_file: &str) -> Result<bool, String> {
    match enter_mount_namespace(Path::new(ns_file)) {
        Ok(()) => Ok(true),
        Err(NsError::NotPreserved(_)) => Ok(false),
        Err(NsError::Setns { err, .. }) if err == rustix::io::Errno::INVAL => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// The per-user profile: expanded, applied in the caller's namespace (snap-confine
/// made it for this user) or the preserved per-user one; never saved.
fn run_user(args: &UpdateNsArgs) -> Result<Exit, String> {
    let instance = &args.instance_name;
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    if args.should_setns && !enter(&format!("/run/snapd/ns/{instance}.{}.mnt", args.uid))? {
        return Ok(Exit::NoNamespace);
    }
    let desired_path = format!("/var/lib/snapd/mount/snap.{instance}.user-fstab");
    let mut desired = load_profile(Path::new(&desired_path)).map_err(|e| e.to_string())?;
    let home = std::env::var("SNAP_REAL_HOME")
        .ok()
        .filter(|h| !h.is_empty());
    let mut sys = LiveSystem::new().map_err(|e| format!("cannot open /: {e}"))?;
    let assumptions = Assumptions::for_user(&mut sys, home.as_deref().unwrap_or(""), uid, gid);
    expand_user_entries(&mut desired.entries, uid, home.as_deref()).map_err(|e| e.to_string())?;
    // The per-user current profile is read as empty and never written (spec §3.2).
    let outcome =
        apply(&mut sys, &Profile::default(), &desired, assumptions).map_err(|e| e.to_string())?;
    for w in &outcome.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(Exit::Done)
}
