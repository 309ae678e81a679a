//! Layouts of snap.yaml: variable expansion (spec §4.2), validation
//! (§4.3 `ValidateLayoutAll`, §4.4 `ValidateLayout`) and conversion into
//! mount entries (§5.1).
//!
//! Error messages are snapd's, byte for byte (quoting is Go's `%q`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::entry::{MountEntry, OPT_KIND, OPT_MODE, OPT_ORIGIN, OPT_SYMLINK};
use crate::goquote::quote;
use crate::paths;

/// The default mode of a layout item.
pub const DEFAULT_MODE: u32 = 0o755;

/// One item of `layout:` (the map key, its path, is kept outside).
///
/// `Default` gives what snap.yaml parsing gives for an empty item: user and
/// group `root`, mode 0755, nothing else set. Empty strings mean "unset",
/// as in snapd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `bind`: a directory to bind-mount (recursively) at the path.
    pub bind: String,
    /// `bind-file`: a file to bind-mount at the path.
    pub bind_file: String,
    /// `type`: a file system to mount (only `tmpfs` is valid).
    pub fs_type: String,
    /// `symlink`: the target of a symbolic link made at the path.
    pub symlink: String,
    /// `user`: only `root` is valid.
    pub user: String,
    /// `group`: only `root` is valid.
    pub group: String,
    /// `mode`: parsed from octal text.
    pub mode: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            bind: String::new(),
            bind_file: String::new(),
            fs_type: String::new(),
            symlink: String::new(),
            user: "root".to_owned(),
            group: "root".to_owned(),
            mode: DEFAULT_MODE,
        }
    }
}

/// Why the `mode:` text of a layout item is not an octal number that fits
/// in 32 bits (Go's `strconv.ParseUint(s, 8, 32)` failures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("invalid syntax")]
    Syntax,
    #[error("value out of range")]
    Range,
}

/// Parse a layout mode as Go's `strconv.ParseUint(s, 8, 32)`: octal digits
/// only (no sign, prefix or underscores), leading zeros allowed, at most
/// `u32::MAX`. An overflow is reported as soon as it happens, even if an
/// invalid character follows, as Go does.
pub fn parse_mode(s: &str) -> Result<u32, ModeError> {
    if s.is_empty() {
        return Err(ModeError::Syntax);
    }
    let mut n: u64 = 0;
    for c in s.bytes() {
        let d = match c {
            b'0'..=b'7' => u64::from(c - b'0'),
            _ => return Err(ModeError::Syntax),
        };
        n = n * 8 + d;
        if n > u64::from(u32::MAX) {
            return Err(ModeError::Range);
        }
    }
    // The loop keeps n within u32.
    u32::try_from(n).map_err(|_| ModeError::Range)
}

/// Format a mode as Go's `%#o`: `0`, `0755`, `01777`.
pub fn go_octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_owned()
    } else {
        format!("0{mode:o}")
    }
}

/// The values the three snap variables expand to for one snap revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapVars {
    /// `$SNAP`: `/snap/NAME/REV`.
    pub snap: String,
    /// `$SNAP_DATA`: `/var/snap/NAME/REV`.
    pub snap_data: String,
    /// `$SNAP_COMMON`: `/var/snap/NAME/common`.
    pub snap_common: String,
}

impl SnapVars {
    /// The variables for `snap_name` (the snap name, never the instance
    /// name) at `revision` (`unset` when there is none, `x1` for local
    /// revisions). `$SNAP` is always under `/snap`, whatever the host's
    /// snap mount directory: these paths are seen inside the mount namespace.
    pub fn new(snap_name: &str, revision: &str) -> SnapVars {
        SnapVars {
            snap: paths::clean(&format!("/snap/{snap_name}/{revision}")),
            snap_data: paths::clean(&format!("/var/snap/{snap_name}/{revision}")),
            snap_common: paths::clean(&format!("/var/snap/{snap_name}/common")),
        }
    }

    fn lookup(&self, var: &str) -> &str {
        match var {
            "SNAP" => &self.snap,
            "SNAP_DATA" => &self.snap_data,
            "SNAP_COMMON" => &self.snap_common,
            _ => "",
        }
    }

    /// Expand `$SNAP`, `$SNAP_DATA`, `$SNAP_COMMON` (also in `${...}` form)
    /// as Go's `os.Expand` does; every other variable expands to nothing.
    pub fn expand(&self, s: &str) -> String {
        go_expand(s, |v| self.lookup(v))
    }

    /// Whether `path` starts (as text) with one of the expanded variables.
    fn under_snap_dirs(&self, path: &str) -> bool {
        path.starts_with(&self.snap)
            || path.starts_with(&self.snap_data)
            || path.starts_with(&self.snap_common)
    }
}

/// Expand the snap variables in `s` for `snap_name` at `revision` (spec §4.2).
pub fn expand_snap_variables(snap_name: &str, revision: &str, s: &str) -> String {
    SnapVars::new(snap_name, revision).expand(s)
}

