//! snap-discard-ns (spec §6.8), run as a binary in throwaway worlds.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rustix::process::{Signal, WaitOptions, kill_process, waitpid};
use snapcell_confine::helper::{open_own_mount_ns, unshare_preservable_mount_ns};
use snapcell_sys::fork::fork_child;
use snapcell_test_support::{MachineSnapshot, run_in_world, scratch_dir};

fn binary() -> (tempfile::TempDir, PathBuf) {
    let dir = scratch_dir().unwrap();
    let bin = dir.path().join("snap-discard-ns");
    fs::copy(env!("CARGO_BIN_EXE_snap-discard-ns"), &bin).unwrap();
    (dir, bin)
}

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).env_clear().output().unwrap()
}

fn listing() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/run/snapd/ns")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mounts() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Preserve a fresh mount namespace at `/run/snapd/ns/NAME.mnt`, as
/// snap-confine's helper does; the process holding it is killed afterwards.
fn preserve_a_namespace(name: &str) {
    snapcell_confine::host::init_ns_dir().unwrap();
    let (rd, wr) = rustix::pipe::pipe().unwrap();
    let host = open_own_mount_ns().unwrap();
    let child = fork_child(|| {
        unshare_preservable_mount_ns(&host).unwrap();
        rustix::io::write(&wr, b"x").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(60));
        0
    })
    .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(rustix::io::read(&rd, &mut buf).unwrap(), 1);
    let target = format!("/run/snapd/ns/{name}.mnt");
    fs::write(&target, "").unwrap();
    rustix::mount::mount_bind(
        format!("/proc/{}/ns/mnt", child.as_raw_nonzero()).as_str(),
        target.as_str(),
    )
    .unwrap();
    kill_process(child, Signal::KILL).unwrap();
    waitpid(Some(child), WaitOptions::empty()).unwrap();
    assert!(snapcell_sys::ns::is_preserved(Path::new(&target)));
    let fd = rustix::fs::open(
        target.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    assert!(snapcell_sys::nsid::mount_ns_id(fd.as_fd()).is_ok());
}

#[test]
fn wrong_argument_counts_print_the_usage() {
    let (_dir, bin) = binary();
    for args in [&[][..], &["a", "b", "c"][..]] {
        let out = run(&bin, args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("usage:"),
            "{args:?}"
        );
    }
    let out = run(&bin, &["--bogus", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument --bogus"));
}

#[test]
fn an_invalid_name_is_refused() {
    let (_dir, bin) = binary();
    run_in_world(|_world| {
        let out = run(&bin, &["../etc"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("snap name"));
    });
}

#[test]
fn missing_files_and_a_missing_directory_are_fine() {
    let before = MachineSnapshot::take();
    let (_dir, bin) = binary();
    run_in_world(|_world| {
        assert!(!Path::new("/run/snapd/ns").exists());
        let out = run(&bin, &["hello"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::create_dir_all("/run/snapd/ns").unwrap();
        let out = run(&bin, &["hello"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    before.assert_unchanged();
}

#[test]
fn it_removes_exactly_the_snaps_files_and_unmounts_its_namespaces() {
    let before = MachineSnapshot::take();
    let (_dir, bin) = binary();
    run_in_world(|_world| {
        preserve_a_namespace("hello");
        preserve_a_namespace("hello.1000");
        preserve_a_namespace("other");
        let ns = Path::new("/run/snapd/ns");
        for name in [
            "snap.hello.fstab",
            "snap.hello.info",
            "snap.hello.1000.user-fstab",
            "snap.hello_x.fstab",
            "hello_x.mnt",
            "snap.hellox.info",
            "snap.hello.fstab.old",
        ] {
            fs::write(ns.join(name), "x").unwrap();
        }
        // Not regular files: left alone even though the names match.
        fs::create_dir(ns.join("hello.2000.mnt")).unwrap();
        symlink("/etc/passwd", ns.join("snap.hello.1001.user-fstab")).unwrap();

        let out = run(&bin, &["hello"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            listing(),
            [
                "hello.2000.mnt",
                "hello_x.mnt",
                "other.mnt",
                "snap.hello.1001.user-fstab",
                "snap.hello.fstab.old",
                "snap.hello_x.fstab",
                "snap.hellox.info",
            ]
        );
        let table = mounts();
        assert!(!table.contains("/run/snapd/ns/hello.mnt"), "{table}");
        assert!(!table.contains("/run/snapd/ns/hello.1000.mnt"), "{table}");
        assert!(table.contains("/run/snapd/ns/other.mnt"), "{table}");
        assert!(Path::new("/etc/passwd").exists());

        // --from-snap-confine: only with the snap's lock held.
        let out = run(&bin, &["--from-snap-confine", "other"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unexpectedly managed to acquire"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(mounts().contains("/run/snapd/ns/other.mnt"));
        let lock = snapcell_sys::snaplock::lock_snap("other").unwrap();
        let out = run(&bin, &["--from-snap-confine", "other"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lock.unlock();
        assert!(!mounts().contains("/run/snapd/ns/other.mnt"));
        assert!(!listing().contains(&"other.mnt".to_owned()));
    });
    before.assert_unchanged();
}
