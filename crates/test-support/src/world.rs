//! Throwaway worlds: a test body run in its own PID and mount namespaces.
//!
//! [`run_in_world`] forks three processes:
//!
//! 1. the *relay* unshares the mount and PID namespaces, makes `/`
//!    recursively private before anything else, and waits;
//! 2. the world's *init* (pid 1 of the new PID namespace) mounts a fresh
//!    `/proc` and fresh tmpfs over [`WORLD_TMPFS_DIRS`], then reaps
//!    processes until the body is done;
//! 3. the *body* process (pid 2) runs the closure with a [`World`], tears the
//!    world's snaps down and reports back through a pipe.
//!
//! When the init exits, the kernel kills whatever else is left in the PID
//! namespace; when the relay exits too, the mount namespace dies with every
//! mount in it, which releases the auto-clearing loop devices behind snap
//! mounts even if the body left them mounted. The calling process then checks
//! that each loop device the world attached through [`World::mount_snap`] is
//! gone. All three processes die with their parent (`PR_SET_PDEATHSIG`), so a
//! test killed by a timeout leaves nothing behind.
//!
//! The body runs in a forked copy of the test process:
//! * it sees the test's variables, but what it changes in memory stays in the
//!   child; only success or failure comes back;
//! * values the closure captures are never dropped in the child (a captured
//!   `TempDir` is not removed there);
//! * under plain `cargo test` (tests share one process, on threads), output
//!   the body prints is caught by the harness's capture in the child and
//!   lost; failures still arrive through the pipe. Under cargo-nextest it
//!   shows as usual. The body's own panics are not printed by the panic hook
//!   in either case (see `install_panic_recorder`); the calling test's panic
//!   carries their message and location.
//! * under plain `cargo test`, the body is forked from a multi-threaded
//!   process: locks other threads held at the fork stay held in the body.
//!   Avoid `--nocapture` printing to a shared stdout from bodies there; use
//!   cargo-nextest (one process per test) for anything elaborate.
//! * host paths under `/tmp` are hidden by the world's tmpfs; prepare host
//!   files with [`crate::scratch_dir`] instead.

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, symlink};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use rustix::fs::CWD;
use rustix::io::Errno;
use rustix::mount::{
    MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags, mount,
    mount_bind, mount_change, move_mount, open_tree, unmount,
};
use rustix::pipe::{PipeFlags, fcntl_setpipe_size, pipe_with};
use rustix::process::{
    Pid, Signal, WaitOptions, WaitStatus, getpid, getppid, set_parent_process_death_signal, waitpid,
};
use rustix::thread::UnshareFlags;
use snapcell_core::dirs::{Dirs, SNAP_BLOB_DIR};
use snapcell_standalone::image::mount_squashfs;
use snapcell_sys::fork::{fork_child, unshare};
use snapcell_sys::loopdev::{BackingFile, backing_file_of};

use crate::snapshot::claim_filesystem;
use crate::squashfs::build_squashfs;

/// Directories a world covers with a fresh, empty tmpfs, in mount order.
/// One that does not exist on the host is created inside a *writable mimic*
/// of its nearest existing parent (a tmpfs over the parent that holds bind
/// mounts of everything the parent held, and symlinks re-created), so the
/// host is never written to. A missing top-level directory (say `/snap`)
/// cannot be handled that way: the world then fails to start, asking for it
/// to be created on the host.
pub const WORLD_TMPFS_DIRS: &[&str] =
    &["/tmp", "/snap", "/var/snap", "/var/lib/snapd", "/run/snapd"];

/// Directories every world covers with a writable mimic (a tmpfs holding
/// binds of the host's entries), so that whatever the code under test
/// creates in them (snap-confine makes `/run/netns` when it is missing)
/// stays in the world instead of landing on the host's disk.
pub const WORLD_MIMIC_DIRS: &[&str] = &["/run"];

/// How long the calling process waits for a world's loop devices to be
/// released after the world ended.
const LOOP_RELEASE_TIME: Duration = Duration::from_secs(5);

/// Longest message carried back from a world.
const MAX_MESSAGE: usize = 32 * 1024;

/// Why a world failed.
#[derive(Debug)]
pub enum WorldError {
    /// The world could not be made (fork, unshare, mounts).
    Setup(String),
    /// The body panicked or returned an error. The message is the panic
    /// message with its location (`panicked at FILE:LINE:COL:\nMSG`), or the
    /// error.
    Body(String),
    /// A world process died without reporting (a signal, for instance).
    Died(String),
    /// Loop devices the world attached were still attached, to the world's
    /// images, after it ended.
    LeakedLoops(Vec<String>),
}

