//! The demo and the examples (README command 1): each example packs with
//! `snapcell pack` into an image `snap pack --check-skeleton` accepts, and
//! `snapcell try examples/hello` with the base missing installs base
//! debian-12 from its recipe first (here from a cache holding a small
//! busybox base made the fast way; the real mmdebstrap build runs only with
//! `SNAPCELL_SLOW_TESTS=1`), says how to run the apps, and the app prints
//! what the README shows. Then `run --trace` and `inspect`.
//!
//! snapcell finds its helpers next to itself: the tests copy them from the
//! target directory into a scratch directory (build the workspace first;
//! `cargo nextest run --workspace` does).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{Fixture, built_snapcell, busybox_base, expect_ok as ok};
use snapcell_standalone::base::{BaseSpec, recipe};
use snapcell_test_support::{MachineSnapshot, Tree, build_squashfs, run_in_world};

const EXAMPLES: &[&str] = &["hello", "content-producer", "content-consumer"];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap()
}

#[test]
fn each_example_packs_and_passes_snap_packs_skeleton_check() {
    let tmp = tempfile::tempdir().unwrap();
    for name in EXAMPLES {
        let src = examples_dir().join(name);
        let image = tmp.path().join(format!("{name}.snap"));
        let out = Command::new(env!("CARGO_BIN_EXE_snapcell"))
            .arg("pack")
            .arg(&src)
            .arg("-o")
            .arg(&image)
            .output()
            .unwrap();
        ok(&out, &format!("snapcell pack {name}"));
        let unpacked = tmp.path().join(format!("{name}.d"));
        ok(
            &Command::new("unsquashfs")
                .arg("-d")
                .arg(&unpacked)
                .arg(&image)
                .output()
                .unwrap(),
            "unsquashfs",
        );
        // 2.57's --check-skeleton logs container problems without failing:
        // there must be none.
        let check = Command::new("snap")
            .args(["pack", "--check-skeleton"])
            .arg(&unpacked)
            .output()
            .unwrap();
        assert!(check.stderr.is_empty(), "{name}: {check:?}");
        ok(&check, "snap pack --check-skeleton");
        assert_eq!(
            fs::read(unpacked.join("meta/snap.yaml")).unwrap(),
            fs::read(src.join("meta/snap.yaml")).unwrap()
        );
    }
}

/// snapcell and its helpers in a scratch directory, a home, and a base
/// cache (`$SNAPCELL_CACHE_DIR` of every command): a [`Fixture`] and more.
struct Demo {
    fx: Fixture,
    cache: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let fx = Fixture::new();
        let cache = fx.dir.path().join("cache");
        fs::create_dir(&cache).unwrap();
        Demo {
            fx: fx.with_env("SNAPCELL_CACHE_DIR", &cache),
            cache,
        }
    }

    /// A small debian-12 in the cache, under the name its recipe's build
    /// would have: busybox and the mount points of a base.
    fn cache_small_base(&self) {
        let spec = recipe("debian-12").unwrap().spec();
        let src = self.dir.path().join("base.d");
        small_base(&spec).write_to(&src).unwrap();
        build_squashfs(&src, &spec.cache_path(&self.cache)).unwrap();
    }

    /// snapcell as root with its real home, /root.
    fn snapcell_as_root(&self, args: &[&str]) -> Output {
        self.command(&self.snapcell, args)
            .env("HOME", "/root")
            .output()
            .unwrap()
    }
}

impl std::ops::Deref for Demo {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.fx
    }
}

const APPLETS: &[&str] = &["sh", "cat", "ls", "echo", "env", "grep", "sort", "id"];

/// busybox, the mount points of a base and `/usr/share` (the layout's
/// parent), and (our snap-exec is static; were it not) its libraries.
fn small_base(spec: &BaseSpec) -> Tree {
    let dirs = snapcell_standalone::base::BASE_DIRS
        .iter()
        .copied()
        .chain(["usr/share"]);
    busybox_base(&spec.snap_yaml(), dirs, APPLETS)
}

