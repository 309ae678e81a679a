//! Mount profiles: parsing never panics, and every entry that can round-trip does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::entry::MountEntry;
use snapcell_core::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(profile) = Profile::parse(text) else { return };
    // The canonical text of a parsed profile parses back to the same entries,
    // except where snapd's own round trip is not the identity (spec §1.4).
    let canonical = profile.to_string();
    let again = Profile::parse(&canonical).expect("canonical profile text must parse");
    for (a, b) in profile.entries.iter().zip(again.entries.iter()) {
        let lossless = !a.name.is_empty()
            && !a.dir.is_empty()
            && !a.fs_type.is_empty()
            && !a.options.is_empty()
            && !a.options.iter().any(|o| o.is_empty() || o.contains(','));
        if lossless {
            assert_eq!(a, b, "round trip changed an entry");
        }
        // Formatting is a fixed point after one round.
        assert_eq!(b.to_string(), MountEntry::parse(&b.to_string()).unwrap().to_string());
    }
    assert_eq!(profile.entries.len(), again.entries.len());
    for e in &profile.entries {
        let _ = (e.kind(), e.mode(), e.user(), e.group(), e.origin(), e.id());
    }
});