impl fmt::Display for WorldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorldError::Setup(msg) => write!(f, "cannot set up the test world: {msg}"),
            WorldError::Body(msg) => write!(f, "the test world's body failed: {msg}"),
            WorldError::Died(msg) => write!(f, "the test world died: {msg}"),
            WorldError::LeakedLoops(devices) => {
                write!(
                    f,
                    "the test world leaked loop devices: {}",
                    devices.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for WorldError {}

/// What a world body may return: `()` or `Result<(), E>`.
///
/// A closure whose body *only* panics has type `!` under edition 2024's
/// never-type fallback, which cannot implement this trait on stable Rust;
/// panic conditionally (`assert!`) or end the body with `()`.
pub trait BodyOutcome {
    fn into_outcome(self) -> Result<(), String>;
}

impl BodyOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> BodyOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|err| format!("returned an error: {err}"))
    }
}

/// Run `body` in a fresh world and panic with the world's failure, if any,
/// so the calling test fails with the body's own message.
pub fn run_in_world<F, R>(body: F)
where
    F: FnMut(&mut World) -> R,
    R: BodyOutcome,
{
    if let Err(err) = try_run_in_world(body) {
        panic!("{err}");
    }
}

/// Run `body` in a fresh world; see the [module documentation](self).
pub fn try_run_in_world<F, R>(mut body: F) -> Result<(), WorldError>
where
    F: FnMut(&mut World) -> R,
    R: BodyOutcome,
{
    let (from_world, to_test) = pipe_with(PipeFlags::CLOEXEC)
        .map_err(|err| WorldError::Setup(format!("cannot make a pipe: {err}")))?;
    // The test reads only after the world is gone, so everything must fit.
    let _ = fcntl_setpipe_size(&to_test, 1 << 20);
    install_panic_recorder();
    let test_pid = getpid();
    let relay = fork_child(|| relay_main(to_test.as_fd(), test_pid, &mut body))
        .map_err(|err| WorldError::Setup(format!("cannot fork: {err}")))?;
    drop(to_test);
    let status = wait_for(relay);
    let report = Report::read(from_world);
    for &(major, minor) in &report.filesystems {
        claim_filesystem(major, minor);
    }
    report.into_result(&status)
}

/// A running world, handed to the body.
#[derive(Debug, Default)]
pub struct World {
    snaps: Vec<MountedSnap>,
}

/// A snap mounted with [`World::mount_snap`].
#[derive(Clone, Debug)]
pub struct MountedSnap {
    pub name: String,
    pub revision: String,
    /// `/snap/NAME/REV`.
    pub mount_dir: PathBuf,
    /// `/var/lib/snapd/snaps/NAME_REV.snap`.
    pub image: PathBuf,
    /// `/dev/loopN`.
    pub loop_device: PathBuf,
    backing: BackingFile,
}

impl World {
    /// Mount a snap: pack `source` (a directory tree) into
    /// `/var/lib/snapd/snaps/NAME_REV.snap`, or copy it there if it is
    /// already an image; attach it read-only to a loop device; mount it at
    /// `/snap/NAME/REV`; and point `/snap/NAME/current` at `REV`. Returns
    /// the mount directory.
    ///
    /// The mount is unmounted when the body returns, and the loop device goes
    /// with it; if the body leaves extra references (bind mounts, other
    /// namespaces), the world's end releases it.
    pub fn mount_snap(
        &mut self,
        name: &str,
        revision: impl fmt::Display,
        source: impl AsRef<Path>,
    ) -> io::Result<PathBuf> {
        let revision = revision.to_string();
        let source = source.as_ref();
        let fail = |why: String| {
            io::Error::other(format!(
                "cannot mount snap {name} revision {revision}: {why}"
            ))
        };
        for part in [name, revision.as_str()] {
            if part.is_empty() || part == "." || part == ".." || part.contains('/') {
                return Err(fail(format!("{part:?} cannot be used in a path")));
            }
        }
        let image = PathBuf::from(Dirs::HOST.snap_blob(name, &revision.to_string()));
        if image.exists() {
            return Err(fail(format!("{} already exists", image.display())));
        }
        fs::create_dir_all(SNAP_BLOB_DIR)
            .map_err(|err| fail(format!("cannot create {SNAP_BLOB_DIR}: {err}")))?;
        let meta = fs::metadata(source)
            .map_err(|err| fail(format!("cannot use {}: {err}", source.display())))?;
        if meta.is_dir() {
            build_squashfs(source, &image).map_err(|err| fail(err.to_string()))?;
        } else {
            fs::copy(source, &image).map_err(|err| {
                fail(format!(
                    "cannot copy {} to {}: {err}",
                    source.display(),
                    image.display()
                ))
            })?;
        }

        let snap_dir = Path::new("/snap").join(name);
        let mount_dir = snap_dir.join(&revision);
        fs::create_dir_all(&mount_dir)
            .map_err(|err| fail(format!("cannot create {}: {err}", mount_dir.display())))?;
        let device = mount_squashfs(&image, &mount_dir).map_err(|err| fail(err.to_string()))?;
        let backing = device
            .backing_file()
            .map_err(|err| fail(format!("cannot query {}: {err}", device.path().display())))?;
        let snap = MountedSnap {
            name: name.to_owned(),
            revision: revision.clone(),
            mount_dir: mount_dir.clone(),
            image,
            loop_device: device.path().to_owned(),
            backing,
        };
        // The mount holds the device from here on; unmounting releases it.
        drop(device);
        self.snaps.push(snap);

        let current = snap_dir.join("current");
        if fs::symlink_metadata(&current).is_ok() {
            fs::remove_file(&current)
                .map_err(|err| fail(format!("cannot replace {}: {err}", current.display())))?;
        }
        symlink(&revision, &current)
            .map_err(|err| fail(format!("cannot create {}: {err}", current.display())))?;
        Ok(mount_dir)
    }

