//! One update of a snap's mount namespace, whoever asks for it (snapd's
//! `cmd/snap-update-ns/update.go`).
//!
//! [`execute_mount_profile_update`] is snapd's `executeMountProfileUpdate`:
//! lock, enter the namespace, load the desired and the current profile,
//! [`apply`] the one over the other, save the new current profile. What
//! differs between callers is a [`MountProfileUpdateContext`]:
//!
//! * [`SystemProfileUpdateContext`]: the snap's own namespace.
//!   snap-update-ns (`[--from-snap-confine] INSTANCE`) takes the snap lock
//!   (or, from snap-confine, checks that it is held), freezes the snap's
//!   processes (thawed when the update ends, well or not), enters
//!   `/run/snapd/ns/INSTANCE.mnt`, applies
//!   `/var/lib/snapd/mount/snap.INSTANCE.fstab` over
//!   `/run/snapd/ns/snap.INSTANCE.fstab` and saves the latter. snap-confine
//!   applies the profile in-process in the namespace it has just built
//!   ([`SystemProfileUpdateContext::for_new_namespace`]): it holds the lock,
//!   is in the namespace already, and gives both profiles.
//! * [`UserProfileUpdateContext`]: the per-user mounts (`--user-mounts`,
//!   `-u UID`): no lock, no freeze, `/run/snapd/ns/INSTANCE.UID.mnt` entered,
//!   `snap.INSTANCE.user-fstab` expanded for the user, applied over nothing,
//!   never saved.
//!
//! Where snapd enters the namespace in C before its Go code runs (so before
//! the lock), snap-update-ns enters it after taking the lock: the lock files
//! are the host's.

use std::path::Path;

use snapcell_core::dirs::Dirs;
use snapcell_core::expand::expand_user_entries;
use snapcell_core::plan::unchanged_update;
use snapcell_core::profile::Profile;
use snapcell_sys::cgroup::tracking::{Frozen, freeze_snap_processes};
use snapcell_sys::debug;
use snapcell_sys::ns::{NsError, enter_mount_namespace};
use snapcell_sys::profile_io::{
    load_profile, parse_profile_text, read_profile_text, save_profile, save_profile_text,
};
use snapcell_sys::snaplock::{Lock, lock_snap, verify_snap_locked};
use snapcell_sys::system::{Errno, SysResult, System};

use crate::assumptions::Assumptions;
use crate::executor::{Outcome, UpdateError, apply};

/// What differs between one kind of update and another (snapd's
/// `MountProfileUpdateContext`). A failed step returns its message, which
/// [`execute_mount_profile_update`] passes on as it is.
pub trait MountProfileUpdateContext {
    /// The snap instance whose namespace is updated.
    fn instance_name(&self) -> &str;

    /// Keep others from changing the namespace until the returned lock is
    /// dropped (`None`: nothing to hold).
    fn lock(&mut self) -> Result<Option<Lock>, String>;

    /// Freeze the snap's processes while the namespace changes (called
    /// under the lock); they are thawed when the returned value is dropped,
    /// before the lock is. Default: nothing frozen.
    fn freeze(&mut self) -> Result<Option<Frozen>, String> {
        Ok(None)
    }

    /// Enter the namespace to update; `Ok(false)` when there is none, and
    /// so nothing to update.
    fn enter_namespace(&mut self) -> Result<bool, String>;

    /// The write restrictions of this update; `sys` is the namespace's.
    fn assumptions(&mut self, sys: &mut dyn System) -> Assumptions;

    /// The profile the namespace should have.
    fn load_desired_profile(&mut self) -> Result<Profile, String>;

    /// The profile the namespace has.
    fn load_current_profile(&mut self) -> Result<Profile, String>;

    /// Record the profile the namespace now has.
    fn save_current_profile(&mut self, profile: &Profile) -> Result<(), String>;

    /// Called in the namespace before the profiles are loaded: when the
    /// profiles' texts alone show that the update would keep every entry
    /// and mount nothing ([`unchanged_update`]), record the new current
    /// profile as the update would and return how many entries were kept;
    /// `Ok(None)` for the full update. Default: always the full update.
    fn save_if_unchanged(&mut self) -> Result<Option<usize>, String> {
        Ok(None)
    }
}

