//! Reading the mount table of the calling process
//! (`/proc/self/mountinfo`); parsing it is core's
//! ([`snapcell_core::mountinfo`]).

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use snapcell_core::mountinfo::{MountInfoEntry, MountInfoLineError, parse_mountinfo};

/// The mount table of the calling process.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Why the mount table could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MountTableError {
    #[error("cannot open {path}: {errno}")]
    Open { path: &'static str, errno: Errno },
    #[error("cannot read {path}: {errno}")]
    Read { path: &'static str, errno: Errno },
    #[error("cannot read {path}: not UTF-8")]
    NotUtf8 { path: &'static str },
    /// A line that does not parse, with its 1-based number.
    #[error("cannot parse /proc/self/mountinfo: line {0}")]
    Parse(MountInfoLineError),
}

impl MountTableError {
    /// For a failed system call: what was being done, to what (`cannot
    /// read /proc/self/mountinfo`), and the errno.
    pub fn failed_call(&self) -> Option<(String, Errno)> {
        match self {
            MountTableError::Open { path, errno } => Some((format!("cannot open {path}"), *errno)),
            MountTableError::Read { path, errno } => Some((format!("cannot read {path}"), *errno)),
            _ => None,
        }
    }
}

/// The mount table of this process (`/proc/self/mountinfo`).
pub fn read_mountinfo() -> Result<Vec<MountInfoEntry>, MountTableError> {
    let text = read_proc_text(MOUNTINFO)?;
    parse_mountinfo(&text).map_err(MountTableError::Parse)
}

/// The entries of this process's mount table mounted at one of `dirs`, in
/// table order. Only the lines whose mount point can be one of them are
/// parsed in full (the host preparation needs three mount points out of a
/// table of dozens); a mount point with an escape sequence is always
/// parsed, so that it is compared unescaped.
pub fn read_mounts_at(dirs: &[&str]) -> Result<Vec<MountInfoEntry>, MountTableError> {
    let text = read_proc_text(MOUNTINFO)?;
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
            MountTableError::Parse(MountInfoLineError {
                line: index + 1,
                error,
            })
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
fn read_proc_text(path: &'static str) -> Result<String, MountTableError> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|errno| MountTableError::Open { path, errno })?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(errno) => return Err(MountTableError::Read { path, errno }),
        }
    }
    String::from_utf8(buf).map_err(|_| MountTableError::NotUtf8 { path })
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
