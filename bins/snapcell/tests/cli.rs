//! End-to-end tests of `snapcell profile check`, `snapcell layout` and
//! `snapcell plan --current/--desired/--root` (no root needed, no mounts).

use std::path::Path;
use std::process::{Command, Output};

fn snapcell(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapcell"))
        .args(args)
        .output()
        .expect("run snapcell")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert a clean failure: exit status 1, the given text on stderr, no panic.
fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}; stderr: {err}",
        o.status
    );
    assert!(
        err.contains(needle),
        "stderr {err:?} does not contain {needle:?}"
    );
    assert!(!err.contains("panicked"), "snapcell panicked: {err}");
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn profile_check_prints_canonical_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "p.fstab",
        "# a comment\n\n  /src\t/media/My\\040Files  none bind,ro\n tmpfs /tmp tmpfs\n/a /b c d 1 2 # trailing\n",
    );
    let o = snapcell(&["profile", "check", &f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "/src /media/My\\040Files none bind,ro 0 0\ntmpfs /tmp tmpfs defaults 0 0\n/a /b c d 1 2\n"
    );
}

#[test]
fn profile_check_reports_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "bad.fstab", "a b c\n\nbad syntax\n");
    let o = snapcell(&["profile", "check", &f]);
    assert_fails_with(
        &o,
        &format!("{f}:3: expected between 3 and 6 fields, found 2"),
    );
    assert_eq!(stdout(&o), "");

    let f = write(tmp.path(), "num.fstab", "a b c d 0 x\n");
    assert_fails_with(
        &snapcell(&["profile", "check", &f]),
        &format!("{f}:1: cannot parse check pass number: \"x\""),
    );
}

#[test]
fn profile_check_rejects_invalid_utf8_huge_lines_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "bin.fstab", b"a b c\n/x \xff\xfe c\n");
    assert_fails_with(
        &snapcell(&["profile", "check", &f]),
        &format!("{f}:2: invalid UTF-8"),
    );

    let huge = format!("{}\n", "x".repeat(1 << 20));
    let f = write(tmp.path(), "huge.fstab", huge);
    assert_fails_with(
        &snapcell(&["profile", "check", &f]),
        "expected between 3 and 6 fields, found 1",
    );

    let missing = tmp.path().join("missing.fstab");
    assert_fails_with(
        &snapcell(&["profile", "check", missing.to_str().unwrap()]),
        "cannot read mount profile",
    );
}

const DEMO_PROFILE: &str = "\
/snap/hello/x1/share/hello /usr/share/hello none rbind,rw,x-snapd.origin=layout 0 0
";

fn demo_dir() -> String {
    format!("{}/../../examples/hello", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn layout_prints_the_profile_of_the_demo_snap() {
    let o = snapcell(&["layout", &demo_dir()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), DEMO_PROFILE);

    let o = snapcell(&[
        "layout",
        &format!("{}/meta/snap.yaml", demo_dir()),
        "--revision",
        "42",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("/snap/hello/42/share/hello /usr/share/hello "),
        "{}",
        stdout(&o)
    );
}

fn layout_yaml(layout: &str) -> String {
    format!("name: demo\nversion: '1'\nlayout:\n{layout}")
}

#[test]
fn layout_rejects_the_whiteboard_layout_with_snapds_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // The sprint's whiteboard example (seed 001): a new top-level directory.
    let f = write(
        tmp.path(),
        "wb.yaml",
        layout_yaml(
            "  /usr:\n    bind: $SNAP/usr\n  /mytmp:\n    type: tmpfs\n    mode: 1777\n  /mylink:\n    symlink: $SNAP/link/target\n",
        ),
    );
    assert_fails_with(
        &snapcell(&["layout", &f]),
        "layout \"/mylink\" defines a new top-level directory \"/mylink\"",
    );
    // Its user and group are root-only now.
    let f = write(
        tmp.path(),
        "user.yaml",
        layout_yaml(
            "  /usr/mytmp:\n    type: tmpfs\n    user: nobody\n    group: nobody\n    mode: 1777\n",
        ),
    );
    assert_fails_with(
        &snapcell(&["layout", &f]),
        "layout \"/usr/mytmp\" uses invalid user \"nobody\"",
    );
}

#[test]
fn layout_rejects_hostile_paths_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (path, needle)) in [
        ("/snap/../etc/x", "/snap/../etc/x"),
        (
            "/proc/x",
            "layout \"/proc/x\" defines a new top-level directory",
        ),
        (
            "/var/lib/snapd/x",
            "layout \"/var/lib/snapd/x\" in an off-limits area",
        ),
        ("foo/bar", "layout \"foo/bar\" is a relative filename"),
        ("\"/usr/a\\nb\"", "/usr/a\\nb"),
    ]
    .into_iter()
    .enumerate()
    {
        let f = write(
            tmp.path(),
            &format!("h{i}.yaml"),
            layout_yaml(&format!("  {path}:\n    type: tmpfs\n")),
        );
        assert_fails_with(&snapcell(&["layout", &f]), needle);
    }
}

