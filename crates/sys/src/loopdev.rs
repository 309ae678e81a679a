//! Loop devices: attaching an image file read-only to a free loop device.
//!
//! A device is found with `LOOP_CTL_GET_FREE` on `/dev/loop-control` and set
//! up atomically with `LOOP_CONFIGURE` (Linux 5.8) as read-only and
//! auto-clearing, so the kernel releases it when its last user (the mount or
//! the [`LoopDevice`] handle, whichever goes last) closes it. Another process
//! may grab the same free device between the two steps; `LOOP_CONFIGURE` then
//! fails with `EBUSY` and a fresh device is asked for, a bounded number of
//! times. Devices are never chosen by number.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use linux_raw_sys::loop_device::{
    LO_FLAGS_AUTOCLEAR, LO_FLAGS_READ_ONLY, LOOP_CLR_FD, LOOP_CONFIGURE, LOOP_CTL_GET_FREE,
    LOOP_GET_STATUS64, loop_config, loop_info64,
};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// The loop control device.
pub const LOOP_CONTROL: &str = "/dev/loop-control";

/// How many free devices are tried before giving up when others keep taking
/// them first.
const ATTACH_ATTEMPTS: usize = 16;

/// Why an image could not be attached to a loop device.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("cannot open {}: {err}", image.display())]
    OpenImage { image: PathBuf, err: Errno },
    #[error("cannot attach {} to a loop device: cannot open {LOOP_CONTROL}: {err}", image.display())]
    OpenControl { image: PathBuf, err: Errno },
    #[error("cannot attach {} to a loop device: cannot get a free loop device: {err}", image.display())]
    GetFree { image: PathBuf, err: Errno },
    #[error("cannot attach {} to a loop device: cannot open {}: {err}", image.display(), device.display())]
    OpenDevice {
        image: PathBuf,
        device: PathBuf,
        err: Errno,
    },
    #[error("cannot attach {} to {}: {err}", image.display(), device.display())]
    Configure {
        image: PathBuf,
        device: PathBuf,
        err: Errno,
    },
    #[error("cannot attach {} to a loop device: {attempts} free devices in a row were taken by someone else", image.display())]
    Busy { image: PathBuf, attempts: usize },
}

/// Identity of a loop device's backing file as the kernel reports it
/// (`LOOP_GET_STATUS64`): the device number of its file system (in the
/// kernel's `huge_encode_dev` form) and its inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackingFile {
    pub device: u64,
    pub inode: u64,
}

impl BackingFile {
    /// The major and minor numbers of [`BackingFile::device`], comparable
    /// with `rustix::fs::major`/`minor` of a `stat`'s `st_dev`.
    pub fn device_numbers(&self) -> (u32, u32) {
        // The kernel's new_decode_dev() of the low 32 bits.
        let dev = self.device & 0xffff_ffff;
        let major = (dev & 0xfff00) >> 8;
        let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        (major as u32, minor as u32)
    }
}

/// A loop device this process attached.
///
/// Dropping it issues `LOOP_CLR_FD` and closes the handle. Since Linux 5.x
/// (and in spirit much earlier) `LOOP_CLR_FD` on a device that someone else
/// still holds open, a mounted file system for instance, only marks it
/// auto-clearing, which it already is; the device is then released when the
/// file system is unmounted. So dropping the handle right after mounting is
/// the normal use, and dropping it without mounting detaches at once. The
/// handle keeps the device bound to our file for as long as it lives, so the
/// ioctl can never hit a device someone else attached later.
#[derive(Debug)]
pub struct LoopDevice {
    number: u32,
    path: PathBuf,
    fd: OwnedFd,
}

impl LoopDevice {
    /// Attach `image` read-only, with auto-clear, to a free loop device.
    pub fn attach_read_only(image: &Path) -> Result<LoopDevice, LoopError> {
        let backing = File::open(image).map_err(|err| LoopError::OpenImage {
            image: image.to_owned(),
            err: errno_of(&err),
        })?;
        let control = rustix::fs::open(LOOP_CONTROL, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|err| LoopError::OpenControl {
                image: image.to_owned(),
                err,
            })?;
        let config = read_only_config(&backing, image);
        for _ in 0..ATTACH_ATTEMPTS {
            let number = ioctl_no_arg(control.as_fd(), LOOP_CTL_GET_FREE).map_err(|err| {
                LoopError::GetFree {
                    image: image.to_owned(),
                    err,
                }
            })?;
            let number = u32::try_from(number).map_err(|_| LoopError::GetFree {
                image: image.to_owned(),
                err: Errno::RANGE,
            })?;
            let path = PathBuf::from(format!("/dev/loop{number}"));
            let fd = match open_device(&path) {
                Ok(fd) => fd,
                // Removed (LOOP_CTL_REMOVE) by someone else in between. A
                // missing node (ENOENT: /dev is not a devtmpfs) is an error.
                Err(Errno::NXIO) => continue,
                Err(err) => {
                    return Err(LoopError::OpenDevice {
                        image: image.to_owned(),
                        device: path,
                        err,
                    });
                }
            };
            match configure(fd.as_fd(), &config) {
                Ok(()) => return Ok(LoopDevice { number, path, fd }),
                // Someone else configured it between GET_FREE and now.
                Err(Errno::BUSY) => continue,
                Err(err) => {
                    return Err(LoopError::Configure {
                        image: image.to_owned(),
                        device: path,
                        err,
                    });
                }
            }
        }
        Err(LoopError::Busy {
            image: image.to_owned(),
            attempts: ATTACH_ATTEMPTS,
        })
    }

