//! The fake cannot drift from the kernel: the same [`System`] calls, made on
//! [`FakeSystem`] and on [`LiveSystem`] (in a throwaway world), must give
//! the same results, call by call.
//!
//! Both start from the same state: a root directory that is the root of a
//! tmpfs (mode 0755, root's), nothing else. On the live side that is a tmpfs
//! mounted at `/tmp/cmp` in the world and a `LiveSystem` rooted there
//! ([`LiveSystem::with_root`]), so `/a` means the same on both sides.
//!
//! Results are compared as `Result<_, Errno>` values. What the two cannot
//! agree on by construction is normalised first: device numbers become the
//! order in which each side first reported them (so "the same file system
//! as" still compares), directory sizes are left out (4096 in the fake,
//! whatever tmpfs says in the kernel), `read_dir` listings are sorted, and
//! the handles of trees set aside are paired, not compared.
//!
//! Differences the fake has on purpose are checked as such, at the end of
//! each test that meets one ([`Both::differ`]), so that a change on either
//! side shows up here too. See [`FakeSystem`]'s module documentation.

use std::fmt::Debug;
use std::fs;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use snapcell_exec::fake::FakeSystem;
use snapcell_sys::live::LiveSystem;
use snapcell_sys::system::{
    AsideId, Errno, FileKind, FileMeta, MountFlags, SysResult, System, TMPFS_MAGIC,
};
use snapcell_test_support::run_in_world;

/// Where the live side's root is, in the world.
const LIVE_ROOT: &str = "/tmp/cmp";

/// What `lstat`/`stat` say, comparable across the two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
    /// `None` for directories.
    size: Option<u64>,
    /// The order in which this side first reported the device.
    dev: usize,
}

/// Device numbers in the order first seen.
#[derive(Default)]
struct Devs(Vec<u64>);

impl Devs {
    fn meta(&mut self, m: FileMeta) -> Meta {
        let dev = match self.0.iter().position(|&d| d == m.dev) {
            Some(i) => i,
            None => {
                self.0.push(m.dev);
                self.0.len() - 1
            }
        };
        Meta {
            kind: m.kind,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            size: (m.kind != FileKind::Dir).then_some(m.size),
            dev,
        }
    }
}

/// A tree set aside on both sides.
#[derive(Clone, Copy, Debug)]
struct Aside {
    fake: AsideId,
    live: AsideId,
}

/// The two systems, driven together.
struct Both {
    fake: FakeSystem,
    live: LiveSystem,
    fake_devs: Devs,
    live_devs: Devs,
    /// Every call made, with `!` before those whose results differed.
    log: Vec<String>,
    differences: Vec<String>,
}

fn sorted(listing: SysResult<Vec<(String, FileKind)>>) -> SysResult<Vec<(String, FileKind)>> {
    listing.map(|mut entries| {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    })
}

