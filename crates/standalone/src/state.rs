//! The standalone state: which snaps and revisions are installed, which
//! revision is current, each snap's base, and which plugs are connected to
//! which slots; written atomically under a lock and readable as JSON.
//!
//! It lives in `/var/lib/snapd/standalone/state.json` ([`STATE_FILE`]),
//! beside snapd's own directories but never in snapd's
//! `/var/lib/snapd/state.json`, which belongs to snapd (and which
//! snap-confine reads for Landlock grants). The lock is the file
//! `state.lock` beside it, taken with an exclusive `flock` for the whole
//! of a command that changes anything ([`StateLock`]); readers take it
//! shared. A save writes `state.json.tmp` in the same directory, syncs it,
//! renames it over `state.json` and syncs the directory, so a crash leaves
//! the old state or the new one, never a mix.
//!
//! # The change journal
//!
//! A command that changes the machine (install, refresh, try, revert,
//! remove; connect and disconnect the same way) records what it is doing in
//! the state before it touches anything ([`StateLock::begin`]): the change
//! ([`ChangeKind`], with what is needed to undo it) and, before each step,
//! the step's name ([`Journal::step`]). The snaps and connections saved
//! with a pending change are those from before it; the final save
//! ([`Journal::commit`]) writes the new ones and clears the change in the
//! same rename. So the state file alone says whether a change was cut
//! short, and which of its steps may have left something behind. The next
//! command that takes the lock finds the change and undoes those steps, or
//! finishes the change where it cannot be undone (a removal); see
//! `manage::recover`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snapcell_core::dirs::Dirs;

/// The standalone state's directory.
pub const STATE_DIR: &str = "/var/lib/snapd/standalone";
/// The state file.
pub const STATE_FILE: &str = "/var/lib/snapd/standalone/state.json";
/// The lock file beside it.
pub const LOCK_FILE: &str = "/var/lib/snapd/standalone/state.lock";

/// Every installed snap, by instance name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub snaps: BTreeMap<String, SnapState>,
    /// Connections, as `SNAP:PLUG` -> `SNAP:SLOT` (`system:INTERFACE` for
    /// the system's slots): made at install for the interfaces snapd
    /// connects by itself, and by `connect`.
    #[serde(default)]
    pub connections: BTreeMap<String, Connection>,
    /// Plugs (`SNAP:PLUG`) the user disconnected: not connected again by
    /// themselves at a refresh (snapd's "undesired" connections).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub undesired: BTreeSet<String>,
    /// The change in progress, if a command was cut short (the change
    /// journal); absent from a state no command is changing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// A change in progress: what it is and the steps it entered, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(flatten)]
    pub kind: ChangeKind,
    /// The steps entered so far, oldest first; each is recorded before any
    /// of its effects, so a step listed may be done, half done or not
    /// started, and one not listed was not started.
    #[serde(default)]
    pub steps: Vec<String>,
}

/// What a change does, with what recovery needs to undo or finish it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ChangeKind {
    /// `install` or `try` of `snap` at the new `revision`; a refresh when
    /// `previous` is set. Undone.
    Install {
        snap: String,
        revision: String,
        previous: Option<String>,
        /// What `/snap/NAME/current` and `/var/snap/NAME/current` pointed
        /// at before (none: no link).
        #[serde(default)]
        snap_current: Option<PathBuf>,
        #[serde(default)]
        data_current: Option<PathBuf>,
        /// Whether `/snap/NAME`, `/var/snap/NAME` and `$HOME/snap/NAME`
        /// existed before.
        #[serde(default)]
        snap_dir_existed: bool,
        #[serde(default)]
        data_existed: bool,
        #[serde(default)]
        home: Option<PathBuf>,
        #[serde(default)]
        home_existed: bool,
    },
    /// `revert` of `snap` from revision `from` to `to`. Undone.
    Revert {
        snap: String,
        from: String,
        to: String,
        #[serde(default)]
        data_current: Option<PathBuf>,
    },
    /// `remove` of `snap` (and `$HOME/snap/NAME` of the caller's `home`).
    /// Finished: once files are gone there is nothing to go back to.
    Remove { snap: String, home: Option<PathBuf> },
    /// A change of connections (connect, disconnect) touching the security
    /// files of `snaps`. Undone: each snap's files are written again from
    /// the saved connections and its preserved namespace is discarded.
    Connections { snaps: Vec<String> },
}

