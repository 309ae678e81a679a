//! The update procedure over a context: snapd's order of steps, and what
//! each failure stops.

use std::cell::RefCell;
use std::rc::Rc;

use snapcell_core::profile::Profile;
use snapcell_sys::snaplock::Lock;
use snapcell_sys::system::{Errno, SysResult, System};

use super::*;
use crate::update::{
    MountProfileUpdateContext, ProfileUpdateError, SystemProfileUpdateContext, Updated,
    UserProfileUpdateContext, execute_mount_profile_update,
};

type Log = Rc<RefCell<Vec<String>>>;

/// A context that records its steps; `fail` names the step that fails.
struct Recorder {
    log: Log,
    fail: Option<&'static str>,
    namespace: bool,
    current: Profile,
    desired: Profile,
}

impl Recorder {
    fn new(log: &Log, current: Profile, desired: Profile) -> Recorder {
        Recorder {
            log: log.clone(),
            fail: None,
            namespace: true,
            current,
            desired,
        }
    }

    fn step(&self, name: &str) -> Result<(), String> {
        self.log.borrow_mut().push(name.to_owned());
        match self.fail {
            Some(f) if f == name => Err(format!("cannot {name}")),
            _ => Ok(()),
        }
    }
}

impl MountProfileUpdateContext for Recorder {
    fn instance_name(&self) -> &str {
        "app"
    }

    fn lock(&mut self) -> Result<Option<Lock>, String> {
        self.step("lock").map(|()| None)
    }

    fn enter_namespace(&mut self) -> Result<bool, String> {
        self.step("enter").map(|()| self.namespace)
    }

    fn assumptions(&mut self, _sys: &mut dyn System) -> Assumptions {
        self.log.borrow_mut().push("assumptions".to_owned());
        ctx()
    }

    fn load_desired_profile(&mut self) -> Result<Profile, String> {
        self.step("desired").map(|()| self.desired.clone())
    }

    fn load_current_profile(&mut self) -> Result<Profile, String> {
        self.step("current").map(|()| self.current.clone())
    }

    fn save_current_profile(&mut self, profile: &Profile) -> Result<(), String> {
        self.step("save")?;
        self.log
            .borrow_mut()
            .push(format!("saved {}", lines(profile).join("; ")));
        Ok(())
    }
}

fn opener(log: &Log, fs: FakeSystem) -> impl FnOnce() -> SysResult<FakeSystem> {
    let log = log.clone();
    move || {
        log.borrow_mut().push("open".to_owned());
        Ok(fs)
    }
}