/// What `/snap/bin/hello` prints, on any base, under the minimal Landlock
/// domain snap-confine gives a standalone snap today or a domain that
/// denies /root (both are accepted: another change gives standalone snaps
/// a domain built from their grants).
fn check_hello_output(out: &str, home: &Path) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "hello from hello 1.0 (revision x1), inside its sandbox",
            "SNAP=/snap/hello/x1",
            "SNAP_DATA=/var/snap/hello/x1",
            &format!("HOME={}/snap/hello/x1", home.display()),
            "command chain: /snap/hello/x1/bin/chain ran first",
            "layout: /usr/share/hello/greeting (bound from $SNAP/share/hello) says: Hello through a layout.",
        ],
        "{out}"
    );
    assert_eq!(
        lines[6], "write to $SNAP: denied (the snap is a read-only image)",
        "{out}"
    );
    assert!(
        lines[7] == "list /root: denied (Landlock)"
            || lines[7] == "list /root: ALLOWED (no Landlock rule for it)",
        "{out}"
    );
    assert_eq!(lines.len(), 8, "{out}");
}

/// `run --trace`'s table: a header, every group, the exec row, and no
/// SNAPD_DEBUG line passed on.
fn check_trace(trace: &str, namespace: &str) {
    eprintln!("$ snapcell run --trace hello\n{trace}");
    assert!(
        trace.starts_with(&format!("trace of hello: namespace {namespace}\n")),
        "{trace}"
    );
    for group in ["validate", "lock", "join or build", "confinement", "exec"] {
        assert!(
            trace.contains(&format!("\n  {group} ")),
            "no {group} in {trace}"
        );
    }
    assert!(!trace.contains("DEBUG:"), "{trace}");
    assert!(
        trace.contains("snap-exec until it executed /snap/hello/x"),
        "{trace}"
    );
}

/// `inspect` of the running demo: the tree with the layout's mount and its
/// profile entry, no pending change, then one after the desired profile
/// changed; `--json` says the same.
fn check_inspect(demo: &Demo) {
    let report = ok(&demo.snapcell(&["inspect", "hello"]), "inspect");
    eprintln!("$ snapcell inspect hello\n{report}");
    assert!(
        report.starts_with("snap hello (revision x1)\nnamespace: /run/snapd/ns/hello.mnt (live)\n"),
        "{report}"
    );
    let layout = report
        .lines()
        .find(|l| l.trim_start().starts_with("/usr/share/hello "))
        .unwrap_or_else(|| panic!("no /usr/share/hello in {report}"));
    assert!(
        layout.ends_with(
            "[/snap/hello/x1/share/hello /usr/share/hello none rbind,rw,x-snapd.origin=layout 0 0]"
        ),
        "{layout}"
    );
    assert!(
        report.contains("\npending changes: none (the namespace is up to date)\n"),
        "{report}"
    );
    // Each app's Landlock domain, whatever it is made from today.
    for tag in ["snap.hello.hello", "snap.hello.env"] {
        assert!(
            report.contains(&format!("    Landlock domain of {tag}: from ")),
            "{report}"
        );
    }
    // From an AppArmor profile for the tag: its rules, as snap-confine
    // translates them.
    let profile = "/var/lib/snapd/apparmor/profiles/snap.hello.env";
    if !Path::new(profile).exists() {
        fs::create_dir_all("/var/lib/snapd/apparmor/profiles").unwrap();
        fs::write(
            profile,
            "profile \"snap.hello.env\" {\n  /snap/hello/x1/** mrix,\n  /var/snap/hello/x1/** rwk,\n}\n",
        )
        .unwrap();
        let report = ok(&demo.snapcell(&["inspect", "hello"]), "inspect");
        eprintln!("{report}");
        assert!(
            report.contains(&format!(
                "    Landlock domain of snap.hello.env: from the AppArmor profile {profile}\n"
            )),
            "{report}"
        );
        assert!(report.contains(" beneath /snap/hello/x1\n"), "{report}");
        assert!(report.contains(" beneath /var/snap/hello/x1\n"), "{report}");
        fs::remove_file(profile).unwrap();
    }

    let desired = "/var/lib/snapd/mount/snap.hello.fstab";
    let saved = fs::read_to_string(desired).unwrap();
    fs::write(
        desired,
        format!("{saved}tmpfs /usr/share/hello-extra tmpfs x-snapd.origin=layout 0 0\n"),
    )
    .unwrap();
    let report = ok(&demo.snapcell(&["inspect", "hello"]), "inspect");
    assert!(
        report.contains("pending changes (as snap-update-ns would make them):\n"),
        "{report}"
    );
    assert!(
        report.contains("  mount\ttmpfs /usr/share/hello-extra tmpfs x-snapd.origin=layout 0 0\n"),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(
        &demo.snapcell(&["inspect", "hello", "--json"]),
        "--json",
    ))
    .unwrap();
    fs::write(desired, saved).unwrap();
    assert_eq!(json["namespace"]["live"], true);
    let mounts = json["namespace"]["mounts"].as_array().unwrap();
    let m = mounts
        .iter()
        .find(|m| m["mount_point"] == "/usr/share/hello")
        .unwrap();
    assert_eq!(m["profile_entry"]["target"], "/usr/share/hello");
    assert_eq!(json["pending"][0]["action"], "mount");
    assert_eq!(json["confinement"]["seccomp"][0]["format"], "bin2");
}

