//! Reading what the user names on the command line, with errors that say
//! FILE:LINE: a snap.yaml (or the snap directory holding one), a mount
//! profile, or `-` for standard input; a .snap given where a directory or a
//! snap.yaml is expected is recognised and said so.

use std::io::Read;
use std::path::{Path, PathBuf};

use snapcell_core::goquote::quote;
use snapcell_core::profile::Profile;
use snapcell_core::snap_yaml::SnapInfo;
use snapcell_standalone::squashfs;

/// The largest input read (snap.yaml and profiles are small; this keeps a
/// mistaken `-` on a large stream or a device from filling memory).
const MAX_INPUT: u64 = 64 << 20;

/// A text the user gave: its name as errors show it, and its contents.
pub struct Input {
    pub shown: String,
    pub text: String,
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of(text: &[u8], offset: usize) -> usize {
    text[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn read_bytes(path: &Path, shown: &str, what: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let res = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
    };
    res.map_err(|e| format!("cannot read {what} {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!(
            "cannot read {what} {shown}: larger than {} MiB",
            MAX_INPUT >> 20
        ));
    }
    Ok(bytes)
}

fn utf8(bytes: Vec<u8>, shown: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = line_of(e.as_bytes(), at);
        format!("{shown}:{line}: invalid UTF-8 at byte {at}")
    })
}

/// The error for a snap file given where a snap.yaml or a directory was
/// expected.
pub fn snap_file_given(path: &Path, expected: &str) -> String {
    format!(
        "cannot use {}: it is a snap file (a squashfs image), not {expected}; give the directory it was packed from, or unpack it with: unsquashfs -d DIR {}",
        path.display(),
        path.display()
    )
}

/// Where the snap.yaml of `arg` is: `-` (standard input), a snap
/// directory (its `meta/snap.yaml`) or a snap.yaml file.
pub fn snap_yaml_path(arg: &Path) -> Result<PathBuf, String> {
    if arg == Path::new("-") {
        return Ok(arg.to_owned());
    }
    if arg.is_dir() {
        return Ok(arg.join("meta/snap.yaml"));
    }
    if squashfs::is_squashfs(arg) {
        return Err(snap_file_given(
            arg,
            "a snap.yaml or a snap directory (with meta/snap.yaml)",
        ));
    }
    Ok(arg.to_owned())
}

/// Read the snap.yaml named by `arg` (see [`snap_yaml_path`]).
pub fn read_snap_yaml(arg: &Path) -> Result<Input, String> {
    let path = snap_yaml_path(arg)?;
    let shown = shown_name(&path);
    let bytes = read_bytes(&path, &shown, "snap.yaml")?;
    Ok(Input {
        text: utf8(bytes, &shown)?,
        shown,
    })
}

fn shown_name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Parse a snap.yaml; errors name FILE:LINE where the line can be found.
pub fn parse_snap_yaml(input: &Input) -> Result<SnapInfo, String> {
    SnapInfo::parse(&input.text).map_err(|e| located(input, &e.to_string()))
}

/// Validate a snap.yaml's contents; errors name FILE:LINE where the line
/// can be found.
pub fn validate_snap_yaml(input: &Input, info: &SnapInfo) -> Result<(), String> {
    info.validate().map_err(|e| located(input, &e.to_string()))
}

/// `msg` prefixed with FILE:LINE (or FILE where no line is known).
pub fn located(input: &Input, msg: &str) -> String {
    let (msg, line) = locate(&input.text, msg);
    match line {
        Some(line) => format!("{}:{line}: {msg}", input.shown),
        None => format!("{}: {msg}", input.shown),
    }
}

/// The line of snap.yaml `text` that an error message is about, and the
/// message without a position it carried (`at line N column M`,
/// `at position P`).
pub fn locate(text: &str, msg: &str) -> (String, Option<usize>) {
    if let Some(at) = msg.rfind(" at line ") {
        let rest = &msg[at + " at line ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(line) = digits.parse::<usize>() {
            return (msg[..at].to_owned(), Some(line));
        }
    }
    if let Some(at) = msg.rfind(" at position ") {
        let rest = &msg[at + " at position ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(pos) = digits.parse::<usize>() {
            // The scanner counts characters.
            let offset = text.char_indices().nth(pos).map_or(text.len(), |(i, _)| i);
            return (msg[..at].to_owned(), Some(line_of(text.as_bytes(), offset)));
        }
    }
    (msg.to_owned(), find_line(text, msg))
}

