//! End-to-end tests of the standalone front end in throwaway worlds:
//! `install` (and refresh), `run` and `/snap/bin`, `list`, `info`,
//! `revert` and `remove` of a snap on a base installed the same way, and
//! malformed `.snap` files refused with nothing changed.
//!
//! snapcell finds its helpers next to itself, so the tests copy snapcell,
//! snap-confine, snap-exec, snap-seccomp and snap-discard-ns from the
//! target directory into a scratch directory: build the workspace first
//! (`cargo nextest run --workspace` does).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{Fixture, base_snap_yaml, built_snapcell, busybox_base, expect_error, expect_ok};
use snapcell_test_support::snapshot::attached_loops;
use snapcell_test_support::tree::TEST_BASE_DIRS as BASE_DIRS;
use snapcell_test_support::{MachineSnapshot, Tree, run_in_world};

const APP: &str = "sc-hello";
const BASE: &str = "sc-base";

const APPLETS: &[&str] = &["sh", "cat", "ls", "echo", "readlink", "id", "env"];

/// A base: busybox, snapd's mount points (and the layout's), and the C
/// library our (dynamically linked) snap-exec needs.
fn base_tree() -> Tree {
    let dirs = BASE_DIRS
        .iter()
        .copied()
        .chain(["usr/share/sc-hello", "etc/alternatives"]);
    busybox_base(&base_snap_yaml(BASE), dirs, APPLETS)
        // snap-exec's --command=shell runs /bin/bash.
        .file("bin/bash", "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755)
}

/// A hook that records that it ran, in $SNAP_COMMON/hooks; it fails where
/// the snap's version is "bad".
const HOOK: &str =
    "#!/bin/sh\necho ${0##*/}-$SNAP_REVISION >> $SNAP_COMMON/hooks\n[ \"$SNAP_VERSION\" != bad ]\n";

fn app_tree(version: &str) -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            format!(
                "name: {APP}\nversion: '{version}'\nbase: {BASE}\n\
                 apps:\n  {APP}:\n    command: bin/hello\n  env:\n    command: bin/env\n\
                 hooks:\n  install:\n  configure:\n\
                 layout:\n  /usr/share/sc-hello:\n    bind: $SNAP/share\n"
            ),
            0o644,
        )
        .file(
            "bin/hello",
            "#!/bin/sh\necho SNAP=$SNAP\necho HOME=$HOME\ncat /usr/share/sc-hello/greeting\n\
             echo \"$@\"\necho written-by-$SNAP_REVISION > $SNAP_DATA/mark\ncat $SNAP_DATA/mark\n",
            0o755,
        )
        .file("bin/env", "#!/bin/sh\nenv\n", 0o755)
        .file("meta/hooks/install", HOOK, 0o755)
        .file("meta/hooks/configure", HOOK, 0o755)
        .file(
            "share/greeting",
            format!("hello from version {version}\n"),
            0o644,
        )
}

/// The fixture with the base and two versions of the app.
fn fixture() -> Fixture {
    let fx = Fixture::new();
    fx.image("base", &base_tree());
    fx.image("hello1", &app_tree("1.0"));
    fx.image("hello2", &app_tree("2.0"));
    fx
}

fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Every path under the directories a command may change.
fn files() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            out.insert(e.path());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for d in ["/snap", "/var/snap", "/var/lib/snapd", "/run/snapd"] {
        walk(Path::new(d), &mut out);
    }
    out
}

fn our_loops() -> Vec<String> {
    attached_loops()
        .into_values()
        .filter(|b| b.contains(&format!("/{APP}_x")) || b.contains(&format!("/{BASE}_x")))
        .collect()
}

