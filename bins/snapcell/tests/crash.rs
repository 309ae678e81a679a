//! Crash safety of the standalone front end (issue 10, "State"): a crash at
//! any step of install, refresh, revert or remove leaves the machine as
//! before the command or as after it, never between, once the next command
//! has run; and that next command works.
//!
//! For each command, in a throwaway world: the machine is put in the state
//! before the command; one run with `SNAPCELL_FAULT=none` lists the
//! command's fault points (and gives the state after it); then, for each
//! point, the machine is put back in the state before, the command is run
//! with `SNAPCELL_FAULT=POINT` (it kills itself with SIGKILL there), and
//! `snapcell list` (the next command, which recovers the interrupted change
//! under the state lock) must leave exactly the state before (an install,
//! refresh or revert is undone, unless it was cut short after its final
//! save) or after (a removal is finished). What is compared: the mounts
//! under `/snap`, the loop devices backed by snap files, every file, link
//! and directory under `/snap`, `/var/snap`, `/var/lib/snapd` and
//! `~/snap` (contents included), and the state. The command is then run
//! again without a fault where it was undone, and must give the state
//! after; at the end the app runs, everything is removed and nothing is
//! left (mounts, loop devices, files).
//!
//! Fault points exist only in a snapcell built with the `fault-injection`
//! feature. When this test is not itself built with it, it builds such a
//! snapcell with cargo into `target/fault-injection` first, so that the
//! snapcell other tests use (and the one that ships) never has it. The
//! helpers (snap-confine, snap-exec, snap-seccomp, snap-discard-ns) come
//! from the workspace's target directory: build the workspace first.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use common::{Fixture, HELPERS, base_snap_yaml, busybox_base};
use snapcell_sys::loopdev::backing_file_of;
use snapcell_test_support::snapshot::attached_loops;
use snapcell_test_support::tree::TEST_BASE_DIRS as BASE_DIRS;
use snapcell_test_support::{MachineSnapshot, Tree, run_in_world};

/// The app's name: `sc-crash-` and the test's own word, so that tests
/// running at the same time share no cgroup (`snap.NAME.*`), which is the
/// machine's, not the world's. `APP` in a command stands for it.
static APP_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn app() -> &'static str {
    APP_NAME.get().expect("run_case names the app")
}

const APP: &str = "APP";
const BASE: &str = "sc-crash-base";

/// A snapcell that honours `SNAPCELL_FAULT`.
fn faulty_snapcell() -> PathBuf {
    if cfg!(feature = "fault-injection") {
        return PathBuf::from(env!("CARGO_BIN_EXE_snapcell"));
    }
    snapcell_test_support::feature_build::build_with_fault_injection(
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO"),
        "snapcell",
    )
}

/// A base: busybox, snapd's mount points (and the layout's), and the C
/// library our (dynamically linked) snap-exec needs.
fn base_tree() -> Tree {
    let dirs = BASE_DIRS.iter().copied().chain(["usr/share/sc-crash"]);
    busybox_base(&base_snap_yaml(BASE), dirs, &["sh", "cat", "echo"])
}

/// A hook that records that it ran in the revision's data (undone with it).
const HOOK: &str = "#!/bin/sh\necho ${0##*/}-$SNAP_REVISION >> $SNAP_DATA/hooks\n";

/// The app: two apps, a layout, install, configure and post-refresh hooks.
fn app_tree(version: &str) -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            format!(
                "name: {app}\nversion: '{version}'\nbase: {BASE}\n\
                 apps:\n  {app}:\n    command: bin/hello\n  other:\n    command: bin/hello\n\
                 hooks:\n  install:\n  configure:\n  post-refresh:\n\
                 plugs:\n  network:\n  camera:\n\
                 layout:\n  /usr/share/sc-crash:\n    bind: $SNAP/share\n",
                app = app()
            ),
            0o644,
        )
        .file(
            "bin/hello",
            "#!/bin/sh\necho SNAP=$SNAP\ncat /usr/share/sc-crash/greeting\ncat $SNAP_DATA/hooks\n",
            0o755,
        )
        .file("meta/hooks/install", HOOK, 0o755)
        .file("meta/hooks/configure", HOOK, 0o755)
        .file("meta/hooks/post-refresh", HOOK, 0o755)
        .file("share/greeting", format!("version {version}\n"), 0o644)
}