#[test]
fn try_examples_hello_installs_its_base_from_the_recipe_and_runs_the_app() {
    let demo = Demo::new();
    demo.cache_small_base();
    let hello = examples_dir().join("hello");
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        let h = hello.to_str().unwrap();
        let started = Instant::now();
        let out = demo.snapcell(&["try", h]);
        let stdout = ok(&out, "snapcell try");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout, format!("hello 1.0 mounted from {h}\n"));
        assert!(
            stderr.starts_with(
                "snap \"hello\" needs base \"debian-12\": installing it from the cache\n\
                 installed base \"debian-12\" in "
            ),
            "{stderr}"
        );
        assert!(
            stderr.ends_with(
                "Run its apps with:\n  /snap/bin/hello       (or: snapcell run hello)\n  \
                 /snap/bin/hello.env   (or: snapcell run hello.env)\n"
            ),
            "{stderr}"
        );
        eprintln!("try with the base from the cache: {:?}", started.elapsed());
        let list = ok(&demo.snapcell(&["list"]), "list");
        assert!(list.contains("\ndebian-12 "), "{list}");

        // Before any app ran: no namespace, the desired profile and the
        // confinement all the same.
        let report = ok(&demo.snapcell(&["inspect", "hello"]), "inspect");
        assert!(
            report.starts_with("snap hello (revision x1)\nnamespace: no live namespace: "),
            "{report}"
        );
        assert!(
            report.contains("desired profile:\n  /snap/hello/x1/share/hello /usr/share/hello none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "{report}"
        );
        assert!(
            report.contains("    snap.hello.hello: /var/lib/snapd/seccomp/bpf/snap.hello.hello.bin2 (bin2; deny "),
            "{report}"
        );

        let out = demo.cmd(Path::new("/snap/bin/hello"), &[]);
        check_hello_output(&ok(&out, "/snap/bin/hello"), &demo.home);
        check_inspect(&demo);
        let env = ok(&demo.snapcell(&["run", "hello.env"]), "hello.env");
        assert!(env.contains("SNAP_NAME=hello\n"), "{env}");

        // --trace: the app's output as it is, then the stages on stderr.
        let out = demo.snapcell(&["run", "--trace", "hello"]);
        check_hello_output(&ok(&out, "run --trace"), &demo.home);
        let trace = String::from_utf8_lossy(&out.stderr);
        check_trace(&trace, "joined (preserved)");
        assert!(!trace.contains("stage unshare"), "{trace}");

        // A second try is a refresh, and needs no base.
        let out = demo.snapcell(&["try", h]);
        ok(&out, "snapcell try again");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("Run its apps with:"),
            "{out:?}"
        );
        // The refresh discarded the namespace: this launch builds one.
        let out = demo.snapcell(&["run", "--trace", "hello"]);
        ok(&out, "run --trace after the refresh");
        let trace = String::from_utf8_lossy(&out.stderr);
        check_trace(&trace, "built");
        for stage in ["unshare", "mount profile", "preserve"] {
            assert!(trace.contains(&format!(" {stage} ")), "{trace}");
        }

        ok(&demo.snapcell(&["remove", "hello"]), "remove hello");
        ok(&demo.snapcell(&["remove", "debian-12"]), "remove debian-12");
    });
    before.assert_unchanged();
}

