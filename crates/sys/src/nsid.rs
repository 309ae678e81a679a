//! Namespace identity through nsfs ioctls: the 64-bit id of a mount
//! namespace (`NS_GET_MNTNS_ID`) and the user namespace that owns a
//! namespace (`NS_GET_USERNS`).
//!
//! The mount namespace id matters for preserving namespaces: the kernel
//! refuses (`EINVAL`) to bind `/proc/PID/ns/mnt` into a namespace whose id is
//! not smaller than the bound namespace's (its guard against namespace
//! loops). Up to 6.17 ids only grew, so a namespace made after the binder's
//! always qualified; 6.18 hands ids out from per-CPU batches, so a newer
//! namespace can have a smaller id. Comparing the ids right after `unshare`
//! tells in advance whether the bind will work.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;

/// `_IO(NSIO, 0x1)`: a descriptor of the owning user namespace.
const NS_GET_USERNS: u32 = 0xb701;
/// `_IOR(NSIO, 0x5, __u64)`: the mount namespace's 64-bit id (Linux 6.8+).
const NS_GET_MNTNS_ID: u32 = 0x8008_b705;

/// The id of the mount namespace `ns` refers to (an open
/// `/proc/PID/ns/mnt` or a preserved nsfs file). `ENOTTY` on kernels
/// older than 6.8, `EINVAL` when `ns` is not a mount namespace.
pub fn mount_ns_id(ns: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut id: u64 = 0;
    // SAFETY: NS_GET_MNTNS_ID writes one `__u64` through the pointer, which
    // points to a live, writable `u64`; `ns` is a live descriptor for the
    // duration of the borrow and the kernel keeps no reference to either.
    let ret = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_MNTNS_ID as _, &mut id as *mut u64) };
    if ret < 0 { Err(last_errno()) } else { Ok(id) }
}

/// A descriptor of the user namespace owning the namespace `ns`.
pub fn owning_user_ns(ns: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor
    // (opened O_CLOEXEC by the kernel) or -1; `ns` is live for the borrow.
    let ret = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS as _, 0) };
    if ret < 0 {
        return Err(last_errno());
    }
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsFd;

    #[test]
    fn the_current_mount_namespace_has_an_id_and_an_owner() {
        let fd = rustix::fs::open(
            "/proc/self/ns/mnt",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        match mount_ns_id(fd.as_fd()) {
            Ok(id) => assert!(id > 0),
            Err(e) => assert_eq!(e, Errno::NOTTY, "unexpected error {e}"),
        }
        let user = owning_user_ns(fd.as_fd()).unwrap();
        let mine = rustix::fs::stat("/proc/self/ns/user").unwrap();
        let owner = rustix::fs::fstat(&user).unwrap();
        assert_eq!((owner.st_dev, owner.st_ino), (mine.st_dev, mine.st_ino));
        // Not a namespace at all.
        let file = rustix::fs::open("/proc/self/stat", OFlags::RDONLY, Mode::empty()).unwrap();
        assert!(mount_ns_id(file.as_fd()).is_err());
    }
}
