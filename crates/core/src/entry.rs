//! One line of a mount profile: snapd's `MountEntry` (spec §1.1–§1.4, §1.6).

use std::fmt;

use crate::escape::{escape, unescape};
use crate::goquote::quote;

/// A mount entry, named after the fields of `struct mntent`.
///
/// Equality is field by field with options compared in order, as snapd
/// compares entries (spec §1.1). A missing option list and an empty one are
/// the same thing here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MountEntry {
    /// fs_spec: the source.
    pub name: String,
    /// fs_file: the mount point.
    pub dir: String,
    /// fs_vfstype.
    pub fs_type: String,
    /// fs_mntops, in order.
    pub options: Vec<String>,
    /// fs_freq.
    pub freq: i64,
    /// fs_passno.
    pub passno: i64,
}

/// Why a line could not be parsed as a mount entry. The messages are snapd's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("expected between 3 and 6 fields, found {0}")]
    FieldCount(usize),
    #[error("cannot parse dump frequency: {}", quote(.0))]
    DumpFrequency(String),
    #[error("cannot parse check pass number: {}", quote(.0))]
    CheckPassNumber(String),
}

/// What an entry asks to be made at its mount point (`x-snapd.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// No kind: a directory mount.
    Directory,
    /// `file`: bind-mount a file onto a file.
    File,
    /// `symlink`: create a symbolic link, no mount.
    Symlink,
    /// `ensure-dir`: only create missing directories.
    EnsureDir,
}

/// Where an entry came from (`x-snapd.origin`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// No origin: an interface (content, ...) entry.
    Interface,
    /// `layout`: a layout of snap.yaml.
    Layout,
    /// `overname`: the parallel-instance remapping.
    Overname,
    /// `rootfs`: written by snap-confine for `/`.
    Rootfs,
    /// Anything else, kept verbatim.
    Other(String),
}

/// A user or group named in `x-snapd.user` / `x-snapd.group`: a number or a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    Id(u32),
    Name(String),
}

/// A typed option that is present but malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("cannot use mount entry {entry}: unknown x-snapd.kind {}", quote(.kind))]
    UnknownKind { entry: String, kind: String },
    #[error("cannot parse octal file mode from {}", quote(.0))]
    Mode(String),
    #[error("cannot parse user name {}", quote(.0))]
    User(String),
    #[error("cannot parse group name {}", quote(.0))]
    Group(String),
}

pub const OPT_KIND: &str = "x-snapd.kind";
pub const OPT_ORIGIN: &str = "x-snapd.origin";
pub const OPT_SYMLINK: &str = "x-snapd.symlink";
pub const OPT_MODE: &str = "x-snapd.mode";
pub const OPT_USER: &str = "x-snapd.user";
pub const OPT_GROUP: &str = "x-snapd.group";
pub const OPT_ID: &str = "x-snapd.id";
pub const OPT_NEEDED_BY: &str = "x-snapd.needed-by";
pub const OPT_MUST_EXIST_DIR: &str = "x-snapd.must-exist-dir";
pub const OPT_SYNTHETIC: &str = "x-snapd.synthetic";
pub const OPT_DETACH: &str = "x-snapd.detach";
pub const OPT_IGNORE_MISSING: &str = "x-snapd.ignore-missing";

/// Parse a base-10 integer as Go's `strconv.Atoi` does: an optional sign and
/// at least one ASCII digit, in range for a 64-bit int.
pub(crate) fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

impl MountEntry {
    /// Parse one line as snapd's `ParseMountEntry` does (spec §1.3).
    pub fn parse(line: &str) -> Result<MountEntry, ParseError> {
        // The fields up to a comment, in place (at most six are used; more
        // are only counted for the error).
        let mut fields: [&str; 6] = [""; 6];
        let mut count = 0;
        for f in line
            .split([' ', '\t'])
            .filter(|f| !f.is_empty())
            .take_while(|f| !f.starts_with('#'))
        {
            if count < fields.len() {
                fields[count] = f;
            }
            count += 1;
        }
        if !(3..=6).contains(&count) {
            return Err(ParseError::FieldCount(count));
        }
        let fields = &fields[..count];
        let options = match fields.get(3) {
            Some(opts) if !opts.contains('\\') => opts.split(',').map(str::to_owned).collect(),
            Some(opts) => unescape(opts).split(',').map(str::to_owned).collect(),
            None => Vec::new(),
        };
        let freq = match fields.get(4) {
            Some(f) => atoi(f).ok_or_else(|| ParseError::DumpFrequency(f.to_string()))?,
            None => 0,
        };
        let passno = match fields.get(5) {
            Some(f) => atoi(f).ok_or_else(|| ParseError::CheckPassNumber(f.to_string()))?,
            None => 0,
        };
        Ok(MountEntry {
            name: unescape(fields[0]),
            dir: unescape(fields[1]),
            fs_type: unescape(fields[2]),
            options,
            freq,
            passno,
        })
    }

