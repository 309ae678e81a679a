//! snap.yaml: parsing, validation and layout conversion never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::layout;
use snapcell_core::snap_yaml::SnapInfo;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(info) = SnapInfo::parse(text) else { return };
    if info.validate().is_ok() {
        for e in layout::to_mount_entries(&info.name, "x1", &info.layout) {
            assert!(e.dir.starts_with('/'), "accepted layout produced a relative mount point");
        }
    }
});
