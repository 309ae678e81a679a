//! snap-exec (spec §7.2) end to end: a snap mounted at `/snap/NAME/REV` in
//! a throwaway world, whose app and hook are shell scripts that print their
//! argument vector and a few variables.

use std::process::{Command, Output};

use snapcell_test_support::{Tree, run_in_world, scratch_dir};

const SNAP_YAML: &str = r#"name: echo
version: '1.0'
environment:
  SNAPVAR: snap-level
  FROM_PATH: $PATH
apps:
  show:
    command: bin/show --fixed $SNAP_DATA $UNSET_VAR ${SNAPVAR}
    command-chain: [bin/chain]
    stop-command: bin/show stopping
    environment:
      APPVAR: ${SNAPVAR}-app
  plain:
    command: bin/show
hooks:
  configure:
    command-chain: [bin/chain]
    environment:
      HOOKVAR: $SNAPVAR-hook
"#;

const SHOW: &str = r#"#!/bin/sh
echo "argv0=$0"
for a in "$@"; do echo "arg=$a"; done
echo "APPVAR=$APPVAR"
echo "HOOKVAR=$HOOKVAR"
echo "FROM_PATH=$FROM_PATH"
echo "TMPDIR=$TMPDIR"
echo "SAVED=${SNAP_SAVED_TMPDIR-unset}"
"#;

const CHAIN: &str = "#!/bin/sh\necho \"chain=$0\"\nexec \"$@\"\n";

fn snap_tree() -> Tree {
    Tree::new()
        .dir("meta", 0o755)
        .file("meta/snap.yaml", SNAP_YAML, 0o644)
        .dir("meta/hooks", 0o755)
        .file("meta/hooks/configure", SHOW, 0o755)
        .dir("bin", 0o755)
        .file("bin/show", SHOW, 0o755)
        .file("bin/chain", CHAIN, 0o755)
}

fn snap_exec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snap-exec"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SNAP_REVISION", "7")
        .env("SNAP_DATA", "/var/snap/echo/7")
        .env("SNAP_SAVED_TMPDIR", "/var/tmp/saved")
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
}

