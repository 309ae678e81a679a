//! Checking a snap before anything is installed: a `.snap` file must be a
//! squashfs image the kernel mounts, holding a regular `meta/snap.yaml`
//! (not a symlink, inside the image) that parses and validates; a
//! directory (`snapcell try`) must hold the same file.
//!
//! The image is attached to an auto-clearing loop device and mounted
//! read-only as a detached mount (`fsmount` without `move_mount`: no mount
//! point, nothing in any mount table) only long enough to read
//! `meta/snap.yaml` through `openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)`
//! from the mount's descriptor; closing it releases the mount and the
//! device, also when the process is killed. Nothing on the machine changes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
use snapcell_core::snap_yaml::SnapInfo;
use snapcell_sys::loopdev::LoopDevice;

use crate::image::{MountFailure, open_squashfs_mount};

/// Where images were mounted while their `meta/snap.yaml` was read (now
/// nowhere: the check reads a detached mount); kept for callers.
pub const STAGING_DIR: &str = "/var/lib/snapd/standalone/staging";

/// The largest `meta/snap.yaml` accepted.
pub const MAX_SNAP_YAML: u64 = 1 << 20;

/// The squashfs magic, `hsqs`, little-endian at offset 0.
const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";
/// The size of a squashfs 4 superblock.
const SUPERBLOCK_LEN: usize = 96;

/// A checked snap: its metadata and where it came from.
#[derive(Clone, Debug)]
pub struct CheckedSnap {
    pub info: SnapInfo,
    /// The `.snap` file or the directory.
    pub source: PathBuf,
    pub is_dir: bool,
}

/// Check that `path` is a squashfs image whose size matches its superblock.
pub fn check_squashfs_header(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("cannot use {shown}: not a regular file"));
    }
    let mut head = [0u8; SUPERBLOCK_LEN];
    let mut f = File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if n < 4 || &head[..4] != SQUASHFS_MAGIC {
        return Err(format!(
            "cannot use {shown}: not a snap (not a squashfs image)"
        ));
    }
    if n < SUPERBLOCK_LEN {
        return Err(format!("cannot use {shown}: truncated squashfs image"));
    }
    let bytes_used = u64::from_le_bytes(head[40..48].try_into().expect("8 bytes"));
    if bytes_used > meta.len() {
        return Err(format!(
            "cannot use {shown}: truncated squashfs image ({} bytes of {bytes_used})",
            meta.len()
        ));
    }
    Ok(())
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Read `meta/snap.yaml` below the directory `root` without following any
/// symlink and without leaving it; `shown` names the snap in errors.
pub fn read_snap_yaml_beneath(root: &Path, shown: &str) -> Result<SnapInfo, String> {
    let dir: OwnedFd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open {shown}: {e}"))?;
    read_snap_yaml_at(dir.as_fd(), shown)
}

/// Read `meta/snap.yaml` below the open directory `dir`, as
/// [`read_snap_yaml_beneath`].
pub fn read_snap_yaml_at(dir: BorrowedFd<'_>, shown: &str) -> Result<SnapInfo, String> {
    let fd = openat2(
        dir,
        "meta/snap.yaml",
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => format!("cannot use {shown}: no meta/snap.yaml in the snap"),
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => format!(
            "cannot use {shown}: meta/snap.yaml is a symlink (it must be a file inside the snap)"
        ),
        e => format!("cannot open {shown}: meta/snap.yaml: {e}"),
    })?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: meta/snap.yaml: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot use {shown}: meta/snap.yaml is not a regular file"
        ));
    }
    if meta.len() > MAX_SNAP_YAML {
        return Err(format!(
            "cannot use {shown}: meta/snap.yaml is larger than {MAX_SNAP_YAML} bytes"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SNAP_YAML + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: meta/snap.yaml: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{shown}: meta/snap.yaml: invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        )
    })?;
    let info = SnapInfo::parse(&text).map_err(|e| format!("{shown}: meta/snap.yaml: {e}"))?;
    info.validate()
        .map_err(|e| format!("{shown}: meta/snap.yaml: {e}"))?;
    let mut info = info;
    info.add_implicit_hooks(hook_files(dir).iter().map(String::as_str));
    Ok(info)
}