#[test]
fn install_run_refresh_revert_and_remove_leave_nothing_behind() {
    let fx = fixture();
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        let hello1 = &fx.path("hello1");
        let untouched = files();
        // The base first, and the error says so.
        expect_error(
            &fx.snapcell(&["install", "--dangerous", hello1]),
            &format!("requires base \"{BASE}\", which is not installed"),
        );
        expect_error(&fx.snapcell(&["install", hello1]), "--dangerous");
        assert_eq!(
            files()
                .difference(&untouched)
                .filter(|p| !p.starts_with("/var/lib/snapd/standalone"))
                .count(),
            0
        );
        let base = fx.path("base");
        assert_eq!(
            fx.ok(&["install", "--dangerous", &base]),
            format!("{BASE} 1 installed\n")
        );
        assert_eq!(
            fx.ok(&["install", "--dangerous", hello1]),
            format!("{APP} 1.0 installed\n")
        );

        let hooks = format!("/var/snap/{APP}/common/hooks");
        assert_eq!(
            fs::read_to_string(&hooks).unwrap(),
            "install-x1\nconfigure-x1\n"
        );
        // What install made.
        let mounts = mountinfo();
        assert!(mounts.contains(&format!(" /snap/{APP}/x1 ")), "{mounts}");
        assert_eq!(
            fs::read_link(format!("/snap/{APP}/current")).unwrap(),
            Path::new("x1")
        );
        assert!(Path::new(&format!("/var/snap/{APP}/x1")).is_dir());
        assert!(Path::new(&format!("/var/snap/{APP}/common")).is_dir());
        assert!(Path::new(&format!("/var/lib/snapd/snaps/{APP}_x1.snap")).is_file());
        let fstab = fs::read_to_string(format!("/var/lib/snapd/mount/snap.{APP}.fstab")).unwrap();
        assert!(
            fstab.contains(&format!(
                "/snap/{APP}/x1/share /usr/share/{APP} none rbind,rw,x-snapd.origin=layout"
            )),
            "{fstab}"
        );
        for tag in [format!("snap.{APP}.{APP}"), format!("snap.{APP}.env")] {
            let bin2 = format!("/var/lib/snapd/seccomp/bpf/{tag}.bin2");
            assert!(fs::metadata(&bin2).unwrap().len() > 0, "{bin2}");
        }
        assert_eq!(
            fs::read_link(format!("/snap/bin/{APP}")).unwrap(),
            fx.snapcell
        );
        assert_eq!(
            fs::read_link(format!("/snap/bin/{APP}.env")).unwrap(),
            fx.snapcell
        );

        // Run through /snap/bin: the app sees its $SNAP, its layout, its data.
        let out = expect_ok(
            &fx.cmd(Path::new(&format!("/snap/bin/{APP}")), &["one", "two"]),
            "/snap/bin/sc-hello",
        );
        let home = fx.home.display();
        assert_eq!(
            out,
            format!(
                "SNAP=/snap/{APP}/x1\nHOME={home}/snap/{APP}/x1\nhello from version 1.0\n\
                 one two\nwritten-by-x1\n"
            )
        );
        assert!(fx.home.join(format!("snap/{APP}/x1")).is_dir());
        assert!(fx.home.join(format!("snap/{APP}/common")).is_dir());
        let env = fx.ok(&["run", &format!("{APP}.env")]);
        for var in [
            format!("SNAP_NAME={APP}\n"),
            "SNAP_REVISION=x1\n".to_owned(),
            format!("SNAP_DATA=/var/snap/{APP}/x1\n"),
            format!("SNAP_USER_COMMON={home}/snap/{APP}/common\n"),
        ] {
            assert!(env.contains(&var), "no {var:?} in\n{env}");
        }

        // list and info.
        let list = fx.ok(&["list"]);
        assert_eq!(
            list,
            format!(
                "Name      Version  Rev  Tracking  Publisher  Notes\n\
                 {BASE}   1        x1   -         -          base\n\
                 {APP}  1.0      x1   -         -          -\n"
            )
        );
        let info = fx.ok(&["info", APP]);
        assert!(
            info.contains(&format!("commands:\n  - {APP}.env\n  - {APP}\n")),
            "{info}"
        );
        assert!(info.contains("installed: 1.0 (x1)"), "{info}");

        // Refresh: x2 beside x1 (still mounted), data copied, namespace rebuilt.
        let hello2 = fx.path("hello2");
        assert_eq!(
            fx.ok(&["install", "--dangerous", &hello2]),
            format!("{APP} 2.0 refreshed\n")
        );
        let mounts = mountinfo();
        assert!(mounts.contains(&format!(" /snap/{APP}/x1 ")), "{mounts}");
        assert!(mounts.contains(&format!(" /snap/{APP}/x2 ")), "{mounts}");
        assert_eq!(
            fs::read_to_string(&hooks).unwrap(),
            "install-x1\nconfigure-x1\nconfigure-x2\n"
        );
        assert_eq!(
            fs::read_to_string(format!("/var/snap/{APP}/x2/mark")).unwrap(),
            "written-by-x1\n"
        );
        let out = fx.ok(&["run", APP]);
        assert!(out.starts_with(&format!("SNAP=/snap/{APP}/x2\n")), "{out}");
        assert!(out.contains("hello from version 2.0\n"), "{out}");
        let json: serde_json::Value =
            serde_json::from_str(&fx.ok(&["list", "--all", "--json"])).unwrap();
        let revs: Vec<(String, bool)> = json
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == APP)
            .map(|r| {
                (
                    r["revision"].as_str().unwrap().to_owned(),
                    r["current"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(revs, [("x1".to_owned(), false), ("x2".to_owned(), true)]);

        // Revert: back to x1 and its own data.
        assert_eq!(fx.ok(&["revert", APP]), format!("{APP} reverted to 1.0\n"));
        let out = fx.ok(&["run", APP]);
        assert!(out.starts_with(&format!("SNAP=/snap/{APP}/x1\n")), "{out}");
        expect_error(&fx.snapcell(&["revert", APP]), "no revision to revert to");

        // Remove: the base only after the app; then nothing is left.
        expect_error(
            &fx.snapcell(&["remove", BASE]),
            &format!("it is the base of {APP}"),
        );
        let m: Vec<String> = mountinfo()
            .lines()
            .filter(|l| l.contains("/snap"))
            .map(String::from)
            .collect();
        let o = fx.snapcell(&["remove", APP]);
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stderr),
            m.join("\n")
        );
        assert_eq!(
            fx.ok(&["remove", "--purge", BASE]),
            format!("{BASE} removed\n")
        );
        expect_error(&fx.snapcell(&["remove", APP]), "is not installed");
        let mounts = mountinfo();
        assert!(!mounts.contains(&format!(" /snap/{APP}")), "{mounts}");
        assert!(!mounts.contains(&format!(" /snap/{BASE}")), "{mounts}");
        assert!(!mounts.contains("/run/snapd/ns/"), "{mounts}");
        assert_eq!(our_loops(), Vec::<String>::new());
        assert!(!fx.home.join(format!("snap/{APP}")).exists());
        let left: Vec<PathBuf> = files()
            .difference(&untouched)
            .filter(|p| !p.starts_with("/var/lib/snapd/standalone"))
            .filter(|p| !p.starts_with("/run/snapd"))
            .filter(|p| {
                // Directories (empty, or holding empty ones) snapd keeps too:
                // /snap/bin, /var/lib/snapd/{snaps,mount,seccomp/bpf}.
                !fs::symlink_metadata(p).unwrap().is_dir()
            })
            .cloned()
            .collect();
        assert_eq!(left, Vec::<PathBuf>::new());
        for gone in [
            format!("/snap/{APP}"),
            format!("/snap/{BASE}"),
            format!("/var/snap/{APP}"),
            format!("/var/snap/{BASE}"),
        ] {
            assert!(fs::symlink_metadata(&gone).is_err(), "{gone} is left");
        }
        let state = fs::read_to_string("/var/lib/snapd/standalone/state.json").unwrap();
        let state: serde_json::Value = serde_json::from_str(&state).unwrap();
        assert_eq!(state["snaps"], serde_json::json!({}));
        assert_eq!(fx.ok(&["list"]), "");
    });
    before.assert_unchanged();
}

