//! snapcell's standalone state file (`/var/lib/snapd/standalone/state.json`,
//! `snapcell_standalone::state`): the parse never panics, and a state it
//! accepts is written (as `StateLock::save` writes it) to text that parses
//! back to the same state, which is written to the same text again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_standalone::state::State;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = State::parse(data) else {
        return;
    };
    let text = state
        .to_json()
        .unwrap_or_else(|e| panic!("an accepted state cannot be written: {e}: {state:?}"));
    let again = State::parse(&text).unwrap_or_else(|e| {
        panic!(
            "the written state does not parse: {e}\n{}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(again, state, "{}", String::from_utf8_lossy(&text));
    assert_eq!(again.to_json().unwrap(), text);
});