impl ChangeKind {
    /// The snap the change is about (the first one for connections).
    pub fn snap(&self) -> &str {
        match self {
            ChangeKind::Install { snap, .. }
            | ChangeKind::Revert { snap, .. }
            | ChangeKind::Remove { snap, .. } => snap,
            ChangeKind::Connections { snaps } => snaps.first().map_or("", String::as_str),
        }
    }

    /// `install`, `revert`, `remove` or `connections`.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::Install { .. } => "install",
            ChangeKind::Revert { .. } => "revert",
            ChangeKind::Remove { .. } => "remove",
            ChangeKind::Connections { .. } => "connections",
        }
    }
}

/// One installed snap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapState {
    /// The installed revisions, oldest first.
    pub revisions: Vec<Revision>,
    /// The current revision (`x1`, `x2`, ...).
    pub current: String,
}

/// One installed revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// `xN` for local installs.
    pub revision: String,
    pub version: String,
    /// `app`, `base`, `os`, ...
    #[serde(rename = "type")]
    pub snap_type: String,
    /// The base it runs on (empty for bases themselves).
    #[serde(default)]
    pub base: String,
    /// Installed with `--dangerous` (always true for local files today).
    #[serde(default)]
    pub dangerous: bool,
    /// The directory of a `snapcell try`, bind-mounted instead of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_dir: Option<PathBuf>,
}

/// A plug's connection to a slot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub interface: String,
    /// `SNAP:SLOT` (`system` for the implicit slots).
    pub slot: String,
    /// Made by `connect` (snap's "manual" note), not at install.
    #[serde(default)]
    pub manual: bool,
}

impl SnapState {
    /// The current revision's record.
    pub fn current_revision(&self) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.revision == self.current)
    }

    /// The local revision after the highest one installed: `x1` for none.
    pub fn next_local_revision(&self) -> String {
        let max = self
            .revisions
            .iter()
            .filter_map(|r| r.revision.strip_prefix('x')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        format!("x{}", max + 1)
    }
}

impl State {
    /// Parse the text of a state file (what [`read_state`] reads; pure, for
    /// the `standalone_state` fuzz target).
    pub fn parse(bytes: &[u8]) -> Result<State, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The text [`StateLock::save`] writes for this state.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        Ok(text)
    }

    /// The interfaces connected to `instance`'s plugs.
    pub fn connected_interfaces(&self, instance: &str) -> Vec<String> {
        let prefix = format!("{instance}:");
        let mut out: Vec<String> = self
            .connections
            .iter()
            .filter(|(plug, _)| plug.starts_with(&prefix))
            .map(|(_, c)| c.interface.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Drop every connection of `instance` (its plugs and slots) and its
    /// undesired plugs.
    pub fn forget_connections(&mut self, instance: &str) {
        let prefix = format!("{instance}:");
        self.connections
            .retain(|plug, c| !plug.starts_with(&prefix) && !c.slot.starts_with(&prefix));
        self.undesired.retain(|plug| !plug.starts_with(&prefix));
    }

    /// The snaps whose plugs are connected to a slot of `instance`.
    pub fn consumers_of(&self, instance: &str) -> Vec<String> {
        let prefix = format!("{instance}:");
        let mut out: Vec<String> = self
            .connections
            .iter()
            .filter(|(plug, c)| c.slot.starts_with(&prefix) && !plug.starts_with(&prefix))
            .filter_map(|(plug, _)| plug.split_once(':').map(|(s, _)| s.to_owned()))
            .collect();
        out.dedup();
        out
    }
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {}: {err}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("cannot parse {}: {err}", path.display())]
    Parse {
        path: PathBuf,
        err: serde_json::Error,
    },
}

