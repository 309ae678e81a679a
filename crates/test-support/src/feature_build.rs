//! The workspace's binaries built again with a test-only cargo feature.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Build `package`'s binary of the same name with the `fault-injection`
/// feature into the workspace's `target/fault-injection` (apart from the
/// ordinary build, which must never carry fault points) and return its
/// path. `manifest_dir` and `cargo` are the calling test's
/// `env!("CARGO_MANIFEST_DIR")` (a crate two levels below the workspace
/// root) and `env!("CARGO")`.
pub fn build_with_fault_injection(manifest_dir: &str, cargo: &str, package: &str) -> PathBuf {
    let workspace = Path::new(manifest_dir)
        .ancestors()
        .nth(2)
        .expect("workspace root");
    let target = workspace.join("target").join("fault-injection");
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "-q",
            "--locked",
            "-p",
            package,
            "--features",
            "fault-injection",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "cannot build {package} with the fault-injection feature"
    );
    target.join("debug").join(package)
}