/// The fixture with a snapcell that honours `SNAPCELL_FAULT`, the base
/// and two versions of the app.
fn fixture() -> Fixture {
    let fx = Fixture::with(&faulty_snapcell(), HELPERS);
    fx.image("base", &base_tree());
    fx.image("app1", &app_tree("1.0"));
    fx.image("app2", &app_tree("2.0"));
    fx
}

/// Run the fixture's snapcell, killed at the fault point `fault`.
fn run(fx: &Fixture, args: &[&str], fault: Option<&str>) -> Output {
    let mut cmd = fx.command(&fx.snapcell, args);
    if let Some(point) = fault {
        cmd.env("SNAPCELL_FAULT", point);
    }
    cmd.output().unwrap()
}

/// What a command may change, normalised (no ids, loop numbers or times).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Machine {
    mounts: Vec<String>,
    loops: Vec<String>,
    files: BTreeMap<PathBuf, String>,
    state: serde_json::Value,
}

impl Machine {
    fn take(home: &Path) -> Machine {
        let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let dir = f[4];
                if !dir.starts_with("/snap/") {
                    return None;
                }
                let sep = f.iter().position(|x| *x == "-")?;
                let source = if f[sep + 2].starts_with("/dev/loop") {
                    "/dev/loop"
                } else {
                    f[sep + 2]
                };
                Some(format!("{dir} {} {} {source} {}", f[3], f[5], f[sep + 1]))
            })
            .collect();
        mounts.sort();
        let mut loops: Vec<String> = our_loops().into_values().collect();
        loops.sort();
        let mut files = BTreeMap::new();
        for d in ["/snap", "/var/snap", "/var/lib/snapd"] {
            walk(Path::new(d), &mut files);
        }
        walk(&home.join("snap"), &mut files);
        files.remove(Path::new("/var/lib/snapd/standalone/state.json"));
        files.remove(Path::new("/var/lib/snapd/standalone/state.lock"));
        let state = fs::read("/var/lib/snapd/standalone/state.json")
            .map(|b| serde_json::from_slice(&b).expect("the state is JSON"))
            .unwrap_or(serde_json::Value::Null);
        Machine {
            mounts,
            loops,
            files,
            state,
        }
    }

    /// What differs from `other`, for a failure message.
    fn diff(&self, other: &Machine) -> String {
        let mut out = String::new();
        if self.mounts != other.mounts {
            out += &format!("mounts: {:#?}\n  vs {:#?}\n", self.mounts, other.mounts);
        }
        if self.loops != other.loops {
            out += &format!("loops: {:?} vs {:?}\n", self.loops, other.loops);
        }
        for (p, d) in &self.files {
            match other.files.get(p) {
                Some(o) if o == d => {}
                o => out += &format!("{}: {d} vs {o:?}\n", p.display()),
            }
        }
        for (p, o) in &other.files {
            if !self.files.contains_key(p) {
                out += &format!("{}: missing vs {o}\n", p.display());
            }
        }
        if self.state != other.state {
            out += &format!("state: {:#}\n  vs {:#}\n", self.state, other.state);
        }
        out
    }
}

/// The loop devices (and their backing files) backed by a file of this
/// world's `/var/lib/snapd` (a tmpfs of its own: the machine's other loop
/// devices, other tests' included, are not ours), deleted files included.
fn our_loops() -> BTreeMap<String, String> {
    let st = rustix::fs::stat("/var/lib/snapd").unwrap();
    let ours = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
    attached_loops()
        .into_iter()
        .filter(|(dev, _)| {
            backing_file_of(&Path::new("/dev").join(dev))
                .ok()
                .flatten()
                .is_some_and(|b| b.device_numbers() == ours)
        })
        .collect()
}