fn io_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> StateError + 'p {
    move |err| StateError::Io {
        what,
        path: path.to_owned(),
        err,
    }
}

/// Where the state and its lock are, under a root (for tests).
#[derive(Clone, Debug)]
pub struct StatePaths {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub lock: PathBuf,
}

impl StatePaths {
    pub fn new(dirs: &Dirs<'_>) -> StatePaths {
        StatePaths {
            dir: dirs.join(STATE_DIR).into(),
            file: dirs.join(STATE_FILE).into(),
            lock: dirs.join(LOCK_FILE).into(),
        }
    }

    /// The temporary file a save writes before renaming it over the state
    /// file (left behind only by a save cut short).
    pub fn tmp(&self) -> PathBuf {
        self.file.with_extension("json.tmp")
    }

    /// Whether a command was cut short: a change is pending in `state`, or
    /// a save was cut short (its temporary file is there).
    pub fn interrupted(&self, state: &State) -> bool {
        state.change.is_some() || fs::symlink_metadata(self.tmp()).is_ok()
    }
}

/// The state lock, held until dropped (or [`StateLock::unlock`]ed).
#[derive(Debug)]
pub struct StateLock {
    paths: StatePaths,
    lock: File,
}

impl StateLock {
    /// Take the lock exclusively (creating the directory and the lock file
    /// if needed), waiting for other commands to finish. A temporary file
    /// left by a save cut short is removed.
    pub fn exclusive(paths: &StatePaths) -> Result<StateLock, StateError> {
        let lock = Self::open(paths)?;
        lock.lock().map_err(io_err("lock", &paths.lock))?;
        match fs::remove_file(paths.tmp()) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(StateError::Io {
                    what: "remove",
                    path: paths.tmp(),
                    err,
                });
            }
            _ => {}
        }
        Ok(StateLock {
            paths: paths.clone(),
            lock,
        })
    }

    /// Take the lock shared (for reading).
    pub fn shared(paths: &StatePaths) -> Result<StateLock, StateError> {
        let lock = Self::open(paths)?;
        lock.lock_shared().map_err(io_err("lock", &paths.lock))?;
        Ok(StateLock {
            paths: paths.clone(),
            lock,
        })
    }

    fn open(paths: &StatePaths) -> Result<File, StateError> {
        fs::create_dir_all(&paths.dir).map_err(io_err("create", &paths.dir))?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&paths.lock)
            .map_err(io_err("open", &paths.lock))
    }

    /// Read the state (empty when there is no state file yet).
    pub fn load(&self) -> Result<State, StateError> {
        read_state(&self.paths.file)
    }

    /// Replace the state: write a temporary file beside it, sync it,
    /// rename it over the state file and sync the directory.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let file = &self.paths.file;
        let tmp = self.paths.tmp();
        let mut text = serde_json::to_vec_pretty(state).map_err(|err| StateError::Parse {
            path: file.clone(),
            err,
        })?;
        text.push(b'\n');
        let _ = fs::remove_file(&tmp);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        out.write_all(&text).map_err(io_err("write", &tmp))?;
        out.sync_all().map_err(io_err("sync", &tmp))?;
        drop(out);
        crate::fault::point("save-written");
        fs::rename(&tmp, file).map_err(io_err("rename into place", file))?;
        File::open(&self.paths.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync", &self.paths.dir))
    }

    /// Start a change: save `state` (as it is before the change) with the
    /// change recorded, then pass the fault point `begin`. Nothing of the
    /// change may touch the machine before this returns.
    pub fn begin(&self, state: &State, kind: ChangeKind) -> Result<Journal<'_>, StateError> {
        let mut before = state.clone();
        before.change = Some(Change {
            kind,
            steps: Vec::new(),
        });
        self.save(&before)?;
        crate::fault::point("begin");
        Ok(Journal { lock: self, before })
    }

    /// Release the lock.
    pub fn unlock(self) {
        let _ = self.lock.unlock();
    }
}