impl Both {
    /// A fresh pair: call in a world body only (it mounts at [`LIVE_ROOT`]).
    fn new() -> Both {
        fs::create_dir(LIVE_ROOT).unwrap();
        rustix::mount::mount(
            "tmpfs",
            LIVE_ROOT,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            c"mode=0755,uid=0,gid=0",
        )
        .unwrap();
        let root: OwnedFd = rustix::fs::open(
            LIVE_ROOT,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut fake = FakeSystem::new();
        fake.mark_fs("/", TMPFS_MAGIC, false);
        Both {
            fake,
            live: LiveSystem::with_root(root),
            fake_devs: Devs::default(),
            live_devs: Devs::default(),
            log: Vec::new(),
            differences: Vec::new(),
        }
    }

    /// Record one call's two results.
    fn compare<T: PartialEq + Debug>(&mut self, what: String, fake: T, live: T) {
        if fake == live {
            self.log.push(format!("  {what} = {live:?}"));
        } else {
            self.log
                .push(format!("! {what}: fake {fake:?}, live {live:?}"));
            self.differences
                .push(format!("{what}: fake {fake:?}, live {live:?}"));
        }
    }

    /// The same call on both sides (results without device numbers).
    fn same<T: PartialEq + Debug>(&mut self, what: &str, f: impl Fn(&mut dyn System) -> T) {
        let fake = f(&mut self.fake);
        let live = f(&mut self.live);
        self.compare(what.to_owned(), fake, live)
    }

    /// A difference the fake has on purpose: each side must give exactly
    /// what is expected of it.
    fn differ<T: PartialEq + Debug>(
        &mut self,
        what: &str,
        why: &str,
        f: impl Fn(&mut dyn System) -> T,
        fake_gives: T,
        live_gives: T,
    ) {
        let fake = f(&mut self.fake);
        let live = f(&mut self.live);
        assert_eq!(
            (&fake, &live),
            (&fake_gives, &live_gives),
            "{what} (a known difference: {why}) is not as documented: fake {fake:?}, live {live:?}"
        );
        self.log
            .push(format!("~ {what}: fake {fake:?}, live {live:?} ({why})"));
    }

    fn lstat(&mut self, path: &str) {
        let fake = self
            .fake
            .lstat(path)
            .map(|m| m.map(|m| self.fake_devs.meta(m)));
        let live = self
            .live
            .lstat(path)
            .map(|m| m.map(|m| self.live_devs.meta(m)));
        self.compare(format!("lstat {path}"), fake, live)
    }

    fn stat(&mut self, path: &str) {
        let fake = self
            .fake
            .stat(path)
            .map(|m| m.map(|m| self.fake_devs.meta(m)));
        let live = self
            .live
            .stat(path)
            .map(|m| m.map(|m| self.live_devs.meta(m)));
        self.compare(format!("stat {path}"), fake, live)
    }

    fn statfs(&mut self, path: &str) {
        self.same(&format!("statfs {path}"), |s| s.statfs(path))
    }

    fn mkdir(&mut self, parent: &str, name: &str, mode: u32, uid: u32, gid: u32) {
        self.same(
            &format!("mkdir {parent} {name:?} {mode:o} {uid}:{gid}"),
            |s| s.mkdir(parent, name, mode, uid, gid),
        )
    }

    fn mkfile(&mut self, parent: &str, name: &str, mode: u32, uid: u32, gid: u32) {
        self.same(
            &format!("mkfile {parent} {name:?} {mode:o} {uid}:{gid}"),
            |s| s.mkfile(parent, name, mode, uid, gid),
        )
    }

    fn symlink(&mut self, parent: &str, name: &str, target: &str) {
        self.same(&format!("symlink {parent} {name:?} -> {target}"), |s| {
            s.symlink(parent, name, target)
        })
    }

    fn readlink(&mut self, path: &str) {
        self.same(&format!("readlink {path}"), |s| s.readlink(path))
    }

    fn read_dir(&mut self, path: &str) {
        self.same(&format!("read_dir {path}"), |s| sorted(s.read_dir(path)))
    }

    fn remove(&mut self, path: &str) {
        self.same(&format!("remove {path}"), |s| s.remove(path))
    }

    fn bind(&mut self, source: &str, target: &str, recursive: bool, ro: bool) {
        self.same(
            &format!("bind {source} {target} rec={recursive} ro={ro}"),
            |s| s.bind(source, target, recursive, ro),
        )
    }

    fn mount_fs(&mut self, target: &str, flags: MountFlags, data: &str) {
        self.same(
            &format!("mount_fs tmpfs {target} {flags:?} {data:?}"),
            |s| s.mount_fs("tmpfs", target, "tmpfs", flags, data),
        )
    }

    fn set_propagation(&mut self, target: &str, flags: MountFlags) {
        self.same(&format!("set_propagation {target} {flags:?}"), |s| {
            s.set_propagation(target, flags)
        })
    }

    fn unmount(&mut self, target: &str, detach: bool) {
        self.same(&format!("unmount {target} detach={detach}"), |s| {
            s.unmount(target, detach)
        })
    }

    fn is_mount_point(&mut self, target: &str) {
        self.same(&format!("is_mount_point {target}"), |s| {
            s.is_mount_point(target)
        })
    }

    /// Set `dir` aside on both sides; `None` when that failed (on both
    /// sides alike, or the difference is recorded).
    fn set_aside(&mut self, dir: &str) -> Option<Aside> {
        let fake = self.fake.set_aside(dir);
        let live = self.live.set_aside(dir);
        let what = format!("set_aside {dir}");
        match (fake, live) {
            (Ok(fake), Ok(live)) => {
                let aside = Aside { fake, live };
                self.log.push(format!("  {what} = {aside:?}"));
                Some(aside)
            }
            (fake, live) => {
                self.compare(what, fake.map(|_| ()), live.map(|_| ()));
                None
            }
        }
    }

    fn bind_from_aside(&mut self, aside: Aside, name: &str, target: &str, recursive: bool) {
        let fake = self
            .fake
            .bind_from_aside(aside.fake, name, target, recursive);
        let live = self
            .live
            .bind_from_aside(aside.live, name, target, recursive);
        self.compare(
            format!("bind_from_aside {aside:?} {name:?} {target} rec={recursive}"),
            fake,
            live,
        );
    }

    fn release_aside(&mut self, aside: Aside) {
        self.fake.release_aside(aside.fake);
        self.live.release_aside(aside.live);
        self.log.push(format!("  release_aside {aside:?}"));
    }

    /// The whole visible tree below `dir` (kinds, modes, owners, sizes,
    /// devices, symlink targets), on both sides, compared once.
    fn tree(&mut self, dir: &str) {
        let mut fake_lines = Vec::new();
        let mut live_lines = Vec::new();
        walk(&mut self.fake, &mut self.fake_devs, dir, &mut fake_lines);
        walk(&mut self.live, &mut self.live_devs, dir, &mut live_lines);
        self.compare(format!("tree {dir}"), fake_lines, live_lines);
    }

    /// Fail with every difference and the calls that led to them.
    fn finish(self) {
        assert!(
            self.differences.is_empty(),
            "the fake and the kernel disagree on {} calls:\n  {}\n\nall calls:\n{}",
            self.differences.len(),
            self.differences.join("\n  "),
            self.log.join("\n")
        );
    }
}

fn walk(s: &mut dyn System, devs: &mut Devs, path: &str, out: &mut Vec<String>) {
    let meta = s.lstat(path).map(|m| m.map(|m| devs.meta(m)));
    out.push(format!("{path} {meta:?}"));
    match meta {
        Ok(Some(m)) if m.kind == FileKind::Symlink => {
            out.push(format!("{path} -> {:?}", s.readlink(path)));
        }
        Ok(Some(m)) if m.kind == FileKind::Dir => {
            let listing = sorted(s.read_dir(path));
            if let Ok(entries) = listing {
                for (name, _) in entries {
                    let child = if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    };
                    walk(s, devs, &child, out);
                }
            } else {
                out.push(format!("{path} read_dir {listing:?}"));
            }
        }
        _ => {}
    }
}

