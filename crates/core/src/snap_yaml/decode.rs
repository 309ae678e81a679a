//! Decoding `meta/snap.yaml` the way Go's yaml.v2 fills snapd's structures.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use yaml_serde::value::{Tag, TaggedValue};
use yaml_serde::{Mapping, Number, Value};

use super::model::*;
use crate::goquote::quote;
use crate::layout::{self, Layout, ModeError};

/// Largest snap.yaml accepted, in bytes. Real ones are a few kilobytes.
pub const MAX_SNAP_YAML_LEN: usize = 4 << 20;
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
}
