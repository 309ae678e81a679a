//! [`FakeSystem`]: an in-memory [`System`] for tests, without root.
//!
//! The model is a small VFS:
//!
//! * **Nodes** (directories, files, symbolic links, other objects) with mode,
//!   owner and size, each belonging to a **file system** (magic, read-only
//!   flag, device number). [`FakeSystem::mark_fs`] moves a subtree to a file
//!   system of its own, e.g. a read-only squashfs base or a writable host
//!   `/etc`.
//! * **Mounts**, each attaching a node (the root of a new file system, or any
//!   node for bind mounts) at a path, on top of a parent mount. Resolving a
//!   path switches into the most recent mount attached at each prefix, so a
//!   mount hides what is below it and unmounting brings it back. Bind mounts
//!   share nodes with their source: writes through either are visible in both.
//!   Recursive binds and trees set aside copy the submounts.
//! * **Symlink refusal** as the real system's fd walks do it: every call
//!   except `stat` refuses a symbolic link in a non-final component with
//!   `ELOOP`; the calls that act on an object itself (everything but
//!   `lstat`, `readlink`, `remove` and the creating calls, which act on a
//!   name in a directory) refuse a symlink as the last component too;
//!   `stat` follows links (at most 40).
//! * A **call log** (`mkdir "/usr" "lib" 0755 0 0`, `bind "/a" "/b" rec ro`,
//!   `unmount "/x" detach`, failures suffixed ` -> EROFS`) and **fault
//!   injection**: fail the k-th mutating call from now
//!   ([`FakeSystem::fail_nth_mutation`]) or every call of one operation on
//!   one path ([`FakeSystem::fail_on`]).
//!
//! Mount propagation is recorded but has no effect; there are no open files,
//! so nothing is ever busy except mount points.
//!
//! Every call gives what [`LiveSystem`] gives on the kernel, errors included
//! (checked call by call by `crates/test-support/tests/fake_vs_live.rs`),
//! except where the fake differs on purpose:
//!
//! * `is_mount_point` answers from the mount table, as
//!   `/proc/self/mountinfo` does, so a mount hidden by a later mount over one
//!   of its parents still counts; `LiveSystem` asks `statx` about what the
//!   path leads to now, where the hidden mount is not reachable.
//! * `mount_fs` takes any file system type (there is no registry: profiles,
//!   snapd's unit-test vectors among them, name types such as `none`) and
//!   reads only `mode=`, `uid=` and `gid=` of the data, validating nothing.
//! * Device numbers and directory sizes are the fake's own.
//!
//! [`LiveSystem`]: snapcell_sys::live::LiveSystem

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use snapcell_core::goquote::quote;
use snapcell_core::paths;
use snapcell_sys::system::{
    AsideId, Errno, FileKind, FileMeta, FsMeta, MountFlags, SQUASHFS_MAGIC, SysResult, System,
    TMPFS_MAGIC,
};

use crate::errno;

/// `EXT4_SUPER_MAGIC`: what the fake's root file system is until marked otherwise.
pub const EXT4_MAGIC: i64 = 0xEF53;

/// How many symbolic links `stat` follows before `ELOOP`.
const MAX_LINKS: usize = 40;

type NodeId = usize;
type FsId = usize;
type MountId = u32;

#[derive(Clone, Debug)]
enum Content {
    /// Children in creation ("readdir") order.
    Dir(Vec<(String, NodeId)>),
    File,
    Symlink(String),
    Other,
}

#[derive(Clone, Debug)]
struct Node {
    fs: FsId,
    content: Content,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
}

impl Node {
    fn kind(&self) -> FileKind {
        match self.content {
            Content::Dir(_) => FileKind::Dir,
            Content::File => FileKind::File,
            Content::Symlink(_) => FileKind::Symlink,
            Content::Other => FileKind::Other,
        }
    }
}

#[derive(Clone, Debug)]
struct Fs {
    magic: i64,
    read_only: bool,
    dev: u64,
}

/// How a mount came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MountOrigin {
    /// The root file system.
    Root,
    /// `mount_fs`.
    NewFs,
    /// `bind` (or a submount copied by a recursive bind).
    Bind,
    /// `bind_from_aside` (or a submount copied with it).
    Aside,
}

#[derive(Clone, Debug)]
struct Mount {
    id: MountId,
    parent: Option<MountId>,
    at: String,
    root: NodeId,
    fs_type: String,
    source: String,
    data: String,
    read_only: bool,
    propagation: MountFlags,
    origin: MountOrigin,
}

#[derive(Clone, Debug)]
struct AsideMount {
    /// Path relative to the tree set aside ("" for its root).
    rel: String,
    parent: Option<usize>,
    root: NodeId,
    fs_type: String,
    source: String,
    data: String,
    read_only: bool,
}

#[derive(Clone, Debug)]
struct Aside {
    dir: String,
    mounts: Vec<AsideMount>,
}

/// One mount as [`FakeSystem::mounts`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub target: String,
    pub fs_type: String,
    /// The source given to `mount_fs`, the source path of `bind`, or
    /// `DIR/NAME` for `bind_from_aside` of a tree set aside from `DIR`.
    pub source: String,
    /// The data string given to `mount_fs` ("" for binds).
    pub data: String,
    pub read_only: bool,
    pub propagation: MountFlags,
    pub origin: MountOrigin,
    /// Whether it is reachable by path (not hidden by a later mount).
    pub visible: bool,
}

impl fmt::Display for MountInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}{}{}",
            self.target,
            self.fs_type,
            self.source,
            if self.read_only { " ro" } else { "" },
            if self.visible { "" } else { " (hidden)" }
        )
    }
}

/// The operations of [`System`], to name them in [`FakeSystem::fail_on`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Lstat,
    Stat,
    Statfs,
    Mkdir,
    Mkfile,
    Symlink,
    Readlink,
    ReadDir,
    Remove,
    Bind,
    MountFs,
    SetPropagation,
    Unmount,
    IsMountPoint,
    SetAside,
    BindFromAside,
}

impl Op {
    /// Whether the operation counts as a mutation for [`FakeSystem::fail_nth_mutation`].
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Op::Mkdir
                | Op::Mkfile
                | Op::Symlink
                | Op::Remove
                | Op::Bind
                | Op::MountFs
                | Op::SetPropagation
                | Op::Unmount
                | Op::BindFromAside
        )
    }
}

/// A canonical snapshot of a [`FakeSystem`] for equality checks: every mount
/// (identified by the chain of mount points from `/`, with its type, source,
/// read-only flag and the full content of the tree it attaches), the visible
/// tree, and the number of trees held aside. Device numbers, node identities,
/// mount order and propagation are left out, so a state rebuilt by unmounting
/// and mounting again compares equal to the original.
#[derive(Clone, PartialEq, Eq)]
pub struct FakeState {
    pub mounts: Vec<String>,
    pub tree: Vec<String>,
    pub asides: usize,
}