/// Run `body` on a fresh pair in a world, then fail with the differences.
fn run_both(body: impl Fn(&mut Both)) {
    run_in_world(|_world| {
        let mut both = Both::new();
        body(&mut both);
        both.tree("/");
        both.finish();
    });
}

#[test]
fn files_directories_and_symlinks_are_made_with_the_same_kinds_and_modes() {
    run_both(|b| {
        b.lstat("/");
        b.statfs("/");
        b.read_dir("/");
        b.mkdir("/", "d", 0o755, 0, 0);
        b.mkdir("/", "d", 0o700, 0, 0);
        b.mkdir("/d", "sticky", 0o1777, 0, 0);
        b.mkdir("/d", "setgid", 0o2750, 1000, 2000);
        b.mkdir("/d", "none", 0o000, 0, 0);
        b.mkfile("/d", "f", 0o644, 0, 0);
        b.mkfile("/d", "f", 0o600, 0, 0);
        b.mkfile("/d", "suid", 0o4755, 1, 2);
        b.mkfile("/d", "private", 0o600, 65534, 65534);
        b.symlink("/d", "rel", "f");
        b.symlink("/d", "abs", "/d/setgid");
        b.symlink("/d", "dangling", "nowhere");
        b.symlink("/d", "long", &"x".repeat(200));
        for name in [
            "f", "suid", "setgid", "rel", "abs", "dangling", "long", "none",
        ] {
            b.lstat(&format!("/d/{name}"));
            b.stat(&format!("/d/{name}"));
        }
        for name in ["rel", "abs", "dangling", "long"] {
            b.readlink(&format!("/d/{name}"));
        }
        b.readlink("/d/f");
        b.readlink("/d");
        b.readlink("/d/missing");
        b.read_dir("/d");
        b.read_dir("/d/f");
        b.read_dir("/d/missing");
        b.statfs("/d/f");
        b.statfs("/d/setgid");
        // Something of another kind in the way.
        b.mkdir("/d", "f", 0o755, 0, 0);
        b.mkdir("/d", "rel", 0o755, 0, 0);
        b.mkfile("/d", "setgid", 0o644, 0, 0);
        b.mkfile("/d", "rel", 0o644, 0, 0);
        b.mkfile("/d", "dangling", 0o644, 0, 0);
        b.symlink("/d", "f", "g");
        b.symlink("/d", "setgid", "g");
        b.symlink("/d", "rel", "g");
        // Removing.
        b.mkfile("/d/setgid", "in", 0o644, 0, 0);
        b.remove("/d/setgid");
        b.remove("/d/setgid/in");
        b.remove("/d/setgid");
        b.remove("/d/setgid");
        b.remove("/d/rel");
        b.remove("/d/f");
        b.lstat("/d/f");
        b.read_dir("/d");
    });
}