    /// The device node, `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `N` of `/dev/loopN`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The backing file as the kernel sees it.
    pub fn backing_file(&self) -> Result<BackingFile, Errno> {
        get_status(self.fd.as_fd()).map(|info| BackingFile {
            device: info.lo_device,
            inode: info.lo_inode,
        })
    }
}

impl AsFd for LoopDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // ENXIO: already cleared. Anything else leaves the device to
        // auto-clear on close; there is nothing better to do in a drop.
        let _ = ioctl_no_arg(self.fd.as_fd(), LOOP_CLR_FD);
    }
}

/// The backing file of the loop device at `device`, or `None` when the device
/// is not attached (or does not exist). Opens the device read-only for a
/// moment; never changes it.
pub fn backing_file_of(device: &Path) -> Result<Option<BackingFile>, Errno> {
    let fd = match rustix::fs::open(
        device,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NXIO) => return Ok(None),
        Err(err) => return Err(err),
    };
    match get_status(fd.as_fd()) {
        Ok(info) => Ok(Some(BackingFile {
            device: info.lo_device,
            inode: info.lo_inode,
        })),
        Err(Errno::NXIO) => Ok(None),
        Err(err) => Err(err),
    }
}

fn open_device(path: &Path) -> Result<OwnedFd, Errno> {
    match rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        Err(Errno::ROFS | Errno::ACCESS) => {
            rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        }
        other => other,
    }
}

fn read_only_config(backing: &File, image: &Path) -> loop_config {
    let mut info = zeroed_info();
    info.lo_flags = LO_FLAGS_READ_ONLY as u32 | LO_FLAGS_AUTOCLEAR as u32;
    // lo_file_name is informational (losetup shows it); keep it NUL-terminated.
    let name = image.as_os_str().as_bytes();
    let len = name.len().min(info.lo_file_name.len() - 1);
    info.lo_file_name[..len].copy_from_slice(&name[..len]);
    loop_config {
        fd: backing.as_raw_fd() as u32,
        block_size: 0,
        info,
        __reserved: [0; 8],
    }
}

fn zeroed_info() -> loop_info64 {
    loop_info64 {
        lo_device: 0,
        lo_inode: 0,
        lo_rdevice: 0,
        lo_offset: 0,
        lo_sizelimit: 0,
        lo_number: 0,
        lo_encrypt_type: 0,
        lo_encrypt_key_size: 0,
        lo_flags: 0,
        lo_file_name: [0; 64],
        lo_crypt_name: [0; 64],
        lo_encrypt_key: [0; 32],
        lo_init: [0; 2],
    }
}

/// An ioctl that takes no argument and returns a non-negative int.
fn ioctl_no_arg(fd: BorrowedFd<'_>, request: u32) -> Result<i32, Errno> {
    // SAFETY: `fd` is a live descriptor for the duration of the borrow, and the
    // requests used here (LOOP_CTL_GET_FREE, LOOP_CLR_FD) read no argument.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0) };
    if ret < 0 { Err(last_errno()) } else { Ok(ret) }
}

fn configure(fd: BorrowedFd<'_>, config: &loop_config) -> Result<(), Errno> {
    // SAFETY: LOOP_CONFIGURE reads a `struct loop_config`, which `config`
    // points to (linux-raw-sys's layout of the UAPI struct) and which outlives
    // the call; the kernel does not keep the pointer.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            LOOP_CONFIGURE as _,
            config as *const loop_config,
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(()) }
}

fn get_status(fd: BorrowedFd<'_>) -> Result<loop_info64, Errno> {
    let mut info = zeroed_info();
    // SAFETY: LOOP_GET_STATUS64 writes one `struct loop_info64` through the
    // pointer, which points to a live, writable, correctly laid out value.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            LOOP_GET_STATUS64 as _,
            &mut info as *mut loop_info64,
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(info) }
}

fn last_errno() -> Errno {
    errno_of(&std::io::Error::last_os_error())
}

fn errno_of(err: &std::io::Error) -> Errno {
    Errno::from_io_error(err).unwrap_or(Errno::IO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_decode_the_kernel_encoding() {
        // new_encode_dev(MKDEV(major, minor)).
        let encode =
            |major: u64, minor: u64| (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
        for (major, minor) in [
            (0, 0),
            (0, 42),
            (0, 300),
            (7, 0),
            (254, 1),
            (259, 70000),
            (4095, 0xfffff),
        ] {
            let file = BackingFile {
                device: encode(major, minor),
                inode: 1,
            };
            assert_eq!(file.device_numbers(), (major as u32, minor as u32));
            // And it agrees with the C library's encoding of st_dev.
            let st_dev = rustix::fs::makedev(major as u32, minor as u32);
            assert_eq!(
                file.device_numbers(),
                (rustix::fs::major(st_dev), rustix::fs::minor(st_dev))
            );
        }
    }

    #[test]
    fn the_config_is_read_only_auto_clearing_and_names_the_image() {
        let file = File::open("/proc/self/exe").unwrap();
        let long = PathBuf::from(format!("/{}", "x".repeat(100)));
        let config = read_only_config(&file, &long);
        assert_eq!(config.fd, file.as_raw_fd() as u32);
        assert_eq!(config.info.lo_flags, 1 | 4);
        assert_eq!(config.info.lo_file_name[0], b'/');
        assert_eq!(config.info.lo_file_name[62], b'x');
        assert_eq!(config.info.lo_file_name[63], 0, "not NUL-terminated");
    }
}
