//! Lexical path helpers with Go's semantics, because snapd's ordering and
//! validation rules are defined on Go's `filepath.Clean` and `filepath.Dir`.

/// Go's `filepath.Clean`: the shortest path name equivalent to `p` by purely
/// lexical processing. An empty path becomes `.`.
pub fn clean(p: &str) -> String {
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
    p.starts_with('/') && clean(p) == p
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

    proptest! {
        #[test]
        fn clean_is_idempotent(p in "[a./]{0,12}") {
            let c = clean(&p);
            prop_assert_eq!(clean(&c), c.clone());
            prop_assert!(!c.contains("//"));
        }
    }
}
