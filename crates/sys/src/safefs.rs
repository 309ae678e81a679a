//! Safe file-system primitives: walking from `/` one component at a time
//! without following symbolic links, creating directories with an exact
//! owner and mode, checking who owns what and who may change it, and
//! opening trusted directories and files (research §6.3).
//!
//! Rules: every path is walked from `/` one component at a time with
//! `O_NOFOLLOW`; a directory we create is created with `mkdirat`, opened
//! `O_NOFOLLOW`, and only then given its owner and mode through the
//! descriptor; a directory we did not create is never chowned, chmodded or
//! renamed, only checked.
//!
//! Which names a path is made of is core's rule
//! ([`snapcell_core::paths::components`]). Users: snap-confine's launcher
//! (its directories under `/run/snapd`, `/tmp` and `/var/lib/snapd`, and the
//! check of its own directory against CVE-2021-44730), and the seccomp
//! profile loader ([`crate::seccomp`], snapd's `validate_bpfpath_is_safe`).
//! [`crate::live::LiveSystem`] resolves paths its own way (`openat2`, with a
//! cache of directory descriptors).
//!
//! Messages are snap-confine's words (`cannot open directory
//! /run/snapd/ns: ...`), with the errno as the rest of this crate prints it
//! (`No such file or directory (os error 2)`); [`Error::failed_call`] gives
//! what was being done and the errno apart, for callers that print the errno
//! their own way (snap-confine prints the C library's text).

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, Stat, fchmod, fchown, fstat, mkdirat, openat, statat,
};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use snapcell_core::paths::{PathError, components};

/// Flags for opening a directory we will work in.
pub const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What was being done when a system call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Opening `/` or a file.
    Open,
    /// Opening a directory below `/`.
    OpenDir,
    /// Creating (and opening, owning, moding) a directory.
    Create,
    /// `fstat`.
    Inspect,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Open => "cannot open",
            Op::OpenDir => "cannot open directory",
            Op::Create => "cannot create directory",
            Op::Inspect => "cannot inspect",
        })
    }
}

/// What stands where something was to be opened without following
/// symbolic links, when that failed with `ELOOP`, `ENOTDIR` or `EMLINK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obstacle {
    Symlink,
    NotDirectory,
}

/// Why a directory or file is not trusted ([`Trust`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distrust {
    /// Not owned by root (or, under [`Trust::RootStrict`], by group root).
    Owner,
    /// Writable by group or others.
    Writable,
}

/// Why a safe file-system operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The path cannot be walked from `/`.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A system call failed on `path` (the path walked so far, for a walk).
    #[error("{op} {}: {errno}", .path.display())]
    Sys {
        op: Op,
        path: PathBuf,
        errno: Errno,
        /// What stands in the way, if an open failed on something other
        /// than a directory (see [`Obstacle`]); only walks tell.
        obstacle: Option<Obstacle>,
    },
    #[error("{} is not a directory", .path.display())]
    NotDirectory { path: PathBuf },
    #[error("{} is not a regular file", .path.display())]
    NotRegularFile { path: PathBuf },
    #[error("{} is owned by {uid}:{gid}, expected {want_uid}:{want_gid}", .path.display())]
    WrongOwner {
        path: PathBuf,
        uid: u32,
        gid: u32,
        want_uid: u32,
        want_gid: u32,
    },
    #[error("{} has mode {mode:04o}, expected {want:04o}", .path.display())]
    WrongMode { path: PathBuf, mode: u32, want: u32 },
    /// Fails a [`Trust`] rule; `mode` is the permission bits with setuid,
    /// setgid and sticky.
    #[error(
        "{} can be modified by users other than root (owner {uid}, mode {mode:04o})",
        .path.display()
    )]
    Untrusted {
        path: PathBuf,
        uid: u32,
        gid: u32,
        mode: u32,
        why: Distrust,
    },
}

impl Error {
    fn sys(op: Op, path: impl Into<PathBuf>, errno: Errno) -> Error {
        Error::Sys {
            op,
            path: path.into(),
            errno,
            obstacle: None,
        }
    }

