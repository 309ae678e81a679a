//! `snapcell pack DIR [-o FILE]`: what `snap pack` does. The snap.yaml is
//! parsed and validated, the directory is checked as snapd checks a snap
//! container (each app's command exists and everyone can run it), and a
//! squashfs .snap is written (see `snapcell_standalone::squashfs` for why
//! in-process and not with mksquashfs), with a progress bar on a terminal
//! for large trees.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use snapcell_standalone::pack::{architectures, snap_file_name, validate_container};
use snapcell_standalone::squashfs::{is_squashfs, tree_size, write_squashfs_excluding};

use crate::input::{self, Input};

/// Trees smaller than this are packed without a progress bar.
const PROGRESS_FROM: u64 = 16 << 20;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell pack examples/hello                 # writes ./hello_1.0_all.snap
  snapcell pack examples/hello -o /tmp/h.snap")]
pub struct PackArgs {
    /// The snap directory (with meta/snap.yaml).
    pub dir: PathBuf,
    /// The .snap to write; by default NAME_VERSION_ARCH.snap in the current
    /// directory, as `snap pack` names it.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: PackArgs) -> Result<String, String> {
    let dir = &args.dir;
    let fail = |why: String| format!("cannot pack {:?}: {why}", dir.display().to_string());
    if !dir.is_dir() {
        if is_squashfs(dir) {
            return Err(input::snap_file_given(dir, "a snap directory"));
        }
        return Err(fail("not a directory".to_owned()));
    }
    let yaml = input::read_snap_yaml(dir)?;
    let info = input::parse_snap_yaml(&yaml)?;
    input::validate_snap_yaml(&yaml, &info)?;
    if let Err(e) = validate_container(dir, &info) {
        let details: Vec<String> = e
            .details
            .iter()
            .map(|d| match missing_line(&yaml, d, &e.missing) {
                Some(line) => format!("\n  {}:{line}: {d}", yaml.shown),
                None => format!("\n  {d}"),
            })
            .collect();
        return Err(format!("{}{}", fail(e.to_string()), details.concat()));
    }
    let output = match args.output {
        Some(o) => o,
        None => PathBuf::from(snap_file_name(&info, &architectures(&yaml.text))),
    };
    write_with_progress(dir, &output).map_err(|e| fail(e.to_string()))?;
    Ok(format!("built: {}\n", output.display()))
}

/// The snap.yaml line naming the missing path a detail line is about.
fn missing_line(yaml: &Input, detail: &str, missing: &[String]) -> Option<usize> {
    let path = missing
        .iter()
        .find(|p| detail.ends_with(&format!("path {p:?} does not exist")))?;
    yaml.text
        .split('\n')
        .position(|l| {
            let t = l.trim_start();
            [
                "command:",
                "stop-command:",
                "reload-command:",
                "post-stop-command:",
                "completer:",
            ]
            .iter()
            .any(|k| {
                t.strip_prefix(k).is_some_and(|v| {
                    let v = v.trim().trim_matches(['"', '\'']);
                    let v = v.trim_start_matches('/');
                    v.split(' ').next() == Some(path.as_str())
                })
            })
        })
        .map(|i| i + 1)
}

/// Write `dir` to `output` through a temporary file beside it (renamed into
/// place at the end, removed on failure), with a progress bar on a terminal.
fn write_with_progress(dir: &Path, output: &Path) -> std::io::Result<()> {
    let name = output
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", output.display())))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    let partial = output.with_file_name(partial_name);
    let bar = if std::io::stderr().is_terminal() {
        let total = tree_size(dir)?;
        (total >= PROGRESS_FROM).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "packing {bar:40} {bytes}/{total_bytes} ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        })
    } else {
        None
    };
    let progress = |n: u64| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    };
    let res = write_squashfs_excluding(dir, &partial, &[output], &progress)
        .and_then(|()| std::fs::rename(&partial, output));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if res.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    res
}
