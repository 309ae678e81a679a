//! Small static C programs for tests: they run as a snap's app on any
//! base (the test bases hold busybox and nothing else).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compile `source` with `gcc -static -O2 -Wall -Werror` into `dir/NAME`
/// (mode 0755; the source is left beside it as `dir/NAME.c`): a program
/// with no dependencies.
pub fn build_static_c(source: &str, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(name);
    std::fs::write(&src, source)?;
    let o = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run gcc: {e}")))?;
    if !o.status.success() {
        return Err(io::Error::other(format!(
            "gcc -static failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )));
    }
    Ok(out)
}