/// A change in progress, recorded in the state under the lock it borrows
/// (see the [module documentation](self)).
///
/// For a new command (connect, disconnect): take the lock, load the state,
/// [`StateLock::begin`] the change, run each step through
/// [`Journal::step`] (`journal.step("security", || write_security(...))?`),
/// change the loaded state in memory, then [`Journal::commit`] it. On an
/// error, undo what the steps did and [`Journal::abandon`] the change (or
/// leave it pending for the next command's recovery). Each step gets the
/// fault points `enter:STEP` and `STEP` ([`crate::fault`]).
#[derive(Debug)]
pub struct Journal<'l> {
    lock: &'l StateLock,
    /// The state before the change, with the change recorded.
    before: State,
}

impl Journal<'_> {
    /// The change as recorded so far.
    pub fn change(&self) -> &Change {
        self.before.change.as_ref().expect("a journal has a change")
    }

    /// The state before the change (without the change).
    pub fn before(&self) -> State {
        State {
            change: None,
            ..self.before.clone()
        }
    }

    /// Record that `step` starts (saved before it does anything), then pass
    /// the fault point `enter:STEP`.
    pub fn enter(&mut self, step: &str) -> Result<(), StateError> {
        let change = self.before.change.as_mut().expect("a journal has a change");
        change.steps.push(step.to_owned());
        self.lock.save(&self.before)?;
        crate::fault::point(&format!("enter:{step}"));
        Ok(())
    }

    /// [`Journal::enter`] `step`, run it, then pass the fault point `STEP`.
    pub fn step<T>(
        &mut self,
        step: &str,
        run: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        self.enter(step).map_err(|e| e.to_string())?;
        let out = run()?;
        crate::fault::point(step);
        Ok(out)
    }

    /// Finish the change: save `state` (the state after it) with no change
    /// pending, then pass the fault point `commit`.
    pub fn commit(self, state: &State) -> Result<(), StateError> {
        let after = State {
            change: None,
            ..state.clone()
        };
        self.lock.save(&after)?;
        crate::fault::point("commit");
        Ok(())
    }

    /// Drop the change once what it did is undone: save the state from
    /// before it, with no change pending.
    pub fn abandon(self) -> Result<(), StateError> {
        self.lock.save(&self.before())
    }
}