#[test]
fn errors_agree_missing_not_a_directory_and_unclean_paths() {
    run_both(|b| {
        b.mkdir("/", "d", 0o755, 0, 0);
        b.mkfile("/d", "f", 0o644, 0, 0);
        b.mkdir("/d", "sub", 0o755, 0, 0);
        let aside = b.set_aside("/d").unwrap();
        // ENOENT
        b.lstat("/missing");
        b.lstat("/missing/x");
        b.stat("/missing/x");
        b.mkdir("/missing", "x", 0o755, 0, 0);
        b.mkfile("/missing", "x", 0o644, 0, 0);
        b.symlink("/missing", "x", "y");
        b.remove("/d/missing");
        b.remove("/missing/x");
        b.statfs("/missing");
        b.bind("/missing", "/d/sub", false, false);
        b.bind("/d/sub", "/missing", false, false);
        b.mount_fs("/missing", MountFlags::empty(), "");
        b.unmount("/missing", false);
        b.set_propagation("/missing", MountFlags::PRIVATE);
        b.is_mount_point("/missing");
        b.is_mount_point("/missing/x");
        b.set_aside("/missing");
        b.bind_from_aside(aside, "missing", "/d/sub", false);
        b.bind_from_aside(aside, "sub", "/missing", false);
        // ENOTDIR
        b.lstat("/d/f/x");
        b.stat("/d/f/x");
        b.mkdir("/d/f", "x", 0o755, 0, 0);
        b.mkfile("/d/f", "x", 0o644, 0, 0);
        b.symlink("/d/f", "x", "y");
        b.read_dir("/d/f");
        b.remove("/d/f/x");
        b.statfs("/d/f/x");
        b.set_aside("/d/f");
        b.is_mount_point("/d/f/x");
        b.bind("/d/sub", "/d/f", false, false);
        b.bind("/d/f", "/d/sub", false, false);
        b.mount_fs("/d/f", MountFlags::empty(), "");
        b.bind_from_aside(aside, "sub", "/d/f", false);
        b.bind_from_aside(aside, "f", "/d/sub", false);
        // EEXIST (something else there) and EINVAL (not a mount point).
        b.mkdir("/d", "f", 0o755, 0, 0);
        b.symlink("/d", "sub", "y");
        b.unmount("/d/sub", false);
        b.unmount("/d/sub", true);
        b.set_propagation("/d/sub", MountFlags::PRIVATE);
        b.readlink("/d/sub");
        // ENOTEMPTY, EBUSY
        b.remove("/d");
        // EINVAL: relative and unclean paths, bad names, bad flags.
        for bad in [
            "",
            "d",
            "d/sub",
            "./d",
            "/d/",
            "//d",
            "/d//sub",
            "/d/./sub",
            "/d/sub/..",
            "/d/..",
            "/.",
            "/d/s\0b",
        ] {
            b.lstat(bad);
            b.stat(bad);
            b.statfs(bad);
            b.mkdir(bad, "x", 0o755, 0, 0);
            b.mkfile(bad, "x", 0o644, 0, 0);
            b.symlink(bad, "x", "y");
            b.readlink(bad);
            b.read_dir(bad);
            b.remove(bad);
            b.bind(bad, "/d/sub", false, false);
            b.bind("/d/sub", bad, true, true);
            b.mount_fs(bad, MountFlags::empty(), "");
            b.set_propagation(bad, MountFlags::PRIVATE);
            b.unmount(bad, false);
            b.is_mount_point(bad);
            b.set_aside(bad);
            b.bind_from_aside(aside, "sub", bad, false);
        }
        for bad in ["", ".", "..", "a/b", "/a", "a/", "a\0"] {
            b.mkdir("/d", bad, 0o755, 0, 0);
            b.mkfile("/d", bad, 0o644, 0, 0);
            b.symlink("/d", bad, "y");
            b.bind_from_aside(aside, bad, "/d/sub", false);
        }
        b.remove("/");
        b.readlink("/");
        for bad in [
            MountFlags::BIND,
            MountFlags::MOVE,
            MountFlags::REMOUNT,
            MountFlags::REC,
            MountFlags::SHARED,
        ] {
            b.mount_fs("/d/sub", bad, "");
        }
        b.mount_fs("/d/sub", MountFlags::NOSUID, "");
        for bad in [
            MountFlags::empty(),
            MountFlags::REC,
            MountFlags::SHARED | MountFlags::SLAVE,
            MountFlags::PRIVATE | MountFlags::RDONLY,
        ] {
            b.set_propagation("/d/sub", bad);
        }
        b.unmount("/d/sub", false);
        b.release_aside(aside);
        b.bind_from_aside(aside, "sub", "/d/sub", false);
    });
}

