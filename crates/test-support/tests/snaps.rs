//! Squashfs images, loop devices and snap mounts in worlds.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use snapcell_standalone::image::mount_squashfs;
use snapcell_sys::loopdev::{BackingFile, LoopDevice, backing_file_of};
use snapcell_test_support::snapshot::attached_loops;
use snapcell_test_support::{
    MachineSnapshot, Tree, build_squashfs, run_in_world, scratch_dir, try_run_in_world,
};

/// The sample tree written to `tree` in the scratch directory; its path.
fn write_sample_tree(scratch: &tempfile::TempDir) -> PathBuf {
    let tree = scratch.path().join("tree");
    sample_tree().write_to(&tree).unwrap();
    tree
}

fn sample_tree() -> Tree {
    Tree::new()
        .file("meta/snap.yaml", "name: hello\nversion: '1.0'\n", 0o644)
        .file("bin/hello", "#!/bin/sh\necho hello\n", 0o755)
        .symlink("bin/hi", "hello")
        .dir("private", 0o700)
        .file("private/secret", "s3cret", 0o600)
        .file("setuid-tool", "x", 0o4755)
}

fn mode(path: impl AsRef<Path>) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Check a mounted sample tree, from inside a world.
fn check_sample(root: &Path) {
    assert_eq!(
        fs::read_to_string(root.join("meta/snap.yaml")).unwrap(),
        "name: hello\nversion: '1.0'\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("bin/hello")).unwrap(),
        "#!/bin/sh\necho hello\n"
    );
    assert_eq!(mode(root.join("bin/hello")), 0o755);
    assert_eq!(mode(root.join("meta/snap.yaml")), 0o644);
    assert_eq!(
        fs::read_link(root.join("bin/hi")).unwrap(),
        PathBuf::from("hello")
    );
    assert_eq!(
        fs::read_to_string(root.join("bin/hi")).unwrap(),
        "#!/bin/sh\necho hello\n"
    );
    assert_eq!(mode(root.join("private")), 0o700);
    assert_eq!(
        fs::read_to_string(root.join("private/secret")).unwrap(),
        "s3cret"
    );
    assert_eq!(mode(root.join("private/secret")), 0o600);
    assert_eq!(mode(root.join("setuid-tool")), 0o4755);
    let meta = fs::metadata(root.join("bin/hello")).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta)
        ),
        (0, 0)
    );
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&meta), 0);
    // The script runs from the snap.
    let out = Command::new(root.join("bin/hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    // Read-only.
    let err = fs::write(root.join("new"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
}

/// Wait (a little) until `device` is no longer attached to `backing`. The
/// last close releases a device, and a parallel test's leak check may hold
/// ours open for a moment.
fn wait_until_detached(device: &Path, backing: BackingFile) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while backing_file_of(device).unwrap() == Some(backing) {
        assert!(
            Instant::now() < deadline,
            "{} is still attached",
            device.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn libc_erofs() -> i32 {
    rustix::io::Errno::ROFS.raw_os_error()
}

fn mountinfo_line_for(dir: &str) -> String {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .find(|line| line.split(' ').nth(4) == Some(dir))
        .unwrap_or_else(|| panic!("{dir} is not a mount point:\n{text}"))
        .to_owned()
}

#[test]
fn images_are_reproducible_and_unsquashfs_agrees() {
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let a = scratch.path().join("a.snap");
    let b = scratch.path().join("b.snap");
    build_squashfs(&tree, &a).unwrap();
    build_squashfs(&tree, &b).unwrap();
    assert_eq!(
        fs::read(&a).unwrap(),
        fs::read(&b).unwrap(),
        "two packs of one tree differ"
    );

    if !Path::new("/usr/bin/unsquashfs").exists() {
        eprintln!(
            "unsquashfs is not installed (apt-get install squashfs-tools); skipping the listing check"
        );
        return;
    }
    let out = Command::new("unsquashfs")
        .arg("-lln")
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let has = |perm: &str, path: &str| {
        listing
            .lines()
            .any(|l| l.starts_with(perm) && l.contains(" 0/0 ") && l.ends_with(path))
            || listing.lines().any(|l| {
                l.starts_with(perm) && l.contains(" 0/0 ") && l.contains(&format!("{path} -> "))
            })
    };
    for (perm, path) in [
        ("drwxr-xr-x", "squashfs-root/bin"),
        ("-rwxr-xr-x", "squashfs-root/bin/hello"),
        ("lrwxrwxrwx", "squashfs-root/bin/hi"),
        ("-rw-r--r--", "squashfs-root/meta/snap.yaml"),
        ("drwx------", "squashfs-root/private"),
        ("-rw-------", "squashfs-root/private/secret"),
        ("-rwsr-xr-x", "squashfs-root/setuid-tool"),
    ] {
        assert!(has(perm, path), "{perm} {path} not in:\n{listing}");
    }
    assert!(
        listing.contains("1970-01-01 00:00"),
        "time stamps are not 0:\n{listing}"
    );
}

#[test]
fn a_snap_from_a_tree_mounts_and_reads_back() {
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);

    run_in_world(|world| {
        let dir = world.mount_snap("hello", 1, &tree).unwrap();
        assert_eq!(dir, Path::new("/snap/hello/1"));
        check_sample(&dir);
        check_sample(Path::new("/snap/hello/current"));
        assert_eq!(
            fs::read_link("/snap/hello/current").unwrap(),
            PathBuf::from("1")
        );
        assert!(Path::new("/var/lib/snapd/snaps/hello_1.snap").is_file());

        let line = mountinfo_line_for("/snap/hello/1");
        let snap = &world.snaps()[0];
        assert!(line.contains(" - squashfs "), "{line}");
        assert!(
            line.contains(&format!(" {} ", snap.loop_device.display())),
            "{line}"
        );
        assert!(line.contains(" ro,nodev"), "{line}");
        // The image lives on the world's tmpfs over /var/lib/snapd.
        let backing = backing_file_of(&snap.loop_device).unwrap().unwrap();
        let st = rustix::fs::stat("/var/lib/snapd").unwrap();
        assert_eq!(
            backing.device_numbers(),
            (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev))
        );
        let loops = attached_loops();
        let name = snap.loop_device.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            loops.get(name).map(String::as_str),
            Some("/var/lib/snapd/snaps/hello_1.snap")
        );

        // A second revision takes over `current`.
        let dir2 = world.mount_snap("hello", "x2", &tree).unwrap();
        assert_eq!(dir2, Path::new("/snap/hello/x2"));
        assert_eq!(
            fs::read_link("/snap/hello/current").unwrap(),
            PathBuf::from("x2")
        );
        assert_eq!(world.snaps().len(), 2);
        assert_ne!(world.snaps()[0].loop_device, world.snaps()[1].loop_device);
    });
    before.assert_unchanged();
}

#[test]
fn a_snap_from_a_built_image_mounts() {
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let image = scratch.path().join("hello.snap");
    build_squashfs(&tree, &image).unwrap();

    run_in_world(|world| {
        let dir = world.mount_snap("hello", 7, &image).unwrap();
        check_sample(&dir);
        assert_eq!(
            fs::read("/var/lib/snapd/snaps/hello_7.snap").unwrap(),
            fs::read(&image).unwrap(),
            "the image was not copied as is"
        );
    });
    before.assert_unchanged();
}

#[test]
fn mount_snap_errors_name_the_snap() {
    run_in_world(|world| {
        // The world's /tmp is a fresh, empty tmpfs: nothing is there.
        let absent = "/tmp/absent-snap-source";
        let err = world
            .mount_snap("bad/name", 1, absent)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot mount snap bad/name revision 1:"),
            "{err}"
        );
        let err = world
            .mount_snap("hello", 1, absent)
            .unwrap_err()
            .to_string();
        assert!(err.contains(absent), "{err}");
    });
}

#[test]
fn garbage_fails_to_mount_with_the_kernel_s_reason() {
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let image = scratch.path().join("garbage.snap");
    fs::write(&image, vec![0x5a_u8; 64 * 1024]).unwrap();
    run_in_world(|_world| {
        fs::create_dir("/snap/garbage").unwrap();
        let err = mount_squashfs(&image, Path::new("/snap/garbage"))
            .unwrap_err()
            .to_string();
        let prefix = format!(
            "cannot mount squashfs {} at /snap/garbage: fsconfig_create: ",
            image.display()
        );
        assert!(err.starts_with(&prefix), "{err}");
        assert!(err.contains("kernel: "), "no kernel message in {err}");
        // The failed attempt's loop device is gone (once a parallel test's
        // leak check, which may have it open for a moment, lets go).
        let deadline = Instant::now() + Duration::from_secs(5);
        while attached_loops()
            .values()
            .any(|b| *b == image.to_str().unwrap())
        {
            assert!(Instant::now() < deadline, "{:?}", attached_loops());
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    before.assert_unchanged();
}

#[test]
fn a_dropped_unmounted_loop_device_is_detached_at_once() {
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let image = scratch.path().join("hello.snap");
    build_squashfs(&tree, &image).unwrap();
    run_in_world(|_world| {
        let device = LoopDevice::attach_read_only(&image).unwrap();
        let path = device.path().to_owned();
        let backing = device.backing_file().unwrap();
        let meta = fs::metadata(&image).unwrap();
        assert_eq!(backing.inode, std::os::unix::fs::MetadataExt::ino(&meta));
        assert_eq!(backing_file_of(&path).unwrap(), Some(backing));
        // Read-only: the device refuses writes (at write time; the open
        // itself succeeds on this kernel).
        let wrote = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"x"));
        assert!(
            wrote.is_err(),
            "a write to the read-only {} succeeded",
            path.display()
        );
        drop(device);
        wait_until_detached(&path, backing);
    });
    before.assert_unchanged();
}

#[test]
fn loops_left_mounted_are_released_when_the_world_ends() {
    // The body mounts through sys directly (the world does not know about
    // it), pins the mount with a bind mount, and keeps nothing open: only
    // the death of the world's mount namespace can release the device.
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let image = scratch.path().join("hello.snap");
    build_squashfs(&tree, &image).unwrap();
    let note = scratch.path().join("device");

    run_in_world(|_world| {
        fs::create_dir_all("/snap/raw/1").unwrap();
        fs::create_dir_all("/var/snap/pin").unwrap();
        let device = mount_squashfs(&image, Path::new("/snap/raw/1")).unwrap();
        let backing = device.backing_file().unwrap();
        fs::write(
            &note,
            format!(
                "{}\n{}\n{}",
                device.path().display(),
                backing.device,
                backing.inode
            ),
        )
        .unwrap();
        drop(device);
        rustix::mount::mount_bind("/snap/raw/1", "/var/snap/pin").unwrap();
        check_sample(Path::new("/var/snap/pin"));
        let name = fs::read_to_string(&note).unwrap();
        let name = Path::new(name.lines().next().unwrap())
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            attached_loops().get(&name).map(String::as_str),
            Some(image.to_str().unwrap())
        );
    });

    let note = fs::read_to_string(&note).unwrap();
    let mut lines = note.lines();
    let device = PathBuf::from(lines.next().unwrap());
    let backing = BackingFile {
        device: lines.next().unwrap().parse().unwrap(),
        inode: lines.next().unwrap().parse().unwrap(),
    };
    wait_until_detached(&device, backing);
    before.assert_unchanged();
}

#[test]
fn a_failing_body_still_releases_its_snaps() {
    let before = MachineSnapshot::take();
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let err = try_run_in_world(|world| {
        world.mount_snap("hello", 1, &tree).unwrap();
        world.mount_snap("other", 2, &tree).unwrap();
        assert!(world.snaps().is_empty(), "failing with two snaps mounted");
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("failing with two snaps mounted"),
        "{err}"
    );
    assert!(!err.to_string().contains("leaked"), "{err}");
    before.assert_unchanged();
}

#[test]
fn the_leak_check_reports_our_loops_and_ignores_other_tests_loops() {
    let scratch = scratch_dir().unwrap();
    let tree = write_sample_tree(&scratch);
    let image = scratch.path().join("hello.snap");
    build_squashfs(&tree, &image).unwrap();
    let before = MachineSnapshot::take();

    // Ours: a device attached (never mounted) to a file in our scratch dir.
    // Dropping the handle detaches it, also if an assertion fails.
    let device = LoopDevice::attach_read_only(&image).unwrap();
    let leaks = before.leaks_until(&MachineSnapshot::take());
    let name = device.path().file_name().unwrap().to_str().unwrap();
    assert!(
        leaks
            .iter()
            .any(|l| l.contains(name) && l.contains(image.to_str().unwrap())),
        "{leaks:?}"
    );
    drop(device);
    before.assert_unchanged();

    // Someone else's: another thread (another test under `cargo test`) runs a
    // world that holds two devices, one backed by its world's tmpfs and one by
    // its own scratch dir, until we are done looking.
    let ready = scratch.path().join("ready");
    let go = scratch.path().join("go");
    let other = {
        let (ready, go) = (ready.clone(), go.clone());
        std::thread::spawn(move || {
            let scratch = scratch_dir().unwrap();
            let tree = write_sample_tree(&scratch);
            let image = scratch.path().join("other.snap");
            build_squashfs(&tree, &image).unwrap();
            run_in_world(|world| {
                world.mount_snap("other", 1, &tree).unwrap();
                fs::create_dir_all("/snap/raw").unwrap();
                drop(mount_squashfs(&image, Path::new("/snap/raw")).unwrap());
                fs::write(&ready, "").unwrap();
                let deadline = Instant::now() + Duration::from_secs(60);
                while !go.exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() && Instant::now() < deadline && !other.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let now = MachineSnapshot::take();
    // Let the other world end before asserting, so a failure cannot hang it.
    fs::write(&go, "").unwrap();
    other.join().unwrap();
    let changes = before.changes_until(&now);
    assert!(
        changes
            .iter()
            .filter(|c| c.starts_with("loop device"))
            .count()
            >= 2,
        "{changes:?}"
    );
    let leaks = before.leaks_until(&now);
    assert!(
        leaks.is_empty(),
        "another test's devices were taken for ours: {leaks:?}"
    );
    before.assert_unchanged();
}