/// The first Go-quoted string after `word` in `msg`, unquoted (simple
/// escapes only).
fn quoted_after(msg: &str, word: &str) -> Option<String> {
    let at = msg.find(word)? + word.len();
    let rest = msg[at..].trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The line of the snap.yaml key an error is about: a layout item, an app,
/// a hook, a plug or slot (and the field named in the message, if any), or
/// a top-level key.
fn find_line(text: &str, msg: &str) -> Option<usize> {
    let field = quoted_after(msg, "field").or_else(|| {
        // `"daemon" field contains ...`: the quoted word before "field".
        let at = msg.find("\" field")?;
        let start = msg[..at].rfind('"')?;
        Some(msg[start + 1..at].to_owned())
    });
    for (word, section) in [
        ("layout", "layout"),
        ("application", "apps"),
        ("app", "apps"),
        ("hook", "hooks"),
        ("plug", "plugs"),
        ("slot", "slots"),
    ] {
        if let Some(key) = quoted_after(msg, word)
            && let Some(line) = key_line(text, section, &key, field.as_deref())
        {
            return Some(line);
        }
    }
    for (words, key) in [
        ("snap name", "name"),
        ("instance name", "name"),
        ("version", "version"),
        ("base", "base"),
        ("confinement", "confinement"),
        ("grade", "grade"),
        ("summary", "summary"),
        ("title", "title"),
        ("description", "description"),
        ("type", "type"),
        ("epoch", "epoch"),
        ("layout", "layout"),
        ("environment", "environment"),
        ("apps", "apps"),
        ("hooks", "hooks"),
        ("plugs", "plugs"),
        ("slots", "slots"),
    ] {
        if msg.contains(words)
            && let Some(line) = top_level_line(text, key)
        {
            return Some(line);
        }
    }
    None
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether `line` (trimmed) is the mapping key `key`.
fn is_key(line: &str, key: &str) -> bool {
    let t = line.trim_start();
    let t = t.strip_prefix("- ").unwrap_or(t);
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
        // A double-quoted key with escapes (`"/usr/x\ny":`).
        format!("{}:", quote(key)),
    ]
    .iter()
    .any(|k| t.starts_with(k.as_str()))
}

fn top_level_line(text: &str, key: &str) -> Option<usize> {
    text.split('\n')
        .position(|l| indent(l) == 0 && is_key(l, key))
        .map(|i| i + 1)
}

/// The line of `section: { key: { field: ... } }`; the key's line when the
/// field is not found, the section's when the key is not.
fn key_line(text: &str, section: &str, key: &str, field: Option<&str>) -> Option<usize> {
    let lines: Vec<&str> = text.split('\n').collect();
    let start = top_level_line(text, section)? - 1;
    let mut key_at = None;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) == 0 {
            break;
        }
        if is_key(l, key) {
            key_at = Some(i);
            break;
        }
    }
    let Some(key_at) = key_at else {
        return Some(start + 1);
    };
    if let Some(field) = field {
        let key_indent = indent(lines[key_at]);
        for (i, l) in lines.iter().enumerate().skip(key_at + 1) {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            if indent(l) <= key_indent {
                break;
            }
            if is_key(l, field) {
                return Some(i + 1);
            }
        }
    }
    Some(key_at + 1)
}

/// The line that a mount profile's `n`th entry (0-based) is on, counting as
/// [`Profile::parse`] does.
fn entry_lines(text: &str) -> Vec<usize> {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// Read and check a mount profile that must exist (`-` is standard input):
/// every line parses, and each entry's `x-snapd.*` values are valid, its
/// mount point is absolute, and no field holds a NUL byte.
pub fn read_profile(path: &Path) -> Result<Profile, String> {
    read_profile_with(path, true)
}

/// Read a mount profile that must exist, checking only its syntax (as
/// snap-update-ns reads one: `plan` shows what it would do with it).
pub fn read_profile_syntax(path: &Path) -> Result<Profile, String> {
    read_profile_with(path, false)
}

fn read_profile_with(path: &Path, check: bool) -> Result<Profile, String> {
    let shown = shown_name(path);
    if path != Path::new("-") && squashfs::is_squashfs(path) {
        return Err(snap_file_given(path, "a mount profile"));
    }
    let bytes = read_bytes(path, &shown, "mount profile")?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = line_of(&bytes, e.valid_up_to());
        format!("{shown}:{line}: invalid UTF-8 in mount profile")
    })?;
    let profile = Profile::parse(text).map_err(|e| format!("{shown}:{e}"))?;
    if !check {
        return Ok(profile);
    }
    for (entry, line) in profile.entries.iter().zip(entry_lines(text)) {
        check_entry(entry).map_err(|why| format!("{shown}:{line}: {why}"))?;
    }
    Ok(profile)
}

/// What `profile check` checks of an entry beyond its syntax.
fn check_entry(e: &snapcell_core::entry::MountEntry) -> Result<(), String> {
    let fields = [&e.name, &e.dir, &e.fs_type]
        .into_iter()
        .chain(e.options.iter());
    if fields.into_iter().any(|f| f.contains('\0')) {
        return Err("cannot use mount entry: a field holds a NUL byte".to_owned());
    }
    if !e.dir.starts_with('/') {
        return Err(format!(
            "cannot use mount entry {e}: mount point {} is not an absolute path",
            quote(&e.dir)
        ));
    }
    let kind = e.kind().map_err(|err| err.to_string())?;
    e.mode().map_err(|err| err.to_string())?;
    e.user().map_err(|err| err.to_string())?;
    e.group().map_err(|err| err.to_string())?;
    if kind == snapcell_core::entry::Kind::Symlink {
        match e.symlink_target() {
            None | Some("") => {
                return Err(format!(
                    "cannot use mount entry {e}: x-snapd.kind=symlink needs x-snapd.symlink=TARGET"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: demo\nversion: '1'\napps:\n  x:\n    command: bin/x\n    daemon: bogus\nlayout:\n  /usr/a:\n    type: tmpfs\n  \"/usr/b\":\n    bind: $SNAP/b\n";

    #[test]
    fn lines_of_keys() {
        assert_eq!(
            locate(YAML, r#"invalid definition of application "x": "daemon" field contains invalid value "bogus""#).1,
            Some(6)
        );
        assert_eq!(locate(YAML, r#"layout "/usr/b" bad"#).1, Some(10));
        assert_eq!(locate(YAML, r#"layout "/usr/zz" bad"#).1, Some(7));
        assert_eq!(locate(YAML, "invalid snap name: \"demo\"").1, Some(1));
        assert_eq!(
            locate(YAML, "cannot parse: x at line 3 column 2"),
            ("cannot parse: x".to_owned(), Some(3))
        );
        assert_eq!(
            locate(
                "a: 1\nb: \u{1}\n",
                "control characters are not allowed at position 8"
            ),
            ("control characters are not allowed".to_owned(), Some(2))
        );
    }
}
