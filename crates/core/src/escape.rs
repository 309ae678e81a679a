//! The four octal escapes snapd uses in mount profiles and mountinfo
//! (spec §1.2): space `\040`, tab `\011`, newline `\012`, backslash `\134`.

const ESCAPES: [(char, &str); 4] = [
    (' ', "\\040"),
    ('\t', "\\011"),
    ('\n', "\\012"),
    ('\\', "\\134"),
];

/// Escape the four special characters; everything else is copied as is.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match ESCAPES.iter().find(|(raw, _)| *raw == c) {
            Some((_, esc)) => out.push_str(esc),
            None => out.push(c),
        }
    }
    out
}

/// Undo [`escape`] in a single left-to-right pass: exactly the four sequences
/// are replaced and the produced text is never scanned again, so
/// `optio\134ns` becomes `optio\ns` (a backslash and an `n`).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match ESCAPES.iter().find(|(_, esc)| tail.starts_with(esc)) {
            Some((raw, esc)) => {
                out.push(*raw);
                rest = &tail[esc.len()..];
            }
            None => {
                out.push('\\');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_exactly_four_characters() {
        assert_eq!(escape("a b\tc\nd\\e#f"), "a\\040b\\011c\\012d\\134e#f");
    }

    #[test]
    fn unescape_is_a_single_pass() {
        assert_eq!(unescape("optio\\134ns"), "optio\\ns");
        assert_eq!(unescape("\\134040"), "\\040");
        assert_eq!(unescape("\\041\\"), "\\041\\");
        assert_eq!(unescape("My\\040Files"), "My Files");
    }

    proptest! {
        #[test]
        fn unescape_inverts_escape(s in ".*") {
            prop_assert_eq!(unescape(&escape(&s)), s);
        }

        #[test]
        fn escaped_text_has_no_separators(s in ".*") {
            let e = escape(&s);
            prop_assert!(!e.contains(' ') && !e.contains('\t') && !e.contains('\n'));
        }
    }
}
