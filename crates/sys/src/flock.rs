//! Waiting for an exclusive `flock(2)` without polling, up to a deadline.
//!
//! `flock` has no timeout. snapd's snap-confine arms `alarm(2)` and lets
//! `SIGALRM` interrupt the blocking call; [`lock_exclusive`] does the same,
//! contained to the calling thread and undone afterwards:
//!
//! 1. `LOCK_EX | LOCK_NB` first: an uncontended lock costs one system call
//!    and touches no signal state;
//! 2. otherwise `SIGALRM` gets a handler that does nothing, installed
//!    without `SA_RESTART` so that it interrupts `flock` with `EINTR`, and
//!    is unblocked in the calling thread (a caller can start us with it
//!    blocked);
//! 3. a POSIX timer (`CLOCK_MONOTONIC`, `SIGEV_THREAD_ID`: the signal goes
//!    to this thread, not to any thread of the process) fires at the
//!    deadline and every 10 ms after it, so a signal that lands just before
//!    `flock` starts blocking is followed by another;
//! 4. the blocking `flock` returns when the lock is free (no sleeping in
//!    steps, no wake-up latency) or with `EINTR`, after which the deadline
//!    is checked;
//! 5. then the timer is deleted, a `SIGALRM` still pending for the thread
//!    is consumed while blocked (so that restoring the previous action,
//!    perhaps the default one, which terminates, cannot act on it), and the
//!    previous action and signal mask are restored.
//!
//! While waiting, a `SIGALRM` sent to the whole process (an `alarm` the
//! caller set before exec'ing us, say) may be taken by the handler and so
//! ignored. The function is meant for single-threaded launchers; in a
//! multi-threaded process the handler is process-wide for the duration.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;

/// How often the timer fires again after the deadline.
const REFIRE: Duration = Duration::from_millis(10);

/// Take an exclusive lock on `fd`, waiting at most `timeout`. `Ok(true)`:
/// locked; `Ok(false)`: still locked by someone else at the deadline.
pub fn lock_exclusive(fd: BorrowedFd<'_>, timeout: Duration) -> Result<bool, Errno> {
    match flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => return Ok(true),
        Err(Errno::WOULDBLOCK) => {}
        Err(e) => return Err(e),
    }
    let deadline = Instant::now() + timeout;
    let _alarm = ThreadAlarm::arm(timeout)?;
    loop {
        match flock(fd, FlockOperation::LockExclusive) {
            Ok(()) => return Ok(true),
            Err(Errno::INTR) => {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

extern "C" fn on_alarm(_signal: libc::c_int) {}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

fn alarm_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and write the local set; a
    // zeroed sigset_t is a valid value to start from.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        set
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// The armed state of steps 2 and 3; dropping it is step 5.
struct ThreadAlarm {
    old_action: libc::sigaction,
    old_mask: libc::sigset_t,
    timer: Option<libc::timer_t>,
}

impl ThreadAlarm {
    fn arm(timeout: Duration) -> Result<ThreadAlarm, Errno> {
        let set = alarm_set();
        // SAFETY: a zeroed sigaction is a valid "default action, no flags"
        // value; we fill in the handler (a function that does nothing, so
        // it is async-signal-safe) and an empty mask. sigaction and
        // pthread_sigmask only read and write the local structures.
        let mut alarm = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0; // no SA_RESTART: flock must return EINTR
            let mut old_action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGALRM, &action, &mut old_action) != 0 {
                return Err(last_errno());
            }
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            let rc = libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, &mut old_mask);
            if rc != 0 {
                libc::sigaction(libc::SIGALRM, &old_action, std::ptr::null_mut());
                return Err(Errno::from_raw_os_error(rc));
            }
            ThreadAlarm {
                old_action,
                old_mask,
                timer: None,
            }
        };
        // From here on, dropping `alarm` undoes what was done.
        // SAFETY: a zeroed sigevent is valid; the fields set are those the
        // kernel reads for SIGEV_THREAD_ID. timer_create writes the timer
        // id into `timer`; timer_settime reads the local itimerspec.
        unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = libc::SIGALRM;
            event.sigev_notify_thread_id = rustix::thread::gettid().as_raw_nonzero().get();
            let mut timer: libc::timer_t = std::ptr::null_mut();
            if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
                return Err(last_errno());
            }
            alarm.timer = Some(timer);
            let spec = libc::itimerspec {
                it_value: timespec(timeout.max(Duration::from_nanos(1))),
                it_interval: timespec(REFIRE),
            };
            if libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) != 0 {
                return Err(last_errno());
            }
        }
        Ok(alarm)
    }
}

impl Drop for ThreadAlarm {
    fn drop(&mut self) {
        let set = alarm_set();
        // SAFETY: the timer id came from timer_create and is deleted once;
        // the signal calls read and write local structures only. The old
        // action and mask are the ones saved in `arm`.
        unsafe {
            if let Some(timer) = self.timer.take() {
                libc::timer_delete(timer);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let zero = timespec(Duration::ZERO);
            while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGALRM {}
            libc::sigaction(libc::SIGALRM, &self.old_action, std::ptr::null_mut());
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn lock_file() -> (tempfile::NamedTempFile, std::fs::File, std::fs::File) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let a = std::fs::File::open(tmp.path()).unwrap();
        let b = std::fs::File::open(tmp.path()).unwrap();
        (tmp, a, b)
    }

    fn current_action() -> libc::sighandler_t {
        // SAFETY: reads the current action into a local.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGALRM, std::ptr::null(), &mut old);
            old.sa_sigaction
        }
    }

    fn alarm_blocked() -> bool {
        // SAFETY: reads the thread's mask into a local.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGALRM) == 1
        }
    }

    // One test, so that no other test of this process changes SIGALRM's
    // action at the same time under a threaded test runner.
    #[test]
    fn waits_times_out_and_leaves_signals_as_they_were() {
        let (_tmp, a, b) = lock_file();
        let before = current_action();
        assert!(lock_exclusive(a.as_fd(), Duration::from_secs(1)).unwrap());

        let start = Instant::now();
        assert!(!lock_exclusive(b.as_fd(), Duration::from_millis(50)).unwrap());
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(current_action(), before);
        assert!(!alarm_blocked());

        // A caller that blocks SIGALRM still gets its timeout, and its mask back.
        let set = alarm_set();
        // SAFETY: changes this thread's mask from a local set.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        assert!(!lock_exclusive(b.as_fd(), Duration::from_millis(30)).unwrap());
        assert!(alarm_blocked());
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };

        // Woken as soon as the holder lets go.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(a);
        });
        let start = Instant::now();
        assert!(lock_exclusive(b.as_fd(), Duration::from_secs(20)).unwrap());
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(90), "{waited:?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        holder.join().unwrap();
        assert_eq!(current_action(), before);
    }
}
