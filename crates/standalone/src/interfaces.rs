//! The interfaces the standalone front end can connect, one row each
//! ([`INTERFACES`]): whether snapd's base declaration connects it by itself,
//! its seccomp rules (`core::seccomp::policy`), its Landlock grants
//! (`core::landlock`, our own rules in AppArmor's language) and its mount
//! entries. The rules themselves are pure and live in `snapcell_core`; this
//! module decides which apply to a snap, from the connections in the
//! standalone state.
//!
//! Every interface but `content` has its slot on the system (`:home`,
//! written `system:home` in the state); `content` connects a plug of one
//! snap to a slot of another (or the same) snap, and binds the slot's
//! directories at the plug's target (spec §5.2).

use std::collections::BTreeMap;

use snapcell_core::entry::MountEntry;
use snapcell_core::landlock;
use snapcell_core::layout::SnapVars;
use snapcell_core::paths;
use snapcell_core::seccomp::policy::Interface;
use snapcell_core::snap_yaml::{PlugInfo, SlotInfo, SnapInfo};
use yaml_serde::Value;

use crate::state::{Connection, State};

/// When snapd connects an interface by itself (its base declaration's
/// `allow-auto-connection`, as it applies on a classic system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoConnect {
    /// At install, to the system's slot.
    Yes,
    /// Only with `connect`.
    No,
    /// content: at install, to a slot of the plug's `default-provider`
    /// whose `content` matches, when that snap is installed. snapd also
    /// asks for the same publisher; local snaps have none.
    DefaultProvider,
}

/// One supported interface.
#[derive(Clone, Copy, Debug)]
pub struct InterfaceRow {
    pub name: &'static str,
    pub auto_connect: AutoConnect,
    /// The seccomp rules a connected plug adds, where the policy has any.
    pub seccomp: Option<Interface>,
    /// The Landlock grants a connected plug adds (content: from the slot).
    pub grants: Option<&'static str>,
    /// What it is for (`--help`, `connections --json`).
    pub summary: &'static str,
}

const fn row(
    name: &'static str,
    auto_connect: AutoConnect,
    seccomp: Option<Interface>,
    summary: &'static str,
) -> InterfaceRow {
    InterfaceRow {
        name,
        auto_connect,
        seccomp,
        grants: None,
        summary,
    }
}

/// Every interface snapcell connects, in the order `--help` lists them.
pub static INTERFACES: &[InterfaceRow] = &[
    row(
        "home",
        AutoConnect::Yes,
        Some(Interface::Home),
        "the user's non-hidden files (on classic systems snapd connects it by itself)",
    ),
    row(
        "network",
        AutoConnect::Yes,
        Some(Interface::Network),
        "TCP connections and name resolution",
    ),
    row(
        "network-bind",
        AutoConnect::Yes,
        Some(Interface::NetworkBind),
        "listening on TCP ports",
    ),
    row(
        "network-observe",
        AutoConnect::No,
        Some(Interface::NetworkObserve),
        "reading the network's state",
    ),
    row(
        "removable-media",
        AutoConnect::No,
        Some(Interface::RemovableMedia),
        "files under /media, /run/media and /mnt",
    ),
    row(
        "audio-playback",
        AutoConnect::Yes,
        Some(Interface::AudioPlayback),
        "the PulseAudio and PipeWire sockets",
    ),
    row(
        "camera",
        AutoConnect::No,
        Some(Interface::Camera),
        "video capture devices",
    ),
    row(
        "opengl",
        AutoConnect::Yes,
        Some(Interface::Opengl),
        "GPU devices and drivers",
    ),
    row(
        "x11",
        AutoConnect::Yes,
        Some(Interface::X11),
        "the X server's sockets",
    ),
    row(
        "wayland",
        AutoConnect::Yes,
        Some(Interface::Wayland),
        "the Wayland compositor's socket",
    ),
    row(
        "desktop",
        AutoConnect::Yes,
        Some(Interface::Desktop),
        "fonts, themes, the user's directory names, the D-Bus sockets",
    ),
    row(
        "content",
        AutoConnect::DefaultProvider,
        None,
        "another snap's directories, bound at the plug's target",
    ),
];

/// The row of interface `name`, with its Landlock grants.
pub fn find(name: &str) -> Option<InterfaceRow> {
    INTERFACES
        .iter()
        .find(|r| r.name == name)
        .map(|r| InterfaceRow {
            grants: landlock::interface_grants(r.name),
            ..*r
        })
}

/// The plug and slot reference of the system's slots.
pub const SYSTEM: &str = "system";

