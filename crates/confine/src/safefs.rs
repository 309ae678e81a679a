//! Creating and opening the launcher's directories without following
//! symlinks, and checking who owns what (research §6.3).
//!
//! Rules: every path is walked from `/` one component at a time with
//! `O_NOFOLLOW`; a directory we create is created with `mkdirat`, opened
//! `O_NOFOLLOW`, and only then given its owner and mode through the
//! descriptor; a directory we did not create is never chowned, chmodded or
//! renamed, only checked.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags, fchmod, fchown, fstat, mkdirat, openat};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use crate::error::{Error, Result, SysContext};

/// Flags for opening a directory we will work in.
pub const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The components of an absolute path (empty ones and `.` skipped); `..` is
/// refused.
pub fn components(path: &str) -> Result<Vec<&str>> {
    if !path.starts_with('/') {
        return Err(Error::new(format!("{path} is not an absolute path")));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Error::new(format!("{path} contains \"..\"")));
    }
    Ok(parts)
}

/// Open the directory at `path` (absolute), refusing a symlink anywhere.
pub fn open_dir(path: &str) -> Result<OwnedFd> {
    open_dir_errno(path).or_die(|| format!("cannot open directory {path}"))
}

/// [`open_dir`] with the bare errno (`ENOENT` when something is missing,
/// `ELOOP`/`ENOTDIR` for a symlink or a non-directory on the way).
pub fn open_dir_errno(path: &str) -> std::result::Result<OwnedFd, Errno> {
    let parts = components(path).map_err(|_| Errno::INVAL)?;
    let mut fd = rustix::fs::open("/", DIR_FLAGS, Mode::empty())?;
    for part in parts {
        fd = openat(&fd, part, DIR_FLAGS, Mode::empty())?;
    }
    Ok(fd)
}

/// `mkdirat(parent, name, mode)`; then open it without following symlinks.
/// If we made it, give it `uid:gid` and exactly `mode` (the umask and a
/// non-root group of a set-user-ID caller do not leak in). Returns the
/// descriptor and whether it was made now.
pub fn mkdir_open(
    parent: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    uid: u32,
    gid: u32,
) -> std::result::Result<(OwnedFd, bool), Errno> {
    let created = match mkdirat(parent, name, Mode::from_raw_mode(mode)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(e),
    };
    let fd = openat(parent, name, DIR_FLAGS, Mode::empty())?;
    if created {
        fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
        fchmod(&fd, Mode::from_raw_mode(mode))?;
    }
    Ok((fd, created))
}

/// Make every missing directory of `path` (mode `mode`, root-owned) and
/// open the last one; existing components are walked, never changed.
pub fn mkdir_all(path: &str, mode: u32) -> Result<OwnedFd> {
    let parts = components(path)?;
    let mut fd =
        rustix::fs::open("/", DIR_FLAGS, Mode::empty()).or_die(|| "cannot open /".to_owned())?;
    let mut so_far = String::new();
    for part in parts {
        so_far.push('/');
        so_far.push_str(part);
        fd = mkdir_open(fd.as_fd(), part, mode, 0, 0)
            .or_die(|| format!("cannot create directory {so_far}"))?
            .0;
    }
    Ok(fd)
}

/// Check that `fd` is a directory owned by `uid:gid` with exactly `mode`
/// (permission bits with setuid, setgid and sticky).
pub fn verify_dir(fd: BorrowedFd<'_>, path: &str, uid: u32, gid: u32, mode: u32) -> Result<()> {
    let st = fstat(fd).or_die(|| format!("cannot inspect {path}"))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(Error::new(format!("{path} is not a directory")));
    }
    let have_mode = st.st_mode & 0o7777;
    if st.st_uid != uid || st.st_gid != gid {
        return Err(Error::new(format!(
            "{path} is owned by {}:{}, expected {uid}:{gid}",
            st.st_uid, st.st_gid
        )));
    }
    if have_mode != mode {
        return Err(Error::new(format!(
            "{path} has mode {have_mode:04o}, expected {mode:04o}"
        )));
    }
    Ok(())
}

/// Check that the directory holding a program we trust (and every
/// directory above it) cannot be changed by anyone but root: owned by root
/// and not writable by group or others, except that a sticky directory
/// (like `/var/tmp`) may be writable by all, since nobody but root can then
/// rename or remove a root-owned entry in it.
pub fn verify_trusted_dir(path: &str) -> Result<()> {
    let parts = components(path)?;
    let mut fd =
        rustix::fs::open("/", DIR_FLAGS, Mode::empty()).or_die(|| "cannot open /".to_owned())?;
    let mut so_far = String::from("/");
    let check = |fd: &OwnedFd, shown: &str, last: bool| -> Result<()> {
        let st = fstat(fd).or_die(|| format!("cannot inspect {shown}"))?;
        let writable = st.st_mode & 0o022 != 0;
        let sticky = st.st_mode & 0o1000 != 0;
        if st.st_uid != 0 || (writable && (last || !sticky)) {
            return Err(Error::new(format!(
                "{shown} can be modified by users other than root (owner {}, mode {:04o})",
                st.st_uid,
                st.st_mode & 0o7777
            )));
        }
        Ok(())
    };
    check(&fd, "/", parts.is_empty())?;
    for (i, part) in parts.iter().enumerate() {
        fd = openat(&fd, *part, DIR_FLAGS, Mode::empty())
            .or_die(|| format!("cannot open directory {so_far}{part}"))?;
        if !so_far.ends_with('/') {
            so_far.push('/');
        }
        so_far.push_str(part);
        check(&fd, &so_far, i + 1 == parts.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_relative_paths_and_dotdot() {
        assert_eq!(components("/a//b/./c/").unwrap(), ["a", "b", "c"]);
        assert!(components("a/b").is_err());
        assert!(components("/a/../b").is_err());
        assert!(components("/").unwrap().is_empty());
    }

    #[test]
    fn open_dir_refuses_symlinks_on_the_way() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let base = tmp.path().to_str().unwrap();
        assert!(open_dir(&format!("{base}/real")).is_ok());
        let err = open_dir_errno(&format!("{base}/link")).unwrap_err();
        assert!(err == Errno::LOOP || err == Errno::NOTDIR, "{err}");
    }

    #[test]
    fn mkdir_open_sets_exact_mode_only_on_what_it_made() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = open_dir(tmp.path().to_str().unwrap()).unwrap();
        let old = rustix::process::umask(Mode::from_raw_mode(0o077));
        let (fd, made) = mkdir_open(parent.as_fd(), "d", 0o1777, 0, 0).unwrap();
        rustix::process::umask(old);
        assert!(made);
        verify_dir(fd.as_fd(), "d", 0, 0, 0o1777).unwrap();
        // Existing: left alone.
        std::fs::create_dir(tmp.path().join("e")).unwrap();
        rustix::fs::chmod(tmp.path().join("e"), Mode::from_raw_mode(0o700)).unwrap();
        let (fd, made) = mkdir_open(parent.as_fd(), "e", 0o755, 0, 0).unwrap();
        assert!(!made);
        let err = verify_dir(fd.as_fd(), "e", 0, 0, 0o755).unwrap_err();
        assert_eq!(err.to_string(), "e has mode 0700, expected 0755");
        // A symlink in its place is refused, not followed.
        std::os::unix::fs::symlink("/etc", tmp.path().join("l")).unwrap();
        assert!(mkdir_open(parent.as_fd(), "l", 0o755, 0, 0).is_err());
    }
}