    /// For a failed system call: what was being done, to what (`cannot
    /// open directory /run/snapd/ns`), and the errno.
    pub fn failed_call(&self) -> Option<(String, Errno)> {
        match self {
            Error::Sys {
                op, path, errno, ..
            } => Some((format!("{op} {}", path.display()), *errno)),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Who may change a directory or file for it to be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// snapd's `validate_path_has_strict_perms`, made a little stricter:
    /// owned by root:root and writable by neither group nor others (seccomp
    /// profiles and every directory above them).
    RootStrict,
    /// Only root can change it: owned by root and not writable by group or
    /// others, except that a sticky directory above the last one (like
    /// `/var/tmp`) may be writable by all, since nobody but root can then
    /// rename or remove a root-owned entry in it (snap-confine's own
    /// directory).
    RootOnly,
}

/// Check the status `st` of `path` against `trust`. `last` says whether it
/// is the object itself rather than a directory above it (the sticky
/// exception of [`Trust::RootOnly`] holds only above it).
pub fn check_trusted(path: &Path, st: &Stat, trust: Trust, last: bool) -> Result<()> {
    let mode = st.st_mode & 0o7777;
    let writable = mode & 0o022 != 0;
    let why = match trust {
        Trust::RootStrict if st.st_uid != 0 || st.st_gid != 0 => Some(Distrust::Owner),
        Trust::RootStrict if writable => Some(Distrust::Writable),
        Trust::RootStrict => None,
        Trust::RootOnly if st.st_uid != 0 => Some(Distrust::Owner),
        Trust::RootOnly if writable && (last || mode & 0o1000 == 0) => Some(Distrust::Writable),
        Trust::RootOnly => None,
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::Untrusted {
            path: path.to_owned(),
            uid: st.st_uid,
            gid: st.st_gid,
            mode,
            why,
        }),
    }
}

/// An open of `name` in `parent` (at `path`) failed with `errno`: say so,
/// and what stands in the way if it is a symlink or not a directory.
fn open_failed(parent: BorrowedFd<'_>, name: &OsStr, op: Op, path: &Path, errno: Errno) -> Error {
    let mut obstacle = None;
    if matches!(errno, Errno::LOOP | Errno::NOTDIR | Errno::MLINK)
        && let Ok(st) = statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
    {
        obstacle = match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => Some(Obstacle::Symlink),
            FileType::Directory => None,
            _ => Some(Obstacle::NotDirectory),
        };
    }
    Error::Sys {
        op,
        path: path.to_owned(),
        errno,
        obstacle,
    }
}

/// Open the directory at `path` (absolute), refusing a symlink anywhere.
pub fn open_dir(path: &str) -> Result<OwnedFd> {
    open_dir_errno(path).map_err(|errno| Error::sys(Op::OpenDir, path, errno))
}

/// [`open_dir`] with the bare errno (`ENOENT` when something is missing,
/// `ELOOP`/`ENOTDIR` for a symlink or a non-directory on the way, `EINVAL`
/// for a path that cannot be walked).
pub fn open_dir_errno(path: &str) -> std::result::Result<OwnedFd, Errno> {
    let parts = components(path).map_err(|_| Errno::INVAL)?;
    // One openat2 refusing symbolic links in every component does what the
    // walk below does in one system call (snap-confine opens a few such
    // directories on every launch). A missing component is ENOENT either
    // way; on any other failure (a symbolic link or a file on the way, an
    // older kernel) the walk runs, so the errno is the walk's.
    match rustix::fs::openat2(
        rustix::fs::CWD,
        path,
        DIR_FLAGS,
        Mode::empty(),
        rustix::fs::ResolveFlags::NO_SYMLINKS | rustix::fs::ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => return Err(Errno::NOENT),
        Err(_) => {}
    }
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
    let made = |fd: &OwnedFd| -> std::result::Result<(), Errno> {
        fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
        fchmod(fd, Mode::from_raw_mode(mode))
    };
    let result = openat(parent, name, DIR_FLAGS, Mode::empty()).and_then(|fd| {
        if created {
            made(&fd).map(|()| fd)
        } else {
            Ok(fd)
        }
    });
    match result {
        Ok(fd) => Ok((fd, created)),
        Err(e) => {
            // A directory we made but could not finish (`EMFILE` under a low
            // RLIMIT_NOFILE) would keep the caller's group and umask, and be
            // refused by every later check: remove it, so the next attempt
            // starts clean (found by the adversarial suite, §8.17).
            if created {
                let _ = rustix::fs::unlinkat(parent, name, rustix::fs::AtFlags::REMOVEDIR);
            }
            Err(e)
        }
    }
}

