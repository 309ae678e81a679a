//! Process tracking (research/confinement.md §4): which processes belong to
//! a snap, and freezing them while snap-update-ns changes their namespace.
//!
//! * **v1**: every process of a snap is in the freezer group
//!   `/sys/fs/cgroup/freezer/snap.INSTANCE` (created 0755 root:root by the
//!   first launch, never removed, as snapd's); snap-confine joins it
//!   ([`join_tracking_group`]). The snap is in use while a process listed
//!   in its `cgroup.procs` is alive. Freezing writes `FROZEN` to its
//!   `freezer.state` and polls it until it says so.
//! * **v2**: `snap run` puts each app in a transient systemd scope
//!   `snap.INSTANCE.APP-UUID.scope` (daemons are in `snap.INSTANCE.APP.service`)
//!   before snap-confine runs, so snap-confine joins nothing. The snap is
//!   in use while any group named `snap.INSTANCE.*` exists other than the
//!   caller's own (a walk of `/sys/fs/cgroup`, at most 32 levels deep, as
//!   snapd's). Freezing writes `1` to `cgroup.freeze` of each of the snap's
//!   scopes and services but the caller's own, then waits until
//!   `cgroup.events` says `frozen 1` (snapd polls `cgroup.freeze`, which
//!   reads back `1` at once, so it never really waits).
//!
//! A freeze that does not finish within [`FREEZE_TIMEOUT`] (snapd's 3 s)
//! thaws what it froze and fails; a [`Frozen`] thaws when it is dropped.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, openat};
use rustix::io::Errno;
use snapcell_core::dirs::{CGROUP_DIR, CGROUP_V1_FREEZER_DIR};

use super::device::mkdir_root_owned;
use super::{CgroupError, CgroupVersion, OrCgroupError, cgroup_version, own_cgroup_v2};
use crate::debug;

/// How long a freeze may take (snapd's `freezerTimeout`).
pub const FREEZE_TIMEOUT: Duration = Duration::from_millis(3000);
/// How often the freeze state is read while waiting (snapd's 100 ms).
pub const FREEZE_POLL: Duration = Duration::from_millis(100);
/// How deep the v2 walk goes (snapd's `max_traversal_depth`).
const MAX_DEPTH: usize = 32;

/// `snap.INSTANCE`, the v1 freezer group's name.
pub fn freezer_group_name(instance: &str) -> String {
    format!("snap.{instance}")
}

const DIR_PATH: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// snap-confine's step (spec §6.4 step 10): on v1, move the calling process
/// into the snap's freezer group (creating it); on v2 nothing (`snap run`
/// has put it in a scope). Returns whether it joined a group.
pub fn join_tracking_group(instance: &str) -> Result<bool, CgroupError> {
    open_tracking_group(instance)?.join()
}

/// The snap's tracking group, opened ahead of joining it: on v1 the
/// freezer group's `cgroup.procs`, open for writing; on v2 nothing.
/// snap-confine opens it in the host's mount namespace and joins from the
/// snap's, where `/sys/fs/cgroup` is read-only.
#[derive(Debug)]
pub struct TrackingGroup {
    /// `cgroup.procs` and its path (for messages).
    procs: Option<(OwnedFd, String)>,
}

/// Open the snap's tracking group ([`TrackingGroup`]); on v1 the freezer
/// group `snap.INSTANCE` is created (0755, root) if needed.
pub fn open_tracking_group(instance: &str) -> Result<TrackingGroup, CgroupError> {
    match cgroup_version()? {
        CgroupVersion::V2 => Ok(TrackingGroup { procs: None }),
        CgroupVersion::V1 => Ok(TrackingGroup {
            procs: Some(open_freezer_procs_v1(instance)?),
        }),
    }
}

impl TrackingGroup {
    /// Move the calling process into the group; whether there was one.
    pub fn join(self) -> Result<bool, CgroupError> {
        let Some((procs, path)) = self.procs else {
            return Ok(false);
        };
        write_own_pid(&procs, &path)?;
        Ok(true)
    }
}

