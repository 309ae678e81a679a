//! Mount profiles applied by snap-confine at construction: the seed's
//! whiteboard kinds where snapd allows them, and top-level paths, which
//! need no mimic because the root is a tmpfs (spec §6.5).

mod common;

use std::fs;

use common::*;
use snapcell_test_support::World;

fn write_profile(text: &str) {
    fs::create_dir_all("/var/lib/snapd/mount").unwrap();
    fs::write("/var/lib/snapd/mount/snap.hello.fstab", text).unwrap();
}

#[test]
fn a_profile_naming_top_level_paths_works_without_a_mimic() {
    let fx = Fixture::new();
    fx.run_installed("core", |_world: &mut World| {
        write_profile(
            "tmpfs /mytmp tmpfs x-snapd.mode=01777,x-snapd.origin=layout 0 0\n\
             none /mylink none x-snapd.kind=symlink,x-snapd.symlink=/snap/hello/x1/bin,x-snapd.origin=layout 0 0\n",
        );
        let out = run_app(
            &fx.confine,
            "core",
            "grep ' /mytmp ' /proc/self/mountinfo; readlink /mylink; touch /mytmp/x && echo writable",
            false,
        );
        let stdout = expect_success(&out);
        assert!(
            stdout.contains(" / /mytmp ") && stdout.contains(" - tmpfs "),
            "{stdout}"
        );
        assert!(stdout.contains("/snap/hello/x1/bin\n"), "{stdout}");
        assert!(stdout.contains("writable\n"), "{stdout}");
        let saved = fs::read_to_string("/run/snapd/ns/snap.hello.fstab").unwrap();
        assert!(
            !saved.contains("x-snapd.synthetic"),
            "a top-level path needed a mimic:\n{saved}"
        );
        assert!(
            saved.starts_with("tmpfs / tmpfs x-snapd.origin=rootfs 0 0\n"),
            "{saved}"
        );
    });
}

#[test]
fn the_whiteboard_kinds_work_where_snapd_allows_them() {
    let fx = Fixture::with_base(
        base_tree(&[])
            .dir("opt/vendor", 0o755)
            .dir("usr/share/doc", 0o755),
    );
    fx.run_installed("core", |_world: &mut World| {
        // A bind over a directory under /usr, a 1777 tmpfs and a symlink under
        // /usr/share and /opt, none of which exist in the read-only base.
        write_profile(
            "/snap/hello/x1/bin /usr/hello-bin none rbind,rw,x-snapd.origin=layout 0 0\n\
             none /opt/hello-link none x-snapd.kind=symlink,x-snapd.symlink=/snap/hello/x1/bin,x-snapd.origin=layout 0 0\n\
             tmpfs /usr/share/hello-tmp tmpfs x-snapd.mode=01777,x-snapd.origin=layout 0 0\n",
        );
        let out = run_app(
            &fx.confine,
            "core",
            "ls /usr/hello-bin; readlink /opt/hello-link; grep -c ' /usr/share/hello-tmp ' /proc/self/mountinfo",
            false,
        );
        let stdout = expect_success(&out);
        assert!(stdout.contains("/snap/hello/x1/bin\n"), "{stdout}");
        assert!(stdout.trim_end().ends_with('1'), "{stdout}");
        // The base's own entries are still there under the mimics.
        let out = run_app(
            &fx.confine,
            "core",
            "ls -d /opt/vendor /usr/share/doc",
            false,
        );
        assert_eq!(expect_success(&out), "/opt/vendor\n/usr/share/doc\n");
        let saved = fs::read_to_string("/run/snapd/ns/snap.hello.fstab").unwrap();
        // /usr, /opt and /usr/share are on the read-only base: each got a mimic.
        for dir in ["/usr", "/opt", "/usr/share"] {
            assert!(
                saved
                    .lines()
                    .any(|l| l.starts_with(&format!("tmpfs {dir} tmpfs x-snapd.synthetic,"))),
                "no mimic of {dir}:\n{saved}"
            );
        }
        // Warm start: the namespace is reused, the layouts still there.
        let out = run_app(&fx.confine, "core", "readlink /opt/hello-link", false);
        assert_eq!(expect_success(&out), "/snap/hello/x1/bin\n");
    });
}
