//! [`LiveSystem`]: the [`System`] the executor runs against on a real machine.
//!
//! # Path resolution
//!
//! Every path must be absolute and clean (no empty, `.` or `..` component, no
//! trailing `/`, no NUL); anything else is refused with `EINVAL` before any
//! system call. Paths are resolved from a root directory descriptor (`/`,
//! opened once; [`LiveSystem::with_root`] takes another) with `openat2` and
//! `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH`: a symlink
//! at *any* component, the last one included, fails with `ELOOP` instead of
//! being followed. Operations that act on a name inside a directory
//! (`lstat`, `mkdir`, `mkfile`, `symlink`, `readlink`, `remove`) resolve the
//! parent that way and then use the `*at` call on the parent descriptor
//! without following the leaf, so `lstat` still reports a symlink leaf.
//! [`System::stat`] alone follows symlinks, resolving with `RESOLVE_IN_ROOT`
//! (an absolute symlink stays inside the root). `openat2` answers `EAGAIN`
//! when a rename or mount raced with the lookup; it is retried a few times.
//!
//! # Mounting
//!
//! Mounts go through descriptors (the new mount API): a bind is an
//! `open_tree(OPEN_TREE_CLONE)` of the source descriptor, made read-only
//! with `mount_setattr` while it is still detached (recursively if asked),
//! then attached with `move_mount` onto the target descriptor. New file
//! systems are built with `fsopen`/`fsconfig`/`fsmount` and attached the same
//! way. Nothing is looked up again by path after it was checked, except by
//! `umount2` (see [`System::unmount`] below).
//!
//! Fallbacks to mount(2), on `/proc/self/fd/N` of the `O_PATH` descriptor
//! of the target (the kernel follows that magic link to exactly the object
//! the descriptor holds; `/proc` must be a procfs, which is checked):
//! * [`System::mount_fs`]: when `fsconfig` refuses the source, an option
//!   or the creation with `EINVAL`/`EOPNOTSUPP` (mount(2) hands the whole
//!   data string to the file system, which a few parse differently from
//!   single parameters; for tmpfs both ways agree, errors included), and for
//!   `MS_POSIXACL`, which the new API cannot express;
//! * [`System::set_propagation`]: when `mount_setattr` fails with `ENOSYS`
//!   (kernels before 5.12) or `EINVAL`;
//! * both, always, after [`LiveSystem::set_legacy_mount_api`]`(true)` (used
//!   by tests to check that the two ways agree).
//!
//! When `/proc/self/fd` is not on a procfs, a fallback that was only tried
//! after a new-API error returns that error, and a forced one `ENOSYS`.
//!
//! # Unmounting
//!
//! `umount2` takes no descriptor, and unmounting through `/proc/self/fd/N`
//! would fail with `EBUSY` (the descriptor itself holds the mount). So the
//! target is first resolved safely (a symlink anywhere → `ELOOP`), the
//! descriptor is closed, and `umount2(path, UMOUNT_NOFOLLOW [| MNT_DETACH])`
//! runs on the literal path. `UMOUNT_NOFOLLOW` covers the leaf; the residual
//! race is that someone able to write to a parent directory could swap a
//! parent component for a symlink between the check and the `umount2` (the
//! same window snap-update-ns has). With a root other than the process's
//! `/` the path given to `umount2` is `/proc/self/fd/ROOT/...`.
//!
//! # Writable mimics
//!
//! [`System::set_aside`] keeps a recursive detached clone of a directory (an
//! `open_tree` descriptor, never reachable by path), and
//! [`System::bind_from_aside`] clones one entry out of that detached tree
//! and attaches it. Cloning out of a detached tree is a recent kernel
//! capability (older kernels only clone mounts of the caller's namespace);
//! on this project's kernel (6.18) it works (tested in
//! `crates/sys/tests/live_system.rs`), and no staging directory
//! such as `/tmp/.snap` is ever used. On a kernel without it
//! `bind_from_aside` fails; no fallback is implemented.
//!
//! # Creating
//!
//! `mkdir` and `mkfile` create with `O_EXCL` semantics, open what they made
//! without following symlinks, check it is of the right type, owned by our
//! effective uid and on the parent's file system (else `EEXIST`: someone
//! swapped it), then `fchown` and `fchmod` it, so the mode is exact whatever
//! the umask (and set-id bits survive the chown).
//!
//! # Directory descriptor cache
//!
//! Resolving every path from the root again made each layout entry cost
//! about ten `openat2` walks (a `mkdir` walk of `/srv/ro/l` checks and
//! creates at `/`, `/srv` and `/srv/ro`, each call re-walking its parent from
//! `/`). So the `O_PATH` descriptors of directories resolved as above (no
//! symlink at any component) are kept by path, and a later lookup starts from
//! the longest kept ancestor instead of the root, still with
//! `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH` for the
//! rest (a single name, usually). Why that is as safe as walking from `/`:
//!
//! * A kept descriptor pins the directory (dentry and mount) it was resolved
//!   to, and that resolution followed no symlink. Operating relative to it
//!   is exactly what each call already did between its walk and its `*at`
//!   call; the cache only makes that window longer. Someone who can rename
//!   a component in the meantime could already win the race within a call;
//!   no symlink is ever followed either way, and the object acted on is
//!   always a real directory that the safe walk found.
//! * What a path leads to changes under our own hands only by a mount, an
//!   unmount or a removal. A mount over a kept directory or over one of its
//!   ancestors makes the path lead into the new mount while the descriptor
//!   still points into the covered tree; a mount below a kept directory
//!   changes nothing about it (lookups from it cross into the new mount).
//!   So a [`System::bind`], [`System::mount_fs`] or
//!   [`System::bind_from_aside`] at a target forgets the directories kept
//!   at the target and below it, and keeps the others (issue 11: the
//!   cache was emptied at every mount, so every entry walked from `/`
//!   again). With mount propagation a mount made at one path can also
//!   appear at others (a peer of a shared mount), so a prefix test is
//!   enough only where nothing propagates: the mount the target is in is
//!   asked (`statx` for its unique ID, `statmount` for its propagation,
//!   once per mount), and if it is shared, or a kernel before 6.8 cannot
//!   tell, the whole cache is emptied, as before. (The kernel propagates a
//!   new mount only from a shared destination; a mount that is not shared
//!   has neither peers nor slaves.) [`System::unmount`] forgets what is at
//!   or below its target when the mount it takes away is attached to one
//!   that is not shared (an unmount propagates to the parent's peers) and,
//!   for a lazy unmount, when the tree it takes along was just made private
//!   by `set_propagation` (the executor does that before every lazy
//!   unmount); otherwise it empties the whole cache. Either way no kept
//!   descriptor inside the unmounted tree keeps it busy.
//!   [`System::remove`] forgets the removed path and what is below it. Kept leaves (below) are forgotten by any mount or removal.
//!   `mkdir`, `mkfile` and `symlink` only add new names, which no kept path
//!   can go through (a kept directory exists, so creating at its name
//!   fails), and the directory `mkdir` made is kept itself.
//!   `set_propagation` and `set_aside` change no path (the first forgets
//!   what is known of mounts' propagation).
//! * Lookups relative to a kept descriptor cross mount points below it as
//!   any lookup does; only mounts at or above it are not seen, and those
//!   forget it.
//! * [`System::stat`] (which follows symlinks) never uses the cache.
//!
//! The cache holds at most [`DIR_CACHE_MAX`] descriptors (emptied when
//! full). With each kept directory go its `fstatfs` answer once asked (a
//! file system changes only by a mount at the directory, which forgets it)
//! and its `st_dev` when a `stat` gave it: the trespassing check asks
//! `statfs` of the same few directories for every entry, and a `mkdir`
//! compares the new directory's device with its parent's. A `mkdir` of a
//! kept directory's path answers "exists" without a system call.
//!
//! What goes in, besides the directories walked to: [`System::lstat`] of a
//! path whose parent is kept is one `fstatat` on the parent; otherwise
//! (typically the target and the source of an entry, just after the
//! previous entry's mount emptied the cache) it opens the object itself in
//! one `openat2` walk from the longest kept ancestor (`O_PATH | O_NOFOLLOW`
//! with the same resolve flags: a symlink leaf is opened as itself and
//! reported as one, a symlink above it is `ELOOP`), `fstat`s it and keeps
//! it: a directory with the directories, anything else but a symlink among
//! the last [`LEAF_CACHE_MAX`] others. The bind that follows the executor's
//! check of its source and target then attaches exactly the objects that
//! were checked, with no lookup in between (issue 11: the source was looked
//! up by the check and again by the bind). A second `lstat` into the same
//! directory keeps the directory instead (the planner asking about many
//! siblings). [`System::statfs`] of a directory keeps it (the trespassing
//! check's, before a `mkdir` into it). `/` is always the root descriptor.
//! The kept objects are forgotten with the directories.
//!
//! [`System::is_mount_point`] asks `statx` (`STATX_ATTR_MOUNT_ROOT`) about
//! the safely opened path: it tells whether the object the path leads to now
//! is the root of a mount. A missing path is not a mount point.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use linux_raw_sys::general as raw;
use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Stat, StatxAttributes, StatxFlags, fchmod,
    fchown, fstat, fstatfs, mkdirat, openat, openat2, readlinkat, statat, statx, symlinkat,
    unlinkat,
};
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountPropagationFlags, MoveMountFlags,
    OpenTreeFlags, UnmountFlags, fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount,
    fsopen, move_mount, open_tree, unmount,
};
use rustix::process::{Gid, Uid, geteuid};
use snapcell_core::paths;

