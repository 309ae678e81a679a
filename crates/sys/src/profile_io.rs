//! Mount profile files on disk (spec §1.5): `/var/lib/snapd/mount/*.fstab`
//! (desired) and `/run/snapd/ns/*.fstab` (current).
//!
//! Loading: a missing file is an empty profile. Saving is atomic: the text
//! goes to a fresh temporary file in the same directory, which is synced,
//! given mode 0644 and renamed over the target; then the directory is synced.
//! A reader therefore sees the old profile or the new one, never a mix, and a
//! failed save leaves no temporary file behind.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags};
use snapcell_core::entry::ParseError;
use snapcell_core::profile::Profile;

/// The mode of a saved profile.
const PROFILE_MODE: u32 = 0o644;

/// How often to try another temporary name when one is taken.
const TEMP_ATTEMPTS: u32 = 64;

/// Why a profile could not be loaded or saved. Each message says what could
/// not be done, to which file, and why.
#[derive(Debug, thiserror::Error)]
pub enum ProfileIoError {
    /// The file exists (or may exist) but could not be read.
    #[error("cannot read mount profile {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// A line is not UTF-8 text.
    #[error("{}:{line}: invalid UTF-8 in mount profile", path.display())]
    InvalidUtf8 { path: PathBuf, line: usize },
    /// A line is not a mount entry.
    #[error("{}:{line}: {error}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        error: ParseError,
    },
    /// The profile could not be written; `step` says which step failed.
    #[error("cannot write mount profile {}: {step}: {error}", path.display())]
    Write {
        path: PathBuf,
        step: String,
        error: io::Error,
    },
}

/// Read the profile at `path`. A missing file is an empty profile; any other
/// failure to read, text that is not UTF-8 and a line that is not a mount
/// entry are errors naming the file (and the 1-based line).
pub fn load_profile(path: &Path) -> Result<Profile, ProfileIoError> {
    parse_profile_text(path, &read_profile_text(path)?)
}

/// The text of the profile at `path`, unparsed (`""` for a missing file);
/// errors as [`load_profile`]'s, but for the lines' syntax.
pub fn read_profile_text(path: &Path) -> Result<String, ProfileIoError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => {
            return Err(ProfileIoError::Read {
                path: path.to_owned(),
                error,
            });
        }
    };
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        ProfileIoError::InvalidUtf8 {
            path: path.to_owned(),
            line: line_of(e.as_bytes(), offset),
        }
    })
}

/// Parse `text`, read from `path` by [`read_profile_text`]: the rest of
/// [`load_profile`].
pub fn parse_profile_text(path: &Path, text: &str) -> Result<Profile, ProfileIoError> {
    Profile::parse(text).map_err(|e| ProfileIoError::Parse {
        path: path.to_owned(),
        line: e.line,
        error: e.error,
    })
}

/// The 1-based number of the line holding byte `offset`, counting lines as
/// [`Profile::parse`] does (split at `\n`).
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Write `profile` to `path` atomically, with mode 0644.
///
/// The temporary file is created next to the target with `O_CREAT|O_EXCL|
/// O_NOFOLLOW` under a fresh name (an existing file or symlink of that name is
/// never opened), relative to a descriptor of the directory so that it and
/// the final rename are certainly in the same directory. Its mode is set with
/// `fchmod` before it is synced, so neither the umask nor a crash can leave a
/// profile with another mode. A symlink at `path` is replaced, not followed.
pub fn save_profile(path: &Path, profile: &Profile) -> Result<(), ProfileIoError> {
    save_profile_text(path, &profile.to_string())
}

