//! The devices udev tagged for an app, read from udev's own records the way
//! libudev's enumeration does for snap-confine (snapcell links no libudev):
//!
//! 1. every entry of `/run/udev/tags/TAG/` is a device id (`c10:237`);
//!    ids without a device number (`n3`, `+usb:1-1`) are skipped;
//! 2. the device must still exist (`/sys/dev/char/10:237/uevent`);
//! 3. the tag must be *current* (`Q:TAG` in `/run/udev/data/ID`): a device
//!    keeps its tag file after the interface is disconnected until udev
//!    processes it again; snapd (libudev of systemd 247 and later, Debian
//!    12's 252 included) then skips it;
//! 4. its node (`/dev/` and the uevent's `DEVNAME`) must be a character
//!    or block device; the kind is the node's, the number udev's.
//!
//! Each device that fails a step is skipped with a debug line, as snapd
//! does: devices come and go while this runs.

use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use rustix::io::Errno;
use snapcell_core::devices::udev::{devname_from_uevent, has_current_tag, parse_device_id};
use snapcell_core::devices::{Device, DeviceKind};
use snapcell_core::dirs::{SYS_DEV_DIR, UDEV_DATA_DIR, UDEV_TAGS_DIR};

use super::CgroupError;
use crate::debug;

/// The devices tagged `udev_tag` (`snap_NAME_APP`), in the order of their
/// ids. No tag directory means no devices.
pub fn tagged_devices(udev_tag: &str) -> Result<Vec<Device>, CgroupError> {
    let dir = Path::new(UDEV_TAGS_DIR).join(udev_tag);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot enumerate udev devices in {}", dir.display()),
                Errno::from_io_error(&e).unwrap_or(Errno::IO),
            ));
        }
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids
        .iter()
        .filter_map(|id| tagged_device(id, udev_tag))
        .collect())
}

fn tagged_device(id: &str, udev_tag: &str) -> Option<Device> {
    let Some(device) = parse_device_id(id) else {
        debug!("cannot get major/minor numbers for udev device {id}");
        return None;
    };
    let class = match device.kind {
        DeviceKind::Char => "char",
        DeviceKind::Block => "block",
    };
    let sys = format!("{SYS_DEV_DIR}/{class}/{}:{}", device.major, device.minor);
    let Ok(uevent) = std::fs::read_to_string(format!("{sys}/uevent")) else {
        debug!("cannot find device from syspath {sys}");
        return None;
    };
    let database = std::fs::read_to_string(format!("{UDEV_DATA_DIR}/{id}")).unwrap_or_default();
    if !has_current_tag(&database, udev_tag) {
        debug!("device {sys} has no matching current tag");
        return None;
    }
    let Some(name) = devname_from_uevent(&uevent) else {
        debug!("cannot find /dev node from udev device {sys}");
        return None;
    };
    let node = format!("/dev/{name}");
    debug!("inspecting type of device: {node}");
    let kind = match std::fs::metadata(&node) {
        Ok(m) if m.file_type().is_block_device() => DeviceKind::Block,
        Ok(m) if m.file_type().is_char_device() => DeviceKind::Char,
        Ok(_) => {
            debug!("{node} is not a device node");
            return None;
        }
        Err(_) => {
            debug!("cannot stat {node}");
            return None;
        }
    };
    Some(Device { kind, ..device })
}
