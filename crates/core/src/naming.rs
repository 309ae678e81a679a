//! Names of snaps and of their parts: snap names, instance keys and
//! instance names (spec §3.1, §6.2), app, hook, plug, slot and interface
//! names, and security tags (spec §6.2).
//!
//! The snap and instance name rules are those of snap-confine's hand-written
//! validator (the C code also used by snap-update-ns' bootstrap), and so are
//! the error messages. The other checks follow snapd's Go regular
//! expressions, coded by hand (the core has no regex engine).

use crate::goquote::quote;

/// Longest snap name, in bytes.
pub const SNAP_NAME_MAX_LEN: usize = 40;
/// Longest instance key, in bytes.
pub const INSTANCE_KEY_MAX_LEN: usize = 10;
/// Longest instance name: a snap name, `_` and an instance key.
pub const INSTANCE_NAME_MAX_LEN: usize = SNAP_NAME_MAX_LEN + 1 + INSTANCE_KEY_MAX_LEN;
/// Longest security tag snap-confine looks at.
pub const SECURITY_TAG_MAX_LEN: usize = 256;

/// Why a name is not valid. The messages of the snap/instance variants are
/// snap-confine's, the others snapd's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("snap name cannot start with a dash")]
    SnapNameLeadingDash,
    #[error("snap name cannot end with a dash")]
    SnapNameTrailingDash,
    #[error("snap name cannot contain two consecutive dashes")]
    SnapNameDoubleDash,
    #[error("snap name must use lower case letters, digits or dashes")]
    SnapNameInvalidChar,
    #[error("snap name must contain at least one letter")]
    SnapNameNoLetter,
    #[error("snap name must be longer than 1 character")]
    SnapNameTooShort,
    #[error("snap name must be shorter than 40 characters")]
    SnapNameTooLong,
    #[error("snap instance name can be at most 51 characters long")]
    InstanceNameTooLong,
    #[error("snap instance name can contain only one underscore")]
    InstanceNameUnderscores,
    #[error("instance key must use lower case letters or digits")]
    InstanceKeyInvalidChar,
    #[error("instance key must contain at least one letter or digit")]
    InstanceKeyEmpty,
    #[error("instance key must be shorter than 10 characters")]
    InstanceKeyTooLong,
    #[error("invalid app name: {}", quote(.0))]
    App(String),
    #[error("invalid hook name: {}", quote(.0))]
    Hook(String),
    #[error("invalid plug name: {}", quote(.0))]
    Plug(String),
    #[error("invalid slot name: {}", quote(.0))]
    Slot(String),
    #[error("invalid interface name: {}", quote(.0))]
    Interface(String),
    #[error("security tag {0} not allowed")]
    SecurityTag(String),
    #[error("invalid snap revision: {}", quote(.0))]
    Revision(String),
}

/// Validate a snap name (no instance key): lower case letters, digits and
/// single dashes, not starting or ending with a dash, at least one letter,
/// 2 to 40 characters. Checks run in snap-confine's order, so the first
/// problem found is the one reported.
pub fn validate_snap_name(name: &str) -> Result<(), NameError> {
    let b = name.as_bytes();
    if b.first() == Some(&b'-') {
        return Err(NameError::SnapNameLeadingDash);
    }
    let mut got_letter = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'a'..=b'z' => got_letter = true,
            b'0'..=b'9' => {}
            b'-' => match b.get(i + 1) {
                None => return Err(NameError::SnapNameTrailingDash),
                Some(b'-') => return Err(NameError::SnapNameDoubleDash),
                Some(_) => {}
            },
            _ => return Err(NameError::SnapNameInvalidChar),
        }
        i += 1;
    }
    if !got_letter {
        return Err(NameError::SnapNameNoLetter);
    }
    if b.len() < 2 {
        return Err(NameError::SnapNameTooShort);
    }
    if b.len() > SNAP_NAME_MAX_LEN {
        return Err(NameError::SnapNameTooLong);
    }
    Ok(())
}

/// Validate an instance key: 1 to 10 lower case letters or digits.
pub fn validate_instance_key(key: &str) -> Result<(), NameError> {
    if !key
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(NameError::InstanceKeyInvalidChar);
    }
    if key.is_empty() {
        return Err(NameError::InstanceKeyEmpty);
    }
    if key.len() > INSTANCE_KEY_MAX_LEN {
        return Err(NameError::InstanceKeyTooLong);
    }
    Ok(())
}

