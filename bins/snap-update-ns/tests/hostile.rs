//! Hostile input (issue 4): symlinks planted at each component of a target
//! path (in /tmp, in $SNAP_DATA, in a writable host directory), paths
//! outside the ones snap-update-ns may write to, `..` components, and a
//! bind source that is a symlink to /etc/shadow. Each is refused with a
//! clear error, nothing is mounted, nothing is written where the symlinks
//! point, and the saved current profile is left alone.
//!
//! `..` in a *source* is refused (`cannot split unclean path`); in a mount
//! point it is cleaned lexically before planning, as snapd does, so it can
//! only name another path that is then checked like any other (the last test
//! shows it never goes through a symlink).

use std::path::Path;
use std::process::{Command, Output};

use snapcell_test_support::preserve::{in_namespace, preserve_namespace, write_file};
use snapcell_test_support::{Tree, run_in_world, scratch_dir};

fn update_ns() -> Output {
    Command::new(env!("CARGO_BIN_EXE_snap-update-ns"))
        .arg("app")
        .env_clear()
        .output()
        .expect("run snap-update-ns")
}

fn mount_table() -> Vec<String> {
    let text = in_namespace("app", "cat /proc/self/mountinfo");
    let mut rows: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-").unwrap();
            format!("{} {} {} {}", f[4], f[3], f[sep + 1], f[sep + 2])
        })
        .collect();
    rows.sort();
    rows
}

/// A directory the symlinks point at: anything written through them lands here.
const EVIL: &str = "/var/snap/evil";

/// One hostile case: `setup` runs in the new namespace (as root, with / read-only),
/// `profile` is the desired profile, the error must contain every `expect`.
struct Case {
    name: String,
    setup: String,
    profile: String,
    expect: Vec<String>,
}

fn check(case: &Case, failures: &mut Vec<String>) {
    let _ = std::fs::remove_dir_all(EVIL);
    std::fs::create_dir_all(EVIL).unwrap();
    let _ = std::fs::remove_file("/run/snapd/ns/snap.app.fstab");
    let mut holder = preserve_namespace(
        "app",
        &format!("set -e\nmount -o remount,bind,ro /\n{}", case.setup),
    );
    write_file("/var/lib/snapd/mount/snap.app.fstab", &case.profile);
    let before = mount_table();
    let o = update_ns();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let after = mount_table();
    let evil = in_namespace("app", &format!("ls -A {EVIL}"));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let st = Command::new("umount")
        .args(["-l", "/run/snapd/ns/app.mnt"])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file("/run/snapd/ns/app.mnt").unwrap();

    let mut bad = Vec::new();
    if o.status.code() != Some(1) {
        bad.push(format!("exit {:?}, not 1", o.status.code()));
    }
    for e in &case.expect {
        if !stderr.contains(e.as_str()) {
            bad.push(format!("the error does not say {e:?}"));
        }
    }
    if after != before {
        let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
        bad.push(format!("the mount table changed: {new:?}"));
    }
    if !evil.is_empty() {
        bad.push(format!("something was written through the symlink: {evil}"));
    }
    if Path::new("/run/snapd/ns/snap.app.fstab").exists() {
        bad.push("a current profile was saved".to_owned());
    }
    eprintln!("{}: {}", case.name, stderr.trim());
    if !bad.is_empty() {
        failures.push(format!(
            "{}: {} (stderr: {stderr})",
            case.name,
            bad.join("; ")
        ));
    }
}

/// A symlink to [`EVIL`] at each component below `root` of `root/a/b/c`,
/// the target of a layout (a directory bind) and of a file bind.
fn planted_symlinks(label: &str, root: &str, make_root: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let comps = ["a", "b", "c"];
    for i in 0..comps.len() {
        let dirs = comps[..i].join("/");
        let link = format!("{root}/{}", comps[..=i].join("/"));
        let setup =
            format!("{make_root}\nrm -rf {root}/a\nmkdir -p {root}/{dirs}\nln -s {EVIL} {link}");
        for (kind, line) in [
            (
                "dir",
                format!("/snap/app/x1/data {root}/a/b/c none rbind,rw,x-snapd.origin=layout 0 0\n"),
            ),
            (
                "file",
                format!(
                    "/snap/app/x1/data/hello {root}/a/b/c/f none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
                ),
            ),
            (
                "tmpfs",
                format!("tmpfs {root}/a/b/c tmpfs x-snapd.origin=layout 0 0\n"),
            ),
        ] {
            cases.push(Case {
                name: format!("symlink at {link} ({label}), {kind} target below it"),
                setup: setup.clone(),
                profile: line,
                expect: vec!["cannot".to_owned(), link.clone()],
            });
        }
    }
    cases
}

