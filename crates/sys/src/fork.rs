//! Forking a helper process that runs a closure and exits, and unsharing
//! namespaces in it.
//!
//! Used by test worlds and by anything that must do privileged work in a
//! throwaway process without exec'ing a helper binary.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rustix::io::Errno;
use rustix::process::Pid;
use rustix::thread::UnshareFlags;

/// Exit status of a child whose closure panicked (the same code a Rust
/// program uses for an uncaught panic).
pub const PANIC_EXIT_CODE: i32 = 101;

/// Fork. The child runs `child` and exits with its return value (or
/// [`PANIC_EXIT_CODE`] if it panics) through `_exit`, so it never returns
/// into the caller's stack, runs no destructors of the caller's values and
/// no `atexit` handlers. The parent gets the child's pid and must reap it.
///
/// The child has a single thread. If the calling process has other threads,
/// locks they held at the moment of the fork stay locked in the child
/// (glibc's `malloc` is an exception: `fork` resets it), so the child should
/// avoid anything another thread might have been holding: the stdout lock,
/// the panic hook (`std::panic::set_hook`/`take_hook`), the backtrace lock
/// the default panic hook takes. Under cargo-nextest every test is its own
/// process, so this matters only under plain `cargo test`.
pub fn fork_child<F: FnOnce() -> i32>(child: F) -> Result<Pid, Errno> {
    // Do not let the child print the parent's buffered output a second time.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `fork` has no memory-safety preconditions of its own. In the
    // child, control never leaves this block: the closure runs (its panics
    // are caught) and `_exit` ends the process, so no value of the parent is
    // dropped twice and no caller frame sees two processes.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)),
        0 => {
            let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(PANIC_EXIT_CODE);
            // No flush of stdout here: its lock may have been held by another
            // thread at the fork. `println!` output is already out (stdout is
            // line-buffered); a partial line without a newline is lost.
            // SAFETY: `_exit` ends the process at once; nothing runs after it.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Pid::from_raw(pid).expect("fork returned a positive pid")),
    }
}

/// `unshare(2)` of namespaces. `UnshareFlags::FILES` is refused with `EINVAL`:
/// it is the one flag that can break Rust's I/O-safety assumptions (the
/// reason rustix marks `unshare_unsafe` unsafe), and no caller needs it.
pub fn unshare(flags: UnshareFlags) -> Result<(), Errno> {
    if flags.contains(UnshareFlags::FILES) {
        return Err(Errno::INVAL);
    }
    // SAFETY: without CLONE_FILES no descriptor table is split, so every
    // descriptor any thread holds stays valid.
    unsafe { rustix::thread::unshare_unsafe(flags) }
}