#[test]
fn apps_hooks_and_errors() {
    let dir = scratch_dir().unwrap();
    let src = dir.path().join("echo");
    snap_tree().write_to(&src).unwrap();
    run_in_world(|world| {
        world.mount_snap("echo", 7, &src).unwrap();

        // The app: command chain first, command words expanded (the empty
        // one dropped), user arguments untouched, environment chained.
        let out = snap_exec(&["echo.show", "$HOME", "two words"]);
        assert_eq!(
            lines(&out),
            [
                "chain=/snap/echo/7/bin/chain",
                "argv0=/snap/echo/7/bin/show",
                "arg=--fixed",
                "arg=/var/snap/echo/7",
                "arg=snap-level",
                "arg=$HOME",
                "arg=two words",
                "APPVAR=snap-level-app",
                "HOOKVAR=",
                "FROM_PATH=/usr/bin:/bin",
                "TMPDIR=/var/tmp/saved",
                "SAVED=unset",
            ]
        );

        // --command=stop and an app without a chain.
        let out = snap_exec(&["--command=stop", "echo.show", "x"]);
        assert_eq!(
            &lines(&out)[..4],
            [
                "chain=/snap/echo/7/bin/chain",
                "argv0=/snap/echo/7/bin/show",
                "arg=stopping",
                "arg=x"
            ]
        );
        let out = snap_exec(&["echo.plain"]);
        assert_eq!(
            &lines(&out)[..2],
            ["argv0=/snap/echo/7/bin/show", "APPVAR="]
        );

        // --command=shell: bash behind the chain, with the user's arguments.
        let out = snap_exec(&[
            "--command",
            "shell",
            "echo.show",
            "-c",
            "echo \"$0 $APPVAR\"",
        ]);
        assert_eq!(
            lines(&out),
            ["chain=/snap/echo/7/bin/chain", "/bin/bash snap-level-app"]
        );

        // A hook: no SNAP_SAVED_ restoration, the hook's environment.
        let out = snap_exec(&["--hook=configure", "echo"]);
        let got = lines(&out);
        assert_eq!(got[0], "chain=/snap/echo/7/bin/chain");
        assert_eq!(got[1], "argv0=/snap/echo/7/meta/hooks/configure");
        assert!(
            got.contains(&"HOOKVAR=snap-level-hook".to_owned()),
            "{got:?}"
        );
        assert!(got.contains(&"TMPDIR=".to_owned()), "{got:?}");
        assert!(got.contains(&"SAVED=/var/tmp/saved".to_owned()), "{got:?}");

        // A parallel instance is read from, and run under, /snap/NAME_KEY/REV.
        world.mount_snap("echo_inst", 7, &src).unwrap();
        let out = snap_exec(&["echo_inst.plain"]);
        assert_eq!(lines(&out)[0], "argv0=/snap/echo_inst/7/bin/show");

        // snapd's errors.
        for (args, msg) in [
            (
                &["--command=bogus", "echo.show"][..],
                r#"cannot use "bogus" command"#,
            ),
            (
                &["--command=reload", "echo.show"][..],
                r#"no "reload" command found for "show""#,
            ),
            (
                &["--command=complete", "echo.show"][..],
                r#"no "complete" command found for "show""#,
            ),
            (&["echo.nope"][..], r#"cannot find app "nope" in "echo""#),
            (
                &["--hook=install", "echo"][..],
                r#"cannot find hook "install" in "echo""#,
            ),
            (
                &["--hook=configure", "--command=stop", "echo"][..],
                "cannot use --hook and --command together",
            ),
            (
                &["--hook=configure", "echo", "a"][..],
                r#"too many arguments for hook "configure": echo a"#,
            ),
            (&[][..], "need the application to run as argument"),
            (
                &["other.app"][..],
                r#"cannot read info for "other": cannot find installed snap "other" at revision 7: missing file /snap/other/7/meta/snap.yaml"#,
            ),
        ] {
            assert_eq!(
                error(&snap_exec(args)),
                format!("cannot snap-exec: {msg}"),
                "{args:?}"
            );
        }
    });
}

#[test]
fn revision_must_parse() {
    let out = Command::new(env!("CARGO_BIN_EXE_snap-exec"))
        .arg("echo.show")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        error(&out),
        r#"cannot snap-exec: cannot parse revision "": invalid snap revision: """#
    );
}

/// Hooks in `meta/hooks` that snap.yaml does not declare run, as snapd's
/// `snap.ReadInfo` adds them (`addImplicitHooks`), with no environment of
/// their own; a file whose name is not a hook type is still not a hook.
#[test]
fn implicit_hooks_in_meta_hooks_run() {
    let dir = scratch_dir().unwrap();
    let src = dir.path().join("imp");
    Tree::new()
        .dir("meta", 0o755)
        .file(
            "meta/snap.yaml",
            "name: imp\nversion: '1'\nenvironment:\n  SNAPVAR: s\napps:\n  a:\n    command: bin/show\n",
            0o644,
        )
        .dir("meta/hooks", 0o755)
        .file("meta/hooks/post-refresh", SHOW, 0o755)
        .file("meta/hooks/connect-plug-home", SHOW, 0o755)
        .file("meta/hooks/upgrade", SHOW, 0o755)
        .dir("bin", 0o755)
        .file("bin/show", SHOW, 0o755)
        .write_to(&src)
        .unwrap();
    run_in_world(|world| {
        world.mount_snap("imp", 7, &src).unwrap();
        for hook in ["post-refresh", "connect-plug-home"] {
            let got = lines(&snap_exec(&[&format!("--hook={hook}"), "imp"]));
            assert_eq!(got[0], format!("argv0=/snap/imp/7/meta/hooks/{hook}"));
            assert!(got.contains(&"HOOKVAR=".to_owned()), "{got:?}");
        }
        for hook in ["upgrade", "install"] {
            assert_eq!(
                error(&snap_exec(&[&format!("--hook={hook}"), "imp"])),
                format!("cannot snap-exec: cannot find hook \"{hook}\" in \"imp\"")
            );
        }
    });
}
