//! Compiled seccomp profiles (`.bin2` and 2.57's `.bin`): parsing never
//! panics; an accepted `.bin2` is exactly header + programs, each a whole
//! number of instructions within `BPF_MAXINSNS`, and re-encodes to a file
//! that parses to the same programs.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use snapcell_core::seccomp::bin2::{HEADER_SIZE, encode_bin2, parse_bin2, parse_legacy_bin};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/var/lib/snapd/seccomp/bpf/snap.x.y.bin2");
    match parse_bin2(path, data) {
        Err(e) => assert!(e.to_string().starts_with("cannot load seccomp profile ")),
        Ok(p) => {
            assert_eq!(p.path(), path);
            let lens: Vec<usize> = p
                .filters()
                .iter()
                .map(|(_, f)| f.to_bytes().len())
                .collect();
            if p.is_unrestricted() {
                assert!(
                    p.filters().is_empty(),
                    "an unrestricted profile loads nothing"
                );
            } else {
                assert_eq!(p.filters().len(), 2);
                assert_eq!(HEADER_SIZE + lens.iter().sum::<usize>(), data.len());
                for &l in &lens {
                    assert!(l > 0 && l % 8 == 0 && l <= 32 * 1024);
                }
                // The deny program is loaded first; it follows the allow one.
                let deny = p.filters()[0].1.to_bytes();
                let allow = p.filters()[1].1.to_bytes();
                assert_eq!(&data[HEADER_SIZE..HEADER_SIZE + allow.len()], &allow[..]);
                assert_eq!(&data[HEADER_SIZE + allow.len()..], &deny[..]);
                let again = parse_bin2(path, &encode_bin2(false, &allow, &deny))
                    .expect("a re-encoded profile parses");
                assert_eq!(again.filters(), p.filters());
            }
        }
    }
    if let Ok(p) = parse_legacy_bin(Path::new("snap.x.y.bin"), data) {
        if !p.is_unrestricted() {
            let total: usize = p.filters().iter().map(|(_, f)| f.to_bytes().len()).sum();
            assert_eq!(total, data.len());
        }
    }
});