/// Every entry under `dir` with its kind and contents, not descending into
/// the mounted revisions `/snap/NAME/REV` (their mounts are compared).
fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let what = if meta.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            format!("dir {mode:o}")
        } else {
            let mut h = DefaultHasher::new();
            fs::read(&path).unwrap().hash(&mut h);
            format!("file {mode:o} {} {:x}", meta.len(), h.finish())
        };
        out.insert(path.clone(), what);
        let mounted_revision = path.parent().and_then(Path::parent) == Some(Path::new("/snap"));
        if meta.is_dir() && !mounted_revision {
            walk(&path, out);
        }
    }
}

/// The fault points a run passed, in order.
fn points(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("snapcell-fault-point: "))
        .map(String::from)
        .collect()
}

/// One command under test: how to reach the state before it, the command,
/// and whether a crash in it is undone (install, refresh, revert) or
/// finished (remove).
/// `@NAME` in an argument stands for the fixture's image `NAME`.
struct Case {
    /// The test's word in the app's name.
    name: &'static str,
    setup: &'static [&'static [&'static str]],
    command: &'static [&'static str],
    undone: bool,
    /// Points a run must pass (a check that the list is complete).
    expected: &'static [&'static str],
    /// Crash the command at this point only, then its recovery at each of
    /// the recovery's points.
    crash_recovery_after: Option<&'static str>,
}

fn expect_killed(out: &Output, point: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point}: not killed ({}): {err}",
        out.status
    );
    assert!(err.contains(&format!("killed at {point}")), "{err}");
}

/// `args` with `@NAME` replaced by the path of the fixture's image `NAME`
/// and `%NAME` by its source directory.
fn resolve(fx: &Fixture, args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| {
            if let Some(name) = a.strip_prefix('@') {
                fx.path(name)
            } else if *a == APP {
                app().to_owned()
            } else if let Some(plug) = a.strip_prefix("APP:") {
                format!("{}:{plug}", app())
            } else if let Some(name) = a.strip_prefix('%') {
                let dir = fx.dir.path().join(format!("{name}.d"));
                dir.to_str().unwrap().to_owned()
            } else {
                (*a).to_owned()
            }
        })
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Back to "the base installed, the app not", whatever state the app is in.
fn reset(fx: &Fixture) {
    let out = run(fx, &["remove", app()], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || err.contains("is not installed"),
        "remove: {err}"
    );
}