    /// The snaps mounted so far.
    pub fn snaps(&self) -> &[MountedSnap] {
        &self.snaps
    }

    /// Unmount the snaps, newest first. Errors are ignored: the world's end
    /// cleans up whatever is left, and the test process checks the loops.
    fn teardown(&mut self) {
        for snap in self.snaps.iter().rev() {
            if unmount(&snap.mount_dir, UnmountFlags::empty()) == Err(Errno::BUSY) {
                let _ = unmount(&snap.mount_dir, UnmountFlags::DETACH);
            }
        }
    }
}

// ---- the three processes -------------------------------------------------

fn relay_main<F, R>(report: BorrowedFd<'_>, test_pid: Pid, body: &mut F) -> i32
where
    F: FnMut(&mut World) -> R,
    R: BodyOutcome,
{
    let _ = set_parent_process_death_signal(Some(Signal::KILL));
    if getppid() != Some(test_pid) {
        // The test is already gone (the death signal was set too late).
        return 1;
    }
    let setup = || -> Result<(), String> {
        unshare(UnshareFlags::NEWNS | UnshareFlags::NEWPID).map_err(|err| {
            format!("cannot unshare the mount and PID namespaces: {err} (worlds need root)")
        })?;
        mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )
        .map_err(|err| format!("cannot make / recursively private: {err}"))
    };
    if let Err(msg) = setup() {
        send(report, Tag::Setup, msg.as_bytes());
        return 1;
    }
    match fork_child(|| init_main(report, body)) {
        Ok(init) => exit_code(&wait_for(init)),
        Err(err) => {
            send(
                report,
                Tag::Setup,
                format!("cannot fork the world's init: {err}").as_bytes(),
            );
            1
        }
    }
}

fn init_main<F, R>(report: BorrowedFd<'_>, body: &mut F) -> i32
where
    F: FnMut(&mut World) -> R,
    R: BodyOutcome,
{
    // The relay lives in the parent PID namespace, so getppid() is 0 here
    // and cannot tell whether it died before the death signal was set; the
    // window is a few instructions wide and the relay only dies if killed.
    let _ = set_parent_process_death_signal(Some(Signal::KILL));
    match prepare_mounts() {
        Ok(tmpfs_dirs) => {
            for dir in tmpfs_dirs {
                if let Ok(stat) = rustix::fs::stat(&dir) {
                    let dev = format!(
                        "{}:{}",
                        rustix::fs::major(stat.st_dev),
                        rustix::fs::minor(stat.st_dev)
                    );
                    send(report, Tag::Filesystem, dev.as_bytes());
                }
            }
        }
        Err(msg) => {
            send(report, Tag::Setup, msg.as_bytes());
            return 1;
        }
    }
    let init_pid = getpid();
    let worker = match fork_child(|| body_main(report, init_pid, body)) {
        Ok(pid) => pid,
        Err(err) => {
            send(
                report,
                Tag::Setup,
                format!("cannot fork the world's body: {err}").as_bytes(),
            );
            return 1;
        }
    };
    // Reap everything (we are pid 1) until the body process is done.
    loop {
        match waitpid(None, WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == worker => {
                if let Some(signal) = status.terminating_signal() {
                    send(
                        report,
                        Tag::Died,
                        format!("the body process was killed by signal {signal}").as_bytes(),
                    );
                }
                return exit_code(&status);
            }
            Ok(_) | Err(Errno::INTR) => continue,
            Err(err) => {
                send(
                    report,
                    Tag::Died,
                    format!("the world's init cannot wait: {err}").as_bytes(),
                );
                return 1;
            }
        }
    }
}

/// Set in the body process only: the panic hook then records the message
/// for the report.
static IN_WORLD_BODY: AtomicBool = AtomicBool::new(false);
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Install, once and in the test process (before any fork), a panic hook
/// that records panics of a world body. Changing the hook in the forked body
/// instead could deadlock under `cargo test`: another test thread may hold
/// the hook's lock at the moment of the fork. For the same reason the body's
/// panics do not go through the previous hook (which may take the backtrace
/// lock); their message and location reach the test through the report.
fn install_panic_recorder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_WORLD_BODY.load(Ordering::Relaxed) {
                if let Ok(mut last) = LAST_PANIC.lock() {
                    *last = Some(info.to_string());
                }
            } else {
                previous(info);
            }
        }));
    });
}