/// Make every missing directory of `path` (mode `mode`, root-owned) and
/// open the last one; existing components are walked, never changed.
pub fn mkdir_all(path: &str, mode: u32) -> Result<OwnedFd> {
    let parts = components(path)?;
    let mut fd = rustix::fs::open("/", DIR_FLAGS, Mode::empty())
        .map_err(|errno| Error::sys(Op::Open, "/", errno))?;
    let mut so_far = String::new();
    for part in parts {
        so_far.push('/');
        so_far.push_str(part);
        fd = mkdir_open(fd.as_fd(), part, mode, 0, 0)
            .map_err(|errno| Error::sys(Op::Create, &so_far, errno))?
            .0;
    }
    Ok(fd)
}

/// Check that `fd` is a directory owned by `uid:gid` with exactly `mode`
/// (permission bits with setuid, setgid and sticky).
pub fn verify_dir(fd: BorrowedFd<'_>, path: &str, uid: u32, gid: u32, mode: u32) -> Result<()> {
    let st = fstat(fd).map_err(|errno| Error::sys(Op::Inspect, path, errno))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(Error::NotDirectory { path: path.into() });
    }
    let have_mode = st.st_mode & 0o7777;
    if st.st_uid != uid || st.st_gid != gid {
        return Err(Error::WrongOwner {
            path: path.into(),
            uid: st.st_uid,
            gid: st.st_gid,
            want_uid: uid,
            want_gid: gid,
        });
    }
    if have_mode != mode {
        return Err(Error::WrongMode {
            path: path.into(),
            mode: have_mode,
            want: mode,
        });
    }
    Ok(())
}

/// Open the directory `path` (absolute) from `/` one component at a time
/// with `flags` (and `O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC`), never following a
/// symlink, and check `/` and every directory on the way against `trust`.
///
/// A `..` is refused when the walk reaches it. Errors name the directory
/// the walk had reached: [`Error::Sys`] (`Open` for `/`, `OpenDir` with the
/// [`Obstacle`] below it, `Inspect`), [`Error::Untrusted`].
pub fn open_trusted_dir(path: &Path, flags: OFlags, trust: Trust) -> Result<OwnedFd> {
    if !path.is_absolute() {
        return Err(PathError::NotAbsolute(path.display().to_string()).into());
    }
    let flags = flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if let Some(fd) = open_trusted_dir_at_once(path, flags, trust) {
        return Ok(fd);
    }
    open_trusted_dir_walk(path, flags, trust)
}

/// The walk of [`open_trusted_dir`], one component at a time (`flags`
/// complete, `path` absolute).
fn open_trusted_dir_walk(path: &Path, flags: OFlags, trust: Trust) -> Result<OwnedFd> {
    let mut shown = PathBuf::from("/");
    let mut fd = rustix::fs::open("/", flags, Mode::empty())
        .map_err(|errno| Error::sys(Op::Open, &shown, errno))?;
    let mut names = path
        .components()
        .filter(|c| *c != Component::RootDir)
        .peekable();
    check_trusted_fd(&fd, &shown, trust, names.peek().is_none())?;
    while let Some(comp) = names.next() {
        let Component::Normal(name) = comp else {
            return Err(PathError::DotDot(path.display().to_string()).into());
        };
        shown.push(name);
        fd = openat(&fd, name, flags, Mode::empty())
            .map_err(|errno| open_failed(fd.as_fd(), name, Op::OpenDir, &shown, errno))?;
        check_trusted_fd(&fd, &shown, trust, names.peek().is_none())?;
    }
    Ok(fd)
}

