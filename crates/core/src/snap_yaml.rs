//! `meta/snap.yaml`: the parts snapcell needs (identity, confinement, apps
//! and hooks for snap-exec, plugs and slots, environment, layouts), parsed
//! the way snapd's yaml.v2-based parser reads them, and snapd's validation.
//!
//! Parsing follows Go's yaml.v2 decoding into snapd's structures:
//! * every scalar read as a string keeps its source text (`version: 1.0` is
//!   `"1.0"`, `version: 2` is `"2"`), and null reads as the empty string;
//! * unknown keys are ignored; for a key given twice the later value wins;
//! * `confinement` and `type` are checked while parsing, a top-level
//!   `layouts` key is a typo error, layout modes are octal text.
//!
//! Nothing here panics, whatever the input: malformed, deeply nested or
//! alias-bomb YAML gives an error (the YAML library limits recursion depth
//! and alias expansion), and input above [`MAX_SNAP_YAML_LEN`] is refused
//! before parsing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use yaml_serde::value::{Tag, TaggedValue};
use yaml_serde::{Mapping, Number, Value};

use crate::entry::MountEntry;
use crate::goquote::{quote, quote_to_ascii};
use crate::layout::{self, Layout, LayoutError, ModeError};
use crate::naming;

/// Largest snap.yaml accepted, in bytes. Real ones are a few kilobytes.
pub const MAX_SNAP_YAML_LEN: usize = 4 << 20;

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

/// Why snap.yaml could not be read. Messages follow snapd where it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapYamlError {
    /// The YAML is malformed or does not have the expected shape.
    #[error("cannot parse snap.yaml: {0}")]
    Yaml(String),
    #[error(
        "cannot parse snap.yaml: typo detected: use singular \"layout\" instead of plural \"layouts\""
    )]
    LayoutsTypo,
    #[error("cannot parse snap.yaml: invalid snap type: {}", quote(.0))]
    InvalidType(String),
    #[error("cannot parse snap.yaml: invalid confinement type: {}", quote(.0))]
    InvalidConfinement(String),
    #[error(
        "cannot parse snap.yaml: input is too large ({0} bytes, the limit is {MAX_SNAP_YAML_LEN})"
    )]
    TooLarge(usize),
    #[error("cannot parse snap.yaml: layout {} has invalid mode {}: {reason}", quote(.path), quote(.mode))]
    LayoutMode {
        path: String,
        mode: String,
        reason: ModeError,
    },
    #[error("{kind} {} has malformed definition (found {found})", quote(.name))]
    MalformedPlugOrSlot {
        kind: &'static str,
        name: String,
        found: &'static str,
    },
    #[error("{kind} list entry is not a string (found {found})")]
    PlugOrSlotListEntry {
        kind: &'static str,
        found: &'static str,
    },
    #[error("{kind} {} has attribute key that is not a string (found {found})", quote(.name))]
    AttributeKeyNotString {
        kind: &'static str,
        name: String,
        found: &'static str,
    },
    #[error("{kind} {} has an empty attribute key", quote(.name))]
    EmptyAttributeKey { kind: &'static str, name: String },
    #[error("{kind} {} uses reserved attribute {}", quote(.name), quote(.attr))]
    ReservedAttribute {
        kind: &'static str,
        name: String,
        attr: String,
    },
    #[error("interface name on {kind} {} is not a string (found {found})", quote(.name))]
    InterfaceNotString {
        kind: &'static str,
        name: String,
        found: &'static str,
    },
    #[error("label of {kind} {} is not a string (found {found})", quote(.name))]
    LabelNotString {
        kind: &'static str,
        name: String,
        found: &'static str,
    },
}

/// A field of an app that has characters snap-exec cannot handle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("\"daemon\" field contains invalid value {}", quote(.0))]
    Daemon(String),
    #[error("cannot have {} as app name - use letters, digits, and dash as separator", quote(.0))]
    Name(String),
    #[error("app description field '{field}' contains illegal {} (legal: '{legal}')", quote(.value))]
    IllegalField {
        field: &'static str,
        value: String,
        legal: &'static str,
    },
}

/// Why a parsed snap.yaml is not valid (snapd's `snap.Validate`, restricted
/// to what is modelled here, plus snapcell's environment checks).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("snap name cannot be empty")]
    EmptyName,
    #[error("invalid snap name: {}", quote(.0))]
    SnapName(String),
    #[error("title can have up to 40 codepoints, got {0}")]
    TitleTooLong(usize),
    #[error("description can have up to 4096 codepoints, got {0}")]
    DescriptionTooLong(usize),
    /// The whole message, as snapd builds it.
    #[error("{0}")]
    Version(String),
    #[error("invalid definition of application {}: {reason}", quote(.app))]
    App { app: String, reason: AppError },
    #[error(transparent)]
    Name(#[from] naming::NameError),
    #[error("hook command-chain contains illegal {} (legal: '{COMMAND_CHAIN_LEGAL}')", quote(.0))]
    HookCommandChain(String),
    #[error("invalid interface name {} for {kind} {}", quote(.interface), quote(.name))]
    InterfaceName {
        kind: &'static str,
        name: String,
        interface: String,
    },
    #[error("cannot have plug and slot with the same name: {}", quote(.0))]
    PlugSlotSameName(String),
    #[error("cannot have \"base\" field on {} snap {}", quote(.snap_type.as_str()), quote(.name))]
    BaseOnBaseSnap { snap_type: SnapType, name: String },
    #[error("cannot have apps or hooks with base \"none\"")]
    AppsWithBaseNone,
    #[error("base cannot specify a snap instance name: {}", quote(.0))]
    BaseInstanceName(String),
    #[error("invalid base name: invalid snap name: {}", quote(.0))]
    BaseName(String),
    /// snapcell's rule: a name snap-exec could not put in an environment.
    #[error("invalid environment variable name {} in {scope}: must be non-empty and contain neither '=' nor NUL", quote(.key))]
    EnvironmentKey { scope: String, key: String },
    /// snapcell's rule: NUL cannot be passed in an environment.
    #[error("invalid value of environment variable {} in {scope}: contains NUL", quote(.key))]
    EnvironmentValue { scope: String, key: String },
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// Characters allowed in app commands (snap-exec splits them on spaces and
/// would be confused by quotes).
pub const APP_FIELD_LEGAL: &str = "^[A-Za-z0-9/. _#:$-]*$";
/// Characters allowed in command-chain entries (no white space either).
pub const COMMAND_CHAIN_LEGAL: &str = "^[A-Za-z0-9/._#:$-]*$";

fn app_field_ok(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/. _#:$-".contains(&c))
}

fn command_chain_ok(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/._#:$-".contains(&c))
}

// ---------------------------------------------------------------------------
// Deserialization helpers.

/// A string read the way yaml.v2 fills a Go `string`: any scalar gives its
/// source text, null gives "".
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct YStr(String);

struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct NonNullText(String);

impl<'de> Deserialize<'de> for NonNullText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ScalarText).map(NonNullText)
    }
}