fn body_main<F, R>(report: BorrowedFd<'_>, init_pid: Pid, body: &mut F) -> i32
where
    F: FnMut(&mut World) -> R,
    R: BodyOutcome,
{
    let _ = set_parent_process_death_signal(Some(Signal::KILL));
    if getppid() != Some(init_pid) {
        return 1;
    }
    IN_WORLD_BODY.store(true, Ordering::Relaxed);
    let mut world = World::default();
    let outcome = match catch_unwind(AssertUnwindSafe(|| body(&mut world).into_outcome())) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let recorded = LAST_PANIC.lock().ok().and_then(|mut last| last.take());
            Err(recorded.unwrap_or_else(|| panic_payload(&*payload)))
        }
    };
    world.teardown();
    for snap in &world.snaps {
        let record = format!(
            "{}\n{}\n{}\n{}",
            snap.loop_device.display(),
            snap.backing.device,
            snap.backing.inode,
            snap.image.display()
        );
        send(report, Tag::Loop, record.as_bytes());
    }
    match outcome {
        Ok(()) => {
            send(report, Tag::Ok, b"");
            0
        }
        Err(msg) => {
            send(report, Tag::Body, msg.as_bytes());
            1
        }
    }
}

fn panic_payload(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked (no message)".to_owned()
    }
}

fn wait_for(pid: Pid) -> WaitStatus {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return status,
            Ok(None) | Err(Errno::INTR) => continue,
            Err(err) => panic!(
                "cannot wait for world process {}: {err}",
                pid.as_raw_nonzero()
            ),
        }
    }
}

fn exit_code(status: &WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(signal) = status.terminating_signal() {
        128 + signal
    } else {
        1
    }
}

fn describe(status: &WaitStatus) -> String {
    if let Some(code) = status.exit_status() {
        format!("exit status {code}")
    } else if let Some(signal) = status.terminating_signal() {
        format!("killed by signal {signal}")
    } else {
        format!("wait status {status:?}")
    }
}

// ---- the world's mounts (run by its init) -----------------------------------

/// Mount the world's /proc and tmpfs; returns every directory that got a
/// tmpfs (mimics included).
fn prepare_mounts() -> Result<Vec<PathBuf>, String> {
    mount(
        "proc",
        "/proc",
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )
    .map_err(|err| format!("cannot mount a fresh /proc: {err}"))?;
    let mut mimics: Vec<PathBuf> = Vec::new();
    for dir in WORLD_MIMIC_DIRS {
        writable_mimic(Path::new(dir))?;
        mimics.push(PathBuf::from(dir));
    }
    let mut tmpfs_dirs: Vec<PathBuf> = Vec::new();
    for dir in WORLD_TMPFS_DIRS {
        let path = Path::new(dir);
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                mount_tmpfs(path, meta.mode() & 0o7777, meta.uid(), meta.gid())?
            }
            Ok(_) => {
                return Err(format!(
                    "cannot cover {dir} with a tmpfs: it is not a directory on this machine"
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let parent = nearest_existing_parent(path);
                if parent == Path::new("/") {
                    return Err(format!(
                        "{dir} does not exist on this machine and a world cannot make it without writing \
                         to the host's /; create it once with `mkdir -p {dir}`"
                    ));
                }
                if !mimics.contains(&parent) {
                    writable_mimic(&parent)?;
                    mimics.push(parent);
                }
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(path)
                    .map_err(|err| format!("cannot create {dir}: {err}"))?;
                mount_tmpfs(path, 0o755, 0, 0)?;
            }
            Err(err) => return Err(format!("cannot inspect {dir}: {err}")),
        }
        tmpfs_dirs.push(path.to_owned());
    }
    tmpfs_dirs.extend(mimics);
    unified_cgroups()?;
    Ok(tmpfs_dirs)
}