#[test]
fn malformed_snaps_are_refused_and_nothing_changes() {
    let fx = fixture();
    let d = fx.dir.path();
    // Not squashfs; truncated; a sparse 1 GiB file.
    fs::write(d.join("text.snap"), "name: hello\n").unwrap();
    let good = fs::read(fx.path("hello1")).unwrap();
    let used = u64::from_le_bytes(good[40..48].try_into().unwrap()) as usize;
    fs::write(d.join("truncated.snap"), &good[..used / 2]).unwrap();
    let big = fs::File::create(d.join("big.snap")).unwrap();
    big.set_len(1 << 30).unwrap();
    // No meta/snap.yaml; a hostile name; a snap.yaml that is a symlink out
    // of the image; a snap.yaml that is not YAML.
    fx.image("nometa", &Tree::new().file("bin/x", "x", 0o755));
    fx.image(
        "hostile",
        &Tree::new().file("meta/snap.yaml", "name: ../../etc\nversion: 1\n", 0o644),
    );
    fx.image(
        "symlink",
        &Tree::new()
            .dir("meta", 0o755)
            .symlink("meta/snap.yaml", "../../../../etc/os-release"),
    );
    fx.image(
        "garbage",
        &Tree::new().file("meta/snap.yaml", "name: [unclosed\n", 0o644),
    );
    let cases: &[(&str, &str)] = &[
        ("text", "not a squashfs image"),
        ("truncated", "truncated squashfs image"),
        ("big", "not a squashfs image"),
        ("nometa", "no meta/snap.yaml in the snap"),
        ("hostile", "meta/snap.yaml: invalid snap name"),
        ("symlink", "meta/snap.yaml is a symlink"),
        ("garbage", "meta/snap.yaml"),
    ];
    let scratch = d.to_str().unwrap().to_owned();
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        let installed = files();
        for (name, says) in cases {
            let path = fx.path(name);
            expect_error(&fx.snapcell(&["install", "--dangerous", &path]), says);
            assert_eq!(files(), installed, "{name} changed files");
            assert!(!Path::new("/var/lib/snapd/standalone/state.json").exists());
            let loops: Vec<String> = attached_loops()
                .into_values()
                .filter(|b| b.starts_with(&scratch))
                .collect();
            assert_eq!(loops, Vec::<String>::new(), "{name}");
        }
    });
    before.assert_unchanged();
}

