//! Squashfs images (snap files) written and read in-process with backhand:
//! packing a snap directory and reading a .snap's listing and its
//! `meta/snap.yaml` without mounting it.
//!
//! Images are written as `snap pack` writes them (xz, every file owned by
//! root), and reproducibly: every time stamp is 0 and entries go in byte
//! order of their names, so the same tree always gives the same bytes.
//! snapd runs `mksquashfs` for this; doing it in-process needs no
//! squashfs-tools on the machine, gives the same bytes every time, and lets
//! the caller follow the progress byte by byte.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use backhand::compression::Compressor;
use backhand::{FilesystemCompressor, FilesystemReader, FilesystemWriter, InnerNode, NodeHeader};

/// The first four bytes of a (little-endian) squashfs image.
pub const MAGIC: &[u8; 4] = b"hsqs";

/// Whether the file at `path` starts like a squashfs image.
pub fn is_squashfs(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

/// Pack the directory `src` into the squashfs image `image` (created or
/// truncated). `progress` is called with the number of file bytes read
/// since its last call, as the data is compressed.
///
/// Directories, regular files and symlinks are taken with their permission
/// bits (including setuid/setgid/sticky); owners become root. Device nodes,
/// FIFOs and sockets are refused: snaps do not carry them. Hard links
/// become separate files (with shared data blocks).
pub fn write_squashfs(src: &Path, image: &Path, progress: &dyn Fn(u64)) -> io::Result<()> {
    write_squashfs_excluding(src, image, &[], progress)
}

/// Like [`write_squashfs`], leaving out the files that are `exclude`'s
/// (compared by device and inode, as far as they exist): an earlier output
/// of `snapcell pack DIR -o DIR/x.snap` is not packed into the next one, as
/// mksquashfs leaves out its destination.
pub fn write_squashfs_excluding(
    src: &Path,
    image: &Path,
    exclude: &[&Path],
    progress: &dyn Fn(u64),
) -> io::Result<()> {
    let skip: Vec<(u64, u64)> = exclude
        .iter()
        .chain([&image])
        .filter_map(|p| fs::symlink_metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
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
    add_dir(&mut writer, src, Path::new(""), &skip, progress)
        .map_err(|err| fail(err.to_string()))?;

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

/// The number of bytes in the regular files under `dir` (what
/// [`write_squashfs`] reports progress against). Symlinks are not followed.
pub fn tree_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.is_dir() {
            total += tree_size(&entry.path())?;
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

fn permissions(meta: &fs::Metadata) -> u16 {
    (meta.mode() & 0o7777) as u16
}

/// A file opened when first read and closed at its end (a large tree would
/// otherwise hold every file open until the image is written), reporting
/// what it reads.
struct LazyProgressFile<'p> {
    path: PathBuf,
    file: Option<File>,
    done: bool,
    progress: &'p dyn Fn(u64),
}

impl Read for LazyProgressFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.file.is_none() {
            self.file = Some(File::open(&self.path)?);
        }
        let n = self.file.as_mut().map_or(Ok(0), |f| f.read(buf))?;
        if n == 0 {
            self.file = None;
            self.done = true;
        } else {
            (self.progress)(n as u64);
        }
        Ok(n)
    }
}

fn add_dir<'p>(
    writer: &mut FilesystemWriter<'_, '_, 'p>,
    dir: &Path,
    rel: &Path,
    skip: &[(u64, u64)],
    progress: &'p dyn Fn(u64),
) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let abs = entry.path();
        let rel = rel.join(entry.file_name());
        let meta = fs::symlink_metadata(&abs)?;
        if skip.contains(&(meta.dev(), meta.ino())) {
            continue;
        }
        let header = NodeHeader::new(permissions(&meta), 0, 0, 0);
        let kind = meta.file_type();
        let pushed = if kind.is_dir() {
            writer.push_dir(&rel, header)
        } else if kind.is_file() {
            let reader = LazyProgressFile {
                path: abs.clone(),
                file: None,
                done: false,
                progress,
            };
            writer.push_file(reader, &rel, header)
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
            add_dir(writer, &abs, &rel, skip, progress)?;
        }
    }
    Ok(())
}

/// One entry of an image's listing (as `unsquashfs -lls` shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageEntry {
    /// The path inside the image, without a leading `/` (`""` is the root).
    pub path: String,
    /// `d`, `-`, `l`, `c`, `b`, `p` or `s`.
    pub kind: char,
    /// Permission bits.
    pub mode: u16,
    /// A symlink's target.
    pub target: Option<String>,
}

/// Why a snap file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadImageError {
    #[error("cannot read {}: {why}", image.display())]
    Io { image: PathBuf, why: io::Error },
    #[error("cannot read {}: not a squashfs image ({why})", image.display())]
    NotSquashfs { image: PathBuf, why: String },
    #[error("cannot read {}: it has no {inner}", image.display())]
    Missing { image: PathBuf, inner: String },
    #[error("cannot read {inner} in {}: {why}", image.display())]
    Inner {
        image: PathBuf,
        inner: String,
        why: String,
    },
}

fn open_image(image: &Path) -> Result<FilesystemReader<'static>, ReadImageError> {
    let file = File::open(image).map_err(|why| ReadImageError::Io {
        image: image.to_owned(),
        why,
    })?;
    FilesystemReader::from_reader(BufReader::new(file)).map_err(|why| ReadImageError::NotSquashfs {
        image: image.to_owned(),
        why: why.to_string(),
    })
}

/// Every entry of the image, in the image's order.
pub fn list_image(image: &Path) -> Result<Vec<ImageEntry>, ReadImageError> {
    let fs = open_image(image)?;
    Ok(fs
        .files()
        .map(|node| {
            let path = node
                .fullpath
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned();
            let (kind, target) = match &node.inner {
                InnerNode::File(_) => ('-', None),
                InnerNode::Dir(_) => ('d', None),
                InnerNode::Symlink(link) => ('l', Some(link.link.to_string_lossy().into_owned())),
                InnerNode::CharacterDevice(_) => ('c', None),
                InnerNode::BlockDevice(_) => ('b', None),
                InnerNode::NamedPipe => ('p', None),
                InnerNode::Socket => ('s', None),
            };
            ImageEntry {
                path,
                kind,
                mode: node.header.permissions,
                target,
            }
        })
        .collect())
}

/// The contents of the regular file `inner` (`meta/snap.yaml`) in the
/// image, at most `limit` bytes (more is an error). A symlink is not
/// followed: a snap.yaml that is a symlink is refused.
pub fn read_image_file(image: &Path, inner: &str, limit: u64) -> Result<Vec<u8>, ReadImageError> {
    let fs = open_image(image)?;
    let wanted = Path::new("/").join(inner);
    let node = fs
        .files()
        .find(|node| node.fullpath == wanted)
        .ok_or_else(|| ReadImageError::Missing {
            image: image.to_owned(),
            inner: inner.to_owned(),
        })?;
    let fail = |why: String| ReadImageError::Inner {
        image: image.to_owned(),
        inner: inner.to_owned(),
        why,
    };
    let InnerNode::File(file) = &node.inner else {
        return Err(fail("not a regular file".to_owned()));
    };
    let mut out = Vec::new();
    fs.file(file)
        .reader()
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(fail(format!("larger than {limit} bytes")));
    }
    Ok(out)
}