impl fmt::Debug for FakeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "FakeState {{")?;
        for m in &self.mounts {
            writeln!(f, "  {}", m.replace('\n', "\n    "))?;
        }
        writeln!(f, "  -- visible tree --")?;
        for t in &self.tree {
            writeln!(f, "  {t}")?;
        }
        write!(f, "  asides held: {}\n}}", self.asides)
    }
}

/// A resolved path: the mount it is in and its node.
#[derive(Clone, Debug)]
struct Resolved {
    mount: MountId,
    node: NodeId,
}

/// The in-memory system. See the module documentation.
#[derive(Clone, Debug)]
pub struct FakeSystem {
    nodes: Vec<Node>,
    fss: Vec<Fs>,
    mounts: Vec<Mount>,
    next_mount: MountId,
    asides: HashMap<u32, Aside>,
    next_aside: u32,
    log: Vec<(bool, String)>,
    mutations: usize,
    fail_nth: Option<(usize, Errno)>,
    fail_on: Vec<(Op, String, Errno)>,
}

impl Default for FakeSystem {
    fn default() -> FakeSystem {
        FakeSystem::new()
    }
}

/// `parent/name` for a clean absolute parent.
fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The components of a clean absolute path (none for `/`).
fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `path` is `base` or below it.
fn is_under(path: &str, base: &str) -> bool {
    base == "/" || path == base || path.starts_with(&format!("{base}/"))
}