/// [`save_profile`] of a profile already written as text (`Profile`'s
/// `Display`).
pub fn save_profile_text(path: &Path, text: &str) -> Result<(), ProfileIoError> {
    let fail = |step: String, error: io::Error| ProfileIoError::Write {
        path: path.to_owned(),
        step,
        error,
    };
    let Some((dir, name)) = split(path) else {
        return Err(fail(
            "the path does not name a file".to_owned(),
            io::Error::from(io::ErrorKind::InvalidInput),
        ));
    };
    let dir_fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(format!("cannot open directory {}", dir.display()), e.into()))?;

    let (temp_name, temp_fd) = create_temp(&dir_fd, name).map_err(|e| {
        fail(
            format!("cannot create a temporary file in {}", dir.display()),
            e,
        )
    })?;
    let temp_path = dir.join(&temp_name);

    let written = write_and_sync(temp_fd, text.as_bytes())
        .map_err(|(what, e)| fail(format!("cannot {what} {}", temp_path.display()), e))
        .and_then(|()| {
            rustix::fs::renameat(&dir_fd, &temp_name, &dir_fd, name).map_err(|e| {
                fail(
                    format!("cannot rename {} over it", temp_path.display()),
                    e.into(),
                )
            })
        });
    if let Err(e) = written {
        // Best effort: the error that matters is the one already at hand.
        let _ = rustix::fs::unlinkat(&dir_fd, &temp_name, AtFlags::empty());
        return Err(e);
    }
    rustix::fs::fsync(&dir_fd)
        .map_err(|e| fail(format!("cannot sync directory {}", dir.display()), e.into()))
}

/// The directory holding `path` (`.` for a bare name) and the file's name,
/// or `None` where the path does not end in a name (`/`, `x/..`).
fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some((dir, name))
}