/// The demo on a real base: base debian-12 built by mmdebstrap from the
/// archive (minutes; needs the network) into a scratch cache, then the app.
#[test]
fn the_demo_with_a_real_debian_base_when_slow_tests_are_asked_for() {
    if std::env::var_os("SNAPCELL_SLOW_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set SNAPCELL_SLOW_TESTS=1 to build base debian-12 from the archive");
        return;
    }
    let demo = Demo::new();
    let hello = examples_dir().join("hello");
    run_in_world(|_w| {
        let h = hello.to_str().unwrap();
        let started = Instant::now();
        let out = demo.snapcell(&["try", h]);
        let stdout = ok(&out, "snapcell try");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!(
            "$ snapcell try {h}   ({:?})\n{stderr}{stdout}",
            started.elapsed()
        );
        assert!(stderr.contains("built base \"debian-12\" in "), "{stderr}");
        let out = demo.cmd(Path::new("/snap/bin/hello"), &[]);
        let printed = ok(&out, "/snap/bin/hello");
        eprintln!("$ /snap/bin/hello\n{printed}");
        check_hello_output(&printed, &demo.home);
        ok(&demo.snapcell(&["remove", "hello"]), "remove hello");
        // A second time: the base comes from the cache, in seconds.
        ok(&demo.snapcell(&["remove", "debian-12"]), "remove debian-12");
        let started = Instant::now();
        let out = demo.snapcell(&["try", h]);
        ok(&out, "snapcell try (cached base)");
        eprintln!(
            "$ snapcell try {h}   ({:?}, the base cached)\n{}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        );
        ok(&demo.snapcell(&["remove", "hello"]), "remove hello");
        ok(&demo.snapcell(&["remove", "debian-12"]), "remove debian-12");
    });
}

/// Users' data as snapd keeps it: a refresh copies each user's
/// `~/snap/NAME/OLD` to `NEW` (/root, /home/*; owners kept), `run` points
/// `~/snap/NAME/current` at the revision it runs, a revert uses the older
/// revision's data as it was, and remove takes every user's data. /home
/// and /root are tmpfs in the world.
#[test]
fn refresh_copies_each_users_data_and_remove_takes_it() {
    let demo = Demo::new();
    demo.cache_small_base();
    let hello = examples_dir().join("hello");
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        for dir in ["/home", "/root"] {
            rustix::mount::mount(
                "tmpfs",
                dir,
                "tmpfs",
                rustix::mount::MountFlags::empty(),
                None,
            )
            .unwrap();
        }
        let alice = Path::new("/home/alice");
        fs::create_dir(alice).unwrap();
        let h = hello.to_str().unwrap();
        ok(&demo.snapcell_as_root(&["try", h]), "try");
        ok(&demo.snapcell_as_root(&["run", "hello.env"]), "run");
        let root_data = Path::new("/root/snap/hello");
        assert!(root_data.join("x1").is_dir());
        assert!(root_data.join("common").is_dir());
        assert_eq!(
            fs::read_link(root_data.join("current")).unwrap(),
            Path::new("x1")
        );
        fs::write(root_data.join("x1/mine"), "root's").unwrap();
        // alice ran it too (as herself: her files are hers).
        let a1 = alice.join("snap/hello/x1");
        fs::create_dir_all(&a1).unwrap();
        fs::write(a1.join("notes"), "alice's").unwrap();
        for p in [
            alice.join("snap"),
            alice.join("snap/hello"),
            a1.clone(),
            a1.join("notes"),
        ] {
            rustix::fs::chown(
                &p,
                Some(rustix::fs::Uid::from_raw(1000)),
                Some(rustix::fs::Gid::from_raw(1000)),
            )
            .unwrap();
        }

        // Refresh: x2 beside x1, each user's data copied.
        ok(&demo.snapcell_as_root(&["try", h]), "try again");
        assert_eq!(
            fs::read_to_string(root_data.join("x2/mine")).unwrap(),
            "root's"
        );
        let a2 = alice.join("snap/hello/x2/notes");
        assert_eq!(fs::read_to_string(&a2).unwrap(), "alice's");
        assert_eq!(fs::metadata(&a2).unwrap().uid(), 1000);
        assert_eq!(fs::metadata(a2.parent().unwrap()).unwrap().uid(), 1000);
        // run moves root's current to x2; alice's stays until she runs it.
        ok(&demo.snapcell_as_root(&["run", "hello.env"]), "run x2");
        assert_eq!(
            fs::read_link(root_data.join("current")).unwrap(),
            Path::new("x2")
        );
        fs::write(root_data.join("x2/mine"), "changed in x2").unwrap();

        // Revert: x1's data as it was; run points current back.
        ok(&demo.snapcell_as_root(&["revert", "hello"]), "revert");
        let env = ok(&demo.snapcell_as_root(&["run", "hello.env"]), "run x1");
        assert!(
            env.contains("SNAP_USER_DATA=/root/snap/hello/x1\n"),
            "{env}"
        );
        assert_eq!(
            fs::read_link(root_data.join("current")).unwrap(),
            Path::new("x1")
        );
        assert_eq!(
            fs::read_to_string(root_data.join("x1/mine")).unwrap(),
            "root's"
        );

        // Remove: every user's data of the snap, not their homes.
        ok(&demo.snapcell_as_root(&["remove", "hello"]), "remove");
        assert!(!root_data.exists());
        assert!(!alice.join("snap/hello").exists());
        assert!(alice.join("snap").is_dir());
        ok(
            &demo.snapcell_as_root(&["remove", "debian-12"]),
            "remove base",
        );
    });
    before.assert_unchanged();
}