    /// The first option whose text starts with `key=`, without the prefix.
    pub fn option_value(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// Whether the exact option (a flag such as `rbind`) is present.
    pub fn has_option(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }

    /// `x-snapd.kind`: absent or empty is a directory mount.
    pub fn kind(&self) -> Result<Kind, OptionError> {
        match self.option_value(OPT_KIND).unwrap_or("") {
            "" => Ok(Kind::Directory),
            "file" => Ok(Kind::File),
            "symlink" => Ok(Kind::Symlink),
            "ensure-dir" => Ok(Kind::EnsureDir),
            other => Err(OptionError::UnknownKind {
                entry: self.to_string(),
                kind: other.to_owned(),
            }),
        }
    }

    /// The raw `x-snapd.kind` value ("" when absent), as snapd compares it.
    pub fn kind_str(&self) -> &str {
        self.option_value(OPT_KIND).unwrap_or("")
    }

    /// `x-snapd.origin`.
    pub fn origin(&self) -> Origin {
        match self.option_value(OPT_ORIGIN).unwrap_or("") {
            "" => Origin::Interface,
            "layout" => Origin::Layout,
            "overname" => Origin::Overname,
            "rootfs" => Origin::Rootfs,
            other => Origin::Other(other.to_owned()),
        }
    }

    /// `x-snapd.symlink`: the target of a symlink entry.
    pub fn symlink_target(&self) -> Option<&str> {
        self.option_value(OPT_SYMLINK)
    }

    /// The entry's identifier: `x-snapd.id` or else its mount point.
    pub fn id(&self) -> &str {
        self.option_value(OPT_ID).unwrap_or(&self.dir)
    }

    /// `x-snapd.needed-by`: on synthetic entries, the ID of the entry that needed them.
    pub fn needed_by(&self) -> Option<&str> {
        self.option_value(OPT_NEEDED_BY)
    }

    /// `x-snapd.must-exist-dir` of ensure-dir entries.
    pub fn must_exist_dir(&self) -> Option<&str> {
        self.option_value(OPT_MUST_EXIST_DIR)
    }

    /// `x-snapd.synthetic`: made by snap-update-ns itself (a writable mimic).
    pub fn is_synthetic(&self) -> bool {
        self.has_option(OPT_SYNTHETIC)
    }

    /// `x-snapd.detach`: unmount lazily.
    pub fn detach(&self) -> bool {
        self.has_option(OPT_DETACH)
    }

    /// `x-snapd.ignore-missing`: skip the entry when source or target is missing.
    pub fn ignore_missing(&self) -> bool {
        self.has_option(OPT_IGNORE_MISSING)
    }

    /// `x-snapd.mode`: an octal mode with a leading zero, as snapd writes it
    /// with Go's `%#o` (`01777`, `0700`, `0`). At most 07777.
    pub fn mode(&self) -> Result<Option<u32>, OptionError> {
        let Some(v) = self.option_value(OPT_MODE) else {
            return Ok(None);
        };
        let parsed = v
            .strip_prefix('0')
            .filter(|d| d.len() <= 4 && d.bytes().all(|b| (b'0'..=b'7').contains(&b)))
            .map(|d| {
                if d.is_empty() {
                    Some(0)
                } else {
                    u32::from_str_radix(d, 8).ok()
                }
            });
        match parsed {
            Some(Some(m)) if m <= 0o7777 => Ok(Some(m)),
            _ => Err(OptionError::Mode(v.to_owned())),
        }
    }

    /// `x-snapd.user`: a user name or a numeric uid.
    pub fn user(&self) -> Result<Option<Principal>, OptionError> {
        principal(self.option_value(OPT_USER)).map_err(OptionError::User)
    }

    /// `x-snapd.group`: a group name or a numeric gid.
    pub fn group(&self) -> Result<Option<Principal>, OptionError> {
        principal(self.option_value(OPT_GROUP)).map_err(OptionError::Group)
    }

    /// Replace the first option with prefix `key=` by `option` (`key=value`),
    /// as snapd's `ReplaceMountEntryOption`: nothing happens if `option` has
    /// no `=`, an empty value, or no option with that key exists.
    pub fn replace_option(&mut self, option: &str) {
        let Some((key, value)) = option.split_once('=') else {
            return;
        };
        if value.is_empty() {
            return;
        }
        let prefix = format!("{key}=");
        if let Some(o) = self.options.iter_mut().find(|o| o.starts_with(&prefix)) {
            *o = option.to_owned();
        }
    }
}

/// Parse a user or group: decimal digits are an id, any other non-empty
/// text without `:`, `,` or white space is a name.
fn principal(v: Option<&str>) -> Result<Option<Principal>, String> {
    let Some(v) = v else { return Ok(None) };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse()
            .map(|id| Some(Principal::Id(id)))
            .map_err(|_| v.to_owned());
    }
    let valid_name = !v.is_empty()
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
    if valid_name {
        Ok(Some(Principal::Name(v.to_owned())))
    } else {
        Err(v.to_owned())
    }
}