/// Every plug of a snap: the top-level ones, and those only named by apps
/// and hooks (whose interface is their name).
pub fn plugs(info: &SnapInfo) -> BTreeMap<String, PlugInfo> {
    let mut out: BTreeMap<String, PlugInfo> = info.plugs.clone();
    let named = info
        .apps
        .values()
        .flat_map(|a| &a.plugs)
        .chain(info.hooks.values().flat_map(|h| &h.plugs));
    for p in named {
        out.entry(p.clone()).or_insert_with(|| PlugInfo {
            interface: p.clone(),
            ..PlugInfo::default()
        });
    }
    out
}

/// Every slot of a snap (top-level and app-level).
pub fn slots(info: &SnapInfo) -> BTreeMap<String, SlotInfo> {
    let mut out: BTreeMap<String, SlotInfo> = info.slots.clone();
    for s in info.apps.values().flat_map(|a| &a.slots) {
        out.entry(s.clone()).or_insert_with(|| SlotInfo {
            interface: s.clone(),
            ..SlotInfo::default()
        });
    }
    out
}

fn attr_str<'a>(attrs: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A content plug's or slot's `content` attribute (its name by default).
pub fn content_tag<'a>(name: &'a str, attrs: &'a BTreeMap<String, Value>) -> &'a str {
    attr_str(attrs, "content").unwrap_or(name)
}

/// A content plug's `default-provider`: the snap (`SNAP` or `SNAP:SLOT`).
pub fn default_provider(attrs: &BTreeMap<String, Value>) -> Option<&str> {
    attr_str(attrs, "default-provider").map(|p| p.split(':').next().unwrap_or(p))
}

/// What a content slot shares, its paths expanded for the slot's snap:
/// `(read, write, source form)`.
pub fn content_slot_paths(
    slot_snap: &str,
    slot_revision: &str,
    attrs: &BTreeMap<String, Value>,
) -> (Vec<String>, Vec<String>, bool) {
    let (read, write, source) = match attrs.get("source") {
        Some(Value::Mapping(m)) => (str_list(m.get("read")), str_list(m.get("write")), true),
        _ => (
            str_list(attrs.get("read")),
            str_list(attrs.get("write")),
            false,
        ),
    };
    let vars = SnapVars::new(slot_snap, slot_revision);
    let resolve = |p: &String| {
        let p = if p.starts_with('$') || p.starts_with('/') {
            vars.expand(p)
        } else {
            format!("{}/{p}", vars.snap)
        };
        paths::clean(&p)
    };
    (
        read.iter().map(resolve).collect(),
        write.iter().map(resolve).collect(),
        source,
    )
}

/// The mount entries of a content connection (spec §5.2): each read path
/// bound read-only at the plug's target, each write path read-write; with
/// the slot's `source:` form, at the target's entry named after the
/// path's last component.
pub fn content_mount_entries(
    plug_snap: &str,
    plug_revision: &str,
    plug: &PlugInfo,
    read: &[String],
    write: &[String],
    source_form: bool,
) -> Result<Vec<MountEntry>, String> {
    let target = attr_str(&plug.attrs, "target")
        .ok_or_else(|| "the content plug has no target attribute".to_owned())?;
    let vars = SnapVars::new(plug_snap, plug_revision);
    let target = if target.starts_with('$') || target.starts_with('/') {
        vars.expand(target)
    } else {
        format!("{}/{target}", vars.snap)
    };
    let target = paths::clean(&target);
    let entry = |src: &String, ro: bool| {
        let dir = if source_form {
            let base = src.rsplit('/').next().unwrap_or(src);
            format!("{target}/{base}")
        } else {
            target.clone()
        };
        let mut options = vec!["bind".to_owned()];
        if ro {
            options.push("ro".to_owned());
        }
        MountEntry {
            name: src.clone(),
            dir,
            options,
            ..MountEntry::default()
        }
    };
    Ok(read
        .iter()
        .map(|r| entry(r, true))
        .chain(write.iter().map(|w| entry(w, false)))
        .collect())
}

/// The system's mount entries for a connected plug of `interface`: x11
/// binds the host's `/tmp/.X11-unix` into the snap's private `/tmp`, as
/// snapd does on classic systems (skipped where the host has none).
pub fn system_mount_entries(interface: &str) -> Vec<MountEntry> {
    match interface {
        "x11" => vec![MountEntry {
            name: "/var/lib/snapd/hostfs/tmp/.X11-unix".into(),
            dir: "/tmp/.X11-unix".into(),
            options: vec!["bind".into(), "ro".into(), "x-snapd.ignore-missing".into()],
            ..MountEntry::default()
        }],
        _ => Vec::new(),
    }
}

/// Everything a snap's connected plugs add to its confinement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connected {
    /// The connected interfaces, sorted, once each.
    pub interfaces: Vec<String>,
    /// Their seccomp rules.
    pub seccomp: Vec<Interface>,
    /// Their Landlock grants, as profile rules.
    pub grants: String,
    /// Their mount entries (content, x11).
    pub mounts: Vec<MountEntry>,
}

