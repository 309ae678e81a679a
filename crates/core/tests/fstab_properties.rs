//! Properties of the fstab text format (spec §1.3–§1.5): where parsing and
//! formatting are inverse to each other, and — as plain unit tests — where
//! snapd's own round trip is deliberately not the identity.

use proptest::prelude::*;
use snapcell_core::entry::MountEntry;
use snapcell_core::profile::Profile;

/// Characters that make the format interesting: the four escaped ones, the
/// comment sign, the option separators, a `\r` and a no-break space (white
/// space that is data to the entry parser, but trimmed by the profile
/// reader), text that looks like an escape, and some non-ASCII.
const ALPHABET: &[char] = &[
    'a', 'b', 'z', '0', '4', '/', '.', '-', '=', ' ', '\t', '\n', '\\', '#', ',', '\r', '\u{a0}',
    'é', '😀',
];

fn text(chars: &'static [char], len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(chars), len)
        .prop_map(|cs| cs.into_iter().collect())
        .boxed()
}

/// A name, dir or type that survives parsing: non-empty (an empty field is
/// written as `none`), and not starting with `#`, which would make the field
/// and everything after it a comment.
fn field() -> BoxedStrategy<String> {
    text(ALPHABET, 1..=10)
        .prop_filter("# at the start is a comment", |s| !s.starts_with('#'))
        .boxed()
}

/// Options for a line-level round trip: non-empty, and the first one must
/// not start with `#` (the joined option field would then be a comment).
/// Commas are allowed: the line is the same whichever way they split.
fn line_options() -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(text(ALPHABET, 1..=6), 1..=4)
        .prop_filter("# at the start is a comment", |o| !o[0].starts_with('#'))
        .boxed()
}

/// Options for an entry-level round trip. Options are joined with `,` and the
/// parser splits on `,`, so an option containing `,` comes back as several
/// options: commas are left out of the alphabet. An empty option is fine as
/// long as the joined field is not empty (`[""]` would print an empty field
/// that then vanishes); the list itself must be non-empty because `[]` is
/// written as `defaults` (see the unit tests below).
fn entry_options() -> BoxedStrategy<Vec<String>> {
    const NO_COMMA: &[char] = &[
        'a', 'b', '0', '/', '=', '.', ' ', '\t', '\n', '\\', '#', '\r', '\u{a0}', 'é',
    ];
    prop::collection::vec(text(NO_COMMA, 0..=6), 1..=4)
        .prop_filter("the joined option field must not be empty", |o| {
            !o.join(",").is_empty()
        })
        .prop_filter("# at the start is a comment", |o| !o[0].starts_with('#'))
        .boxed()
}

prop_compose! {
    fn entry_with(options: BoxedStrategy<Vec<String>>)(
        name in field(),
        dir in field(),
        fs_type in field(),
        options in options,
        freq in any::<i64>(),
        passno in any::<i64>(),
    ) -> MountEntry {
        MountEntry { name, dir, fs_type, options, freq, passno }
    }
}

/// An entry that can go through a profile file: additionally its name must
/// not start with (unescaped) white space, which the profile reader trims
/// from each line, as snapd's does with `strings.TrimSpace`.
fn profile_entry() -> impl Strategy<Value = MountEntry> {
    entry_with(entry_options()).prop_filter("leading white space is trimmed", |e| {
        !e.name.starts_with(char::is_whitespace)
    })
}

proptest! {
    /// (a) A canonical line (one produced by formatting) reads back and
    /// formats to the very same line.
    #[test]
    fn canonical_lines_are_a_fixed_point(e in entry_with(line_options())) {
        let line = e.to_string();
        let parsed = MountEntry::parse(&line);
        prop_assert!(parsed.is_ok(), "{:?} does not parse: {:?}", line, parsed);
        prop_assert_eq!(parsed.unwrap().to_string(), line);
    }

    /// (b) An entry without empty fields, with a non-empty option list and no
    /// comma inside an option, survives formatting and parsing unchanged.
    #[test]
    fn entries_round_trip(e in entry_with(entry_options())) {
        prop_assert_eq!(MountEntry::parse(&e.to_string()), Ok(e));
    }

    /// (c) The same for whole profiles.
    #[test]
    fn profiles_round_trip(entries in prop::collection::vec(profile_entry(), 0..6)) {
        let profile = Profile::from(entries);
        prop_assert_eq!(Profile::parse(&profile.to_string()), Ok(profile));
    }

    /// (d) Parsing never panics, whatever the text.
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = MountEntry::parse(&s);
        let _ = Profile::parse(&s);
    }

    /// (d) ... including text made of the format's own special characters.
    #[test]
    fn parse_never_panics_on_fstab_like_text(s in text(ALPHABET, 0..=200)) {
        let _ = MountEntry::parse(&s);
        let _ = Profile::parse(&s);
    }
}

