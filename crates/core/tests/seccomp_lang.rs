//! The seccomp profile language (`core::seccomp::lang`): snapd's accepted
//! forms, snapd's messages (checked against Debian's snap-seccomp 2.57 where
//! it has the feature), our clear errors where snapd crashes, and properties:
//! no input panics, and what parses is what was written.

use proptest::prelude::*;
use snapcell_core::seccomp::lang::{
    self, Action, Condition, ErrorKind, Op, ParseError, SourceProfile, Value,
};

/// Every lower-case word is a known system call, except `nosuch*`.
fn known(name: &str) -> bool {
    !name.starts_with("nosuch") && name.starts_with(|c: char| c.is_ascii_lowercase())
}

fn parse(text: &str) -> Result<SourceProfile, ParseError> {
    lang::parse("t.src", text.as_bytes(), &known)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn conds(line: &str) -> Vec<(u8, Op, Value)> {
    let p = parse(line).unwrap();
    assert_eq!(p.rules.len(), 1, "{line}");
    p.rules[0]
        .conditions
        .iter()
        .map(|c| (c.arg, c.op, c.value.clone()))
        .collect()
}

fn n(v: u64) -> Value {
    Value::Number(v)
}

#[test]
fn comments_blank_lines_and_flags() {
    let p = parse("# header\n\nread\n  @complain \n@unrestricted-not\nwrite\n").unwrap();
    assert!(p.complain);
    assert!(!p.unrestricted);
    let names: Vec<_> = p
        .rules
        .iter()
        .map(|r| (r.line, r.syscall.as_str()))
        .collect();
    assert_eq!(names, [(3, "read"), (6, "write")]);
    // `@complain` (trimmed or not) and `@unrestricted-not` are words of no
    // known system call: ignored.
    assert_eq!(p.ignored.len(), 2);
}

#[test]
fn unrestricted_reads_no_rules() {
    // snapd does not parse the lines of an unrestricted profile at all.
    let p = parse("read 0x5\n\t@unrestricted\t\n   \nread a b c d e f g\n").unwrap();
    assert!(p.unrestricted);
    assert!(p.rules.is_empty());
}

#[test]
fn carriage_returns_end_lines_as_in_go() {
    let p = parse("read 1\r\nwrite -\r\n\r\n").unwrap();
    assert_eq!(p.rules[0].text, "read 1");
    assert_eq!(p.rules[1].conditions, vec![]);
}

#[test]
fn every_operator() {
    assert_eq!(conds("read -"), vec![]);
    assert_eq!(
        conds("read 1 >=2 <=3 !4 <5 >6"),
        vec![
            (0, Op::Equal, n(1)),
            (1, Op::GreaterOrEqual, n(2)),
            (2, Op::LessOrEqual, n(3)),
            (3, Op::NotEqual, n(4)),
            (4, Op::Less, n(5)),
            (5, Op::Greater, n(6)),
        ]
    );
    assert_eq!(
        conds("mknodat - - |S_IFIFO -"),
        vec![(2, Op::MaskedEqual { mask: 0o10000 }, n(0o10000))]
    );
    assert_eq!(
        conds("ioctl - 4294967295|TIOCSTI"),
        vec![(1, Op::MaskedEqual { mask: 0xFFFF_FFFF }, n(0x5412))]
    );
    assert_eq!(
        conds("socket AF_NETLINK - NETLINK_ROUTE"),
        vec![(0, Op::Equal, n(16)), (2, Op::Equal, n(0))]
    );
    assert_eq!(
        conds("setpriority PRIO_PROCESS 0 <=19"),
        vec![
            (0, Op::Equal, n(0)),
            (1, Op::Equal, n(0)),
            (2, Op::LessOrEqual, n(19))
        ]
    );
}

#[test]
fn deny_lines() {
    let p = parse("~ioctl - TIOCLINUX\nioctl\n").unwrap();
    assert_eq!(p.rules[0].action, Action::Deny);
    assert_eq!(p.rules[0].syscall, "ioctl");
    assert_eq!(p.rules[1].action, Action::Allow);
}

#[test]
fn enosys_lines_are_ours() {
    let p = parse("@enosys clone3\n@enosys nosuchcall\n").unwrap();
    assert_eq!(p.rules.len(), 1);
    assert_eq!(p.rules[0].syscall, "clone3");
    assert_eq!(p.rules[0].action, Action::Enosys);
    assert!(p.rules[0].conditions.is_empty());
    assert_eq!(p.ignored.len(), 1);
    assert_eq!(p.ignored[0].action, Action::Enosys);
    for bad in ["@enosys", "@enosys clone3 -", "@enosys clone3 0"] {
        assert_eq!(
            err(bad),
            format!(
                "t.src:1: cannot parse line: @enosys takes one system call name and no arguments (line \"{bad}\")"
            )
        );
    }
    // Other `@` words stay unknown system calls, as in snapd.
    assert_eq!(parse("@enosys-not clone3\n").unwrap().ignored.len(), 1);
}

#[test]
fn users_and_groups_are_names_for_the_caller() {
    let p = parse("chown - u:root g:_daemon_\n").unwrap();
    assert_eq!(
        p.rules[0].conditions,
        vec![
            Condition {
                arg: 1,
                op: Op::MaskedEqual { mask: 0xFFFF_FFFF },
                value: Value::User("root".into()),
                token: "u:root".into(),
            },
            Condition {
                arg: 2,
                op: Op::MaskedEqual { mask: 0xFFFF_FFFF },
                value: Value::Group("_daemon_".into()),
                token: "g:_daemon_".into(),
            },
        ]
    );
    // Not an id syscall: plain equality.
    assert_eq!(
        conds("kill u:snap_daemon"),
        vec![(0, Op::Equal, Value::User("snap_daemon".into()))]
    );
}

#[test]
fn negative_numbers_only_for_id_syscalls() {
    assert_eq!(
        conds("setresuid -1 0 +5"),
        vec![
            (0, Op::MaskedEqual { mask: 0xFFFF_FFFF }, n(0xFFFF_FFFF)),
            (1, Op::MaskedEqual { mask: 0xFFFF_FFFF }, n(0)),
            (2, Op::MaskedEqual { mask: 0xFFFF_FFFF }, n(5)),
        ]
    );
    assert_eq!(
        conds("setuid -2147483648"),
        vec![(0, Op::MaskedEqual { mask: 0xFFFF_FFFF }, n(0x8000_0000))]
    );
    assert_eq!(
        err("setuid -2147483649\n"),
        r#"t.src:1: cannot parse line: cannot parse token "-2147483649" (line "setuid -2147483649")"#
    );
    assert_eq!(
        err("read -1\n"),
        r#"t.src:1: cannot parse line: cannot parse token "-1" (line "read -1")"#
    );
    assert_eq!(
        err("setuid >-1\n"),
        r#"t.src:1: cannot parse line: cannot parse token ">-1" (line "setuid >-1"): unsupported comparison"#
    );
    assert_eq!(
        err("chown - 4294967295|0\n"),
        r#"t.src:1: cannot parse line: cannot parse token "4294967295|0" (line "chown - 4294967295|0"): unsupported comparison"#
    );
}

#[test]
fn numbers_are_decimal_u32() {
    assert_eq!(conds("read 0007"), vec![(0, Op::Equal, n(7))]);
    assert_eq!(
        conds("read 4294967295"),
        vec![(0, Op::Equal, n(0xFFFF_FFFF))]
    );
    for bad in [
        "0x5412",
        "4294967296",
        "+5",
        "1_000",
        "TIOCSTIX",
        "tiocsti",
        "-0",
    ] {
        let line = format!("ioctl - {bad}");
        assert_eq!(
            err(&line),
            format!("t.src:1: cannot parse line: cannot parse token {bad:?} (line {line:?})"),
        );
    }
}

#[test]
fn snapds_messages() {
    // Each checked against Debian's snap-seccomp 2.57 (`error: ` + the text
    // after `t.src:N: `).
    assert_eq!(
        err("\n\nread 0x5 - -\n"),
        r#"t.src:3: cannot parse line: cannot parse token "0x5" (line "read 0x5 - -")"#
    );
    assert_eq!(
        err("read a b c d e f g\n"),
        r#"t.src:1: cannot parse line: too many arguments specified for syscall 'read' in line "read a b c d e f g""#
    );
    // Too many arguments is checked before the name is looked up.
    assert_eq!(
        err("~nosuch 1 2 3 4 5 6 7"),
        r#"t.src:1: cannot parse line: too many arguments specified for syscall '~nosuch' in line "~nosuch 1 2 3 4 5 6 7""#
    );
    assert_eq!(
        err("read FOO\n"),
        r#"t.src:1: cannot parse line: cannot parse token "FOO" (line "read FOO")"#
    );
    assert_eq!(
        err("chown - u:Bad\n"),
        r#"t.src:1: cannot parse line: cannot parse token "u:Bad" (line "chown - u:Bad"): "Bad" must be a valid username"#
    );
    assert_eq!(
        err("chown - - g:Bad\n"),
        r#"t.src:1: cannot parse line: cannot parse token "g:Bad" (line "chown - - g:Bad"): "Bad" must be a valid group name"#
    );
    assert_eq!(
        err("ioctl - |\n"),
        r#"t.src:1: cannot parse line: cannot parse token "|" (line "ioctl - |")"#
    );
    assert_eq!(
        err("read <\n"),
        r#"t.src:1: cannot parse line: cannot parse token "<" (line "read <")"#
    );
    assert_eq!(
        err("read |1|2\n"),
        r#"t.src:1: cannot parse line: cannot parse token "|1|2" (line "read |1|2")"#
    );
}

#[test]
fn unknown_syscalls_are_ignored_unread() {
    let p = parse("nosuch 1 2 x\n~nosuch2 garbage\n  # indented comment\n~\n").unwrap();
    assert!(p.rules.is_empty());
    let ignored: Vec<_> = p
        .ignored
        .iter()
        .map(|i| (i.line, i.syscall.as_str(), i.action))
        .collect();
    assert_eq!(
        ignored,
        [
            (1, "nosuch", Action::Allow),
            (2, "nosuch2", Action::Deny),
            (3, "#", Action::Allow),
            (4, "", Action::Deny),
        ]
    );
}

#[test]
fn where_snapd_crashes_or_takes_garbage() {
    // snapd panics on these (slice bounds out of range).
    assert_eq!(
        err("read\n  \n"),
        r#"t.src:2: cannot parse line: line "  " holds only white space"#
    );
    assert_eq!(
        err("\t\u{a0}\r\n"),
        r#"t.src:1: cannot parse line: line "\t\u00a0" holds only white space"#
    );
    assert_eq!(
        err("read\nre\0ad\n"),
        r#"t.src:2: cannot parse line: line "re\x00ad" holds the control character U+0000"#
    );
    let e = lang::parse("g.src", b"read\n\xff\xfe\n", &known).unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, ErrorKind::NotUtf8);
    assert_eq!(
        e.to_string(),
        "g.src:2: cannot parse line: line is not valid UTF-8"
    );
    let big = vec![b'#'; lang::MAX_SOURCE_SIZE + 1];
    assert_eq!(
        lang::parse("big.src", &big, &known)
            .unwrap_err()
            .to_string(),
        format!(
            "big.src: cannot read profile: larger than {} bytes",
            lang::MAX_SOURCE_SIZE
        )
    );
}

