//! Differential test against Debian's snapd 2.57 snap-confine
//! (`/usr/lib/snapd/snap-confine`), driven as `tools/refrun` drives it: the
//! same base, app snap and mount profile, each in its own throwaway world;
//! the app prints its mount table, some files, and the current profile.
//!
//! The mount tables are normalised (mount ids → the parent's mount point,
//! peer groups → their kind, loop devices → the snap they hold, host file
//! systems folded to `hostfs`) and compared as multisets. The differences
//! the spec asks for (it follows snapd 2024, the reference is 2022) are
//! removed first, each by a named rule in [`TOLERATED`]; anything else fails
//! the test with both tables.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use snapcell_core::mountinfo::MountInfoEntry;
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

const REFERENCE: &str = "/usr/lib/snapd/snap-confine";
const REFERENCE_DISCARD: &str = "/usr/lib/snapd/snap-discard-ns";
const REFERENCE_SECCOMP: &str = "/usr/lib/snapd/snap-seccomp";

/// How often the reference is tried on its known 6.18 flake.
const REFERENCE_ATTEMPTS: usize = 30;

/// The differences we expect, each with its reason.
pub const TOLERATED: &[(&str, &str)] = &[
    (
        "root-is-tmpfs",
        "/ is a tmpfs (rw, private) holding the base's entries (spec §6.5 step 3, snapd 2024); \
         snapd 2.57 uses the base squashfs itself as / (ro, slave)",
    ),
    (
        "base-entries-bound",
        "each top-level directory and file of the base is a bind mount from the base squashfs \
         (root=/NAME, ro) in our namespace; in 2.57 they are part of /",
    ),
    (
        "parent-is-base-entry",
        "a mount inside a base directory (/var/snap, /usr/src, a mimic over /usr, ...) has that \
         directory's bind as its parent in ours, / in 2.57; such parents are mapped to /",
    ),
    (
        "rootfs-profile-line",
        "snapd 2024 starts the current profile with `tmpfs / tmpfs x-snapd.origin=rootfs 0 0` \
         (spec §6.5 step 3); 2.57 does not write it",
    ),
    (
        "mount-order",
        "tables and profiles are compared as multisets: the order of a writable mimic's entries \
         (2.57: sorted by name; our executor: directory order) is not what the app sees",
    ),
];

/// A scenario: the desired mount profile (`@SNAP@` = `/snap/hello/x1`) and
/// what the app prints after its mount table.
struct Scenario {
    name: &'static str,
    fstab: Option<&'static str>,
    files_script: &'static str,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "basic",
        fstab: None,
        files_script: "cat /etc/alternatives/marker; ls /tmp; ls -a /var/lib/snapd/hostfs/tmp | grep -c snap-private",
    },
    Scenario {
        name: "layout",
        fstab: Some(
            "@SNAP@/data /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n\
             @SNAP@/conf /etc/demo.conf none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n\
             none /var/demo.cfg none x-snapd.kind=symlink,x-snapd.symlink=/var/snap/hello/common/demo.conf,x-snapd.origin=layout 0 0\n",
        ),
        files_script: "cat /usr/share/demo/hello.txt; cat /etc/demo.conf; readlink /var/demo.cfg; ls /usr/share /usr",
    },
];

/// What one run printed, split into sections.
#[derive(Debug)]
struct Observed {
    mounts: Vec<String>,
    files: Vec<String>,
    profile: Vec<String>,
}

fn app_script(s: &Scenario) -> String {
    format!(
        "cat /proc/self/mountinfo; echo '=== files'; {}; echo '=== profile'; cat /run/snapd/ns/snap.hello.fstab",
        s.files_script
    )
}

/// Prepare the world: snaps, seccomp profiles (2.57's `.bin` and the current
/// `.bin2`), the desired profile.
fn prepare(world: &mut World, fx: &Fixture, s: &Scenario) -> BTreeMap<String, String> {
    fx.install(world, "core");
    fs::create_dir_all("/var/snap/hello/common").unwrap();
    let bpf = Path::new("/var/lib/snapd/seccomp/bpf");
    let src = bpf.join(format!("{TAG}.src"));
    fs::write(&src, "@unrestricted\n").unwrap();
    let status = Command::new(REFERENCE_SECCOMP)
        .arg("compile")
        .arg(&src)
        .arg(bpf.join(format!("{TAG}.bin")))
        .status()
        .unwrap();
    assert!(status.success(), "snap-seccomp compile failed");
    if let Some(fstab) = s.fstab {
        fs::create_dir_all("/var/lib/snapd/mount").unwrap();
        fs::write(
            "/var/lib/snapd/mount/snap.hello.fstab",
            fstab.replace("@SNAP@", "/snap/hello/x1"),
        )
        .unwrap();
    }
    // Loop devices → the snap they hold.
    world
        .snaps()
        .iter()
        .map(|m| {
            (
                m.loop_device.display().to_string(),
                format!("snap:{}_{}", m.name, m.revision),
            )
        })
        .collect()
}