/// The snap a slot reference (`SNAP:SLOT`) names, and the slot.
pub fn split_ref(r: &str) -> (&str, &str) {
    r.split_once(':').unwrap_or((r, ""))
}

/// Reads an installed snap's current metadata and revision.
pub type SlotSnapInfo<'a> = dyn Fn(&str) -> Result<(SnapInfo, String), String> + 'a;

/// What the connections of `info`'s plugs (in `state`) add, for `info` at
/// `revision`. `slot_info` reads another snap's current metadata (the
/// content slots' attributes).
pub fn connected(
    state: &State,
    info: &SnapInfo,
    revision: &str,
    slot_info: &SlotSnapInfo<'_>,
) -> Result<Connected, String> {
    let name = info.name.as_str();
    let my_plugs = plugs(info);
    let mut out = Connected::default();
    let mut granted = std::collections::BTreeSet::new();
    for (plug_ref, conn) in connections_of_plugs(state, name) {
        let (_, plug_name) = split_ref(plug_ref);
        let Some(plug) = my_plugs.get(plug_name) else {
            continue; // a plug the revision no longer has
        };
        if !out.interfaces.contains(&conn.interface) {
            out.interfaces.push(conn.interface.clone());
        }
        let Some(row) = find(&conn.interface) else {
            continue;
        };
        if let Some(s) = row.seccomp
            && !out.seccomp.contains(&s)
        {
            out.seccomp.push(s);
        }
        if let Some(g) = row.grants
            && granted.insert(g)
        {
            out.grants.push_str(g);
        }
        if conn.interface == "content" {
            let (slot_snap, slot_name) = split_ref(&conn.slot);
            let (sinfo, srev) = if slot_snap == name {
                (info.clone(), revision.to_owned())
            } else {
                slot_info(slot_snap)?
            };
            let Some(slot) = slots(&sinfo).remove(slot_name) else {
                continue; // the slot is gone from the provider's revision
            };
            let (read, write, source) = content_slot_paths(slot_snap, &srev, &slot.attrs);
            out.grants
                .push_str(&landlock::content_grants(&read, &write));
            out.mounts.extend(content_mount_entries(
                name, revision, plug, &read, &write, source,
            )?);
        } else if !out.mounts.iter().any(|m| m.dir == "/tmp/.X11-unix") {
            out.mounts.extend(system_mount_entries(&conn.interface));
        }
    }
    out.interfaces.sort();
    Ok(out)
}

/// The connections of `instance`'s plugs.
pub fn connections_of_plugs<'s>(
    state: &'s State,
    instance: &str,
) -> impl Iterator<Item = (&'s String, &'s Connection)> {
    let prefix = format!("{instance}:");
    state
        .connections
        .iter()
        .filter(move |(plug, _)| plug.starts_with(&prefix))
}

/// Connect the plugs of `info` snapd would connect by itself: to the
/// system's slots for interfaces connected automatically, and content
/// plugs to a matching slot of their default provider when it is
/// installed; and, `info` being a provider, the content plugs of the
/// installed snaps (in `state.snaps`) that wait for it as their default
/// provider, as snapd auto-connects a new slot. Plugs the user
/// disconnected stay disconnected. `installed` reads an installed snap's
/// current metadata.
pub fn auto_connect(
    state: &mut State,
    info: &SnapInfo,
    installed: &dyn Fn(&str) -> Option<SnapInfo>,
) {
    let name = info.name.clone();
    for (plug_name, plug) in plugs(info) {
        let plug_ref = format!("{name}:{plug_name}");
        if state.undesired.contains(&plug_ref) || state.connections.contains_key(&plug_ref) {
            continue;
        }
        let Some(row) = find(&plug.interface) else {
            continue;
        };
        let slot = match row.auto_connect {
            AutoConnect::Yes => Some(format!("{SYSTEM}:{}", plug.interface)),
            AutoConnect::No => None,
            AutoConnect::DefaultProvider => default_provider(&plug.attrs).and_then(|p| {
                let provider = if p == name {
                    Some(info.clone())
                } else {
                    installed(p)
                }?;
                matching_content_slot(&plug_name, &plug, &provider)
                    .map(|slot| format!("{p}:{slot}"))
            }),
        };
        if let Some(slot) = slot {
            state.connections.insert(
                plug_ref,
                Connection {
                    interface: plug.interface.clone(),
                    slot,
                    manual: false,
                },
            );
        }
    }
    // Plugs of other snaps waiting for this one.
    let others: Vec<String> = state
        .snaps
        .keys()
        .filter(|n| **n != name)
        .cloned()
        .collect();
    for other in others {
        let Some(consumer) = installed(&other) else {
            continue;
        };
        for (plug_name, plug) in plugs(&consumer) {
            let plug_ref = format!("{other}:{plug_name}");
            if plug.interface != "content"
                || default_provider(&plug.attrs) != Some(name.as_str())
                || state.undesired.contains(&plug_ref)
                || state.connections.contains_key(&plug_ref)
            {
                continue;
            }
            if let Some(slot) = matching_content_slot(&plug_name, &plug, info) {
                state.connections.insert(
                    plug_ref,
                    Connection {
                        interface: plug.interface.clone(),
                        slot: format!("{name}:{slot}"),
                        manual: false,
                    },
                );
            }
        }
    }
}