use crate::mountinfo::{MountTableError, read_mountinfo};
use crate::system::{AsideId, Errno, FileKind, FileMeta, FsMeta, MountFlags, SysResult, System};

/// How many times an `openat2` lookup that raced with a rename or a mount
/// (`EAGAIN`) is tried again.
const RESOLVE_RETRIES: usize = 32;

/// At most how many directory descriptors [`LiveSystem`] keeps (see the
/// module's "Directory descriptor cache").
pub const DIR_CACHE_MAX: usize = 256;

/// At most how many other descriptors (files) [`LiveSystem`] keeps from
/// [`System::lstat`] for a bind that follows (see the module's "Directory
/// descriptor cache").
pub const LEAF_CACHE_MAX: usize = 4;

/// `ST_RDONLY` in `statfs.f_flags`.
const ST_RDONLY: i64 = 1;

/// A directory kept by [`LiveSystem`], with what is known of it.
#[derive(Debug)]
struct Kept {
    fd: Arc<OwnedFd>,
    /// `fstatfs`'s answer, once asked (it changes only by a mount at the
    /// directory, which forgets it).
    fs: Option<FsMeta>,
    /// Its `st_dev`, when a `stat` of it was made anyway.
    dev: Option<u64>,
}

/// The system, resolved from a root directory descriptor.
#[derive(Debug)]
pub struct LiveSystem {
    root: Arc<OwnedFd>,
    /// `fstatfs` of the root, once asked.
    root_fs: Option<FsMeta>,
    /// Directories resolved safely, by absolute path (never `/`).
    dirs: HashMap<String, Kept>,
    /// Whether the mount of each unique mount ID asked about is shared
    /// (see the module's "Directory descriptor cache"); forgotten when a
    /// propagation is changed.
    shared_mounts: HashMap<u64, bool>,
    /// The target of the last `set_propagation` that made a whole tree
    /// private, while no mount or unmount followed it: a lazy unmount of
    /// exactly that tree then propagates nowhere from inside it.
    private_tree: Option<String>,
    /// The effective uid, once asked (it does not change during an update).
    euid: Option<u32>,
    /// The last path [`System::lstat`] found missing: a `mkdir` of it
    /// right after (the executor's check, then the creation) tries
    /// `mkdirat` at once instead of looking first. Only a hint: `mkdirat`
    /// answers `EEXIST` if it is there by then, which is handled as before.
    last_missing: Option<String>,
    /// Other objects (not directories, not symlinks) that [`System::lstat`]
    /// opened, by absolute path: a bind of the same path then uses them.
    /// Emptied with `dirs`.
    leaves: Vec<(String, Arc<OwnedFd>)>,
    /// The parent of the last object [`System::lstat`] opened in one walk
    /// (its parent not kept): a second look into the same directory keeps
    /// the directory instead. Emptied with `dirs`.
    last_walk_parent: Option<String>,
    /// Whether `root` is the process's `/` (then `umount2` gets the literal
    /// path; otherwise a path through `/proc/self/fd/ROOT`).
    root_is_slash: bool,
    asides: HashMap<u32, OwnedFd>,
    next_aside: u32,
    legacy: bool,
}