#[test]
fn symlinks_are_refused_in_the_middle_and_at_the_leaf_but_followed_by_stat() {
    run_both(|b| {
        b.mkdir("/", "real", 0o755, 0, 0);
        b.mkdir("/real", "dir", 0o750, 0, 0);
        b.mkfile("/real/dir", "f", 0o644, 0, 0);
        b.mkdir("/", "src", 0o755, 0, 0);
        b.mkdir("/src", "entry", 0o755, 0, 0);
        b.symlink("/src", "link", "entry");
        b.symlink("/", "rel", "real");
        b.symlink("/", "abs", "/real/dir");
        b.symlink("/", "loop", "/loop");
        b.mkdir("/real/dir", "m", 0o755, 0, 0);
        b.mount_fs("/real/dir/m", MountFlags::empty(), "");
        let aside = b.set_aside("/src").unwrap();
        for mid in ["/rel/dir", "/abs/m"] {
            // A symlink in the middle of the path.
            b.lstat(mid);
            b.stat(mid);
            b.statfs(mid);
            b.read_dir(mid);
            b.readlink(mid);
            b.remove(mid);
            b.mkdir(mid, "n", 0o755, 0, 0);
            b.mkfile(mid, "n", 0o644, 0, 0);
            b.symlink(mid, "n", "x");
            b.bind("/src", mid, false, false);
            b.bind(mid, "/src", true, false);
            b.mount_fs(mid, MountFlags::empty(), "");
            b.set_propagation(mid, MountFlags::SHARED);
            b.unmount(mid, false);
            b.unmount(mid, true);
            b.is_mount_point(mid);
            b.set_aside(mid);
            b.bind_from_aside(aside, "entry", mid, false);
        }
        for leaf in ["/rel", "/abs", "/loop"] {
            // A symlink as the last component.
            b.lstat(leaf);
            b.stat(leaf);
            b.readlink(leaf);
            b.statfs(leaf);
            b.read_dir(leaf);
            b.mkdir(leaf, "n", 0o755, 0, 0);
            b.mkdir("/", &leaf[1..], 0o755, 0, 0);
            b.mkfile("/", &leaf[1..], 0o644, 0, 0);
            b.bind("/src", leaf, false, false);
            b.bind(leaf, "/src", false, false);
            b.mount_fs(leaf, MountFlags::empty(), "");
            b.set_propagation(leaf, MountFlags::PRIVATE);
            b.unmount(leaf, false);
            b.is_mount_point(leaf);
            b.set_aside(leaf);
        }
        b.stat("/abs/f");
        b.stat("/rel/dir/f");
        b.stat("/abs/m");
        // An entry of a tree set aside that is a symlink.
        b.bind_from_aside(aside, "link", "/src/entry", false);
        b.release_aside(aside);
        // The leaf symlink itself can be removed.
        b.remove("/loop");
        b.lstat("/loop");
        b.is_mount_point("/real/dir/m");
    });
}