/// How an update ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Updated {
    /// There is no namespace to update (none preserved): nothing done.
    NoNamespace,
    /// The namespace now has the desired profile, as far as it could.
    Done(Outcome),
    /// The profiles asked for no change ([`MountProfileUpdateContext::save_if_unchanged`]):
    /// `kept` entries kept, the current profile saved, nothing else done.
    Unchanged { kept: usize },
}

/// Why an update failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileUpdateError {
    /// A step of the context: the lock, the namespace, loading or saving a
    /// profile (its message).
    #[error("{0}")]
    Context(String),
    /// The namespace's file system could not be opened.
    #[error("cannot open /: {0}")]
    System(Errno),
    /// Applying the desired profile was aborted, and rolled back.
    #[error("{0}")]
    Apply(UpdateError),
}

/// Update the namespace of `ctx` (snapd's `executeMountProfileUpdate`):
/// lock, freeze the snap's processes, enter, load the desired then the current profile, open the
/// namespace's system with `open_system` (only now: it must be opened from
/// inside the namespace), apply, print the warnings (`WARNING: ...` on
/// stderr, as snapd logs them), save.
pub fn execute_mount_profile_update<S: System>(
    ctx: &mut dyn MountProfileUpdateContext,
    open_system: impl FnOnce() -> SysResult<S>,
) -> Result<Updated, ProfileUpdateError> {
    let _lock = ctx.lock().map_err(ProfileUpdateError::Context)?;
    // Dropped before the lock: thawed on every way out, then unlocked.
    let _frozen = ctx.freeze().map_err(ProfileUpdateError::Context)?;
    if !ctx.enter_namespace().map_err(ProfileUpdateError::Context)? {
        debug!(
            "no preserved mount namespace for snap {}, nothing to update",
            ctx.instance_name()
        );
        return Ok(Updated::NoNamespace);
    }
    if let Some(kept) = ctx
        .save_if_unchanged()
        .map_err(ProfileUpdateError::Context)?
    {
        debug!("the mount profiles ask for no change: {kept} entries kept");
        return Ok(Updated::Unchanged { kept });
    }
    let desired = ctx
        .load_desired_profile()
        .map_err(ProfileUpdateError::Context)?;
    let current = ctx
        .load_current_profile()
        .map_err(ProfileUpdateError::Context)?;
    let mut sys = open_system().map_err(ProfileUpdateError::System)?;
    let assumptions = ctx.assumptions(&mut sys);
    let outcome =
        apply(&mut sys, &current, &desired, assumptions).map_err(ProfileUpdateError::Apply)?;
    for w in &outcome.warnings {
        eprintln!("WARNING: {w}");
    }
    debug!("performed {} changes", outcome.changes.len());
    ctx.save_current_profile(&outcome.profile)
        .map_err(ProfileUpdateError::Context)?;
    Ok(Updated::Done(outcome))
}

