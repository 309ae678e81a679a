//! Lexical path helpers.
//!
//! * With Go's semantics ([`clean`], [`dir`], [`base`]), because snapd's
//!   ordering and validation rules are defined on Go's `filepath.Clean` and
//!   `filepath.Dir`.
//! * The names of an absolute path, for walking it from `/` one component
//!   at a time, in two strengths: [`components`] (snap-confine's walks:
//!   empty and `.` components are skipped, `..` is refused) and
//!   [`below_root`], [`split_parent`], [`is_name`] (the `System` layer, whose
//!   paths must already be clean: anything else is refused).

/// Why a path cannot be walked from `/`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{0} is not an absolute path")]
    NotAbsolute(String),
    #[error("{0} contains \"..\"")]
    DotDot(String),
}

/// Go's `filepath.Clean`: the shortest path name equivalent to `p` by purely
/// lexical processing. An empty path becomes `.`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    if is_clean_absolute(p) {
        // The common case, without splitting and joining.
        return p.to_owned();
    }
    clean_by_components(p)
}

/// Go's algorithm, component by component (what [`clean`] does when the
/// path is not already clean and absolute).
fn clean_by_components(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir`: everything but the last element, cleaned.
pub fn dir(p: &str) -> String {
    match p.rfind('/') {
        // The parent of a clean absolute path is clean already.
        Some(0) if p.starts_with('/') => "/".to_owned(),
        Some(i) if is_clean_absolute(p) => p[..i].to_owned(),
        Some(i) => clean(&p[..=i]),
        None => ".".to_owned(),
    }
}

/// Go's `filepath.Base`: the last element; `/` for a path of slashes, `.` for empty.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Whether `p` is absolute and already clean.
pub fn is_clean_absolute(p: &str) -> bool {
    // What `clean` leaves alone: `/`, or `/` then names that are neither
    // empty (no `//`, no trailing `/`) nor `.` or `..`.
    p == "/"
        || p.strip_prefix('/').is_some_and(|rel| {
            rel.split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
        })
}

/// The names of the absolute `path`, in order, to walk from `/` (empty ones
/// and `.` skipped; `/` has none); `..` is refused.
pub fn components(path: &str) -> Result<Vec<&str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(path.to_owned()));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(PathError::DotDot(path.to_owned()));
    }
    Ok(parts)
}

/// The path below `/` of an absolute, clean path (`.` for `/` itself);
/// `None` unless `path` starts with `/` and every name after it is one
/// plain name ([`is_name`]): no empty, `.` or `..` component, no trailing
/// `/`, no NUL.
pub fn below_root(path: &str) -> Option<&str> {
    let rel = path.strip_prefix('/')?;
    if rel.is_empty() {
        return Some(".");
    }
    rel.split('/').all(is_name).then_some(rel)
}

/// Whether `name` is one plain path component: not empty, `.` or `..`, and
/// without `/` or NUL.
pub fn is_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.bytes().any(|b| b == b'/' || b == 0))
}

/// An absolute, clean path ([`below_root`]) split into its parent and its
/// last name; `None` for `/` and for anything not clean.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    below_root(path)?;
    match path.rsplit_once('/') {
        Some((_, "")) | None => None,
        Some(("", name)) => Some(("/", name)),
        Some((parent, name)) => Some((parent, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clean_matches_go() {
        for (i, o) in [
            ("", "."),
            ("/", "/"),
            ("//a//b/", "/a/b"),
            ("/a/./b/../c", "/a/c"),
            ("/..", "/"),
            ("/../a", "/a"),
            ("a/../..", ".."),
            ("../../a", "../../a"),
            ("./", "."),
            ("a/b/../../../c", "../c"),
        ] {
            assert_eq!(clean(i), o, "clean({i:?})");
        }
    }

    #[test]
    fn dir_and_base_match_go() {
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir("/"), "/");
        assert_eq!(dir("a"), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(base("x"), "x");
    }

    #[test]
    fn components_refuse_relative_paths_and_dotdot() {
        assert_eq!(components("/a//b/./c/").unwrap(), ["a", "b", "c"]);
        assert!(components("a/b").is_err());
        assert!(components("/a/../b").is_err());
        assert!(components("/").unwrap().is_empty());
        assert_eq!(
            components("a/b").unwrap_err().to_string(),
            "a/b is not an absolute path"
        );
        assert_eq!(
            components("/a/../b").unwrap_err().to_string(),
            "/a/../b contains \"..\""
        );
    }

    #[test]
    fn paths_must_be_absolute_and_clean() {
        assert_eq!(below_root("/"), Some("."));
        assert_eq!(below_root("/a/b"), Some("a/b"));
        for bad in [
            "", "a", "a/b", "/a/", "//", "/a//b", "/./a", "/a/.", "/a/..", "/..", "/a\0b",
        ] {
            assert_eq!(below_root(bad), None, "{bad:?}");
        }
        assert_eq!(split_parent("/a"), Some(("/", "a")));
        assert_eq!(split_parent("/a/b/c"), Some(("/a/b", "c")));
        assert_eq!(split_parent("/"), None);
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(!is_name(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn clean_is_idempotent(p in "[a./]{0,12}") {
            let c = clean(&p);
            prop_assert_eq!(clean(&c), c.clone());
            prop_assert!(!c.contains("//"));
        }

        /// The fast paths of `clean`, `dir` and `is_clean_absolute` agree
        /// with Go's algorithm (written out here without them).
        #[test]
        fn fast_paths_agree_with_the_plain_algorithm(p in "[a./\\x00]{0,12}") {
            // Go's algorithm without the fast paths.
            let go_clean = clean_by_components;
            let go_dir = match p.rfind('/') {
                Some(i) => go_clean(&p[..=i]),
                None => ".".to_owned(),
            };
            prop_assert_eq!(clean(&p), go_clean(&p));
            prop_assert_eq!(dir(&p), go_dir);
            prop_assert_eq!(is_clean_absolute(&p), p.starts_with('/') && go_clean(&p) == p);
        }
    }
}
