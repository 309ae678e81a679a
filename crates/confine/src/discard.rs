//! snap-discard-ns (spec §6.8): unmount and remove a snap's preserved
//! namespaces and their files.

use std::ffi::OsString;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat, statat, unlinkat};
use rustix::io::Errno;
use rustix::mount::{UnmountFlags, unmount};
use snapcell_core::naming::validate_instance_name;
use snapcell_sys::debug;
use snapcell_sys::safefs::open_dir_errno;
use snapcell_sys::snaplock::{lock_snap, verify_snap_locked};

use crate::error::{Error, Result, SysContext};
use crate::helper::{NSFS_MAGIC, PROC_SUPER_MAGIC};
use snapcell_core::dirs::NS_DIR;

/// Usage text (printed, exit 0, for a wrong number of arguments).
pub const USAGE: &str = "usage: snap-discard-ns [--from-snap-confine] <SNAP-INSTANCE-NAME>\n";

/// What a file in `/run/snapd/ns` is to snap-discard-ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsFile {
    /// `INSTANCE.mnt` or `INSTANCE.*.mnt`: unmount, then remove.
    Namespace,
    /// `snap.INSTANCE.fstab`, `snap.INSTANCE.*.user-fstab`,
    /// `snap.INSTANCE.info`: remove.
    Profile,
}

/// `fnmatch(PREFIX*SUFFIX)` without special characters in the parts.
fn glob(name: &str, prefix: &str, suffix: &str) -> bool {
    name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
}

/// Classify a directory entry of `/run/snapd/ns` for `instance`.
pub fn classify(name: &str, instance: &str) -> Option<NsFile> {
    if name == format!("{instance}.mnt") || glob(name, &format!("{instance}."), ".mnt") {
        return Some(NsFile::Namespace);
    }
    let snap = format!("snap.{instance}");
    if name == format!("{snap}.fstab")
        || name == format!("{snap}.info")
        || name == format!("{snap}.landlock")
        || glob(name, &format!("{snap}."), ".user-fstab")
    {
        return Some(NsFile::Profile);
    }
    None
}

/// Remove the preserved namespaces and files of `instance` (the caller
/// holds the snap lock). A missing `/run/snapd/ns` is nothing to do.
pub fn discard_files(instance: &str) -> Result<()> {
    let dir = match open_dir_errno(NS_DIR) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("cannot open directory {NS_DIR}"), e)),
    };
    let mut names = Vec::new();
    let reader =
        rustix::fs::Dir::read_from(&dir).or_die(|| format!("cannot read directory {NS_DIR}"))?;
    for entry in reader {
        let entry = entry.or_die(|| format!("cannot read directory {NS_DIR}"))?;
        if let Ok(name) = entry.file_name().to_str()
            && let Some(kind) = classify(name, instance)
        {
            names.push((name.to_owned(), kind));
        }
    }
    for (name, kind) in names {
        let path = format!("{NS_DIR}/{name}");
        let st = match statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(Error::sys(format!("cannot inspect {path}"), e)),
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            debug!("leaving {path} alone: not a regular file");
            continue;
        }
        if kind == NsFile::Namespace {
            let fd = openat(
                &dir,
                name.as_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .or_die(|| format!("cannot open {path}"))?;
            let magic = rustix::fs::fstatfs(&fd)
                .or_die(|| format!("cannot inspect {path}"))?
                .f_type as i64;
            if magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC {
                debug!("performing operation: umount --lazy --no-follow {path}");
                match unmount(path.as_str(), UnmountFlags::DETACH | UnmountFlags::NOFOLLOW) {
                    Ok(()) | Err(Errno::INVAL | Errno::NOENT) => {}
                    Err(e) => return Err(Error::sys(format!("cannot unmount {path}"), e)),
                }
            }
        }
        debug!("removing {path}");
        match unlinkat(&dir, name.as_str(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(Error::sys(format!("cannot remove {path}"), e)),
        }
    }
    Ok(())
}

/// `snap-discard-ns [--from-snap-confine] INSTANCE`.
pub fn discard_namespace(instance: &str, from_snap_confine: bool) -> Result<()> {
    validate_instance_name(instance)?;
    if from_snap_confine {
        verify_snap_locked(instance)?;
        discard_files(instance)
    } else {
        let lock = lock_snap(instance)?;
        let result = discard_files(instance);
        lock.unlock();
        result
    }
}

/// The whole of snap-discard-ns: returns the exit code.
pub fn main(argv: Vec<OsString>, env: Vec<(OsString, OsString)>) -> i32 {
    let debug = snapcell_sys::log::debug_enabled(
        env.iter()
            .rev()
            .find(|(k, _)| k == "SNAPD_DEBUG")
            .map(|(_, v)| v.as_os_str()),
    );
    snapcell_sys::log::init(
        debug,
        rustix::process::getuid() != rustix::process::geteuid(),
    );
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (from_snap_confine, instance) = match args.as_slice() {
        [flag, name] if flag == "--from-snap-confine" => (true, name),
        [flag, _] => {
            eprintln!("unexpected argument {flag}");
            return 1;
        }
        [name] => (false, name),
        _ => {
            print!("{USAGE}");
            return 0;
        }
    };
    let result = discard_namespace(instance, from_snap_confine);
    snapcell_sys::log::flush();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_snapds_globs() {
        let c = |n| classify(n, "foo");
        assert_eq!(c("foo.mnt"), Some(NsFile::Namespace));
        assert_eq!(c("foo.1000.mnt"), Some(NsFile::Namespace));
        assert_eq!(c("foo.x.y.mnt"), Some(NsFile::Namespace));
        assert_eq!(c("foo..mnt"), Some(NsFile::Namespace));
        assert_eq!(c("snap.foo.fstab"), Some(NsFile::Profile));
        assert_eq!(c("snap.foo.1000.user-fstab"), Some(NsFile::Profile));
        assert_eq!(c("snap.foo.info"), Some(NsFile::Profile));
        // The Landlock connections cache goes with the namespace.
        assert_eq!(c("snap.foo.landlock"), Some(NsFile::Profile));
        for other in [
            "foo_bar.mnt",
            "foobar.mnt",
            "snap.foo_bar.fstab",
            "snap.foo.user-fstab",
            "bar.mnt",
            "foo.mnt.x",
            "snap.foo.fstab.tmp",
        ] {
            assert_eq!(c(other), None, "{other}");
        }
    }
}
