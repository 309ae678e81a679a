//! Writing what `compile` made, atomically, and `dump`.
//!
//! The output is written to a new temporary file in the output's directory,
//! synced, and renamed over the output; the directory is synced after. A
//! failure at any step removes the temporary file: there is then no new
//! output, and an existing one is untouched.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use libseccomp::ScmpFilterContext;
use snapcell_core::seccomp::FilterRole;
use snapcell_core::seccomp::bin2::{encode_bin2, parse_bin2};

use crate::compile::{Compiled, Format, Program, os_error};

/// What snapd 2.57 writes for an unrestricted profile, and reads as one.
const LEGACY_UNRESTRICTED: &[u8] = b"@unrestricted\n";

pub fn write_compiled(out: &Path, compiled: &Compiled, format: Format) -> Result<(), String> {
    atomic_write(out, |file| match (compiled, format) {
        (Compiled::Unrestricted, Format::Bin2) => Ok(encode_bin2(true, &[], &[])),
        (Compiled::Unrestricted, Format::Bin) => Ok(LEGACY_UNRESTRICTED.to_vec()),
        (Compiled::Filters { allow, deny }, Format::Bin2) => {
            let allow = export(allow, file)?;
            let deny = match deny {
                Some(deny) => export(deny, file)?,
                None => return Err("internal error: no deny filter".into()),
            };
            Ok(encode_bin2(false, &allow, &deny))
        }
        (Compiled::Filters { allow, .. }, Format::Bin) => export(allow, file),
    })
}

/// Export a program's BPF, using the (still temporary) output file as
/// scratch space: libseccomp 2.5 exports only to a descriptor.
pub(crate) fn export(program: &Program, scratch: &mut File) -> Result<Vec<u8>, String> {
    match program {
        Program::Whole(ctx) => export_filter(ctx, scratch),
        Program::Split(split) => split.assemble(|ctx| export_filter(ctx, scratch)),
    }
}

/// Each export is appended to the scratch file and read back from where it
/// starts (a split program exports dozens of pieces).
fn export_filter(ctx: &ScmpFilterContext, scratch: &mut File) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("cannot export bpf filter: {}", os_error(&e));
    let start = scratch.stream_position().map_err(io)?;
    ctx.export_bpf(&*scratch)
        .map_err(|e| format!("cannot export bpf filter: {e}"))?;
    let end = scratch.stream_position().map_err(io)?;
    let mut bytes = vec![0; (end - start) as usize];
    scratch.read_exact_at(&mut bytes, start).map_err(io)?;
    Ok(bytes)
}

/// Write `out` atomically with the bytes `make` returns; `make` may use the
/// temporary file as scratch space.
fn atomic_write(
    out: &Path,
    make: impl FnOnce(&mut File) -> Result<Vec<u8>, String>,
) -> Result<(), String> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| format!("cannot write {}: not a file name", out.display()))?;
    // Renaming over OUT replaces whatever is there. A symlink, a device
    // (`/dev/stdout`, `/dev/null`) or a directory given by mistake would be
    // replaced by a regular file: only a regular file is ever replaced.
    // (snapd's AtomicWriteFile renames over anything.)
    match std::fs::symlink_metadata(out) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(format!(
                "cannot write {}: it exists and is not a regular file",
                out.display()
            ));
        }
        _ => {}
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{}.{}{:08x}~",
        name.to_string_lossy(),
        std::process::id(),
        stamp
    ));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(|e| format!("open {}: {}", tmp.display(), os_error(&e)))?;
    let result = (|| {
        let bytes = make(&mut file)?;
        let io = |e: std::io::Error| format!("write {}: {}", tmp.display(), os_error(&e));
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, out).map_err(|e| {
            format!(
                "rename {} {}: {}",
                tmp.display(),
                out.display(),
                os_error(&e)
            )
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `snap-seccomp dump FILE PREFIX`: the raw programs of a `.bin2` file to
/// `PREFIX.allow` and `PREFIX.deny` (empty for an unrestricted profile).
pub fn dump(input: &Path, prefix: &str) -> Result<(), String> {
    let bytes =
        std::fs::read(input).map_err(|e| format!("open {}: {}", input.display(), os_error(&e)))?;
    let program = parse_bin2(input, &bytes).map_err(|e| e.to_string())?;
    let role_bytes = |want: FilterRole| {
        program
            .filters()
            .iter()
            .find(|(role, _)| *role == want)
            .map(|(_, p)| p.to_bytes())
            .unwrap_or_default()
    };
    for (suffix, role) in [("allow", FilterRole::Allow), ("deny", FilterRole::Deny)] {
        let bytes = role_bytes(role);
        atomic_write(Path::new(&format!("{prefix}.{suffix}")), |_| Ok(bytes))?;
    }
    Ok(())
}
