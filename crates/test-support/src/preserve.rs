//! A mount namespace preserved the way snap-confine leaves one, for tests of
//! the tools that enter it (snap-update-ns, `snapcell plan`). Use inside a world.

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
    std::fs::create_dir_all("/run/snapd/ns").expect("mkdir /run/snapd/ns");
    let ns_file = format!("/run/snapd/ns/{instance}.mnt");
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
        .arg(format!("--mount=/run/snapd/ns/{instance}.mnt"))
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