/// Validate an instance name, `NAME` or `NAME_KEY`.
pub fn validate_instance_name(instance_name: &str) -> Result<(), NameError> {
    if instance_name.len() > INSTANCE_NAME_MAX_LEN {
        return Err(NameError::InstanceNameTooLong);
    }
    let mut parts = instance_name.split('_');
    let snap_name = parts.next().unwrap_or_default();
    let key = parts.next();
    if parts.next().is_some() {
        return Err(NameError::InstanceNameUnderscores);
    }
    validate_snap_name(snap_name)?;
    match key {
        Some(key) => validate_instance_key(key),
        None => Ok(()),
    }
}

/// Split an instance name into the snap name and the instance key (empty
/// when there is none), at the first `_`. No validation is done.
pub fn split_instance_name(instance_name: &str) -> (&str, &str) {
    instance_name.split_once('_').unwrap_or((instance_name, ""))
}

/// The snap name part of an instance name.
pub fn snap_name_of(instance_name: &str) -> &str {
    split_instance_name(instance_name).0
}

/// Join a snap name and an optional instance key into an instance name.
pub fn instance_name(snap_name: &str, instance_key: &str) -> String {
    if instance_key.is_empty() {
        snap_name.to_owned()
    } else {
        format!("{snap_name}_{instance_key}")
    }
}

/// A snap revision: a store revision `N`, a local revision `xN` (both with
/// N > 0), or `unset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revision {
    Unset,
    Store(u64),
    Local(u64),
}

impl std::fmt::Display for Revision {
    /// snapd's `Revision.String`: `unset`, `N` or `xN`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revision::Unset => f.write_str("unset"),
            Revision::Store(n) => write!(f, "{n}"),
            Revision::Local(n) => write!(f, "x{n}"),
        }
    }
}

/// Go's `strconv.Atoi` restricted to what a revision can be: a positive
/// 64-bit integer with an optional `+` and leading zeros.
fn atoi_positive(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<i64>()
        .ok()
        .filter(|&n| n > 0)
        .and_then(|n| u64::try_from(n).ok())
}

/// Parse a revision as snapd's `ParseRevision` does (`+7` and `007` are
/// accepted and mean 7).
pub fn parse_revision(s: &str) -> Result<Revision, NameError> {
    if s == "unset" {
        return Ok(Revision::Unset);
    }
    if let Some(n) = s.strip_prefix('x').and_then(atoi_positive) {
        return Ok(Revision::Local(n));
    }
    atoi_positive(s)
        .map(Revision::Store)
        .ok_or_else(|| NameError::Revision(s.to_owned()))
}

/// Check a revision that is going to be put in paths (`$SNAP` is
/// `/snap/NAME/REV`): it must parse as a revision *and* be written the way
/// snapd writes it (`7`, `x1`, `unset`; not `007` or `+7`), so that the paths
/// are the ones snapd would use.
pub fn validate_revision_for_layout(s: &str) -> Result<(), NameError> {
    let rev = parse_revision(s)?;
    if rev.to_string() == s {
        Ok(())
    } else {
        Err(NameError::Revision(s.to_owned()))
    }
}

/// Whether `s` matches `^F(?:-?R)*$`, where F and R are character classes
/// that do not contain `-`: a first character of class F, then characters of
/// class R, each optionally preceded by a single dash.
fn dashed_word(s: &str, first: fn(u8) -> bool, rest: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let Some((&head, tail)) = b.split_first() else {
        return false;
    };
    if !first(head) {
        return false;
    }
    let mut prev_dash = false;
    for &c in tail {
        if c == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if rest(c) {
            prev_dash = false;
        } else {
            return false;
        }
    }
    !prev_dash
}

fn lower(c: u8) -> bool {
    c.is_ascii_lowercase()
}

