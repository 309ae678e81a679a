//! The caller's umask and working directory, saved at start and restored
//! just before exec (spec §6.3 steps 1 and 8), and the void directory used
//! when the working directory cannot be restored.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::{HygieneError, path_err, syscall_err};

/// The umask and working directory of the caller, saved at start and
/// restored just before exec (spec §6.3 steps 1 and 8).
#[derive(Debug)]
pub struct ProcessState {
    umask: Mode,
    cwd: OwnedFd,
    cwd_dev: u64,
    cwd_ino: u64,
}

/// Where [`ProcessState::restore`] left the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CwdRestore {
    /// The original path, and it is the same directory as before.
    Same(PathBuf),
    /// The original path, but inside the sandbox it is another directory
    /// (e.g. `/tmp`, which is private).
    Reinterpreted(PathBuf),
    /// The original path cannot be used (missing, or not accessible to the
    /// real user); the process is in the void directory.
    Void { original: PathBuf },
}

impl ProcessState {
    /// Set the umask to 0 (objects are created with explicit modes), keep an
    /// `O_PATH` descriptor of the working directory and move to `/`.
    pub fn capture() -> Result<Self, HygieneError> {
        let umask = rustix::process::umask(Mode::empty());
        let cwd = rustix::fs::open(
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(syscall_err("open path of the current working directory"))?;
        let st = rustix::fs::fstat(&cwd)
            .map_err(syscall_err("stat path of the current working directory"))?;
        rustix::process::chdir("/").map_err(syscall_err("move to /"))?;
        Ok(Self {
            umask,
            cwd,
            cwd_dev: st.st_dev,
            cwd_ino: st.st_ino,
        })
    }

    /// The umask the process had at [`capture`](Self::capture).
    pub fn original_umask(&self) -> u32 {
        self.umask.bits()
    }

    /// Restore the umask, then the working directory: read the original
    /// path from the saved descriptor, open that *path* in the current
    /// (sandbox) mount namespace with `O_PATH|O_DIRECTORY|O_NOFOLLOW` and
    /// `fchdir` to it. Call after the privilege drop, so that permissions
    /// are the real user's (CVE-2019-11503). On `ENOENT`/`EACCES`/`EPERM`
    /// from the open, `EACCES`/`EPERM` from `fchdir`, or a path that is not
    /// absolute (e.g. `(unreachable)`), move to `void_dir` (`snapcell_core::dirs::VOID_DIR`),
    /// creating it (0111 root:root) if missing — which needs root, so call
    /// [`ensure_void_dir`] earlier. Other errors are returned.
    pub fn restore(&self, void_dir: &Path) -> Result<CwdRestore, HygieneError> {
        rustix::process::umask(self.umask);
        let link = PathBuf::from(format!("/proc/self/fd/{}", self.cwd.as_raw_fd()));
        let original = std::fs::read_link(&link).map_err(|e| HygieneError::Path {
            what: "read symbolic link target",
            path: link.clone(),
            err: Errno::from_io_error(&e).unwrap_or(Errno::IO),
        })?;
        if !original.is_absolute() {
            return to_void(void_dir, original);
        }
        let inner = match rustix::fs::open(
            &original,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::ACCESS | Errno::PERM) => return to_void(void_dir, original),
            Err(err) => {
                return Err(HygieneError::Path {
                    what: "open path of the original working directory",
                    path: original,
                    err,
                });
            }
        };
        let st = rustix::fs::fstat(&inner).map_err(path_err("stat", &original))?;
        match rustix::process::fchdir(&inner) {
            Ok(()) => {}
            Err(Errno::ACCESS | Errno::PERM) => return to_void(void_dir, original),
            Err(err) => {
                return Err(HygieneError::Path {
                    what: "restore original working directory",
                    path: original,
                    err,
                });
            }
        }
        if st.st_dev == self.cwd_dev && st.st_ino == self.cwd_ino {
            Ok(CwdRestore::Same(original))
        } else {
            Ok(CwdRestore::Reinterpreted(original))
        }
    }
}

fn to_void(void_dir: &Path, original: PathBuf) -> Result<CwdRestore, HygieneError> {
    let fd = ensure_void_dir(void_dir)?;
    rustix::process::fchdir(&fd).map_err(path_err("move to void directory", void_dir))?;
    Ok(CwdRestore::Void { original })
}

/// Open the void directory, creating it (mode 0111, root:root) if missing,
/// as snap-confine does. Creating needs root.
pub fn ensure_void_dir(path: &Path) -> Result<OwnedFd, HygieneError> {
    let flags = OFlags::DIRECTORY | OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(err) => return Err(path_err("open the void directory", path)(err)),
    }
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o111)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(err) => return Err(path_err("create void directory", path)(err)),
    }
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(path_err("open the void directory", path))?;
    // mkdir's mode went through the umask (restored to the caller's by
    // then); make it exact.
    rustix::fs::chmod(path, Mode::from_raw_mode(0o111))
        .map_err(path_err("change mode of void directory", path))?;
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::ROOT),
        Some(rustix::fs::Gid::ROOT),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(path_err("change ownership of void directory", path))?;
    Ok(fd)
}