#[test]
fn layout_rejects_bad_yaml_and_bad_revisions() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "bad.yaml", "name: [unterminated\n");
    assert_fails_with(&snapcell(&["layout", &f]), "bad.yaml");
    let f = write(
        tmp.path(),
        "plural.yaml",
        "name: demo\nversion: '1'\nlayouts:\n  /usr/x:\n    type: tmpfs\n",
    );
    assert_fails_with(
        &snapcell(&["layout", &f]),
        "typo detected: use singular \"layout\" instead of plural \"layouts\"",
    );
    let f = write(tmp.path(), "bin.yaml", b"name: d\xffemo\n");
    assert_fails_with(&snapcell(&["layout", &f]), "invalid UTF-8");
    assert_fails_with(
        &snapcell(&["layout", &demo_dir(), "--revision", "../../etc"]),
        "revision",
    );
}

#[test]
fn plan_against_a_directory_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for d in [
        "usr/share",
        "snap/hello/x1/usr/share/hello",
        "etc",
        "content",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let current = write(
        tmp.path(),
        "current.fstab",
        "tmpfs / tmpfs x-snapd.origin=rootfs 0 0\n/snap/old /content none bind,ro 0 0\n",
    );
    let desired = write(
        tmp.path(),
        "desired.fstab",
        "/snap/hello/x1/usr/share/hello /usr/share/hello none rbind,rw,x-snapd.origin=layout 0 0\n\
         /snap/new /content none bind,ro 0 0\n",
    );
    let o = snapcell(&[
        "plan",
        "--current",
        &current,
        "--desired",
        &desired,
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "unmount\t/snap/old /content none bind,ro,x-snapd.detach 0 0\n\
         keep\ttmpfs / tmpfs x-snapd.origin=rootfs 0 0\n\
         mount\t/snap/new /content none bind,ro 0 0\n\
         mount\t/snap/hello/x1/usr/share/hello /usr/share/hello none rbind,rw,x-snapd.origin=layout 0 0\n"
    );
}

#[test]
fn plan_orders_by_what_exists_in_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    let empty = write(tmp.path(), "empty.fstab", "");
    let desired = write(
        tmp.path(),
        "desired.fstab",
        "/s/a /usr/lib/a/b none rbind,x-snapd.origin=layout 0 0\n/s/c /usr/lib/c none rbind,x-snapd.origin=layout 0 0\n",
    );
    let plan = |root: &Path| {
        let o = snapcell(&[
            "plan",
            "--current",
            &empty,
            "--desired",
            &desired,
            "--root",
            root.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // Both missing: bucketed under /usr/lib, sorted by dir.
    assert_eq!(plan(&root), vec!["/usr/lib/a/b", "/usr/lib/c"]);
    // /usr/lib/c exists: it is independent and goes first.
    std::fs::create_dir_all(root.join("usr/lib/c")).unwrap();
    assert_eq!(plan(&root), vec!["/usr/lib/c", "/usr/lib/a/b"]);
}

#[test]
fn plan_needs_profiles_or_a_name() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "p.fstab", "a b c\n");
    let o = snapcell(&["plan", "--current", &f]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_fails_with(&snapcell(&["plan", "Bad_Name!"]), "Bad_Name!");
    let missing = tmp.path().join("nope");
    assert_fails_with(
        &snapcell(&[
            "plan",
            "--current",
            &f,
            "--desired",
            missing.to_str().unwrap(),
        ]),
        "cannot read mount profile",
    );
}