fn lower_or_digit(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// `^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$`
pub fn is_valid_app_name(name: &str) -> bool {
    dashed_word(name, alnum, alnum)
}

/// `^[a-z](?:-?[a-z0-9])*$`
pub fn is_valid_hook_name(name: &str) -> bool {
    dashed_word(name, lower, lower_or_digit)
}

/// Validate an app name (`^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$`).
pub fn validate_app_name(name: &str) -> Result<(), NameError> {
    if is_valid_app_name(name) {
        Ok(())
    } else {
        Err(NameError::App(name.to_owned()))
    }
}

/// Validate a hook name (`^[a-z](?:-?[a-z0-9])*$`).
pub fn validate_hook_name(name: &str) -> Result<(), NameError> {
    if is_valid_hook_name(name) {
        Ok(())
    } else {
        Err(NameError::Hook(name.to_owned()))
    }
}

/// Validate a plug name (same rule as hook names).
pub fn validate_plug_name(name: &str) -> Result<(), NameError> {
    if is_valid_hook_name(name) {
        Ok(())
    } else {
        Err(NameError::Plug(name.to_owned()))
    }
}

/// Validate a slot name (same rule as hook names).
pub fn validate_slot_name(name: &str) -> Result<(), NameError> {
    if is_valid_hook_name(name) {
        Ok(())
    } else {
        Err(NameError::Slot(name.to_owned()))
    }
}

/// Validate an interface name (same rule as hook names).
pub fn validate_interface_name(name: &str) -> Result<(), NameError> {
    if is_valid_hook_name(name) {
        Ok(())
    } else {
        Err(NameError::Interface(name.to_owned()))
    }
}

/// What a security tag names besides the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagTarget<'a> {
    /// `snap.INSTANCE.APP`
    App(&'a str),
    /// `snap.INSTANCE[+COMPONENT].hook.HOOK`
    Hook {
        component: Option<&'a str>,
        hook: &'a str,
    },
}

/// The parts of a security tag that matches snap-confine's pattern
/// `^snap\.INSTANCE(\.APP|(\+COMP)?\.hook\.HOOK)$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityTag<'a> {
    pub instance: &'a str,
    pub target: TagTarget<'a>,
}

/// `[a-z0-9](-?[a-z0-9])*(_[a-z0-9]{1,10})?`: the instance part of the
/// tag pattern (it does not require a letter; the instance name itself is
/// validated separately).
fn tag_instance_ok(s: &str) -> bool {
    let (name, key) = match s.split_once('_') {
        Some((n, k)) => (n, Some(k)),
        None => (s, None),
    };
    if !dashed_word(name, lower_or_digit, lower_or_digit) {
        return false;
    }
    match key {
        None => true,
        Some(k) => (1..=INSTANCE_KEY_MAX_LEN).contains(&k.len()) && k.bytes().all(lower_or_digit),
    }
}

