//! The per-user mount namespace (spec §6.4 step 9, research §5): for a
//! caller other than root, on each launch, after the snap's namespace is
//! entered or built and under the snap lock.
//!
//! * `/run/snapd/ns/INSTANCE.UID.mnt` holds a preserved namespace (nsfs):
//!   it is entered, with no staleness check (snap-discard-ns removes it
//!   with the snap's namespace).
//! * Otherwise, if `/var/lib/snapd/mount/snap.INSTANCE.user-fstab` exists:
//!   `unshare(CLONE_NEWNS)`, `/` made `rslave`, and the user-fstab
//!   (`$XDG_RUNTIME_DIR` as `/run/user/UID`, `$HOME` from `SNAP_REAL_HOME`)
//!   applied with snap-update-ns's procedure in the user context
//!   ([`UserProfileUpdateContext::for_new_namespace`]): applied over
//!   nothing, never saved.
//! * The new namespace is preserved as `INSTANCE.UID.mnt` only when
//!   `/var/lib/snapd/features/per-user-mount-namespace` exists (snapd
//!   2.57's experimental feature, off by default); snapd 2.76 and later
//!   removed the feature and never write that file, so the namespace is
//!   then ephemeral, as theirs.
//!
//! Where we differ: snapd runs `snap-update-ns --user-mounts` as the user
//! (keeping `CAP_SYS_ADMIN`, `CAP_DAC_OVERRIDE` and `CAP_CHOWN`); we apply
//! the same profile in-process, with the user context's write restrictions
//! (only the user's real home is writable outside the snap's places, made
//! directories are the user's). The user-fstab is read in the host's
//! namespace, before the snap's is entered. Without a user-fstab snapd
//! still unshares (and preserves, with the feature) an identical copy of
//! the snap's namespace; we stay in the snap's namespace.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags, openat};
use rustix::io::Errno;
use rustix::mount::{MountPropagationFlags, mount_change};
use rustix::thread::{LinkNameSpaceType, UnshareFlags, move_into_link_name_space};
use snapcell_core::dirs::{Dirs, FEATURES_DIR, NS_DIR, preserved_user_ns_name};
use snapcell_core::profile::Profile;
use snapcell_exec::{ProfileUpdateError, UserProfileUpdateContext, execute_mount_profile_update};
use snapcell_sys::debug;
use snapcell_sys::fork::unshare;
use snapcell_sys::live::LiveSystem;
use snapcell_sys::nsid::owning_user_ns;
use snapcell_sys::profile_io::load_profile;
use snapcell_sys::safefs::open_dir_errno;

use crate::error::{Error, Result, SysContext};
use crate::helper::{
    NSFS_MAGIC, PROC_SUPER_MAGIC, open_own_mount_ns, preserve_own_mount_ns_as,
    unshare_preservable_mount_ns_from,
};

/// snapd 2.57's feature flag file name.
pub const PER_USER_MOUNT_NAMESPACE_FEATURE: &str = "per-user-mount-namespace";

/// What the per-user step needs, read before the snap's namespace is
/// entered.
#[derive(Clone, Debug)]
pub struct UserMounts {
    pub uid: u32,
    pub gid: u32,
    /// The user-fstab, unexpanded; `None` when there is no file.
    pub desired: Option<Profile>,
    /// Preserve a new per-user namespace (2.57's feature flag is on).
    pub preserve: bool,
    /// `SNAP_REAL_HOME`.
    pub real_home: Option<String>,
}

/// How the per-user step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserNsOutcome {
    /// A preserved per-user namespace was entered.
    Joined,
    /// A new one was made and the user-fstab applied in it (and preserved
    /// when asked).
    Built { preserved: bool },
    /// No user-fstab: the snap's namespace is the user's.
    Nothing,
}

/// Read what the per-user step needs for the calling user (`None` for
/// root, who gets no per-user namespace).
pub fn prepare(instance: &str, env: &[(OsString, OsString)]) -> Result<Option<UserMounts>> {
    let uid = rustix::process::getuid().as_raw();
    if uid == 0 {
        return Ok(None);
    }
    let path = Dirs::HOST.desired_user_profile(instance);
    let desired = match std::fs::symlink_metadata(&path) {
        Ok(_) => Some(load_profile(Path::new(&path)).map_err(Error::from)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::sys(
                format!("cannot inspect {path}"),
                Errno::from_io_error(&e).unwrap_or(Errno::IO),
            ));
        }
    };
    let preserve = Path::new(FEATURES_DIR)
        .join(PER_USER_MOUNT_NAMESPACE_FEATURE)
        .exists();
    let real_home = env
        .iter()
        .rev()
        .find(|(k, _)| k.as_bytes() == b"SNAP_REAL_HOME")
        .and_then(|(_, v)| v.to_str())
        .map(str::to_owned);
    Ok(Some(UserMounts {
        uid,
        gid: rustix::process::getgid().as_raw(),
        desired,
        preserve,
        real_home,
    }))
}