impl LiveSystem {
    /// The system seen from the process's `/`.
    pub fn new() -> SysResult<LiveSystem> {
        let root = rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(LiveSystem {
            root: Arc::new(root),
            root_fs: None,
            dirs: HashMap::new(),
            shared_mounts: HashMap::new(),
            private_tree: None,
            euid: None,
            last_missing: None,
            leaves: Vec::new(),
            last_walk_parent: None,
            root_is_slash: true,
            asides: HashMap::new(),
            next_aside: 1,
            legacy: false,
        })
    }

    /// The system seen from the directory `root` (an `O_PATH` descriptor is
    /// enough): `/x` means `x` below it. Used by tests.
    pub fn with_root(root: OwnedFd) -> LiveSystem {
        LiveSystem {
            root: Arc::new(root),
            root_fs: None,
            dirs: HashMap::new(),
            shared_mounts: HashMap::new(),
            private_tree: None,
            euid: None,
            last_missing: None,
            leaves: Vec::new(),
            last_walk_parent: None,
            root_is_slash: false,
            asides: HashMap::new(),
            next_aside: 1,
            legacy: false,
        }
    }

    /// Make [`System::mount_fs`] and [`System::set_propagation`] use
    /// mount(2) on `/proc/self/fd/N` instead of the new mount API.
    pub fn set_legacy_mount_api(&mut self, legacy: bool) {
        self.legacy = legacy;
    }

    /// Forget every kept directory descriptor (after anything that may
    /// change what a path leads to).
    fn forget_dirs(&mut self) {
        self.dirs.clear();
        self.leaves.clear();
        self.last_walk_parent = None;
        self.root_fs = None;
    }

    /// Forget what a mount at `target` (or the removal of `target`) may
    /// have changed, when nothing propagates from it: the kept objects at
    /// `target` and below it, and every kept leaf (a bind uses the leaf
    /// just checked, never one from before a mount).
    fn forget_at_or_below(&mut self, target: &str) {
        let hit = |p: &str| {
            target == "/"
                || p.strip_prefix(target)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.dirs.retain(|p, _| !hit(p));
        self.leaves.clear();
        if self.last_walk_parent.as_deref().is_some_and(hit) {
            self.last_walk_parent = None;
        }
        if target == "/" {
            self.root_fs = None;
        }
    }

    /// Forget what attaching a mount at `target`, onto `dst` (its
    /// descriptor), may change: everything kept if the mount `dst` is in is
    /// shared (the new mount may then also appear at other paths, or if
    /// that cannot be told), else what is at or below `target`.
    fn forget_mounted_over(&mut self, target: &str, dst: BorrowedFd<'_>) {
        self.private_tree = None;
        if self.may_propagate(dst) {
            self.forget_dirs();
        } else {
            self.forget_at_or_below(target);
        }
    }

    /// Whether a mount attached onto `dst` may propagate: the mount holding
    /// `dst` is shared (peers, or slaves, that receive what is mounted on
    /// it), or that cannot be told (a kernel before 6.8: no `statmount`
    /// and no unique mount IDs). A mount that is not shared has neither
    /// peers nor slaves, and the kernel propagates nothing from it
    /// (`attach_recursive_mnt` propagates only for a shared destination).
    fn may_propagate(&mut self, dst: BorrowedFd<'_>) -> bool {
        match mount_id(dst) {
            Some(id) => self.is_shared(id),
            None => true,
        }
    }

    /// Whether the mount with the unique ID `id` is shared (or that
    /// cannot be told); asked once per mount.
    fn is_shared(&mut self, id: u64) -> bool {
        if let Some(shared) = self.shared_mounts.get(&id) {
            return *shared;
        }
        let shared =
            statmount_basic(id).is_none_or(|(prop, _)| prop & u64::from(raw::MS_SHARED) != 0);
        self.shared_mounts.insert(id, shared);
        shared
    }

    /// Whether unmounting the mount `fd` is at (the topmost one at
    /// `target`) changes what no path but `target` and those below it lead
    /// to: the mount it is attached to is not shared (an unmount propagates
    /// to the peers of the parent), and, for a lazy unmount, which takes the
    /// whole tree below along, that tree was just made private (its mounts
    /// have no peers that would lose theirs).
    fn unmount_is_local(&mut self, target: &str, fd: BorrowedFd<'_>, detach: bool) -> bool {
        if detach && self.private_tree.as_deref() != Some(target) {
            return false;
        }
        let Some((_, parent)) = mount_id(fd).and_then(statmount_basic) else {
            return false;
        };
        !self.is_shared(parent)
    }

    /// Our effective uid (asked once).
    fn euid(&mut self) -> u32 {
        *self.euid.get_or_insert_with(|| geteuid().as_raw())
    }

    /// Keep `fd`, a directory resolved safely, as `path`'s (`dev`: its
    /// `st_dev`, if known).
    fn keep_dir(&mut self, path: &str, fd: Arc<OwnedFd>, dev: Option<u64>) {
        if self.dirs.len() >= DIR_CACHE_MAX {
            self.dirs.clear();
        }
        self.dirs
            .insert(path.to_owned(), Kept { fd, fs: None, dev });
    }

    /// Keep `fd`, an object other than a directory or a symlink resolved
    /// safely, as `path`'s (the last few only).
    fn keep_leaf(&mut self, path: &str, fd: Arc<OwnedFd>) {
        if self.leaves.len() >= LEAF_CACHE_MAX {
            self.leaves.remove(0);
        }
        self.leaves.retain(|(p, _)| p != path);
        self.leaves.push((path.to_owned(), fd));
    }

    /// The longest kept ancestor of the checked, non-root `path` (the root
    /// if none) and the rest of the path below it.
    fn start_of<'p>(&self, path: &'p str) -> (Arc<OwnedFd>, &'p str) {
        let mut end = path.len();
        while let Some(i) = path[..end].rfind('/') {
            if i == 0 {
                break;
            }
            if let Some(kept) = self.dirs.get(&path[..i]) {
                return (kept.fd.clone(), &path[i + 1..]);
            }
            end = i;
        }
        (self.root.clone(), &path[1..])
    }