/// An empty field is written as `none`, anything else escaped.
fn field(s: &str) -> String {
    if s.is_empty() {
        "none".to_owned()
    } else {
        escape(s)
    }
}

impl fmt::Display for MountEntry {
    /// snapd's `MountEntry.String` (spec §1.4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opts = if self.options.is_empty() {
            "defaults".to_owned()
        } else {
            escape(&self.options.join(","))
        };
        write!(
            f,
            "{} {} {} {} {} {}",
            field(&self.name),
            field(&self.dir),
            field(&self.fs_type),
            opts,
            self.freq,
            self.passno
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> MountEntry {
        MountEntry::parse(line).unwrap()
    }

    #[test]
    fn missing_numbers_default_to_zero_and_options_to_none() {
        let e = entry("a b c");
        assert_eq!((e.options.len(), e.freq, e.passno), (0, 0, 0));
        assert_eq!(e.to_string(), "a b c defaults 0 0");
    }

    #[test]
    fn hash_starts_a_comment_only_at_field_start() {
        let e = entry("mhddfs#/a /b fuse defaults #comment 1 2");
        assert_eq!(e.name, "mhddfs#/a");
        assert_eq!(e.options, vec!["defaults"]);
        assert_eq!(MountEntry::parse("#a b c"), Err(ParseError::FieldCount(0)));
    }

    #[test]
    fn carriage_return_is_data_not_a_separator() {
        let e = entry("a b c\r");
        assert_eq!(e.fs_type, "c\r");
    }

    #[test]
    fn numbers_parse_like_go_atoi() {
        assert_eq!(entry("a b c d +1 -2").freq, 1);
        assert_eq!(entry("a b c d +1 -2").passno, -2);
        assert_eq!(
            MountEntry::parse("a b c d 0x1").unwrap_err().to_string(),
            "cannot parse dump frequency: \"0x1\""
        );
        assert!(MountEntry::parse("a b c d 99999999999999999999").is_err());
        assert!(MountEntry::parse("a b c d -").is_err());
    }

    #[test]
    fn typed_options() {
        let e = entry(
            "tmpfs /x tmpfs x-snapd.mode=01777,x-snapd.user=1000,x-snapd.group=adm,x-snapd.origin=layout,\
             x-snapd.synthetic,x-snapd.needed-by=/x/y,x-snapd.detach,x-snapd.ignore-missing,x-snapd.id=foo 0 0",
        );
        assert_eq!(e.mode(), Ok(Some(0o1777)));
        assert_eq!(e.user(), Ok(Some(Principal::Id(1000))));
        assert_eq!(e.group(), Ok(Some(Principal::Name("adm".into()))));
        assert_eq!(e.origin(), Origin::Layout);
        assert!(e.is_synthetic() && e.detach() && e.ignore_missing());
        assert_eq!(e.needed_by(), Some("/x/y"));
        assert_eq!(e.id(), "foo");
        assert_eq!(e.kind(), Ok(Kind::Directory));
        assert_eq!(entry("a /d b").id(), "/d");
    }

    #[test]
    fn malformed_typed_options_are_errors() {
        assert_eq!(
            entry("a b c x-snapd.mode=0999").mode(),
            Err(OptionError::Mode("0999".into()))
        );
        assert_eq!(
            entry("a b c x-snapd.mode=755").mode(),
            Err(OptionError::Mode("755".into()))
        );
        assert_eq!(entry("a b c x-snapd.mode=0").mode(), Ok(Some(0)));
        assert!(entry("a b c x-snapd.user=a:b").user().is_err());
        assert!(entry("a b c x-snapd.kind=weird").kind().is_err());
        assert_eq!(
            entry("a b c x-snapd.kind=ensure-dir").kind(),
            Ok(Kind::EnsureDir)
        );
    }

    #[test]
    fn replace_option_follows_snapd() {
        let mut e = entry("a b c x-snapd.mode=0755,ro");
        e.replace_option("x-snapd.mode=0700");
        assert_eq!(e.options, vec!["x-snapd.mode=0700", "ro"]);
        e.replace_option("x-snapd.mode=");
        e.replace_option("ro");
        e.replace_option("x-snapd.user=1");
        assert_eq!(e.options, vec!["x-snapd.mode=0700", "ro"]);
    }
}
