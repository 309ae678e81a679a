//! Preserving a new mount namespace (spec §6.5, "Capture helper") and
//! unsharing one that can actually be preserved.
//!
//! snapd forks a capture helper before it unshares, so that the helper
//! stays in the host's mount namespace and can bind-mount
//! `/proc/PARENT/ns/mnt` over `/run/snapd/ns/INSTANCE.mnt` when asked.
//! [`preserve_own_mount_ns`] makes the same bind without a helper: the
//! launcher goes back to the host namespace with `setns`, binds a
//! descriptor of the new namespace, and enters the new one again.
//! `/run/snapd/ns` is a private mount, so the binding stays in the host's
//! namespace and never shows up inside the namespace it preserves (which
//! would make a loop the kernel could never free).
//!
//! The kernel refuses that bind with `EINVAL` unless the preserved
//! namespace's id is greater than the id of the namespace the bind happens
//! in (its loop guard). Before 6.18 ids only grew; since 6.18 they come
//! from per-CPU batches, and a namespace unshared on another CPU than the
//! one the host's namespace was made on can get a smaller id (research §2,
//! "Surprise 1"): snapd 2.57 then fails ~3 cold starts in 10 inside nested
//! namespaces. [`unshare_preservable_mount_ns`] compares the ids right
//! after `unshare` and, while the new id is not greater, goes back to the
//! host namespace and unshares again on the next CPU. On kernels without
//! `NS_GET_MNTNS_ID` (before 6.8) ids only grow and one `unshare` is kept.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, openat};
use rustix::io::Errno;
use rustix::mount::{UnmountFlags, unmount};
use rustix::process::getpid;
use rustix::thread::{
    CpuSet, LinkNameSpaceType, UnshareFlags, move_into_link_name_space, sched_getaffinity,
    sched_setaffinity,
};
use snapcell_sys::debug;
use snapcell_sys::fork::unshare;
use snapcell_sys::nsid::mount_ns_id;

use crate::error::{Error, Result, SysContext, strerror};
use snapcell_core::dirs::{NS_DIR, preserved_ns_name};

/// `NSFS_MAGIC` and `PROC_SUPER_MAGIC`.
pub(crate) const NSFS_MAGIC: i64 = 0x6e73_6673;
pub(crate) const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Most `unshare` attempts before giving up on a preservable namespace.
pub const MAX_UNSHARE_ATTEMPTS: usize = 1024;

/// Preserve the calling process's mount namespace (the one just built) as
/// `/run/snapd/ns/INSTANCE.mnt`: go back to `host_ns`, bind a descriptor of
/// the new namespace over that file (`ns_dir` is `/run/snapd/ns`, opened in
/// the host namespace), and enter the new namespace again.
///
/// snapd forks a capture helper before `unshare` to make this bind from
/// the host namespace; `setns` there and back makes the same bind without
/// a process (a fork, an exit and a wait less on every cold start).
/// `setns` into a mount namespace sets the root and working directory to
/// that namespace's root, which after `pivot_root` is the new root. On
/// failure nothing stays bound and the process is left in the host
/// namespace (where the caller's clean-up happens anyway).
pub fn preserve_own_mount_ns(instance: &str, host_ns: &OwnedFd, ns_dir: &OwnedFd) -> Result<()> {
    preserve_own_mount_ns_as(&preserved_ns_name(instance), host_ns, ns_dir)
}

/// [`preserve_own_mount_ns`] under the name `name` in `ns_dir` (the
/// per-user namespace's `INSTANCE.UID.mnt`).
pub fn preserve_own_mount_ns_as(name: &str, host_ns: &OwnedFd, ns_dir: &OwnedFd) -> Result<()> {
    debug!("preserving the mount namespace as {name}");
    let name = name.to_owned();
    let own = open_own_mount_ns()?;
    move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot return to the host mount namespace".to_owned())?;
    if let Err(errno) = bind_ns_file(own.as_fd(), ns_dir, &name) {
        return Err(Error::sys(
            format!(
                "cannot preserve mount namespace of process {} as {name}",
                getpid().as_raw_nonzero()
            ),
            errno,
        ));
    }
    if let Err(errno) = move_into_link_name_space(own.as_fd(), Some(LinkNameSpaceType::Mount)) {
        // Nothing may stay preserved when the launch fails.
        let path = format!("{NS_DIR}/{name}");
        let _ = unmount(path.as_str(), UnmountFlags::DETACH | UnmountFlags::NOFOLLOW);
        let _ = rustix::fs::unlinkat(ns_dir, name.as_str(), AtFlags::empty());
        return Err(Error::sys(
            "cannot enter the new mount namespace again",
            errno,
        ));
    }
    Ok(())
}