fn run_case(case: Case) {
    APP_NAME.set(format!("sc-crash-{}", case.name)).unwrap();
    let fx = fixture();
    let src = fx.dir.path().join("app1.d");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
    let machine = MachineSnapshot::take();
    run_in_world(|_w| {
        let start = Instant::now();
        let untouched = Machine::take(&fx.home);
        fx.ok(&["install", "--dangerous", &fx.path("base")]);
        let setup_args: Vec<Vec<String>> = case.setup.iter().map(|a| resolve(&fx, a)).collect();
        let command_args = resolve(&fx, case.command);
        let command = strs(&command_args);
        let command = command.as_slice();
        let setup = || {
            reset(&fx);
            for args in &setup_args {
                fx.ok(&strs(args));
            }
        };
        // Once, so that what a first run leaves for good (snap-confine's
        // directories, as snapd's) is there before each run.
        setup();
        fx.ok(command);
        reset(&fx);
        let with_base = Machine::take(&fx.home);
        setup();
        let before = Machine::take(&fx.home);
        let clean = run(&fx, command, Some("none"));
        assert!(
            clean.status.success(),
            "{:?}: {}",
            command,
            String::from_utf8_lossy(&clean.stderr)
        );
        let after = Machine::take(&fx.home);
        assert_ne!(before, after);
        let all = points(&clean);
        for p in case.expected {
            assert!(all.iter().any(|a| a == p), "no fault point {p} in {all:?}");
        }
        eprintln!(
            "{:?}: {} fault points ({:.1?} so far): {all:?}",
            command,
            all.len(),
            start.elapsed()
        );
        let begin = all.iter().position(|p| p == "begin");
        assert!(begin.is_some(), "no begin in {all:?}");
        // Crash the command at `point`; with `in_recovery`, crash the
        // recovery (the next command) at that point too.
        let crash = |point: &str, in_recovery: Option<&str>| -> Output {
            setup();
            assert_eq!(
                Machine::take(&fx.home).diff(&before),
                "",
                "setup for {point}"
            );
            let out = run(&fx, command, Some(point));
            expect_killed(&out, point);
            let recovery = run(&fx, &["list"], in_recovery.or(Some("none")));
            if let Some(r) = in_recovery {
                expect_killed(&recovery, r);
            }
            recovery
        };
        let check = |point: &str, in_recovery: Option<&str>| {
            crash(point, in_recovery);
            // The next command recovers.
            fx.ok(&["list"]);
            let now = Machine::take(&fx.home);
            // Before `begin` nothing is recorded, nor done; after `commit`
            // everything is.
            let recorded = all.iter().position(|p| p == point) >= begin;
            let undone = !recorded || (case.undone && point != "commit");
            let expected = if undone { &before } else { &after };
            assert_eq!(
                now.diff(expected),
                "",
                "after a crash at {point} of {command:?} (and in its recovery at {in_recovery:?}) \
                 and a recovery, the machine is not as {} the command",
                if undone { "before" } else { "after" }
            );
            if undone {
                // And the command works the second time.
                fx.ok(command);
                assert_eq!(Machine::take(&fx.home).diff(&after), "", "{point}, again");
            }
        };
        match case.crash_recovery_after {
            None => {
                for point in &all {
                    check(point, None);
                }
            }
            Some(point) => {
                let in_recovery = points(&crash(point, None));
                eprintln!("recovery points after {point}: {in_recovery:?}");
                assert!(!in_recovery.is_empty());
                for r in &in_recovery {
                    check(point, Some(r));
                }
            }
        }
        eprintln!("{:?}: every point done in {:.1?}", command, start.elapsed());
        // The app runs after all this (when installed), and everything goes.
        setup();
        fx.ok(command);
        if case.undone {
            let out = fx.ok(&["run", app()]);
            assert!(out.starts_with(&format!("SNAP=/snap/{}/", app())), "{out}");
            // The hooks ran (and their record went with each undo).
            assert!(out.contains("\nconfigure-x"), "{out}");
        }
        reset(&fx);
        assert_eq!(Machine::take(&fx.home).diff(&with_base), "");
        fx.ok(&["remove", BASE]);
        let left = Machine::take(&fx.home);
        assert!(left.loops.is_empty(), "{:?}", left.loops);
        assert!(left.mounts.is_empty(), "{:?}", left.mounts);
        let mut expected_files = untouched.files.clone();
        // Directories snapd keeps too, and snap-confine's files.
        let new: Vec<_> = left
            .files
            .iter()
            .filter(|(p, _)| !untouched.files.contains_key(*p))
            .filter(|(_, d)| !d.starts_with("dir "))
            .collect();
        assert_eq!(new, Vec::<(&PathBuf, &String)>::new());
        expected_files.retain(|p, _| left.files.contains_key(p));
        assert_eq!(expected_files, untouched.files, "files went missing");
    });
    machine.assert_unchanged();
}