/// In the snap's namespace (the caller holds the snap lock; `host_ns` is
/// the host's): enter the user's preserved namespace or make one.
pub fn enter_user_namespace(
    instance: &str,
    user: &UserMounts,
    host_ns: &OwnedFd,
) -> Result<UserNsOutcome> {
    let name = preserved_user_ns_name(instance, user.uid);
    let snap_ns = open_own_mount_ns()?;
    // /run/snapd/ns is a private mount of the host: look there.
    move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot return to the host mount namespace".to_owned())?;
    let looked = (|| -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
        let ns_dir = match open_dir_errno(NS_DIR) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok((None, None)),
            Err(e) => return Err(Error::sys(format!("cannot open directory {NS_DIR}"), e)),
        };
        let file = match openat(
            &ns_dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                let magic = rustix::fs::fstatfs(&fd)
                    .or_die(|| format!("cannot inspect {NS_DIR}/{name}"))?
                    .f_type as i64;
                (magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC).then_some(fd)
            }
            Err(Errno::NOENT) => None,
            Err(e) => return Err(Error::sys(format!("cannot open {NS_DIR}/{name}"), e)),
        };
        Ok((Some(ns_dir), file))
    })();
    move_into_link_name_space(snap_ns.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot enter the snap's mount namespace again".to_owned())?;
    let (ns_dir, preserved) = looked?;
    if let Some(fd) = preserved {
        // As for the snap's: never one owned by another user namespace.
        let owner = owning_user_ns(fd.as_fd())
            .or_die(|| format!("cannot inspect the owner of {NS_DIR}/{name}"))?;
        let owner =
            rustix::fs::fstat(&owner).or_die(|| "cannot inspect a user namespace".to_owned())?;
        let ours = rustix::fs::stat("/proc/self/ns/user")
            .or_die(|| "cannot inspect /proc/self/ns/user".to_owned())?;
        if (owner.st_dev, owner.st_ino) != (ours.st_dev, ours.st_ino) {
            return Err(Error::new(format!(
                "cannot use {NS_DIR}/{name}: the namespace belongs to another user namespace"
            )));
        }
        debug!("joining the preserved per-user mount namespace {NS_DIR}/{name}");
        move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Mount))
            .or_die(|| format!("cannot join preserved per-user mount namespace {name}"))?;
        return Ok(UserNsOutcome::Joined);
    }
    let Some(desired) = &user.desired else {
        debug!("no user mount profile for snap {instance}");
        return Ok(UserNsOutcome::Nothing);
    };
    let preserve = user.preserve && ns_dir.is_some();
    debug!("making a per-user mount namespace for user {}", user.uid);
    if preserve {
        unshare_preservable_mount_ns_from(host_ns, &snap_ns)?;
    } else {
        unshare(UnshareFlags::NEWNS).or_die(|| "cannot unshare the mount namespace".to_owned())?;
    }
    mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .or_die(|| "cannot change propagation of / to rslave".to_owned())?;
    apply_user_mounts(instance, user, desired)?;
    if let (true, Some(ns_dir)) = (preserve, &ns_dir) {
        preserve_own_mount_ns_as(&name, host_ns, ns_dir)?;
    }
    Ok(UserNsOutcome::Built {
        preserved: preserve,
    })
}

/// The user-fstab, expanded for the user, applied in the calling
/// process's (new) namespace; a failed change is as snap-update-ns's.
fn apply_user_mounts(instance: &str, user: &UserMounts, desired: &Profile) -> Result<()> {
    let mut ctx = UserProfileUpdateContext::for_new_namespace(
        instance,
        user.uid,
        user.gid,
        user.real_home.clone(),
        desired.clone(),
    );
    match execute_mount_profile_update(&mut ctx, LiveSystem::new) {
        Ok(_) => Ok(()),
        Err(ProfileUpdateError::System(e)) => Err(Error::sys(
            "cannot prepare to apply the user mount profile",
            e,
        )),
        Err(e) => Err(Error::new(format!(
            "cannot apply the user mount profile {}: {e}",
            Dirs::HOST.desired_user_profile(instance)
        ))),
    }
}
