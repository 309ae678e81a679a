//! Applying the snap's mount profile in a freshly built namespace (spec
//! §6.5 step 13), in-process, with snap-update-ns's update procedure
//! ([`snapcell_exec::update`]) in the system context snap-confine gives it
//! ([`SystemProfileUpdateContext::for_new_namespace`]).
//!
//! The desired profile (`/var/lib/snapd/mount/snap.INSTANCE.fstab`) is read
//! in the host namespace before `unshare` (research §3.2(c): policy is never
//! read through a view the sandbox could have shaped); the current profile
//! is the rootfs line the bootstrap wrote. The new current profile is saved
//! atomically to `/run/snapd/ns/snap.INSTANCE.fstab`.

use std::path::Path;

use snapcell_core::profile::Profile;
use snapcell_exec::{
    MountProfileUpdateContext, ProfileUpdateError, SystemProfileUpdateContext,
    execute_mount_profile_update,
};
use snapcell_sys::debug;
use snapcell_sys::live::LiveSystem;
use snapcell_sys::profile_io::load_profile;

use crate::error::{Error, Result};
use snapcell_core::dirs::Dirs;

/// Read the desired mount profile (missing file: empty profile).
pub fn load_desired(instance: &str) -> Result<Profile> {
    load_profile(Path::new(&Dirs::HOST.desired_profile(instance))).map_err(Error::from)
}

/// Apply `desired` over the current profile `current` in the calling
/// process's (new) namespace, which snap-confine holds the snap lock of;
/// save what is now mounted as the current profile.
///
/// A failed layout or overname change aborts (the executor rolls back; the
/// construction then fails and nothing is preserved); other failed changes
/// are logged and skipped, as snapd does.
pub fn apply_mount_profile(instance: &str, current: &Profile, desired: &Profile) -> Result<()> {
    let mut ctx =
        SystemProfileUpdateContext::for_new_namespace(instance, current.clone(), desired.clone());
    if desired.entries.is_empty() {
        debug!("the mount profile of snap {instance} is empty");
        return ctx.save_current_profile(current).map_err(Error::new);
    }
    match execute_mount_profile_update(&mut ctx, LiveSystem::new) {
        Ok(_) => Ok(()),
        Err(ProfileUpdateError::System(e)) => {
            Err(Error::sys("cannot prepare to apply the mount profile", e))
        }
        Err(ProfileUpdateError::Apply(e)) => Err(Error::new(format!(
            "cannot apply the mount profile {}: {e}",
            Dirs::HOST.desired_profile(instance)
        ))),
        Err(ProfileUpdateError::Context(msg)) => Err(Error::new(msg)),
    }
}
