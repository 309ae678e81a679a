//! Applying the snap's mount profile in a freshly built namespace (spec
//! §6.5 step 13), in-process, through the engine snap-update-ns uses.
//!
//! The desired profile (`/var/lib/snapd/mount/snap.INSTANCE.fstab`) is read
//! in the host namespace before `unshare` (research §3.2(c): policy is never
//! read through a view the sandbox could have shaped); the current profile
//! is the rootfs line the bootstrap wrote. The new current profile is saved
//! atomically to `/run/snapd/ns/snap.INSTANCE.fstab`.

use std::path::Path;

use snapcell_core::profile::Profile;
use snapcell_exec::{Assumptions, apply};
use snapcell_sys::live::LiveSystem;
use snapcell_sys::profile_io::{load_profile, save_profile};

use crate::error::{Error, Result};
use crate::paths::{current_profile_path, desired_profile_path};

/// Read the desired mount profile (missing file: empty profile).
pub fn load_desired(instance: &str) -> Result<Profile> {
    load_profile(Path::new(&desired_profile_path(instance))).map_err(|e| Error::new(e.to_string()))
}

/// Apply `desired` over the current profile `current` in the calling
/// process's (new) namespace; save what is now mounted as the current
/// profile.
pub fn apply_mount_profile(instance: &str, current: &Profile, desired: &Profile) -> Result<()> {
    let saved = run_executor(instance, current, desired)?;
    save_profile(Path::new(&current_profile_path(instance)), &saved)
        .map_err(|e| Error::new(e.to_string()))
}

/// Plan and perform the changes with the executor snap-update-ns uses, in
/// snap-update-ns's system context. A failed layout or overname change
/// aborts (the executor rolls back; the construction then fails and
/// nothing is preserved); other failed changes are logged and skipped, as
/// snapd does.
fn run_executor(instance: &str, current: &Profile, desired: &Profile) -> Result<Profile> {
    if desired.entries.is_empty() {
        snapcell_sys::debug!("the mount profile of snap {instance} is empty");
        return Ok(current.clone());
    }
    let mut sys = LiveSystem::new()
        .map_err(|e| Error::sys("cannot prepare to apply the mount profile", e))?;
    let outcome = apply(
        &mut sys,
        current,
        desired,
        Assumptions::for_system(instance),
    )
    .map_err(|e| {
        Error::new(format!(
            "cannot apply the mount profile {}: {e}",
            desired_profile_path(instance)
        ))
    })?;
    for warning in &outcome.warnings {
        eprintln!("WARNING: {warning}");
    }
    snapcell_sys::debug!(
        "applied {} changes of the mount profile of snap {instance}",
        outcome.changes.len()
    );
    Ok(outcome.profile)
}