/// The content slot of `provider` whose `content` matches the plug's: the
/// one its `default-provider` names (`SNAP:SLOT`) if that matches, else the
/// first.
pub fn matching_content_slot(
    plug_name: &str,
    plug: &PlugInfo,
    provider: &SnapInfo,
) -> Option<String> {
    let want = content_tag(plug_name, &plug.attrs);
    let named = attr_str(&plug.attrs, "default-provider")
        .and_then(|p| p.split_once(':'))
        .map(|(_, slot)| slot);
    let fits: Vec<String> = slots(provider)
        .into_iter()
        .filter(|(n, s)| s.interface == "content" && content_tag(n, &s.attrs) == want)
        .map(|(n, _)| n)
        .collect();
    named
        .and_then(|n| fits.iter().find(|f| *f == n).cloned())
        .or_else(|| fits.into_iter().next())
}

/// A plug or slot reference as the user writes it: `SNAP:NAME`, `SNAP`,
/// `:NAME` (the system's), or nothing.
fn parse_slot_arg(arg: Option<&str>) -> (Option<&str>, Option<&str>) {
    let Some(arg) = arg.filter(|a| !a.is_empty()) else {
        return (None, None);
    };
    let (snap, slot) = match arg.split_once(':') {
        Some((s, n)) => (s, Some(n).filter(|n| !n.is_empty())),
        None => (arg, None),
    };
    let snap = match snap {
        "" | SYSTEM | "snapd" | "core" => SYSTEM,
        s => s,
    };
    (Some(snap), slot)
}

fn split_plug(plug: &str, verb: &str) -> Result<(String, String), String> {
    match plug.split_once(':') {
        Some((s, p)) if !s.is_empty() && !p.is_empty() => Ok((s.to_owned(), p.to_owned())),
        _ => Err(format!(
            "cannot {verb} {plug:?}: give the plug as SNAP:PLUG (snapcell {verb} hello:home)"
        )),
    }
}

