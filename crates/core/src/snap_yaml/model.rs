//! The snap.yaml model: what `meta/snap.yaml` says, as far as snapcell cares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::entry::MountEntry;
use yaml_serde::Value;

use crate::layout::{self, Layout};

/// The snap's type (`type:`), `app` when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SnapType {
    #[default]
    App,
    Gadget,
    Kernel,
    Base,
    Os,
    Snapd,
}

impl SnapType {
    /// Parse a `type:` value; `None` for anything snapd does not know.
    pub fn from_yaml(s: &str) -> Option<SnapType> {
        Some(match s {
            "app" => SnapType::App,
            "gadget" => SnapType::Gadget,
            "kernel" => SnapType::Kernel,
            "base" => SnapType::Base,
            "os" => SnapType::Os,
            "snapd" => SnapType::Snapd,
            _ => return None,
        })
    }

    /// The yaml spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapType::App => "app",
            SnapType::Gadget => "gadget",
            SnapType::Kernel => "kernel",
            SnapType::Base => "base",
            SnapType::Os => "os",
            SnapType::Snapd => "snapd",
        }
    }
}

impl fmt::Display for SnapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The confinement (`confinement:`), `strict` when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Confinement {
    #[default]
    Strict,
    Devmode,
    Classic,
}

impl Confinement {
    /// Parse a `confinement:` value (`strict`, `devmode` or `classic`).
    pub fn from_yaml(s: &str) -> Option<Confinement> {
        Some(match s {
            "strict" => Confinement::Strict,
            "devmode" => Confinement::Devmode,
            "classic" => Confinement::Classic,
            _ => return None,
        })
    }

    /// The yaml spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Confinement::Strict => "strict",
            Confinement::Devmode => "devmode",
            Confinement::Classic => "classic",
        }
    }
}

impl fmt::Display for Confinement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `environment:` map, in the order of the yaml. A key given twice keeps
/// its first position and takes the later value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment(Vec<(String, String)>);

impl Environment {
    /// Set `key`, keeping its position if it is already present.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut env = Environment::default();
        for (k, v) in iter {
            env.set(k, v);
        }
        env
    }
}

/// One app of `apps:`: what snap-exec and the daemon tooling use. Empty
/// strings mean "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    pub command: String,
    pub command_chain: Vec<String>,
    pub completer: String,
    pub stop_command: String,
    pub reload_command: String,
    pub post_stop_command: String,
    pub daemon: String,
    pub environment: Environment,
    /// Plug names listed by the app.
    pub plugs: Vec<String>,
    /// Slot names listed by the app.
    pub slots: Vec<String>,
}

/// One hook of `hooks:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookInfo {
    pub command_chain: Vec<String>,
    pub environment: Environment,
    /// Plug names listed by the hook.
    pub plugs: Vec<String>,
}

/// A plug or slot declared at the top level.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlugInfo {
    /// The interface; the plug's name when not given.
    pub interface: String,
    /// `label:`, empty when not given.
    pub label: String,
    /// Every other attribute, as yaml values.
    pub attrs: BTreeMap<String, Value>,
}

/// Slots are declared like plugs.
pub type SlotInfo = PlugInfo;

/// What `meta/snap.yaml` says, as far as snapcell cares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapInfo {
    /// The snap name (never an instance name).
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub title: Option<String>,
    pub base: Option<String>,
    pub snap_type: SnapType,
    pub confinement: Confinement,
    pub grade: Option<String>,
    /// Snap-level `environment:`.
    pub environment: Environment,
    pub apps: BTreeMap<String, AppInfo>,
    pub hooks: BTreeMap<String, HookInfo>,
    /// Top-level plugs (app- and hook-level names are in the apps/hooks).
    pub plugs: BTreeMap<String, PlugInfo>,
    /// Top-level slots.
    pub slots: BTreeMap<String, SlotInfo>,
    /// `layout:`, keyed by the (unexpanded) path.
    pub layout: BTreeMap<String, Layout>,
}

impl SnapInfo {
    /// Plug and slot names with their interfaces: the top-level ones plus
    /// those only named by apps and hooks (whose interface is their name).
    pub(super) fn all_plugs_and_slots(&self) -> (BTreeMap<&str, &str>, BTreeMap<&str, &str>) {
        let mut plugs: BTreeMap<&str, &str> = self
            .plugs
            .iter()
            .map(|(n, p)| (n.as_str(), p.interface.as_str()))
            .collect();
        let mut slots: BTreeMap<&str, &str> = self
            .slots
            .iter()
            .map(|(n, s)| (n.as_str(), s.interface.as_str()))
            .collect();
        let app_plugs = self.apps.values().flat_map(|a| &a.plugs);
        let hook_plugs = self.hooks.values().flat_map(|h| &h.plugs);
        for p in app_plugs.chain(hook_plugs) {
            plugs.entry(p).or_insert(p);
        }
        for s in self.apps.values().flat_map(|a| &a.slots) {
            slots.entry(s).or_insert(s);
        }
        (plugs, slots)
    }

    /// The base, `core` when none is given (as snap-confine assumes).
    pub fn base_or_default(&self) -> &str {
        match self.base.as_deref() {
            None | Some("") => "core",
            Some(b) => b,
        }
    }

    /// The mount entries of the layout at `revision` (spec §5.1).
    pub fn layout_entries(&self, revision: &str) -> Vec<MountEntry> {
        layout::to_mount_entries(&self.name, revision, &self.layout)
    }

    /// Names of all plugs the snap uses (top-level, app- and hook-level).
    pub fn plug_names(&self) -> BTreeSet<&str> {
        self.all_plugs_and_slots().0.into_keys().collect()
    }
}
