//! Mounting squashfs images (snaps) read-only through the new mount API.
//!
//! `fsopen("squashfs")` → `fsconfig(source=/dev/loopN)` → `fsconfig(ro)` →
//! `fsconfig_create` → `fsmount(MOUNT_ATTR_RDONLY|MOUNT_ATTR_NODEV)` →
//! `move_mount`. The `ro` flag on the file system context is required: the
//! loop device is read-only, and without it `fsconfig_create` fails with
//! `EACCES` (`MOUNT_ATTR_RDONLY` only makes the mount read-only, not the
//! superblock). `nodev,ro` are the options snapd's mount units use for snaps.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create, fsconfig_set_flag,
    fsconfig_set_string, fsmount, fsopen, move_mount,
};

use snapcell_sys::loopdev::{LoopDevice, LoopError};

/// Why a squashfs image could not be mounted.
#[derive(Debug, thiserror::Error)]
#[error("cannot mount squashfs {} at {}: {why}", image.display(), target.display())]
pub struct MountSquashfsError {
    pub image: PathBuf,
    pub target: PathBuf,
    pub why: MountFailure,
}

/// The step that failed.
#[derive(Debug)]
pub enum MountFailure {
    /// The image could not be attached to a loop device.
    Loop(LoopError),
    /// A mount API call failed; `log` holds the messages the kernel left in
    /// the file system context (`e squashfs: ...`), if any.
    Syscall {
        call: &'static str,
        err: Errno,
        log: Vec<String>,
    },
}

impl fmt::Display for MountFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountFailure::Loop(err) => err.fmt(f),
            MountFailure::Syscall { call, err, log } => {
                write!(f, "{call}: {err}")?;
                if !log.is_empty() {
                    write!(f, " (kernel: {})", log.join("; "))?;
                }
                Ok(())
            }
        }
    }
}

/// Attach `image` to a free loop device (read-only, auto-clear) and mount it
/// read-only at the directory `target`.
///
/// The returned handle may be dropped at once: the mount keeps the device
/// busy, and unmounting it releases the device.
pub fn mount_squashfs(image: &Path, target: &Path) -> Result<LoopDevice, MountSquashfsError> {
    mount_image(image, target, |mnt| {
        move_mount(
            mnt,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}

/// Like [`mount_squashfs`], with the mount point given as an open directory
/// (for instance an `O_PATH` descriptor from a safe path walk); `shown` names
/// it in errors.
pub fn mount_squashfs_at_fd(
    image: &Path,
    target: BorrowedFd<'_>,
    shown: &Path,
) -> Result<LoopDevice, MountSquashfsError> {
    mount_image(image, shown, |mnt| {
        move_mount(
            mnt,
            "",
            target,
            "",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
}

/// Create a detached, read-only squashfs mount of the block device `device`
/// (already read-only). Attach it with `move_mount`.
pub fn open_squashfs_mount(device: &Path) -> Result<OwnedFd, MountFailure> {
    let fs = fsopen("squashfs", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|err| syscall("fsopen", err, None))?;
    fsconfig_set_string(&fs, "source", device)
        .map_err(|err| syscall("fsconfig source", err, Some(&fs)))?;
    fsconfig_set_flag(&fs, "ro").map_err(|err| syscall("fsconfig ro", err, Some(&fs)))?;
    fsconfig_create(&fs).map_err(|err| syscall("fsconfig_create", err, Some(&fs)))?;
    fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV,
    )
    .map_err(|err| syscall("fsmount", err, Some(&fs)))
}

fn mount_image(
    image: &Path,
    target: &Path,
    attach: impl FnOnce(BorrowedFd<'_>) -> Result<(), Errno>,
) -> Result<LoopDevice, MountSquashfsError> {
    let fail = |why| MountSquashfsError {
        image: image.to_owned(),
        target: target.to_owned(),
        why,
    };
    let device =
        LoopDevice::attach_read_only(image).map_err(|err| fail(MountFailure::Loop(err)))?;
    // On failure below, dropping `device` detaches it; so does a crash
    // (auto-clear, on the last close).
    crate::fault::point("loop-attached");
    let mnt = open_squashfs_mount(device.path()).map_err(fail)?;
    attach(mnt.as_fd()).map_err(|err| fail(syscall("move_mount", err, None)))?;
    Ok(device)
}

fn syscall(call: &'static str, err: Errno, fs: Option<&OwnedFd>) -> MountFailure {
    MountFailure::Syscall {
        call,
        err,
        log: fs.map(kernel_log).unwrap_or_default(),
    }
}

/// Drain the messages the kernel queued on a file system context. Each read
/// returns one message; `ENODATA` means none are left.
fn kernel_log(fs: &OwnedFd) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while out.len() < 16 {
        match rustix::io::read(fs, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]);
                // Each message starts with its kind: "e ", "w " or "i ".
                let msg = msg.strip_prefix("e ").unwrap_or(&msg);
                out.push(msg.trim_end().to_owned());
            }
        }
    }
    out
}
