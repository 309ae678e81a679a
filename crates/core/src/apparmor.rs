//! The subset of AppArmor's profile language that snapd's profiles use,
//! read for translation into Landlock rules ([`crate::landlock`]).
//!
//! A profile snapd writes (`/var/lib/snapd/apparmor/profiles/snap.NAME.APP`)
//! holds `@{VAR}="value"` assignments, `#include <...>` lines, one
//! `profile "snap.NAME.APP" (flags) { ... }` block with the template and
//! every connected interface's snippet. The parser keeps what Landlock can
//! use: file rules (with `audit`, `deny`, `owner` and `allow` qualifiers,
//! path first or permissions first), `network`, `unix` and `signal` rules.
//! Everything else (`dbus`, `capability`, `mount`, `ptrace`, ...) is
//! recognised and counted as ignored.
//!
//! Includes are resolved through a caller-supplied function (the profile
//! text is pure data here); a missing include is noted and skipped, as
//! `#include if exists` is by AppArmor.
//!
//! The input is untrusted-ish: nothing here panics on any input, the text
//! is bounded ([`MAX_TEXT`] bytes per file, [`MAX_INCLUDES`] files,
//! [`MAX_DEPTH`] include levels, [`MAX_RULES`] rules), and expansions of
//! variables and alternations are bounded ([`MAX_ALTERNATIVES`]).

use std::collections::BTreeMap;

/// Largest profile or include file read.
pub const MAX_TEXT: usize = 4 << 20;
/// Most include files resolved for one profile.
pub const MAX_INCLUDES: usize = 512;
/// Deepest include nesting.
pub const MAX_DEPTH: usize = 16;
/// Most rules kept for one profile.
pub const MAX_RULES: usize = 100_000;
/// Most alternatives one path expands to.
pub const MAX_ALTERNATIVES: usize = 4096;

/// AppArmor's file permissions (the letters Landlock has a use for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilePerms {
    /// `r`.
    pub read: bool,
    /// `w` (or `a`, append).
    pub write: bool,
    /// `l`.
    pub link: bool,
    /// Any execute mode (`ix`, `px`, `Pix`, `ux`, `cx`, ...).
    pub exec: bool,
}

impl FilePerms {
    /// Parse a permission word such as `mrwklix`; `None` if it is not one.
    pub fn parse(word: &str) -> Option<FilePerms> {
        if word.is_empty() {
            return None;
        }
        let mut p = FilePerms::default();
        for c in word.chars() {
            match c {
                'r' => p.read = true,
                'w' | 'a' => p.write = true,
                'l' => p.link = true,
                'x' => p.exec = true,
                'm' | 'k' | 'i' | 'p' | 'P' | 'u' | 'U' | 'c' | 'C' => {}
                _ => return None,
            }
        }
        Some(p)
    }
}

/// A file rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRule {
    pub deny: bool,
    pub owner: bool,
    /// The path pattern as written (variables not yet expanded).
    pub path: String,
    pub perms: FilePerms,
}

/// One rule of the profile that matters for Landlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    File(FileRule),
    /// `network [DOMAIN] [TYPE|PROTOCOL]`: the words after `network`.
    Network {
        deny: bool,
        words: Vec<String>,
    },
    /// `unix ...`: the whole rule after `unix`.
    Unix {
        deny: bool,
        text: String,
    },
    /// `signal ...`: the whole rule after `signal`.
    Signal {
        deny: bool,
        text: String,
    },
}

/// A parsed profile with its includes resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Variables: `@{NAME}` → values (each may hold more variables).
    pub vars: BTreeMap<String, Vec<String>>,
    pub rules: Vec<Rule>,
    /// Includes that were not found (`<abstractions/x>` or `"path"`).
    pub missing_includes: Vec<String>,
    /// Rules of other kinds (dbus, capability, ...), not translated.
    pub ignored: usize,
    /// Statements that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