/// The slot (`SNAP:SLOT`) a plug of `interface` connects to, from what the
/// user named.
fn resolve_slot(
    state: &State,
    plug_snap: &SnapInfo,
    plug_name: &str,
    plug: &PlugInfo,
    arg: Option<&str>,
) -> Result<String, String> {
    let iface = plug.interface.as_str();
    let (snap, slot) = parse_slot_arg(arg);
    let snap = match snap {
        Some(s) => s.to_owned(),
        None if iface == "content" => default_provider(&plug.attrs)
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "cannot connect {}:{plug_name}: name the snap with the content slot \
                     (snapcell connect {}:{plug_name} PROVIDER[:SLOT])",
                    plug_snap.name, plug_snap.name
                )
            })?,
        None => SYSTEM.to_owned(),
    };
    if snap == SYSTEM {
        if iface == "content" {
            return Err(
                "snap \"system\" has no \"content\" interface slots (a content plug \
                        connects to another snap)"
                    .to_owned(),
            );
        }
        if let Some(slot) = slot
            && slot != iface
        {
            return Err(format!("snap \"system\" has no slot named {slot:?}"));
        }
        return Ok(format!("{SYSTEM}:{iface}"));
    }
    let provider = if snap == plug_snap.name {
        plug_snap.clone()
    } else {
        crate::security::current_info(state, &snap)?.0
    };
    let provider_slots = slots(&provider);
    let name = match slot {
        Some(slot) => {
            let s = provider_slots
                .get(slot)
                .ok_or_else(|| format!("snap {snap:?} has no slot named {slot:?}"))?;
            if s.interface != iface {
                return Err(format!(
                    "cannot connect {}:{plug_name} ({iface:?} interface) to {snap}:{slot} \
                     ({:?} interface)",
                    plug_snap.name, s.interface
                ));
            }
            if iface == "content"
                && content_tag(slot, &s.attrs) != content_tag(plug_name, &plug.attrs)
            {
                return Err(format!(
                    "cannot connect {}:{plug_name} to {snap}:{slot}: their content attributes \
                     differ ({:?} and {:?})",
                    plug_snap.name,
                    content_tag(plug_name, &plug.attrs),
                    content_tag(slot, &s.attrs)
                ));
            }
            slot.to_owned()
        }
        None => {
            let found: Vec<&String> = provider_slots
                .iter()
                .filter(|(n, s)| {
                    s.interface == iface
                        && (iface != "content"
                            || content_tag(n, &s.attrs) == content_tag(plug_name, &plug.attrs))
                })
                .map(|(n, _)| n)
                .collect();
            match found.as_slice() {
                [one] => (*one).clone(),
                [] => return Err(format!("snap {snap:?} has no {iface:?} interface slots")),
                _ => {
                    return Err(format!(
                        "snap {snap:?} has more than one {iface:?} slot: name one ({})",
                        found
                            .iter()
                            .map(|n| format!("{snap}:{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    };
    Ok(format!("{snap}:{name}"))
}

/// What `connect` or `disconnect` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// The connections made or removed (`PLUG SLOT`), empty when there was
    /// nothing to do.
    pub connections: Vec<(String, String)>,
    /// What could not be applied at once (a running snap's namespace that
    /// had to be discarded instead of updated).
    pub warnings: Vec<String>,
}

/// `snapcell connect SNAP:PLUG [SNAP[:SLOT]]`: check that the plug is
/// declared, its interface supported and the slot fits, record the
/// connection, rewrite the plug snap's policies for its next launch and
/// update its running namespace now. Connecting again is a no-op.
pub fn connect(plug: &str, slot: Option<&str>) -> Result<Changed, String> {
    let (snap, plug_name) = split_plug(plug, "connect")?;
    let mut changed = Changed::default();
    crate::manage::change_connections(std::slice::from_ref(&snap), |journal, state| {
        let (info, revision) = crate::security::current_info(state, &snap)?;
        let p = plugs(&info)
            .remove(&plug_name)
            .ok_or_else(|| format!("snap {snap:?} has no plug named {plug_name:?}"))?;
        if find(&p.interface).is_none() {
            return Err(format!(
                "cannot connect {snap}:{plug_name}: snapcell does not support the {:?} interface \
                 (supported: {})",
                p.interface,
                INTERFACES
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let slot_ref = resolve_slot(state, &info, &plug_name, &p, slot)?;
        let plug_ref = format!("{snap}:{plug_name}");
        if state
            .connections
            .get(&plug_ref)
            .is_some_and(|c| c.slot == slot_ref)
        {
            return Ok(());
        }
        state.connections.insert(
            plug_ref.clone(),
            Connection {
                interface: p.interface.clone(),
                slot: slot_ref.clone(),
                manual: true,
            },
        );
        state.undesired.remove(&plug_ref);
        // The interface hooks, in snapd's order around the connection.
        let (slot_snap, slot_name) = split_ref(&slot_ref);
        interface_hook(journal, state, &snap, &format!("prepare-plug-{plug_name}"))?;
        interface_hook(
            journal,
            state,
            slot_snap,
            &format!("prepare-slot-{slot_name}"),
        )?;
        changed.warnings = apply(journal, state, &[(info, revision)])?;
        interface_hook(
            journal,
            state,
            slot_snap,
            &format!("connect-slot-{slot_name}"),
        )?;
        interface_hook(journal, state, &snap, &format!("connect-plug-{plug_name}"))?;
        changed.connections = vec![(plug_ref, slot_ref)];
        Ok(())
    })?;
    Ok(changed)
}

/// Connections as (`SNAP:PLUG`, `SNAP:SLOT`) pairs.
type Pairs = Vec<(String, String)>;

/// `snapcell disconnect SNAP:PLUG [SNAP[:SLOT]]` (or `SNAP:SLOT`: every
/// plug connected to that slot): forget the connections, keep the plugs
/// from connecting by themselves again, rewrite the plug snaps' policies
/// and update their running namespaces.
pub fn disconnect(plug: &str, slot: Option<&str>) -> Result<Changed, String> {
    let (snap, name) = split_plug(plug, "disconnect")?;
    let snap = match snap.as_str() {
        "snapd" | "core" => SYSTEM.to_owned(),
        s => s.to_owned(),
    };
    let this = format!("{snap}:{name}");
    let (want_snap, want_slot) = parse_slot_arg(slot);
    let matches_slot = |s: &str| {
        let (ss, sn) = split_ref(s);
        want_snap.is_none_or(|w| w == ss) && want_slot.is_none_or(|w| w == sn)
    };
    // The connections it removes and the snaps whose files change, from
    // the state as it is: the journal records the snaps before it starts.
    let gone_in = |state: &State| -> Result<(Pairs, Vec<String>), String> {
        if snap != SYSTEM && !state.snaps.contains_key(&snap) {
            return Err(format!("snap {snap:?} is not installed"));
        }
        let gone: Vec<(String, String)> = state
            .connections
            .iter()
            .filter(|(p, c)| {
                (**p == this && matches_slot(&c.slot)) || (slot.is_none() && c.slot == this)
            })
            .map(|(p, c)| (p.clone(), c.slot.clone()))
            .collect();
        if gone.is_empty() {
            return Err(format!("cannot disconnect {this}: it is not connected"));
        }
        let mut snaps: Vec<String> = Vec::new();
        for (p, _) in &gone {
            let s = split_ref(p).0.to_owned();
            if !snaps.contains(&s) {
                snaps.push(s);
            }
        }
        Ok((gone, snaps))
    };
    let (_, snaps) = gone_in(&crate::manage::read_state()?)?;
    let mut changed = Changed::default();
    crate::manage::change_connections(&snaps, |journal, state| {
        let (gone, now) = gone_in(state)?;
        if now != snaps {
            return Err(format!(
                "cannot disconnect {this}: its connections changed meanwhile; try again"
            ));
        }
        // The interface hooks first, in snapd's order; a failing one keeps
        // the connection.
        for (p, slot) in &gone {
            let (ps, pn) = split_ref(p);
            let (ss, sn) = split_ref(slot);
            interface_hook(journal, state, ss, &format!("disconnect-slot-{sn}"))?;
            interface_hook(journal, state, ps, &format!("disconnect-plug-{pn}"))?;
        }
        for (p, _) in &gone {
            state.connections.remove(p);
            state.undesired.insert(p.clone());
        }
        let mut infos = Vec::new();
        for s in &snaps {
            infos.push(crate::security::current_info(state, s)?);
        }
        changed.warnings = apply(journal, state, &infos)?;
        changed.connections = gone;
        Ok(())
    })?;
    Ok(changed)
}

/// Run the interface hook `hook` of installed snap `snap` (none for the
/// system's slots, nor where the snap has no such hook) as a step of the
/// change's journal.
fn interface_hook(
    journal: &mut crate::state::Journal<'_>,
    state: &State,
    snap: &str,
    hook: &str,
) -> Result<(), String> {
    if snap == SYSTEM {
        return Ok(());
    }
    let (info, revision) = crate::security::current_info(state, snap)?;
    if !info.hooks.contains_key(hook) {
        return Ok(());
    }
    let base = state
        .snaps
        .get(snap)
        .and_then(|s| s.current_revision())
        .map(|r| r.base.clone())
        .unwrap_or_default();
    journal.step(&format!("hook-{hook}"), || {
        crate::run::run_hook(&info, &revision, &base, hook)
    })
}

/// Rewrite the policies of `snaps` for `state`, then update their running
/// namespaces: two steps of the change's journal (on a failure or a crash,
/// the journal's undo writes the policies from the connections before the
/// change again and discards the namespaces).
fn apply(
    journal: &mut crate::state::Journal<'_>,
    state: &State,
    snaps: &[(SnapInfo, String)],
) -> Result<Vec<String>, String> {
    journal.step("security", || {
        for (info, rev) in snaps {
            crate::security::write_security(info, rev, state)?;
        }
        Ok(())
    })?;
    journal.step("update-namespace", || {
        Ok(snaps
            .iter()
            .filter_map(|(info, _)| update_namespace(&info.name))
            .collect())
    })
}

/// Apply a snap's new desired mount profile to its preserved namespace, if
/// it has one, with snap-update-ns (as snapd does after writing profiles);
/// where that fails, discard the namespace so the next launch builds it
/// afresh. Returns what happened when it was not a plain update.
pub fn update_namespace(name: &str) -> Option<String> {
    let ns = snapcell_core::dirs::Dirs::HOST.preserved_ns(name);
    if !std::path::Path::new(&ns).exists() {
        return None;
    }
    let Err(e) = crate::helpers::run_helper("snap-update-ns", &[std::ffi::OsStr::new(name)]) else {
        return None;
    };
    Some(match crate::manage::discard_namespace(name) {
        Ok(()) => format!(
            "cannot update the namespace of snap {name:?} ({e}): discarded, the next launch builds it"
        ),
        Err(d) => format!("cannot update the namespace of snap {name:?} ({e}); {d}"),
    })
}

/// After provider `name` changed revision or went away: rewrite the
/// policies of the snaps whose plugs are connected to its slots (or, when
/// it is gone, of `gone_consumers`), so their content entries follow it, and
/// update their running namespaces. Best effort: the provider's change is
/// done; what fails is said on stderr as a warning.
pub fn rewrite_consumers(state: &State, name: &str, gone_consumers: &[String]) {
    let mut consumers = state.consumers_of(name);
    consumers.extend(gone_consumers.iter().cloned());
    for consumer in consumers {
        let result = crate::security::current_info(state, &consumer)
            .and_then(|(info, rev)| crate::security::write_security(&info, &rev, state));
        match result {
            Ok(()) => {
                if let Some(w) = update_namespace(&consumer) {
                    eprintln!("warning: {w}");
                }
            }
            Err(e) => eprintln!("warning: cannot rewrite the policies of snap {consumer:?}: {e}"),
        }
    }
}

/// One row of `connections`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionRow {
    pub interface: String,
    /// `SNAP:PLUG`, `-` for a slot nothing is connected to.
    pub plug: String,
    /// `SNAP:SLOT`, `:INTERFACE` for the system's, `-` for a plug that is
    /// not connected.
    pub slot: String,
    /// `manual` for connections made with `connect`, `-` otherwise.
    pub notes: String,
}

fn shown_slot(slot: &str) -> String {
    match split_ref(slot) {
        (SYSTEM, s) => format!(":{s}"),
        _ => slot.to_owned(),
    }
}

/// The rows of `connections [NAME]`: every connection, or `name`'s
/// connected and unconnected plugs and slots; with `all`, every snap's
/// unconnected plugs and slots too. Sorted by interface, plug, slot.
pub fn connection_rows(
    state: &State,
    name: Option<&str>,
    all: bool,
) -> Result<Vec<ConnectionRow>, String> {
    if let Some(n) = name
        && !state.snaps.contains_key(n)
        && n != SYSTEM
    {
        return Err(format!("snap {n:?} is not installed"));
    }
    let mut rows = Vec::new();
    let involves = |r: &str| name.is_none_or(|n| split_ref(r).0 == n);
    for (plug, c) in &state.connections {
        if involves(plug) || involves(&c.slot) {
            rows.push(ConnectionRow {
                interface: c.interface.clone(),
                plug: plug.clone(),
                slot: shown_slot(&c.slot),
                notes: if c.manual { "manual" } else { "-" }.to_owned(),
            });
        }
    }
    if name.is_some() || all {
        for snap in state.snaps.keys() {
            if name.is_some_and(|n| n != snap) {
                continue;
            }
            let Ok((info, _)) = crate::security::current_info(state, snap) else {
                continue;
            };
            for (p, pi) in plugs(&info) {
                let r = format!("{snap}:{p}");
                if !state.connections.contains_key(&r) {
                    rows.push(ConnectionRow {
                        interface: pi.interface.clone(),
                        plug: r,
                        slot: "-".into(),
                        notes: "-".into(),
                    });
                }
            }
            for (s, si) in slots(&info) {
                let r = format!("{snap}:{s}");
                if !state.connections.values().any(|c| c.slot == r) {
                    rows.push(ConnectionRow {
                        interface: si.interface.clone(),
                        plug: "-".into(),
                        slot: r,
                        notes: "-".into(),
                    });
                }
            }
        }
    }
    rows.sort_by(|a, b| (&a.interface, &a.plug, &a.slot).cmp(&(&b.interface, &b.plug, &b.slot)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(yaml: &str) -> SnapInfo {
        SnapInfo::parse(yaml).unwrap()
    }

    #[test]
    fn one_row_per_interface_with_its_policy() {
        for name in [
            "home",
            "network",
            "network-bind",
            "network-observe",
            "removable-media",
            "audio-playback",
            "camera",
            "opengl",
            "x11",
            "wayland",
            "desktop",
            "content",
        ] {
            let row = find(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(row.grants.is_some(), name != "content", "{name}");
            assert_eq!(row.seccomp.is_some(), name != "content", "{name}");
            if let Some(s) = row.seccomp {
                assert_eq!(s.name(), name);
            }
        }
        assert_eq!(INTERFACES.len(), 12);
        let auto: Vec<&str> = INTERFACES
            .iter()
            .filter(|r| r.auto_connect == AutoConnect::Yes)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            auto,
            [
                "home",
                "network",
                "network-bind",
                "audio-playback",
                "opengl",
                "x11",
                "wayland",
                "desktop"
            ]
        );
        assert!(find("bluez").is_none());
    }

    const PRODUCER: &str = "name: producer\nversion: '1'\nslots:\n  shared:\n    interface: content\n    content: things\n    read: [$SNAP/lib, share]\n    write: [$SNAP_DATA/out]\n  src:\n    interface: content\n    source:\n      read: [$SNAP/a/themes]\n";
    const CONSUMER: &str = "name: consumer\nversion: '1'\nplugs:\n  things:\n    interface: content\n    target: $SNAP/content\n    default-provider: producer:shared\n  themes:\n    interface: content\n    content: src\n    target: $SNAP_DATA/themes\n  net:\n    interface: network\napps:\n  app:\n    command: bin/app\n    plugs: [home, camera]\n";

    #[test]
    fn content_paths_and_entries() {
        let p = info(PRODUCER);
        let c = info(CONSUMER);
        let slots = slots(&p);
        let (read, write, source) = content_slot_paths("producer", "x2", &slots["shared"].attrs);
        assert_eq!(read, ["/snap/producer/x2/lib", "/snap/producer/x2/share"]);
        assert_eq!(write, ["/var/snap/producer/x2/out"]);
        assert!(!source);
        let plugs = plugs(&c);
        let entries =
            content_mount_entries("consumer", "x1", &plugs["things"], &read, &write, source)
                .unwrap();
        let text: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "/snap/producer/x2/lib /snap/consumer/x1/content none bind,ro 0 0",
                "/snap/producer/x2/share /snap/consumer/x1/content none bind,ro 0 0",
                "/var/snap/producer/x2/out /snap/consumer/x1/content none bind 0 0",
            ]
        );
        let (read, write, source) = content_slot_paths("producer", "x2", &slots["src"].attrs);
        assert!(source && write.is_empty());
        let entries =
            content_mount_entries("consumer", "x1", &plugs["themes"], &read, &write, source)
                .unwrap();
        assert_eq!(
            entries[0].to_string(),
            "/snap/producer/x2/a/themes /var/snap/consumer/x1/themes/themes none bind,ro 0 0"
        );
        // Implicit plugs named by apps.
        assert_eq!(plugs["home"].interface, "home");
        assert_eq!(plugs["camera"].interface, "camera");
    }

    #[test]
    fn auto_connect_follows_the_table_and_default_providers() {
        let p = info(PRODUCER);
        let c = info(CONSUMER);
        let mut state = State::default();
        state.snaps.insert("consumer".into(), Default::default());
        // The provider is not installed: only the system's slots.
        auto_connect(&mut state, &c, &|_| None);
        let keys: Vec<&String> = state.connections.keys().collect();
        assert_eq!(keys, ["consumer:home", "consumer:net"]);
        assert_eq!(state.connections["consumer:home"].slot, "system:home");
        assert!(!state.connections["consumer:home"].manual);
        // Installed: the plug with a default provider is connected.
        let pp = p.clone();
        auto_connect(&mut state, &c, &|n| (n == "producer").then(|| pp.clone()));
        assert_eq!(state.connections["consumer:things"].slot, "producer:shared");
        // "themes" has no default provider: not connected.
        assert!(!state.connections.contains_key("consumer:themes"));
        // What the consumer's connections add.
        let got = connected(&state, &c, "x1", &|n| {
            assert_eq!(n, "producer");
            Ok((p.clone(), "x2".into()))
        })
        .unwrap();
        assert_eq!(got.interfaces, ["content", "home", "network"]);
        assert_eq!(got.mounts.len(), 3);
        assert!(
            got.grants.contains("\"/snap/producer/x2/lib/**\" rix,"),
            "{}",
            got.grants
        );
        assert!(got.grants.contains("owner @{HOME}/[^s.]** rwl,"));
        // x11 binds the host's X sockets (where there are any).
        state.connections.insert(
            "consumer:x".into(),
            Connection {
                interface: "x11".into(),
                slot: "system:x11".into(),
                manual: true,
            },
        );
        let mut c2 = c.clone();
        c2.plugs.insert(
            "x".into(),
            PlugInfo {
                interface: "x11".into(),
                ..PlugInfo::default()
            },
        );
        let got = connected(&state, &c2, "x1", &|_| Ok((p.clone(), "x2".into()))).unwrap();
        assert!(
            got.mounts.iter().any(|m| m.to_string()
                == "/var/lib/snapd/hostfs/tmp/.X11-unix /tmp/.X11-unix none bind,ro,x-snapd.ignore-missing 0 0"),
            "{:?}",
            got.mounts
        );
        assert!(got.seccomp.contains(&Interface::X11));
        // The provider installed after the consumer: the consumer's plug
        // that waits for it is connected then, unless the user
        // disconnected it.
        for undesired in [false, true] {
            let mut state = State::default();
            state.snaps.insert("consumer".into(), Default::default());
            auto_connect(&mut state, &c, &|_| None);
            assert!(!state.connections.contains_key("consumer:things"));
            if undesired {
                state.undesired.insert("consumer:things".into());
            }
            state.snaps.insert("producer".into(), Default::default());
            let cc = c.clone();
            auto_connect(&mut state, &p, &|n| (n == "consumer").then(|| cc.clone()));
            assert_eq!(
                state
                    .connections
                    .get("consumer:things")
                    .map(|c| c.slot.as_str()),
                (!undesired).then_some("producer:shared"),
                "undesired: {undesired}"
            );
            assert!(!state.connections.contains_key("consumer:themes"));
        }
        // An undesired plug stays disconnected.
        let mut state = State::default();
        state.undesired.insert("consumer:home".into());
        auto_connect(&mut state, &c, &|_| None);
        assert!(!state.connections.contains_key("consumer:home"));
    }
}