fn steps(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

const LAYOUT: &str = "/snap/app/1/lib /usr/lib/app none rbind,rw,x-snapd.origin=layout 0 0";

#[test]
fn steps_come_in_snapds_order_and_the_outcome_is_saved() {
    let log = Log::default();
    let mut rec = Recorder::new(&log, Profile::default(), profile(&[LAYOUT]));
    let updated = execute_mount_profile_update(&mut rec, opener(&log, world())).unwrap();
    let Updated::Done(outcome) = updated else {
        panic!("no update: {updated:?}");
    };
    assert_eq!(outcome.profile.entries.last(), Some(&entry(LAYOUT)));
    let saved = format!("saved {}", lines(&outcome.profile).join("; "));
    assert_eq!(
        steps(&log),
        [
            "lock",
            "enter",
            "desired",
            "current",
            "open",
            "assumptions",
            "save",
            &saved
        ]
    );
}

#[test]
fn a_failed_step_stops_the_update_with_its_message() {
    let cases: [(&str, &[&str]); 5] = [
        ("lock", &["lock"]),
        ("enter", &["lock", "enter"]),
        ("desired", &["lock", "enter", "desired"]),
        ("current", &["lock", "enter", "desired", "current"]),
        (
            "save",
            &[
                "lock",
                "enter",
                "desired",
                "current",
                "open",
                "assumptions",
                "save",
            ],
        ),
    ];
    for (fail, want) in cases {
        let log = Log::default();
        let mut rec = Recorder::new(&log, Profile::default(), profile(&[LAYOUT]));
        rec.fail = Some(fail);
        let e = execute_mount_profile_update(&mut rec, opener(&log, world())).unwrap_err();
        assert_eq!(e, ProfileUpdateError::Context(format!("cannot {fail}")));
        assert_eq!(e.to_string(), format!("cannot {fail}"));
        assert_eq!(steps(&log), want, "{fail}");
    }
}

#[test]
fn without_a_namespace_nothing_is_loaded_or_opened() {
    let log = Log::default();
    let mut rec = Recorder::new(&log, Profile::default(), profile(&[LAYOUT]));
    rec.namespace = false;
    let updated = execute_mount_profile_update(&mut rec, opener(&log, world())).unwrap();
    assert_eq!(updated, Updated::NoNamespace);
    assert_eq!(steps(&log), ["lock", "enter"]);
}

#[test]
fn a_system_that_cannot_be_opened_stops_the_update() {
    let log = Log::default();
    let mut rec = Recorder::new(&log, Profile::default(), profile(&[LAYOUT]));
    let e =
        execute_mount_profile_update(&mut rec, || -> SysResult<FakeSystem> { Err(Errno::MFILE) })
            .unwrap_err();
    assert_eq!(e, ProfileUpdateError::System(Errno::MFILE));
    assert_eq!(e.to_string(), format!("cannot open /: {}", Errno::MFILE));
    assert_eq!(steps(&log), ["lock", "enter", "desired", "current"]);
}

#[test]
fn an_aborted_update_is_not_saved() {
    let log = Log::default();
    let line = "none /var/snap/app/common/link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/data,x-snapd.origin=layout 0 0";
    let mut fs = world();
    fs.add_file("/var/snap/app/common/link", 0o644, 0);
    let mut rec = Recorder::new(&log, Profile::default(), profile(&[line]));
    let e = execute_mount_profile_update(&mut rec, opener(&log, fs)).unwrap_err();
    let ProfileUpdateError::Apply(apply_error) = &e else {
        panic!("not an apply error: {e:?}");
    };
    assert!(apply_error.rolled_back());
    assert_eq!(
        e.to_string(),
        "cannot create symlink in \"/var/snap/app/common/link\": existing file in the way"
    );
    assert_eq!(
        steps(&log),
        ["lock", "enter", "desired", "current", "open", "assumptions"]
    );
}

#[test]
fn snap_confines_context_gives_its_profiles_and_holds_the_lock() {
    let current = profile(&["tmpfs / tmpfs x-snapd.origin=rootfs 0 0"]);
    let desired = profile(&[LAYOUT]);
    let mut c =
        SystemProfileUpdateContext::for_new_namespace("app", current.clone(), desired.clone());
    assert_eq!(c.instance_name(), "app");
    assert!(c.lock().unwrap().is_none());
    assert!(c.enter_namespace().unwrap());
    assert_eq!(c.load_desired_profile().unwrap(), desired);
    assert_eq!(c.load_current_profile().unwrap(), current);
    let a = c.assumptions(&mut world());
    assert!(!a.is_restricted("/snap/app/x"));
    assert!(a.is_restricted("/etc"));
}

#[test]
fn the_user_context_takes_no_lock_starts_from_nothing_and_saves_nothing() {
    let mut c =
        UserProfileUpdateContext::new("app", false, 1000, 1000, 1000, Some("/home/user".into()));
    assert_eq!(c.instance_name(), "app");
    assert!(c.lock().unwrap().is_none());
    assert!(c.enter_namespace().unwrap());
    assert_eq!(c.load_current_profile().unwrap(), Profile::default());
    c.save_current_profile(&profile(&[LAYOUT])).unwrap();
    let a = c.assumptions(&mut world());
    assert!(!a.is_restricted("/home/user/snap"));
    assert!(a.is_restricted("/tmp"));
    // An empty home is no home.
    let mut c = UserProfileUpdateContext::new("app", false, 1000, 1000, 1000, Some(String::new()));
    assert!(c.assumptions(&mut world()).is_restricted("/home/user/snap"));
}