impl<'de> Deserialize<'de> for YStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Option::<NonNullText>::deserialize(d)?;
        Ok(YStr(text.map(|t| t.0).unwrap_or_default()))
    }
}

/// Read an optional value, null (and absence) being the default.
fn or_default<'de, T, A>(map: &mut A) -> Result<T, A::Error>
where
    T: Deserialize<'de> + Default,
    A: MapAccess<'de>,
{
    Ok(map.next_value::<Option<T>>()?.unwrap_or_default())
}

/// A list of strings; null is the empty list.
fn str_list<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<String>, A::Error> {
    let list: Vec<YStr> = or_default(map)?;
    Ok(list.into_iter().map(|s| s.0).collect())
}

/// A map keyed by strings; later duplicates win; null is the empty map.
fn str_map<'de, T, A>(map: &mut A) -> Result<BTreeMap<String, T>, A::Error>
where
    T: Deserialize<'de> + Default,
    A: MapAccess<'de>,
{
    let raw: BTreeMap<YStr, Option<T>> = or_default(map)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k.0, v.unwrap_or_default()))
        .collect())
}

/// A visitor for a yaml mapping decoded key by key, later keys winning.
macro_rules! struct_visitor {
    ($ty:ty, $what:literal, |$map:ident, $out:ident, $key:ident| $body:block) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<$ty, A::Error> {
                        let mut $out = <$ty>::default();
                        while let Some(YStr($key)) = $map.next_key::<YStr>()? {
                            $body
                        }
                        Ok($out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Environment;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of environment variables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Environment, A::Error> {
                let mut env = Environment::default();
                while let Some(YStr(k)) = map.next_key::<YStr>()? {
                    let YStr(v) = map.next_value::<YStr>()?;
                    env.set(k, v);
                }
                Ok(env)
            }
        }
        d.deserialize_map(V)
    }
}

