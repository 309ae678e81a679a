//! snapd's state.json (the part snap-confine reads): the bounded JSON
//! reader never panics, and the interfaces it returns are sorted, distinct
//! and non-empty.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::snapd_state::connected_interfaces;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for instance in ["snap", "snap_x", ""] {
        if let Ok(ifaces) = connected_interfaces(text, instance) {
            assert!(ifaces.windows(2).all(|w| w[0] < w[1]), "{ifaces:?}");
        }
    }
});