/// Show the world the unified (v2) cgroup hierarchy at /sys/fs/cgroup.
///
/// cgroup v1 directories are not namespaced: a launcher that makes and joins
/// `/sys/fs/cgroup/freezer/snap.NAME` (snapd's snap-confine on a v1 or
/// hybrid host such as this VM) would leave it on the machine. With the v2
/// view, as on a default Debian 12 host, snapd leaves cgroups alone.
fn unified_cgroups() -> Result<(), String> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let root = Path::new("/sys/fs/cgroup");
    match rustix::fs::statfs(root) {
        Ok(st) if st.f_type == CGROUP2_SUPER_MAGIC => return Ok(()),
        Ok(_) => {}
        Err(_) => return Ok(()), // no cgroups here at all: nothing to hide
    }
    let unified = root.join("unified");
    if unified.is_dir() {
        mount_bind(&unified, root).map_err(|err| {
            format!(
                "cannot bind {} over {}: {err}",
                unified.display(),
                root.display()
            )
        })
    } else {
        mount(
            "cgroup2",
            root,
            "cgroup2",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            None,
        )
        .map_err(|err| format!("cannot mount cgroup2 over {}: {err}", root.display()))
    }
}

fn nearest_existing_parent(path: &Path) -> PathBuf {
    let mut cur = path;
    while let Some(parent) = cur.parent() {
        if fs::symlink_metadata(parent).is_ok() {
            return parent.to_owned();
        }
        cur = parent;
    }
    PathBuf::from("/")
}

fn mount_tmpfs(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), String> {
    let data = CString::new(format!("mode={mode:04o},uid={uid},gid={gid}"))
        .expect("no NUL in tmpfs options");
    let flags = if path == Path::new("/tmp") {
        MountFlags::NOSUID | MountFlags::NODEV
    } else {
        MountFlags::empty()
    };
    mount("tmpfs", path, "tmpfs", flags, data.as_c_str())
        .map_err(|err| format!("cannot mount a tmpfs at {}: {err}", path.display()))
}

/// Cover `dir` with a tmpfs that looks like it: every entry is bind-mounted
/// back (recursively, so mounts below come along) and every symlink is
/// re-created. snapd calls this a writable mimic.
///
/// The host keeps changing while a world is built (other tests make and
/// remove directories under `/run`), so an entry listed by `readdir` that
/// is gone by the time it is looked at or attached is left out of the mimic
/// instead of failing the world; see [`save_entry`] and [`restore_entry`].
/// Returns how many entries were left out that way.
fn writable_mimic(dir: &Path) -> Result<usize, String> {
    let fail = |what: String| format!("cannot make a writable mimic of {}: {what}", dir.display());
    let meta = fs::symlink_metadata(dir).map_err(|err| fail(err.to_string()))?;
    let mut names = fs::read_dir(dir)
        .map_err(|err| fail(err.to_string()))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|err| fail(err.to_string()))?;
    names.sort();

    let mut vanished = 0;
    let mut saved = Vec::new();
    for name in names {
        match save_entry(&dir.join(&name)).map_err(fail)? {
            Some(entry) => saved.push(entry),
            None => vanished += 1,
        }
    }
    mount_tmpfs(dir, meta.mode() & 0o7777, meta.uid(), meta.gid())?;
    for entry in saved {
        if !restore_entry(entry).map_err(fail)? {
            vanished += 1;
        }
    }
    Ok(vanished)
}

/// One entry of a directory about to be covered by a writable mimic, kept
/// before the tmpfs hides it.
enum SavedEntry {
    /// A detached recursive clone of a directory or file (`open_tree`).
    Tree {
        path: PathBuf,
        is_dir: bool,
        mode: u32,
        tree: OwnedFd,
    },
    /// A symbolic link, re-created by target.
    Link { path: PathBuf, target: PathBuf },
}

