//! `/proc/self/mountinfo`: snapd's `MountInfoEntry` (spec §2).
//!
//! A line reads
//! `ID PARENT MAJ:MIN ROOT MOUNTDIR MOUNTOPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS`.
//! Parsing follows snapd exactly, error messages included; [`fmt::Display`]
//! is snapd's canonical re-serialisation, which is *not* the kernel's text
//! (option maps come out sorted by key, optional fields joined by `,`).

use std::collections::BTreeMap;
use std::fmt;

use crate::escape::{escape, unescape};
use crate::goquote::quote;

/// One line of mountinfo.
///
/// The four numbers are parsed as Go's `strconv.Atoi` parses them (snapd
/// stores them in Go `int`, 64 bits on the platforms we care about), so they
/// are `i64` here: an optional sign is accepted and a value that the kernel
/// would never print (`-1`, `+7`) is read rather than rejected, just as snapd
/// reads it. [`MountInfoEntry::device`] gives the pair as kernel `u32`s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountInfoEntry {
    /// Unique identifier of the mount.
    pub mount_id: i64,
    /// Identifier of the parent mount (itself for the root of the tree).
    pub parent_id: i64,
    /// Major device number of `st_dev` for files on this file system.
    pub dev_major: i64,
    /// Minor device number.
    pub dev_minor: i64,
    /// The directory of the file system that forms the root of this mount.
    pub root: String,
    /// The mount point, relative to the process's root.
    pub mount_dir: String,
    /// Per-mount options: `k=v` splits at the first `=`, a bare `k` maps to
    /// "". A repeated key keeps the last value (snapd stores a Go map).
    pub mount_options: BTreeMap<String, String>,
    /// Optional fields (`shared:N`, `master:N`, `propagate_from:N`,
    /// `unbindable`, or anything newer), in order.
    pub optional_fields: Vec<String>,
    /// File system type (`ext4`, `fuse.sshfs`, ...).
    pub fs_type: String,
    /// File-system specific source, or `none`.
    pub mount_source: String,
    /// Per-superblock options, parsed like the mount options.
    pub super_options: BTreeMap<String, String>,
}

/// Why a mountinfo line could not be parsed. The messages are snapd's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MountInfoError {
    #[error("incorrect number of fields, expected at least 10 but found {0}")]
    FieldCount(usize),
    #[error("cannot parse mount ID: {}", quote(.0))]
    MountId(String),
    #[error("cannot parse parent mount ID: {}", quote(.0))]
    ParentId(String),
    #[error("cannot parse device major:minor number pair: {}", quote(.0))]
    DevicePair(String),
    #[error("cannot parse device major number: {}", quote(.0))]
    DevMajor(String),
    #[error("cannot parse device minor number: {}", quote(.0))]
    DevMinor(String),
    #[error("list of optional fields is not terminated properly")]
    OptionalFieldsNotTerminated,
    #[error("incorrect number of tail fields, expected 3 but found {0}")]
    TailFieldCount(usize),
}

/// A line of a whole mountinfo text that did not parse, with its 1-based
/// line number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {error}")]
pub struct MountInfoLineError {
    pub line: usize,
    pub error: MountInfoError,
}

/// Mount propagation as told by the optional fields (see
/// `Documentation/filesystems/sharedsubtree.rst`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Propagation {
    /// `shared:N`: member of peer group N.
    pub shared: Option<u32>,
    /// `master:N`: slave of peer group N.
    pub master: Option<u32>,
    /// `propagate_from:N`: receives from peer group N (the nearest dominant
    /// group that is visible from this namespace).
    pub propagate_from: Option<u32>,
    /// `unbindable`.
    pub unbindable: bool,
}

impl Propagation {
    /// Neither shared, slave nor unbindable.
    pub fn is_private(&self) -> bool {
        self.shared.is_none() && self.master.is_none() && !self.unbindable
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform: an optional sign followed by at
/// least one ASCII digit, in range for `i64`.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Split an (already unescaped) option string on `,`; each option splits at
/// its first `=`; a bare key maps to "". Later duplicates win.
fn parse_options(opts: &str) -> BTreeMap<String, String> {
    opts.split(',')
        .map(|opt| match opt.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (opt.to_owned(), String::new()),
        })
        .collect()
}

/// The canonical option string: sorted by key (byte order, as Go's
/// `sort.Strings`), `k=v` or bare `k` when the value is empty, each part
/// escaped, joined by `,`.
fn format_options(opts: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = opts
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                escape(k)
            } else {
                format!("{}={}", escape(k), escape(v))
            }
        })
        .collect();
    parts.join(",")
}