#[test]
fn a_crash_at_any_step_of_a_first_install_is_undone_by_the_next_command() {
    run_case(Case {
        name: "install",
        setup: &[],
        command: &["install", "--dangerous", "@app1"],
        undone: true,
        crash_recovery_after: None,
        expected: &[
            "begin",
            "enter:blob",
            "blob-partial",
            "blob",
            "loop-attached#2",
            "mount",
            "data",
            "snap-current",
            "current",
            "security",
            "hook-install",
            "hook-configure",
            "commit",
        ],
    });
}

#[test]
fn a_crash_at_any_step_of_a_refresh_is_undone_by_the_next_command() {
    run_case(Case {
        name: "refresh",
        setup: &[&["install", "--dangerous", "@app1"]],
        command: &["install", "--dangerous", "@app2"],
        undone: true,
        crash_recovery_after: None,
        expected: &[
            "begin",
            "blob",
            "loop-attached#2",
            "mount",
            "data",
            "current",
            "security",
            "discard-namespace",
            "hook-post-refresh",
            "hook-configure",
            "commit",
        ],
    });
}

#[test]
fn a_crash_at_any_step_of_a_revert_is_undone_by_the_next_command() {
    run_case(Case {
        name: "revert",
        setup: &[
            &["install", "--dangerous", "@app1"],
            &["install", "--dangerous", "@app2"],
        ],
        command: &["revert", APP],
        undone: true,
        crash_recovery_after: None,
        expected: &[
            "begin",
            "security",
            "current",
            "discard-namespace",
            "commit",
        ],
    });
}

#[test]
fn a_crash_at_any_step_of_a_remove_is_finished_by_the_next_command() {
    run_case(Case {
        name: "remove",
        setup: &[
            &["install", "--dangerous", "@app1"],
            &["install", "--dangerous", "@app2"],
        ],
        command: &["remove", APP],
        undone: false,
        crash_recovery_after: None,
        expected: &[
            "begin",
            "discard-namespace",
            "security",
            "current",
            "unmount-x1",
            "unmount-x2",
            "data",
            "commit",
        ],
    });
}

#[test]
fn a_crash_at_any_step_of_a_try_is_undone_by_the_next_command() {
    run_case(Case {
        name: "try",
        setup: &[],
        command: &["try", "%app1"],
        undone: true,
        crash_recovery_after: None,
        expected: &["begin", "blob", "bound", "mount", "current", "commit"],
    });
}

#[test]
fn a_crash_at_any_step_of_a_connect_is_undone_by_the_next_command() {
    run_case(Case {
        name: "connect",
        setup: &[&["install", "--dangerous", "@app1"]],
        command: &["connect", "APP:camera"],
        undone: true,
        crash_recovery_after: None,
        expected: &["begin", "security", "update-namespace", "commit"],
    });
}

#[test]
fn a_crash_at_any_step_of_a_disconnect_is_undone_by_the_next_command() {
    run_case(Case {
        name: "disconnect",
        setup: &[
            &["install", "--dangerous", "@app1"],
            &["connect", "APP:camera"],
        ],
        command: &["disconnect", "APP:camera"],
        undone: true,
        crash_recovery_after: None,
        expected: &["begin", "security", "update-namespace", "commit"],
    });
}

#[test]
fn a_crash_while_recovering_from_a_crashed_refresh_is_recovered_by_the_command_after() {
    run_case(Case {
        name: "rrefresh",
        setup: &[&["install", "--dangerous", "@app1"]],
        command: &["install", "--dangerous", "@app2"],
        undone: true,
        crash_recovery_after: Some("hook-configure"),
        expected: &[],
    });
}

#[test]
fn a_crash_while_finishing_a_crashed_remove_is_finished_by_the_command_after() {
    run_case(Case {
        name: "rremove",
        setup: &[
            &["install", "--dangerous", "@app1"],
            &["install", "--dangerous", "@app2"],
        ],
        command: &["remove", APP],
        undone: false,
        crash_recovery_after: Some("enter:security"),
        expected: &[],
    });
}