/// Parse a security tag with snap-confine's pattern (spec §6.2). Tags longer
/// than 256 bytes are refused without looking at them.
pub fn parse_security_tag(tag: &str) -> Option<SecurityTag<'_>> {
    if tag.len() > SECURITY_TAG_MAX_LEN {
        return None;
    }
    let rest = tag.strip_prefix("snap.")?;
    // The instance part cannot contain `.` or `+`, so it ends at the first one.
    let end = rest.find(['.', '+'])?;
    let (instance, rest) = rest.split_at(end);
    if !tag_instance_ok(instance) {
        return None;
    }
    let (component, rest) = match rest.strip_prefix('+') {
        Some(after) => {
            let dot = after.find('.')?;
            let (comp, rest) = after.split_at(dot);
            if !dashed_word(comp, lower_or_digit, lower_or_digit) {
                return None;
            }
            (Some(comp), rest)
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix('.')?;
    if component.is_none() && is_valid_app_name(rest) {
        return Some(SecurityTag {
            instance,
            target: TagTarget::App(rest),
        });
    }
    let hook = rest.strip_prefix("hook.")?;
    if is_valid_hook_name(hook) {
        Some(SecurityTag {
            instance,
            target: TagTarget::Hook { component, hook },
        })
    } else {
        None
    }
}

/// Validate a security tag as snap-confine does: it must match the pattern
/// and name `instance` (and `component`, exactly when one is expected; an
/// empty component name is never allowed).
pub fn validate_security_tag(
    tag: &str,
    instance: &str,
    component: Option<&str>,
) -> Result<(), NameError> {
    let refuse = || NameError::SecurityTag(tag.to_owned());
    let parsed = parse_security_tag(tag).ok_or_else(refuse)?;
    let tag_component = match parsed.target {
        TagTarget::App(_) => None,
        TagTarget::Hook { component, .. } => component,
    };
    let component_ok = match component {
        Some(want) => !want.is_empty() && tag_component == Some(want),
        None => tag_component.is_none(),
    };
    if component_ok && parsed.instance == instance {
        Ok(())
    } else {
        Err(refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn snap_names_follow_snap_confine() {
        for ok in [
            "aa",
            "a0",
            "0a",
            "hello-world",
            "a-1-b",
            &format!("a{}", "0".repeat(39)),
        ] {
            assert_eq!(validate_snap_name(ok), Ok(()), "{ok}");
        }
        let cases: &[(&str, NameError)] = &[
            ("", NameError::SnapNameNoLetter),
            ("a", NameError::SnapNameTooShort),
            ("12", NameError::SnapNameNoLetter),
            ("-ab", NameError::SnapNameLeadingDash),
            ("ab-", NameError::SnapNameTrailingDash),
            ("a--b", NameError::SnapNameDoubleDash),
            ("Ab", NameError::SnapNameInvalidChar),
            ("a_b", NameError::SnapNameInvalidChar),
            ("a.b", NameError::SnapNameInvalidChar),
            ("aé", NameError::SnapNameInvalidChar),
        ];
        for (name, want) in cases {
            assert_eq!(validate_snap_name(name).as_ref(), Err(want), "{name:?}");
        }
        assert_eq!(
            validate_snap_name(&"a".repeat(41)),
            Err(NameError::SnapNameTooLong)
        );
        assert_eq!(
            NameError::SnapNameDoubleDash.to_string(),
            "snap name cannot contain two consecutive dashes"
        );
    }

    #[test]
    fn instance_names() {
        assert_eq!(validate_instance_name("foo_bar1"), Ok(()));
        assert_eq!(
            validate_instance_name("foo_"),
            Err(NameError::InstanceKeyEmpty)
        );
        assert_eq!(
            validate_instance_name("foo__1"),
            Err(NameError::InstanceNameUnderscores)
        );
        assert_eq!(
            validate_instance_name("foo_01234567890"),
            Err(NameError::InstanceKeyTooLong)
        );
        assert_eq!(
            validate_instance_name("foo_ABC"),
            Err(NameError::InstanceKeyInvalidChar)
        );
        assert_eq!(
            validate_instance_name(&"a".repeat(52)),
            Err(NameError::InstanceNameTooLong)
        );
        assert_eq!(split_instance_name("foo_bar"), ("foo", "bar"));
        assert_eq!(split_instance_name("foo"), ("foo", ""));
        assert_eq!(split_instance_name("a_b_c"), ("a", "b_c"));
        assert_eq!(instance_name("foo", ""), "foo");
        assert_eq!(instance_name("foo", "x"), "foo_x");
    }

    #[test]
    fn app_and_hook_names() {
        for ok in ["a", "A", "0", "a-B-0", "Foo9"] {
            assert!(is_valid_app_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a_b", "a.b", "a b"] {
            assert!(!is_valid_app_name(bad), "{bad}");
        }
        for ok in ["a", "configure", "pre-refresh", "a0"] {
            assert!(is_valid_hook_name(ok), "{ok}");
        }
        for bad in ["", "0a", "A", "a-", "a--b", "Configure"] {
            assert!(!is_valid_hook_name(bad), "{bad}");
        }
        assert_eq!(
            validate_app_name("a b").unwrap_err().to_string(),
            "invalid app name: \"a b\""
        );
        assert_eq!(
            validate_hook_name("X").unwrap_err().to_string(),
            "invalid hook name: \"X\""
        );
        assert!(validate_plug_name("home").is_ok());
        assert!(validate_slot_name("x_y").is_err());
        assert!(validate_interface_name("content").is_ok());
    }

    #[test]
    fn security_tags() {
        assert_eq!(validate_security_tag("snap.foo.app", "foo", None), Ok(()));
        assert_eq!(
            validate_security_tag("snap.foo_bar.app", "foo_bar", None),
            Ok(())
        );
        assert_eq!(
            validate_security_tag("snap.foo.hook.configure", "foo", None),
            Ok(())
        );
        assert_eq!(
            validate_security_tag("snap.foo.hook", "foo", None),
            Ok(()),
            "an app may be called hook"
        );
        assert_eq!(
            validate_security_tag("snap.foo+comp.hook.install", "foo", Some("comp")),
            Ok(())
        );
        for (tag, inst, comp) in [
            ("snap.foo.app", "bar", None),
            ("snap.foo.app", "foo_x", None),
            ("snap.foo_x.app", "foo", None),
            ("snap.foo+comp.hook.install", "foo", None),
            ("snap.foo.hook.install", "foo", Some("comp")),
            ("snap.foo+comp.hook.install", "foo", Some("")),
            ("snap.foo+comp.hook.install", "foo", Some("other")),
            ("snap.foo+comp.app", "foo", Some("comp")),
            ("snap.foo.app.x", "foo", None),
            ("snap.foo.hook.Configure", "foo", None),
            ("snap.foo.-app", "foo", None),
            ("snap.foo", "foo", None),
            ("snap.foo.", "foo", None),
            ("snapfoo.app", "foo", None),
            ("snap.Foo.app", "Foo", None),
            ("snap.foo_.app", "foo_", None),
            ("snap.foo_01234567890.app", "foo_01234567890", None),
        ] {
            assert_eq!(
                validate_security_tag(tag, inst, comp),
                Err(NameError::SecurityTag(tag.to_owned())),
                "{tag} {inst} {comp:?}"
            );
        }
        let long = format!("snap.foo.{}", "a".repeat(250));
        assert!(validate_security_tag(&long, "foo", None).is_err());
        assert_eq!(
            NameError::SecurityTag("x".into()).to_string(),
            "security tag x not allowed"
        );
        assert_eq!(
            parse_security_tag("snap.a+b.hook.c"),
            Some(SecurityTag {
                instance: "a",
                target: TagTarget::Hook {
                    component: Some("b"),
                    hook: "c"
                }
            })
        );
    }

    #[test]
    fn revisions() {
        assert_eq!(parse_revision("unset"), Ok(Revision::Unset));
        assert_eq!(parse_revision("42"), Ok(Revision::Store(42)));
        assert_eq!(parse_revision("x1"), Ok(Revision::Local(1)));
        assert_eq!(parse_revision("007"), Ok(Revision::Store(7)));
        assert_eq!(parse_revision("x+3"), Ok(Revision::Local(3)));
        for bad in [
            "",
            "0",
            "x0",
            "-1",
            "x-1",
            "x",
            "1.0",
            "1 ",
            "abc",
            "99999999999999999999",
            "../1",
        ] {
            assert_eq!(
                parse_revision(bad),
                Err(NameError::Revision(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            NameError::Revision("a/b".into()).to_string(),
            "invalid snap revision: \"a/b\""
        );
        for ok in ["1", "x1", "unset", "9223372036854775807"] {
            assert_eq!(validate_revision_for_layout(ok), Ok(()), "{ok}");
        }
        for bad in ["007", "+7", "x01", "/", ".."] {
            assert!(validate_revision_for_layout(bad).is_err(), "{bad}");
        }
    }

    /// snapd's Go rules (regular expressions) for instance names, written
    /// independently of the C-style validator above.
    fn go_style_instance_ok(s: &str) -> bool {
        let (name, key) = match s.find('_') {
            Some(p) => (&s[..p], Some(&s[p + 1..])),
            None => (s, None),
        };
        let name_ok = (2..=40).contains(&name.len())
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && name.bytes().any(|c| c.is_ascii_lowercase())
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--");
        let key_ok = key.is_none_or(|k| {
            (1..=10).contains(&k.len())
                && k.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        name_ok && key_ok
    }

    proptest! {
        #[test]
        fn instance_validation_agrees_with_go_rules(s in "[a-c0-1_\\-A]{0,14}|[a-z0-9_-]{35,55}|\\PC{0,20}") {
            prop_assert_eq!(validate_instance_name(&s).is_ok(), go_style_instance_ok(&s), "{:?}", s);
        }

        #[test]
        fn valid_instance_names_round_trip(name in "[a-z][a-z0-9]{1,20}(-[a-z0-9]{1,8})?", key in "([a-z0-9]{1,10})?") {
            let inst = instance_name(&name, &key);
            prop_assert_eq!(validate_instance_name(&inst), Ok(()));
            prop_assert_eq!(split_instance_name(&inst), (name.as_str(), key.as_str()));
            let tag = format!("snap.{inst}.app");
            prop_assert_eq!(validate_security_tag(&tag, &inst, None), Ok(()));
        }

        #[test]
        fn name_checks_never_panic(s in "\\PC{0,64}|[\\x00-\\x7f]{0,64}") {
            let _ = validate_instance_name(&s);
            let _ = validate_app_name(&s);
            let _ = validate_hook_name(&s);
            let _ = parse_security_tag(&s);
            let _ = validate_security_tag(&s, &s, Some(&s));
        }
    }
}