#[test]
fn try_mounts_a_directory_in_place_and_shell_opens_the_sandbox() {
    let fx = fixture();
    let dir = fx.dir.path().join("hello-src");
    app_tree("3.0").write_to(&dir).unwrap();
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.install("base");
        // A failing install hook: nothing of the snap stays.
        let bad = fx.dir.path().join("bad-src");
        app_tree("bad").write_to(&bad).unwrap();
        let untouched = files();
        expect_error(
            &fx.snapcell(&["try", bad.to_str().unwrap()]),
            "run hook \"install\" of snap \"sc-hello\"",
        );
        // snap-confine's locks and directories stay, as with snapd.
        let left: Vec<PathBuf> = files()
            .difference(&untouched)
            .filter(|p| !p.starts_with("/run/snapd"))
            .filter(|p| !fs::symlink_metadata(p).unwrap().is_dir())
            .cloned()
            .collect();
        assert_eq!(left, Vec::<PathBuf>::new());
        assert!(!Path::new(&format!("/snap/{APP}")).exists());
        assert!(!Path::new(&format!("/var/snap/{APP}")).exists());
        assert!(!mountinfo().contains(&format!(" /snap/{APP}")));
        assert_eq!(
            fx.ok(&["try", dir.to_str().unwrap()]),
            format!("{APP} 3.0 mounted from {}\n", dir.display())
        );
        let mounts = mountinfo();
        assert!(
            mounts.contains(&format!(" /snap/{APP}/x1 ro,nodev")),
            "{mounts}"
        );
        assert_eq!(
            fs::read_link(format!("/var/lib/snapd/snaps/{APP}_x1.snap")).unwrap(),
            dir
        );
        let list = fx.ok(&["list"]);
        assert!(
            list.contains(&format!("{APP}  3.0      x1   -         -          try\n")),
            "{list}"
        );

        let mut child = fx
            .command(&fx.snapcell, &["run", "--shell", APP])
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"echo in-shell $SNAP_INSTANCE_NAME; cat /usr/share/sc-hello/greeting\n")
            .unwrap();
        let out = expect_ok(&child.wait_with_output().unwrap(), "run --shell");
        assert_eq!(out, format!("in-shell {APP}\nhello from version 3.0\n"));

        fx.ok(&["remove", APP]);
        fx.ok(&["remove", BASE]);
        assert!(!mountinfo().contains(&format!(" /snap/{APP}")));
        assert!(
            dir.join("meta/snap.yaml").is_file(),
            "try removed its source"
        );
    });
    before.assert_unchanged();
}

#[test]
fn every_new_command_has_help_with_an_example() {
    for cmd in ["install", "try", "run", "list", "info", "remove", "revert"] {
        let out = built_snapcell(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd}: {text}");
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
        assert!(
            text.contains(&format!("snapcell {cmd}")) || cmd == "run",
            "{text}"
        );
    }
    let out = built_snapcell(&["install"]);
    assert!(!out.status.success());
}
