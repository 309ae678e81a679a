//! `snapcell pack` and Debian's `snap pack` (2.57, /usr/bin/snap) read each
//! other's work: a .snap from `snap pack` is listed and its snap.yaml read
//! by snapcell as unsquashfs lists it; one from `snapcell pack`, unpacked,
//! passes `snap pack --check-skeleton`. And pack refuses what `snap pack`
//! refuses, naming the snap.yaml line.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use snapcell_core::snap_yaml::SnapInfo;
use snapcell_standalone::squashfs::{list_image, read_image_file};

const YAML: &str = "name: packed
version: '1.2'
summary: a packed snap
description: one app, one hook, one symlink
apps:
  hello:
    command: bin/hello --greet
  daemon:
    command: bin/hello
    daemon: simple
    stop-command: bin/stop
";

fn snap_tree(dir: &Path) {
    for (path, text, mode) in [
        ("meta/snap.yaml", YAML, 0o644),
        ("meta/hooks/configure", "#!/bin/sh\n", 0o755),
        ("bin/hello", "#!/bin/sh\necho hello\n", 0o755),
        ("bin/stop", "#!/bin/sh\n", 0o755),
        ("share/data.txt", "data\n", 0o600),
    ] {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    std::os::unix::fs::symlink("hello", dir.join("bin/hi")).unwrap();
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn snapcell() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapcell"))
}

fn mode_string(kind: char, mode: u16) -> String {
    let mut s = String::from(kind);
    for (bit, c) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        s.push(if mode & bit != 0 { c } else { '-' });
    }
    s
}

/// `unsquashfs -lls`, as (mode string, path) pairs.
fn unsquashfs_listing(image: &Path) -> BTreeSet<(String, String)> {
    let out = ok(run(Command::new("unsquashfs").arg("-lls").arg(image)));
    out.lines()
        .filter(|l| l.contains("squashfs-root"))
        .map(|l| {
            let mode = l.split_whitespace().next().unwrap().to_owned();
            let path = &l[l.find("squashfs-root").unwrap()..];
            let path = path.split(" -> ").next().unwrap().to_owned();
            (mode, path)
        })
        .collect()
}

fn our_listing(image: &Path) -> BTreeSet<(String, String)> {
    list_image(image)
        .unwrap()
        .into_iter()
        .map(|e| {
            let path = if e.path.is_empty() {
                "squashfs-root".to_owned()
            } else {
                format!("squashfs-root/{}", e.path)
            };
            (mode_string(e.kind, e.mode), path)
        })
        .collect()
}

#[test]
fn a_snap_from_snap_pack_is_read_by_snapcell() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    snap_tree(&src);
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let printed = ok(run(Command::new("snap")
        .arg("pack")
        .arg(&src)
        .arg(&out_dir)));
    let image = out_dir.join("packed_1.2_all.snap");
    assert!(printed.contains("packed_1.2_all.snap"), "{printed}");

    let listing = our_listing(&image);
    assert_eq!(listing, unsquashfs_listing(&image));
    assert!(listing.contains(&("lrwxrwxrwx".to_owned(), "squashfs-root/bin/hi".to_owned())));
    let link = list_image(&image)
        .unwrap()
        .into_iter()
        .find(|e| e.path == "bin/hi")
        .unwrap();
    assert_eq!(link.target.as_deref(), Some("hello"));

    let yaml = read_image_file(&image, "meta/snap.yaml", 1 << 20).unwrap();
    assert_eq!(yaml, YAML.as_bytes());
    let info = SnapInfo::parse(std::str::from_utf8(&yaml).unwrap()).unwrap();
    info.validate().unwrap();
    assert_eq!(info.apps["hello"].command, "bin/hello --greet");

    // Refused: not there, not a file, too large, not squashfs.
    let err = read_image_file(&image, "meta/nope.yaml", 1 << 20).unwrap_err();
    assert!(err.to_string().contains("has no meta/nope.yaml"), "{err}");
    let err = read_image_file(&image, "bin/hi", 1 << 20).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = read_image_file(&image, "meta/snap.yaml", 10).unwrap_err();
    assert!(err.to_string().contains("larger than 10 bytes"), "{err}");
    let err = list_image(&src.join("meta/snap.yaml")).unwrap_err();
    assert!(err.to_string().contains("not a squashfs image"), "{err}");
}