/// (d) A megabyte on one line, in a few shapes: one huge field, huge fields
/// in every position, half a million fields, a run of escapes, a run of
/// backslashes, a huge comment, and huge numbers.
#[test]
fn one_megabyte_lines_do_not_panic() {
    const MB: usize = 1 << 20;
    let huge = "x".repeat(MB);
    let lines = [
        huge.clone(),
        format!("{huge} {huge} {huge} {huge}"),
        "a ".repeat(MB / 2),
        "\\040".repeat(MB / 4),
        "\\".repeat(MB),
        format!("a b c #{huge}"),
        format!("a b c d {} 0", "9".repeat(MB)),
        format!("a b c d 0 -{}", "1".repeat(MB)),
    ];
    for line in &lines {
        let _ = MountEntry::parse(line);
        let _ = Profile::parse(line);
    }
    let e = MountEntry::parse(&format!("{huge} /d t o 1 2")).unwrap();
    assert_eq!(e.name.len(), MB);
    assert_eq!(
        MountEntry::parse(&"a ".repeat(MB / 2))
            .unwrap_err()
            .to_string(),
        format!("expected between 3 and 6 fields, found {}", MB / 2)
    );
    assert!(MountEntry::parse(&format!("a b c d {} 0", "9".repeat(MB))).is_err());
}

// Where the round trip is not the identity (spec §1.4), on purpose.

#[test]
fn empty_fields_are_written_as_none_and_read_back_as_none() {
    let e = MountEntry {
        options: vec!["bind".into()],
        ..MountEntry::default()
    };
    let line = e.to_string();
    assert_eq!(line, "none none none bind 0 0");
    let back = MountEntry::parse(&line).unwrap();
    assert_eq!(
        (back.name.as_str(), back.dir.as_str(), back.fs_type.as_str()),
        ("none", "none", "none")
    );
    assert_ne!(back, e);
    // A field that really is `none` is fine.
    let none = MountEntry::parse("none /d none bind 0 0").unwrap();
    assert_eq!(MountEntry::parse(&none.to_string()), Ok(none));
}

#[test]
fn an_empty_option_list_is_written_as_defaults_and_read_back_as_defaults() {
    let e = MountEntry {
        name: "a".into(),
        dir: "/b".into(),
        fs_type: "c".into(),
        ..MountEntry::default()
    };
    let line = e.to_string();
    assert_eq!(line, "a /b c defaults 0 0");
    assert_eq!(MountEntry::parse(&line).unwrap().options, vec!["defaults"]);
    // Only a line with three fields reads back with no options.
    assert_eq!(MountEntry::parse("a /b c"), Ok(e));
}

#[test]
fn an_option_list_of_one_empty_option_prints_an_empty_field() {
    let e = MountEntry {
        name: "a".into(),
        dir: "/b".into(),
        fs_type: "c".into(),
        options: vec![String::new()],
        freq: 1,
        passno: 2,
    };
    // The option field is empty, so 1 and 2 move up into options and freq.
    assert_eq!(e.to_string(), "a /b c  1 2");
    let back = MountEntry::parse(&e.to_string()).unwrap();
    assert_eq!(
        (back.options, back.freq, back.passno),
        (vec!["1".into()], 2, 0)
    );
}

#[test]
fn a_comma_inside_an_option_splits_it() {
    let e = MountEntry {
        name: "a".into(),
        dir: "/b".into(),
        fs_type: "c".into(),
        options: vec!["x=1,2".into()],
        ..MountEntry::default()
    };
    assert_eq!(
        MountEntry::parse(&e.to_string()).unwrap().options,
        vec!["x=1", "2"]
    );
}

#[test]
fn a_leading_hash_makes_a_comment() {
    let e = MountEntry {
        name: "#a".into(),
        dir: "/b".into(),
        fs_type: "c".into(),
        options: vec!["o".into()],
        ..MountEntry::default()
    };
    assert_eq!(
        MountEntry::parse(&e.to_string()).unwrap_err().to_string(),
        "expected between 3 and 6 fields, found 0"
    );
    assert_eq!(Profile::parse(&format!("{e}\n")), Ok(Profile::default()));
    // Not at the start of a field, `#` is data.
    let e = MountEntry {
        name: "a#".into(),
        ..e
    };
    assert_eq!(MountEntry::parse(&e.to_string()), Ok(e));
}

#[test]
fn profile_lines_lose_leading_white_space_that_is_not_escaped() {
    // `\r` and U+00A0 are data to the entry parser but the profile reader
    // trims them from the line (snapd uses strings.TrimSpace).
    for name in ["\ra", "\u{a0}a"] {
        let e = MountEntry {
            name: name.into(),
            dir: "/b".into(),
            fs_type: "c".into(),
            options: vec!["o".into()],
            ..MountEntry::default()
        };
        assert_eq!(MountEntry::parse(&e.to_string()), Ok(e.clone()));
        let p = Profile::parse(&Profile::from(vec![e]).to_string()).unwrap();
        assert_eq!(p.entries[0].name, "a");
    }
}
