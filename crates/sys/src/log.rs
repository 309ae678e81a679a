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

/// Write out buffered lines. Held (set-user-ID) lines are written without
/// blocking: what does not fit in standard error now (a full pipe, a slow
/// socket, a stopped terminal) is dropped, so a caller cannot hold the
/// launch back through it (research §8.24).
pub fn flush() {
    with(|log| {
        if log.lines.is_empty() {
            return;
        }
        if log.buffered {
            let text: String = log.lines.drain(..).map(|l| l + "\n").collect();
            write_without_blocking(text.as_bytes());
            return;
        }
        let mut err = std::io::stderr().lock();
        for line in log.lines.drain(..) {
            let _ = writeln!(err, "{line}");
        }
    });
}

/// Write `bytes` to standard error with `O_NONBLOCK` set on it for the
/// while (then its flags as they were), stopping at the first write that
/// would block or fails.
fn write_without_blocking(bytes: &[u8]) {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    use std::os::fd::AsFd;
    let stderr = std::io::stderr();
    let fd = stderr.as_fd();
    let Ok(flags) = fcntl_getfl(fd) else {
        return;
    };
    if fcntl_setfl(fd, flags | OFlags::NONBLOCK).is_err() {
        return;
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        match rustix::io::write(fd, rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest = &rest[n..],
        }
    }
    let _ = fcntl_setfl(fd, flags);
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
    use std::os::fd::OwnedFd;

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

        // Held lines never block on a full standard error (§8.24: a
        // full pipe held the launch back before the exec).
        init(true, true);
        crate::debug!("three");
        let (_r, w) = rustix::pipe::pipe().unwrap();
        rustix::fs::fcntl_setfl(&w, rustix::fs::OFlags::NONBLOCK).unwrap();
        while rustix::io::write(&w, &[b'x'; 4096]).is_ok() {}
        rustix::fs::fcntl_setfl(&w, rustix::fs::OFlags::empty()).unwrap();
        let saved = rustix::io::fcntl_dupfd_cloexec(std::io::stderr(), 3).unwrap();
        // SAFETY: fd 2 stays open (dup2 replaces it); the OwnedFd is
        // forgotten, never closed.
        let mut two = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(2) };
        rustix::io::dup2(&w, &mut two).unwrap();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            flush();
            let _ = done.send(());
        });
        let flushed = wait.recv_timeout(std::time::Duration::from_secs(5));
        rustix::io::dup2(&saved, &mut two).unwrap();
        std::mem::forget(two);
        assert!(flushed.is_ok(), "flush blocked on a full standard error");
        assert!(held().is_empty());
        let flags = rustix::fs::fcntl_getfl(&w).unwrap();
        assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK), "{flags:?}");
    }
}
