//! The operations the mount executor and the namespace bootstrap need from
//! the system, as one trait.
//!
//! The real implementation ([`crate::live::LiveSystem`]) resolves every path
//! from `/` one component at a time without following symlinks, and mounts
//! through file descriptors (new mount API). Tests use an in-memory double
//! that records each call, as snapd's own tests do, so the executor's order of
//! operations and its rollback are testable without root.
//!
//! Paths are absolute and clean (the executor checks that before calling).
//! Errors are plain errno values; the executor adds what it was doing and to
//! which path.

pub use rustix::io::Errno;
pub use snapcell_core::mount_opts::MountFlags;

/// The result of one operation.
pub type SysResult<T> = Result<T, Errno>;

/// The type of a file system object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    Dir,
    File,
    Symlink,
    /// Devices, sockets, FIFOs.
    Other,
}

/// What `lstat`/`stat` tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    pub kind: FileKind,
    /// Permission bits with setuid, setgid and sticky (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// The device of the file system holding it.
    pub dev: u64,
}

/// What `statfs` tells of the file system holding a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsMeta {
    /// `f_type`.
    pub magic: i64,
    /// `ST_RDONLY` in `f_flags`.
    pub read_only: bool,
}

/// `SQUASHFS_MAGIC`.
pub const SQUASHFS_MAGIC: i64 = 0x7371_7368;
/// `TMPFS_MAGIC`.
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// A directory tree set aside as a detached mount (`open_tree` clone), the
/// source of a writable mimic's entries. Never reachable by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AsideId(pub u32);

/// The operations, one system call (or one fd-safe walk and a system call) each.
pub trait System {
    /// `lstat(path)`; `Ok(None)` when it does not exist.
    fn lstat(&mut self, path: &str) -> SysResult<Option<FileMeta>>;

    /// `stat(path)` following symlinks; `Ok(None)` when it does not exist.
    fn stat(&mut self, path: &str) -> SysResult<Option<FileMeta>>;

    /// `statfs` of the directory `path`, opened without following symlinks.
    fn statfs(&mut self, path: &str) -> SysResult<FsMeta>;

    /// `mkdirat(parent, name, mode)`, then `fchown(uid, gid)` if it was made.
    /// `Ok(false)` when a directory is already there; `EEXIST` when something else is.
    fn mkdir(&mut self, parent: &str, name: &str, mode: u32, uid: u32, gid: u32)
    -> SysResult<bool>;

    /// Create an empty file `O_CREAT|O_EXCL|O_NOFOLLOW`, then `fchown` if made.
    /// `Ok(false)` when a regular file is already there; `EEXIST` when something else is.
    fn mkfile(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool>;

    /// `symlinkat(target, parent, name)`; `EEXIST` as the kernel says it.
    fn symlink(&mut self, parent: &str, name: &str, target: &str) -> SysResult<()>;

    /// `readlinkat` of a symlink.
    fn readlink(&mut self, path: &str) -> SysResult<String>;

    /// The entries of directory `path` in readdir order, without `.` and `..`.
    fn read_dir(&mut self, path: &str) -> SysResult<Vec<(String, FileKind)>>;

    /// Remove a file, symlink or empty directory (`unlinkat`, with `AT_REMOVEDIR` for directories).
    fn remove(&mut self, path: &str) -> SysResult<()>;

    /// Bind-mount `source` onto `target`, recursively if asked, and read-only
    /// if asked (applied to the detached clone before it is attached).
    fn bind(
        &mut self,
        source: &str,
        target: &str,
        recursive: bool,
        read_only: bool,
    ) -> SysResult<()>;

    /// Mount a new file system (`tmpfs`, ...) of `fstype` on `target`.
    fn mount_fs(
        &mut self,
        source: &str,
        target: &str,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()>;

    /// Change the propagation of the mount at `target` (`SHARED`, `SLAVE`,
    /// `PRIVATE` or `UNBINDABLE`, with `REC` for the whole subtree).
    fn set_propagation(&mut self, target: &str, propagation: MountFlags) -> SysResult<()>;

    /// `umount2(target, UMOUNT_NOFOLLOW [| MNT_DETACH])`.
    fn unmount(&mut self, target: &str, detach: bool) -> SysResult<()>;

    /// Whether `target` is a mount point in this namespace's mount table.
    fn is_mount_point(&mut self, target: &str) -> SysResult<bool>;

    /// Keep the tree at `dir` aside: a recursive detached clone.
    fn set_aside(&mut self, dir: &str) -> SysResult<AsideId>;

    /// Bind `name` (a child of the tree set aside) onto `target`.
    fn bind_from_aside(
        &mut self,
        aside: AsideId,
        name: &str,
        target: &str,
        recursive: bool,
    ) -> SysResult<()>;

    /// Drop a tree set aside (closing the last reference unmounts it).
    fn release_aside(&mut self, aside: AsideId);
}