/// Keep the entry `path` for a writable mimic: a symlink's target, or a
/// detached clone of anything else. `Ok(None)` when the entry is gone
/// (`ENOENT`: removed since its directory was listed).
fn save_entry(path: &Path) -> Result<Option<SavedEntry>, String> {
    let vanished = |err: &io::Error| err.kind() == io::ErrorKind::NotFound;
    let entry = match fs::symlink_metadata(path) {
        Ok(entry) => entry,
        Err(err) if vanished(&err) => return Ok(None),
        Err(err) => return Err(format!("{}: {err}", path.display())),
    };
    if entry.file_type().is_symlink() {
        return match fs::read_link(path) {
            Ok(target) => Ok(Some(SavedEntry::Link {
                path: path.to_owned(),
                target,
            })),
            Err(err) if vanished(&err) => Ok(None),
            Err(err) => Err(format!("{}: {err}", path.display())),
        };
    }
    let flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_RECURSIVE
        | OpenTreeFlags::AT_SYMLINK_NOFOLLOW;
    match open_tree(CWD, path, flags) {
        Ok(tree) => Ok(Some(SavedEntry::Tree {
            path: path.to_owned(),
            is_dir: entry.is_dir(),
            mode: entry.mode() & 0o7777,
            tree,
        })),
        Err(Errno::NOENT) => Ok(None),
        Err(err) => Err(format!("open_tree {}: {err}", path.display())),
    }
}

/// Put a saved entry back at its path, now on the mimic's tmpfs: re-create
/// the symlink, or create a mount point and attach the clone. `Ok(false)`
/// when the entry was removed on the host after it was saved: the kernel
/// refuses to attach a clone whose root is unlinked (`ENOENT`); the mount
/// point made for it is removed again, so the mimic lists what it holds.
fn restore_entry(entry: SavedEntry) -> Result<bool, String> {
    match entry {
        SavedEntry::Link { path, target } => {
            symlink(&target, &path).map_err(|err| format!("symlink {}: {err}", path.display()))?;
            Ok(true)
        }
        SavedEntry::Tree {
            path,
            is_dir,
            mode,
            tree,
        } => {
            let made = if is_dir {
                fs::DirBuilder::new().mode(mode).create(&path)
            } else {
                fs::File::create(&path).map(drop)
            };
            made.map_err(|err| format!("create {}: {err}", path.display()))?;
            match move_mount(
                &tree,
                "",
                CWD,
                &path,
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            ) {
                Ok(()) => Ok(true),
                Err(Errno::NOENT) => {
                    let removed = if is_dir {
                        fs::remove_dir(&path)
                    } else {
                        fs::remove_file(&path)
                    };
                    removed.map_err(|err| format!("remove {}: {err}", path.display()))?;
                    Ok(false)
                }
                Err(err) => Err(format!("move_mount to {}: {err}", path.display())),
            }
        }
    }
}

// ---- the report pipe ----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Setup = b'S',
    Body = b'B',
    Died = b'D',
    Loop = b'L',
    Filesystem = b'F',
    Ok = b'O',
}

