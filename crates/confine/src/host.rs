//! The host side: facts about the host read from its files (where snaps
//! are mounted, which distribution, the configured home directories), and
//! preparing it before a snap's namespace is entered or built (spec §6.3
//! step 3): the host's mount namespace, shared propagation of the snap
//! mount directory, and `/run/snapd/ns` as a private mount.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, fstat};
use rustix::io::Errno;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use snapcell_core::mountinfo::{MountInfoEntry, top_mount_at};
use snapcell_sys::debug;
use snapcell_sys::mountinfo::{read_mountinfo, read_mounts_at};
use snapcell_sys::safefs::mkdir_all;

use snapcell_core::dirs::{ALT_SNAP_MOUNT_DIR, NS_DIR, OS_RELEASE, SNAP_MOUNT_DIR, SYSTEM_PARAMS};
use snapcell_core::os_release::Distro;
use snapcell_core::system_params::parse_homedirs;

use crate::error::{Error, Result, SysContext};
use crate::mounts::{Propagation, make, rbind};

/// The directory holding snap mounts on this host: `/snap` when it is a
/// real directory, `/var/lib/snapd/snap` otherwise (a `/snap` symlink to it,
/// or no `/snap`).
pub fn snap_mount_dir() -> &'static str {
    match std::fs::symlink_metadata(SNAP_MOUNT_DIR) {
        Ok(meta) if meta.is_dir() => SNAP_MOUNT_DIR,
        _ if std::path::Path::new(ALT_SNAP_MOUNT_DIR).is_dir() => ALT_SNAP_MOUNT_DIR,
        _ => SNAP_MOUNT_DIR,
    }
}

/// What kind of system this is, from `/etc/os-release` (absent: an unknown
/// classic system).
pub fn probe_distro() -> Distro {
    std::fs::read_to_string(OS_RELEASE)
        .map(|t| Distro::from_os_release(&t))
        .unwrap_or_default()
}

/// The configured home directories (none when the file is missing).
pub fn read_homedirs() -> Result<Vec<String>> {
    match std::fs::read_to_string(SYSTEM_PARAMS) {
        Ok(text) => parse_homedirs(&text).map_err(Error::from),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).or_die(|| format!("cannot read {SYSTEM_PARAMS}")),
    }
}

/// Join pid 1's mount namespace if it is not ours, so that `/run/snapd/ns`
/// and the snap mounts are the host's even when snap-confine is started
/// from inside another namespace (a snap's own, say).
///
/// Decision (the spec assumes pid 1 is always inspectable): when the kernel
/// refuses to let us open `/proc/1/ns/mnt` (`EACCES`/`EPERM`, as on VMs
/// whose pid 1 is a foreign agent), a caller that is root anyway (real uid
/// 0, no set-user-ID) gets the current namespace taken as the host's, with
/// a debug line saying so; a set-user-ID caller is refused, since it could
/// be running us from inside a namespace it shaped. Any other failure is
/// fatal.
///
/// Returns a descriptor of the namespace the process is in afterwards.
pub fn join_host_mount_ns() -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let own = rustix::fs::open("/proc/self/ns/mnt", flags, Mode::empty())
        .or_die(|| "cannot open /proc/self/ns/mnt".to_owned())?;
    let init = match rustix::fs::open("/proc/1/ns/mnt", flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(err @ (Errno::ACCESS | Errno::PERM)) => {
            let root_caller = rustix::process::getuid().is_root()
                && !snapcell_sys::hygiene::is_secure_execution();
            if !root_caller {
                return Err(crate::error::Error::sys(
                    "cannot make sure this is the host's mount namespace: cannot open /proc/1/ns/mnt",
                    err,
                ));
            }
            debug!(
                "cannot inspect the mount namespace of pid 1 ({}); using the current one as the host's",
                crate::error::strerror(err)
            );
            return Ok(own);
        }
        Err(err) => return Err(crate::error::Error::sys("cannot open /proc/1/ns/mnt", err)),
    };
    let a = fstat(&init).or_die(|| "cannot inspect /proc/1/ns/mnt".to_owned())?;
    let b = fstat(&own).or_die(|| "cannot inspect /proc/self/ns/mnt".to_owned())?;
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
        return Ok(own);
    }
    debug!("joining the mount namespace of pid 1");
    move_into_link_name_space(init.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot join the mount namespace of pid 1".to_owned())?;
    Ok(init)
}

/// The host preparation before a namespace is built (caller holds the
/// global lock): [`ensure_shared_snap_mount`] and [`init_ns_dir`], from
/// one reading of the mount table (of which only the three mount points
/// that matter are parsed).
pub fn prepare_host(snap_mount_dir: &str) -> Result<()> {
    let table = read_mounts_at(&["/", snap_mount_dir, NS_DIR])?;
    ensure_shared_snap_mount_in(&table, snap_mount_dir)?;
    // Binding the snap mount directory changed nothing at /run/snapd/ns.
    init_ns_dir_in(&table)
}

/// Make sure mount events under the snap mount directory propagate to the
/// namespaces snap-confine makes: if neither `/` nor `snap_mount_dir` is
/// shared, self-bind `snap_mount_dir` (recursively) and make it rshared.
pub fn ensure_shared_snap_mount(snap_mount_dir: &str) -> Result<()> {
    ensure_shared_snap_mount_in(&read_mountinfo()?, snap_mount_dir)
}

fn ensure_shared_snap_mount_in(table: &[MountInfoEntry], snap_mount_dir: &str) -> Result<()> {
    let shared =
        |dir: &str| top_mount_at(table, dir).is_some_and(|e| e.propagation().shared.is_some());
    if shared("/") || shared(snap_mount_dir) {
        return Ok(());
    }
    rbind(snap_mount_dir, snap_mount_dir)?;
    make(snap_mount_dir, Propagation::Shared, true)
}

/// Create `/run/snapd/ns` (0755) and make it a private mount point, so that
/// the namespace files bound into it never propagate anywhere (a namespace
/// holding a reference to itself would never be freed).
pub fn init_ns_dir() -> Result<()> {
    init_ns_dir_in(&read_mountinfo()?)
}

/// [`init_ns_dir`] with the current mount table.
fn init_ns_dir_in(table: &[MountInfoEntry]) -> Result<()> {
    drop(mkdir_all(NS_DIR, 0o755)?);
    let top = top_mount_at(table, NS_DIR);
    if top.is_none() {
        rbind(NS_DIR, NS_DIR)?;
    }
    let is_shared = match top {
        Some(entry) => entry.propagation().shared.is_some(),
        // A fresh self-bind of a shared parent is shared.
        None => top_mount_at(&read_mounts_at(&[NS_DIR])?, NS_DIR)
            .is_some_and(|e| e.propagation().shared.is_some()),
    };
    if is_shared {
        make(NS_DIR, Propagation::Private, false)?;
    }
    Ok(())
}
