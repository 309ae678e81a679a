//! The one debug logger of snapcell's helpers (snap-confine,
//! snap-discard-ns, snap-update-ns): with `SNAPD_DEBUG=1` ([`debug_enabled`]),
//! `DEBUG: ...` lines on stderr ([`debug!`](crate::debug)), and the time
//! each stage of a launch took ([`stage`]). Off until [`init`] turns it on.
//!
//! When snap-confine runs set-user-ID (the real and effective user differ),
//! the lines are kept in memory and written only when the launch ends (just
//! before the exec, or with the error): [`init`] with `buffered`, then
//! [`flush`]. A caller who can see our stderr as it happens could otherwise
//! use the output as a clock to time races against the privileged steps
//! (the technique behind CVE-2026-3888).

use std::ffi::OsStr;
use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

struct Logger {
    enabled: bool,
    buffered: bool,
    start: Option<Instant>,
    last_stage: Option<Instant>,
    lines: Vec<String>,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    enabled: false,
    buffered: false,
    start: None,
    last_stage: None,
    lines: Vec::new(),
});

fn with<R>(f: impl FnOnce(&mut Logger) -> R) -> R {
    let mut guard = match LOGGER.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard)
}

/// How snapd reads `SNAPD_DEBUG` (Go's `strconv.ParseBool`; the C side
/// takes `1`/`true` only, a subset).
pub fn debug_enabled(value: Option<&OsStr>) -> bool {
    matches!(
        value.and_then(|v| v.to_str()),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

/// Turn debug output on or off; `buffered` holds it until [`flush`].
pub fn init(enabled: bool, buffered: bool) {
    with(|log| {
        let now = Instant::now();
        log.enabled = enabled;
        log.buffered = buffered;
        log.start = Some(now);
        log.last_stage = Some(now);
        log.lines.clear();
    });
}

/// Whether debug output is on.
pub fn enabled() -> bool {
    with(|log| log.enabled)
}

fn emit(log: &mut Logger, line: String) {
    if log.buffered {
        log.lines.push(line);
    } else {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Write `DEBUG: MESSAGE` when debug output is on.
pub fn debug(args: fmt::Arguments<'_>) {
    with(|log| {
        if log.enabled {
            emit(log, format!("DEBUG: {args}"));
        }
    });
}

/// Mark the end of a stage: `DEBUG: stage NAME: X.XXX ms (total Y.YYY ms)`.
pub fn stage(name: &str) {
    with(|log| {
        if !log.enabled {
            return;
        }
        let now = Instant::now();
        let since = |t: Option<Instant>| now.duration_since(t.unwrap_or(now)).as_secs_f64() * 1e3;
        let line = format!(
            "DEBUG: stage {name}: {:.3} ms (total {:.3} ms)",
            since(log.last_stage),
            since(log.start)
        );
        log.last_stage = Some(now);
        emit(log, line);
    });
}

/// Write out buffered lines.
pub fn flush() {
    with(|log| {
        if log.lines.is_empty() {
            return;
        }
        let mut err = std::io::stderr().lock();
        for line in log.lines.drain(..) {
            let _ = writeln!(err, "{line}");
        }
    });
}

/// `debug!("...", args)`: a `DEBUG:` line when debug output is on (see
/// [`log`](crate::log)).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        $crate::log::debug(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Vec<String> {
        with(|log| log.lines.clone())
    }

    #[test]
    fn snapd_debug_is_read_as_snapd_reads_it() {
        for on in ["1", "t", "T", "true", "TRUE", "True"] {
            assert!(debug_enabled(Some(OsStr::new(on))), "{on}");
        }
        for off in ["", "0", "yes", "on", "2", "false"] {
            assert!(!debug_enabled(Some(OsStr::new(off))), "{off}");
        }
        assert!(!debug_enabled(None));
    }

    // One test for the global logger's states.
    #[test]
    fn lines_are_held_back_until_flushed_and_dropped_when_off() {
        init(true, true);
        assert!(enabled());
        crate::debug!("one {}", 1);
        stage("first");
        let lines = held();
        assert_eq!(lines[0], "DEBUG: one 1");
        assert!(
            lines[1].starts_with("DEBUG: stage first: ") && lines[1].ends_with(" ms)"),
            "{}",
            lines[1]
        );
        flush();
        assert!(held().is_empty());

        init(false, true);
        assert!(!enabled());
        crate::debug!("two");
        stage("second");
        assert!(held().is_empty());
    }
}