/// Enter the namespace preserved at `ns_file`; `Ok(false)` when there is
/// none (missing, a plain file, or `EINVAL` from setns), which snapd treats
/// as nothing to update.
fn enter(ns_file: &str) -> Result<bool, String> {
    match enter_mount_namespace(Path::new(ns_file)) {
        Ok(()) => Ok(true),
        Err(NsError::NotPreserved(_)) => Ok(false),
        Err(NsError::Setns { err, .. }) if err == Errno::INVAL => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Whose the snap lock is during a system update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Locking {
    /// Take it (snap-update-ns).
    Take,
    /// Check that someone holds it (snap-update-ns --from-snap-confine).
    VerifyHeld,
    /// The caller holds it (snap-confine, in-process).
    HeldByCaller,
}

/// The snap's own namespace (snapd's `SystemProfileUpdateContext`).
#[derive(Clone, Debug)]
pub struct SystemProfileUpdateContext {
    instance: String,
    locking: Locking,
    /// Enter `/run/snapd/ns/INSTANCE.mnt` (otherwise: already in it).
    enter: bool,
    /// The profiles as the caller gives them, instead of reading them.
    given: Option<(Profile, Profile)>,
    /// The desired and the current profile's texts, read by
    /// `save_if_unchanged` and parsed by the loads that follow it.
    texts: Option<(String, String)>,
}

impl SystemProfileUpdateContext {
    /// snap-update-ns's: `from_snap_confine` checks that the caller holds
    /// the snap lock instead of taking it; `enter` enters the preserved
    /// namespace first. The profiles are read from and saved to the files.
    pub fn new(instance: &str, from_snap_confine: bool, enter: bool) -> SystemProfileUpdateContext {
        SystemProfileUpdateContext {
            instance: instance.to_owned(),
            locking: if from_snap_confine {
                Locking::VerifyHeld
            } else {
                Locking::Take
            },
            enter,
            given: None,
            texts: None,
        }
    }

    /// snap-confine's, in the namespace it has just built and holding the
    /// snap lock: `desired` is what it read before `unshare` (policy is
    /// never read through a view the sandbox could have shaped), `current`
    /// the rootfs entry its bootstrap wrote. The new current profile is
    /// saved as snap-update-ns saves it.
    pub fn for_new_namespace(
        instance: &str,
        current: Profile,
        desired: Profile,
    ) -> SystemProfileUpdateContext {
        SystemProfileUpdateContext {
            instance: instance.to_owned(),
            locking: Locking::HeldByCaller,
            enter: false,
            given: Some((current, desired)),
            texts: None,
        }
    }

    fn desired_path(&self) -> String {
        Dirs::HOST.desired_profile(&self.instance)
    }

    fn current_path(&self) -> String {
        Dirs::HOST.current_profile(&self.instance)
    }
}

impl MountProfileUpdateContext for SystemProfileUpdateContext {
    fn instance_name(&self) -> &str {
        &self.instance
    }

    fn lock(&mut self) -> Result<Option<Lock>, String> {
        let instance = &self.instance;
        match self.locking {
            Locking::Take => lock_snap(instance).map(Some).map_err(|e| e.to_string()),
            Locking::VerifyHeld => verify_snap_locked(instance).map(|()| None).map_err(|_| {
                format!("mount namespace of snap {instance:?} is not locked but --from-snap-confine was used")
            }),
            Locking::HeldByCaller => Ok(None),
        }
    }

    /// snap-update-ns's (with or without `--from-snap-confine`, as snapd's
    /// `Lock`): every process of the snap but the caller's group, for at
    /// most [`FREEZE_TIMEOUT`](snapcell_sys::cgroup::tracking::FREEZE_TIMEOUT).
    /// snap-confine's in-process update of a namespace it has just built
    /// freezes nothing: no process of the snap is in that namespace yet.
    fn freeze(&mut self) -> Result<Option<Frozen>, String> {
        match self.locking {
            Locking::Take | Locking::VerifyHeld => freeze_snap_processes(&self.instance)
                .map(Some)
                .map_err(|e| e.to_string()),
            Locking::HeldByCaller => Ok(None),
        }
    }

    fn enter_namespace(&mut self) -> Result<bool, String> {
        if !self.enter {
            return Ok(true);
        }
        enter(&Dirs::HOST.preserved_ns(&self.instance))
    }

    /// snapd's: `/tmp`, `/var/snap`, `/snap/INSTANCE` and the others of
    /// [`Assumptions::for_system`].
    fn assumptions(&mut self, _sys: &mut dyn System) -> Assumptions {
        Assumptions::for_system(&self.instance)
    }

    fn load_desired_profile(&mut self) -> Result<Profile, String> {
        let path = self.desired_path();
        match (&self.given, &self.texts) {
            (Some((_, desired)), _) => Ok(desired.clone()),
            (None, Some((text, _))) => parse_profile_text(Path::new(&path), text),
            (None, None) => load_profile(Path::new(&path)),
        }
        .map_err(|e| e.to_string())
    }

    fn load_current_profile(&mut self) -> Result<Profile, String> {
        let path = self.current_path();
        let loaded = match (&self.given, &self.texts) {
            (Some((current, _)), _) => Ok(current.clone()),
            (None, Some((_, text))) => parse_profile_text(Path::new(&path), text),
            (None, None) => load_profile(Path::new(&path)),
        };
        self.texts = None;
        loaded.map_err(|e| e.to_string())
    }

    /// Atomically (snapd's format, byte for byte).
    fn save_current_profile(&mut self, profile: &Profile) -> Result<(), String> {
        save_profile(Path::new(&self.current_path()), profile).map_err(|e| e.to_string())
    }

    /// snap-update-ns's, reading both files once (the loads parse what was
    /// read here); a file that cannot be read is left to the loads to
    /// report, in their order.
    fn save_if_unchanged(&mut self) -> Result<Option<usize>, String> {
        if self.given.is_some() {
            return Ok(None);
        }
        let (Ok(desired), Ok(current)) = (
            read_profile_text(Path::new(&self.desired_path())),
            read_profile_text(Path::new(&self.current_path())),
        ) else {
            return Ok(None);
        };
        if let Some(unchanged) = unchanged_update(&current, &desired) {
            save_profile_text(Path::new(&self.current_path()), &unchanged.text)
                .map_err(|e| e.to_string())?;
            return Ok(Some(unchanged.kept));
        }
        self.texts = Some((desired, current));
        Ok(None)
    }
}

/// The per-user mounts of one user (snapd's `UserProfileUpdateContext`).
#[derive(Clone, Debug)]
pub struct UserProfileUpdateContext {
    instance: String,
    /// Enter `/run/snapd/ns/INSTANCE.UID.mnt` (otherwise: the caller's
    /// namespace, which snap-confine made for this user).
    enter: bool,
    /// The `UID` of the preserved per-user namespace's name (`-u UID`).
    ns_uid: u32,
    /// The user the profile is expanded for and who owns the directories
    /// of ensure-dir entries.
    uid: u32,
    gid: u32,
    /// `$SNAP_REAL_HOME`, if set and not empty.
    real_home: Option<String>,
    /// The user-fstab as the caller read it, instead of reading it.
    given: Option<Profile>,
}

impl UserProfileUpdateContext {
    /// snap-update-ns's `--user-mounts` / `-u NS_UID` for the calling user
    /// `uid`:`gid` whose real home directory is `real_home`.
    pub fn new(
        instance: &str,
        enter: bool,
        ns_uid: u32,
        uid: u32,
        gid: u32,
        real_home: Option<String>,
    ) -> UserProfileUpdateContext {
        UserProfileUpdateContext {
            instance: instance.to_owned(),
            enter,
            ns_uid,
            uid,
            gid,
            real_home: real_home.filter(|h| !h.is_empty()),
            given: None,
        }
    }

    /// snap-confine's, in the per-user namespace it has just made for the
    /// calling user: `desired` is the user-fstab it read (unexpanded)
    /// before entering the snap's namespace.
    pub fn for_new_namespace(
        instance: &str,
        uid: u32,
        gid: u32,
        real_home: Option<String>,
        desired: Profile,
    ) -> UserProfileUpdateContext {
        UserProfileUpdateContext {
            given: Some(desired),
            ..UserProfileUpdateContext::new(instance, false, uid, uid, gid, real_home)
        }
    }
}

impl MountProfileUpdateContext for UserProfileUpdateContext {
    fn instance_name(&self) -> &str {
        &self.instance
    }

    /// None (snapd's: there are no persistent per-user namespaces to guard).
    fn lock(&mut self) -> Result<Option<Lock>, String> {
        Ok(None)
    }

    fn enter_namespace(&mut self) -> Result<bool, String> {
        if !self.enter {
            return Ok(true);
        }
        enter(&Dirs::HOST.preserved_user_ns(&self.instance, self.ns_uid))
    }

    /// Only the real home directory is unrestricted
    /// ([`Assumptions::for_user`]).
    fn assumptions(&mut self, sys: &mut dyn System) -> Assumptions {
        let home = self.real_home.as_deref().unwrap_or("");
        Assumptions::for_user(sys, home, self.uid, self.gid)
    }

    /// `/var/lib/snapd/mount/snap.INSTANCE.user-fstab`, with
    /// `$XDG_RUNTIME_DIR` and `$HOME` expanded for the user.
    fn load_desired_profile(&mut self) -> Result<Profile, String> {
        let mut desired = match &self.given {
            Some(given) => given.clone(),
            None => {
                let path = Dirs::HOST.desired_user_profile(&self.instance);
                load_profile(Path::new(&path)).map_err(|e| e.to_string())?
            }
        };
        expand_user_entries(&mut desired.entries, self.uid, self.real_home.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(desired)
    }

    /// Empty: the per-user current profile is never kept (spec §3.2).
    fn load_current_profile(&mut self) -> Result<Profile, String> {
        Ok(Profile::default())
    }

    /// Nothing is saved.
    fn save_current_profile(&mut self, _profile: &Profile) -> Result<(), String> {
        Ok(())
    }
}