/// A change of connections (the journal connect and disconnect use, see
/// `manage::change_connections`) cut short after it rewrote a snap's
/// security files: the next command writes them again from the saved
/// connections. The crash is simulated by leaving the journal as a killed
/// process leaves it (the step saved, no commit).
#[test]
fn a_change_of_connections_cut_short_is_undone_by_the_next_command() {
    APP_NAME.set("sc-crash-connect".to_owned()).unwrap();
    let fx = fixture();
    let machine = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.ok(&["install", "--dangerous", &fx.path("base")]);
        fx.ok(&["install", "--dangerous", &fx.path("app1")]);
        let before = Machine::take(&fx.home);
        let src = format!("/var/lib/snapd/seccomp/bpf/snap.{}.other.src", app());
        let fstab = format!("/var/lib/snapd/mount/snap.{}.fstab", app());
        {
            use snapcell_standalone::manage::state_paths;
            use snapcell_standalone::state::{ChangeKind, Connection, StateLock};
            let lock = StateLock::exclusive(&state_paths()).unwrap();
            let mut state = lock.load().unwrap();
            let kind = ChangeKind::Connections {
                snaps: vec![app().to_owned()],
            };
            let mut journal = lock.begin(&state, kind).unwrap();
            state.connections.insert(
                format!("{}:camera", app()),
                Connection {
                    interface: "camera".into(),
                    slot: "system:camera".into(),
                    manual: true,
                },
            );
            journal
                .step("security", || {
                    fs::write(&src, "# half written\n").unwrap();
                    fs::write(&fstab, "").unwrap();
                    Ok(())
                })
                .unwrap();
            // Killed here: no commit, the lock released by the kernel.
        }
        assert_ne!(Machine::take(&fx.home).diff(&before), "");
        fx.ok(&["list"]);
        assert_eq!(Machine::take(&fx.home).diff(&before), "");
        fx.ok(&["remove", app()]);
        fx.ok(&["remove", BASE]);
        let left = Machine::take(&fx.home);
        assert!(left.loops.is_empty() && left.mounts.is_empty());
    });
    machine.assert_unchanged();
}

/// The snapcell the other tests use (as the one that ships) cannot crash
/// on purpose: it has no fault points.
#[test]
fn the_ordinary_snapcell_has_no_fault_points() {
    if cfg!(feature = "fault-injection") {
        return;
    }
    let bytes = fs::read(env!("CARGO_BIN_EXE_snapcell")).unwrap();
    let marker = b"snapcell-fault-point";
    assert!(!bytes.windows(marker.len()).any(|w| w == marker));
    let faulty = fs::read(faulty_snapcell()).unwrap();
    assert!(faulty.windows(marker.len()).any(|w| w == marker));
}

/// The first install makes `/snap` shared with a self-bind (as
/// snap-confine would); killed between the bind and the propagation
/// change, the next install makes that bind shared instead of stacking
/// another one.
#[test]
fn a_crash_while_making_snap_shared_leaves_one_bind() {
    APP_NAME.set("sc-crash-shared".to_owned()).unwrap();
    let fx = fixture();
    let machine = MachineSnapshot::take();
    run_in_world(|_w| {
        let at_snap = || {
            fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .lines()
                .filter(|l| l.split(' ').nth(4) == Some("/snap"))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let first = at_snap();
        let base = fx.path("base");
        let out = run(&fx, &["install", "--dangerous", &base], Some("snap-bound"));
        expect_killed(&out, "snap-bound");
        assert_eq!(at_snap().len(), first.len() + 1, "{:?}", at_snap());
        fx.ok(&["install", "--dangerous", &base]);
        let now = at_snap();
        assert_eq!(now.len(), first.len() + 1, "{now:?}");
        assert!(now.last().unwrap().contains(" shared:"), "{now:?}");
        fx.ok(&["remove", BASE]);
    });
    machine.assert_unchanged();
}
