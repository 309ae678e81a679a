//! `snapcell base build`: argument checks and the cache (quick), and a real
//! build with mmdebstrap from the distribution's archive, which takes about
//! a minute and needs the network: run only with SNAPCELL_SLOW_TESTS=1.

use std::path::Path;
use std::process::{Command, Output};

use snapcell_core::snap_yaml::{SnapInfo, SnapType};
use snapcell_standalone::base::{BASE_DIRS, BaseSpec};
use snapcell_standalone::squashfs::{list_image, read_image_file};
use snapcell_test_support::{run_in_world, scratch_dir};

fn snapcell(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapcell"))
        .args(args)
        .env_remove("SNAPCELL_CACHE_DIR")
        .output()
        .unwrap()
}

fn error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    String::from_utf8_lossy(&o.stderr).trim_end().to_owned()
}

#[test]
fn arguments_are_checked_before_anything_is_built() {
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    for (args, msg) in [
        (
            &["base", "build", "Bad_Name", "--cache-dir", c][..],
            "cannot build base \"Bad_Name\": snap name must use lower case letters, digits or dashes",
        ),
        (
            &["base", "build", "bb", "--suite", "../x", "--cache-dir", c][..],
            "cannot build base \"bb\": invalid suite \"../x\"",
        ),
        (
            &[
                "base",
                "build",
                "bb",
                "--include",
                "ok,--evil",
                "--cache-dir",
                c,
            ][..],
            "cannot build base \"bb\": invalid package name \"--evil\"",
        ),
    ] {
        assert_eq!(error(&snapcell(args)), msg, "{args:?}");
    }
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[test]
fn a_cached_base_is_reused() {
    let cache = tempfile::tempdir().unwrap();
    let spec = BaseSpec::new(
        "tiny-base",
        "bookworm",
        &["busybox".to_owned(), "ca-certificates".to_owned()],
    );
    let cached = spec.cache_path(cache.path());
    std::fs::write(&cached, "pretend").unwrap();
    let out = cache.path().join("copy.snap");
    let o = snapcell(&[
        "base",
        "build",
        "tiny-base",
        // The order and repetition of packages do not matter.
        "--include",
        "ca-certificates,busybox,busybox",
        "--cache-dir",
        cache.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("cached: {}\ncopied: {}\n", cached.display(), out.display())
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"pretend");
}

/// The real thing: mmdebstrap (installed if missing) in a throwaway world
/// (it mounts /proc and /sys in the tree it builds), a .snap in a scratch
/// cache, reused the second time.
#[test]
fn builds_a_real_base_with_mmdebstrap_when_slow_tests_are_asked_for() {
    if std::env::var_os("SNAPCELL_SLOW_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set SNAPCELL_SLOW_TESTS=1 to build a base from the archive");
        return;
    }
    let cache = scratch_dir().unwrap();
    let cache_dir = cache.path().to_owned();
    run_in_world(|_| {
        let c = cache_dir.to_str().unwrap();
        let o = snapcell(&[
            "base",
            "build",
            "slow-base",
            "--include",
            "busybox",
            "--cache-dir",
            c,
        ]);
        assert!(o.status.success(), "{o:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("built: "),
            "{o:?}"
        );
        let o = snapcell(&[
            "base",
            "build",
            "slow-base",
            "--include",
            "busybox",
            "--cache-dir",
            c,
        ]);
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("cached: "),
            "{o:?}"
        );
    });
    let spec = BaseSpec::new("slow-base", "bookworm", &["busybox".to_owned()]);
    let image = spec.cache_path(&cache_dir);
    check_base(&image);
    // Only the .snap is left in the cache.
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 1);
}

fn check_base(image: &Path) {
    let yaml = read_image_file(image, "meta/snap.yaml", 1 << 20).unwrap();
    let info = SnapInfo::parse(std::str::from_utf8(&yaml).unwrap()).unwrap();
    info.validate().unwrap();
    assert_eq!(info.snap_type, SnapType::Base);
    let entries = list_image(image).unwrap();
    let has = |p: &str| entries.iter().any(|e| e.path == p);
    // Merged /usr: lib/modules is usr/lib/modules behind lib -> usr/lib.
    for dir in BASE_DIRS {
        assert!(has(dir) || has(&format!("usr/{dir}")), "{dir}");
    }
    for file in ["usr/bin/busybox", "usr/bin/dash", "etc/os-release"] {
        assert!(has(file), "{file}");
    }
    assert!(!entries.iter().any(|e| e.path.starts_with("dev/")));
}