fn run(confine: &Path, s: &Scenario) -> Output {
    run_with(
        confine,
        &["--base", "core", TAG, "/bin/sh", "-c", &app_script(s)],
        &snap_env(),
    )
}

/// Normalise one table (see the module documentation). `ours` applies the
/// tolerated rules that concern our side.
fn normalise(stdout: &str, loops: &BTreeMap<String, String>, ours: bool) -> Observed {
    let mut sections = stdout.split("=== files\n");
    let table_text = sections.next().unwrap_or_default();
    let rest = sections.next().unwrap_or_default();
    let (files, profile) = rest.split_once("=== profile\n").unwrap_or((rest, ""));
    let table = parse_table(table_text);
    let by_id: BTreeMap<i64, &MountInfoEntry> = table.iter().map(|e| (e.mount_id, e)).collect();
    let base_source = loops
        .iter()
        .find(|(_, s)| s.as_str() == "snap:core_x1")
        .map(|(d, _)| d.clone())
        .unwrap_or_default();
    // base-entries-bound: binds of the base's top-level entries.
    let is_base_entry = |e: &MountInfoEntry| {
        ours && e.fs_type == "squashfs"
            && e.mount_source == base_source
            && e.root == e.mount_dir
            && e.mount_dir.matches('/').count() == 1
            && e.mount_dir != "/"
    };
    let skip = [
        "/var/lib/snapd/hostfs/",
        "/mnt/sandboxing",
        "/sys/fs/cgroup/",
        "/dev/shm",
        "/proc/sys/fs/binfmt_misc",
    ];
    let mut mounts = Vec::new();
    for e in &table {
        if skip.iter().any(|s| e.mount_dir.contains(s)) || is_base_entry(e) {
            continue;
        }
        if e.mount_dir == "/" {
            // root-is-tmpfs: checked on its own below.
            continue;
        }
        let parent = match by_id.get(&e.parent_id) {
            // parent-is-base-entry.
            Some(p) if is_base_entry(p) => "/".to_owned(),
            Some(p) => p.mount_dir.clone(),
            None => "?".to_owned(),
        };
        let fs_type = match e.fs_type.as_str() {
            "ext4" | "xfs" | "btrfs" => "hostfs",
            other => other,
        };
        let source = loops
            .get(&e.mount_source)
            .cloned()
            .unwrap_or_else(|| match fs_type {
                "hostfs" => "hostdev".to_owned(),
                _ => e.mount_source.clone(),
            });
        let p = e.propagation();
        let mut kind = Vec::new();
        if p.shared.is_some() {
            kind.push("shared");
        }
        if p.master.is_some() {
            kind.push("master");
        }
        if p.unbindable {
            kind.push("unbindable");
        }
        if kind.is_empty() {
            kind.push("private");
        }
        // A deliberate difference (README, Security, §8.22): our sandbox's
        // cgroup file systems are read-only, snapd 2.57's writable.
        let cgroupfs = (e.mount_dir == "/sys/fs/cgroup"
            || e.mount_dir.starts_with("/sys/fs/cgroup/"))
            && matches!(e.fs_type.as_str(), "cgroup" | "cgroup2");
        if ours && cgroupfs {
            assert!(
                e.is_read_only(),
                "our sandbox's {} is writable",
                e.mount_dir
            );
        }
        let ro = if e.is_read_only() && !(ours && cgroupfs) {
            "ro"
        } else {
            "rw"
        };
        mounts.push(format!(
            "{}  parent={parent}  root={}  {fs_type}  {source}  {ro}  {}",
            e.mount_dir,
            e.root,
            kind.join("+")
        ));
    }
    // mount-order.
    mounts.sort();
    let mut profile: Vec<String> = profile
        .lines()
        // rootfs-profile-line.
        .filter(|l| !(ours && *l == "tmpfs / tmpfs x-snapd.origin=rootfs 0 0"))
        .map(str::to_owned)
        .collect();
    profile.sort();
    Observed {
        mounts,
        files: files.lines().map(str::to_owned).collect(),
        profile,
    }
}

