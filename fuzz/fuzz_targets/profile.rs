//! Mount profiles: parsing never panics, and every entry that can round-trip does.
//! snap-update-ns's no-op path (`core::plan::unchanged_update`, the same text
//! read in place) answers only for profiles that parse, and then as the
//! planner does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::entry::MountEntry;
use snapcell_core::plan::{Action, MemFs, needed_changes, unchanged_update};
use snapcell_core::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let quick = unchanged_update(text, text);
    let Ok(profile) = Profile::parse(text) else {
        assert!(
            quick.is_none(),
            "the no-op path answered for a profile that does not parse"
        );
        return;
    };
    if let Some(u) = quick {
        let got = needed_changes(
            &profile.entries,
            &profile.entries,
            &MemFs::new(Vec::<&str>::new(), Vec::<&str>::new(), Vec::<&str>::new()),
        );
        assert!(got.iter().all(|ch| ch.action == Action::Keep), "{got:?}");
        assert_eq!(got.len(), profile.entries.len());
        assert_eq!(u.kept, profile.entries.len());
        let saved = Profile::from(got.into_iter().map(|ch| ch.entry).collect::<Vec<_>>());
        assert_eq!(u.text, saved.to_string());
    }
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
        assert_eq!(
            b.to_string(),
            MountEntry::parse(&b.to_string()).unwrap().to_string()
        );
    }
    assert_eq!(profile.entries.len(), again.entries.len());
    for e in &profile.entries {
        let _ = (e.kind(), e.mode(), e.user(), e.group(), e.origin(), e.id());
    }
});