#[test]
fn constants_are_sorted_and_complete() {
    let names: Vec<_> = lang::CONSTANTS.iter().map(|(n, _)| *n).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "CONSTANTS must be sorted and unique");
    // snapd's resolver has 225 names.
    assert_eq!(names.len(), 225);
    for (name, value) in lang::CONSTANTS {
        assert_eq!(lang::constant(name), Some(*value));
    }
    assert_eq!(lang::constant("AF_INET6"), Some(10));
    assert_eq!(lang::constant("af_inet"), None);
}

#[test]
fn valid_system_usernames() {
    for ok in ["root", "snap_daemon", "_daemon_", "a", "a-b_0"] {
        assert!(lang::is_valid_system_username(ok), "{ok}");
    }
    for bad in ["", "Root", "0root", "_daemon", "-a", "a.b", "a b", "é"] {
        assert!(!lang::is_valid_system_username(bad), "{bad}");
    }
}

// --- properties -----------------------------------------------------------

/// Pieces of the language and of what breaks it.
const PIECES: &[&str] = &[
    "read",
    "~ioctl",
    "chown",
    "setuid",
    "nosuch",
    "#",
    "@complain",
    "@unrestricted",
    " ",
    "\t",
    "\r",
    "\n",
    "\u{a0}",
    "\0",
    "-",
    ">=",
    "<=",
    "!",
    "<",
    ">",
    "|",
    "u:",
    "g:",
    "root",
    "Bad",
    "0",
    "1",
    "-1",
    "+",
    "4294967295",
    "4294967296",
    "0x5",
    "TIOCSTI",
    "AF_INET",
    "~",
    "@enosys",
    "é",
];

