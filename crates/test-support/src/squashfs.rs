//! Building squashfs images from directory trees, the way `snap pack` would
//! (xz, all files owned by root), reproducibly (every time stamp is 0).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use backhand::compression::Compressor;
use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};

/// Pack the directory `src` into the squashfs image `image` (created or
/// truncated).
///
/// Directories, regular files and symlinks are taken with their permission
/// bits (including setuid/setgid/sticky); owners become root and every time
/// stamp is 0, so the same tree always gives the same bytes. Entries are
/// added in byte order of their names. Device nodes, FIFOs and sockets are
/// refused: snaps do not carry them. Hard links become separate files (with
/// shared data blocks).
pub fn build_squashfs(src: &Path, image: &Path) -> io::Result<()> {
    let fail = |why: String| {
        io::Error::other(format!(
            "cannot build squashfs {} from {}: {why}",
            image.display(),
            src.display()
        ))
    };
    let meta = fs::metadata(src).map_err(|err| fail(err.to_string()))?;
    if !meta.is_dir() {
        return Err(fail("not a directory".into()));
    }
    let mut writer = FilesystemWriter::default();
    writer.set_time(0);
    writer.set_only_root_id();
    writer.set_root_mode(permissions(&meta));
    writer.set_root_uid(0);
    writer.set_root_gid(0);
    let compressor =
        FilesystemCompressor::new(Compressor::Xz, None).map_err(|err| fail(err.to_string()))?;
    writer.set_compressor(compressor);
    add_dir(&mut writer, src, Path::new("")).map_err(|err| fail(err.to_string()))?;

    let out = File::create(image).map_err(|err| fail(err.to_string()))?;
    let mut out = BufWriter::new(out);
    writer
        .write(&mut out)
        .map_err(|err| fail(err.to_string()))?;
    out.flush().map_err(|err| fail(err.to_string()))?;
    out.get_ref()
        .sync_all()
        .map_err(|err| fail(err.to_string()))
}

fn permissions(meta: &fs::Metadata) -> u16 {
    (meta.mode() & 0o7777) as u16
}

fn add_dir(writer: &mut FilesystemWriter<'_, '_, '_>, dir: &Path, rel: &Path) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let abs = entry.path();
        let rel = rel.join(entry.file_name());
        let meta = fs::symlink_metadata(&abs)?;
        let header = NodeHeader::new(permissions(&meta), 0, 0, 0);
        let kind = meta.file_type();
        let pushed = if kind.is_dir() {
            writer.push_dir(&rel, header)
        } else if kind.is_file() {
            writer.push_file_from_path(&abs, &rel, header)
        } else if kind.is_symlink() {
            writer.push_symlink(fs::read_link(&abs)?, &rel, header)
        } else {
            let what = if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device node"
            };
            return Err(io::Error::other(format!(
                "{} is {what}, which a snap cannot hold",
                abs.display()
            )));
        };
        pushed.map_err(|err| io::Error::other(format!("cannot add {}: {err}", abs.display())))?;
        if kind.is_dir() {
            add_dir(writer, &abs, &rel)?;
        }
    }
    Ok(())
}