#[test]
fn mounts_stack_and_unmounting_reveals_the_one_below() {
    run_both(|b| {
        for d in ["a", "b", "c", "e"] {
            b.mkdir("/", d, 0o755, 0, 0);
        }
        b.mkfile("/a", "in-a", 0o644, 0, 0);
        b.mkfile("/b", "in-b", 0o600, 0, 0);
        b.mkfile("/", "file", 0o644, 0, 0);
        b.mkfile("/e", "target", 0o644, 0, 0);
        b.is_mount_point("/");
        b.is_mount_point("/c");
        // A bind, then a bind over the bind.
        b.bind("/a", "/c", false, false);
        b.read_dir("/c");
        b.lstat("/c/in-a");
        b.is_mount_point("/c");
        b.is_mount_point("/a");
        b.bind("/b", "/c", false, false);
        b.read_dir("/c");
        b.is_mount_point("/c");
        // Writes through a bind land in the source.
        b.mkfile("/c", "through", 0o640, 0, 0);
        b.read_dir("/b");
        b.remove("/c");
        b.unmount("/c", false);
        b.read_dir("/c");
        b.is_mount_point("/c");
        b.unmount("/c", false);
        b.read_dir("/c");
        b.is_mount_point("/c");
        b.unmount("/c", false);
        // A file bind; a file onto a directory, a directory onto a file.
        b.bind("/file", "/e/target", false, false);
        b.is_mount_point("/e/target");
        b.lstat("/e/target");
        b.remove("/e/target");
        b.unmount("/e/target", false);
        b.is_mount_point("/e/target");
        // tmpfs stacked over tmpfs, with a mount inside the lower one.
        b.mount_fs("/e", MountFlags::empty(), "mode=0750,uid=0,gid=0");
        b.lstat("/e");
        b.read_dir("/e");
        b.mkdir("/e", "sub", 0o755, 0, 0);
        b.mount_fs("/e/sub", MountFlags::empty(), "");
        b.lstat("/e/sub");
        b.is_mount_point("/e/sub");
        b.remove("/e/sub");
        b.unmount("/e", false);
        b.mount_fs("/e", MountFlags::empty(), "mode=0700");
        b.lstat("/e");
        b.read_dir("/e");
        b.lstat("/e/sub");
        b.unmount("/e/sub", false);
        b.unmount("/e", false);
        b.read_dir("/e");
        b.is_mount_point("/e/sub");
        b.unmount("/e", false);
        b.unmount("/e", true);
        b.is_mount_point("/e/sub");
        b.is_mount_point("/e");
        b.read_dir("/e");
        // A bind of a directory onto itself.
        b.bind("/a", "/a", false, false);
        b.is_mount_point("/a");
        b.unmount("/a", false);
    });
}