/// `sc_cgroup_freezer_join`: create `freezer/snap.INSTANCE` (0755, root)
/// if needed and write the calling process's pid to its `cgroup.procs`.
pub fn join_freezer_v1(instance: &str) -> Result<(), CgroupError> {
    let (procs, path) = open_freezer_procs_v1(instance)?;
    write_own_pid(&procs, &path)
}

/// `freezer/snap.INSTANCE/cgroup.procs` (the group created if needed),
/// open for writing, and the group's path.
fn open_freezer_procs_v1(instance: &str) -> Result<(OwnedFd, String), CgroupError> {
    let parent = CGROUP_V1_FREEZER_DIR;
    let name = freezer_group_name(instance);
    let freezer = rustix::fs::open(parent, DIR_PATH, Mode::empty())
        .or_fail(|| format!("cannot open cgroup hierarchy {parent}"))?;
    mkdir_root_owned(&freezer, &name, 0o755, &format!("{parent}/{name}"))?;
    let group = openat(&freezer, name.as_str(), DIR_PATH, Mode::empty())
        .or_fail(|| format!("cannot open cgroup hierarchy {parent}/{name}"))?;
    let procs = openat(
        &group,
        "cgroup.procs",
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .or_fail(|| format!("cannot open file {parent}/{name}/cgroup.procs"))?;
    Ok((procs, format!("{parent}/{name}")))
}

/// Write the calling process's pid to the group `path`'s `procs`.
fn write_own_pid(procs: &OwnedFd, path: &str) -> Result<(), CgroupError> {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let text = pid.to_string();
    match rustix::io::write(procs, text.as_bytes()) {
        Ok(n) if n == text.len() => {}
        Ok(_) => {
            return Err(CgroupError::new(format!(
                "cannot move process {pid} to cgroup hierarchy {path}"
            )));
        }
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot move process {pid} to cgroup hierarchy {path}"),
                e,
            ));
        }
    }
    debug!("moved process {pid} to cgroup hierarchy {path}");
    Ok(())
}

/// Whether processes of `instance` other than the caller are running
/// (snapd's `sc_is_mount_ns_in_use`; the caller holds the snap lock, so no
/// launch joins meanwhile).
pub fn snap_in_use(instance: &str) -> Result<bool, CgroupError> {
    match cgroup_version()? {
        CgroupVersion::V1 => freezer_occupied_v1(instance),
        CgroupVersion::V2 => {
            let own = own_cgroup_v2()?;
            let own_leaf = own.rsplit('/').next().unwrap_or_default().to_owned();
            let prefix = format!("snap.{instance}.");
            let mut found = false;
            walk_v2(&mut |rel, leaf| {
                if leaf == own_leaf {
                    return Walk::Skip;
                }
                if leaf.starts_with(&prefix) {
                    debug!("snap {instance} is tracked in cgroup {rel}");
                    found = true;
                    return Walk::Stop;
                }
                Walk::Descend
            })?;
            Ok(found)
        }
    }
}

/// v1: a live process in `freezer/snap.INSTANCE/cgroup.procs`.
fn freezer_occupied_v1(instance: &str) -> Result<bool, CgroupError> {
    let path = format!(
        "{CGROUP_V1_FREEZER_DIR}/{}/cgroup.procs",
        freezer_group_name(instance)
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot read {path}"),
                Errno::from_io_error(&e).unwrap_or(Errno::IO),
            ));
        }
    };
    let own = rustix::process::getpid().as_raw_nonzero().get();
    Ok(text
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|&pid| pid != own)
        .any(|pid| {
            let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
            if alive {
                debug!("process {pid} of snap {instance} is alive");
            }
            alive
        }))
}

/// What to do with a directory met in the v2 walk.
#[derive(PartialEq, Eq)]
enum Walk {
    Descend,
    Skip,
    Stop,
}

/// Visit the directories of the v2 hierarchy at `/sys/fs/cgroup`, depth
/// first, with their path relative to it (`/a/b`) and their name. Groups
/// that go away meanwhile are passed over.
fn walk_v2(visit: &mut dyn FnMut(&str, &str) -> Walk) -> Result<(), CgroupError> {
    let root = match rustix::fs::open(
        CGROUP_DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(CgroupError::sys("cannot open cgroup root dir", e)),
    };
    walk_dir(&root, "", 1, visit).map(|_| ())
}

