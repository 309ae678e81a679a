//! Reading the mount table of the calling process.

use snapcell_core::mountinfo::{MountInfoEntry, parse_mountinfo};

use crate::error::{Error, Result, SysContext};

/// The mount table of this process (`/proc/self/mountinfo`).
pub fn read_mountinfo() -> Result<Vec<MountInfoEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .or_die(|| "cannot read /proc/self/mountinfo".to_owned())?;
    parse_mountinfo(&text)
        .map_err(|e| Error::new(format!("cannot parse /proc/self/mountinfo: line {e}")))
}

/// The mount on top at `dir` (the last entry for it), if `dir` is a mount point.
pub fn top_mount_at<'a>(entries: &'a [MountInfoEntry], dir: &str) -> Option<&'a MountInfoEntry> {
    entries.iter().rev().find(|e| e.mount_dir == dir)
}