/// Create a new file `.NAME.UNIQUE~` in `dir_fd`, trying other names while
/// the chosen one exists.
fn create_temp(dir_fd: &OwnedFd, name: &OsStr) -> io::Result<(OsString, OwnedFd)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..TEMP_ATTEMPTS {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(
            ".{}.{}.{nanos:08x}~",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match rustix::fs::openat(
            dir_fd,
            &temp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((temp, fd)),
            Err(rustix::io::Errno::EXIST) => last = rustix::io::Errno::EXIST.into(),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last)
}

/// Set the mode, write everything and sync. On error, says which of these
/// failed.
fn write_and_sync(fd: OwnedFd, data: &[u8]) -> Result<(), (&'static str, io::Error)> {
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(PROFILE_MODE))
        .map_err(|e| ("set the mode of", e.into()))?;
    let mut file = File::from(fd);
    file.write_all(data).map_err(|e| ("write to", e))?;
    file.sync_all().map_err(|e| ("sync", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapcell_core::entry::MountEntry;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn sample() -> Profile {
        Profile::parse(
            "/snap/a/1/x /usr/share/x none bind,ro 0 0\n\
             tmpfs /var/lib/with\\040space tmpfs x-snapd.origin=layout,mode=0755 0 0\n\
             none /etc/y none x-snapd.kind=symlink,x-snapd.symlink=/snap/a/1/y 0 0\n",
        )
        .unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.a.fstab");
        let profile = sample();
        save_profile(&path, &profile).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), profile.to_string());
        assert_eq!(load_profile(&path).unwrap(), profile);
        assert_eq!(names(dir.path()), vec!["snap.a.fstab"]);
    }

    #[test]
    fn empty_profile_is_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        save_profile(&path, &Profile::default()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        assert_eq!(load_profile(&path).unwrap(), Profile::default());
    }

    #[test]
    fn saving_replaces_the_old_profile_and_sets_mode_0644() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        std::fs::write(&path, "old junk that is not a profile\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let profile = Profile::from(vec![MountEntry::parse("a /b c").unwrap()]);
        save_profile(&path, &profile).unwrap();
        assert_eq!(mode(&path), 0o644);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a /b c defaults 0 0\n"
        );
        assert_eq!(names(dir.path()), vec!["p.fstab"]);
    }

    #[test]
    fn a_new_profile_has_mode_0644() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        save_profile(&path, &sample()).unwrap();
        assert_eq!(mode(&path), 0o644);
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("p.fstab");
        symlink(&victim, &path).unwrap();
        save_profile(&path, &sample()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(load_profile(&path).unwrap(), sample());
    }

    #[test]
    fn a_path_with_dot_dot_saves_beside_the_resolved_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/../p.fstab");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        save_profile(&path, &sample()).unwrap();
        assert_eq!(load_profile(&dir.path().join("p.fstab")).unwrap(), sample());
        assert_eq!(names(dir.path()), vec!["p.fstab", "sub"]);
        assert!(names(&dir.path().join("sub")).is_empty());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        // Checked on the split alone: changing the current directory would
        // disturb other tests running in parallel.
        assert_eq!(
            split(Path::new("p.fstab")),
            Some((Path::new("."), OsStr::new("p.fstab")))
        );
        assert_eq!(
            split(Path::new("/run/snapd/ns/snap.a.fstab")),
            Some((Path::new("/run/snapd/ns"), OsStr::new("snap.a.fstab")))
        );
        assert_eq!(split(Path::new("/")), None);
        assert_eq!(split(Path::new("a/..")), None);
    }

    #[test]
    fn a_missing_file_is_an_empty_profile() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load_profile(&dir.path().join("nope.fstab")).unwrap(),
            Profile::default()
        );
        // Also when the directory is missing.
        assert_eq!(
            load_profile(&dir.path().join("nodir/nope.fstab")).unwrap(),
            Profile::default()
        );
    }

    #[test]
    fn other_read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_profile(dir.path()).unwrap_err();
        assert!(matches!(err, ProfileIoError::Read { .. }));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot read mount profile {}: ",
                dir.path().display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_line_is_reported_with_path_and_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        std::fs::write(&path, "# comment\na b c\n\nd e f g h i j\n").unwrap();
        let err = load_profile(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:4: expected between 3 and 6 fields, found 7",
                path.display()
            )
        );
        std::fs::write(&path, "a b c d x\n").unwrap();
        assert_eq!(
            load_profile(&path).unwrap_err().to_string(),
            format!("{}:1: cannot parse dump frequency: \"x\"", path.display())
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_path_and_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        std::fs::write(&path, b"a b c\n\nd /caf\xe9 f\n").unwrap();
        let err = load_profile(&path).unwrap_err();
        assert!(matches!(err, ProfileIoError::InvalidUtf8 { line: 3, .. }));
        assert_eq!(
            err.to_string(),
            format!("{}:3: invalid UTF-8 in mount profile", path.display())
        );
    }

    #[test]
    fn saving_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodir/p.fstab");
        let err = save_profile(&path, &sample()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("cannot write mount profile {}: ", path.display())),
            "{msg}"
        );
        assert!(msg.contains("cannot open directory"), "{msg}");
        match err {
            ProfileIoError::Write { error, .. } => {
                assert_eq!(error.kind(), io::ErrorKind::NotFound)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        // A non-empty directory at the target: the temporary file is created
        // and written, then the rename over the directory fails.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.fstab");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "x").unwrap();
        let msg = save_profile(&path, &sample()).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot write mount profile {}: cannot rename ",
                path.display()
            )),
            "{msg}"
        );
        assert_eq!(names(dir.path()), vec!["p.fstab"]);
        assert_eq!(names(&path), vec!["inside"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let msg = save_profile(Path::new("/"), &sample())
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("cannot write mount profile /: the path does not name a file: "),
            "{msg}"
        );
    }

    #[test]
    fn temporary_names_are_fresh_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let dir_fd = rustix::fs::open(
            dir.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let (a, _fa) = create_temp(&dir_fd, OsStr::new("p.fstab")).unwrap();
        let (b, _fb) = create_temp(&dir_fd, OsStr::new("p.fstab")).unwrap();
        assert_ne!(a, b);
        for n in [&a, &b] {
            let n = n.to_str().unwrap();
            assert!(n.starts_with(".p.fstab.") && n.ends_with('~'), "{n}");
        }
    }
}
