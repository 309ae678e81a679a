//! AppArmor profiles as snapd writes them: parsing (with includes, one of
//! which includes itself) and expansion of every file rule never panic, and
//! expansion results are sorted, distinct and free of `//`.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use snapcell_core::apparmor::{self, Rule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `abstractions/self` is the profile itself (an include loop); the
    // second half of the text is `abstractions/half`; the rest are missing.
    let half = text.get(text.len() / 2..).unwrap_or("").to_owned();
    let whole = text.to_owned();
    let mut include = |name: &str| match name {
        "abstractions/self" => Some(whole.clone()),
        "abstractions/half" => Some(half.clone()),
        _ => None,
    };
    let profile = apparmor::parse(text, &mut include);
    let overrides: BTreeMap<String, Vec<String>> = [(
        "HOME".to_owned(),
        vec!["/home/*".to_owned(), "/root".to_owned()],
    )]
    .into();
    for rule in profile.rules.iter().take(64) {
        let Rule::File(f) = rule else { continue };
        if let Ok(paths) = apparmor::expand(&f.path, &profile.vars, &overrides) {
            assert!(
                paths.windows(2).all(|w| w[0] < w[1]),
                "not sorted and distinct"
            );
            for p in paths.iter().take(16) {
                assert!(!p.contains("//"), "{p:?} keeps a //");
                let _ = apparmor::glob_match(p, "/home/user/.config/x");
                let _ = apparmor::glob_match(p, p);
            }
        }
    }
});