#[test]
fn a_snap_from_snapcell_pack_passes_snaps_skeleton_check() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    snap_tree(&src);
    let image = tmp.path().join("ours.snap");
    let printed = ok(run(snapcell().arg("pack").arg(&src).arg("-o").arg(&image)));
    assert_eq!(printed, format!("built: {}\n", image.display()));
    // No partial file is left behind.
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    let unpacked = tmp.path().join("unpacked");
    ok(run(Command::new("unsquashfs")
        .arg("-d")
        .arg(&unpacked)
        .arg(&image)));
    // 2.57's --check-skeleton logs container problems without failing:
    // there must be none.
    let check = run(Command::new("snap")
        .args(["pack", "--check-skeleton"])
        .arg(&unpacked));
    assert!(check.stderr.is_empty(), "{check:?}");
    ok(check);
    assert_eq!(
        fs::read_to_string(unpacked.join("meta/snap.yaml")).unwrap(),
        YAML
    );
    let mode = fs::metadata(unpacked.join("share/data.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    // The same listing as unsquashfs gives, and the same bytes every time.
    assert_eq!(our_listing(&image), unsquashfs_listing(&image));
    let again = tmp.path().join("again.snap");
    ok(run(snapcell().arg("pack").arg(&src).arg("-o").arg(&again)));
    assert_eq!(fs::read(&image).unwrap(), fs::read(&again).unwrap());

    // Without -o: NAME_VERSION_ARCH.snap in the current directory.
    let cwd = tmp.path().join("cwd");
    fs::create_dir(&cwd).unwrap();
    let printed = ok(run(snapcell().current_dir(&cwd).arg("pack").arg(&src)));
    assert_eq!(printed, "built: packed_1.2_all.snap\n");
    assert!(cwd.join("packed_1.2_all.snap").is_file());

    // Into the directory being packed, twice: the earlier output is left
    // out of the next, as mksquashfs leaves out its destination.
    let inside = src.join("packed.snap");
    for _ in 0..2 {
        ok(run(snapcell().arg("pack").arg(&src).arg("-o").arg(&inside)));
    }
    let listing = list_image(&inside).unwrap();
    assert!(
        !listing.iter().any(|e| e.path.ends_with(".snap")),
        "{listing:?}"
    );
    assert!(
        !listing.iter().any(|e| e.path.ends_with(".partial")),
        "{listing:?}"
    );
}

fn pack_error(src: &Path) -> String {
    let out = run(snapcell()
        .arg("pack")
        .arg(src)
        .arg("-o")
        .arg(src.parent().unwrap().join("x.snap")));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(!src.parent().unwrap().join("x.snap").exists());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pack_refuses_what_snap_pack_refuses() {
    let tmp = tempfile::tempdir().unwrap();

    // A missing command: snapd's message, then the snap.yaml line naming it.
    let src = tmp.path().join("missing");
    snap_tree(&src);
    fs::remove_file(src.join("bin/stop")).unwrap();
    let err = pack_error(&src);
    let yaml = src.join("meta/snap.yaml");
    assert_eq!(
        err,
        format!(
            "cannot pack {:?}: snap is unusable due to missing files\n  {}:11: in snap \"packed\": path \"bin/stop\" does not exist\n",
            src.display().to_string(),
            yaml.display()
        )
    );
    // snap pack agrees (2.57's --check-skeleton only logs it).
    let snapd = run(Command::new("snap")
        .arg("pack")
        .arg(&src)
        .arg(tmp.path().join("snapd-out")));
    assert!(!snapd.status.success());
    assert!(
        String::from_utf8_lossy(&snapd.stderr).contains("snap is unusable due to missing files")
    );

    // A command nobody can run.
    let src = tmp.path().join("modes");
    snap_tree(&src);
    fs::set_permissions(src.join("bin/hello"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = pack_error(&src);
    assert!(
        err.contains("snap is unusable due to bad permissions\n  in snap \"packed\": \"bin/hello\" should be world-readable and executable, and isn't: -rw-r--r--"),
        "{err}"
    );

    // A snap.yaml error names FILE:LINE.
    let src = tmp.path().join("yaml");
    snap_tree(&src);
    fs::write(
        src.join("meta/snap.yaml"),
        YAML.replace("daemon: simple", "daemon: sometimes"),
    )
    .unwrap();
    let err = pack_error(&src);
    assert_eq!(
        err,
        format!(
            "{}:10: invalid definition of application \"daemon\": \"daemon\" field contains invalid value \"sometimes\"\n",
            src.join("meta/snap.yaml").display()
        )
    );

    // Not a directory; a .snap where a directory is expected.
    let err = pack_error(&src.join("meta/snap.yaml"));
    assert!(err.contains("not a directory"), "{err}");
    let image = tmp.path().join("made.snap");
    snap_tree(&tmp.path().join("ok"));
    ok(run(snapcell()
        .arg("pack")
        .arg(tmp.path().join("ok"))
        .arg("-o")
        .arg(&image)));
    let out = run(snapcell().arg("pack").arg(&image));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("it is a snap file (a squashfs image), not a snap directory"),
        "{out:?}"
    );
}