#[test]
fn a_mount_hidden_by_a_later_mount_is_counted_by_the_fake_only() {
    run_both(|b| {
        b.mkdir("/", "h", 0o755, 0, 0);
        b.mount_fs("/h", MountFlags::empty(), "");
        b.mkdir("/h", "sub", 0o755, 0, 0);
        b.mount_fs("/h/sub", MountFlags::empty(), "");
        b.mount_fs("/h", MountFlags::empty(), "");
        b.lstat("/h/sub");
        b.differ(
            "is_mount_point /h/sub",
            "the fake answers from its mount table, as /proc/self/mountinfo lists \
             hidden mounts; LiveSystem asks statx about what the path leads to now",
            |s| s.is_mount_point("/h/sub"),
            Ok(true),
            Ok(false),
        );
        b.unmount("/h/sub", false);
        b.unmount("/h", false);
        b.is_mount_point("/h/sub");
        b.unmount("/h", true);
        b.is_mount_point("/h/sub");
        b.is_mount_point("/h");
    });
}

#[test]
fn read_only_binds_recursive_or_not() {
    run_both(|b| {
        for d in ["src", "ro", "rro", "rw"] {
            b.mkdir("/", d, 0o755, 0, 0);
        }
        b.mkdir("/src", "sub", 0o755, 0, 0);
        b.mkfile("/src", "top", 0o644, 0, 0);
        b.mount_fs("/src/sub", MountFlags::empty(), "mode=0711");
        b.mkfile("/src/sub", "inner", 0o644, 0, 0);
        b.bind("/src", "/ro", false, true);
        b.bind("/src", "/rro", true, true);
        b.bind("/src", "/rw", true, false);
        for dir in ["/ro", "/rro", "/rw"] {
            b.statfs(dir);
            b.statfs(&format!("{dir}/sub"));
            b.is_mount_point(&format!("{dir}/sub"));
            b.read_dir(&format!("{dir}/sub"));
            b.mkdir(dir, "new", 0o755, 0, 0);
            b.mkdir(&format!("{dir}/sub"), "new", 0o755, 0, 0);
            b.mkfile(dir, "top", 0o644, 0, 0);
            b.mkfile(&format!("{dir}/sub"), "f", 0o644, 0, 0);
            b.symlink(&format!("{dir}/sub"), "l", "x");
            b.remove(&format!("{dir}/top"));
        }
        b.unmount("/rro", false);
        b.unmount("/rro", true);
        b.is_mount_point("/rro/sub");
        b.mount_fs("/ro", MountFlags::RDONLY, "mode=0555");
        b.statfs("/ro");
        b.lstat("/ro");
        b.mkdir("/ro", "x", 0o755, 0, 0);
        b.mkfile("/ro", "x", 0o644, 0, 0);
        b.symlink("/ro", "x", "y");
    });
}

