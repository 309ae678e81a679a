//! Reading the mount table of the calling process.

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use snapcell_core::mountinfo::{MountInfoEntry, parse_mountinfo};

use crate::error::{Error, Result, SysContext};

/// The mount table of this process (`/proc/self/mountinfo`).
pub fn read_mountinfo() -> Result<Vec<MountInfoEntry>> {
    let text = read_proc_text("/proc/self/mountinfo")?;
    parse_mountinfo(&text)
        .map_err(|e| Error::new(format!("cannot parse /proc/self/mountinfo: line {e}")))
}

/// The entries of this process's mount table mounted at one of `dirs`, in
/// table order. Only the lines whose mount point can be one of them are
/// parsed in full (the host preparation needs three mount points out of a
/// table of dozens); a mount point with an escape sequence is always
/// parsed, so that it is compared unescaped.
pub fn read_mounts_at(dirs: &[&str]) -> Result<Vec<MountInfoEntry>> {
    let text = read_proc_text("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let candidate = match line.split(' ').filter(|f| !f.is_empty()).nth(4) {
            Some(dir) => dir.contains('\\') || dirs.contains(&dir),
            None => true, // malformed: let the parser say so
        };
        if !candidate {
            continue;
        }
        let entry = MountInfoEntry::parse(line).map_err(|error| {
            Error::new(format!(
                "cannot parse /proc/self/mountinfo: line {}: {error}",
                index + 1
            ))
        })?;
        if dirs.contains(&entry.mount_dir.as_str()) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Read a `/proc` text file whole. `/proc` files report size 0, so a
/// generic reader starts small and grows (a dozen `read` calls for a
/// typical mount table); this starts at 16 KiB, which usually takes one
/// call and a second one that returns 0.
fn read_proc_text(path: &str) -> Result<String> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .or_die(|| format!("cannot open {path}"))?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys(format!("cannot read {path}"), e)),
        }
    }
    String::from_utf8(buf).map_err(|_| Error::new(format!("cannot read {path}: not UTF-8")))
}

/// The mount on top at `dir` (the last entry for it), if `dir` is a mount point.
pub fn top_mount_at<'a>(entries: &'a [MountInfoEntry], dir: &str) -> Option<&'a MountInfoEntry> {
    entries.iter().rev().find(|e| e.mount_dir == dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_some_mount_points_gives_what_filtering_the_whole_table_gives() {
        let all = read_mountinfo().unwrap();
        // A path known to be absent (so no mount point), whatever the machine has.
        let tmp = tempfile::tempdir().unwrap();
        let absent = tmp.path().join("absent");
        let dirs = ["/", "/proc", absent.to_str().unwrap()];
        let want: Vec<_> = all
            .iter()
            .filter(|e| dirs.contains(&e.mount_dir.as_str()))
            .cloned()
            .collect();
        assert!(!want.is_empty());
        assert_eq!(read_mounts_at(&dirs).unwrap(), want);
    }
}