/// The names in the snap's `meta/hooks` (opened beneath the snap's root,
/// without symlinks): snapd adds those that are hook types and that
/// snap.yaml does not declare as implicit hooks. No directory: none.
fn hook_files(root: impl AsFd) -> Vec<String> {
    let Ok(fd) = openat2(
        root,
        "meta/hooks",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) else {
        return Vec::new();
    };
    let Ok(dir) = rustix::fs::Dir::read_from(&fd) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().ok().map(str::to_owned))
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    names
}

/// Check a `.snap` file or a snap directory and read its metadata.
pub fn check(path: &Path) -> Result<CheckedSnap, String> {
    let shown = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    if meta.is_dir() {
        let info = read_snap_yaml_beneath(path, &shown)?;
        return Ok(CheckedSnap {
            info,
            source: path.to_owned(),
            is_dir: true,
        });
    }
    check_squashfs_header(path)?;
    let info = (|| {
        let device = LoopDevice::attach_read_only(path).map_err(MountFailure::Loop)?;
        crate::fault::point("loop-attached");
        open_squashfs_mount(device.path())
        // The device goes when the mount's descriptor is closed (auto-clear).
    })()
    .map_err(|e| format!("cannot use {shown}: not a valid snap: {e}"))
    .and_then(|mnt| read_snap_yaml_at(mnt.as_fd(), &shown))?;
    Ok(CheckedSnap {
        info,
        source: path.to_owned(),
        is_dir: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_are_not_squashfs_or_are_short_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.snap");
        fs::write(&f, "hello").unwrap();
        let e = check_squashfs_header(&f).unwrap_err();
        assert!(e.contains("not a squashfs image"), "{e}");
        fs::write(&f, b"hsqs\0\0").unwrap();
        let e = check_squashfs_header(&f).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let mut sb = vec![0u8; SUPERBLOCK_LEN];
        sb[..4].copy_from_slice(SQUASHFS_MAGIC);
        sb[40..48].copy_from_slice(&4096u64.to_le_bytes());
        fs::write(&f, &sb).unwrap();
        let e = check_squashfs_header(&f).unwrap_err();
        assert!(
            e.contains("truncated squashfs image (96 bytes of 4096)"),
            "{e}"
        );
        let e = check_squashfs_header(tmp.path()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_directory_needs_a_regular_snap_yaml_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let e = check(d).unwrap_err();
        assert!(e.contains("no meta/snap.yaml"), "{e}");
        fs::create_dir(d.join("meta")).unwrap();
        fs::write(tmp.path().join("outside.yaml"), "name: x\nversion: 1\n").unwrap();
        std::os::unix::fs::symlink("../outside.yaml", d.join("meta/snap.yaml")).unwrap();
        let e = check(d).unwrap_err();
        assert!(e.contains("is a symlink"), "{e}");
        fs::remove_file(d.join("meta/snap.yaml")).unwrap();
        fs::write(d.join("meta/snap.yaml"), "name: Bad_Name\nversion: 1\n").unwrap();
        let e = check(d).unwrap_err();
        assert!(e.contains("meta/snap.yaml"), "{e}");
        fs::write(d.join("meta/snap.yaml"), "name: good\nversion: 1\n").unwrap();
        assert_eq!(check(d).unwrap().info.name, "good");
    }

    #[test]
    fn hooks_in_meta_hooks_are_added_as_snapd_adds_them() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("meta/hooks")).unwrap();
        fs::write(
            d.join("meta/snap.yaml"),
            "name: good\nversion: 1\nhooks:\n  configure:\n    plugs: [home]\n",
        )
        .unwrap();
        for f in ["install", "configure", "remove", "notes.txt"] {
            fs::write(d.join("meta/hooks").join(f), "#!/bin/sh\n").unwrap();
        }
        let info = check(d).unwrap().info;
        assert_eq!(
            info.hooks.keys().collect::<Vec<_>>(),
            ["configure", "install", "remove"]
        );
        assert_eq!(info.hooks["configure"].plugs, ["home"]);
        // A meta/hooks that is a symlink is not followed.
        fs::remove_dir_all(d.join("meta/hooks")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::write(elsewhere.path().join("install"), "").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), d.join("meta/hooks")).unwrap();
        let info = check(d).unwrap().info;
        assert_eq!(info.hooks.keys().collect::<Vec<_>>(), ["configure"]);
    }
}
