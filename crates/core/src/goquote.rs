//! Go's `%q` / `strconv.Quote`, because snapd's error messages quote the
//! offending text that way and we reproduce them byte for byte.

/// Quote `s` as Go's `strconv.Quote` does for valid UTF-8 text.
pub fn quote(s: &str) -> String {
    quote_with(s, is_print)
}

/// Quote `s` as Go's `strconv.QuoteToASCII` does: like [`quote`], but every
/// character outside printable ASCII is escaped.
pub fn quote_to_ascii(s: &str) -> String {
    quote_with(s, |c| (' '..='~').contains(&c))
}

fn quote_with(s: &str, printable: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the
/// ASCII space, but no other white space, controls or format characters.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters (category Cf) that Go does not print literally.
    !matches!(c as u32, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfffe | 0xffff)
}

#[cfg(test)]
mod tests {
    use super::{quote, quote_to_ascii};

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("foo"), "\"foo\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("\n\t\u{1}"), "\"\\n\\t\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote("\u{200b}"), "\"\\u200b\"");
        assert_eq!(quote_to_ascii("é\u{1}a"), "\"\\u00e9\\x01a\"");
    }
}
