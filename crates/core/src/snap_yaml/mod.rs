//! `meta/snap.yaml`: the parts snapcell needs (identity, confinement, apps
//! and hooks for snap-exec, plugs and slots, environment, layouts), parsed
//! the way snapd's yaml.v2-based parser reads them, and snapd's validation.
//!
//! Parsing follows Go's yaml.v2 decoding into snapd's structures:
//! * every scalar read as a string keeps its source text (`version: 1.0` is
//!   `"1.0"`, `version: 2` is `"2"`), and null reads as the empty string;
//! * unknown keys are ignored; for a key given twice the later value wins;
//! * `confinement` and `type` are checked while parsing, a top-level
//!   `layouts` key is a typo error, layout modes are octal text.
//!
//! Nothing here panics, whatever the input: malformed, deeply nested or
//! alias-bomb YAML gives an error (the YAML library limits recursion depth
//! and alias expansion), and input above [`MAX_SNAP_YAML_LEN`] is refused
//! before parsing.

mod decode;
mod implicit;
mod model;
mod validate;

pub use decode::{MAX_SNAP_YAML_LEN, SnapYamlError};
pub use implicit::is_supported_hook;
pub use model::{
    AppInfo, Confinement, Environment, HookInfo, PlugInfo, SlotInfo, SnapInfo, SnapType,
};
pub use validate::{
    APP_FIELD_LEGAL, AppError, COMMAND_CHAIN_LEGAL, ValidationError, version_error,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use proptest::prelude::*;
    use yaml_serde::Value;

    fn parse(y: &str) -> SnapInfo {
        SnapInfo::parse(y).unwrap_or_else(|e| panic!("{e}\n{y}"))
    }

    fn parse_err(y: &str) -> String {
        SnapInfo::parse(y).unwrap_err().to_string()
    }

    fn invalid(y: &str) -> String {
        parse(y).validate().unwrap_err().to_string()
    }

    const FULL: &str = r#"
name: hello
version: 1.0
summary: says hello
description: |
  A longer text.
base: core22
grade: stable
confinement: devmode
environment:
  B: "2"
  A: $B/x
apps:
  hello:
    command: bin/hello --flag $SNAP_DATA
    command-chain: [bin/wrap, bin/wrap2]
    completer: share/completion.sh
    environment:
      LANG: C
    plugs: [home, network]
    slots: [dbus-svc]
  svc:
    command: bin/svc
    daemon: simple
    stop-command: bin/stop
    reload-command: bin/reload
    post-stop-command: bin/post
    restart-condition: always
hooks:
  configure:
    command-chain: [bin/hook-wrap]
    environment: {HOOKVAR: 1}
    plugs: [network]
plugs:
  plain:
  aliased: content
  shared:
    interface: content
    target: $SNAP/shared
    default-provider: other
    read: [a, b]
slots:
  dbus-svc:
    interface: dbus
    bus: session
    name: org.example.Hello
layout:
  /usr/share/hello:
    bind: $SNAP/usr/share/hello
  /var/tmp/hello:
    type: tmpfs
    mode: 1777
  /etc/hello.conf:
    bind-file: $SNAP_DATA/hello.conf
  /opt/hello:
    symlink: $SNAP/opt
unknown-key: {whatever: [1, 2]}
"#;

    #[test]
    fn parses_a_full_snap_yaml() {
        let info = parse(FULL);
        assert_eq!(info.name, "hello");
        assert_eq!(info.version, "1.0");
        assert_eq!(info.summary.as_deref(), Some("says hello"));
        assert_eq!(info.description.as_deref(), Some("A longer text.\n"));
        assert_eq!(info.base.as_deref(), Some("core22"));
        assert_eq!(info.grade.as_deref(), Some("stable"));
        assert_eq!(info.confinement, Confinement::Devmode);
        assert_eq!(info.snap_type, SnapType::App);
        let env: Vec<_> = info.environment.iter().collect();
        assert_eq!(env, [("B", "2"), ("A", "$B/x")]);
        let hello = &info.apps["hello"];
        assert_eq!(hello.command, "bin/hello --flag $SNAP_DATA");
        assert_eq!(hello.command_chain, ["bin/wrap", "bin/wrap2"]);
        assert_eq!(hello.completer, "share/completion.sh");
        assert_eq!(hello.environment.get("LANG"), Some("C"));
        assert_eq!(hello.plugs, ["home", "network"]);
        assert_eq!(hello.slots, ["dbus-svc"]);
        let svc = &info.apps["svc"];
        assert_eq!(
            (
                svc.daemon.as_str(),
                svc.stop_command.as_str(),
                svc.reload_command.as_str(),
                svc.post_stop_command.as_str()
            ),
            ("simple", "bin/stop", "bin/reload", "bin/post")
        );
        let hook = &info.hooks["configure"];
        assert_eq!(hook.command_chain, ["bin/hook-wrap"]);
        assert_eq!(hook.environment.get("HOOKVAR"), Some("1"));
        assert_eq!(hook.plugs, ["network"]);
        assert_eq!(info.plugs["plain"].interface, "plain");
        assert_eq!(info.plugs["aliased"].interface, "content");
        let shared = &info.plugs["shared"];
        assert_eq!(shared.interface, "content");
        assert_eq!(shared.attrs["target"], Value::String("$SNAP/shared".into()));
        assert_eq!(
            shared.attrs["read"],
            Value::Sequence(vec![Value::String("a".into()), Value::String("b".into())])
        );
        assert_eq!(info.slots["dbus-svc"].interface, "dbus");
        assert_eq!(info.layout.len(), 4);
        assert_eq!(info.layout["/var/tmp/hello"].mode, 0o1777);
        assert_eq!(info.layout["/usr/share/hello"].mode, 0o755);
        assert_eq!(info.layout["/usr/share/hello"].user, "root");
        assert_eq!(info.validate(), Ok(()));
        assert_eq!(
            info.plug_names().into_iter().collect::<Vec<_>>(),
            ["aliased", "home", "network", "plain", "shared"]
        );
        let lines: Vec<String> = info
            .layout_entries("3")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines[3],
            "tmpfs /var/tmp/hello tmpfs x-snapd.mode=01777,x-snapd.origin=layout 0 0"
        );
    }

    #[test]
    fn scalars_read_as_their_text() {
        assert_eq!(parse("name: a\nversion: 1.0\n").version, "1.0");
        assert_eq!(parse("version: 1.10\n").version, "1.10");
        assert_eq!(parse("version: 2\n").version, "2");
        assert_eq!(parse("version: 0x1F\n").version, "0x1F");
        assert_eq!(parse("version: true\n").version, "true");
        assert_eq!(parse("version: ~\n").version, "");
        assert_eq!(parse("version:\n").version, "");
        assert_eq!(parse("version: '007'\n").version, "007");
        assert_eq!(
            parse("environment: {A: 1.50, B: ~}\n").environment.get("A"),
            Some("1.50")
        );
        assert_eq!(
            parse("environment: {A: 1.50, B: ~}\n").environment.get("B"),
            Some("")
        );
    }

    #[test]
    fn defaults_and_empty_documents() {
        for y in ["", "\n\n", "# only a comment\n", "~\n", "---\n"] {
            assert_eq!(SnapInfo::parse(y), Ok(SnapInfo::default()), "{y:?}");
        }
        let info = parse("name: a\napps:\n  x:\nhooks:\n  install: ~\nlayout:\n  /opt/x:\n");
        assert_eq!(info.apps["x"], AppInfo::default());
        assert_eq!(info.hooks["install"], HookInfo::default());
        assert_eq!(info.layout["/opt/x"], Layout::default());
        assert_eq!(info.confinement, Confinement::Strict);
        assert_eq!(info.base_or_default(), "core");
    }

    #[test]
    fn later_duplicates_win() {
        let info = parse(
            "name: a\nname: b\napps:\n  x: {command: one, command: two}\n  x: {command: three}\n\
             environment: {A: 1, B: 2, A: 3}\nplugs:\n  p: {interface: x, attr: 1, attr: 2}\n  p: {interface: y}\n",
        );
        assert_eq!(info.name, "b");
        assert_eq!(info.apps["x"].command, "three");
        assert_eq!(
            info.environment.iter().collect::<Vec<_>>(),
            [("A", "3"), ("B", "2")]
        );
        assert_eq!(info.plugs["p"].interface, "y");
        let info = parse("plugs:\n  p: {interface: x, attr: 1, attr: 2}\n");
        assert_eq!(info.plugs["p"].attrs["attr"], Value::Number(2.into()));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_err("name: foo\nlayouts:\n  /usr: {bind: $SNAP/usr}\n"),
            "cannot parse snap.yaml: typo detected: use singular \"layout\" instead of plural \"layouts\""
        );
        assert_eq!(
            parse_err("# comment\n\nname: foo\nlayouts: {}\n"),
            "cannot parse snap.yaml: typo detected: use singular \"layout\" instead of plural \"layouts\""
        );
        assert_eq!(
            parse_err("confinement: jail\n"),
            "cannot parse snap.yaml: invalid confinement type: \"jail\""
        );
        assert_eq!(
            parse_err("confinement: ''\n"),
            "cannot parse snap.yaml: invalid confinement type: \"\""
        );
        assert_eq!(
            parse_err("type: widget\n"),
            "cannot parse snap.yaml: invalid snap type: \"widget\""
        );
        assert_eq!(parse("type: base\n").snap_type, SnapType::Base);
        assert_eq!(
            parse_err("layout:\n  /opt/x:\n    type: tmpfs\n    mode: 0o755\n"),
            "cannot parse snap.yaml: layout \"/opt/x\" has invalid mode \"0o755\": invalid syntax"
        );
        assert_eq!(
            parse_err("layout:\n  /opt/x:\n    mode: 77777777777\n"),
            "cannot parse snap.yaml: layout \"/opt/x\" has invalid mode \"77777777777\": value out of range"
        );
        assert!(parse_err("name: [a]\n").starts_with("cannot parse snap.yaml: name: invalid type"));
        assert!(parse_err("- a\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("apps: [a]\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("name: a\n---\nname: b\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("a: [\n").starts_with("cannot parse snap.yaml: "));
        assert_eq!(
            SnapInfo::parse(&"#".repeat(MAX_SNAP_YAML_LEN + 1)),
            Err(SnapYamlError::TooLarge(MAX_SNAP_YAML_LEN + 1))
        );
    }

    #[test]
    fn plug_and_slot_shapes() {
        let info = parse("plugs: [a, b]\nslots: {s: ~, t: iface}\n");
        assert_eq!(info.plugs["a"].interface, "a");
        assert_eq!(info.plugs["b"].interface, "b");
        assert_eq!(info.slots["s"].interface, "s");
        assert_eq!(info.slots["t"].interface, "iface");
        let label = parse("plugs: {p: {label: hello, interface: x}}\n");
        assert_eq!(label.plugs["p"].label, "hello");
        assert!(label.plugs["p"].attrs.is_empty());
        for (y, want) in [
            (
                "plugs: {p: 1}\n",
                "plug \"p\" has malformed definition (found int)",
            ),
            (
                "plugs: {p: [x]}\n",
                "plug \"p\" has malformed definition (found []interface {})",
            ),
            (
                "slots: {s: 1.5}\n",
                "slot \"s\" has malformed definition (found float64)",
            ),
            (
                "plugs: {p: {interface: 1}}\n",
                "interface name on plug \"p\" is not a string (found int)",
            ),
            (
                "plugs: {p: {label: [1]}}\n",
                "label of plug \"p\" is not a string (found []interface {})",
            ),
            (
                "plugs: {p: {$x: 1}}\n",
                "plug \"p\" uses reserved attribute \"$x\"",
            ),
            (
                "plugs: {p: {'': 1}}\n",
                "plug \"p\" has an empty attribute key",
            ),
            (
                "plugs: {p: {1: 1}}\n",
                "plug \"p\" has attribute key that is not a string (found int)",
            ),
            (
                "plugs: [{a: b}]\n",
                "plug list entry is not a string (found map[interface {}]interface {})",
            ),
        ] {
            assert_eq!(parse_err(y), want, "{y}");
        }
        let tagged = parse("plugs: {p: {x: !custom 5}}\n");
        assert!(matches!(tagged.plugs["p"].attrs["x"], Value::Tagged(_)));
    }

    #[test]
    fn versions_follow_snapd() {
        for ok in ["1", "1.0", "v1.0-beta+git~1", "a", &"a".repeat(32), "1:2.3"] {
            assert_eq!(version_error(ok), None, "{ok}");
        }
        let cases = [
            ("", "invalid snap version: cannot be empty"),
            (
                "1.0 beta",
                "invalid snap version \"1.0 beta\": must be printable, non-whitespace ASCII",
            ),
            (
                "héllo",
                "invalid snap version \"h\\u00e9llo\": must be printable, non-whitespace ASCII",
            ),
            (
                ".1",
                "invalid snap version \".1\": must start with an ASCII alphanumeric (and not '.')",
            ),
            (
                "1.",
                "invalid snap version \"1.\": must end with an ASCII alphanumeric or one of '+' or '~' (and not '.')",
            ),
            (
                "1_2@3",
                "invalid snap version \"1_2@3\": contains invalid characters: \"_\", \"@\"",
            ),
            (
                "'a!!b_",
                "invalid snap version \"'a!!b_\": must start with an ASCII alphanumeric (and not '\\''), must end with an ASCII alphanumeric or one of '+' or '~' (and not '_'), and contains invalid characters: \"!!\"",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(version_error(v).as_deref(), Some(want), "{v:?}");
        }
        let long = "a".repeat(33);
        assert_eq!(
            version_error(&long).unwrap(),
            format!(
                "invalid snap version \"{long}\": cannot be longer than 32 characters (got: 33)"
            )
        );
        let both = format!("-{}", "a".repeat(32));
        assert_eq!(
            version_error(&both).unwrap(),
            format!(
                "invalid snap version \"{both}\": cannot be longer than 32 characters (got: 33), and must start with an ASCII alphanumeric (and not '-')"
            )
        );
    }

    #[test]
    fn validation_errors() {
        let base = "name: foo\nversion: 1\n";
        assert_eq!(invalid("version: 1\n"), "snap name cannot be empty");
        assert_eq!(
            invalid("name: Foo\nversion: 1\n"),
            "invalid snap name: \"Foo\""
        );
        assert_eq!(
            invalid("name: foo\n"),
            "invalid snap version: cannot be empty"
        );
        assert_eq!(
            invalid(&format!("{base}title: {}\n", "t".repeat(41))),
            "title can have up to 40 codepoints, got 41"
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a_b: {{command: x}}\n")),
            "invalid definition of application \"a_b\": cannot have \"a_b\" as app name - use letters, digits, and dash as separator"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a: {{command: x, daemon: forever}}\n"
            )),
            "invalid definition of application \"a\": \"daemon\" field contains invalid value \"forever\""
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a: {{command: \"x 'y'\"}}\n")),
            "invalid definition of application \"a\": app description field 'command' contains illegal \"x 'y'\" (legal: '^[A-Za-z0-9/. _#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a: {{command: x, command-chain: [\"a b\"]}}\n"
            )),
            "invalid definition of application \"a\": app description field 'command-chain' contains illegal \"a b\" (legal: '^[A-Za-z0-9/._#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!("{base}hooks:\n  Install: {{}}\n")),
            "invalid hook name: \"Install\""
        );
        assert_eq!(
            invalid(&format!(
                "{base}hooks:\n  install: {{command-chain: [\"a;b\"]}}\n"
            )),
            "hook command-chain contains illegal \"a;b\" (legal: '^[A-Za-z0-9/._#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!("{base}plugs: {{p: Bad}}\n")),
            "invalid interface name \"Bad\" for plug \"p\""
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a: {{plugs: [x_y]}}\n")),
            "invalid plug name: \"x_y\""
        );
        assert_eq!(
            invalid(&format!("{base}plugs: [x]\napps:\n  a: {{slots: [x]}}\n")),
            "cannot have plug and slot with the same name: \"x\""
        );
        assert_eq!(
            invalid(&format!("{base}type: base\nbase: core\n")),
            "cannot have \"base\" field on \"base\" snap \"foo\""
        );
        assert_eq!(
            invalid(&format!("{base}base: none\napps:\n  a: {{command: x}}\n")),
            "cannot have apps or hooks with base \"none\""
        );
        assert_eq!(
            invalid(&format!("{base}base: core_x\n")),
            "base cannot specify a snap instance name: \"core_x\""
        );
        assert_eq!(
            invalid(&format!("{base}base: Core\n")),
            "invalid base name: invalid snap name: \"Core\""
        );
        assert_eq!(
            invalid(&format!("{base}environment: {{'A=B': x}}\n")),
            "invalid environment variable name \"A=B\" in snap environment: must be non-empty and contain neither '=' nor NUL"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a:\n    environment: {{A: \"x\\0y\"}}\n"
            )),
            "invalid value of environment variable \"A\" in environment of app \"a\": contains NUL"
        );
        assert_eq!(
            invalid(&format!("{base}layout:\n  /proc/x: {{type: tmpfs}}\n")),
            "layout \"/proc/x\" defines a new top-level directory \"/proc\""
        );
        assert_eq!(parse(&format!("{base}base: none\n")).validate(), Ok(()));
    }

    #[test]
    fn hostile_yaml_gives_errors() {
        // An alias bomb: 10^9 strings once expanded.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        for key in [
            "plugs: {p: {attr: *a9}}",
            "environment: {A: *a9}",
            "other: *a9",
        ] {
            let y = format!("{bomb}{key}\n");
            let started = std::time::Instant::now();
            let got = SnapInfo::parse(&y);
            assert!(started.elapsed().as_secs() < 10, "{key} took too long");
            if key.starts_with("other") {
                // Ignored keys are skipped without expanding them.
                assert!(got.is_ok() || got.is_err());
            } else {
                assert!(got.is_err(), "{key}: {got:?}");
            }
        }
        // Deep nesting, in every place a value is read: an error (the YAML
        // library's recursion limit), except under an ignored key, which is
        // skipped without recursion.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for key in [
            "plugs: {p: {attr: D}}",
            "apps: D",
            "layout: {/opt/x: D}",
            "D",
        ] {
            let y = key.replace('D', &deep);
            assert!(SnapInfo::parse(&y).is_err(), "{key}");
        }
        assert!(SnapInfo::parse(&format!("other: {deep}\n")).is_ok());
        // An alias to an enclosing node.
        assert!(SnapInfo::parse("plugs: &a {p: *a}\n").is_err());
        // Many keys.
        let many: String = (0..50_000).map(|i| format!("k{i}: v\n")).collect();
        assert!(SnapInfo::parse(&format!("name: x\n{many}")).is_ok());
        // Control characters and tabs.
        assert!(SnapInfo::parse("name: \u{1}\n").is_err());
        assert!(SnapInfo::parse("\tname: x\n").is_err());
    }

    fn arb_yaml() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("~".to_owned()),
            Just("''".to_owned()),
            "[a-z$/]{0,6}",
            "-?[0-9]{1,4}(\\.[0-9]{1,2})?",
            Just("true".to_owned()),
            Just("*a".to_owned()),
            Just("&a x".to_owned()),
            Just("!tag x".to_owned()),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::vec(("[a-z/$]{0,5}", inner), 0..4).prop_map(|kv| {
                    let items: Vec<String> =
                        kv.iter().map(|(k, v)| format!("'{k}': {v}")).collect();
                    format!("{{{}}}", items.join(", "))
                }),
            ]
        });
        let key = prop_oneof![
            Just("name"),
            Just("version"),
            Just("type"),
            Just("confinement"),
            Just("base"),
            Just("apps"),
            Just("hooks"),
            Just("plugs"),
            Just("slots"),
            Just("layout"),
            Just("layouts"),
            Just("environment"),
            Just("summary"),
            Just("other"),
        ];
        proptest::collection::vec((key, value), 0..6).prop_map(|kv| {
            kv.iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect::<String>()
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics_on_text(text in "\\PC{0,200}|[\\x00-\\x7f]{0,200}") {
            if let Ok(info) = SnapInfo::parse(&text) {
                let _ = info.validate();
            }
        }

        #[test]
        fn parsing_never_panics_on_structured_yaml(text in arb_yaml()) {
            if let Ok(info) = SnapInfo::parse(&text) {
                let _ = info.validate();
                let _ = info.layout_entries("1");
            }
        }

        #[test]
        fn valid_layouts_round_trip_through_yaml(
            items in proptest::collection::btree_map(
                "/(etc|usr|opt)/[a-z]{1,6}|/var/x[a-z]{0,5}",
                prop_oneof![
                    "[a-z]{1,5}".prop_map(|s| format!("bind: $SNAP/{s}")),
                    "[a-z]{1,5}".prop_map(|s| format!("bind-file: $SNAP_DATA/{s}")),
                    "[a-z]{1,5}".prop_map(|s| format!("symlink: $SNAP_COMMON/{s}")),
                    Just("type: tmpfs\n    mode: 1777".to_owned()),
                ],
                1..6,
            )
        ) {
            // Two levels deep, bind sources under $SNAP and file sources
            // under $SNAP_DATA: these layouts are all valid.
            let mut y = String::from("name: demo\nversion: '1'\nlayout:\n");
            for (p, body) in &items {
                y.push_str(&format!("  {p}:\n    {body}\n"));
            }
            let info = SnapInfo::parse(&y).unwrap();
            prop_assert_eq!(info.layout.len(), items.len());
            prop_assert_eq!(info.validate(), Ok(()));
            prop_assert_eq!(info.layout_entries("1").len(), items.len());
        }
    }
}