/// Go's `os.Expand`: `$NAME` / `${NAME}` are replaced by `mapping(NAME)`;
/// `$` followed by one of the shell's special characters names that
/// one-character variable; a `$` that starts no name (and a trailing `$`) is
/// kept; malformed `${` forms are dropped.
pub fn go_expand<'m>(s: &str, mapping: impl Fn(&str) -> &'m str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0; // start of the text not yet copied
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                None if width > 0 => {} // bad syntax: eat it
                None => out.push('$'),
                Some(name) => out.push_str(mapping(name)),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(s.get(i..).unwrap_or(""));
    out
}

fn is_shell_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `getShellName`: the variable name at the start of `s` (just after a
/// `$`) and how many bytes it spans; `None` with a non-zero width is bad
/// syntax to be dropped, `None` with zero width means no name at all.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    match b.first() {
        Some(b'{') => {
            if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
                return (Some(&s[1..2]), 3);
            }
            match b.iter().skip(1).position(|&c| c == b'}') {
                Some(0) => (None, 2),
                Some(p) => (Some(&s[1..p + 1]), p + 2),
                None => (None, 1),
            }
        }
        Some(&c) if is_shell_special(c) => (Some(&s[0..1]), 1),
        _ => {
            let n = b
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if n == 0 {
                (None, 0)
            } else {
                (Some(&s[..n]), n)
            }
        }
    }
}

/// A path or source uses a variable other than the three snap variables.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("reference to unknown variable {}", quote(&format!("${}", .0)))]
pub struct UnknownVariable(pub String);

