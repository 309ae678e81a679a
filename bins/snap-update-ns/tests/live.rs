//! snap-update-ns on a namespace preserved in a throwaway world.

use std::process::{Command, Output};

use snapcell_test_support::preserve::{in_namespace, preserve_namespace, write_file};
use snapcell_test_support::{Tree, run_in_world, scratch_dir};

fn update_ns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snap-update-ns"))
        .args(args)
        .output()
        .expect("run snap-update-ns")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "snap-update-ns failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

const LAYOUT: &str =
    "/snap/demo/x1/share /usr/share/demo-layout none rbind,rw,x-snapd.origin=layout 0 0\n";

#[test]
fn a_layout_under_a_read_only_directory_gets_a_mimic_and_goes_away_again() {
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("demo");
    Tree::new()
        .file("share/hello", "hi\n", 0o644)
        .file("meta/snap.yaml", "name: demo\n", 0o644)
        .write_to(&tree)
        .unwrap();
    run_in_world(|w| {
        w.mount_snap("demo", "x1", &tree).unwrap();
        let host_share: Vec<_> = std::fs::read_dir("/usr/share")
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        // In a snap's namespace / is the read-only base (or snap-confine's
        // trusted tmpfs): make the copy's / read-only as a base would be.
        let mut holder = preserve_namespace("demo", "mount -o remount,bind,ro /");
        write_file("/var/lib/snapd/mount/snap.demo.fstab", LAYOUT);
        ok(&update_ns(&["demo"]));

        assert_eq!(
            in_namespace("demo", "cat /usr/share/demo-layout/hello"),
            "hi\n"
        );
        // /usr/share is a mimic in the namespace: a tmpfs holding the original entries.
        let listing = in_namespace("demo", "ls -A /usr/share");
        for name in &host_share {
            assert!(
                listing.lines().any(|l| l == name.to_str().unwrap()),
                "{name:?} missing from the mimic"
            );
        }
        assert!(
            in_namespace("demo", "grep ' /usr/share ' /proc/self/mountinfo").contains(" - tmpfs ")
        );
        // Nothing reached the world's own /usr/share, and no staging path exists.
        assert!(!std::path::Path::new("/usr/share/demo-layout").exists());
        assert_eq!(in_namespace("demo", "ls -A /tmp"), "");
        let saved = std::fs::read_to_string("/run/snapd/ns/snap.demo.fstab").unwrap();
        let lines: Vec<&str> = saved.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(
                "tmpfs /usr/share tmpfs x-snapd.synthetic,x-snapd.needed-by=/usr/share/demo-layout,mode=0755,uid=0,gid=0 0 0"
            )
        );
        assert_eq!(lines.last().copied(), Some(LAYOUT.trim_end()));

        // Running again changes nothing. (Like snapd, a run of only keeps
        // saves the log in reverse: keeps are walked from the end.)
        let mounts = in_namespace("demo", "cut -d' ' -f5,10 /proc/self/mountinfo");
        ok(&update_ns(&["demo"]));
        assert_eq!(
            in_namespace("demo", "cut -d' ' -f5,10 /proc/self/mountinfo"),
            mounts
        );
        let again = std::fs::read_to_string("/run/snapd/ns/snap.demo.fstab").unwrap();
        assert_eq!(
            again.lines().rev().collect::<Vec<_>>(),
            lines,
            "not the same log, reversed"
        );

        // Dropping the layout tears the mimic down.
        write_file("/var/lib/snapd/mount/snap.demo.fstab", "");
        ok(&update_ns(&["demo"]));
        assert_eq!(
            std::fs::read_to_string("/run/snapd/ns/snap.demo.fstab").unwrap(),
            ""
        );
        assert_eq!(
            in_namespace("demo", "grep -c ' /usr/share' /proc/self/mountinfo || true").trim(),
            "0"
        );
        assert_eq!(
            in_namespace(
                "demo",
                "test -e /usr/share/demo-layout && echo yes || echo no"
            ),
            "no\n"
        );
        holder.kill().unwrap();
        holder.wait().unwrap();
    });
}

#[test]
fn no_preserved_namespace_is_not_an_error() {
    run_in_world(|_w| {
        let o = update_ns(&["demo"]);
        ok(&o);
        assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    });
}

#[test]
fn bad_command_lines_are_refused_with_snapds_words() {
    for (args, msg) in [
        (&[][..], "snap name not provided"),
        (&["a", "b"][..], "too many positional arguments"),
        (&["-x", "demo"][..], "unsupported option"),
        (
            &["Demo"][..],
            "snap name must use lower case letters, digits or dashes",
        ),
        (&["-u", "-1", "demo"][..], "user id cannot be negative"),
    ] {
        let o = update_ns(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("cannot update snap namespace: {msg}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn from_snap_confine_requires_the_lock_to_be_held() {
    run_in_world(|_w| {
        let o = update_ns(&["--from-snap-confine", "demo"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(
                "mount namespace of snap \"demo\" is not locked but --from-snap-confine was used"
            ),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    });
}
