//! Device records: the `.device` info file, udev device IDs, udev database
//! records, uevent files, udev tags and snap-device-helper's request
//! (arguments and udev's environment). Nothing panics; an accepted device
//! ID survives the BPF map key round trip.
//!
//! Input: NUL-separated fields; the first is the text given to each
//! single-text parser, the rest are the helper's arguments then (after an
//! empty field) ACTION, DEVPATH, MAJOR, MINOR, SUBSYSTEM.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::devices::udev::{
    HelperRequest, UdevEnv, devname_from_uevent, has_current_tag, parse_device_id,
    parse_helper_request, security_tag_from_udev_tag, udev_tag,
};
use snapcell_core::devices::{Device, DeviceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\0');
    let first = fields.next().unwrap_or("");

    let _ = DeviceFile::parse(first);
    if let Some(d) = parse_device_id(first) {
        assert_eq!(Device::from_map_key(&d.map_key()), Some(d));
        let _ = d.v1_rule();
    }
    let _ = has_current_tag(first, "snap_x_y");
    if let Some(name) = devname_from_uevent(first) {
        assert!(!name.contains('\n'));
    }
    if let Ok(tag) = security_tag_from_udev_tag(first) {
        assert!(tag.starts_with("snap."), "{tag:?}");
        let _ = udev_tag(&tag);
    }

    let args: Vec<String> = fields
        .by_ref()
        .take_while(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let mut opt = || fields.next().map(str::to_owned);
    let env = UdevEnv {
        action: opt(),
        devpath: opt(),
        major: opt(),
        minor: opt(),
        subsystem: opt(),
    };
    let subsystem = first.to_owned();
    match parse_helper_request(&args, &env, |_| Some(subsystem)) {
        Ok(
            HelperRequest::Allow { security_tag, .. } | HelperRequest::Deny { security_tag, .. },
        ) => {
            assert!(security_tag.starts_with("snap."), "{security_tag:?}");
        }
        _ => {}
    }
});