    /// `openat2` below the root (from the longest kept ancestor), refusing
    /// symlinks anywhere.
    fn resolve(&self, path: &str, flags: OFlags) -> SysResult<OwnedFd> {
        let rel = relative(path)?;
        let (start, rest) = if rel == "." {
            (self.root.clone(), rel)
        } else {
            self.start_of(path)
        };
        openat2_retry(
            start.as_fd(),
            rest,
            flags | OFlags::CLOEXEC,
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::BENEATH,
        )
    }

    /// An `O_PATH` descriptor of `path`, whatever its type (a kept one if
    /// `path` is kept).
    fn open_path(&self, path: &str) -> SysResult<Arc<OwnedFd>> {
        if path == "/" {
            return Ok(self.root.clone());
        }
        if let Some(kept) = self.dirs.get(path) {
            return Ok(kept.fd.clone());
        }
        if let Some((_, fd)) = self.leaves.iter().find(|(p, _)| p == path) {
            return Ok(fd.clone());
        }
        self.resolve(path, OFlags::PATH).map(Arc::new)
    }

    /// An `O_PATH` descriptor of the directory `path`, kept.
    fn open_dir(&mut self, path: &str) -> SysResult<Arc<OwnedFd>> {
        if relative(path)? == "." {
            return Ok(self.root.clone());
        }
        if let Some(kept) = self.dirs.get(path) {
            return Ok(kept.fd.clone());
        }
        let fd = Arc::new(self.resolve(path, OFlags::PATH | OFlags::DIRECTORY)?);
        self.keep_dir(path, fd.clone(), None);
        Ok(fd)
    }

    /// The parent directory of `path` (opened safely) and the last name.
    fn open_parent<'p>(&mut self, path: &'p str) -> SysResult<(Arc<OwnedFd>, &'p str)> {
        let (parent, name) = split(path)?;
        Ok((self.open_dir(parent)?, name))
    }

    /// The name `umount2` gets for `path` (already checked).
    fn umount_name(&self, path: &str) -> SysResult<String> {
        if self.root_is_slash {
            return Ok(path.to_owned());
        }
        check_procfs()?;
        Ok(format!(
            "/proc/self/fd/{}/{}",
            self.root.as_raw_fd(),
            relative(path)?
        ))
    }

    fn mount_fs_new_api(
        &self,
        source: &str,
        target: BorrowedFd<'_>,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> Result<(), Attempt> {
        let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(Attempt::Final)?;
        let config = |res: rustix::io::Result<()>| {
            res.map_err(|err| match err {
                Errno::INVAL | Errno::OPNOTSUPP => Attempt::Legacy(err),
                err => Attempt::Final(err),
            })
        };
        config(fsconfig_set_string(&fs, "source", source))?;
        for opt in data.split(',').filter(|opt| !opt.is_empty()) {
            match opt.split_once('=') {
                Some((key, value)) => config(fsconfig_set_string(&fs, key, value))?,
                None => config(fsconfig_set_flag(&fs, opt))?,
            }
        }
        for (flag, key) in SUPERBLOCK_FLAGS {
            if flags.contains(*flag) {
                config(fsconfig_set_flag(&fs, *key))?;
            }
        }
        config(fsconfig_create(&fs))?;
        let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, mount_attrs(flags))
            .map_err(Attempt::Final)?;
        attach(mnt.as_fd(), target).map_err(Attempt::Final)
    }
}

/// Superblock flags and the `fsconfig` flag that sets each.
const SUPERBLOCK_FLAGS: &[(MountFlags, &str)] = &[
    (MountFlags::RDONLY, "ro"),
    (MountFlags::SYNCHRONOUS, "sync"),
    (MountFlags::DIRSYNC, "dirsync"),
    (MountFlags::MANDLOCK, "mand"),
];

/// What to do after a new-API step failed.
enum Attempt {
    /// Try again with mount(2); the error stands if that cannot be tried.
    Legacy(Errno),
    Final(Errno),
}