/// In the host namespace: bind the namespace `ns` over `ns_dir/name`.
fn bind_ns_file(
    ns: BorrowedFd<'_>,
    ns_dir: &OwnedFd,
    name: &str,
) -> std::result::Result<(), Errno> {
    let file = openat(
        ns_dir,
        name,
        OFlags::CREATE | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let magic = rustix::fs::fstatfs(&file)?.f_type as i64;
    if magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC {
        // Something is preserved there already; the caller discards first,
        // under the lock, so this is not ours to cover.
        return Err(Errno::EXIST);
    }
    let src = format!("/proc/self/fd/{}", ns.as_raw_fd());
    let dst = format!("/proc/self/fd/{}", file.as_raw_fd());
    let result = rustix::mount::mount_bind(src.as_str(), dst.as_str());
    if result.is_err() {
        let _ = rustix::fs::unlinkat(ns_dir, name, AtFlags::empty());
    }
    result
}

/// Open `/proc/self/ns/mnt`.
pub fn open_own_mount_ns() -> Result<OwnedFd> {
    rustix::fs::open(
        "/proc/self/ns/mnt",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .or_die(|| "cannot open /proc/self/ns/mnt".to_owned())
}

/// `unshare(CLONE_NEWNS)` into a namespace whose id is greater than that of
/// `host_ns` (the namespace the capture helper binds from), re-unsharing on
/// the next allowed CPU while it is not. See the module documentation.
pub fn unshare_preservable_mount_ns(host_ns: &OwnedFd) -> Result<()> {
    unshare_preservable_mount_ns_from(host_ns, host_ns)
}

/// [`unshare_preservable_mount_ns`] of the namespace `from` (the caller is
/// in it; a retry goes back there), to be preserved from `host_ns`: the
/// per-user namespace, unshared from the snap's.
pub fn unshare_preservable_mount_ns_from(host_ns: &OwnedFd, from: &OwnedFd) -> Result<()> {
    let host_id = match mount_ns_id(host_ns.as_fd()) {
        Ok(id) => Some(id),
        Err(e) => {
            debug!(
                "cannot read mount namespace ids ({}); unsharing once",
                strerror(e)
            );
            None
        }
    };
    let affinity = sched_getaffinity(None).ok();
    let cpus: Vec<usize> = match &affinity {
        Some(set) => (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        None => Vec::new(),
    };
    let mut next_cpu = 0;
    let mut moved = false;
    let result = (|| {
        for attempt in 0..MAX_UNSHARE_ATTEMPTS {
            debug!("performing operation: unshare(CLONE_NEWNS)");
            unshare(UnshareFlags::NEWNS)
                .or_die(|| "cannot unshare the mount namespace".to_owned())?;
            let Some(host_id) = host_id else {
                return Ok(());
            };
            let new_id = mount_ns_id(open_own_mount_ns()?.as_fd())
                .or_die(|| "cannot read the id of the new mount namespace".to_owned())?;
            if new_id > host_id {
                if attempt > 0 {
                    debug!(
                        "mount namespace id {new_id} > {host_id} after {} attempts",
                        attempt + 1
                    );
                }
                return Ok(());
            }
            debug!(
                "new mount namespace id {new_id} is not greater than the host's {host_id}; \
                 it could not be preserved; trying again on another CPU"
            );
            move_into_link_name_space(from.as_fd(), Some(LinkNameSpaceType::Mount))
                .or_die(|| "cannot return to the host mount namespace".to_owned())?;
            if !cpus.is_empty() {
                let mut set = CpuSet::new();
                set.set(cpus[next_cpu % cpus.len()]);
                next_cpu += 1;
                if sched_setaffinity(None, &set).is_ok() {
                    moved = true;
                }
            }
        }
        Err(Error::new(format!(
            "cannot create a mount namespace that can be preserved: its id stayed below the \
             host's after {MAX_UNSHARE_ATTEMPTS} attempts"
        )))
    })();
    if moved && let Some(set) = &affinity {
        let _ = sched_setaffinity(None, set);
    }
    result
}
