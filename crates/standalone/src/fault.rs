//! Test-only fault points: where a crash is simulated to test that every
//! state-changing command leaves the machine as before it or as after it.
//!
//! A fault point is one call, [`point`]`("NAME")`, placed right after a step
//! whose effect is on disk. In builds with the `fault-injection` cargo
//! feature (of snapcell-standalone, or of snapcell, which forwards it), the
//! environment variable `SNAPCELL_FAULT=NAME` makes the process kill itself
//! with `SIGKILL` at that point: no destructor, no undo, no unlocking runs,
//! as after a power cut or an OOM kill (the kernel still closes the process's
//! descriptors, which releases the state lock and auto-clearing loop devices
//! that nothing mounted). While the variable is set, every point the process
//! passes is also printed on standard error as `snapcell-fault-point: NAME`,
//! so a test learns the points of a command from one run with a name that
//! matches none (`SNAPCELL_FAULT=none`). A point passed more than once in
//! a run is named `NAME` the first time, `NAME#2` the second, and so on.
//!
//! Without the feature [`point`] is an empty inline function: shipping
//! binaries cannot crash on purpose (`.ci/run` checks the release binaries'
//! dependency trees for `fault-injection`).
//!
//! The change journal ([`crate::state::Journal`]) calls [`point`] for every
//! step: `enter:STEP` once the step is recorded and before any of its
//! effects, `STEP` once its effects are done, `begin` after the change is
//! first recorded, `commit` after the final state is saved; and every save
//! of the state passes `save-written` between writing the new file and
//! renaming it into place. A command with
//! its own steps (connect, disconnect) gets its fault points for free by
//! running them through [`crate::state::Journal::step`]; [`point`] is for a
//! place inside a step (`blob-partial`, `loop-attached`).

/// The environment variable naming the fault point to crash at.
pub const FAULT_ENV: &str = "SNAPCELL_FAULT";

/// The prefix of the line printed for each fault point passed.
pub const POINT_PREFIX: &str = "snapcell-fault-point: ";

/// Whether this build has fault points (the `fault-injection` feature).
pub const ENABLED: bool = cfg!(feature = "fault-injection");

/// A fault point: with the `fault-injection` feature and
/// `SNAPCELL_FAULT=name`, the process dies here by `SIGKILL`.
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::Mutex;
    static PASSED: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
    let Some(wanted) = std::env::var_os(FAULT_ENV) else {
        return;
    };
    let n = {
        let mut passed = PASSED.lock().unwrap_or_else(|e| e.into_inner());
        let count = passed
            .get_or_insert_with(HashMap::new)
            .entry(name.to_owned())
            .or_insert(0);
        *count += 1;
        *count
    };
    let numbered;
    let name = if n == 1 {
        name
    } else {
        numbered = format!("{name}#{n}");
        &numbered
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{POINT_PREFIX}{name}");
    if wanted == name {
        let _ = writeln!(err, "snapcell-fault: killed at {name}");
        let _ = err.flush();
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; never go on past a fault point.
        std::process::abort();
    }
}

/// A fault point (none in this build: no `fault-injection` feature).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