/// Parse `text` (a profile snapd wrote); `include` returns the text of an
/// include (`<abstractions/base>` as `abstractions/base`, `"/x"` as `/x`),
/// or `None` where it is missing.
pub fn parse(text: &str, include: &mut dyn FnMut(&str) -> Option<String>) -> Profile {
    let mut profile = Profile::default();
    let mut state = State {
        include,
        files: 0,
        seen: Vec::new(),
    };
    parse_into(&mut profile, text, 0, &mut state);
    profile
}

struct State<'a> {
    include: &'a mut dyn FnMut(&str) -> Option<String>,
    files: usize,
    seen: Vec<String>,
}

fn parse_into(profile: &mut Profile, text: &str, depth: usize, st: &mut State<'_>) {
    let text = if text.len() > MAX_TEXT {
        profile
            .unreadable
            .push(format!("text over {MAX_TEXT} bytes cut"));
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    } else {
        text
    };
    let mut body = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(target) = include_target(trimmed) {
            handle_include(profile, target, depth, st);
            body.push('\n');
            continue;
        }
        let line = strip_comment(line);
        let t = line.trim();
        if t.starts_with("@{") && !t.ends_with(',') && t.contains('=') {
            assign(profile, t);
            body.push('\n');
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    for stmt in statements(&body) {
        if profile.rules.len() >= MAX_RULES {
            profile
                .unreadable
                .push(format!("more than {MAX_RULES} rules"));
            return;
        }
        classify(profile, &stmt);
    }
}

/// `#include <x>`, `include <x>`, `#include if exists <x>`, `include "x"`.
fn include_target(line: &str) -> Option<(String, bool)> {
    let rest = line
        .strip_prefix("#include")
        .or_else(|| line.strip_prefix("include"))?;
    if !rest.starts_with(char::is_whitespace) && !rest.starts_with(['<', '"']) {
        return None;
    }
    let mut rest = rest.trim();
    let mut if_exists = false;
    if let Some(r) = rest.strip_prefix("if exists") {
        rest = r.trim();
        if_exists = true;
    }
    let rest = rest.trim_end_matches(',').trim();
    let inner = rest
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .or_else(|| rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    Some((inner.to_owned(), if_exists))
}

fn handle_include(
    profile: &mut Profile,
    (name, if_exists): (String, bool),
    depth: usize,
    st: &mut State<'_>,
) {
    if depth >= MAX_DEPTH || st.files >= MAX_INCLUDES {
        profile
            .unreadable
            .push(format!("include {name} skipped: too many includes"));
        return;
    }
    // A file included twice adds nothing (abstractions include each other).
    if st.seen.iter().any(|s| s == &name) {
        return;
    }
    st.seen.push(name.clone());
    st.files += 1;
    match (st.include)(&name) {
        Some(text) => parse_into(profile, &text, depth + 1, st),
        None => {
            if !if_exists {
                profile.missing_includes.push(name);
            }
        }
    }
}

/// The line up to a comment (`#` at the start or after white space, not in
/// quotes).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `@{NAME}=a b` or `@{NAME}+=c`.
fn assign(profile: &mut Profile, t: &str) {
    let Some(close) = t.find('}') else {
        profile
            .unreadable
            .push(format!("cannot read variable: {t}"));
        return;
    };
    let name = t[2..close].to_owned();
    let rest = t[close + 1..].trim_start();
    let (append, value) = if let Some(v) = rest.strip_prefix("+=") {
        (true, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (false, v)
    } else {
        profile
            .unreadable
            .push(format!("cannot read variable: {t}"));
        return;
    };
    let values: Vec<String> = value
        .split_whitespace()
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let entry = profile.vars.entry(name).or_default();
    if !append {
        entry.clear();
    }
    entry.extend(values);
}

/// Split the body into statements: at `,` outside quotes, parentheses and
/// alternations; a lone `{` (a block's start) drops the block header, a
/// lone `}` ends a block.
fn statements(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut paren, mut brace, mut quoted) = (0usize, 0usize, false);
    let chars: Vec<char> = body.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev_space = i == 0 || chars[i - 1].is_whitespace();
        let next_space = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            _ if quoted => cur.push(c),
            '(' => {
                paren += 1;
                cur.push(c);
            }
            ')' => {
                paren = paren.saturating_sub(1);
                cur.push(c);
            }
            '{' if paren == 0 && brace == 0 && prev_space && next_space => {
                // A block header (`profile NAME (flags)`, a hat): not a rule.
                cur.clear();
            }
            '}' if paren == 0 && brace == 0 => {
                if !cur.trim().is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
            '{' => {
                brace += 1;
                cur.push(c);
            }
            '}' => {
                brace = brace.saturating_sub(1);
                cur.push(c);
            }
            // A comma ends a rule where white space follows (a path may
            // hold one: `/sys/fs/cgroup/cpu,cpuacct/`).
            ',' if paren == 0 && brace == 0 && next_space => {
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

fn classify(profile: &mut Profile, stmt: &str) {
    let mut words: Vec<&str> = stmt.split(' ').collect();
    let (mut deny, mut owner) = (false, false);
    while let Some(&w) = words.first() {
        match w {
            "audit" | "allow" | "quiet" => {}
            "deny" => deny = true,
            "owner" => owner = true,
            _ => break,
        }
        words.remove(0);
    }
    let Some(&first) = words.first() else {
        return;
    };
    let rest = || words[1..].join(" ");
    match first {
        "network" => profile.rules.push(Rule::Network {
            deny,
            words: words[1..].iter().map(|w| (*w).to_owned()).collect(),
        }),
        "unix" => profile.rules.push(Rule::Unix { deny, text: rest() }),
        "signal" => profile.rules.push(Rule::Signal { deny, text: rest() }),
        "file" if words.len() == 1 => profile.rules.push(Rule::File(FileRule {
            deny,
            owner,
            path: "/**".into(),
            perms: FilePerms {
                read: true,
                write: true,
                link: true,
                exec: true,
            },
        })),
        _ => {
            let words = if first == "file" {
                &words[1..]
            } else {
                &words[..]
            };
            if let Some(rule) = file_rule(words, deny, owner) {
                profile.rules.push(Rule::File(rule));
            } else if first.starts_with(['/', '@', '"']) {
                profile
                    .unreadable
                    .push(format!("cannot read file rule: {stmt}"));
            } else {
                profile.ignored += 1;
            }
        }
    }
}

fn is_path(w: &str) -> bool {
    w.starts_with(['/', '@']) || w.starts_with("\"/") || w.starts_with("\"@")
}

fn file_rule(words: &[&str], deny: bool, owner: bool) -> Option<FileRule> {
    let (path, perms) = match words {
        [p, perms, ..] if is_path(p) => (*p, FilePerms::parse(perms)?),
        [perms, p, ..] if is_path(p) => (*p, FilePerms::parse(perms)?),
        _ => return None,
    };
    Some(FileRule {
        deny,
        owner,
        path: path.trim_matches('"').to_owned(),
        perms,
    })
}

/// Expand `@{VAR}` (through `vars`, then `overrides`, which win) and
/// `{a,b}` alternations: every literal alternative of `pattern`, with `//`
/// collapsed. `Err` names a variable without a value or says the
/// expansion is too large.
pub fn expand(
    pattern: &str,
    vars: &BTreeMap<String, Vec<String>>,
    overrides: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let with_vars = expand_vars(pattern, vars, overrides, 0)?;
    let mut out = Vec::new();
    expand_braces(&with_vars, &mut out)?;
    let mut out: Vec<String> = out.into_iter().map(|p| collapse_slashes(&p)).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn expand_vars(
    s: &str,
    vars: &BTreeMap<String, Vec<String>>,
    overrides: &BTreeMap<String, Vec<String>>,
    depth: usize,
) -> Result<String, String> {
    if depth > 8 {
        return Err(format!("variables nested too deep in {s}"));
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("@{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unterminated variable in {s}"))?;
        let name = &after[..close];
        let values = overrides
            .get(name)
            .or_else(|| vars.get(name))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("no value for @{{{name}}}"))?;
        let mut expanded = Vec::new();
        for v in values {
            expanded.push(expand_vars(v, vars, overrides, depth + 1)?);
        }
        if expanded.len() == 1 {
            out.push_str(&expanded[0]);
        } else {
            out.push('{');
            out.push_str(&expanded.join(","));
            out.push('}');
        }
        if out.len() > MAX_TEXT {
            return Err("expansion too large".into());
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_braces(s: &str, out: &mut Vec<String>) -> Result<(), String> {
    if out.len() > MAX_ALTERNATIVES {
        return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
    }
    // The first top-level `{`, outside a character class.
    let bytes = s.as_bytes();
    let mut in_class = false;
    let mut open = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' => in_class = true,
            b']' => in_class = false,
            b'{' if !in_class => {
                open = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(open) = open else {
        out.push(s.to_owned());
        return Ok(());
    };
    let mut depth = 0usize;
    let mut parts = Vec::new();
    let mut start = open + 1;
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&s[start..i]);
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(|| format!("unbalanced braces in {s}"))?;
    let (head, tail) = (&s[..open], &s[close + 1..]);
    for part in parts {
        expand_braces(&format!("{head}{part}{tail}"), out)?;
        if out.len() > MAX_ALTERNATIVES {
            return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
        }
    }
    Ok(())
}

fn collapse_slashes(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether `name` (one path component) matches the AppArmor glob
/// `pattern` (`*`, `**`, `?`, `[...]`, `[^...]`; no `/` in either).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n, 0)
}

fn glob_at(p: &[char], n: &[char], depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let Some(&c) = p.first() else {
        return n.is_empty();
    };
    match c {
        '*' => {
            let rest = {
                let mut r = &p[1..];
                while r.first() == Some(&'*') {
                    r = &r[1..];
                }
                r
            };
            (0..=n.len()).any(|i| glob_at(rest, &n[i..], depth + 1))
        }
        '?' => !n.is_empty() && glob_at(&p[1..], &n[1..], depth + 1),
        '[' => {
            let Some(end) = p.iter().skip(1).position(|&x| x == ']').map(|e| e + 1) else {
                return false;
            };
            let Some(&ch) = n.first() else {
                return false;
            };
            let mut class = &p[1..end];
            let negate = class.first() == Some(&'^');
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= ch && ch <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == ch;
                    i += 1;
                }
            }
            hit != negate && glob_at(&p[end + 1..], &n[1..], depth + 1)
        }
        _ => n.first() == Some(&c) && glob_at(&p[1..], &n[1..], depth + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_includes(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn profile_block_variables_rules_and_includes() {
        let text = r#"
#include <tunables/global>
@{SNAP_NAME}="hello"
@{INSTALL_DIR}="/{,var/lib/snapd/}snap"
profile "snap.hello.hello" (attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  # a comment, with a comma
  /etc/{passwd,group,nsswitch.conf} r,  # very common
  owner @{HOME}/snap/@{SNAP_NAME}/** mrkix,
  deny /usr/lib/python3*/{,**/}__pycache__/ w,
  audit deny @{HOME}/bin/{,**} wl,
  rw /tmp/x,
  network inet stream,
  unix (bind, listen) addr="@snap.@{SNAP_NAME}.**",
  signal (receive) peer=snap.*,
  dbus (send)
      bus={session,system}
      path=/org/freedesktop/DBus
      peer=(label=unconfined),
  capability sys_chroot,
}
"#;
        let mut asked = Vec::new();
        let p = parse(text, &mut |name: &str| {
            asked.push(name.to_owned());
            (name == "abstractions/base").then(|| "/etc/ld.so.cache r,\n".to_owned())
        });
        assert_eq!(asked, ["tunables/global", "abstractions/base"]);
        assert_eq!(p.missing_includes, ["tunables/global"]);
        assert_eq!(p.vars["SNAP_NAME"], ["hello"]);
        assert_eq!(p.ignored, 2, "{p:?}");
        assert!(p.unreadable.is_empty(), "{:?}", p.unreadable);
        let files: Vec<(&str, bool, bool)> = p
            .rules
            .iter()
            .filter_map(|r| match r {
                Rule::File(f) => Some((f.path.as_str(), f.owner, f.deny)),
                _ => None,
            })
            .collect();
        assert_eq!(
            files,
            [
                ("/etc/ld.so.cache", false, false),
                ("/etc/{passwd,group,nsswitch.conf}", false, false),
                ("@{HOME}/snap/@{SNAP_NAME}/**", true, false),
                ("/usr/lib/python3*/{,**/}__pycache__/", false, true),
                ("@{HOME}/bin/{,**}", false, true),
                ("/tmp/x", false, false),
            ]
        );
        assert!(p.rules.contains(&Rule::Network {
            deny: false,
            words: vec!["inet".into(), "stream".into()]
        }));
        assert!(p.rules.iter().any(|r| matches!(r, Rule::Unix { .. })));
        assert!(p.rules.iter().any(|r| matches!(r, Rule::Signal { .. })));
    }

    #[test]
    fn expansion() {
        let mut vars = BTreeMap::new();
        vars.insert("INSTALL_DIR".into(), vec!["/{,var/lib/snapd/}snap".into()]);
        vars.insert(
            "HOME".into(),
            vec!["@{HOMEDIRS}/*/".into(), "/root/".into()],
        );
        vars.insert("HOMEDIRS".into(), vec!["/home/".into()]);
        vars.insert("SNAP_NAME".into(), vec!["hello".into()]);
        let none = BTreeMap::new();
        assert_eq!(
            expand("@{INSTALL_DIR}/@{SNAP_NAME}/**", &vars, &none).unwrap(),
            ["/snap/hello/**", "/var/lib/snapd/snap/hello/**"]
        );
        assert_eq!(
            expand("@{HOME}/snap/", &vars, &none).unwrap(),
            ["/home/*/snap/", "/root/snap/"]
        );
        let mut own = BTreeMap::new();
        own.insert("HOME".into(), vec!["/home/u".into()]);
        assert_eq!(
            expand("@{HOME}/{s,sn}{,/}", &vars, &own).unwrap(),
            ["/home/u/s", "/home/u/s/", "/home/u/sn", "/home/u/sn/"]
        );
        assert!(expand("@{NOPE}/x", &vars, &none).is_err());
        assert!(expand("/{a", &vars, &none).is_err());
        // Bounded: 2^13 alternatives are refused, not built.
        let many = "/{a,b}".repeat(13);
        assert!(expand(&many, &vars, &none).is_err());
        // A class with a brace in it is not an alternation.
        assert_eq!(expand("/x[{]", &vars, &none).unwrap(), ["/x[{]"]);
    }

    #[test]
    fn globs() {
        assert!(glob_match("[^s.]**", "Documents"));
        assert!(!glob_match("[^s.]**", ".bashrc"));
        assert!(!glob_match("[^s.]**", "snap"));
        assert!(glob_match("s[^n]**", "src"));
        assert!(glob_match("snap[^/]**", "snapshots"));
        assert!(!glob_match("snap[^/]**", "snap"));
        assert!(glob_match("[0-9]*", "1000"));
        assert!(!glob_match("[0-9]*", "x"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("[", "x"));
    }

    #[test]
    fn no_panic_on_odd_input() {
        for text in [
            "}}}{{{",
            ",,,",
            "@{",
            "@{X",
            "@{X}+",
            "profile {",
            "\"unterminated",
            "/a{b r,",
            "owner",
            "deny ,",
            "#include",
            "#include <",
            "include \"x",
            "/[ r,",
            "((((",
        ] {
            let p = parse(text, &mut no_includes);
            for r in &p.rules {
                if let Rule::File(f) = r {
                    let _ = expand(&f.path, &p.vars, &BTreeMap::new());
                }
            }
        }
    }

    #[test]
    fn include_cycles_and_depth_are_bounded() {
        let p = parse("#include <a>\n", &mut |name: &str| {
            Some(format!("#include <{name}x>\n/{name} r,\n"))
        });
        assert_eq!(p.rules.len(), MAX_DEPTH);
        assert!(!p.unreadable.is_empty());
        let p = parse("#include <a>\n", &mut |_: &str| {
            Some("#include <a>\n/a r,\n".into())
        });
        assert_eq!(p.rules.len(), 1);
    }
}
