//! Input errors of snapcell's commands (issue 10, "Input errors"): FILE:LINE
//! for snap.yaml errors of every kind, a .snap where a directory or a
//! snap.yaml is expected, `-` for standard input, `profile check`'s checks
//! of option values, plan's argument errors; and the generated completions,
//! manual pages and `--json` output.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn snapcell(args: &[&str]) -> Output {
    snapcell_with_stdin(args, None)
}

fn snapcell_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapcell"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run snapcell");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The whole of stderr of a failure with exit status 1.
fn error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    String::from_utf8_lossy(&o.stderr).trim_end().to_owned()
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn snap_yaml_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let head = "name: demo\nversion: '1'\n";
    for (body, line, msg) in [
        // Syntax, from the YAML parser's position.
        (
            "name: [x\n",
            1,
            "cannot parse snap.yaml: name: invalid type: sequence, expected a string",
        ),
        // A control character, from the scanner's position.
        (
            &*format!("{head}summary: \"a\u{1}b\"\n"),
            3,
            "cannot parse snap.yaml: control characters are not allowed",
        ),
        // Invalid UTF-8 (the byte offset, and its line).
        ("", 3, "invalid UTF-8 at byte 33"),
        // Top-level values.
        (
            "name: Demo_\nversion: '1'\n",
            1,
            "invalid snap name: \"Demo_\"",
        ),
        // An app's field.
        (
            &*format!("{head}apps:\n  run:\n    command: x\n    daemon: bogus\n"),
            6,
            "invalid definition of application \"run\": \"daemon\" field contains invalid value \"bogus\"",
        ),
        // Layout rules, at the item's line.
        (
            &*format!("{head}layout:\n  /usr/a:\n    type: tmpfs\n  /usr/a/b:\n    type: tmpfs\n"),
            6,
            "layout \"/usr/a/b\" underneath prior layout item \"/usr/a\"",
        ),
        (
            &*format!(
                "{head}layout:\n  /usr/a:\n    type: tmpfs\n  \"/usr/x\\ny\":\n    type: tmpfs\n"
            ),
            6,
            "layout \"/usr/x\\ny\" uses invalid mount point: must not contain control characters",
        ),
        (
            &*format!("{head}layout:\n  /usr/a:\n    type: tmpfs\n    mode: 99\n"),
            4,
            "cannot parse snap.yaml: layout \"/usr/a\" has invalid mode \"99\": invalid syntax",
        ),
    ] {
        let file = if body.is_empty() {
            write(
                tmp.path(),
                "utf8.yaml",
                b"name: demo\nversion: '1'\nsummary: \xff\n",
            )
        } else {
            write(tmp.path(), "snap.yaml", body)
        };
        let got = error(&snapcell(&["layout", &file]));
        assert_eq!(got, format!("{file}:{line}: {msg}"), "{body:?}");
    }
}

#[test]
fn layout_reads_standard_input_and_prints_json() {
    let yaml = "name: demo\nversion: '1'\nlayout:\n  /usr/a:\n    type: tmpfs\n";
    let o = snapcell_with_stdin(&["layout", "-"], Some(yaml.as_bytes()));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "tmpfs /usr/a tmpfs x-snapd.origin=layout 0 0\n");
    let o = snapcell_with_stdin(&["layout", "-", "--json"], Some(yaml.as_bytes()));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["target"], "/usr/a");
    assert_eq!(v[0]["type"], "tmpfs");
    assert_eq!(v[0]["options"][0], "x-snapd.origin=layout");
    let bad = "name: demo\nversion: '1'\nlayout:\n  /usr/a:\n    type: nfs\n";
    assert_eq!(
        error(&snapcell_with_stdin(&["layout", "-"], Some(bad.as_bytes()))),
        "<stdin>:4: layout \"/usr/a\" uses invalid filesystem \"nfs\""
    );
}