#[test]
fn hostile_profiles_and_planted_symlinks_are_refused_and_nothing_is_mounted() {
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("app");
    Tree::new()
        .file("meta/snap.yaml", "name: app\nversion: 1\n", 0o644)
        .file("data/hello", "hello\n", 0o644)
        .write_to(&tree)
        .unwrap();
    // A host directory (on the host's file system, made writable in the
    // namespace by a tmpfs that snap-update-ns has no reason to trust).
    let host = scratch
        .path()
        .join("hostile-host")
        .to_str()
        .unwrap()
        .to_owned();
    std::fs::create_dir(&host).unwrap();
    run_in_world(|w| {
        w.mount_snap("app", "x1", &tree).unwrap();
        let mut cases = Vec::new();
        // /tmp (unrestricted, shared with the host in a real namespace).
        cases.extend(planted_symlinks("in /tmp", "/tmp/h", ""));
        // $SNAP_DATA.
        cases.extend(planted_symlinks("in $SNAP_DATA", "/var/snap/app/x1/h", ""));
        // A writable host directory: a tmpfs nobody told snap-update-ns to trust.
        cases.extend(planted_symlinks(
            "in a writable host dir",
            &host,
            &format!("mount -t tmpfs hostile {host}"),
        ));
        // A source that is a symlink to /etc/shadow, directly or through a
        // symlinked directory, for a file bind and a directory bind.
        let shadow = "mkdir -p /var/snap/app/common && ln -sf /etc/shadow /var/snap/app/common/shadow && ln -sfn /etc /var/snap/app/common/etc";
        for (what, line, expect) in [
            (
                "a file bind whose source is a symlink to /etc/shadow",
                "/var/snap/app/common/shadow /snap/app/x1/data/hello none bind,ro,x-snapd.kind=file,x-snapd.origin=layout 0 0\n",
                "/var/snap/app/common/shadow",
            ),
            (
                "a directory bind whose source is a symlink to /etc",
                "/var/snap/app/common/etc /var/snap/app/x1/etc none rbind,ro,x-snapd.origin=layout 0 0\n",
                "/var/snap/app/common/etc",
            ),
            (
                "a file bind of /etc/shadow reached through a symlinked directory",
                "/var/snap/app/common/etc/shadow /snap/app/x1/data/hello none bind,ro,x-snapd.kind=file,x-snapd.origin=layout 0 0\n",
                "/var/snap/app/common/etc",
            ),
            (
                "a content bind whose source is a symlink to /etc/shadow",
                "/var/snap/app/common/shadow /var/snap/app/x1/shadow none bind,ro,x-snapd.kind=file,x-snapd.origin=overname 0 0\n",
                "/var/snap/app/common/shadow",
            ),
        ] {
            cases.push(Case {
                name: what.to_owned(),
                setup: shadow.to_owned(),
                profile: line.to_owned(),
                expect: vec![expect.to_owned()],
            });
        }
        // `..` in a source: never cleaned, refused.
        cases.push(Case {
            name: "a source with .. components".to_owned(),
            setup: "mkdir -p /var/snap/app/common".to_owned(),
            profile: "/snap/app/x1/data/../../../../etc /var/snap/app/x1/etc none rbind,rw,x-snapd.origin=layout 0 0\n".to_owned(),
            expect: vec!["unclean".to_owned()],
        });
        // A path outside the allowed ones: a source that would have to be
        // created in a writable host directory (no mimic for sources of
        // non-layout entries): snap-update-ns would write to the host.
        cases.push(Case {
            name: "a source to be created in a writable host dir".to_owned(),
            setup: format!("mount -t tmpfs hostile {host}"),
            profile: format!(
                "{host}/new /var/snap/app/x1/new none bind,rw,x-snapd.origin=overname 0 0\n"
            ),
            expect: vec!["because it would affect the host in".to_owned()],
        });
        let mut failures = Vec::new();
        for case in &cases {
            check(case, &mut failures);
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    });
}

/// `..` in a mount point is resolved lexically (snapd cleans every
/// directory before planning), never through the file system: with a
/// symlink at `/tmp/h/link`, `/tmp/h/link/../x` is `/tmp/h/x`, and nothing
/// is written where the symlink points.
#[test]
fn dot_dot_in_a_mount_point_is_resolved_lexically_not_through_symlinks() {
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("app");
    Tree::new()
        .file("meta/snap.yaml", "name: app\nversion: 1\n", 0o644)
        .file("data/hello", "hello\n", 0o644)
        .write_to(&tree)
        .unwrap();
    run_in_world(|w| {
        w.mount_snap("app", "x1", &tree).unwrap();
        std::fs::create_dir_all(EVIL).unwrap();
        let mut holder = preserve_namespace(
            "app",
            &format!(
                "set -e\nmount -o remount,bind,ro /\nmkdir -p /tmp/h\nln -sfn {EVIL} /tmp/h/link"
            ),
        );
        write_file(
            "/var/lib/snapd/mount/snap.app.fstab",
            "/snap/app/x1/data /tmp/h/link/../x none rbind,rw,x-snapd.origin=layout 0 0\n",
        );
        let o = update_ns();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(in_namespace("app", "cat /tmp/h/x/hello"), "hello\n");
        assert_eq!(in_namespace("app", &format!("ls -A {EVIL}")), "");
        assert_eq!(
            std::fs::read_to_string("/run/snapd/ns/snap.app.fstab").unwrap(),
            "/snap/app/x1/data /tmp/h/x none rbind,rw,x-snapd.origin=layout 0 0\n"
        );
        holder.kill().unwrap();
        holder.wait().unwrap();
    });
}