fn source() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

/// An argument token that parses, and what it must parse to
/// (on a syscall that takes no negative numbers).
fn good_token() -> impl Strategy<Value = (String, Option<(Op, u64)>)> {
    let num = prop_oneof![
        any::<u32>().prop_map(|v| (v.to_string(), u64::from(v))),
        prop::sample::select(lang::CONSTANTS)
            .prop_map(|(name, v)| (name.to_string(), u64::from(v))),
    ];
    (0..9u8, num.clone(), num).prop_map(|(kind, (a, av), (b, bv))| match kind {
        0 => ("-".into(), None),
        1 => (format!(">={a}"), Some((Op::GreaterOrEqual, av))),
        2 => (format!("<={a}"), Some((Op::LessOrEqual, av))),
        3 => (format!("!{a}"), Some((Op::NotEqual, av))),
        4 => (format!("<{a}"), Some((Op::Less, av))),
        5 => (format!(">{a}"), Some((Op::Greater, av))),
        6 => (format!("|{a}"), Some((Op::MaskedEqual { mask: av }, av))),
        7 => (format!("{a}|{b}"), Some((Op::MaskedEqual { mask: av }, bv))),
        _ => (a, Some((Op::Equal, av))),
    })
}

proptest! {
    #[test]
    fn never_panics(text in source()) {
        let _ = parse(&text);
    }

    #[test]
    fn never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = lang::parse("f", &data, &known);
    }

    #[test]
    fn errors_name_file_and_a_line_that_exists(text in source()) {
        if let Err(e) = parse(&text) {
            prop_assert!(e.to_string().starts_with("t.src:"));
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count());
        }
    }

    #[test]
    fn a_written_rule_reads_back(
        deny in any::<bool>(),
        tokens in prop::collection::vec(good_token(), 0..=6),
        sep in prop::sample::select(vec![" ", "\t", "  ", " \u{a0}"]),
    ) {
        let mut line = String::from(if deny { "~read" } else { "read" });
        for (t, _) in &tokens {
            line.push_str(sep);
            line.push_str(t);
        }
        let p = parse(&format!("# c\n{line}\n")).unwrap();
        prop_assert_eq!(p.rules.len(), 1);
        let rule = &p.rules[0];
        prop_assert_eq!(rule.line, 2);
        prop_assert_eq!(rule.action, if deny { Action::Deny } else { Action::Allow });
        let want: Vec<_> = tokens
            .iter()
            .enumerate()
            .filter_map(|(i, (_, c))| c.map(|(op, v)| (i as u8, op, Value::Number(v))))
            .collect();
        let got: Vec<_> = rule.conditions.iter().map(|c| (c.arg, c.op, c.value.clone())).collect();
        prop_assert_eq!(got, want);
    }
}
