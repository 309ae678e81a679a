//! A mount namespace preserved the way snap-confine leaves one, for tests of
//! the tools that enter it (snap-update-ns, `snapcell plan`). Use inside a world.

use snapcell_core::dirs::{Dirs, NS_DIR};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A process holding a private copy of the world's mount namespace, bound at
/// `/run/snapd/ns/INSTANCE.mnt`. `setup` is a shell snippet run inside the new
/// namespace first (e.g. to mount something only it should see).
///
/// Kernel 6.18 allocates mount namespace ids from per-CPU batches and can
/// refuse (EINVAL) to bind a namespace file whose id is lower than the
/// caller's namespace's, which happens when the two were made on different
/// CPUs (research/security.md §2). The namespace is therefore made again on
/// each CPU in turn until the bind is accepted.
pub fn preserve_namespace(instance: &str, setup: &str) -> Child {
    std::fs::create_dir_all(NS_DIR).expect("mkdir /run/snapd/ns");
    let ns_file = Dirs::HOST.preserved_ns(instance);
    std::fs::write(&ns_file, b"").expect("create the namespace file");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for attempt in 0..8 * cpus {
        let mut child = Command::new("taskset")
            .args([
                "-c",
                &(attempt % cpus).to_string(),
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
            ])
            .arg(format!("{setup}\necho ready && exec sleep 600"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "ready", "the namespace set-up failed");
        let status = Command::new("mount")
            .args(["--bind", &format!("/proc/{}/ns/mnt", child.id()), &ns_file])
            .stderr(Stdio::null())
            .status()
            .expect("run mount");
        if status.success() {
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("cannot preserve a mount namespace at {ns_file} on any CPU");
}

/// Run a shell command inside the namespace preserved for `instance`; its stdout.
pub fn in_namespace(instance: &str, script: &str) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--mount={}", Dirs::HOST.preserved_ns(instance)))
        .args(["sh", "-c", script])
        .output()
        .expect("run nsenter");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A mountinfo table normalised for comparing namespaces: one line a mount,
/// `MOUNTPOINT on=PARENT_MOUNTPOINT FSTYPE SOURCE root=ROOT ro|rw PROPAGATION`
/// (propagation kinds sorted and joined by `+`, `private` when none; ids,
/// peer-group numbers and devices left out, as they change when a mount is
/// made again), sorted.
pub fn normalise_mountinfo(text: &str) -> Vec<String> {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let dir_of = |id: &str| {
        rows.iter()
            .find(|r| r[0] == id)
            .map_or("?", |r| r[4])
            .to_owned()
    };
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            let sep = r
                .iter()
                .position(|f| *f == "-")
                .expect("mountinfo separator");
            let rw = r[5].split(',').next().unwrap_or("");
            let mut prop: Vec<&str> = r[6..sep]
                .iter()
                .map(|f| f.split(':').next().unwrap_or(""))
                .collect();
            prop.sort();
            let prop = if prop.is_empty() {
                "private".to_owned()
            } else {
                prop.join("+")
            };
            format!(
                "{} on={} {} {} root={} {rw} {prop}",
                r[4],
                dir_of(r[1]),
                r[sep + 1],
                r[sep + 2],
                r[3]
            )
        })
        .collect();
    out.sort();
    out
}

/// The normalised mount table ([`normalise_mountinfo`]) of the namespace
/// preserved for `instance`.
pub fn normalised_mount_table(instance: &str) -> Vec<String> {
    normalise_mountinfo(&in_namespace(instance, "cat /proc/self/mountinfo"))
}

/// Write `text` to `path`, creating its parent directories.
pub fn write_file(path: &str, text: &str) {
    let parent = std::path::Path::new(path)
        .parent()
        .expect("a parent directory");
    std::fs::create_dir_all(parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
}