/// Go's `%#o`.
fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_owned()
    } else {
        format!("0{mode:o}")
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// `EINVAL` unless `path` is absolute and clean, without NUL (as
/// `LiveSystem` refuses before any system call).
fn check_path(path: &str) -> SysResult<()> {
    if paths::is_clean_absolute(path) && !path.contains('\0') {
        Ok(())
    } else {
        Err(Errno::INVAL)
    }
}

/// `EINVAL` unless `propagation` is one of `SHARED`, `SLAVE`, `PRIVATE` and
/// `UNBINDABLE`, with or without `REC`, and nothing else.
fn check_propagation(propagation: MountFlags) -> SysResult<()> {
    let kind = propagation.difference(MountFlags::REC);
    let single = [
        MountFlags::SHARED,
        MountFlags::SLAVE,
        MountFlags::PRIVATE,
        MountFlags::UNBINDABLE,
    ]
    .contains(&kind);
    if single { Ok(()) } else { Err(Errno::INVAL) }
}

fn prop_name(flags: MountFlags) -> String {
    let mut names = Vec::new();
    let rec = flags.contains(MountFlags::REC);
    for (flag, n) in [
        (MountFlags::SHARED, "shared"),
        (MountFlags::SLAVE, "slave"),
        (MountFlags::PRIVATE, "private"),
        (MountFlags::UNBINDABLE, "unbindable"),
    ] {
        if flags.contains(flag) {
            names.push(format!("{}{n}", if rec { "r" } else { "" }));
        }
    }
    if names.is_empty() {
        format!("{:#x}", flags.0)
    } else {
        names.join("|")
    }
}

/// Parse `mode=`, `uid=`, `gid=` out of a tmpfs data string.
fn tmpfs_root_attrs(data: &str) -> (u32, u32, u32) {
    let (mut mode, mut uid, mut gid) = (0o1777, 0, 0);
    for opt in data.split(',') {
        if let Some(v) = opt.strip_prefix("mode=") {
            mode = u32::from_str_radix(v, 8).unwrap_or(mode) & 0o7777;
        } else if let Some(v) = opt.strip_prefix("uid=") {
            uid = v.parse().unwrap_or(uid);
        } else if let Some(v) = opt.strip_prefix("gid=") {
            gid = v.parse().unwrap_or(gid);
        }
    }
    (mode, uid, gid)
}

fn magic_name(magic: i64) -> String {
    match magic {
        TMPFS_MAGIC => "tmpfs".to_owned(),
        SQUASHFS_MAGIC => "squashfs".to_owned(),
        EXT4_MAGIC => "ext4".to_owned(),
        m => format!("{m:#x}"),
    }
}

fn fs_magic_for(fstype: &str) -> i64 {
    match fstype {
        "tmpfs" => TMPFS_MAGIC,
        "squashfs" => SQUASHFS_MAGIC,
        "ext4" => EXT4_MAGIC,
        _ => 0x6666,
    }
}

impl FakeSystem {
    /// A system holding only `/`: a writable ext4 directory, mode 0755, root-owned.
    pub fn new() -> FakeSystem {
        let root = Node {
            fs: 0,
            content: Content::Dir(Vec::new()),
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 4096,
        };
        FakeSystem {
            nodes: vec![root],
            fss: vec![Fs {
                magic: EXT4_MAGIC,
                read_only: false,
                dev: 0x801,
            }],
            mounts: vec![Mount {
                id: 1,
                parent: None,
                at: "/".to_owned(),
                root: 0,
                fs_type: "ext4".to_owned(),
                source: "/dev/root".to_owned(),
                data: String::new(),
                read_only: false,
                propagation: MountFlags::empty(),
                origin: MountOrigin::Root,
            }],
            next_mount: 2,
            asides: HashMap::new(),
            next_aside: 1,
            log: Vec::new(),
            mutations: 0,
            fail_nth: None,
            fail_on: Vec::new(),
        }
    }

    // ---- building the initial state (not logged, no faults) ----

    fn new_fs(&mut self, magic: i64, read_only: bool) -> FsId {
        let dev = 0x1000 + self.fss.len() as u64;
        self.fss.push(Fs {
            magic,
            read_only,
            dev,
        });
        self.fss.len() - 1
    }

    fn new_node(&mut self, fs: FsId, content: Content, mode: u32, uid: u32, gid: u32) -> NodeId {
        let size = match &content {
            Content::Dir(_) => 4096,
            Content::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        self.nodes.push(Node {
            fs,
            content,
            mode: mode & 0o7777,
            uid,
            gid,
            size,
        });
        self.nodes.len() - 1
    }

    /// Create (or find) the directory `path` and its missing parents
    /// (0755, root), returning its node. Panics on bad test input.
    fn ensure_dir(&mut self, path: &str) -> Resolved {
        assert!(
            paths::is_clean_absolute(path),
            "test path {path:?} must be absolute and clean"
        );
        let mut cur = self.root();
        let mut cur_path = "/".to_owned();
        for name in components(path) {
            let child_path = join(&cur_path, &name);
            let next = match self.child(cur.node, &name) {
                Some(c) => c,
                None => {
                    let fs = self.nodes[cur.node].fs;
                    let n = self.new_node(fs, Content::Dir(Vec::new()), 0o755, 0, 0);
                    self.add_child(cur.node, &name, n);
                    n
                }
            };
            assert!(
                matches!(self.nodes[next].content, Content::Dir(_)),
                "test path {child_path:?} is not a directory"
            );
            cur = self.descend(cur.mount, next, &child_path);
            cur_path = child_path;
        }
        cur
    }

    fn add_leaf(&mut self, path: &str, content: Content, mode: u32) -> NodeId {
        let parent = self.ensure_dir(&paths::dir(path));
        let name = paths::base(path);
        assert!(
            self.child(parent.node, &name).is_none(),
            "test path {path:?} already exists"
        );
        let fs = self.nodes[parent.node].fs;
        let n = self.new_node(fs, content, mode, 0, 0);
        self.add_child(parent.node, &name, n);
        n
    }

    /// Add directory `path` (and missing parents, 0755) with `mode`.
    pub fn add_dir(&mut self, path: &str, mode: u32) -> &mut FakeSystem {
        let r = self.ensure_dir(path);
        self.nodes[r.node].mode = mode & 0o7777;
        self
    }

    /// Add a regular file of `size` bytes.
    pub fn add_file(&mut self, path: &str, mode: u32, size: u64) -> &mut FakeSystem {
        let n = self.add_leaf(path, Content::File, mode);
        self.nodes[n].size = size;
        self
    }

    /// Add a symbolic link to `target`.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> &mut FakeSystem {
        self.add_leaf(path, Content::Symlink(target.to_owned()), 0o777);
        self
    }

    /// Add a device node, socket or FIFO.
    pub fn add_other(&mut self, path: &str, mode: u32) -> &mut FakeSystem {
        self.add_leaf(path, Content::Other, mode);
        self
    }

    /// Set the owner of an existing object (no symlinks followed).
    pub fn chown(&mut self, path: &str, uid: u32, gid: u32) -> &mut FakeSystem {
        let r = self.resolve(path, false).expect("test path exists");
        self.nodes[r.node].uid = uid;
        self.nodes[r.node].gid = gid;
        self
    }

    /// Put the subtree at `path` (as currently visible, not crossing
    /// mounts) on a file system of its own with `magic`, read-only or not.
    /// Works for `/` too.
    pub fn mark_fs(&mut self, path: &str, magic: i64, read_only: bool) -> &mut FakeSystem {
        let r = self.ensure_dir(path);
        let fs = self.new_fs(magic, read_only);
        let mut stack = vec![r.node];
        while let Some(n) = stack.pop() {
            self.nodes[n].fs = fs;
            if let Content::Dir(children) = &self.nodes[n].content {
                stack.extend(children.iter().map(|(_, c)| *c));
            }
        }
        self
    }

    /// [`FakeSystem::mark_fs`] read-only, e.g. with [`SQUASHFS_MAGIC`]:
    /// creating anything there fails with `EROFS`.
    pub fn mark_read_only(&mut self, path: &str, magic: i64) -> &mut FakeSystem {
        self.mark_fs(path, magic, true)
    }

    // ---- fault injection and the log ----

    /// Make the `k`-th mutating call from now (1-based) fail with `errno`
    /// without doing anything.
    pub fn fail_nth_mutation(&mut self, k: usize, errno: Errno) {
        self.fail_nth = Some((self.mutations + k, errno));
    }

    /// Make every `op` on `path` fail with `errno` (for mkdir, mkfile and
    /// symlink the path is `parent/name`; for binds, mount_fs and
    /// bind_from_aside it is the target).
    pub fn fail_on(&mut self, op: Op, path: &str, errno: Errno) {
        self.fail_on.push((op, path.to_owned(), errno));
    }

    /// Forget every injected fault.
    pub fn clear_faults(&mut self) {
        self.fail_nth = None;
        self.fail_on.clear();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.log.iter().map(|(_, s)| s.clone()).collect()
    }

    /// The mutating calls so far, in order.
    pub fn mutation_calls(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|(m, _)| *m)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// How many mutating calls were made (failed ones included).
    pub fn mutation_count(&self) -> usize {
        self.mutations
    }

    /// Forget the log (the mutation counter keeps counting).
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// Log a call and decide whether a fault hits it.
    fn enter(&mut self, op: Op, path: &str, desc: String) -> SysResult<()> {
        let mutation = op.is_mutation();
        self.log.push((mutation, desc));
        let mut fault = self
            .fail_on
            .iter()
            .find(|(o, p, _)| *o == op && p == path)
            .map(|(_, _, e)| *e);
        if mutation {
            self.mutations += 1;
            if let Some((k, e)) = self.fail_nth
                && k == self.mutations
            {
                fault = Some(e);
            }
        }
        match fault {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Note the outcome of the last logged call.
    fn leave<T>(&mut self, r: SysResult<T>) -> SysResult<T> {
        if let (Err(e), Some((_, last))) = (&r, self.log.last_mut()) {
            last.push_str(" -> ");
            last.push_str(&errno::name(*e));
        }
        r
    }

    /// [`FakeSystem::enter`] then the operation then [`FakeSystem::leave`].
    fn call<T>(
        &mut self,
        op: Op,
        path: &str,
        desc: String,
        f: impl FnOnce(&mut FakeSystem) -> SysResult<T>,
    ) -> SysResult<T> {
        let r = match self.enter(op, path, desc) {
            Ok(()) => f(self),
            Err(e) => Err(e),
        };
        self.leave(r)
    }

    // ---- inspection (not logged) ----

    /// The mounts, in the order they were made (the root file system first).
    pub fn mounts(&self) -> Vec<MountInfo> {
        self.mounts
            .iter()
            .map(|m| MountInfo {
                target: m.at.clone(),
                fs_type: m.fs_type.clone(),
                source: m.source.clone(),
                data: m.data.clone(),
                read_only: m.read_only,
                propagation: m.propagation,
                origin: m.origin,
                visible: self.is_visible(m),
            })
            .collect()
    }

    /// What `lstat` would say, without logging or faults.
    pub fn peek(&self, path: &str) -> Option<FileMeta> {
        let r = self.resolve(path, false).ok()?;
        Some(self.meta(&r))
    }

    /// The target of the symbolic link at `path`, without logging or faults.
    pub fn peek_link(&self, path: &str) -> Option<String> {
        let r = self.resolve(path, false).ok()?;
        match &self.nodes[r.node].content {
            Content::Symlink(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// The visible tree below `/`, one line per object, names sorted:
    /// `PATH dir|file|symlink|other MODE UID:GID [size=N] [-> TARGET] FS [ro]`.
    pub fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk_visible(&self.root(), "/", &mut out);
        out
    }

    /// The canonical snapshot (see [`FakeState`]).
    pub fn state(&self) -> FakeState {
        let mut mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| {
                let mut block = format!(
                    "{} {} {} {}{}",
                    self.chain(m),
                    m.fs_type,
                    m.source,
                    magic_name(self.fss[self.nodes[m.root].fs].magic),
                    if m.read_only { " ro" } else { "" }
                );
                let mut lines = Vec::new();
                self.walk_nodes(m.root, ".", &mut lines);
                for l in lines {
                    block.push('\n');
                    block.push_str(&l);
                }
                block
            })
            .collect();
        mounts.sort();
        FakeState {
            mounts,
            tree: self.tree(),
            asides: self.asides.len(),
        }
    }

    /// Trees set aside and not released.
    pub fn asides_held(&self) -> usize {
        self.asides.len()
    }

    fn chain(&self, m: &Mount) -> String {
        let mut ats = vec![m.at.clone()];
        let mut p = m.parent;
        while let Some(id) = p {
            match self.mount(id) {
                Some(pm) => {
                    ats.push(pm.at.clone());
                    p = pm.parent;
                }
                None => break,
            }
        }
        ats.reverse();
        ats.join(" > ")
    }

    fn describe(&self, n: NodeId, path: &str) -> String {
        let node = &self.nodes[n];
        let fs = &self.fss[node.fs];
        let (kind, extra) = match &node.content {
            Content::Dir(_) => ("dir", String::new()),
            Content::File => ("file", format!(" size={}", node.size)),
            Content::Symlink(t) => ("symlink", format!(" -> {t}")),
            Content::Other => ("other", String::new()),
        };
        format!(
            "{path} {kind} {} {}:{}{extra} {}{}",
            octal(node.mode),
            node.uid,
            node.gid,
            magic_name(fs.magic),
            if fs.read_only { " ro" } else { "" }
        )
    }

    fn walk_visible(&self, at: &Resolved, path: &str, out: &mut Vec<String>) {
        let ro = self.mount(at.mount).is_some_and(|m| m.read_only);
        let mut line = self.describe(at.node, path);
        if ro && !line.ends_with(" ro") {
            line.push_str(" ro");
        }
        out.push(line);
        if let Content::Dir(children) = &self.nodes[at.node].content {
            let mut children = children.clone();
            children.sort();
            for (name, c) in &children {
                let child_path = join(path, name);
                let next = self.descend(at.mount, *c, &child_path);
                self.walk_visible(&next, &child_path, out);
            }
        }
    }

    fn walk_nodes(&self, n: NodeId, path: &str, out: &mut Vec<String>) {
        out.push(self.describe(n, path));
        if let Content::Dir(children) = &self.nodes[n].content {
            let mut children = children.clone();
            children.sort();
            for (name, c) in &children {
                self.walk_nodes(*c, &format!("{path}/{name}"), out);
            }
        }
    }

    fn is_visible(&self, m: &Mount) -> bool {
        match self.resolve(&m.at, false) {
            Ok(r) => r.mount == m.id,
            Err(_) => false,
        }
    }

    // ---- the model ----

    fn root(&self) -> Resolved {
        Resolved {
            mount: self.mounts[0].id,
            node: self.mounts[0].root,
        }
    }

    fn mount(&self, id: MountId) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.id == id)
    }

    fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.nodes[dir].content {
            Content::Dir(children) => children.iter().find(|(n, _)| n == name).map(|(_, c)| *c),
            _ => None,
        }
    }

    fn add_child(&mut self, dir: NodeId, name: &str, child: NodeId) {
        if let Content::Dir(children) = &mut self.nodes[dir].content {
            children.push((name.to_owned(), child));
        }
    }

    /// Step from `mount` into `node` at `path`, switching into the mounts stacked there.
    fn descend(&self, mount: MountId, node: NodeId, path: &str) -> Resolved {
        let mut cur = Resolved { mount, node };
        while let Some(m) = self
            .mounts
            .iter()
            .rev()
            .find(|m| m.parent == Some(cur.mount) && m.at == path)
        {
            cur = Resolved {
                mount: m.id,
                node: m.root,
            };
        }
        cur
    }

    /// Resolve a clean absolute path. Symbolic links in non-final components
    /// are refused with `ELOOP` unless `follow`, which follows every link.
    fn resolve(&self, path: &str, follow: bool) -> SysResult<Resolved> {
        check_path(path)?;
        let mut todo = components(path);
        todo.reverse();
        let mut cur = self.root();
        let mut cur_path = "/".to_owned();
        let mut links = 0;
        while let Some(name) = todo.pop() {
            let Content::Dir(_) = &self.nodes[cur.node].content else {
                return Err(Errno::NOTDIR);
            };
            let child = self.child(cur.node, &name).ok_or(Errno::NOENT)?;
            let child_path = join(&cur_path, &name);
            if let Content::Symlink(target) = &self.nodes[child].content {
                if follow {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP);
                    }
                    let mut rest: Vec<String> = todo.iter().rev().cloned().collect();
                    let base = if target.starts_with('/') {
                        target.clone()
                    } else {
                        format!("{cur_path}/{target}")
                    };
                    rest.insert(0, base);
                    let next = paths::clean(&rest.join("/"));
                    todo = components(&next);
                    todo.reverse();
                    cur = self.root();
                    cur_path = "/".to_owned();
                    continue;
                }
                if !todo.is_empty() {
                    return Err(Errno::LOOP);
                }
                cur = Resolved {
                    mount: cur.mount,
                    node: child,
                };
                cur_path = child_path;
                continue;
            }
            cur = self.descend(cur.mount, child, &child_path);
            cur_path = child_path;
        }
        Ok(cur)
    }

    fn meta(&self, r: &Resolved) -> FileMeta {
        let node = &self.nodes[r.node];
        FileMeta {
            kind: node.kind(),
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            size: node.size,
            dev: self.fss[node.fs].dev,
        }
    }

    fn writable(&self, r: &Resolved) -> bool {
        let mount_ro = self.mount(r.mount).is_some_and(|m| m.read_only);
        !mount_ro && !self.fss[self.nodes[r.node].fs].read_only
    }

    /// Resolve a directory to create something in (no symlinks at all).
    fn resolve_parent_dir(&self, parent: &str) -> SysResult<Resolved> {
        let r = self.resolve(parent, false)?;
        match self.nodes[r.node].content {
            Content::Dir(_) => Ok(r),
            Content::Symlink(_) => Err(Errno::LOOP),
            _ => Err(Errno::NOTDIR),
        }
    }

    /// Resolve for an fd-based operation: no symlink anywhere, the leaf included.
    fn resolve_no_symlink(&self, path: &str) -> SysResult<Resolved> {
        let r = self.resolve(path, false)?;
        if let Content::Symlink(_) = self.nodes[r.node].content {
            return Err(Errno::LOOP);
        }
        Ok(r)
    }

    fn create(
        &mut self,
        parent: &str,
        name: &str,
        content: Content,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        if !valid_name(name) {
            return Err(Errno::INVAL);
        }
        let p = self.resolve_parent_dir(parent)?;
        if let Some(existing) = self.child(p.node, name) {
            let visible = self.descend(p.mount, existing, &join(parent, name));
            let same = matches!(
                (&self.nodes[visible.node].content, &content),
                (Content::Dir(_), Content::Dir(_)) | (Content::File, Content::File)
            );
            return if same { Ok(false) } else { Err(Errno::EXIST) };
        }
        if !self.writable(&p) {
            return Err(Errno::ROFS);
        }
        let fs = self.nodes[p.node].fs;
        let n = self.new_node(fs, content, mode, uid, gid);
        self.add_child(p.node, name, n);
        Ok(true)
    }

    /// The ids of `id` and every mount below it.
    fn subtree(&self, id: MountId) -> Vec<MountId> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            out.extend(
                self.mounts
                    .iter()
                    .filter(|m| m.parent == Some(cur))
                    .map(|m| m.id),
            );
            i += 1;
        }
        out
    }

    fn must_be_mount_root(&self, target: &str) -> SysResult<MountId> {
        let r = self.resolve_no_symlink(target)?;
        let m = self.mount(r.mount).ok_or(Errno::INVAL)?;
        if m.parent.is_none() || m.at != target || m.root != r.node {
            return Err(Errno::INVAL);
        }
        Ok(m.id)
    }

    /// A directory goes onto a directory, anything else onto a non-directory
    /// (`move_mount` says `EINVAL`, where mount(2) would say `ENOTDIR`).
    fn same_type(&self, a: NodeId, b: NodeId) -> SysResult<()> {
        let a_dir = matches!(self.nodes[a].content, Content::Dir(_));
        let b_dir = matches!(self.nodes[b].content, Content::Dir(_));
        if a_dir == b_dir {
            Ok(())
        } else {
            Err(Errno::INVAL)
        }
    }

    /// Attach a clone of the mounts below `src_mount` whose mount points are
    /// under `src_path`, re-rooted at `dst_path` under `new_parent`.
    fn clone_submounts(
        &mut self,
        src_mount: MountId,
        src_path: &str,
        new_parent: MountId,
        dst_path: &str,
        ro: bool,
        origin: MountOrigin,
    ) {
        let mut map: BTreeMap<MountId, MountId> = BTreeMap::new();
        map.insert(src_mount, new_parent);
        let below: Vec<Mount> = self
            .subtree(src_mount)
            .into_iter()
            .skip(1)
            .filter_map(|id| self.mount(id).cloned())
            .filter(|m| m.at != src_path && is_under(&m.at, src_path))
            .collect();
        // Parents come before children in `subtree` order.
        for m in below {
            let Some(parent) = m.parent.and_then(|p| map.get(&p).copied()) else {
                continue;
            };
            let at = format!(
                "{}{}",
                dst_path.trim_end_matches('/'),
                &m.at[src_path.trim_end_matches('/').len()..]
            );
            let id = self.attach(
                parent,
                &at,
                m.root,
                &m.fs_type,
                &m.source,
                &m.data,
                m.read_only || ro,
                origin,
            );
            map.insert(m.id, id);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn attach(
        &mut self,
        parent: MountId,
        at: &str,
        root: NodeId,
        fs_type: &str,
        source: &str,
        data: &str,
        read_only: bool,
        origin: MountOrigin,
    ) -> MountId {
        let id = self.next_mount;
        self.next_mount += 1;
        self.mounts.push(Mount {
            id,
            parent: Some(parent),
            at: at.to_owned(),
            root,
            fs_type: fs_type.to_owned(),
            source: source.to_owned(),
            data: data.to_owned(),
            read_only,
            propagation: MountFlags::empty(),
            origin,
        });
        id
    }

    fn do_bind(
        &mut self,
        source: &str,
        target: &str,
        recursive: bool,
        read_only: bool,
    ) -> SysResult<()> {
        check_path(target)?;
        let s = self.resolve_no_symlink(source)?;
        let t = self.resolve_no_symlink(target)?;
        self.same_type(s.node, t.node)?;
        let sm = self.mount(s.mount).cloned().ok_or(Errno::INVAL)?;
        let id = self.attach(
            t.mount,
            target,
            s.node,
            &sm.fs_type,
            source,
            "",
            sm.read_only || read_only,
            MountOrigin::Bind,
        );
        if recursive {
            self.clone_submounts(sm.id, source, id, target, read_only, MountOrigin::Bind);
        }
        Ok(())
    }

    fn do_mount_fs(
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
        if flags.intersects(not_for_new_fs) || fstype.is_empty() {
            return Err(Errno::INVAL);
        }
        let t = self.resolve_no_symlink(target)?;
        if !matches!(self.nodes[t.node].content, Content::Dir(_)) {
            // The new file system's root is a directory: see `same_type`.
            return Err(Errno::INVAL);
        }
        let read_only = flags.contains(MountFlags::RDONLY);
        let fs = self.new_fs(fs_magic_for(fstype), false);
        let (mode, uid, gid) = if fstype == "tmpfs" {
            tmpfs_root_attrs(data)
        } else {
            (0o755, 0, 0)
        };
        let root = self.new_node(fs, Content::Dir(Vec::new()), mode, uid, gid);
        self.attach(
            t.mount,
            target,
            root,
            fstype,
            source,
            data,
            read_only,
            MountOrigin::NewFs,
        );
        Ok(())
    }

    fn do_unmount(&mut self, target: &str, detach: bool) -> SysResult<()> {
        let id = self.must_be_mount_root(target)?;
        let subtree = self.subtree(id);
        if !detach && subtree.len() > 1 {
            return Err(Errno::BUSY);
        }
        self.mounts.retain(|m| !subtree.contains(&m.id));
        Ok(())
    }

    fn do_remove(&mut self, path: &str) -> SysResult<()> {
        check_path(path)?;
        if path == "/" {
            // No parent and no name.
            return Err(Errno::INVAL);
        }
        let parent = paths::dir(path);
        let name = paths::base(path);
        let p = self.resolve_parent_dir(&parent)?;
        if !self.writable(&p) {
            return Err(Errno::ROFS);
        }
        let child = self.child(p.node, &name).ok_or(Errno::NOENT)?;
        if self
            .mounts
            .iter()
            .any(|m| m.parent == Some(p.mount) && m.at == path)
        {
            return Err(Errno::BUSY);
        }
        if let Content::Dir(children) = &self.nodes[child].content
            && !children.is_empty()
        {
            return Err(Errno::NOTEMPTY);
        }
        if let Content::Dir(children) = &mut self.nodes[p.node].content {
            children.retain(|(n, _)| *n != name);
        }
        Ok(())
    }

    fn do_set_aside(&mut self, dir: &str) -> SysResult<AsideId> {
        let r = self.resolve_no_symlink(dir)?;
        if !matches!(self.nodes[r.node].content, Content::Dir(_)) {
            return Err(Errno::NOTDIR);
        }
        let m = self.mount(r.mount).cloned().ok_or(Errno::INVAL)?;
        let mut aside = Aside {
            dir: dir.to_owned(),
            mounts: vec![AsideMount {
                rel: String::new(),
                parent: None,
                root: r.node,
                fs_type: m.fs_type.clone(),
                source: m.source.clone(),
                data: m.data.clone(),
                read_only: m.read_only,
            }],
        };
        let mut map: BTreeMap<MountId, usize> = BTreeMap::new();
        map.insert(m.id, 0);
        for id in self.subtree(m.id).into_iter().skip(1) {
            let Some(sub) = self.mount(id) else { continue };
            if sub.at == dir || !is_under(&sub.at, dir) {
                continue;
            }
            let Some(parent) = sub.parent.and_then(|p| map.get(&p).copied()) else {
                continue;
            };
            let rel = sub.at[dir.trim_end_matches('/').len()..]
                .trim_start_matches('/')
                .to_owned();
            aside.mounts.push(AsideMount {
                rel,
                parent: Some(parent),
                root: sub.root,
                fs_type: sub.fs_type.clone(),
                source: sub.source.clone(),
                data: sub.data.clone(),
                read_only: sub.read_only,
            });
            map.insert(id, aside.mounts.len() - 1);
        }
        let id = self.next_aside;
        self.next_aside += 1;
        self.asides.insert(id, aside);
        Ok(AsideId(id))
    }

    fn do_bind_from_aside(
        &mut self,
        aside: AsideId,
        name: &str,
        target: &str,
        recursive: bool,
    ) -> SysResult<()> {
        if !valid_name(name) {
            return Err(Errno::INVAL);
        }
        check_path(target)?;
        let a = self.asides.get(&aside.0).cloned().ok_or(Errno::BADF)?;
        let child = self.child(a.mounts[0].root, name).ok_or(Errno::NOENT)?;
        if let Content::Symlink(_) = self.nodes[child].content {
            return Err(Errno::LOOP);
        }
        // Switch into mounts stacked on the child inside the aside.
        let (mut at_idx, mut node) = (0usize, child);
        while let Some(i) = a
            .mounts
            .iter()
            .rposition(|m| m.parent == Some(at_idx) && m.rel == name)
        {
            at_idx = i;
            node = a.mounts[i].root;
        }
        let t = self.resolve_no_symlink(target)?;
        self.same_type(node, t.node)?;
        let src = &a.mounts[at_idx];
        let label = join(&a.dir, name);
        let id = self.attach(
            t.mount,
            target,
            node,
            &src.fs_type,
            &label,
            &src.data,
            src.read_only,
            MountOrigin::Aside,
        );
        if recursive {
            let mut map: BTreeMap<usize, MountId> = BTreeMap::new();
            map.insert(at_idx, id);
            let prefix = format!("{name}/");
            for (i, m) in a.mounts.iter().enumerate() {
                if !m.rel.starts_with(&prefix) {
                    continue;
                }
                let Some(parent) = m.parent.and_then(|p| map.get(&p).copied()) else {
                    continue;
                };
                let at = join(target, &m.rel[prefix.len()..]);
                let nid = self.attach(
                    parent,
                    &at,
                    m.root,
                    &m.fs_type,
                    &m.source,
                    &m.data,
                    m.read_only,
                    MountOrigin::Aside,
                );
                map.insert(i, nid);
            }
        }
        Ok(())
    }
}

impl System for FakeSystem {
    fn lstat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        self.call(
            Op::Lstat,
            path,
            format!("lstat {}", quote(path)),
            |s| match s.resolve(path, false) {
                Ok(r) => Ok(Some(s.meta(&r))),
                Err(Errno::NOENT) => Ok(None),
                Err(e) => Err(e),
            },
        )
    }

    fn stat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        self.call(
            Op::Stat,
            path,
            format!("stat {}", quote(path)),
            |s| match s.resolve(path, true) {
                Ok(r) => Ok(Some(s.meta(&r))),
                Err(Errno::NOENT) => Ok(None),
                Err(e) => Err(e),
            },
        )
    }

    fn statfs(&mut self, path: &str) -> SysResult<FsMeta> {
        self.call(Op::Statfs, path, format!("statfs {}", quote(path)), |s| {
            let r = s.resolve_no_symlink(path)?;
            let fs = &s.fss[s.nodes[r.node].fs];
            Ok(FsMeta {
                magic: fs.magic,
                read_only: !s.writable(&r),
            })
        })
    }

    fn mkdir(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        let desc = format!(
            "mkdir {} {} {} {uid} {gid}",
            quote(parent),
            quote(name),
            octal(mode)
        );
        self.call(Op::Mkdir, &join(parent, name), desc, |s| {
            s.create(parent, name, Content::Dir(Vec::new()), mode, uid, gid)
        })
    }

    fn mkfile(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        let desc = format!(
            "mkfile {} {} {} {uid} {gid}",
            quote(parent),
            quote(name),
            octal(mode)
        );
        self.call(Op::Mkfile, &join(parent, name), desc, |s| {
            s.create(parent, name, Content::File, mode, uid, gid)
        })
    }

    fn symlink(&mut self, parent: &str, name: &str, target: &str) -> SysResult<()> {
        let desc = format!(
            "symlink {} {} -> {}",
            quote(parent),
            quote(name),
            quote(target)
        );
        self.call(Op::Symlink, &join(parent, name), desc, |s| {
            s.create(
                parent,
                name,
                Content::Symlink(target.to_owned()),
                0o777,
                0,
                0,
            )
            .and_then(|made| if made { Ok(()) } else { Err(Errno::EXIST) })
        })
    }

    fn readlink(&mut self, path: &str) -> SysResult<String> {
        self.call(
            Op::Readlink,
            path,
            format!("readlink {}", quote(path)),
            |s| {
                let r = s.resolve(path, false)?;
                match &s.nodes[r.node].content {
                    Content::Symlink(t) => Ok(t.clone()),
                    _ => Err(Errno::INVAL),
                }
            },
        )
    }

    fn read_dir(&mut self, path: &str) -> SysResult<Vec<(String, FileKind)>> {
        self.call(
            Op::ReadDir,
            path,
            format!("read_dir {}", quote(path)),
            |s| {
                let r = s.resolve_no_symlink(path)?;
                let Content::Dir(children) = &s.nodes[r.node].content else {
                    return Err(Errno::NOTDIR);
                };
                Ok(children
                    .iter()
                    .map(|(n, c)| {
                        let v = s.descend(r.mount, *c, &join(path, n));
                        (n.clone(), s.nodes[v.node].kind())
                    })
                    .collect())
            },
        )
    }

    fn remove(&mut self, path: &str) -> SysResult<()> {
        self.call(Op::Remove, path, format!("remove {}", quote(path)), |s| {
            s.do_remove(path)
        })
    }

    fn bind(
        &mut self,
        source: &str,
        target: &str,
        recursive: bool,
        read_only: bool,
    ) -> SysResult<()> {
        let desc = format!(
            "bind {} {}{}{}",
            quote(source),
            quote(target),
            if recursive { " rec" } else { "" },
            if read_only { " ro" } else { "" }
        );
        self.call(Op::Bind, target, desc, |s| {
            s.do_bind(source, target, recursive, read_only)
        })
    }

    fn mount_fs(
        &mut self,
        source: &str,
        target: &str,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()> {
        let desc = format!(
            "mount_fs {fstype} {} source={} flags={:#x} data={}",
            quote(target),
            quote(source),
            flags.0,
            quote(data)
        );
        self.call(Op::MountFs, target, desc, |s| {
            s.do_mount_fs(source, target, fstype, flags, data)
        })
    }

    fn set_propagation(&mut self, target: &str, propagation: MountFlags) -> SysResult<()> {
        let desc = format!(
            "set_propagation {} {}",
            quote(target),
            prop_name(propagation)
        );
        self.call(Op::SetPropagation, target, desc, |s| {
            check_propagation(propagation)?;
            let id = s.must_be_mount_root(target)?;
            let ids = if propagation.contains(MountFlags::REC) {
                s.subtree(id)
            } else {
                vec![id]
            };
            let bits = MountFlags(propagation.0 & MountFlags::PROPAGATION.0);
            for m in s.mounts.iter_mut().filter(|m| ids.contains(&m.id)) {
                m.propagation = bits;
            }
            Ok(())
        })
    }

    fn unmount(&mut self, target: &str, detach: bool) -> SysResult<()> {
        let desc = format!(
            "unmount {}{}",
            quote(target),
            if detach { " detach" } else { "" }
        );
        self.call(Op::Unmount, target, desc, |s| s.do_unmount(target, detach))
    }

    fn is_mount_point(&mut self, target: &str) -> SysResult<bool> {
        self.call(
            Op::IsMountPoint,
            target,
            format!("is_mount_point {}", quote(target)),
            |s| {
                // The path must be one LiveSystem would look up (clean, no
                // symlink anywhere); a path that leads nowhere may still be
                // a mount point hidden by a later mount (see the module doc).
                match s.resolve_no_symlink(target) {
                    Ok(_) | Err(Errno::NOENT | Errno::NOTDIR) => {}
                    Err(e) => return Err(e),
                }
                Ok(s.mounts.iter().any(|m| m.at == target))
            },
        )
    }

    fn set_aside(&mut self, dir: &str) -> SysResult<AsideId> {
        let r = self.call(
            Op::SetAside,
            dir,
            format!("set_aside {}", quote(dir)),
            |s| s.do_set_aside(dir),
        );
        if let (Ok(id), Some((_, last))) = (&r, self.log.last_mut()) {
            last.push_str(&format!(" -> #{}", id.0));
        }
        r
    }

    fn bind_from_aside(
        &mut self,
        aside: AsideId,
        name: &str,
        target: &str,
        recursive: bool,
    ) -> SysResult<()> {
        let desc = format!(
            "bind_from_aside #{} {} {}{}",
            aside.0,
            quote(name),
            quote(target),
            if recursive { " rec" } else { "" }
        );
        self.call(Op::BindFromAside, target, desc, |s| {
            s.do_bind_from_aside(aside, name, target, recursive)
        })
    }

    fn release_aside(&mut self, aside: AsideId) {
        self.log
            .push((false, format!("release_aside #{}", aside.0)));
        self.asides.remove(&aside.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FakeSystem {
        let mut fs = FakeSystem::new();
        fs.add_dir("/usr/lib", 0o755)
            .add_file("/usr/lib/libc.so", 0o644, 100)
            .add_symlink("/usr/lib64", "lib")
            .add_dir("/etc", 0o755)
            .add_dir("/snap/app/1/lib", 0o755)
            .add_file("/snap/app/1/lib/a.so", 0o644, 7)
            .mark_read_only("/usr", SQUASHFS_MAGIC)
            .mark_read_only("/snap/app/1", SQUASHFS_MAGIC);
        fs
    }

    #[test]
    fn read_only_subtrees_refuse_creation_but_report_existing_first() {
        let mut fs = base();
        assert_eq!(fs.mkdir("/usr", "lib", 0o755, 0, 0), Ok(false));
        assert_eq!(fs.mkdir("/usr", "new", 0o755, 0, 0), Err(Errno::ROFS));
        assert_eq!(fs.mkfile("/usr/lib", "libc.so", 0o644, 0, 0), Ok(false));
        assert_eq!(
            fs.mkdir("/usr/lib", "libc.so", 0o755, 0, 0),
            Err(Errno::EXIST)
        );
        assert_eq!(fs.mkdir("/etc", "x", 0o700, 1, 2), Ok(true));
        let m = fs.peek("/etc/x").unwrap();
        assert_eq!((m.kind, m.mode, m.uid, m.gid), (FileKind::Dir, 0o700, 1, 2));
        assert_eq!(
            fs.statfs("/usr/lib").unwrap(),
            FsMeta {
                magic: SQUASHFS_MAGIC,
                read_only: true
            }
        );
        assert_eq!(
            fs.statfs("/etc").unwrap(),
            FsMeta {
                magic: EXT4_MAGIC,
                read_only: false
            }
        );
        assert_eq!(
            fs.mutation_calls(),
            vec![
                "mkdir \"/usr\" \"lib\" 0755 0 0",
                "mkdir \"/usr\" \"new\" 0755 0 0 -> EROFS",
                "mkfile \"/usr/lib\" \"libc.so\" 0644 0 0",
                "mkdir \"/usr/lib\" \"libc.so\" 0755 0 0 -> EEXIST",
                "mkdir \"/etc\" \"x\" 0700 1 2",
            ]
        );
    }

    #[test]
    fn symlinks_are_refused_except_at_the_leaf_of_lstat_and_followed_by_stat() {
        let mut fs = base();
        assert_eq!(
            fs.lstat("/usr/lib64").unwrap().unwrap().kind,
            FileKind::Symlink
        );
        assert_eq!(fs.lstat("/usr/lib64/libc.so"), Err(Errno::LOOP));
        assert_eq!(
            fs.stat("/usr/lib64/libc.so").unwrap().unwrap().kind,
            FileKind::File
        );
        assert_eq!(fs.stat("/usr/lib64").unwrap().unwrap().kind, FileKind::Dir);
        assert_eq!(fs.mkdir("/usr/lib64", "x", 0o755, 0, 0), Err(Errno::LOOP));
        assert_eq!(fs.statfs("/usr/lib64"), Err(Errno::LOOP));
        assert_eq!(
            fs.bind("/usr/lib64", "/etc", false, false),
            Err(Errno::LOOP)
        );
        assert_eq!(fs.readlink("/usr/lib64"), Ok("lib".to_owned()));
        assert_eq!(fs.lstat("/nope/x"), Ok(None));
        assert_eq!(fs.lstat("/usr/lib/libc.so/x"), Err(Errno::NOTDIR));
        assert_eq!(fs.lstat("relative"), Err(Errno::INVAL));
        fs.add_symlink("/loop", "/loop");
        assert_eq!(fs.stat("/loop"), Err(Errno::LOOP));
    }

    #[test]
    fn mounts_hide_and_unmounts_restore_and_binds_share_content() {
        let mut fs = base();
        fs.mount_fs(
            "tmpfs",
            "/etc",
            "tmpfs",
            MountFlags::empty(),
            "mode=0750,uid=0,gid=0",
        )
        .unwrap();
        assert_eq!(fs.peek("/etc/x"), None);
        assert_eq!(fs.peek("/etc").unwrap().mode, 0o750);
        assert_eq!(fs.statfs("/etc").unwrap().magic, TMPFS_MAGIC);
        assert_eq!(fs.mkdir("/etc", "lib", 0o755, 0, 0), Ok(true));
        fs.bind("/snap/app/1/lib", "/etc/lib", false, false)
            .unwrap();
        assert_eq!(fs.peek("/etc/lib/a.so").unwrap().size, 7);
        assert_eq!(fs.remove("/etc/lib"), Err(Errno::BUSY));
        assert_eq!(fs.unmount("/etc", false), Err(Errno::BUSY));
        assert_eq!(fs.unmount("/etc/lib/a.so", false), Err(Errno::INVAL));
        // Writes through a bind land in the source.
        fs.add_dir("/srv/data", 0o755);
        fs.bind("/srv/data", "/etc/lib", false, false).unwrap();
        fs.mkfile("/etc/lib", "f", 0o644, 0, 0).unwrap();
        assert!(fs.peek("/srv/data/f").is_some());
        assert_eq!(fs.is_mount_point("/etc/lib"), Ok(true));
        fs.unmount("/etc", true).unwrap();
        assert_eq!(fs.is_mount_point("/etc/lib"), Ok(false));
        assert_eq!(fs.peek("/etc").unwrap().mode, 0o755);
        assert!(fs.peek("/etc/lib").is_none());
        assert_eq!(fs.mounts().len(), 1);
    }

    #[test]
    fn recursive_binds_and_asides_carry_submounts_and_read_only() {
        let mut fs = base();
        fs.add_dir("/srv/a/b", 0o755).add_dir("/mnt/x", 0o755);
        fs.mount_fs("tmpfs", "/srv/a/b", "tmpfs", MountFlags::empty(), "")
            .unwrap();
        fs.mkfile("/srv/a/b", "in-tmpfs", 0o644, 0, 0).unwrap();
        fs.bind("/srv/a", "/mnt/x", true, true).unwrap();
        assert!(fs.peek("/mnt/x/b/in-tmpfs").is_some());
        assert_eq!(fs.mkdir("/mnt/x/b", "y", 0o755, 0, 0), Err(Errno::ROFS));
        // A directory onto a file: EINVAL, as move_mount says (fake_vs_live).
        assert_eq!(
            fs.bind("/srv/a", "/usr/lib/libc.so", false, false),
            Err(Errno::INVAL)
        );
        let aside = fs.set_aside("/srv").unwrap();
        fs.mount_fs("tmpfs", "/srv", "tmpfs", MountFlags::empty(), "mode=0755")
            .unwrap();
        assert!(fs.peek("/srv/a").is_none());
        fs.mkdir("/srv", "a", 0o755, 0, 0).unwrap();
        fs.bind_from_aside(aside, "a", "/srv/a", true).unwrap();
        fs.release_aside(aside);
        assert_eq!(fs.asides_held(), 0);
        assert!(fs.peek("/srv/a/b/in-tmpfs").is_some());
        let m = fs.mounts();
        assert!(
            m.iter()
                .any(|m| m.target == "/srv/a/b" && m.origin == MountOrigin::Aside)
        );
    }

    #[test]
    fn faults_hit_the_nth_mutation_or_a_named_call() {
        let mut fs = base();
        fs.fail_nth_mutation(2, Errno::IO);
        assert_eq!(fs.lstat("/etc").map(|m| m.is_some()), Ok(true));
        assert_eq!(fs.mkdir("/etc", "a", 0o755, 0, 0), Ok(true));
        assert_eq!(fs.mkdir("/etc", "b", 0o755, 0, 0), Err(Errno::IO));
        assert_eq!(fs.mkdir("/etc", "c", 0o755, 0, 0), Ok(true));
        assert!(fs.peek("/etc/b").is_none());
        fs.fail_on(Op::Remove, "/etc/a", Errno::PERM);
        assert_eq!(fs.remove("/etc/a"), Err(Errno::PERM));
        fs.clear_faults();
        assert_eq!(fs.remove("/etc/a"), Ok(()));
        assert_eq!(fs.mutation_count(), 5);
        assert_eq!(fs.calls()[0], "lstat \"/etc\"");
    }

    #[test]
    fn state_ignores_identity_but_not_content() {
        let mut a = base();
        let before = a.state();
        a.mount_fs("tmpfs", "/etc", "tmpfs", MountFlags::empty(), "mode=0755")
            .unwrap();
        assert_ne!(a.state(), before);
        a.unmount("/etc", false).unwrap();
        assert_eq!(a.state(), before);
        a.mkdir("/etc", "x", 0o755, 0, 0).unwrap();
        assert_ne!(a.state(), before);
    }
}