impl MountInfoEntry {
    /// Parse one line as snapd's `ParseMountInfoEntry` does (spec §2).
    pub fn parse(line: &str) -> Result<MountInfoEntry, MountInfoError> {
        // Only the space separates fields; tabs and `\r` are data.
        let fields: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
        if fields.len() < 10 {
            return Err(MountInfoError::FieldCount(fields.len()));
        }
        let mount_id = atoi(fields[0]).ok_or_else(|| MountInfoError::MountId(fields[0].into()))?;
        let parent_id =
            atoi(fields[1]).ok_or_else(|| MountInfoError::ParentId(fields[1].into()))?;
        // snapd splits the pair on runs of `:` (empty parts vanish), so
        // `8::1` is read as 8:1 while `8:` and `8:1:2` are rejected.
        let pair: Vec<&str> = fields[2].split(':').filter(|p| !p.is_empty()).collect();
        let [major, minor] = pair[..] else {
            return Err(MountInfoError::DevicePair(fields[2].into()));
        };
        let dev_major = atoi(major).ok_or_else(|| MountInfoError::DevMajor(major.into()))?;
        let dev_minor = atoi(minor).ok_or_else(|| MountInfoError::DevMinor(minor.into()))?;
        let root = unescape(fields[3]);
        let mount_dir = unescape(fields[4]);
        let mount_options = parse_options(&unescape(fields[5]));
        let dash = fields[6..]
            .iter()
            .position(|f| *f == "-")
            .map(|i| i + 6)
            .ok_or(MountInfoError::OptionalFieldsNotTerminated)?;
        let optional_fields = fields[6..dash].iter().map(|f| unescape(f)).collect();
        let tail = &fields[dash + 1..];
        if tail.len() < 3 {
            return Err(MountInfoError::TailFieldCount(tail.len()));
        }
        // Some file systems print unescaped spaces in their super options:
        // everything after the source is one field, re-joined by single spaces.
        let super_options = parse_options(&unescape(&tail[2..].join(" ")));
        Ok(MountInfoEntry {
            mount_id,
            parent_id,
            dev_major,
            dev_minor,
            root,
            mount_dir,
            mount_options,
            optional_fields,
            fs_type: unescape(tail[0]),
            mount_source: unescape(tail[1]),
            super_options,
        })
    }

    /// The propagation state given by the optional fields. Of a repeated
    /// tag the first well-formed one counts; a tag whose number is not plain
    /// decimal digits in `u32` range is ignored, as are unknown fields.
    pub fn propagation(&self) -> Propagation {
        let mut p = Propagation::default();
        for field in &self.optional_fields {
            let (tag, value) = match field.split_once(':') {
                Some((tag, value)) => (tag, Some(value)),
                None => (field.as_str(), None),
            };
            let number = value.and_then(|v| {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    v.parse::<u32>().ok()
                } else {
                    None
                }
            });
            let slot = match tag {
                "shared" => &mut p.shared,
                "master" => &mut p.master,
                "propagate_from" => &mut p.propagate_from,
                "unbindable" if value.is_none() => {
                    p.unbindable = true;
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = number;
            }
        }
        p
    }

    /// Whether the mount itself is read-only (per-mount option `ro`). The
    /// super block may still be writable through another mount.
    pub fn is_read_only(&self) -> bool {
        self.mount_options.contains_key("ro")
    }

    /// The device numbers as the kernel's unsigned 32-bit values, or `None`
    /// where the text held something the kernel would not print.
    pub fn device(&self) -> Option<(u32, u32)> {
        Some((
            u32::try_from(self.dev_major).ok()?,
            u32::try_from(self.dev_minor).ok()?,
        ))
    }
}

impl std::str::FromStr for MountInfoEntry {
    type Err = MountInfoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MountInfoEntry::parse(s)
    }
}

