//! snap-device-helper: udev runs it when a device tagged for a snap's app
//! comes, changes or goes, and it adds the device to or removes it from
//! the app's device cgroup (v1 `devices.allow`/`devices.deny`, v2 the
//! pinned map), if the app has one: nothing is created here.
//!
//! Both command lines are accepted (`snapcell_core::devices::udev::
//! parse_helper_request`): current snapd's, `TAG` (or four arguments of
//! which the tag is the second) with `ACTION`, `MAJOR`, `MINOR` and
//! `SUBSYSTEM` from udev's environment, and snapd 2.57's `ACTION TAG
//! DEVPATH MAJ:MIN`, the kind of device then read from
//! `/sys/DEVPATH/subsystem`. Errors go to stderr with exit status 1.
#![forbid(unsafe_code)]

use std::ffi::OsString;

use snapcell_core::devices::udev::{HelperRequest, UdevEnv, parse_helper_request};
use snapcell_sys::cgroup::device::DeviceCgroup;
use snapcell_sys::{debug, log};

fn main() {
    let debug = log::debug_enabled(std::env::var_os("SNAPD_DEBUG").as_deref());
    log::init(debug, false);
    let code = match run() {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    };
    log::flush();
    std::process::exit(code);
}

fn run() -> Result<(), String> {
    let args = std::env::args_os()
        .skip(1)
        .map(OsString::into_string)
        .collect::<Result<Vec<String>, _>>()
        .map_err(|arg| format!("malformed argument {arg:?}"))?;
    let var = |name: &str| std::env::var(name).ok();
    let env = UdevEnv {
        action: var("ACTION"),
        devpath: var("DEVPATH"),
        major: var("MAJOR"),
        minor: var("MINOR"),
        subsystem: var("SUBSYSTEM"),
    };
    let request = parse_helper_request(&args, &env, subsystem_of).map_err(|e| e.to_string())?;
    let (tag, device, allow) = match request {
        HelperRequest::Nothing(why) => {
            debug!("{why}");
            return Ok(());
        }
        HelperRequest::Allow {
            security_tag,
            device,
        } => (security_tag, device, true),
        HelperRequest::Deny {
            security_tag,
            device,
        } => (security_tag, device, false),
    };
    debug!(
        "{} device {device} for {tag}",
        if allow { "allowing" } else { "denying" }
    );
    let Some(cgroup) = DeviceCgroup::open_existing(&tag).map_err(|e| e.to_string())? else {
        debug!("device cgroup does not exist");
        return Ok(());
    };
    if allow {
        cgroup.allow(device)
    } else {
        cgroup.deny(device)
    }
    .map_err(|e| e.to_string())
}

/// The last component of the `/sys/DEVPATH/subsystem` link (`block`, `misc`).
fn subsystem_of(devpath: &str) -> Option<String> {
    let link = std::fs::read_link(format!("/sys{devpath}/subsystem")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}