struct_visitor!(AppInfo, "an app definition", |map, app, key| {
    match key.as_str() {
        "command" => app.command = or_default::<YStr, _>(&mut map)?.0,
        "command-chain" => app.command_chain = str_list(&mut map)?,
        "completer" => app.completer = or_default::<YStr, _>(&mut map)?.0,
        "stop-command" => app.stop_command = or_default::<YStr, _>(&mut map)?.0,
        "reload-command" => app.reload_command = or_default::<YStr, _>(&mut map)?.0,
        "post-stop-command" => app.post_stop_command = or_default::<YStr, _>(&mut map)?.0,
        "daemon" => app.daemon = or_default::<YStr, _>(&mut map)?.0,
        "environment" => app.environment = or_default(&mut map)?,
        "plugs" => app.plugs = str_list(&mut map)?,
        "slots" => app.slots = str_list(&mut map)?,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
});

struct_visitor!(HookInfo, "a hook definition", |map, hook, key| {
    match key.as_str() {
        "command-chain" => hook.command_chain = str_list(&mut map)?,
        "environment" => hook.environment = or_default(&mut map)?,
        "plugs" => hook.plugs = str_list(&mut map)?,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
});

/// A layout item as written: every field is text.
#[derive(Default)]
struct LayoutYaml {
    bind: String,
    bind_file: String,
    fs_type: String,
    symlink: String,
    user: String,
    group: String,
    mode: String,
}

struct_visitor!(LayoutYaml, "a layout definition", |map, item, key| {
    let slot = match key.as_str() {
        "bind" => &mut item.bind,
        "bind-file" => &mut item.bind_file,
        "type" => &mut item.fs_type,
        "symlink" => &mut item.symlink,
        "user" => &mut item.user,
        "group" => &mut item.group,
        "mode" => &mut item.mode,
        _ => {
            map.next_value::<IgnoredAny>()?;
            continue;
        }
    };
    *slot = or_default::<YStr, _>(&mut map)?.0;
});

/// A yaml value read with later duplicate keys winning (yaml_serde's own
/// `Value` refuses duplicates, Go's decoder does not).
struct LenientValue(Value);

impl<'de> Deserialize<'de> for LenientValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any yaml value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Number(Number::from(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Number(Number::from(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Number(Number::from(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::String(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::String(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientValue, E> {
                Ok(LenientValue(Value::Null))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<LenientValue, D2::Error> {
                LenientValue::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientValue, A::Error> {
                let mut out = Vec::new();
                while let Some(LenientValue(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(LenientValue(Value::Sequence(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientValue, A::Error> {
                let mut out = Mapping::new();
                while let Some(LenientValue(k)) = map.next_key()? {
                    let LenientValue(v) = map.next_value()?;
                    out.insert(k, v);
                }
                Ok(LenientValue(Value::Mapping(out)))
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<LenientValue, A::Error> {
                use de::VariantAccess;
                let (tag, variant) = data.variant::<String>()?;
                let LenientValue(value) = variant.newtype_variant()?;
                Ok(LenientValue(Value::Tagged(Box::new(TaggedValue {
                    tag: Tag::new(tag),
                    value,
                }))))
            }
        }
        d.deserialize_any(V)
    }
}

/// Top-level `plugs:` / `slots:` as written: a map (name → definition) or,
/// as a snapcell leniency, a list of names.
#[derive(Default)]
enum PlugsYaml {
    #[default]
    None,
    Map(Vec<(String, Value)>),
    List(Vec<Value>),
}

impl<'de> Deserialize<'de> for PlugsYaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlugsYaml;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map or a list of plugs or slots")
            }
            fn visit_unit<E: de::Error>(self) -> Result<PlugsYaml, E> {
                Ok(PlugsYaml::None)
            }
            fn visit_none<E: de::Error>(self) -> Result<PlugsYaml, E> {
                Ok(PlugsYaml::None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PlugsYaml, A::Error> {
                let mut out = Vec::new();
                while let Some(LenientValue(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(PlugsYaml::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PlugsYaml, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some(YStr(k)) = map.next_key::<YStr>()? {
                    let LenientValue(v) = map.next_value()?;
                    match out.iter_mut().find(|(name, _)| *name == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(PlugsYaml::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The document as written, before the plug, slot and layout conversions.
#[derive(Default)]
struct SnapYaml {
    name: String,
    version: String,
    summary: Option<String>,
    description: Option<String>,
    title: Option<String>,
    base: Option<String>,
    snap_type: SnapType,
    confinement: Confinement,
    grade: Option<String>,
    environment: Environment,
    apps: BTreeMap<String, AppInfo>,
    hooks: BTreeMap<String, HookInfo>,
    plugs: PlugsYaml,
    slots: PlugsYaml,
    layout: BTreeMap<String, LayoutYaml>,
}

/// Reads the top-level mapping. Errors snapd reports without YAML context
/// are parked in `failure` (the YAML error raised to stop parsing is then
/// ignored), so that their messages come out exactly.
struct TopLevel<'a> {
    failure: &'a RefCell<Option<SnapYamlError>>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = SnapYaml;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SnapYaml, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = SnapYaml;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    // An empty or null document is an empty snap.yaml, as in Go.
    fn visit_unit<E: de::Error>(self) -> Result<SnapYaml, E> {
        Ok(SnapYaml::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<SnapYaml, E> {
        Ok(SnapYaml::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SnapYaml, A::Error> {
        let fail = |e: SnapYamlError| -> A::Error {
            let msg = e.to_string();
            *self.failure.borrow_mut() = Some(e);
            de::Error::custom(msg)
        };
        let opt = |s: Option<YStr>| s.map(|s| s.0);
        let mut y = SnapYaml::default();
        while let Some(YStr(key)) = map.next_key::<YStr>()? {
            match key.as_str() {
                "name" => y.name = or_default::<YStr, _>(&mut map)?.0,
                "version" => y.version = or_default::<YStr, _>(&mut map)?.0,
                "summary" => y.summary = opt(map.next_value()?),
                "description" => y.description = opt(map.next_value()?),
                "title" => y.title = opt(map.next_value()?),
                "base" => y.base = opt(map.next_value()?),
                "grade" => y.grade = opt(map.next_value()?),
                "type" => {
                    // Null keeps the default; an explicit "" is as invalid as
                    // any other unknown type.
                    if let Some(YStr(t)) = map.next_value()? {
                        y.snap_type = SnapType::from_yaml(&t)
                            .ok_or_else(|| fail(SnapYamlError::InvalidType(t)))?;
                    }
                }
                "confinement" => {
                    if let Some(YStr(c)) = map.next_value()? {
                        y.confinement = Confinement::from_yaml(&c)
                            .ok_or_else(|| fail(SnapYamlError::InvalidConfinement(c)))?;
                    }
                }
                "environment" => y.environment = or_default(&mut map)?,
                "apps" => y.apps = str_map(&mut map)?,
                "hooks" => y.hooks = str_map(&mut map)?,
                "plugs" => y.plugs = or_default(&mut map)?,
                "slots" => y.slots = or_default(&mut map)?,
                "layout" => y.layout = str_map(&mut map)?,
                "layouts" => return Err(fail(SnapYamlError::LayoutsTypo)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(y)
    }
}

/// Go's `%T` for the decoded yaml value.
fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Sequence(_) => "[]interface {}",
        Value::Mapping(_) => "map[interface {}]interface {}",
        Value::Tagged(t) => go_type_name(&t.value),
    }
}

/// snapd's `convertToSlotOrPlugData`.
fn plug_or_slot(kind: &'static str, name: &str, data: Value) -> Result<PlugInfo, SnapYamlError> {
    let data = match data {
        Value::Tagged(t) => t.value,
        other => other,
    };
    match data {
        Value::String(iface) => Ok(PlugInfo {
            interface: iface,
            ..PlugInfo::default()
        }),
        Value::Null => Ok(PlugInfo {
            interface: name.to_owned(),
            ..PlugInfo::default()
        }),
        Value::Mapping(m) => {
            let mut info = PlugInfo {
                interface: name.to_owned(),
                ..PlugInfo::default()
            };
            for (k, v) in m {
                let Value::String(key) = k else {
                    return Err(SnapYamlError::AttributeKeyNotString {
                        kind,
                        name: name.to_owned(),
                        found: go_type_name(&k),
                    });
                };
                if key.starts_with('$') {
                    return Err(SnapYamlError::ReservedAttribute {
                        kind,
                        name: name.to_owned(),
                        attr: key,
                    });
                }
                match key.as_str() {
                    "" => {
                        return Err(SnapYamlError::EmptyAttributeKey {
                            kind,
                            name: name.to_owned(),
                        });
                    }
                    "interface" | "label" => {
                        let Value::String(s) = v else {
                            let (name, found) = (name.to_owned(), go_type_name(&v));
                            return Err(if key == "interface" {
                                SnapYamlError::InterfaceNotString { kind, name, found }
                            } else {
                                SnapYamlError::LabelNotString { kind, name, found }
                            });
                        };
                        if key == "interface" {
                            info.interface = s;
                        } else {
                            info.label = s;
                        }
                    }
                    _ => {
                        info.attrs.insert(key, v);
                    }
                }
            }
            Ok(info)
        }
        other => Err(SnapYamlError::MalformedPlugOrSlot {
            kind,
            name: name.to_owned(),
            found: go_type_name(&other),
        }),
    }
}

fn plugs_or_slots(
    kind: &'static str,
    raw: PlugsYaml,
) -> Result<BTreeMap<String, PlugInfo>, SnapYamlError> {
    let mut out = BTreeMap::new();
    match raw {
        PlugsYaml::None => {}
        PlugsYaml::Map(entries) => {
            for (name, data) in entries {
                let info = plug_or_slot(kind, &name, data)?;
                out.insert(name, info);
            }
        }
        PlugsYaml::List(names) => {
            for v in names {
                let Value::String(name) = v else {
                    return Err(SnapYamlError::PlugOrSlotListEntry {
                        kind,
                        found: go_type_name(&v),
                    });
                };
                let info = PlugInfo {
                    interface: name.clone(),
                    ..PlugInfo::default()
                };
                out.insert(name, info);
            }
        }
    }
    Ok(out)
}

fn layout_item(path: &str, y: LayoutYaml) -> Result<Layout, SnapYamlError> {
    let mode = if y.mode.is_empty() {
        layout::DEFAULT_MODE
    } else {
        layout::parse_mode(&y.mode).map_err(|reason| SnapYamlError::LayoutMode {
            path: path.to_owned(),
            mode: y.mode.clone(),
            reason,
        })?
    };
    let or_root = |s: String| if s.is_empty() { "root".to_owned() } else { s };
    Ok(Layout {
        bind: y.bind,
        bind_file: y.bind_file,
        fs_type: y.fs_type,
        symlink: y.symlink,
        user: or_root(y.user),
        group: or_root(y.group),
        mode,
    })
}

// ---------------------------------------------------------------------------
// Validation helpers.

/// Go's `%q` of a byte (a rune literal); only used for ASCII graphic bytes.
fn quote_byte(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'\\' => "'\\\\'".to_owned(),
        c => format!("'{}'", c as char),
    }
}

/// snapd's `ValidateVersion`: the error message, or `None` if valid.
pub fn version_error(version: &str) -> Option<String> {
    let b = version.as_bytes();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let last_ok = |c: u8| alnum(c) || c == b'+' || c == b'~';
    let mid_ok = |c: u8| alnum(c) || b":.+~-".contains(&c);
    let valid = match b {
        [] => false,
        [first] => alnum(*first),
        [first, mid @ .., last] => {
            b.len() <= 32 && alnum(*first) && last_ok(*last) && mid.iter().all(|&c| mid_ok(c))
        }
    };
    if valid {
        return None;
    }
    if b.is_empty() {
        return Some("invalid snap version: cannot be empty".to_owned());
    }
    if b.iter().any(|c| !(0x21..=0x7e).contains(c)) {
        return Some(format!(
            "invalid snap version {}: must be printable, non-whitespace ASCII",
            quote_to_ascii(version)
        ));
    }
    let mut reasons = Vec::new();
    if b.len() > 32 {
        reasons.push(format!(
            "cannot be longer than 32 characters (got: {})",
            b.len()
        ));
    }
    if !alnum(b[0]) {
        reasons.push(format!(
            "must start with an ASCII alphanumeric (and not {})",
            quote_byte(b[0])
        ));
    }
    if b.len() > 1 {
        let last = b[b.len() - 1];
        if !last_ok(last) {
            reasons.push(format!(
                "must end with an ASCII alphanumeric or one of '+' or '~' (and not {})",
                quote_byte(last)
            ));
        }
        if b.len() > 2 {
            let middle = &version[1..version.len() - 1];
            let runs: Vec<String> = middle
                .split(|c: char| mid_ok(c as u8) && c.is_ascii())
                .filter(|r| !r.is_empty())
                .map(quote)
                .collect();
            if !runs.is_empty() {
                reasons.push(format!("contains invalid characters: {}", runs.join(", ")));
            }
        }
    }
    Some(match reasons.as_slice() {
        [] => format!("invalid snap version {}", quote(version)),
        [one] => format!("invalid snap version {}: {one}", quote(version)),
        [init @ .., last] => format!(
            "invalid snap version {}: {}, and {last}",
            quote(version),
            init.join(", ")
        ),
    })
}

fn check_environment(scope: &str, env: &Environment) -> Result<(), ValidationError> {
    for (k, v) in env.iter() {
        if k.is_empty() || k.contains(['=', '\0']) {
            return Err(ValidationError::EnvironmentKey {
                scope: scope.to_owned(),
                key: k.to_owned(),
            });
        }
        if v.contains('\0') {
            return Err(ValidationError::EnvironmentValue {
                scope: scope.to_owned(),
                key: k.to_owned(),
            });
        }
    }
    Ok(())
}

fn validate_app(name: &str, app: &AppInfo) -> Result<(), AppError> {
    if !matches!(
        app.daemon.as_str(),
        "" | "simple" | "forking" | "oneshot" | "dbus" | "notify"
    ) {
        return Err(AppError::Daemon(app.daemon.clone()));
    }
    if !naming::is_valid_app_name(name) {
        return Err(AppError::Name(name.to_owned()));
    }
    for (field, value) in [
        ("command", &app.command),
        ("stop-command", &app.stop_command),
        ("reload-command", &app.reload_command),
        ("post-stop-command", &app.post_stop_command),
    ] {
        if !app_field_ok(value) {
            return Err(AppError::IllegalField {
                field,
                value: value.clone(),
                legal: APP_FIELD_LEGAL,
            });
        }
    }
    if let Some(bad) = app.command_chain.iter().find(|c| !command_chain_ok(c)) {
        return Err(AppError::IllegalField {
            field: "command-chain",
            value: bad.clone(),
            legal: COMMAND_CHAIN_LEGAL,
        });
    }
    Ok(())
}

impl SnapInfo {
    /// Parse the text of `meta/snap.yaml`.
    pub fn parse(text: &str) -> Result<SnapInfo, SnapYamlError> {
        if text.len() > MAX_SNAP_YAML_LEN {
            return Err(SnapYamlError::TooLarge(text.len()));
        }
        let failure = RefCell::new(None);
        let parsed = if text.trim().is_empty() {
            // yaml_serde reports an empty stream as an error; Go decodes it
            // into an empty structure.
            Ok(SnapYaml::default())
        } else {
            TopLevel { failure: &failure }.deserialize(yaml_serde::Deserializer::from_str(text))
        };
        let y = match parsed {
            Ok(y) => y,
            Err(e) => {
                return Err(failure
                    .into_inner()
                    .unwrap_or_else(|| SnapYamlError::Yaml(e.to_string())));
            }
        };
        let plugs = plugs_or_slots("plug", y.plugs)?;
        let slots = plugs_or_slots("slot", y.slots)?;
        let mut layout = BTreeMap::new();
        for (path, item) in y.layout {
            let item = layout_item(&path, item)?;
            layout.insert(path, item);
        }
        Ok(SnapInfo {
            name: y.name,
            version: y.version,
            summary: y.summary,
            description: y.description,
            title: y.title,
            base: y.base,
            snap_type: y.snap_type,
            confinement: y.confinement,
            grade: y.grade,
            environment: y.environment,
            apps: y.apps,
            hooks: y.hooks,
            plugs,
            slots,
            layout,
        })
    }

    /// Validate with no known revision (`$SNAP` expands to `/snap/NAME/unset`
    /// in layout checks); see [`SnapInfo::validate_with_revision`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.validate_with_revision("unset")
    }

    /// snapd's `snap.Validate` for the modelled fields, in snapd's order
    /// (name, title, description, version, apps, hooks, plug and slot names,
    /// base, then layouts), with snapcell's environment checks before the
    /// layouts. Maps are checked in key order.
    pub fn validate_with_revision(&self, revision: &str) -> Result<(), ValidationError> {
        if self.name.is_empty() {
            return Err(ValidationError::EmptyName);
        }
        if naming::validate_snap_name(&self.name).is_err() {
            return Err(ValidationError::SnapName(self.name.clone()));
        }
        let title_len = self.title.as_ref().map_or(0, |t| t.chars().count());
        if title_len > 40 {
            return Err(ValidationError::TitleTooLong(title_len));
        }
        let description_len = self.description.as_ref().map_or(0, |d| d.chars().count());
        if description_len > 4096 {
            return Err(ValidationError::DescriptionTooLong(description_len));
        }
        if let Some(msg) = version_error(&self.version) {
            return Err(ValidationError::Version(msg));
        }
        for (name, app) in &self.apps {
            validate_app(name, app).map_err(|reason| ValidationError::App {
                app: name.clone(),
                reason,
            })?;
        }
        for (name, hook) in &self.hooks {
            naming::validate_hook_name(name)?;
            if let Some(bad) = hook.command_chain.iter().find(|c| !command_chain_ok(c)) {
                return Err(ValidationError::HookCommandChain(bad.clone()));
            }
        }
        let (plugs, slots) = self.all_plugs_and_slots();
        for (name, iface) in &plugs {
            naming::validate_plug_name(name)?;
            if naming::validate_interface_name(iface).is_err() {
                return Err(ValidationError::InterfaceName {
                    kind: "plug",
                    name: (*name).to_owned(),
                    interface: (*iface).to_owned(),
                });
            }
        }
        for (name, iface) in &slots {
            naming::validate_slot_name(name)?;
            if naming::validate_interface_name(iface).is_err() {
                return Err(ValidationError::InterfaceName {
                    kind: "slot",
                    name: (*name).to_owned(),
                    interface: (*iface).to_owned(),
                });
            }
        }
        if let Some(name) = plugs.keys().find(|n| slots.contains_key(*n)) {
            return Err(ValidationError::PlugSlotSameName((*name).to_owned()));
        }
        self.validate_base()?;
        check_environment("snap environment", &self.environment)?;
        for (name, app) in &self.apps {
            check_environment(
                &format!("environment of app {}", quote(name)),
                &app.environment,
            )?;
        }
        for (name, hook) in &self.hooks {
            check_environment(
                &format!("environment of hook {}", quote(name)),
                &hook.environment,
            )?;
        }
        layout::validate_all(&self.name, revision, &self.layout)?;
        Ok(())
    }

    /// Plug and slot names with their interfaces: the top-level ones plus
    /// those only named by apps and hooks (whose interface is their name).
    fn all_plugs_and_slots(&self) -> (BTreeMap<&str, &str>, BTreeMap<&str, &str>) {
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

    /// snapd's `ValidateBase`.
    fn validate_base(&self) -> Result<(), ValidationError> {
        let base = self.base.as_deref().unwrap_or("");
        if matches!(self.snap_type, SnapType::Os | SnapType::Base) && !matches!(base, "" | "none") {
            return Err(ValidationError::BaseOnBaseSnap {
                snap_type: self.snap_type,
                name: self.name.clone(),
            });
        }
        if base == "none" && (!self.hooks.is_empty() || !self.apps.is_empty()) {
            return Err(ValidationError::AppsWithBaseNone);
        }
        if !base.is_empty() {
            let (base_name, key) = naming::split_instance_name(base);
            if !key.is_empty() {
                return Err(ValidationError::BaseInstanceName(base.to_owned()));
            }
            if naming::validate_snap_name(base_name).is_err() {
                return Err(ValidationError::BaseName(base_name.to_owned()));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(y: &str) -> SnapInfo {
        SnapInfo::parse(y).unwrap_or_else(|e| panic!("{e}\n{y}"))
    }

    fn parse_err(y: &str) -> String {
        SnapInfo::parse(y).unwrap_err().to_string()
    }

    fn invalid(y: &str) -> String {
        parse(y).validate().unwrap_err().to_string()
    }

    const FULL: &str = r#"
name: hello
version: 1.0
summary: says hello
description: |
  A longer text.
base: core22
grade: stable
confinement: devmode
environment:
  B: "2"
  A: $B/x
apps:
  hello:
    command: bin/hello --flag $SNAP_DATA
    command-chain: [bin/wrap, bin/wrap2]
    completer: share/completion.sh
    environment:
      LANG: C
    plugs: [home, network]
    slots: [dbus-svc]
  svc:
    command: bin/svc
    daemon: simple
    stop-command: bin/stop
    reload-command: bin/reload
    post-stop-command: bin/post
    restart-condition: always
hooks:
  configure:
    command-chain: [bin/hook-wrap]
    environment: {HOOKVAR: 1}
    plugs: [network]
plugs:
  plain:
  aliased: content
  shared:
    interface: content
    target: $SNAP/shared
    default-provider: other
    read: [a, b]
slots:
  dbus-svc:
    interface: dbus
    bus: session
    name: org.example.Hello
layout:
  /usr/share/hello:
    bind: $SNAP/usr/share/hello
  /var/tmp/hello:
    type: tmpfs
    mode: 1777
  /etc/hello.conf:
    bind-file: $SNAP_DATA/hello.conf
  /opt/hello:
    symlink: $SNAP/opt
unknown-key: {whatever: [1, 2]}
"#;

    #[test]
    fn parses_a_full_snap_yaml() {
        let info = parse(FULL);
        assert_eq!(info.name, "hello");
        assert_eq!(info.version, "1.0");
        assert_eq!(info.summary.as_deref(), Some("says hello"));
        assert_eq!(info.description.as_deref(), Some("A longer text.\n"));
        assert_eq!(info.base.as_deref(), Some("core22"));
        assert_eq!(info.grade.as_deref(), Some("stable"));
        assert_eq!(info.confinement, Confinement::Devmode);
        assert_eq!(info.snap_type, SnapType::App);
        let env: Vec<_> = info.environment.iter().collect();
        assert_eq!(env, [("B", "2"), ("A", "$B/x")]);
        let hello = &info.apps["hello"];
        assert_eq!(hello.command, "bin/hello --flag $SNAP_DATA");
        assert_eq!(hello.command_chain, ["bin/wrap", "bin/wrap2"]);
        assert_eq!(hello.completer, "share/completion.sh");
        assert_eq!(hello.environment.get("LANG"), Some("C"));
        assert_eq!(hello.plugs, ["home", "network"]);
        assert_eq!(hello.slots, ["dbus-svc"]);
        let svc = &info.apps["svc"];
        assert_eq!(
            (
                svc.daemon.as_str(),
                svc.stop_command.as_str(),
                svc.reload_command.as_str(),
                svc.post_stop_command.as_str()
            ),
            ("simple", "bin/stop", "bin/reload", "bin/post")
        );
        let hook = &info.hooks["configure"];
        assert_eq!(hook.command_chain, ["bin/hook-wrap"]);
        assert_eq!(hook.environment.get("HOOKVAR"), Some("1"));
        assert_eq!(hook.plugs, ["network"]);
        assert_eq!(info.plugs["plain"].interface, "plain");
        assert_eq!(info.plugs["aliased"].interface, "content");
        let shared = &info.plugs["shared"];
        assert_eq!(shared.interface, "content");
        assert_eq!(shared.attrs["target"], Value::String("$SNAP/shared".into()));
        assert_eq!(
            shared.attrs["read"],
            Value::Sequence(vec![Value::String("a".into()), Value::String("b".into())])
        );
        assert_eq!(info.slots["dbus-svc"].interface, "dbus");
        assert_eq!(info.layout.len(), 4);
        assert_eq!(info.layout["/var/tmp/hello"].mode, 0o1777);
        assert_eq!(info.layout["/usr/share/hello"].mode, 0o755);
        assert_eq!(info.layout["/usr/share/hello"].user, "root");
        assert_eq!(info.validate(), Ok(()));
        assert_eq!(
            info.plug_names().into_iter().collect::<Vec<_>>(),
            ["aliased", "home", "network", "plain", "shared"]
        );
        let lines: Vec<String> = info
            .layout_entries("3")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines[3],
            "tmpfs /var/tmp/hello tmpfs x-snapd.mode=01777,x-snapd.origin=layout 0 0"
        );
    }

    #[test]
    fn scalars_read_as_their_text() {
        assert_eq!(parse("name: a\nversion: 1.0\n").version, "1.0");
        assert_eq!(parse("version: 1.10\n").version, "1.10");
        assert_eq!(parse("version: 2\n").version, "2");
        assert_eq!(parse("version: 0x1F\n").version, "0x1F");
        assert_eq!(parse("version: true\n").version, "true");
        assert_eq!(parse("version: ~\n").version, "");
        assert_eq!(parse("version:\n").version, "");
        assert_eq!(parse("version: '007'\n").version, "007");
        assert_eq!(
            parse("environment: {A: 1.50, B: ~}\n").environment.get("A"),
            Some("1.50")
        );
        assert_eq!(
            parse("environment: {A: 1.50, B: ~}\n").environment.get("B"),
            Some("")
        );
    }

    #[test]
    fn defaults_and_empty_documents() {
        for y in ["", "\n\n", "# only a comment\n", "~\n", "---\n"] {
            assert_eq!(SnapInfo::parse(y), Ok(SnapInfo::default()), "{y:?}");
        }
        let info = parse("name: a\napps:\n  x:\nhooks:\n  install: ~\nlayout:\n  /opt/x:\n");
        assert_eq!(info.apps["x"], AppInfo::default());
        assert_eq!(info.hooks["install"], HookInfo::default());
        assert_eq!(info.layout["/opt/x"], Layout::default());
        assert_eq!(info.confinement, Confinement::Strict);
        assert_eq!(info.base_or_default(), "core");
    }

    #[test]
    fn later_duplicates_win() {
        let info = parse(
            "name: a\nname: b\napps:\n  x: {command: one, command: two}\n  x: {command: three}\n\
             environment: {A: 1, B: 2, A: 3}\nplugs:\n  p: {interface: x, attr: 1, attr: 2}\n  p: {interface: y}\n",
        );
        assert_eq!(info.name, "b");
        assert_eq!(info.apps["x"].command, "three");
        assert_eq!(
            info.environment.iter().collect::<Vec<_>>(),
            [("A", "3"), ("B", "2")]
        );
        assert_eq!(info.plugs["p"].interface, "y");
        let info = parse("plugs:\n  p: {interface: x, attr: 1, attr: 2}\n");
        assert_eq!(info.plugs["p"].attrs["attr"], Value::Number(2.into()));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_err("name: foo\nlayouts:\n  /usr: {bind: $SNAP/usr}\n"),
            "cannot parse snap.yaml: typo detected: use singular \"layout\" instead of plural \"layouts\""
        );
        assert_eq!(
            parse_err("# comment\n\nname: foo\nlayouts: {}\n"),
            "cannot parse snap.yaml: typo detected: use singular \"layout\" instead of plural \"layouts\""
        );
        assert_eq!(
            parse_err("confinement: jail\n"),
            "cannot parse snap.yaml: invalid confinement type: \"jail\""
        );
        assert_eq!(
            parse_err("confinement: ''\n"),
            "cannot parse snap.yaml: invalid confinement type: \"\""
        );
        assert_eq!(
            parse_err("type: widget\n"),
            "cannot parse snap.yaml: invalid snap type: \"widget\""
        );
        assert_eq!(parse("type: base\n").snap_type, SnapType::Base);
        assert_eq!(
            parse_err("layout:\n  /opt/x:\n    type: tmpfs\n    mode: 0o755\n"),
            "cannot parse snap.yaml: layout \"/opt/x\" has invalid mode \"0o755\": invalid syntax"
        );
        assert_eq!(
            parse_err("layout:\n  /opt/x:\n    mode: 77777777777\n"),
            "cannot parse snap.yaml: layout \"/opt/x\" has invalid mode \"77777777777\": value out of range"
        );
        assert!(parse_err("name: [a]\n").starts_with("cannot parse snap.yaml: name: invalid type"));
        assert!(parse_err("- a\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("apps: [a]\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("name: a\n---\nname: b\n").starts_with("cannot parse snap.yaml: "));
        assert!(parse_err("a: [\n").starts_with("cannot parse snap.yaml: "));
        assert_eq!(
            SnapInfo::parse(&"#".repeat(MAX_SNAP_YAML_LEN + 1)),
            Err(SnapYamlError::TooLarge(MAX_SNAP_YAML_LEN + 1))
        );
    }

    #[test]
    fn plug_and_slot_shapes() {
        let info = parse("plugs: [a, b]\nslots: {s: ~, t: iface}\n");
        assert_eq!(info.plugs["a"].interface, "a");
        assert_eq!(info.plugs["b"].interface, "b");
        assert_eq!(info.slots["s"].interface, "s");
        assert_eq!(info.slots["t"].interface, "iface");
        let label = parse("plugs: {p: {label: hello, interface: x}}\n");
        assert_eq!(label.plugs["p"].label, "hello");
        assert!(label.plugs["p"].attrs.is_empty());
        for (y, want) in [
            (
                "plugs: {p: 1}\n",
                "plug \"p\" has malformed definition (found int)",
            ),
            (
                "plugs: {p: [x]}\n",
                "plug \"p\" has malformed definition (found []interface {})",
            ),
            (
                "slots: {s: 1.5}\n",
                "slot \"s\" has malformed definition (found float64)",
            ),
            (
                "plugs: {p: {interface: 1}}\n",
                "interface name on plug \"p\" is not a string (found int)",
            ),
            (
                "plugs: {p: {label: [1]}}\n",
                "label of plug \"p\" is not a string (found []interface {})",
            ),
            (
                "plugs: {p: {$x: 1}}\n",
                "plug \"p\" uses reserved attribute \"$x\"",
            ),
            (
                "plugs: {p: {'': 1}}\n",
                "plug \"p\" has an empty attribute key",
            ),
            (
                "plugs: {p: {1: 1}}\n",
                "plug \"p\" has attribute key that is not a string (found int)",
            ),
            (
                "plugs: [{a: b}]\n",
                "plug list entry is not a string (found map[interface {}]interface {})",
            ),
        ] {
            assert_eq!(parse_err(y), want, "{y}");
        }
        let tagged = parse("plugs: {p: {x: !custom 5}}\n");
        assert!(matches!(tagged.plugs["p"].attrs["x"], Value::Tagged(_)));
    }

    #[test]
    fn versions_follow_snapd() {
        for ok in ["1", "1.0", "v1.0-beta+git~1", "a", &"a".repeat(32), "1:2.3"] {
            assert_eq!(version_error(ok), None, "{ok}");
        }
        let cases = [
            ("", "invalid snap version: cannot be empty"),
            (
                "1.0 beta",
                "invalid snap version \"1.0 beta\": must be printable, non-whitespace ASCII",
            ),
            (
                "héllo",
                "invalid snap version \"h\\u00e9llo\": must be printable, non-whitespace ASCII",
            ),
            (
                ".1",
                "invalid snap version \".1\": must start with an ASCII alphanumeric (and not '.')",
            ),
            (
                "1.",
                "invalid snap version \"1.\": must end with an ASCII alphanumeric or one of '+' or '~' (and not '.')",
            ),
            (
                "1_2@3",
                "invalid snap version \"1_2@3\": contains invalid characters: \"_\", \"@\"",
            ),
            (
                "'a!!b_",
                "invalid snap version \"'a!!b_\": must start with an ASCII alphanumeric (and not '\\''), must end with an ASCII alphanumeric or one of '+' or '~' (and not '_'), and contains invalid characters: \"!!\"",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(version_error(v).as_deref(), Some(want), "{v:?}");
        }
        let long = "a".repeat(33);
        assert_eq!(
            version_error(&long).unwrap(),
            format!(
                "invalid snap version \"{long}\": cannot be longer than 32 characters (got: 33)"
            )
        );
        let both = format!("-{}", "a".repeat(32));
        assert_eq!(
            version_error(&both).unwrap(),
            format!(
                "invalid snap version \"{both}\": cannot be longer than 32 characters (got: 33), and must start with an ASCII alphanumeric (and not '-')"
            )
        );
    }

    #[test]
    fn validation_errors() {
        let base = "name: foo\nversion: 1\n";
        assert_eq!(invalid("version: 1\n"), "snap name cannot be empty");
        assert_eq!(
            invalid("name: Foo\nversion: 1\n"),
            "invalid snap name: \"Foo\""
        );
        assert_eq!(
            invalid("name: foo\n"),
            "invalid snap version: cannot be empty"
        );
        assert_eq!(
            invalid(&format!("{base}title: {}\n", "t".repeat(41))),
            "title can have up to 40 codepoints, got 41"
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a_b: {{command: x}}\n")),
            "invalid definition of application \"a_b\": cannot have \"a_b\" as app name - use letters, digits, and dash as separator"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a: {{command: x, daemon: forever}}\n"
            )),
            "invalid definition of application \"a\": \"daemon\" field contains invalid value \"forever\""
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a: {{command: \"x 'y'\"}}\n")),
            "invalid definition of application \"a\": app description field 'command' contains illegal \"x 'y'\" (legal: '^[A-Za-z0-9/. _#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a: {{command: x, command-chain: [\"a b\"]}}\n"
            )),
            "invalid definition of application \"a\": app description field 'command-chain' contains illegal \"a b\" (legal: '^[A-Za-z0-9/._#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!("{base}hooks:\n  Install: {{}}\n")),
            "invalid hook name: \"Install\""
        );
        assert_eq!(
            invalid(&format!(
                "{base}hooks:\n  install: {{command-chain: [\"a;b\"]}}\n"
            )),
            "hook command-chain contains illegal \"a;b\" (legal: '^[A-Za-z0-9/._#:$-]*$')"
        );
        assert_eq!(
            invalid(&format!("{base}plugs: {{p: Bad}}\n")),
            "invalid interface name \"Bad\" for plug \"p\""
        );
        assert_eq!(
            invalid(&format!("{base}apps:\n  a: {{plugs: [x_y]}}\n")),
            "invalid plug name: \"x_y\""
        );
        assert_eq!(
            invalid(&format!("{base}plugs: [x]\napps:\n  a: {{slots: [x]}}\n")),
            "cannot have plug and slot with the same name: \"x\""
        );
        assert_eq!(
            invalid(&format!("{base}type: base\nbase: core\n")),
            "cannot have \"base\" field on \"base\" snap \"foo\""
        );
        assert_eq!(
            invalid(&format!("{base}base: none\napps:\n  a: {{command: x}}\n")),
            "cannot have apps or hooks with base \"none\""
        );
        assert_eq!(
            invalid(&format!("{base}base: core_x\n")),
            "base cannot specify a snap instance name: \"core_x\""
        );
        assert_eq!(
            invalid(&format!("{base}base: Core\n")),
            "invalid base name: invalid snap name: \"Core\""
        );
        assert_eq!(
            invalid(&format!("{base}environment: {{'A=B': x}}\n")),
            "invalid environment variable name \"A=B\" in snap environment: must be non-empty and contain neither '=' nor NUL"
        );
        assert_eq!(
            invalid(&format!(
                "{base}apps:\n  a:\n    environment: {{A: \"x\\0y\"}}\n"
            )),
            "invalid value of environment variable \"A\" in environment of app \"a\": contains NUL"
        );
        assert_eq!(
            invalid(&format!("{base}layout:\n  /proc/x: {{type: tmpfs}}\n")),
            "layout \"/proc/x\" defines a new top-level directory \"/proc\""
        );
        assert_eq!(parse(&format!("{base}base: none\n")).validate(), Ok(()));
    }

    #[test]
    fn hostile_yaml_gives_errors() {
        // An alias bomb: 10^9 strings once expanded.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        for key in [
            "plugs: {p: {attr: *a9}}",
            "environment: {A: *a9}",
            "other: *a9",
        ] {
            let y = format!("{bomb}{key}\n");
            let started = std::time::Instant::now();
            let got = SnapInfo::parse(&y);
            assert!(started.elapsed().as_secs() < 10, "{key} took too long");
            if key.starts_with("other") {
                // Ignored keys are skipped without expanding them.
                assert!(got.is_ok() || got.is_err());
            } else {
                assert!(got.is_err(), "{key}: {got:?}");
            }
        }
        // Deep nesting, in every place a value is read: an error (the YAML
        // library's recursion limit), except under an ignored key, which is
        // skipped without recursion.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for key in [
            "plugs: {p: {attr: D}}",
            "apps: D",
            "layout: {/opt/x: D}",
            "D",
        ] {
            let y = key.replace('D', &deep);
            assert!(SnapInfo::parse(&y).is_err(), "{key}");
        }
        assert!(SnapInfo::parse(&format!("other: {deep}\n")).is_ok());
        // An alias to an enclosing node.
        assert!(SnapInfo::parse("plugs: &a {p: *a}\n").is_err());
        // Many keys.
        let many: String = (0..50_000).map(|i| format!("k{i}: v\n")).collect();
        assert!(SnapInfo::parse(&format!("name: x\n{many}")).is_ok());
        // Control characters and tabs.
        assert!(SnapInfo::parse("name: \u{1}\n").is_err());
        assert!(SnapInfo::parse("\tname: x\n").is_err());
    }

    fn arb_yaml() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("~".to_owned()),
            Just("''".to_owned()),
            "[a-z$/]{0,6}",
            "-?[0-9]{1,4}(\\.[0-9]{1,2})?",
            Just("true".to_owned()),
            Just("*a".to_owned()),
            Just("&a x".to_owned()),
            Just("!tag x".to_owned()),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::vec(("[a-z/$]{0,5}", inner), 0..4).prop_map(|kv| {
                    let items: Vec<String> =
                        kv.iter().map(|(k, v)| format!("'{k}': {v}")).collect();
                    format!("{{{}}}", items.join(", "))
                }),
            ]
        });
        let key = prop_oneof![
            Just("name"),
            Just("version"),
            Just("type"),
            Just("confinement"),
            Just("base"),
            Just("apps"),
            Just("hooks"),
            Just("plugs"),
            Just("slots"),
            Just("layout"),
            Just("layouts"),
            Just("environment"),
            Just("summary"),
            Just("other"),
        ];
        proptest::collection::vec((key, value), 0..6).prop_map(|kv| {
            kv.iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect::<String>()
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics_on_text(text in "\\PC{0,200}|[\\x00-\\x7f]{0,200}") {
            if let Ok(info) = SnapInfo::parse(&text) {
                let _ = info.validate();
            }
        }

        #[test]
        fn parsing_never_panics_on_structured_yaml(text in arb_yaml()) {
            if let Ok(info) = SnapInfo::parse(&text) {
                let _ = info.validate();
                let _ = info.layout_entries("1");
            }
        }

        #[test]
        fn valid_layouts_round_trip_through_yaml(
            items in proptest::collection::btree_map(
                "/(etc|usr|opt)/[a-z]{1,6}|/var/x[a-z]{0,5}",
                prop_oneof![
                    "[a-z]{1,5}".prop_map(|s| format!("bind: $SNAP/{s}")),
                    "[a-z]{1,5}".prop_map(|s| format!("bind-file: $SNAP_DATA/{s}")),
                    "[a-z]{1,5}".prop_map(|s| format!("symlink: $SNAP_COMMON/{s}")),
                    Just("type: tmpfs\n    mode: 1777".to_owned()),
                ],
                1..6,
            )
        ) {
            // Two levels deep, bind sources under $SNAP and file sources
            // under $SNAP_DATA: these layouts are all valid.
            let mut y = String::from("name: demo\nversion: '1'\nlayout:\n");
            for (p, body) in &items {
                y.push_str(&format!("  {p}:\n    {body}\n"));
            }
            let info = SnapInfo::parse(&y).unwrap();
            prop_assert_eq!(info.layout.len(), items.len());
            prop_assert_eq!(info.validate(), Ok(()));
            prop_assert_eq!(info.layout_entries("1").len(), items.len());
        }
    }
}