/// Read a state file (empty state when it does not exist).
pub fn read_state(path: &Path) -> Result<State, StateError> {
    match fs::read(path) {
        Ok(bytes) => State::parse(&bytes).map_err(|err| StateError::Parse {
            path: path.to_owned(),
            err,
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(State::default()),
        Err(err) => Err(StateError::Io {
            what: "read",
            path: path.to_owned(),
            err,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path) -> StatePaths {
        StatePaths::new(&Dirs::under(root.to_str().unwrap()))
    }

    fn rev(r: &str) -> Revision {
        Revision {
            revision: r.into(),
            version: "1".into(),
            snap_type: "app".into(),
            base: "core22".into(),
            dangerous: true,
            try_dir: None,
        }
    }

    #[test]
    fn missing_state_is_empty_and_a_save_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let lock = StateLock::exclusive(&p).unwrap();
        assert_eq!(lock.load().unwrap(), State::default());
        let mut st = State::default();
        st.snaps.insert(
            "hello".into(),
            SnapState {
                revisions: vec![rev("x1"), rev("x2")],
                current: "x2".into(),
            },
        );
        st.connections.insert(
            "hello:home".into(),
            Connection {
                interface: "home".into(),
                slot: "system:home".into(),
                manual: false,
            },
        );
        lock.save(&st).unwrap();
        assert_eq!(lock.load().unwrap(), st);
        assert!(!p.file.with_extension("json.tmp").exists());
        assert_eq!(
            p.file,
            tmp.path().join("var/lib/snapd/standalone/state.json")
        );
        let text = fs::read_to_string(&p.file).unwrap();
        assert!(text.contains("\"current\": \"x2\""), "{text}");
        assert_eq!(st.connected_interfaces("hello"), ["home"]);
        assert!(st.connected_interfaces("hell").is_empty());
    }

    #[test]
    fn next_local_revision_follows_the_highest() {
        let mut s = SnapState::default();
        assert_eq!(s.next_local_revision(), "x1");
        s.revisions = vec![rev("x3"), rev("x1")];
        assert_eq!(s.next_local_revision(), "x4");
    }

    #[test]
    fn a_corrupt_state_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        fs::create_dir_all(&p.dir).unwrap();
        fs::write(&p.file, "{").unwrap();
        let err = StateLock::shared(&p).unwrap().load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot parse {}", p.file.display())),
            "{err}"
        );
    }

    #[test]
    fn a_journal_saves_the_state_before_with_the_steps_then_the_state_after() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let lock = StateLock::exclusive(&p).unwrap();
        let mut st = State::default();
        st.snaps.insert(
            "base".into(),
            SnapState {
                revisions: vec![rev("x1")],
                current: "x1".into(),
            },
        );
        lock.save(&st).unwrap();
        let kind = ChangeKind::Remove {
            snap: "base".into(),
            home: None,
        };
        let mut journal = lock.begin(&st, kind.clone()).unwrap();
        // Changes in memory are not saved before the commit.
        let mut after = st.clone();
        after.snaps.clear();
        journal.step("security", || Ok(())).unwrap();
        let err = journal
            .step("data", || Err::<(), _>("cannot".to_owned()))
            .unwrap_err();
        assert_eq!(err, "cannot");
        let saved = lock.load().unwrap();
        assert_eq!(saved.snaps, st.snaps);
        assert_eq!(
            saved.change,
            Some(Change {
                kind: kind.clone(),
                steps: vec!["security".into(), "data".into()],
            })
        );
        let text = fs::read_to_string(&p.file).unwrap();
        assert!(text.contains("\"kind\": \"remove\""), "{text}");
        assert_eq!(journal.before(), st);
        journal.commit(&after).unwrap();
        assert_eq!(lock.load().unwrap(), after);
        assert!(!fs::read_to_string(&p.file).unwrap().contains("change"));

        // Abandoned: the state before, without the change.
        let journal = lock.begin(&after, kind).unwrap();
        assert!(lock.load().unwrap().change.is_some());
        journal.abandon().unwrap();
        assert_eq!(lock.load().unwrap(), after);
    }

    #[test]
    fn a_state_without_a_change_reads_as_before() {
        let st: State = serde_json::from_str(r#"{"snaps": {}, "connections": {}}"#).unwrap();
        assert_eq!(st.change, None);
        let text = r#"{"change": {"kind": "install", "snap": "a", "revision": "x2",
            "previous": "x1", "steps": ["blob"]}}"#;
        let st: State = serde_json::from_str(text).unwrap();
        let change = st.change.unwrap();
        assert_eq!(change.steps, ["blob"]);
        assert_eq!(change.kind.name(), "install");
        assert_eq!(change.kind.snap(), "a");
    }

    #[test]
    fn the_exclusive_lock_removes_what_a_save_cut_short_left() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        fs::create_dir_all(&p.dir).unwrap();
        fs::write(p.tmp(), "{\"snaps\":").unwrap();
        assert!(p.interrupted(&State::default()));
        drop(StateLock::shared(&p).unwrap());
        assert!(p.tmp().exists(), "a reader leaves it");
        let lock = StateLock::exclusive(&p).unwrap();
        assert!(!p.tmp().exists());
        assert!(!p.interrupted(&lock.load().unwrap()));
    }
}