#[test]
fn inspect_and_trace_have_help_and_inspect_refuses_what_is_not_installed() {
    let help = |args: &[&str]| ok(&built_snapcell(args), "--help");
    let text = help(&["inspect", "--help"]);
    assert!(
        text.contains("Examples:\n  snapcell inspect hello\n"),
        "{text}"
    );
    let text = help(&["run", "--help"]);
    assert!(text.contains("--trace"), "{text}");
    assert!(text.contains("snapcell run --trace hello"), "{text}");

    let demo = Demo::new();
    run_in_world(|_w| {
        let out = demo.snapcell(&["inspect", "nosuch"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "error: cannot inspect snap \"nosuch\": it is not installed (no /var/lib/snapd/mount/snap.nosuch.fstab)\n"
        );
        // Nothing was created to find that out.
        assert!(!Path::new("/var/lib/snapd/standalone").exists());
        let out = demo.snapcell(&["inspect", "Bad_Name"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .starts_with("error: cannot inspect \"Bad_Name\": "),
            "{out:?}"
        );
    });
}

/// Hooks only present in meta/hooks (snap.yaml declares none) run at
/// install and refresh, as snapd's implicit hooks do; a file there that is
/// not a hook type does not.
#[test]
fn implicit_hooks_run_at_install_refresh_and_remove() {
    let demo = Demo::new();
    demo.cache_small_base();
    let src = demo.dir.path().join("hooked");
    let hook = "#!/bin/sh\necho ${0##*/}-$SNAP_REVISION >> $SNAP_COMMON/hooks\n";
    let mut tree = Tree::new()
        .file(
            "meta/snap.yaml",
            "name: hooked\nversion: '1'\nbase: debian-12\napps:\n  hooked:\n    command: bin/x\n",
            0o644,
        )
        .file("bin/x", "#!/bin/sh\n", 0o755);
    for h in [
        "install",
        "configure",
        "pre-refresh",
        "post-refresh",
        "upgrade",
    ] {
        tree = tree.file(format!("meta/hooks/{h}"), hook, 0o755);
    }
    // A failing remove hook: said, and ignored, as snapd ignores it.
    tree = tree.file(
        "meta/hooks/remove",
        "#!/bin/sh\necho \"remove hook ran at $SNAP_REVISION\" >&2\nexit 3\n",
        0o755,
    );
    tree.write_to(&src).unwrap();
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        let s = src.to_str().unwrap();
        ok(&demo.snapcell(&["try", s]), "try");
        let hooks = Path::new("/var/snap/hooked/common/hooks");
        assert_eq!(
            fs::read_to_string(hooks).unwrap(),
            "install-x1\nconfigure-x1\n"
        );
        for tag in [
            "install",
            "configure",
            "pre-refresh",
            "post-refresh",
            "remove",
        ] {
            let bin2 = format!("/var/lib/snapd/seccomp/bpf/snap.hooked.hook.{tag}.bin2");
            assert!(Path::new(&bin2).is_file(), "{bin2}");
        }
        assert!(!Path::new("/var/lib/snapd/seccomp/bpf/snap.hooked.hook.upgrade.bin2").exists());
        ok(&demo.snapcell(&["try", s]), "try again");
        assert_eq!(
            fs::read_to_string(hooks).unwrap(),
            "install-x1\nconfigure-x1\npre-refresh-x1\npost-refresh-x2\nconfigure-x2\n"
        );
        let out = demo.snapcell(&["remove", "hooked"]);
        ok(&out, "remove");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("warning: snap \"hooked\": run hook \"remove\"")
                && err.contains("remove hook ran at x2"),
            "{err}"
        );
        assert!(!Path::new("/snap/hooked").exists());
        ok(&demo.snapcell(&["remove", "debian-12"]), "remove base");
    });
    before.assert_unchanged();
}