/// One record: tag, little-endian u32 length, payload (truncated to
/// [`MAX_MESSAGE`]).
fn send(fd: BorrowedFd<'_>, tag: Tag, payload: &[u8]) {
    let payload = &payload[..payload.len().min(MAX_MESSAGE)];
    let mut record = Vec::with_capacity(payload.len() + 5);
    record.push(tag as u8);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(payload);
    let mut rest = &record[..];
    while !rest.is_empty() {
        match rustix::io::write(fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

#[derive(Debug, Default)]
struct Report {
    setup: Vec<String>,
    body: Vec<String>,
    died: Vec<String>,
    loops: Vec<LoopRecord>,
    /// Device numbers of the world's tmpfs.
    filesystems: Vec<(u32, u32)>,
    ok: bool,
}

#[derive(Debug)]
struct LoopRecord {
    device: PathBuf,
    backing: BackingFile,
    image: String,
}

impl Report {
    /// Read what the world sent. Called after the world is gone; the pipe
    /// is drained without waiting for EOF, since under `cargo test` a
    /// sibling test's fork may hold a copy of the write end.
    fn read(fd: OwnedFd) -> Report {
        let mut bytes = Vec::new();
        let _ = rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::NONBLOCK);
        let mut buf = [0u8; 8192];
        loop {
            match rustix::io::read(&fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(Errno::INTR) => continue,
                Err(_) => break,
            }
        }
        let mut report = Report::default();
        let mut rest = &bytes[..];
        while rest.len() >= 5 {
            let tag = rest[0];
            let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            if rest.len() < 5 + len {
                break;
            }
            let payload = String::from_utf8_lossy(&rest[5..5 + len]).into_owned();
            rest = &rest[5 + len..];
            match tag {
                b'S' => report.setup.push(payload),
                b'B' => report.body.push(payload),
                b'D' => report.died.push(payload),
                b'O' => report.ok = true,
                b'F' => {
                    if let Some((major, minor)) = payload.split_once(':')
                        && let (Ok(major), Ok(minor)) = (major.parse(), minor.parse())
                    {
                        report.filesystems.push((major, minor));
                    }
                }
                b'L' => {
                    let parts: Vec<&str> = payload.split('\n').collect();
                    if let [device, dev, ino, image] = parts[..] {
                        report.loops.push(LoopRecord {
                            device: PathBuf::from(device),
                            backing: BackingFile {
                                device: dev.parse().unwrap_or(0),
                                inode: ino.parse().unwrap_or(0),
                            },
                            image: image.to_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        report
    }

    fn into_result(self, status: &WaitStatus) -> Result<(), WorldError> {
        if !self.setup.is_empty() {
            return Err(WorldError::Setup(self.setup.join("; ")));
        }
        let leaked = leaked_loops(&self.loops, LOOP_RELEASE_TIME);
        if !self.body.is_empty() {
            let mut msg = self.body.join("; ");
            if !leaked.is_empty() {
                msg.push_str(&format!(
                    " (and the world leaked loop devices: {})",
                    leaked.join(", ")
                ));
            }
            return Err(WorldError::Body(msg));
        }
        if !self.died.is_empty() {
            return Err(WorldError::Died(self.died.join("; ")));
        }
        if !self.ok || exit_code(status) != 0 {
            return Err(WorldError::Died(format!(
                "the world ended without a report ({})",
                describe(status)
            )));
        }
        if !leaked.is_empty() {
            return Err(WorldError::LeakedLoops(leaked));
        }
        Ok(())
    }
}

/// Which of the world's loop devices are still attached to the world's
/// images, after giving the kernel `wait` to release them. A device is
/// identified by its backing file's device and inode numbers, so a device
/// someone else attached since does not count.
fn leaked_loops(loops: &[LoopRecord], wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    loop {
        let leaked: Vec<String> = loops
            .iter()
            .filter(|record| still_attached(record))
            .map(|record| format!("{} ({})", record.device.display(), record.image))
            .collect();
        if leaked.is_empty() || Instant::now() >= deadline {
            return leaked;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn still_attached(record: &LoopRecord) -> bool {
    // Most of the time sysfs answers without opening the device.
    if let Some(name) = record.device.file_name() {
        let sysfs = Path::new("/sys/block").join(name).join("loop/backing_file");
        if !sysfs.exists() {
            return false;
        }
    }
    match backing_file_of(&record.device) {
        Ok(Some(backing)) => backing == record.backing,
        Ok(None) => false,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tree, scratch_dir};
    use snapcell_sys::loopdev::LoopDevice;

    #[test]
    fn the_loop_check_tells_a_held_device_from_a_released_one() {
        let scratch = scratch_dir().unwrap();
        let tree = scratch.path().join("tree");
        Tree::new().file("f", "x", 0o644).write_to(&tree).unwrap();
        let image = scratch.path().join("img.snap");
        build_squashfs(&tree, &image).unwrap();
        // Attached, never mounted; dropping the handle detaches it.
        let device = LoopDevice::attach_read_only(&image).unwrap();
        let record = LoopRecord {
            device: device.path().to_owned(),
            backing: device.backing_file().unwrap(),
            image: image.display().to_string(),
        };
        let leaked = leaked_loops(std::slice::from_ref(&record), Duration::ZERO);
        assert_eq!(
            leaked,
            [format!("{} ({})", device.path().display(), image.display())]
        );
        // The same device number with another backing file is someone else's.
        let other = LoopRecord {
            backing: BackingFile {
                inode: record.backing.inode + 1,
                ..record.backing
            },
            ..record
        };
        assert!(leaked_loops(std::slice::from_ref(&other), Duration::ZERO).is_empty());
        let record = LoopRecord {
            backing: device.backing_file().unwrap(),
            ..other
        };
        drop(device);
        // Not necessarily at once: a parallel test's leak check may have the
        // device open for a moment, and the last close releases it.
        assert!(leaked_loops(&[record], Duration::from_secs(5)).is_empty());
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_entry_gone_before_it_is_saved_is_left_out() {
        let scratch = scratch_dir().unwrap();
        assert!(save_entry(&scratch.path().join("gone")).unwrap().is_none());
        let file = scratch.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(save_entry(&file).unwrap().is_some());
    }

    #[test]
    fn an_entry_gone_after_it_was_saved_is_left_out_of_the_mimic() {
        let scratch = scratch_dir().unwrap();
        let dir = scratch.path().join("mimicked");
        Tree::new()
            .dir("kept", 0o750)
            .file("kept/f", "kept", 0o644)
            .dir("gone-dir", 0o755)
            .file("gone-file", "x", 0o644)
            .symlink("link", "kept")
            .write_to(&dir)
            .unwrap();
        run_in_world(|_world| {
            let mut saved: Vec<(String, SavedEntry)> = names_in(&dir)
                .into_iter()
                .map(|name| {
                    let entry = save_entry(&dir.join(&name)).unwrap().unwrap();
                    (name, entry)
                })
                .collect();
            // Removed on the host between the listing and the attaching.
            fs::remove_dir(dir.join("gone-dir")).unwrap();
            fs::remove_file(dir.join("gone-file")).unwrap();
            mount_tmpfs(&dir, 0o755, 0, 0).unwrap();
            let mut restored = Vec::new();
            for (name, entry) in saved.drain(..) {
                restored.push((name, restore_entry(entry).unwrap()));
            }
            assert_eq!(
                restored,
                [
                    ("gone-dir".to_owned(), false),
                    ("gone-file".to_owned(), false),
                    ("kept".to_owned(), true),
                    ("link".to_owned(), true),
                ]
            );
            assert_eq!(names_in(&dir), ["kept", "link"]);
            assert_eq!(fs::read_to_string(dir.join("link/f")).unwrap(), "kept");
            unmount(&dir, UnmountFlags::DETACH).unwrap();
        });
    }

    #[test]
    fn a_mimic_tolerates_entries_that_come_and_go_while_it_is_built() {
        let scratch = scratch_dir().unwrap();
        let dir = scratch.path().join("busy");
        Tree::new()
            .dir("stable", 0o755)
            .file("stable/f", "stable", 0o644)
            .write_to(&dir)
            .unwrap();
        run_in_world(|_world| {
            // The churn works through a descriptor of the host directory, so
            // it keeps going on the host's side while mimics cover the path.
            let host = rustix::fs::open(
                &dir,
                rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
                rustix::fs::Mode::empty(),
            )
            .unwrap();
            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let churn = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mode = rustix::fs::Mode::from_raw_mode(0o755);
                    let mut rounds = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for i in 0..8 {
                            let _ = rustix::fs::mkdirat(&host, format!("d{i}"), mode);
                            let _ = rustix::fs::symlinkat("stable", &host, format!("l{i}"));
                            let _ = rustix::fs::openat(
                                &host,
                                format!("f{i}"),
                                rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
                                mode,
                            );
                        }
                        for i in 0..8 {
                            let _ = rustix::fs::unlinkat(
                                &host,
                                format!("d{i}"),
                                rustix::fs::AtFlags::REMOVEDIR,
                            );
                            let _ = rustix::fs::unlinkat(
                                &host,
                                format!("l{i}"),
                                rustix::fs::AtFlags::empty(),
                            );
                            let _ = rustix::fs::unlinkat(
                                &host,
                                format!("f{i}"),
                                rustix::fs::AtFlags::empty(),
                            );
                        }
                        rounds += 1;
                    }
                    rounds
                })
            };
            let deadline = Instant::now() + Duration::from_secs(3);
            let (mut mimics, mut vanished) = (0, 0);
            while mimics < 50 || (vanished == 0 && Instant::now() < deadline) {
                let result = writable_mimic(&dir);
                let listed = names_in(&dir);
                let _ = unmount(&dir, UnmountFlags::DETACH);
                match result {
                    Ok(n) => vanished += n,
                    Err(err) => {
                        stop.store(true, Ordering::Relaxed);
                        panic!("mimic {mimics} failed: {err}");
                    }
                }
                assert!(listed.contains(&"stable".to_owned()), "{listed:?}");
                mimics += 1;
            }
            stop.store(true, Ordering::Relaxed);
            let rounds = churn.join().unwrap();
            eprintln!("{mimics} mimics, {rounds} churn rounds, {vanished} entries vanished");
        });
    }

    #[test]
    fn reports_round_trip() {
        let (rd, wr) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        send(wr.as_fd(), Tag::Filesystem, b"0:42");
        send(
            wr.as_fd(),
            Tag::Loop,
            b"/dev/loop9\n123\n456\n/var/lib/snapd/snaps/a_1.snap",
        );
        send(wr.as_fd(), Tag::Body, "multi\nline \u{e9}".as_bytes());
        send(wr.as_fd(), Tag::Ok, b"");
        drop(wr);
        let report = Report::read(rd);
        assert_eq!(report.filesystems, [(0, 42)]);
        assert_eq!(report.loops.len(), 1);
        assert_eq!(report.loops[0].device, Path::new("/dev/loop9"));
        assert_eq!(
            report.loops[0].backing,
            BackingFile {
                device: 123,
                inode: 456
            }
        );
        assert_eq!(report.body, ["multi\nline \u{e9}"]);
        assert!(report.ok);
    }
}