impl fmt::Display for MountInfoEntry {
    /// snapd's canonical re-serialisation (spec §2.7): option maps sorted by
    /// key, optional fields joined by `,` and followed by a space only when
    /// there are any. Several optional fields therefore read back as one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let optional: Vec<String> = self.optional_fields.iter().map(|o| escape(o)).collect();
        let optional = optional.join(",");
        let space = if self.optional_fields.is_empty() {
            ""
        } else {
            " "
        };
        write!(
            f,
            "{} {} {}:{} {} {} {} {}{}- {} {} {}",
            self.mount_id,
            self.parent_id,
            self.dev_major,
            self.dev_minor,
            escape(&self.root),
            escape(&self.mount_dir),
            format_options(&self.mount_options),
            optional,
            space,
            escape(&self.fs_type),
            escape(&self.mount_source),
            format_options(&self.super_options),
        )
    }
}

/// Parse a whole mountinfo text as snapd's `ReadMountInfo` does: lines end at
/// `\n` (one `\r` right before it is dropped, like Go's `bufio.ScanLines`),
/// a final empty line after the last `\n` is not a line, every other line —
/// empty ones included — must parse. Empty text is zero entries.
///
/// Unlike Go's scanner there is no 64 KiB line limit.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountInfoEntry>, MountInfoLineError> {
    let mut entries = Vec::new();
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let line = match rest.split_once('\n') {
            Some((line, after)) => {
                rest = after;
                line.strip_suffix('\r').unwrap_or(line)
            }
            None => std::mem::take(&mut rest),
        };
        let entry = MountInfoEntry::parse(line).map_err(|error| MountInfoLineError {
            line: number,
            error,
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The mount on top at `dir` (the last entry for it), if `dir` is a mount point.
pub fn top_mount_at<'a>(entries: &'a [MountInfoEntry], dir: &str) -> Option<&'a MountInfoEntry> {
    entries.iter().rev().find(|e| e.mount_dir == dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(line: &str) -> MountInfoEntry {
        MountInfoEntry::parse(line).unwrap()
    }

    fn err(line: &str) -> String {
        MountInfoEntry::parse(line).unwrap_err().to_string()
    }

    #[test]
    fn the_mount_on_top_is_the_last_one_at_the_directory() {
        let table = parse_mountinfo(concat!(
            "20 1 0:1 / / rw - ext4 /dev/vda rw\n",
            "21 20 0:2 / /run rw - tmpfs tmpfs rw\n",
            "22 21 0:3 / /run rw shared:7 - tmpfs tmpfs rw\n",
        ))
        .unwrap();
        assert_eq!(top_mount_at(&table, "/run").map(|e| e.mount_id), Some(22));
        assert_eq!(top_mount_at(&table, "/").map(|e| e.mount_id), Some(20));
        assert!(top_mount_at(&table, "/tmp").is_none());
        assert!(top_mount_at(&[], "/").is_none());
    }

    #[test]
    fn reads_a_plain_line() {
        let e = entry("25 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro");
        assert_eq!((e.mount_id, e.parent_id), (25, 1));
        assert_eq!(e.device(), Some((8, 2)));
        assert_eq!(e.mount_options.get("rw").map(String::as_str), Some(""));
        assert_eq!(
            e.super_options.get("errors").map(String::as_str),
            Some("remount-ro")
        );
        assert_eq!(e.optional_fields, vec!["shared:1"]);
        assert!(!e.is_read_only());
        assert_eq!(
            e.to_string(),
            "25 1 8:2 / / relatime,rw shared:1 - ext4 /dev/sda2 errors=remount-ro,rw"
        );
    }

    #[test]
    fn only_spaces_separate_fields() {
        let e = entry("1 2 3:4  /a\tb   /c\r ro  - t s o\t");
        assert_eq!(e.root, "/a\tb");
        assert_eq!(e.mount_dir, "/c\r");
        assert!(e.is_read_only());
        assert_eq!(e.super_options.keys().collect::<Vec<_>>(), vec!["o\t"]);
    }

    #[test]
    fn numbers_are_go_atoi() {
        let e = entry("+1 -2 -3:+4 / / rw - t s o");
        assert_eq!(
            (e.mount_id, e.parent_id, e.dev_major, e.dev_minor),
            (1, -2, -3, 4)
        );
        assert_eq!(e.device(), None);
        assert_eq!(
            err("0x1 1 1:1 / / rw - t s o"),
            "cannot parse mount ID: \"0x1\""
        );
        assert_eq!(
            err("1 - 1:1 / / rw - t s o"),
            "cannot parse parent mount ID: \"-\""
        );
        assert_eq!(
            err("99999999999999999999 1 1:1 / / rw - t s o"),
            "cannot parse mount ID: \"99999999999999999999\""
        );
        assert_eq!(
            err("1 1 1_0:1 / / rw - t s o"),
            "cannot parse device major number: \"1_0\""
        );
    }

    #[test]
    fn device_pair_splits_on_runs_of_colons() {
        assert_eq!(entry("1 1 8::1 / / rw - t s o").device(), Some((8, 1)));
        assert_eq!(entry("1 1 :8:1: / / rw - t s o").device(), Some((8, 1)));
        for bad in ["8", "8:", ":8", "8:1:2", ":"] {
            assert_eq!(
                err(&format!("1 1 {bad} / / rw - t s o")),
                format!("cannot parse device major:minor number pair: \"{bad}\"")
            );
        }
    }

    #[test]
    fn option_maps_split_at_first_equals_and_keep_last_duplicate() {
        let e = entry("1 1 0:1 / / a=b=c,a=d,e,,f= - t s x=1,x=2");
        let want: BTreeMap<String, String> = [("", ""), ("a", "d"), ("e", ""), ("f", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(e.mount_options, want);
        assert_eq!(e.super_options["x"], "2");
        // An empty value prints as a bare key.
        assert!(e.to_string().contains(" ,a=d,e,f - "));
    }

    #[test]
    fn canonical_form_of_an_empty_option_key_is_lossy() {
        // `,` is an option list of two empty options, i.e. {"": ""}, whose
        // canonical text is the empty string: the field disappears and the
        // canonical line no longer parses. snapd behaves the same.
        let e = entry("1 1 0:1 / / , - t s o");
        assert_eq!(e.mount_options.len(), 1);
        assert_eq!(e.to_string(), "1 1 0:1 / /  - t s o");
        assert!(MountInfoEntry::parse(&e.to_string()).is_err());
    }

    #[test]
    fn dash_must_be_a_whole_field() {
        assert_eq!(
            err("1 1 0:1 / / rw a-b c -- d e"),
            "list of optional fields is not terminated properly"
        );
        // A `-` among the first six fields is not the separator.
        let e = entry("1 1 0:1 - - - - t s o");
        assert_eq!((e.root.as_str(), e.mount_dir.as_str()), ("-", "-"));
        assert!(e.mount_options.contains_key("-"));
        assert!(e.optional_fields.is_empty());
    }

    #[test]
    fn separator_is_the_first_dash_after_the_options() {
        let e = entry("1 1 0:1 / / rw - - t s o");
        assert!(e.optional_fields.is_empty());
        assert_eq!(e.fs_type, "-");
        assert_eq!(e.mount_source, "t");
        assert_eq!(e.super_options.keys().collect::<Vec<_>>(), vec!["s o"]);
        assert_eq!(
            err("1 1 0:1 / / rw a b c d - x"),
            "incorrect number of tail fields, expected 3 but found 1"
        );
    }

    #[test]
    fn unescapes_every_field_and_escapes_them_back() {
        let e =
            entry("1 1 0:1 /a\\040b /c\\011d k\\134=v\\012 x\\040y - f\\040s s\\040rc k=a\\040b");
        assert_eq!(e.root, "/a b");
        assert_eq!(e.mount_dir, "/c\td");
        assert_eq!(e.mount_options["k\\"], "v\n");
        assert_eq!(e.optional_fields, vec!["x y"]);
        assert_eq!(
            (e.fs_type.as_str(), e.mount_source.as_str()),
            ("f s", "s rc")
        );
        assert_eq!(e.super_options["k"], "a b");
        assert_eq!(
            e.to_string(),
            "1 1 0:1 /a\\040b /c\\011d k\\134=v\\012 x\\040y - f\\040s s\\040rc k=a\\040b"
        );
    }

    #[test]
    fn several_optional_fields_are_joined_by_commas() {
        let e = entry("1 1 0:1 / / rw shared:3 master:4 - t s o");
        let line = e.to_string();
        assert_eq!(line, "1 1 0:1 / / rw shared:3,master:4 - t s o");
        // ... which is why the canonical form is not a faithful round trip.
        assert_eq!(entry(&line).optional_fields, vec!["shared:3,master:4"]);
    }

    #[test]
    fn propagation_from_optional_fields() {
        let p = entry("1 1 0:1 / / rw shared:3 master:4 propagate_from:5 - t s o").propagation();
        assert_eq!(
            p,
            Propagation {
                shared: Some(3),
                master: Some(4),
                propagate_from: Some(5),
                unbindable: false
            }
        );
        assert!(!p.is_private());
        let p = entry("1 1 0:1 / / rw unbindable - t s o").propagation();
        assert!(p.unbindable && p.shared.is_none() && !p.is_private());
        let p = entry("1 1 0:1 / / rw - t s o").propagation();
        assert!(p.is_private());
        assert_eq!(p, Propagation::default());
        // Malformed or unknown tags are ignored; the first of a repeated tag wins.
        let p = entry(
            "1 1 0:1 / / rw shared:x master:-1 unbindable:1 shared:7 shared:8 future:1 - t s o",
        )
        .propagation();
        assert_eq!(
            p,
            Propagation {
                shared: Some(7),
                ..Propagation::default()
            }
        );
    }

    #[test]
    fn whole_text() {
        assert_eq!(parse_mountinfo(""), Ok(vec![]));
        let text = "1 0 0:1 / / rw - t s o\n2 1 0:2 / /a ro - t s o\r\n";
        let entries = parse_mountinfo(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].super_options.keys().collect::<Vec<_>>(),
            vec!["o"]
        );
        assert!(entries[1].is_read_only());
        // A last line without a newline counts, and keeps its `\r`.
        let entries = parse_mountinfo("1 0 0:1 / / rw - t s o\r").unwrap();
        assert_eq!(
            entries[0].super_options.keys().collect::<Vec<_>>(),
            vec!["o\r"]
        );
        // An empty line in the middle is an error with its line number.
        let e = parse_mountinfo("1 0 0:1 / / rw - t s o\n\n2 1 0:2 / /a ro - t s o").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.error, MountInfoError::FieldCount(0));
        assert_eq!(
            e.to_string(),
            "2: incorrect number of fields, expected at least 10 but found 0"
        );
        assert_eq!(parse_mountinfo("\n").unwrap_err().line, 1);
    }

    /// A field: any text, but never empty (an empty field vanishes between
    /// separators).
    fn field() -> impl Strategy<Value = String> {
        ".{1,8}"
    }

    /// Options: non-empty keys without `,` or `=`, values without `,`; at
    /// least one option so that the field is not empty.
    fn options() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map("[^,=]{1,6}", "[^,]{0,6}", 1..5)
    }

    prop_compose! {
        fn valid_entry()(
            mount_id in any::<i64>(),
            parent_id in any::<i64>(),
            dev_major in any::<i64>(),
            dev_minor in any::<i64>(),
            root in field(),
            mount_dir in field(),
            mount_options in options(),
            // At most one optional field: several are joined by `,` in the
            // canonical form and read back as one. `-` would end the list.
            optional_fields in prop::collection::vec(
                field().prop_filter("not the separator", |f| f != "-"), 0..=1),
            fs_type in field(),
            mount_source in field(),
            super_options in options(),
        ) -> MountInfoEntry {
            MountInfoEntry {
                mount_id, parent_id, dev_major, dev_minor, root, mount_dir,
                mount_options, optional_fields, fs_type, mount_source, super_options,
            }
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in ".*") {
            let _ = MountInfoEntry::parse(&line);
            let _ = parse_mountinfo(&line);
        }

        #[test]
        fn parse_never_panics_on_near_miss_lines(
            words in prop::collection::vec(
                prop_oneof!["-", ":", "[0-9:+-]{0,4}", "[a-z=,\\\\ ]{0,5}"], 0..16)
        ) {
            let line = words.join(" ");
            if let Ok(e) = MountInfoEntry::parse(&line) {
                let _ = MountInfoEntry::parse(&e.to_string());
            }
        }

        #[test]
        fn canonical_line_round_trips(e in valid_entry()) {
            let line = e.to_string();
            prop_assert_eq!(MountInfoEntry::parse(&line), Ok(e.clone()), "line {:?}", line);
            // A `\r` just before a newline is eaten by the line splitter
            // (as Go's bufio.ScanLines does); see `whole_text`.
            if !line.ends_with('\r') {
                let text = format!("{line}\n{line}\n");
                prop_assert_eq!(parse_mountinfo(&text), Ok(vec![e.clone(), e]));
            }
        }
    }
}