#[test]
fn tmpfs_mounts_take_mode_and_owner_from_their_data() {
    run_both(|b| {
        for (name, data) in [
            ("default", ""),
            ("mode", "mode=0750"),
            ("owner", "mode=01777,uid=1234,gid=5678"),
            ("sized", "mode=0755,uid=0,gid=0,size=1m"),
        ] {
            b.mkdir("/", name, 0o700, 0, 0);
            b.mount_fs(&format!("/{name}"), MountFlags::empty(), data);
            b.lstat(&format!("/{name}"));
            b.statfs(&format!("/{name}"));
            b.is_mount_point(&format!("/{name}"));
            b.read_dir(&format!("/{name}"));
            b.mkdir(&format!("/{name}"), "d", 0o755, 7, 8);
            b.lstat(&format!("/{name}/d"));
        }
        b.mkdir("/", "flags", 0o755, 0, 0);
        b.mount_fs(
            "/flags",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            "mode=0755",
        );
        b.statfs("/flags");
        b.mkdir("/", "ro", 0o755, 0, 0);
        b.mount_fs("/ro", MountFlags::RDONLY, "");
        b.statfs("/ro");
        b.mkdir("/ro", "x", 0o755, 0, 0);
        b.set_propagation("/ro", MountFlags::PRIVATE);
        b.set_propagation("/ro", MountFlags::SHARED | MountFlags::REC);
        b.set_propagation("/ro", MountFlags::UNBINDABLE);
        b.differ(
            "mount_fs of an unknown file system type",
            "the fake has no file system registry: profiles (snapd's unit-test \
             vectors among them) name types such as `none` it must take",
            |s| s.mount_fs("none", "/flags", "no-such-fs", MountFlags::empty(), ""),
            Ok(()),
            Err(Errno::NODEV),
        );
        b.differ(
            "mount_fs tmpfs with an option tmpfs does not know",
            "the fake reads mode=, uid= and gid= and validates no option",
            |s| s.mount_fs("tmpfs", "/default", "tmpfs", MountFlags::empty(), "bogus=1"),
            Ok(()),
            Err(Errno::INVAL),
        );
        // Only the fake mounted them: take them off again.
        b.fake.unmount("/flags", false).unwrap();
        b.fake.unmount("/default", false).unwrap();
    });
}

#[test]
fn trees_set_aside_give_back_their_entries_with_or_without_submounts() {
    run_both(|b| {
        b.mkdir("/", "orig", 0o755, 0, 0);
        b.mkdir("/orig", "sub", 0o750, 0, 0);
        b.mkfile("/orig", "file", 0o640, 0, 0);
        b.symlink("/orig", "link", "sub");
        b.mkdir("/orig/sub", "inner", 0o755, 0, 0);
        b.mount_fs("/orig/sub/inner", MountFlags::empty(), "mode=0700");
        b.mkfile("/orig/sub/inner", "deep", 0o644, 0, 0);
        let aside = b.set_aside("/orig").unwrap();
        // A writable mimic by hand: a tmpfs over the original, entries back.
        b.mount_fs("/orig", MountFlags::empty(), "mode=0755");
        b.read_dir("/orig");
        b.mkdir("/orig", "sub", 0o750, 0, 0);
        b.mkfile("/orig", "file", 0o640, 0, 0);
        b.symlink("/orig", "link", "sub");
        b.bind_from_aside(aside, "sub", "/orig/sub", true);
        b.bind_from_aside(aside, "file", "/orig/file", false);
        b.bind_from_aside(aside, "link", "/orig/link", false);
        b.is_mount_point("/orig/sub");
        b.is_mount_point("/orig/sub/inner");
        b.is_mount_point("/orig/file");
        b.read_dir("/orig/sub/inner");
        // Not recursive: the submount stays behind.
        b.mkdir("/", "flat", 0o755, 0, 0);
        b.bind_from_aside(aside, "sub", "/flat", false);
        b.is_mount_point("/flat/inner");
        b.read_dir("/flat/inner");
        // Kinds must match.
        b.bind_from_aside(aside, "file", "/flat", false);
        b.bind_from_aside(aside, "sub", "/orig/file", false);
        b.release_aside(aside);
        b.bind_from_aside(aside, "sub", "/flat", false);
        // What was cloned out stays.
        b.is_mount_point("/orig/sub/inner");
        b.mkfile("/orig", "new", 0o644, 0, 0);
        b.mkfile("/orig/sub", "new", 0o644, 0, 0);
        b.unmount("/orig", false);
        b.unmount("/orig", true);
        b.read_dir("/orig");
        b.read_dir("/orig/sub");
        b.is_mount_point("/orig/sub/inner");
    });
}
