//! snap-update-ns: make a snap's live mount namespace match its mount profile.
//!
//! `snap-update-ns [--from-snap-confine] [--user-mounts] [-u UID] INSTANCE`,
//! snapd's command line (spec §3.1). It enters `/run/snapd/ns/INSTANCE.mnt`
//! (unless called by snap-confine, which already built the namespace and holds
//! the lock), applies `/var/lib/snapd/mount/snap.INSTANCE.fstab` over
//! `/run/snapd/ns/snap.INSTANCE.fstab` with snapcell's executor, and saves the
//! new current profile atomically. A failed layout change rolls the whole run
//! back and leaves the saved profile as it was. The per-user mounts
//! (`--user-mounts`, `-u UID`) are applied and never saved. The procedure is
//! [`snapcell_exec::update`]'s; this is its command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use snapcell_core::args::parse_update_ns_args;
use snapcell_exec::{
    SystemProfileUpdateContext, UserProfileUpdateContext, execute_mount_profile_update,
};
use snapcell_sys::live::LiveSystem;
use snapcell_sys::log;
use snapcell_sys::system::SysResult;

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
    let instance = &args.instance_name;
    let result = if args.process_user_fstab {
        let mut ctx = UserProfileUpdateContext::new(
            instance,
            args.should_setns,
            args.uid,
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
            std::env::var("SNAP_REAL_HOME").ok(),
        );
        execute_mount_profile_update(&mut ctx, open_system)
    } else {
        let mut ctx =
            SystemProfileUpdateContext::new(instance, args.from_snap_confine, args.should_setns);
        execute_mount_profile_update(&mut ctx, open_system)
    };
    match result {
        // Also when there is no preserved namespace: nothing to do, as snapd.
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot update snap namespace: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The namespace's file system, opened from inside it.
#[cfg(not(feature = "fault-injection"))]
fn open_system() -> SysResult<LiveSystem> {
    LiveSystem::new()
}

/// Test builds only (tests/faults.rs): `SNAPCELL_FAULT_AT=K` fails the K-th
/// mutating call.
#[cfg(feature = "fault-injection")]
fn open_system() -> SysResult<snapcell_exec::faulty::FaultySystem<LiveSystem>> {
    LiveSystem::new().map(snapcell_exec::faulty::FaultySystem::from_env)
}