/// [`open_trusted_dir`] in fewer system calls, when everything is as it
/// should be: one `openat2` refusing symbolic links (as the walk refuses
/// them) opens the directory, and each directory above it is checked
/// through `..` from it (`fstatat(fd, "../..")`, one call a level instead
/// of an open, a stat and a close): the same objects the walk would reach,
/// since no component is a symbolic link and `..` of a mount's root is
/// the directory it is mounted on, as the walk went down. snap-confine opens
/// the seccomp directory on every launch (issue 11). `None` whenever this
/// cannot tell, or anything fails or is not trusted: then the walk runs and
/// says why, so errors are the walk's, in its order.
fn open_trusted_dir_at_once(path: &Path, flags: OFlags, trust: Trust) -> Option<OwnedFd> {
    let mut depth = 0;
    for comp in path.components() {
        match comp {
            Component::RootDir => {}
            Component::Normal(_) => depth += 1,
            _ => return None,
        }
    }
    let fd = rustix::fs::openat2(
        rustix::fs::CWD,
        path,
        flags,
        Mode::empty(),
        rustix::fs::ResolveFlags::NO_SYMLINKS | rustix::fs::ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    // From `/` down, as the walk checks: `depth` levels of `..` is `/`.
    let mut up = String::with_capacity(3 * depth);
    for level in (0..=depth).rev() {
        up.clear();
        for i in 0..level {
            up.push_str(if i == 0 { ".." } else { "/.." });
        }
        let st = if level == 0 {
            fstat(&fd).ok()?
        } else {
            statat(&fd, up.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()?
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return None;
        }
        check_trusted(path, &st, trust, level == 0).ok()?;
    }
    Some(fd)
}

fn check_trusted_fd(fd: &OwnedFd, path: &Path, trust: Trust, last: bool) -> Result<()> {
    let st = fstat(fd).map_err(|errno| Error::sys(Op::Inspect, path, errno))?;
    check_trusted(path, &st, trust, last)
}

/// Open the file `name` in the directory `dir` (opened with
/// [`open_trusted_dir`]; `path` is the file's whole path, for messages)
/// with `flags` (and `O_NOFOLLOW|O_CLOEXEC`): no symlink, a regular file,
/// passing `trust`. Errors: [`Error::Sys`] (`Open` with the [`Obstacle`],
/// `ENOENT` if it does not exist; `Inspect`), [`Error::NotRegularFile`],
/// [`Error::Untrusted`].
pub fn open_trusted_file(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    flags: OFlags,
    trust: Trust,
) -> Result<OwnedFd> {
    let fd = openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| open_failed(dir, OsStr::new(name), Op::Open, path, errno))?;
    let st = fstat(&fd).map_err(|errno| Error::sys(Op::Inspect, path, errno))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Error::NotRegularFile {
            path: path.to_owned(),
        });
    }
    check_trusted(path, &st, trust, true)?;
    Ok(fd)
}