/// `Ok(true)`: stopped.
fn walk_dir(
    dir: &OwnedFd,
    rel: &str,
    depth: usize,
    visit: &mut dyn FnMut(&str, &str) -> Walk,
) -> Result<bool, CgroupError> {
    if depth > MAX_DEPTH {
        return Err(CgroupError::new(format!(
            "cannot traverse cgroups hierarchy deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut subdirs = Vec::new();
    let reader = match rustix::fs::Dir::read_from(dir) {
        Ok(r) => r,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(CgroupError::sys("cannot read directory entry", e)),
    };
    for entry in reader {
        let entry = match entry {
            Ok(e) => e,
            Err(Errno::NOENT) => break,
            Err(e) => return Err(CgroupError::sys("cannot read directory entry", e)),
        };
        if entry.file_type() != rustix::fs::FileType::Directory {
            continue;
        }
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        subdirs.push(name.to_owned());
    }
    for name in subdirs {
        let path = format!("{rel}/{name}");
        match visit(&path, &name) {
            Walk::Stop => return Ok(true),
            Walk::Skip => continue,
            Walk::Descend => {}
        }
        let sub = match openat(
            dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => continue,
            Err(e) => {
                return Err(CgroupError::sys(
                    format!("cannot open directory entry {name:?}"),
                    e,
                ));
            }
        };
        if walk_dir(&sub, &path, depth + 1, visit)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The snap's processes, frozen until [`Frozen::thaw`] or drop.
#[derive(Debug)]
#[must_use = "the processes are thawed when this is dropped"]
pub struct Frozen {
    instance: String,
    groups: Groups,
}

/// The files that thaw, each kept open from the freeze (in the host's
/// mount namespace) to the thaw, which happens after snap-update-ns has
/// entered the snap's, where `/sys/fs/cgroup` is read-only.
#[derive(Debug)]
enum Groups {
    /// `freezer/snap.INSTANCE/freezer.state` (not open: there is no group).
    V1(String, Option<std::fs::File>),
    /// Each frozen group's `cgroup.freeze`.
    V2(Vec<(String, std::fs::File)>),
}

/// `path` opened for writing.
fn open_for_writing(path: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(path)
}

/// Write `value` to the open cgroup file `file`.
fn write_to(mut file: &std::fs::File, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    file.write_all(value.as_bytes())
}

/// Freeze the processes of `instance` (snapd's `FreezeSnapProcesses`),
/// but the caller's own group on v2. Nothing to freeze (no group): an
/// empty [`Frozen`].
pub fn freeze_snap_processes(instance: &str) -> Result<Frozen, CgroupError> {
    let groups = match cgroup_version()? {
        CgroupVersion::V1 => {
            let (state, file) = freeze_v1(instance)?;
            Groups::V1(state, file)
        }
        CgroupVersion::V2 => Groups::V2(freeze_v2(instance)?),
    };
    Ok(Frozen {
        instance: instance.to_owned(),
        groups,
    })
}

fn cannot_finish(instance: &str) -> CgroupError {
    CgroupError::new(format!(
        "cannot finish freezing processes of snap {instance:?}"
    ))
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

fn freeze_v1(instance: &str) -> Result<(String, Option<std::fs::File>), CgroupError> {
    let state = format!(
        "{CGROUP_V1_FREEZER_DIR}/{}/freezer.state",
        freezer_group_name(instance)
    );
    let freeze = open_for_writing(&state).and_then(|file| {
        write_to(&file, "FROZEN")?;
        Ok(file)
    });
    let file = match freeze {
        Ok(file) => file,
        // No group: no process of the snap has been started yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((state, None)),
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot freeze processes of snap {instance:?}"),
                io_errno(&e),
            ));
        }
    };
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    loop {
        let now = std::fs::read_to_string(&state).map_err(|e| {
            let _ = thaw_v1(instance, &state, Some(&file));
            CgroupError::sys(
                format!("cannot determine the freeze state of processes of snap {instance:?}"),
                io_errno(&e),
            )
        })?;
        if now.trim() != "FREEZING" {
            debug!("froze the processes of snap {instance} ({})", now.trim());
            return Ok((state, Some(file)));
        }
        if Instant::now() >= deadline {
            let _ = thaw_v1(instance, &state, Some(&file));
            return Err(cannot_finish(instance));
        }
        std::thread::sleep(FREEZE_POLL);
    }
}

fn thaw_v1(instance: &str, state: &str, file: Option<&std::fs::File>) -> Result<(), CgroupError> {
    let thawed = match file {
        Some(file) => write_to(file, "THAWED"),
        None => std::fs::write(state, "THAWED"),
    };
    match thawed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CgroupError::sys(
            format!("cannot thaw processes of snap {instance:?}"),
            io_errno(&e),
        )),
    }
}

/// Whether the group named `leaf` is a scope or service of `instance`.
fn is_snap_unit_of(leaf: &str, instance: &str) -> bool {
    leaf.starts_with(&format!("snap.{instance}."))
        && (leaf.ends_with(".scope") || leaf.ends_with(".service"))
}

fn freeze_v2(instance: &str) -> Result<Vec<(String, std::fs::File)>, CgroupError> {
    let own = own_cgroup_v2()?;
    let mut targets = Vec::new();
    walk_v2(&mut |rel, leaf| {
        if is_snap_unit_of(leaf, instance) {
            if rel != own {
                targets.push(rel.to_owned());
            }
            return Walk::Skip;
        }
        Walk::Descend
    })?;
    let mut frozen = Vec::new();
    let result = (|| {
        for rel in &targets {
            let path = format!("{CGROUP_DIR}{rel}/cgroup.freeze");
            let freeze = open_for_writing(&path).and_then(|file| {
                write_to(&file, "1")?;
                Ok(file)
            });
            match freeze {
                Ok(file) => frozen.push((path, file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CgroupError::sys(
                        format!("cannot freeze processes of snap {instance:?}"),
                        io_errno(&e),
                    ));
                }
            }
        }
        // Wait until the kernel says each is frozen (cgroup.events).
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        for (file, _) in &frozen {
            let events = file.replace("/cgroup.freeze", "/cgroup.events");
            loop {
                match std::fs::read_to_string(&events) {
                    Ok(text) if text.lines().any(|l| l.trim() == "frozen 1") => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => {
                        return Err(CgroupError::sys(
                            format!(
                                "cannot determine the freeze state of processes of snap {instance:?}"
                            ),
                            io_errno(&e),
                        ));
                    }
                }
                if Instant::now() >= deadline {
                    return Err(cannot_finish(instance));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            debug!("froze {} cgroups of snap {instance}", frozen.len());
            Ok(frozen)
        }
        Err(e) => {
            for (_, file) in &frozen {
                let _ = write_to(file, "0");
            }
            Err(e)
        }
    }
}

impl Frozen {
    /// Thaw the snap's processes (snapd's `ThawSnapProcesses`).
    pub fn thaw(mut self) -> Result<(), CgroupError> {
        self.thaw_now()
    }

    fn thaw_now(&mut self) -> Result<(), CgroupError> {
        match std::mem::replace(&mut self.groups, Groups::V2(Vec::new())) {
            Groups::V1(state, file) => thaw_v1(&self.instance, &state, file.as_ref()),
            Groups::V2(files) => {
                let mut result = Ok(());
                for (_, file) in files {
                    match write_to(&file, "0") {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            result = Err(CgroupError::sys(
                                format!("cannot thaw processes of snap {:?}", self.instance),
                                io_errno(&e),
                            ));
                        }
                    }
                }
                result
            }
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Err(e) = self.thaw_now() {
            debug!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_units() {
        assert!(is_snap_unit_of("snap.foo.app-1234.scope", "foo"));
        assert!(is_snap_unit_of("snap.foo.daemon.service", "foo"));
        assert!(is_snap_unit_of("snap.foo.hook.configure-1.scope", "foo"));
        assert!(!is_snap_unit_of("snap.foo_bar.app-1.scope", "foo"));
        assert!(!is_snap_unit_of("snap.foobar.app-1.scope", "foo"));
        assert!(!is_snap_unit_of("snap.foo.slice", "foo"));
        assert_eq!(freezer_group_name("foo_x"), "snap.foo_x");
    }
}