#[test]
fn a_snap_file_is_recognised_where_a_directory_or_yaml_is_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "meta/snap.yaml", "name: demo\nversion: '1'\n");
    let image = tmp.path().join("demo.snap");
    let o = snapcell(&["pack", src.to_str().unwrap(), "-o", image.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let image = image.to_str().unwrap();
    assert_eq!(
        error(&snapcell(&["layout", image])),
        format!(
            "cannot use {image}: it is a snap file (a squashfs image), not a snap.yaml or a snap directory (with meta/snap.yaml); give the directory it was packed from, or unpack it with: unsquashfs -d DIR {image}"
        )
    );
    assert!(
        error(&snapcell(&["profile", "check", image]))
            .contains("it is a snap file (a squashfs image), not a mount profile")
    );
}

#[test]
fn profile_check_validates_option_values() {
    for (text, msg) in [
        (
            "a /b none bind,x-snapd.kind=blah 0 0\n",
            "<stdin>:1: cannot use mount entry a /b none bind,x-snapd.kind=blah 0 0: unknown x-snapd.kind \"blah\"",
        ),
        (
            "# ok\n\ntmpfs /t tmpfs x-snapd.mode=0999 0 0\n",
            "<stdin>:3: cannot parse octal file mode from \"0999\"",
        ),
        (
            "a /b none x-snapd.user=no:body 0 0\n",
            "<stdin>:1: cannot parse user name \"no:body\"",
        ),
        (
            "a rel/dir none bind 0 0\n",
            "<stdin>:1: cannot use mount entry a rel/dir none bind 0 0: mount point \"rel/dir\" is not an absolute path",
        ),
        (
            "a\0b /b none bind 0 0\n",
            "<stdin>:1: cannot use mount entry: a field holds a NUL byte",
        ),
        (
            "none /b none x-snapd.kind=symlink 0 0\n",
            "<stdin>:1: cannot use mount entry none /b none x-snapd.kind=symlink 0 0: x-snapd.kind=symlink needs x-snapd.symlink=TARGET",
        ),
    ] {
        let o = snapcell_with_stdin(&["profile", "check", "-"], Some(text.as_bytes()));
        assert_eq!(error(&o), msg, "{text:?}");
    }
    let good = "none /b none x-snapd.kind=symlink,x-snapd.symlink=/c 0 0\n";
    let o = snapcell_with_stdin(&["profile", "check", "-", "--json"], Some(good.as_bytes()));
    assert!(o.status.success(), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["entry"], good.trim_end());
}

#[test]
fn plan_argument_errors_and_help() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "p.fstab", "a /b none bind 0 0\n");
    // No mode: clap's usage error (exit 2) names both.
    let o = snapcell(&["plan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("give a snap NAME, or --current FILE and --desired FILE"),
        "{o:?}"
    );
    // Mixed modes.
    let o = snapcell(&["plan", "hello", "--root", "/"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = snapcell(&["plan", "--current", &f, "--desired", &f, "--root", &f]);
    assert_eq!(
        error(&o),
        format!("cannot plan: --root {f}: not a directory")
    );
    let o = snapcell(&["plan", "--current", "-", "--desired", "-"]);
    assert_eq!(
        error(&o),
        "cannot plan: only one of --current and --desired can be standard input"
    );
    // One from standard input; as JSON.
    let o = snapcell_with_stdin(
        &[
            "plan",
            "--current",
            "-",
            "--desired",
            &f,
            "--root",
            tmp.path().to_str().unwrap(),
            "--json",
        ],
        Some(b""),
    );
    assert!(o.status.success(), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["action"], "mount");
    assert_eq!(v[0]["entry"]["target"], "/b");
    // The help explains both modes.
    let help = stdout(&snapcell(&["plan", "--help"]));
    assert!(help.contains("It works in one of two modes"), "{help}");
    assert!(help.contains("snapcell plan NAME"), "{help}");
    assert!(
        help.contains("snapcell plan --current FILE --desired FILE [--root DIR]"),
        "{help}"
    );
}

#[test]
fn completions_and_manual_pages_come_from_the_command_line() {
    for (shell, needle) in [
        ("bash", "_snapcell()"),
        ("zsh", "#compdef snapcell"),
        ("fish", "complete -c snapcell"),
    ] {
        let o = snapcell(&["completions", shell]);
        assert!(o.status.success(), "{o:?}");
        let text = stdout(&o);
        assert!(text.contains(needle), "{shell}: {text}");
        assert!(text.contains("pack"), "{shell}");
    }
    assert_eq!(snapcell(&["completions", "tcsh"]).status.code(), Some(2));

    let page = stdout(&snapcell(&["man"]));
    assert!(page.contains(".TH snapcell 1"), "{page}");
    assert!(page.contains("snapcell\\-pack"), "{page}");
    let page = stdout(&snapcell(&["man", "profile", "check"]));
    assert!(page.contains(".TH snapcell-profile-check 1"), "{page}");
    assert!(page.contains("x\\-snapd.mode"), "{page}");
    assert!(error(&snapcell(&["man", "nope"])).contains("no such command"));

    let tmp = tempfile::tempdir().unwrap();
    let o = snapcell(&["man", "--dir", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    for page in [
        "snapcell.1",
        "snapcell-pack.1",
        "snapcell-base-build.1",
        "snapcell-plan.1",
    ] {
        assert!(tmp.path().join(page).is_file(), "{page}");
    }
}