/// The per-mount attributes of `flags`, with mount(2)'s atime rules
/// (relatime by default, `MS_STRICTATIME` overriding `MS_NOATIME`).
fn mount_attrs(flags: MountFlags) -> MountAttrFlags {
    let mut attrs = MountAttrFlags::empty();
    for (flag, attr) in [
        (MountFlags::RDONLY, MountAttrFlags::MOUNT_ATTR_RDONLY),
        (MountFlags::NOSUID, MountAttrFlags::MOUNT_ATTR_NOSUID),
        (MountFlags::NODEV, MountAttrFlags::MOUNT_ATTR_NODEV),
        (MountFlags::NOEXEC, MountAttrFlags::MOUNT_ATTR_NOEXEC),
        (
            MountFlags::NODIRATIME,
            MountAttrFlags::MOUNT_ATTR_NODIRATIME,
        ),
    ] {
        if flags.contains(flag) {
            attrs |= attr;
        }
    }
    if flags.contains(MountFlags::STRICTATIME) {
        attrs |= MountAttrFlags::MOUNT_ATTR_STRICTATIME;
    } else if flags.contains(MountFlags::NOATIME) {
        attrs |= MountAttrFlags::MOUNT_ATTR_NOATIME;
    }
    attrs
}

/// `move_mount` of the detached mount `mnt` onto `target`.
fn attach(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> SysResult<()> {
    move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// `open_tree(fd, "", OPEN_TREE_CLONE [| AT_RECURSIVE])`: a detached copy
/// of the mount (tree) at the object `fd` holds.
fn clone_tree(fd: BorrowedFd<'_>, recursive: bool) -> SysResult<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH
        | OpenTreeFlags::AT_SYMLINK_NOFOLLOW;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    open_tree(fd, "", flags)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)`. rustix
/// has no wrapper for it.
fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &raw::mount_attr) -> SysResult<()> {
    let mut flags = raw::AT_EMPTY_PATH | raw::AT_SYMLINK_NOFOLLOW;
    if recursive {
        flags |= raw::AT_RECURSIVE;
    }
    // SAFETY: the path is a NUL-terminated static string; `attr` points to
    // a live, correctly laid out `struct mount_attr` (linux-raw-sys's layout
    // of the UAPI struct) whose size is passed along, and the kernel only
    // reads it during the call; `fd` is borrowed, so it stays open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            attr as *const raw::mount_attr,
            size_of::<raw::mount_attr>(),
        )
    };
    if ret < 0 {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    } else {
        Ok(())
    }
}

/// Refuse to name descriptors through `/proc/self/fd` unless `/proc` is a
/// procfs (anything else there would not give the magic links).
fn check_procfs() -> SysResult<()> {
    let magic = rustix::fs::statfs("/proc/self/fd")?.f_type as i64;
    if magic == raw::PROC_SUPER_MAGIC as i64 {
        Ok(())
    } else {
        Err(Errno::NOSYS)
    }
}

/// `/proc/self/fd/N` of `fd`, for mount(2).
fn proc_fd_path(fd: BorrowedFd<'_>) -> SysResult<String> {
    check_procfs()?;
    Ok(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn openat2_retry(
    dir: BorrowedFd<'_>,
    rel: &str,
    flags: OFlags,
    resolve: ResolveFlags,
) -> SysResult<OwnedFd> {
    let mut tries = 0;
    loop {
        match openat2(dir, rel, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN) if tries < RESOLVE_RETRIES => tries += 1,
            other => return other,
        }
    }
}

// The path rules are core's (`snapcell_core::paths`); a path or name that
// breaks them is `EINVAL` here.

/// Check that `path` is absolute and clean; the path below `/` (`.` for `/`).
fn relative(path: &str) -> SysResult<&str> {
    paths::below_root(path).ok_or(Errno::INVAL)
}

/// Check that `name` is one plain path component.
fn check_name(name: &str) -> SysResult<()> {
    if paths::is_name(name) {
        Ok(())
    } else {
        Err(Errno::INVAL)
    }
}

/// Split a checked path into its parent and its last name; `/` has none.
fn split(path: &str) -> SysResult<(&str, &str)> {
    paths::split_parent(path).ok_or(Errno::INVAL)
}

fn kind_of(mode: u32) -> FileKind {
    match FileType::from_raw_mode(mode) {
        FileType::Directory => FileKind::Dir,
        FileType::RegularFile => FileKind::File,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

fn meta_of(st: &Stat) -> FileMeta {
    FileMeta {
        kind: kind_of(st.st_mode),
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        dev: st.st_dev,
    }
}

fn not_found_is_none<T>(res: SysResult<T>) -> SysResult<Option<T>> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(Errno::NOENT) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The kind of `name` in `dir`, not following a symlink.
fn kind_at(dir: BorrowedFd<'_>, name: &str) -> SysResult<FileKind> {
    Ok(kind_of(
        statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode,
    ))
}

/// After creating `fd`'s object: prove it is of `kind` and ours (owned by
/// our effective uid, on the parent's file system), then give it its owner
/// and its exact mode (mkdirat and openat apply the umask, and chown clears
/// set-id bits).
/// `parent_dev` is the parent's `st_dev` if known (else it is asked),
/// `euid` our effective uid. Returns the new object's `st_dev` and the
/// parent's.
#[allow(clippy::too_many_arguments)]
fn finish_new(
    fd: &OwnedFd,
    parent: &OwnedFd,
    parent_dev: Option<u64>,
    euid: u32,
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
) -> SysResult<(u64, u64)> {
    let st = fstat(fd)?;
    let parent_dev = match parent_dev {
        Some(dev) => dev,
        None => fstat(parent)?.st_dev,
    };
    if kind_of(st.st_mode) != kind || st.st_uid != euid || st.st_dev != parent_dev {
        return Err(Errno::EXIST);
    }
    fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    fchmod(fd, Mode::from_raw_mode(mode & 0o7777))?;
    Ok((st.st_dev, parent_dev))
}

/// The unique ID of the mount `fd`'s object is in (`None` before 6.8).
fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let stx = statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
        StatxFlags::from_bits_retain(raw::STATX_MNT_ID_UNIQUE),
    )
    .ok()?;
    (stx.stx_mask & raw::STATX_MNT_ID_UNIQUE != 0).then_some(stx.stx_mnt_id)
}

/// `statmount(id, STATMOUNT_MNT_BASIC)`'s `mnt_propagation` (`MS_SHARED`,
/// `MS_SLAVE`, ... bits) and `mnt_parent_id` (the unique ID of the mount
/// it is attached to); `None` when it cannot be asked (before 6.8).
fn statmount_basic(id: u64) -> Option<(u64, u64)> {
    let req = raw::mnt_id_req {
        size: raw::MNT_ID_REQ_SIZE_VER0,
        spare: 0,
        mnt_id: id,
        param: u64::from(raw::STATMOUNT_MNT_BASIC),
        mnt_ns_id: 0,
    };
    let mut buf = std::mem::MaybeUninit::<raw::statmount>::zeroed();
    // SAFETY: `req` is a live `struct mnt_id_req` whose first
    // `MNT_ID_REQ_SIZE_VER0` bytes (its size field says so) are the
    // version-0 request the kernel reads; `buf` is a zeroed, writable
    // `struct statmount` of the size passed, which the kernel fills (the
    // basic fields only: no strings are asked for), and it outlives the
    // call; flags are 0.
    let ret = unsafe {
        libc::syscall(
            libc::c_long::from(raw::__NR_statmount),
            &req as *const raw::mnt_id_req,
            buf.as_mut_ptr(),
            size_of::<raw::statmount>(),
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return None;
    }
    // SAFETY: zeroed at first and written by the kernel: every field is a
    // plain integer, any bit pattern is valid.
    let sm = unsafe { buf.assume_init() };
    (sm.mask & u64::from(raw::STATMOUNT_MNT_BASIC) != 0)
        .then_some((sm.mnt_propagation, sm.mnt_parent_id))
}

fn utf8(bytes: Vec<u8>) -> SysResult<String> {
    String::from_utf8(bytes).map_err(|_| Errno::ILSEQ)
}

impl System for LiveSystem {
    fn lstat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        let rel = relative(path)?;
        if rel == "." {
            return Ok(Some(meta_of(&fstat(&self.root)?)));
        }
        let (parent, name) = split(path)?;
        if self.last_walk_parent.as_deref() == Some(parent) {
            // Looking around one directory (the planner, a mimic's
            // listing): keep it, every next look is one `fstatat`. (If it
            // cannot be opened, the walk below says why.)
            let _ = self.open_dir(parent);
        }
        if let Some(dir) = self
            .dirs
            .get(parent)
            .map(|k| &k.fd)
            .or((parent == "/").then_some(&self.root))
        {
            let found = not_found_is_none(
                statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map(|st| meta_of(&st)),
            )?;
            if found.is_none() {
                self.last_missing = Some(path.to_owned());
            }
            return Ok(found);
        }
        // The parent is not kept (typically just after a mount): open the
        // object itself in one walk from the longest kept ancestor (a
        // symlink leaf is opened as itself, one anywhere above is `ELOOP`),
        // and keep it for what comes next: the bind of a checked source or
        // target, or the next level of a creation walk.
        self.last_walk_parent = Some(parent.to_owned());
        let (start, rest) = self.start_of(path);
        let fd = match openat2_retry(
            start.as_fd(),
            rest,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::BENEATH,
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                self.last_missing = Some(path.to_owned());
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let meta = meta_of(&fstat(&fd)?);
        match meta.kind {
            FileKind::Symlink => {}
            FileKind::Dir => self.keep_dir(path, Arc::new(fd), Some(meta.dev)),
            FileKind::File | FileKind::Other => self.keep_leaf(path, Arc::new(fd)),
        }
        Ok(Some(meta))
    }

    fn stat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        let rel = relative(path)?;
        let fd = openat2_retry(
            self.root.as_fd(),
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        );
        match not_found_is_none(fd)? {
            Some(fd) => Ok(Some(meta_of(&fstat(&fd)?))),
            None => Ok(None),
        }
    }

    fn statfs(&mut self, path: &str) -> SysResult<FsMeta> {
        // The answer for a kept directory is kept with it (the trespassing
        // check asks about the same few directories for every entry).
        let known = if path == "/" {
            self.root_fs
        } else {
            self.dirs.get(path).and_then(|k| k.fs)
        };
        if let Some(fs) = known {
            return Ok(fs);
        }
        // A directory (the trespassing check's case) is kept: the `mkdir`
        // into it that typically follows starts there.
        let (fd, is_dir) = match self.open_dir(path) {
            Ok(fd) => (fd, true),
            Err(Errno::NOTDIR) => (self.open_path(path)?, false),
            Err(err) => return Err(err),
        };
        let st = fstatfs(&fd)?;
        let fs = FsMeta {
            magic: st.f_type as i64,
            read_only: (st.f_flags as i64) & ST_RDONLY != 0,
        };
        if path == "/" {
            self.root_fs = Some(fs);
        } else if let Some(kept) = self.dirs.get_mut(path).filter(|_| is_dir) {
            kept.fs = Some(fs);
        }
        Ok(fs)
    }

    fn mkdir(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        check_name(name)?;
        let path = if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        };
        if self.dirs.contains_key(&path) {
            // A kept directory: it is there (and a directory).
            return Ok(false);
        }
        let dir = self.open_dir(parent)?;
        let parent_dev = self.dirs.get(parent).and_then(|k| k.dev);
        // Most levels of a creation walk exist: look before trying (one call
        // instead of `mkdirat` failing with `EEXIST` and then a look; an
        // existing name is `EEXIST` even on a read-only file system, so the
        // answer is the same). Unless `lstat` has just found it missing.
        if self.last_missing.take().as_deref() != Some(path.as_str()) {
            match kind_at(dir.as_fd(), name) {
                Ok(FileKind::Dir) => return Ok(false),
                Ok(_) => return Err(Errno::EXIST),
                Err(Errno::NOENT) => {}
                Err(err) => return Err(err),
            }
        }
        match mkdirat(&dir, name, Mode::from_raw_mode(mode & 0o7777)) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                return match kind_at(dir.as_fd(), name)? {
                    FileKind::Dir => Ok(false),
                    _ => Err(Errno::EXIST),
                };
            }
            Err(err) => return Err(err),
        }
        let made = openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let euid = self.euid();
        let (dev, parent_dev) =
            finish_new(&made, &dir, parent_dev, euid, FileKind::Dir, mode, uid, gid)?;
        if let Some(kept) = self.dirs.get_mut(parent) {
            kept.dev = Some(parent_dev);
        }
        // Made by us and checked: the next level of a creation walk starts here.
        self.keep_dir(&path, Arc::new(made), Some(dev));
        Ok(true)
    }

    fn mkfile(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        check_name(name)?;
        let dir = self.open_dir(parent)?;
        let made = match openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o7777),
        ) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => {
                return match kind_at(dir.as_fd(), name)? {
                    FileKind::File => Ok(false),
                    _ => Err(Errno::EXIST),
                };
            }
            Err(err) => return Err(err),
        };
        let parent_dev = self.dirs.get(parent).and_then(|k| k.dev);
        let euid = self.euid();
        let (_, parent_dev) = finish_new(
            &made,
            &dir,
            parent_dev,
            euid,
            FileKind::File,
            mode,
            uid,
            gid,
        )?;
        if let Some(kept) = self.dirs.get_mut(parent) {
            kept.dev = Some(parent_dev);
        }
        Ok(true)
    }

    fn symlink(&mut self, parent: &str, name: &str, target: &str) -> SysResult<()> {
        check_name(name)?;
        let dir = self.open_dir(parent)?;
        symlinkat(target, &dir, name)
    }

    fn readlink(&mut self, path: &str) -> SysResult<String> {
        let (dir, name) = self.open_parent(path)?;
        utf8(readlinkat(&dir, name, Vec::new())?.into_bytes())
    }

    fn read_dir(&mut self, path: &str) -> SysResult<Vec<(String, FileKind)>> {
        let fd = self.resolve(path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut dir = Dir::read_from(&fd)?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = utf8(name.to_vec())?;
            let kind = match entry.file_type() {
                FileType::Unknown => kind_at(fd.as_fd(), &name)?,
                other => kind_of(other.as_raw_mode()),
            };
            out.push((name, kind));
        }
        Ok(out)
    }

    fn remove(&mut self, path: &str) -> SysResult<()> {
        let (dir, name) = self.open_parent(path)?;
        // Only what is at or below the removed name changes.
        self.forget_at_or_below(path);
        let flags = match kind_at(dir.as_fd(), name)? {
            FileKind::Dir => AtFlags::REMOVEDIR,
            _ => AtFlags::empty(),
        };
        unlinkat(&dir, name, flags)
    }

    fn bind(
        &mut self,
        source: &str,
        target: &str,
        recursive: bool,
        read_only: bool,
    ) -> SysResult<()> {
        relative(target)?;
        let src = self.open_path(source)?;
        let dst = self.open_path(target)?;
        self.forget_mounted_over(target, dst.as_fd());
        let tree = clone_tree(src.as_fd(), recursive)?;
        if read_only {
            let attr = raw::mount_attr {
                attr_set: raw::MOUNT_ATTR_RDONLY as u64,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            mount_setattr(tree.as_fd(), recursive, &attr)?;
        }
        attach(tree.as_fd(), dst.as_fd())
    }

    fn mount_fs(
        &mut self,
        source: &str,
        target: &str,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()> {
        let not_for_new_fs = MountFlags::BIND
            | MountFlags::MOVE
            | MountFlags::REMOUNT
            | MountFlags::REC
            | MountFlags::PROPAGATION;
        if flags.intersects(not_for_new_fs) {
            return Err(Errno::INVAL);
        }
        let dst = self.open_path(target)?;
        self.forget_mounted_over(target, dst.as_fd());
        let mut target_name = None;
        if !self.legacy && !flags.contains(MountFlags::POSIXACL) {
            match self.mount_fs_new_api(source, dst.as_fd(), fstype, flags, data) {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(err)) => return Err(err),
                Err(Attempt::Legacy(err)) => {
                    target_name = Some(proc_fd_path(dst.as_fd()).map_err(|_| err)?);
                }
            }
        }
        let target_name = match target_name {
            Some(name) => name,
            None => proc_fd_path(dst.as_fd())?,
        };
        let data = if data.is_empty() {
            None
        } else {
            Some(CString::new(data).map_err(|_| Errno::INVAL)?)
        };
        rustix::mount::mount(
            source,
            target_name.as_str(),
            fstype,
            rustix::mount::MountFlags::from_bits_retain(flags.0 as u32),
            data.as_deref(),
        )
    }

    fn set_propagation(&mut self, target: &str, propagation: MountFlags) -> SysResult<()> {
        let kind = propagation.difference(MountFlags::REC);
        let single = [
            MountFlags::SHARED,
            MountFlags::SLAVE,
            MountFlags::PRIVATE,
            MountFlags::UNBINDABLE,
        ]
        .contains(&kind);
        if !single {
            return Err(Errno::INVAL);
        }
        let recursive = propagation.contains(MountFlags::REC);
        let fd = self.open_path(target)?;
        // What is shared changes: ask again at the next mount.
        self.shared_mounts.clear();
        self.private_tree = None;
        let whole_tree_private = propagation == MountFlags::PRIVATE | MountFlags::REC;
        let result = if self.legacy {
            rustix::mount::mount_change(
                proc_fd_path(fd.as_fd())?.as_str(),
                MountPropagationFlags::from_bits_retain(propagation.0 as u32),
            )
        } else {
            let attr = raw::mount_attr {
                attr_set: 0,
                attr_clr: 0,
                propagation: kind.0,
                userns_fd: 0,
            };
            match mount_setattr(fd.as_fd(), recursive, &attr) {
                Err(err @ (Errno::NOSYS | Errno::INVAL)) => {
                    let name = proc_fd_path(fd.as_fd()).map_err(|_| err)?;
                    rustix::mount::mount_change(
                        name.as_str(),
                        MountPropagationFlags::from_bits_retain(propagation.0 as u32),
                    )
                }
                other => other,
            }
        };
        if result.is_ok() && whole_tree_private {
            self.private_tree = Some(target.to_owned());
        }
        result
    }

    fn unmount(&mut self, target: &str, detach: bool) -> SysResult<()> {
        // Refuses a symlink at any component; closed again at once (with
        // every kept descriptor at or below it), or the descriptor itself
        // would keep the mount busy.
        let fd = self.open_path(target)?;
        let local = self.unmount_is_local(target, fd.as_fd(), detach);
        drop(fd);
        self.private_tree = None;
        if local {
            self.forget_at_or_below(target);
        } else {
            self.forget_dirs();
        }
        let mut flags = UnmountFlags::NOFOLLOW;
        if detach {
            flags |= UnmountFlags::DETACH;
        }
        unmount(self.umount_name(target)?.as_str(), flags)
    }

    fn is_mount_point(&mut self, target: &str) -> SysResult<bool> {
        let fd = match self.open_path(target) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(false),
            Err(err) => return Err(err),
        };
        let stx = statx(
            &fd,
            "",
            AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
            StatxFlags::empty(),
        )?;
        if stx
            .stx_attributes_mask
            .contains(StatxAttributes::MOUNT_ROOT)
        {
            return Ok(stx.stx_attributes.contains(StatxAttributes::MOUNT_ROOT));
        }
        // Kernels before 5.8 do not tell; ask the mount table (paths there
        // are relative to the process's root).
        let entries = read_mountinfo().map_err(|err| match err {
            MountTableError::Open { errno, .. } | MountTableError::Read { errno, .. } => errno,
            MountTableError::NotUtf8 { .. } => Errno::IO,
            MountTableError::Parse(_) => Errno::INVAL,
        })?;
        Ok(entries.iter().any(|entry| entry.mount_dir == target))
    }

    fn set_aside(&mut self, dir: &str) -> SysResult<AsideId> {
        let fd = self.open_dir(dir)?;
        let tree = clone_tree(fd.as_fd(), true)?;
        let id = self.next_aside;
        self.next_aside = id.checked_add(1).ok_or(Errno::NFILE)?;
        self.asides.insert(id, tree);
        Ok(AsideId(id))
    }

    fn bind_from_aside(
        &mut self,
        aside: AsideId,
        name: &str,
        target: &str,
        recursive: bool,
    ) -> SysResult<()> {
        check_name(name)?;
        relative(target)?;
        let tree = self.asides.get(&aside.0).ok_or(Errno::BADF)?;
        let src = openat2_retry(
            tree.as_fd(),
            name,
            OFlags::PATH | OFlags::CLOEXEC,
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::BENEATH,
        )?;
        let dst = self.open_path(target)?;
        self.forget_mounted_over(target, dst.as_fd());
        let clone = clone_tree(src.as_fd(), recursive)?;
        attach(clone.as_fd(), dst.as_fd())
    }

    fn release_aside(&mut self, aside: AsideId) {
        self.asides.remove(&aside.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_absolute_and_clean() {
        assert_eq!(relative("/"), Ok("."));
        assert_eq!(relative("/a/b"), Ok("a/b"));
        for bad in [
            "", "a", "a/b", "/a/", "//", "/a//b", "/./a", "/a/.", "/a/..", "/..", "/a\0b",
        ] {
            assert_eq!(relative(bad), Err(Errno::INVAL), "{bad:?}");
        }
        assert_eq!(split("/a"), Ok(("/", "a")));
        assert_eq!(split("/a/b/c"), Ok(("/a/b", "c")));
        assert_eq!(split("/"), Err(Errno::INVAL));
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert_eq!(check_name(bad), Err(Errno::INVAL), "{bad:?}");
        }
    }

    #[test]
    fn mount_attributes_follow_mount2_atime_rules() {
        assert_eq!(mount_attrs(MountFlags::empty()), MountAttrFlags::empty());
        assert_eq!(
            mount_attrs(MountFlags::NOSUID | MountFlags::NODEV | MountFlags::RDONLY),
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_RDONLY
        );
        assert_eq!(
            mount_attrs(MountFlags::NOATIME),
            MountAttrFlags::MOUNT_ATTR_NOATIME
        );
        assert_eq!(
            mount_attrs(MountFlags::NOATIME | MountFlags::STRICTATIME),
            MountAttrFlags::MOUNT_ATTR_STRICTATIME
        );
    }
}