/// Check that the directory holding a program we trust (and every
/// directory above it) cannot be changed by anyone but root
/// ([`Trust::RootOnly`]).
pub fn verify_trusted_dir(path: &str) -> Result<()> {
    // Refuse a path that cannot be walked before opening anything.
    components(path)?;
    open_trusted_dir(Path::new(path), OFlags::RDONLY, Trust::RootOnly).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusted_open_at_once_opens_what_the_walk_opens_or_leaves_it_to_the_walk() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink("/usr", &link).unwrap();
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let link = link.to_str().unwrap();
        let cases = [
            ("/", Trust::RootStrict, true),
            ("/usr/lib", Trust::RootStrict, true),
            ("/usr/lib", Trust::RootOnly, true),
            // Writable by all (sticky): trusted only above the last one.
            ("/tmp", Trust::RootOnly, false),
            ("/tmp", Trust::RootStrict, false),
            ("/usr/../usr", Trust::RootStrict, false),
            ("/nonexistent/x", Trust::RootStrict, false),
            (link, Trust::RootOnly, false),
        ];
        for (path, trust, quick) in cases {
            let at_once = open_trusted_dir_at_once(Path::new(path), flags, trust);
            assert_eq!(at_once.is_some(), quick, "{path}");
            let walk = open_trusted_dir_walk(Path::new(path), flags, trust);
            assert_eq!(walk.is_ok(), quick, "{path}: {:?}", walk.err());
            if let (Some(a), Ok(w)) = (at_once, walk) {
                let (a, w) = (fstat(&a).unwrap(), fstat(&w).unwrap());
                assert_eq!((a.st_dev, a.st_ino), (w.st_dev, w.st_ino), "{path}");
            }
        }
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
    fn open_dir_errnos_are_the_walks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir_all(real.join("sub")).unwrap();
        std::fs::write(tmp.path().join("file"), "").unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let base = tmp.path().to_str().unwrap();
        assert!(open_dir(&format!("{base}/real/sub")).is_ok());
        // A symbolic link in the middle, as well as at the end.
        let err = open_dir_errno(&format!("{base}/link/sub")).unwrap_err();
        assert!(err == Errno::LOOP || err == Errno::NOTDIR, "{err}");
        assert_eq!(
            open_dir_errno(&format!("{base}/file")).unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(
            open_dir_errno(&format!("{base}/file/x")).unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(
            open_dir_errno(&format!("{base}/missing/x")).unwrap_err(),
            Errno::NOENT
        );
        assert_eq!(open_dir_errno("relative").unwrap_err(), Errno::INVAL);
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

    /// The two trust rules on a directory below the world-writable, sticky
    /// `/tmp` (skipped where the temporary directory is elsewhere).
    #[test]
    fn trusted_walks_check_every_directory_from_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        if tmp.path().parent() != Some(Path::new("/tmp")) {
            eprintln!("SKIPPED: the temporary directory is not in /tmp");
            return;
        }
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        rustix::fs::chmod(&dir, Mode::from_raw_mode(0o755)).unwrap();
        let shown = dir.to_str().unwrap();
        // Sticky /tmp above is fine for snap-confine's rule, not as the last.
        verify_trusted_dir(shown).unwrap();
        assert_eq!(
            verify_trusted_dir("/tmp").unwrap_err().to_string(),
            "/tmp can be modified by users other than root (owner 0, mode 1777)"
        );
        rustix::fs::chmod(&dir, Mode::from_raw_mode(0o757)).unwrap();
        assert_eq!(
            verify_trusted_dir(shown).unwrap_err().to_string(),
            format!("{shown} can be modified by users other than root (owner 0, mode 0757)")
        );
        // The strict rule refuses /tmp itself on the way.
        match open_trusted_dir(&dir, OFlags::PATH, Trust::RootStrict) {
            Err(Error::Untrusted { path, why, .. }) => {
                assert_eq!(path, Path::new("/tmp"));
                assert_eq!(why, Distrust::Writable);
            }
            other => panic!("{other:?}"),
        }
        rustix::fs::chmod(&dir, Mode::from_raw_mode(0o755)).unwrap();
        // A symlink on the way is named as such; a `..` is refused when met.
        std::os::unix::fs::symlink(&dir, tmp.path().join("l")).unwrap();
        match open_trusted_dir(&tmp.path().join("l/x"), OFlags::PATH, Trust::RootOnly) {
            Err(Error::Sys {
                op: Op::OpenDir,
                path,
                obstacle: Some(Obstacle::Symlink),
                ..
            }) => assert_eq!(path, tmp.path().join("l")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_trusted_dir(&tmp.path().join("d/../d"), OFlags::PATH, Trust::RootOnly),
            Err(Error::Path(PathError::DotDot(_)))
        ));
        assert!(matches!(
            verify_trusted_dir("tmp"),
            Err(Error::Path(PathError::NotAbsolute(_)))
        ));
    }
}