/// snapd's `ValidatePathVariables`: every `$` must be followed by `SNAP`,
/// `SNAP_DATA` or `SNAP_COMMON` (the name being the run of ASCII letters and
/// underscores after the `$`; so `${SNAP}` names the empty variable).
pub fn validate_path_variables(path: &str) -> Result<(), UnknownVariable> {
    let mut rest = path;
    while let Some(start) = rest.find('$') {
        rest = &rest[start + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
            .unwrap_or(rest.len());
        let var = &rest[..end];
        if !matches!(var, "SNAP" | "SNAP_DATA" | "SNAP_COMMON") {
            return Err(UnknownVariable(var.to_owned()));
        }
        rest = &rest[end..];
    }
    Ok(())
}

/// The characters AppArmor treats as patterns (and NUL).
pub const APPARMOR_RESERVED: &str = "?*[]{}^\"\0";

/// Whether `s` contains a character AppArmor would read as a pattern.
pub fn has_apparmor_reserved(s: &str) -> bool {
    s.contains(|c| APPARMOR_RESERVED.contains(c))
}

/// snapd's `isAbsAndClean`: absolute (or starting with `$`) and clean.
fn is_abs_and_clean(p: &str) -> bool {
    (p.starts_with('/') || p.starts_with('$')) && paths::clean(p) == p
}

/// Directories under which no layout may be placed (spec §4.4 step 4).
pub const OFF_LIMITS: &[&str] = &[
    "/boot",
    "/dev",
    "/home",
    "/lib/firmware",
    "/usr/lib/firmware",
    "/lib/modules",
    "/usr/lib/modules",
    "/lost+found",
    "/media",
    "/proc",
    "/run",
    "/var/run",
    "/sys",
    "/tmp",
    "/var/lib/snapd",
    "/var/snap",
];

/// The top-level directories a layout may be placed under (spec §4.3):
/// layouts cannot create new ones, because that would need a writable
/// mimic of `/`.
pub const TOP_LEVEL_DIRS: &[&str] = &[
    "bin", "etc", "lib", "lib64", "meta", "mnt", "opt", "root", "sbin", "snap", "srv", "usr",
    "var", "writable",
];

/// `p == c` or `p` is below `c`.
fn is_at_or_below(p: &str, c: &str) -> bool {
    p.strip_prefix(c)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What an accepted layout item occupies, constraining the items after it
/// (snapd's `LayoutConstraint`). The path is the expanded mount point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// A mounted tree (bind or tmpfs): blocks the path and everything below.
    MountedTree(String),
    /// A bind-mounted file: blocks the path and everything below.
    MountedFile(String),
    /// A symbolic link: blocks the path and everything below.
    SymlinkFile(String),
    /// Blocks every path (a test stub in snapd, kept for the vectors).
    AlwaysOffLimits(String),
}

impl Constraint {
    /// The constraint an accepted item at `expanded_path` adds.
    pub fn of(layout: &Layout, expanded_path: &str) -> Constraint {
        let p = expanded_path.to_owned();
        if !layout.symlink.is_empty() {
            Constraint::SymlinkFile(p)
        } else if !layout.bind_file.is_empty() {
            Constraint::MountedFile(p)
        } else {
            Constraint::MountedTree(p)
        }
    }

    /// The path printed in errors.
    pub fn path(&self) -> &str {
        match self {
            Constraint::MountedTree(p)
            | Constraint::MountedFile(p)
            | Constraint::SymlinkFile(p)
            | Constraint::AlwaysOffLimits(p) => p,
        }
    }

    /// Whether a layout at (expanded) `path` is forbidden by this constraint.
    pub fn is_off_limits(&self, path: &str) -> bool {
        match self {
            Constraint::MountedTree(c)
            | Constraint::MountedFile(c)
            | Constraint::SymlinkFile(c) => is_at_or_below(path, c),
            Constraint::AlwaysOffLimits(_) => true,
        }
    }
}

/// Why a path, source or symlink target of a layout is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathReason {
    #[error(transparent)]
    UnknownVariable(#[from] UnknownVariable),
    #[error("must be absolute and clean")]
    NotAbsoluteAndClean,
    #[error("must start with $SNAP, $SNAP_DATA or $SNAP_COMMON")]
    OutsideSnapDirs,
    /// snapcell's own rule, not snapd's: control characters in a mount point.
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Quote `s` and say it contains an AppArmor pattern character.
fn reserved_msg(s: &str) -> String {
    format!(
        "{} contains a reserved apparmor char from {APPARMOR_RESERVED}",
        quote(s)
    )
}

/// Why a layout is invalid. The messages are snapd's, except for
/// [`PathReason::ControlCharacter`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("layout cannot use an empty path")]
    EmptyPath,
    #[error("invalid layout path: {}", reserved_msg(.path))]
    ReservedCharInPath { path: String },
    #[error("layout {} is a relative filename", quote(.path))]
    RelativeFilename { path: String },
    #[error("layout {} defines a new top-level directory {}", quote(.path), quote(.top))]
    NewTopLevelDirectory { path: String, top: String },
    #[error("layout {} refers to directory {} but another layout treats it as file", quote(.path), quote(.mount_source))]
    SourceUsedAsDirectory { path: String, mount_source: String },
    #[error("layout {} refers to file {} but another layout treats it as a directory", quote(.path), quote(.mount_source))]
    SourceUsedAsFile { path: String, mount_source: String },
    #[error("layout {} defines a layout in space belonging to another snap", quote(.path))]
    OtherSnapSpace { path: String },
    #[error("layout {} uses invalid mount point: {reason}", quote(.path))]
    InvalidMountPoint { path: String, reason: PathReason },
    #[error("layout {} in an off-limits area", quote(.path))]
    OffLimits { path: String },
    #[error("layout {} underneath prior layout item {}", quote(.path), quote(.prior))]
    UnderPriorItem { path: String, prior: String },
    #[error("layout {} must define a bind mount, a filesystem mount or a symlink", quote(.path))]
    NotExactlyOneKind { path: String },
    #[error("layout {} uses invalid bind mount source {}: {reason}", quote(.path), quote(.mount_source))]
    InvalidBindSource {
        path: String,
        mount_source: String,
        reason: PathReason,
    },
    #[error("layout {} uses invalid mount source: {}", quote(.path), reserved_msg(.mount_source))]
    ReservedCharInSource { path: String, mount_source: String },
    #[error("layout {} uses invalid filesystem {}", quote(.path), quote(.fs_type))]
    InvalidFilesystem { path: String, fs_type: String },
    #[error("layout {} uses invalid symlink old name {}: {reason}", quote(.path), quote(.target))]
    InvalidSymlinkTarget {
        path: String,
        target: String,
        reason: PathReason,
    },
    #[error("layout {} uses invalid symlink: {}", quote(.path), reserved_msg(.target))]
    ReservedCharInSymlink { path: String, target: String },
    #[error("layout {} uses invalid user {}", quote(.path), quote(.user))]
    InvalidUser { path: String, user: String },
    #[error("layout {} uses invalid group {}", quote(.path), quote(.group))]
    InvalidGroup { path: String, group: String },
    #[error("layout {} uses invalid mode {}", quote(.path), go_octal(*.mode))]
    InvalidMode { path: String, mode: u32 },
}

impl LayoutError {
    /// The layout path (yaml key) the error is about, if any.
    pub fn path(&self) -> Option<&str> {
        use LayoutError::*;
        match self {
            EmptyPath => None,
            ReservedCharInPath { path }
            | RelativeFilename { path }
            | NewTopLevelDirectory { path, .. }
            | SourceUsedAsDirectory { path, .. }
            | SourceUsedAsFile { path, .. }
            | OtherSnapSpace { path }
            | InvalidMountPoint { path, .. }
            | OffLimits { path }
            | UnderPriorItem { path, .. }
            | NotExactlyOneKind { path }
            | InvalidBindSource { path, .. }
            | ReservedCharInSource { path, .. }
            | InvalidFilesystem { path, .. }
            | InvalidSymlinkTarget { path, .. }
            | ReservedCharInSymlink { path, .. }
            | InvalidUser { path, .. }
            | InvalidGroup { path, .. }
            | InvalidMode { path, .. } => Some(path),
        }
    }
}

/// Check a bind source or symlink target (spec §4.4 steps 7 and 9): the
/// variables, then absolute and clean after expansion, then below one of the
/// snap's directories (a textual prefix test, as snapd does). Returns the
/// expanded value, or the offending text (raw for variable errors, expanded
/// otherwise) and the reason.
fn check_source(vars: &SnapVars, raw: &str) -> Result<String, (String, PathReason)> {
    validate_path_variables(raw).map_err(|e| (raw.to_owned(), e.into()))?;
    let expanded = vars.expand(raw);
    if !is_abs_and_clean(&expanded) {
        return Err((expanded, PathReason::NotAbsoluteAndClean));
    }
    if !vars.under_snap_dirs(&expanded) {
        return Err((expanded, PathReason::OutsideSnapDirs));
    }
    Ok(expanded)
}

/// Validate one layout item at `path` against the constraints of the items
/// accepted before it: snapd's `ValidateLayout` (spec §4.4), plus snapcell's
/// refusal of control characters in the mount point.
pub fn validate_layout(
    snap_name: &str,
    revision: &str,
    path: &str,
    layout: &Layout,
    prior: &[Constraint],
) -> Result<(), LayoutError> {
    let blocker = |mount_point: &str| {
        prior
            .iter()
            .find(|c| c.is_off_limits(mount_point))
            .map(|c| c.path().to_owned())
    };
    validate_layout_with(&SnapVars::new(snap_name, revision), path, layout, &blocker)
}

/// The accepted items' paths, indexed for [`validate_all`]: which of them
/// (the first accepted) is at or above a path, looked up by the path's
/// ancestors, so the cost is the path's depth and not the number of items
/// (a scan of every prior item made validating n items take n² steps).
#[derive(Default)]
struct PriorIndex {
    first_at: HashMap<String, usize>,
}

impl PriorIndex {
    fn insert(&mut self, constraint: &Constraint) {
        let next = self.first_at.len();
        self.first_at
            .entry(constraint.path().to_owned())
            .or_insert(next);
    }

    /// The first accepted path `p` such that `path` is at or below `p`
    /// ([`Constraint::is_off_limits`] for the kinds `validate_all` makes).
    fn blocker(&self, path: &str) -> Option<String> {
        let ancestors = path
            .match_indices('/')
            .map(|(at, _)| &path[..at])
            .chain(std::iter::once(path));
        ancestors
            .filter_map(|a| self.first_at.get(a).map(|&i| (i, a)))
            .min()
            .map(|(_, a)| a.to_owned())
    }
}

fn validate_layout_with(
    vars: &SnapVars,
    path: &str,
    layout: &Layout,
    blocker: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LayoutError> {
    let owned = || path.to_owned();
    if path.is_empty() {
        return Err(LayoutError::EmptyPath);
    }
    let bad_mount_point = |reason| LayoutError::InvalidMountPoint {
        path: owned(),
        reason,
    };
    validate_path_variables(path).map_err(|e| bad_mount_point(e.into()))?;
    let mount_point = vars.expand(path);
    if !is_abs_and_clean(&mount_point) {
        return Err(bad_mount_point(PathReason::NotAbsoluteAndClean));
    }
    if mount_point.chars().any(char::is_control) {
        return Err(bad_mount_point(PathReason::ControlCharacter));
    }
    if OFF_LIMITS.iter().any(|d| is_at_or_below(&mount_point, d)) {
        return Err(LayoutError::OffLimits { path: owned() });
    }
    if let Some(prior) = blocker(&mount_point) {
        return Err(LayoutError::UnderPriorItem {
            path: owned(),
            prior,
        });
    }
    let kinds = [
        &layout.bind,
        &layout.bind_file,
        &layout.fs_type,
        &layout.symlink,
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .count();
    if kinds != 1 {
        return Err(LayoutError::NotExactlyOneKind { path: owned() });
    }
    if !layout.bind.is_empty() || !layout.bind_file.is_empty() {
        let raw = format!("{}{}", layout.bind, layout.bind_file);
        let source = check_source(vars, &raw).map_err(|(source, reason)| {
            LayoutError::InvalidBindSource {
                path: owned(),
                mount_source: source,
                reason,
            }
        })?;
        if has_apparmor_reserved(&source) {
            return Err(LayoutError::ReservedCharInSource {
                path: owned(),
                mount_source: source,
            });
        }
    }
    if !matches!(layout.fs_type.as_str(), "" | "tmpfs") {
        return Err(LayoutError::InvalidFilesystem {
            path: owned(),
            fs_type: layout.fs_type.clone(),
        });
    }
    if !layout.symlink.is_empty() {
        let target = check_source(vars, &layout.symlink).map_err(|(target, reason)| {
            LayoutError::InvalidSymlinkTarget {
                path: owned(),
                target,
                reason,
            }
        })?;
        if has_apparmor_reserved(&target) {
            return Err(LayoutError::ReservedCharInSymlink {
                path: owned(),
                target,
            });
        }
    }
    if !matches!(layout.user.as_str(), "" | "root") {
        return Err(LayoutError::InvalidUser {
            path: owned(),
            user: layout.user.clone(),
        });
    }
    if !matches!(layout.group.as_str(), "" | "root") {
        return Err(LayoutError::InvalidGroup {
            path: owned(),
            group: layout.group.clone(),
        });
    }
    if layout.mode & 0o1777 != layout.mode {
        return Err(LayoutError::InvalidMode {
            path: owned(),
            mode: layout.mode,
        });
    }
    Ok(())
}

/// Validate all layout items of a snap: snapd's `ValidateLayoutAll` plus the
/// path checks that precede it (spec §4.3). `snap_name` is the snap name
/// (not the instance name), `revision` the revision text (`unset` if none).
///
/// Items are visited in byte order of their paths in every step, so the
/// first error in that order is the one reported.
pub fn validate_all(
    snap_name: &str,
    revision: &str,
    layouts: &BTreeMap<String, Layout>,
) -> Result<(), LayoutError> {
    let vars = SnapVars::new(snap_name, revision);

    // 1. Reserved characters, relative paths and new top-level directories.
    for path in layouts.keys() {
        let expanded = vars.expand(&paths::clean(path));
        if has_apparmor_reserved(path) {
            return Err(LayoutError::ReservedCharInPath { path: path.clone() });
        }
        let mut parts = expanded.splitn(3, '/');
        let first = parts.next().unwrap_or("");
        if let Some(top) = parts.next() {
            if !first.is_empty() {
                return Err(LayoutError::RelativeFilename { path: path.clone() });
            }
            if !top.is_empty() && !TOP_LEVEL_DIRS.contains(&top) {
                return Err(LayoutError::NewTopLevelDirectory {
                    path: path.clone(),
                    top: format!("/{top}"),
                });
            }
        }
    }

    // 2. A source is used either as a directory or as a file, not both.
    #[derive(PartialEq)]
    enum SourceKind {
        Dir,
        File,
    }
    let mut kinds: HashMap<String, SourceKind> = HashMap::new();
    for (path, l) in layouts {
        if !l.bind.is_empty() {
            let src = vars.expand(&l.bind);
            if kinds.get(&src).is_some_and(|k| *k != SourceKind::Dir) {
                return Err(LayoutError::SourceUsedAsDirectory {
                    path: path.clone(),
                    mount_source: l.bind.clone(),
                });
            }
            kinds.insert(src, SourceKind::Dir);
        }
        if !l.bind_file.is_empty() {
            let src = vars.expand(&l.bind_file);
            if kinds.get(&src).is_some_and(|k| *k != SourceKind::File) {
                return Err(LayoutError::SourceUsedAsFile {
                    path: path.clone(),
                    mount_source: l.bind_file.clone(),
                });
            }
            kinds.insert(src, SourceKind::File);
        }
    }

    // 3. Nothing in the space of another snap (a textual prefix test).
    let own = paths::clean(&format!("/snap/{snap_name}"));
    if let Some(path) = layouts
        .keys()
        .find(|p| p.starts_with("/snap/") && !p.starts_with(&own))
    {
        return Err(LayoutError::OtherSnapSpace { path: path.clone() });
    }

    // 4. Each item against the items accepted before it.
    let mut prior = PriorIndex::default();
    for (path, l) in layouts {
        validate_layout_with(&vars, path, l, &|p| prior.blocker(p))?;
        prior.insert(&Constraint::of(l, &vars.expand(path)));
    }
    Ok(())
}

/// The mount entry of one layout item (spec §5.1). The item is not
/// validated; for an item that sets several kinds, later kinds override
/// earlier ones in the order bind, bind-file, type, symlink, as in snapd.
pub fn mount_entry(vars: &SnapVars, path: &str, layout: &Layout) -> MountEntry {
    let mut e = MountEntry {
        dir: vars.expand(path),
        ..MountEntry::default()
    };
    if !layout.bind.is_empty() {
        e.name = vars.expand(&layout.bind);
        e.options = vec!["rbind".into(), "rw".into()];
    }
    if !layout.bind_file.is_empty() {
        e.name = vars.expand(&layout.bind_file);
        e.options = vec!["bind".into(), "rw".into(), format!("{OPT_KIND}=file")];
    }
    if layout.fs_type == "tmpfs" {
        e.name = "tmpfs".into();
        e.fs_type = "tmpfs".into();
    }
    if !layout.symlink.is_empty() {
        e.options = vec![
            format!("{OPT_KIND}=symlink"),
            format!("{OPT_SYMLINK}={}", vars.expand(&layout.symlink)),
        ];
    }
    // `x-snapd.user=N` / `x-snapd.group=N` would come here for non-zero ids,
    // but only root (id 0) can be named today and ids of 0 are not written.
    if layout.mode != DEFAULT_MODE {
        e.options
            .push(format!("{OPT_MODE}={}", go_octal(layout.mode)));
    }
    e.options.push(format!("{OPT_ORIGIN}=layout"));
    e
}

/// The mount entries of a snap's layout, in byte order of the yaml keys
/// (spec §5.1). Variables expand with the snap name, never the instance name.
pub fn to_mount_entries(
    snap_name: &str,
    revision: &str,
    layouts: &BTreeMap<String, Layout>,
) -> Vec<MountEntry> {
    let vars = SnapVars::new(snap_name, revision);
    layouts
        .iter()
        .map(|(path, l)| mount_entry(&vars, path, l))
        .collect()
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tmpfs() -> Layout {
        Layout {
            fs_type: "tmpfs".into(),
            ..Layout::default()
        }
    }

    fn bind(src: &str) -> Layout {
        Layout {
            bind: src.into(),
            ..Layout::default()
        }
    }

    fn symlink(target: &str) -> Layout {
        Layout {
            symlink: target.into(),
            ..Layout::default()
        }
    }

    fn all(items: &[(&str, Layout)]) -> Result<(), LayoutError> {
        let map = items
            .iter()
            .map(|(p, l)| (p.to_string(), l.clone()))
            .collect();
        validate_all("demo", "7", &map)
    }

    fn err_all(items: &[(&str, Layout)]) -> String {
        all(items).unwrap_err().to_string()
    }

    #[test]
    fn modes_parse_like_go_parse_uint_base_8() {
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert_eq!(parse_mode("1777"), Ok(0o1777));
        assert_eq!(parse_mode("0"), Ok(0));
        assert_eq!(parse_mode("0000000000000000000000755"), Ok(0o755));
        assert_eq!(parse_mode("37777777777"), Ok(u32::MAX));
        assert_eq!(parse_mode("40000000000"), Err(ModeError::Range));
        assert_eq!(parse_mode("777777777777x"), Err(ModeError::Range));
        for bad in ["", "8", "0o755", "+7", "-7", "7_5", " 7", "0x1"] {
            assert_eq!(parse_mode(bad), Err(ModeError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn octal_formatting_is_go_sharp_o() {
        assert_eq!(go_octal(0), "0");
        assert_eq!(go_octal(0o700), "0700");
        assert_eq!(go_octal(0o1777), "01777");
    }

    #[test]
    fn expansion_follows_os_expand() {
        let v = SnapVars::new("foo", "unset");
        assert_eq!(v.expand("$SNAP/x"), "/snap/foo/unset/x");
        assert_eq!(v.expand("${SNAP}/x"), "/snap/foo/unset/x");
        assert_eq!(v.expand("$SNAP_DATA"), "/var/snap/foo/unset");
        assert_eq!(v.expand("$SNAP_COMMON/c"), "/var/snap/foo/common/c");
        assert_eq!(v.expand("$OTHER/x"), "/x");
        assert_eq!(v.expand("$SNAP2/etc"), "/etc", "digits belong to the name");
        assert_eq!(v.expand("a$"), "a$", "a trailing dollar stays");
        assert_eq!(v.expand("$/x"), "$/x", "no name: the dollar stays");
        assert_eq!(v.expand("${}x"), "x", "bad syntax is eaten");
        assert_eq!(
            v.expand("${SNAP"),
            "SNAP",
            "unterminated brace: ${{ is eaten"
        );
        assert_eq!(v.expand("$1x"), "x", "special one-character names");
        assert_eq!(v.expand("${1}x"), "x");
        assert_eq!(v.expand("é$SNAPé"), "é/snap/foo/unseté");
        assert_eq!(v.expand("é${SNAP}é"), "é/snap/foo/unseté");
        let local = SnapVars::new("foo", "x1");
        assert_eq!(local.snap, "/snap/foo/x1");
    }

    #[test]
    fn path_variables() {
        assert_eq!(
            validate_path_variables("$SNAP/a/$SNAP_DATA$SNAP_COMMON"),
            Ok(())
        );
        assert_eq!(validate_path_variables("/plain"), Ok(()));
        assert_eq!(
            validate_path_variables("$FOO").unwrap_err().to_string(),
            "reference to unknown variable \"$FOO\""
        );
        assert_eq!(
            validate_path_variables("${SNAP}").unwrap_err().to_string(),
            "reference to unknown variable \"$\""
        );
        assert_eq!(
            validate_path_variables("x$").unwrap_err(),
            UnknownVariable(String::new())
        );
        assert_eq!(validate_path_variables("$SNAP2"), Ok(()), "snapd quirk");
    }

    #[test]
    fn whole_snap_rules() {
        assert_eq!(
            all(&[("/usr/foo", tmpfs()), ("/etc/x", bind("$SNAP/x"))]),
            Ok(())
        );
        assert_eq!(
            err_all(&[("/usr/foo", tmpfs()), ("/usr/foo/bar", tmpfs())]),
            "layout \"/usr/foo/bar\" underneath prior layout item \"/usr/foo\""
        );
        assert_eq!(
            err_all(&[("/etc/foo", symlink("$SNAP/x")), ("/etc/foo/bar", tmpfs())]),
            "layout \"/etc/foo/bar\" underneath prior layout item \"/etc/foo\""
        );
        assert_eq!(
            all(&[("/etc/foo", symlink("$SNAP/x")), ("/etc/foobar", tmpfs())]),
            Ok(())
        );
        assert_eq!(
            err_all(&[("/opt/x", tmpfs()), ("/new/y", tmpfs())]),
            "layout \"/new/y\" defines a new top-level directory \"/new\""
        );
        assert_eq!(
            err_all(&[("foo/bar", tmpfs())]),
            "layout \"foo/bar\" is a relative filename"
        );
        assert_eq!(
            err_all(&[("/snap/other/x", tmpfs())]),
            "layout \"/snap/other/x\" defines a layout in space belonging to another snap"
        );
        assert_eq!(all(&[("/snap/demo/7/x", tmpfs())]), Ok(()));
        assert_eq!(
            err_all(&[
                ("/etc/a", bind("$SNAP/s")),
                (
                    "/etc/b",
                    Layout {
                        bind_file: "$SNAP/s".into(),
                        ..Layout::default()
                    }
                )
            ]),
            "layout \"/etc/b\" refers to file \"$SNAP/s\" but another layout treats it as a directory"
        );
        assert!(
            err_all(&[("$SNAP/a*", symlink("$SNAP/x"))])
                .ends_with("contains a reserved apparmor char from ?*[]{}^\"\0")
        );
        // $SNAP-relative mount points are allowed.
        assert_eq!(all(&[("$SNAP/here", bind("$SNAP_DATA/there"))]), Ok(()));
    }

    #[test]
    fn single_item_rules() {
        let one = |path: &str, l: Layout| {
            validate_layout("foo", "unset", path, &l, &[])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(one("", tmpfs()), "layout cannot use an empty path");
        assert_eq!(
            one("/foo", Layout::default()),
            "layout \"/foo\" must define a bind mount, a filesystem mount or a symlink"
        );
        assert_eq!(
            one("/foo/../bar", tmpfs()),
            "layout \"/foo/../bar\" uses invalid mount point: must be absolute and clean"
        );
        assert_eq!(
            one("/etc/a\nb", tmpfs()),
            "layout \"/etc/a\\nb\" uses invalid mount point: must not contain control characters"
        );
        assert_eq!(
            one("/run/x", tmpfs()),
            "layout \"/run/x\" in an off-limits area"
        );
        assert_eq!(
            one("/foo", bind("/var/lib/x")),
            "layout \"/foo\" uses invalid bind mount source \"/var/lib/x\": must start with $SNAP, $SNAP_DATA or $SNAP_COMMON"
        );
        assert_eq!(
            one("/foo", bind("$SNAP/../etc")),
            "layout \"/foo\" uses invalid bind mount source \"/snap/foo/unset/../etc\": must be absolute and clean"
        );
        assert_eq!(
            one("/foo", bind("$SNAP/a/")),
            "layout \"/foo\" uses invalid bind mount source \"/snap/foo/unset/a/\": must be absolute and clean"
        );
        assert_eq!(
            one("/foo", symlink("relative")),
            "layout \"/foo\" uses invalid symlink old name \"relative\": must be absolute and clean"
        );
        assert_eq!(
            one(
                "/foo",
                Layout {
                    mode: 0o4755,
                    ..tmpfs()
                }
            ),
            "layout \"/foo\" uses invalid mode 04755"
        );
        // The textual prefix test lets a sibling of $SNAP through, as in snapd.
        assert_eq!(
            validate_layout("foo", "1", "/foo", &bind("/snap/foo/10/x"), &[]),
            Ok(())
        );
        let always = [Constraint::AlwaysOffLimits("/x".into())];
        assert_eq!(
            validate_layout("foo", "1", "/foo", &tmpfs(), &always)
                .unwrap_err()
                .to_string(),
            "layout \"/foo\" underneath prior layout item \"/x\""
        );
    }

    #[test]
    fn entries_follow_spec_5_1() {
        let map: BTreeMap<String, Layout> = [
            ("/usr", bind("$SNAP/usr")),
            (
                "/lib/mytmp",
                Layout {
                    mode: 0o1777,
                    ..tmpfs()
                },
            ),
            ("/lib/mylink", symlink("$SNAP/link/target")),
            (
                "/etc/foo.conf",
                Layout {
                    bind_file: "$SNAP/foo.conf".into(),
                    ..Layout::default()
                },
            ),
        ]
        .into_iter()
        .map(|(p, l)| (p.to_owned(), l))
        .collect();
        let lines: Vec<String> = to_mount_entries("vanguard", "42", &map)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "/snap/vanguard/42/foo.conf /etc/foo.conf none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0",
                "none /lib/mylink none x-snapd.kind=symlink,x-snapd.symlink=/snap/vanguard/42/link/target,x-snapd.origin=layout 0 0",
                "tmpfs /lib/mytmp tmpfs x-snapd.mode=01777,x-snapd.origin=layout 0 0",
                "/snap/vanguard/42/usr /usr none rbind,rw,x-snapd.origin=layout 0 0",
            ]
        );
        let zero = mount_entry(
            &SnapVars::new("a", "1"),
            "/opt/z",
            &Layout { mode: 0, ..tmpfs() },
        );
        assert_eq!(zero.options, ["x-snapd.mode=0", "x-snapd.origin=layout"]);
    }

    fn arb_layout() -> impl Strategy<Value = Layout> {
        let text = "(\\$SNAP|\\$SNAP_DATA|\\$SNAP_COMMON|\\$[A-Z]{1,4}|/[a-z]{1,3}|/\\.\\.|/|[a-z*{\"]{1,2}|\n){0,4}";
        (
            prop_oneof![Just(String::new()), text],
            prop_oneof![Just(String::new()), text],
            prop_oneof![Just(String::new()), Just("tmpfs".to_owned()), "[a-z]{1,5}"],
            prop_oneof![Just(String::new()), text],
            prop_oneof![Just("root".to_owned()), Just(String::new()), "[a-z]{1,4}"],
            prop_oneof![Just(0o755u32), Just(0o1777), any::<u32>()],
        )
            .prop_map(|(bind, bind_file, fs_type, symlink, user, mode)| Layout {
                bind,
                bind_file,
                fs_type,
                symlink,
                group: user.clone(),
                user,
                mode,
            })
    }

    fn arb_path() -> impl Strategy<Value = String> {
        prop_oneof![
            "(/(etc|usr|opt|var|lib|snap|demo|proc|run|tmp|home|\\.\\.|\\.|x|y|x\ny|a\\*)){1,4}",
            "(\\$SNAP|\\$SNAP_DATA|\\$SNAP_COMMON|\\$FOO|\\$\\{SNAP\\})(/[a-z.]{1,4}){0,3}",
            "\\PC{0,16}",
        ]
    }

    proptest! {
        #[test]
        fn validation_never_panics(path in "\\PC{0,24}|[\\x00-\\x7f]{0,24}", l in arb_layout()) {
            let _ = validate_layout("foo", "unset", &path, &l, &[Constraint::MountedTree("/usr".into())]);
            let map = BTreeMap::from([(path.clone(), l.clone())]);
            let _ = validate_all("foo", "1", &map);
            let _ = to_mount_entries("foo", "1", &map);
            let _ = go_expand(&path, |_| "/x");
        }

        #[test]
        fn accepted_layouts_give_absolute_clean_dirs(
            items in proptest::collection::btree_map(arb_path(), arb_layout(), 1..5)
        ) {
            if validate_all("demo", "42", &items).is_ok() {
                for e in to_mount_entries("demo", "42", &items) {
                    prop_assert!(paths::is_clean_absolute(&e.dir), "{:?}", e.dir);
                    prop_assert!(!e.dir.chars().any(char::is_control));
                    prop_assert_eq!(e.origin(), crate::entry::Origin::Layout);
                    // Every entry survives a round trip through the fstab format.
                    prop_assert_eq!(MountEntry::parse(&e.to_string()).map(|p| p.dir), Ok(e.dir.clone()));
                }
            }
        }

        #[test]
        fn hostile_paths_are_rejected_naming_the_path(
            path in prop_oneof![
                "/snap/[a-z]{1,6}/\\.\\./(etc|usr)",
                "/snap/demo/\\.\\./\\.\\./etc",
                "/(proc|sys|dev|run|tmp|home|boot|media)(/[a-z]{1,5}){0,2}",
                "/(var/run|var/snap|var/lib/snapd|lib/firmware|usr/lib/modules)(/[a-z]{1,5}){0,2}",
                "[a-z]{1,8}(/[a-z]{1,5}){0,2}",
                "/(etc|usr|opt)/[a-z]{0,3}[\n\t\r\\x01][a-z]{0,3}",
                "/(etc|usr)(/[a-z]{1,3})?/\\.\\.(/[a-z]{1,3})?",
                "/(etc|usr)//[a-z]{1,3}",
                "/(etc|usr)/[a-z]{1,3}/",
                "/(etc|usr)/[a-z]{0,3}[?*\\[\\]{}^\"][a-z]{0,3}",
                "/[a-z]{1,3}x(/[a-z]{1,3})?",
                "\\$(FOO|\\{SNAP\\}|SNAP_USER_DATA)/[a-z]{1,3}",
            ],
            l in prop_oneof![Just(tmpfs()), Just(bind("$SNAP/x")), Just(symlink("$SNAP_DATA/y"))],
        ) {
            let map = BTreeMap::from([(path.clone(), l)]);
            let err = validate_all("demo", "42", &map);
            prop_assert!(err.is_err(), "{:?} accepted", path);
            let msg = err.unwrap_err().to_string();
            prop_assert!(msg.contains(&quote(&path)), "{:?} not named in {:?}", path, msg);
        }
    }
}