/// Run the reference in a fresh world, retrying its known EINVAL flake.
fn observe_reference(fx: &Fixture, s: &Scenario, out: &Path) {
    run_in_world(|world: &mut World| {
        let loops = prepare(world, fx, s);
        let mut failures = Vec::new();
        for _ in 0..REFERENCE_ATTEMPTS {
            let output = run(Path::new(REFERENCE), s);
            if output.status.success() {
                let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
                fs::write(out, serde_like(&normalise(&stdout, &loops, false), &stdout)).unwrap();
                return;
            }
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if !stderr.contains("cannot preserve mount namespace") {
                panic!(
                    "the reference snap-confine cannot run here ({}):\n{stderr}",
                    output.status
                );
            }
            failures.push(stderr);
            let _ = Command::new(REFERENCE_DISCARD).arg(SNAP).status();
        }
        panic!(
            "the reference snap-confine failed {REFERENCE_ATTEMPTS} times in a row with its known \
             6.18 flake; last error:\n{}",
            failures.last().unwrap()
        );
    });
}

fn observe_ours(fx: &Fixture, s: &Scenario, out: &Path) {
    run_in_world(|world: &mut World| {
        let loops = prepare(world, fx, s);
        let output = run(&fx.confine, s);
        let stdout = expect_success(&output);
        let table = parse_table(&stdout);
        // root-is-tmpfs, checked rather than ignored.
        let root = top(&table, "/").unwrap();
        assert_eq!(
            (root.fs_type.as_str(), root.is_read_only()),
            ("tmpfs", false)
        );
        fs::write(out, serde_like(&normalise(&stdout, &loops, true), &stdout)).unwrap();
    });
}

/// Sections separated by marker lines, then the raw output.
fn serde_like(o: &Observed, raw: &str) -> String {
    format!(
        "{}\n@@files\n{}\n@@profile\n{}\n@@raw\n{raw}",
        o.mounts.join("\n"),
        o.files.join("\n"),
        o.profile.join("\n")
    )
}

fn section<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let all: Vec<&str> = text.split("\n@@").collect();
    let body = match name {
        "mounts" => all[0],
        other => all
            .iter()
            .find_map(|s| s.strip_prefix(&format!("{other}\n")))
            .unwrap_or_default(),
    };
    body.lines().filter(|l| !l.is_empty()).collect()
}

fn compare(scenario: &Scenario) {
    assert!(
        Path::new(REFERENCE).exists(),
        "the reference {REFERENCE} is not installed: this differential test cannot run \
         (apt-get install snapd squashfs-tools busybox-static)"
    );
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let ref_out: PathBuf = fx.dir.path().join("reference.txt");
    let our_out: PathBuf = fx.dir.path().join("ours.txt");
    observe_reference(&fx, scenario, &ref_out);
    observe_ours(&fx, scenario, &our_out);
    before.assert_unchanged();
    let theirs = fs::read_to_string(&ref_out).unwrap();
    let ours = fs::read_to_string(&our_out).unwrap();
    let mut problems = Vec::new();
    for name in ["mounts", "files", "profile"] {
        let (a, b) = (section(&theirs, name), section(&ours, name));
        if a != b {
            let only_ref: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
            let only_ours: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
            problems.push(format!(
                "{name} differ\n  only in the reference:\n    {}\n  only in ours:\n    {}",
                only_ref
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join("\n    "),
                only_ours
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "scenario {}: {}\n\ntolerated differences (already removed):\n{}\n\nreference:\n{theirs}\n\nours:\n{ours}",
        scenario.name,
        problems.join("\n"),
        TOLERATED
            .iter()
            .map(|(n, why)| format!("  {n}: {why}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "scenario {}: {} mounts, {} file lines, {} profile lines identical after the tolerated \
         differences ({})",
        scenario.name,
        section(&ours, "mounts").len(),
        section(&ours, "files").len(),
        section(&ours, "profile").len(),
        TOLERATED
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn same_namespace_as_snapd_without_a_mount_profile() {
    compare(&SCENARIOS[0]);
}

#[test]
fn same_namespace_as_snapd_with_layouts() {
    compare(&SCENARIOS[1]);
}
