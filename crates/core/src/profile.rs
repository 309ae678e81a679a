//! Whole mount profiles: the text of `/var/lib/snapd/mount/snap.NAME.fstab`
//! and `/run/snapd/ns/snap.NAME.fstab` (spec §1.5). Reading and writing the
//! files is the system layer's job; this is the text.

use std::fmt;

use crate::entry::{MountEntry, ParseError};

/// An ordered list of mount entries. The current profile is a log of what was
/// applied, so order matters and duplicates are allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub entries: Vec<MountEntry>,
}

/// A line of a profile that did not parse, with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {error}")]
pub struct ProfileError {
    pub line: usize,
    pub error: ParseError,
}

impl Profile {
    /// Parse a whole profile as snapd's `ReadMountProfile`: each line is
    /// trimmed; empty lines and lines starting with `#` are skipped; every
    /// other line must parse.
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let mut entries = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry =
                MountEntry::parse(line).map_err(|error| ProfileError { line: i + 1, error })?;
            entries.push(entry);
        }
        Ok(Profile { entries })
    }
}

impl fmt::Display for Profile {
    /// One formatted entry and a newline per entry; no header, no comments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entries.iter().try_for_each(|e| writeln!(f, "{e}"))
    }
}

impl From<Vec<MountEntry>> for Profile {
    fn from(entries: Vec<MountEntry>) -> Profile {
        Profile { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_comments_and_blank_lines_and_reports_line_numbers() {
        let p = Profile::parse("# hi\n\n  a b c\n\t# x\nd e f g 1 2\n").unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.to_string(), "a b c defaults 0 0\nd e f g 1 2\n");
        let err = Profile::parse("a b c\nbad\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.to_string(),
            "2: expected between 3 and 6 fields, found 1"
        );
    }
}
