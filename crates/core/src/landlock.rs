//! Landlock policy, pure: which paths get which access rights, which TCP
//! rights and which scopes, for a snap's app. `snapcell_sys::landlock`
//! enforces it.
//!
//! The policy is always translated from an AppArmor profile
//! ([`crate::apparmor`]): the one snapd wrote for the app, or, where snapd
//! wrote none, snapcell's own default grants plus the grants of the snap's
//! connected interfaces ([`default_profile`]), written in the same
//! language so that both go through one translation.
//!
//! # Translation
//!
//! Landlock grants rights on inode hierarchies; it has no globs, no deny
//! rules, no `owner`. Each expanded path of an allow rule becomes:
//! * a literal path: a rule on it (file rights for a file, directory
//!   listing for a path ending in `/`; a directory listing in Landlock
//!   reaches every directory beneath, a widening that is noted);
//! * `DIR/**`: a rule on `DIR`;
//! * `DIR/GLOB` or `DIR/GLOB/**` (one globbed component at the end, as in
//!   the home interface's `@{HOME}/[^s.]**`): one rule per entry of `DIR`
//!   that exists now and matches, skipping entries a deny rule names;
//! * any other glob (mid-path, as `@{PROC}/@{pid}/stat`): widened to the
//!   nearest literal directory before the glob, never to `/` (such a rule
//!   is dropped). Every widening is listed in [`Policy::notes`].
//!
//! `owner` rules under `@{HOME}` are read as the calling user's own home;
//! other `owner` conditions are left to DAC. Deny rules cannot be
//! expressed and are listed. `network` rules for `inet`/`inet6` streams
//! give TCP connect and bind on every port; without one the app has no TCP
//! at all. Abstract UNIX sockets and signals are scoped to the domain
//! unless the profile allows them beyond the snap.

use std::collections::{BTreeMap, BTreeSet};

use crate::apparmor::{self, FilePerms, Rule};

/// Landlock's file-system access rights (the kernel's bit values).
pub mod access {
    pub const EXECUTE: u64 = 1 << 0;
    pub const WRITE_FILE: u64 = 1 << 1;
    pub const READ_FILE: u64 = 1 << 2;
    pub const READ_DIR: u64 = 1 << 3;
    pub const REMOVE_DIR: u64 = 1 << 4;
    pub const REMOVE_FILE: u64 = 1 << 5;
    pub const MAKE_CHAR: u64 = 1 << 6;
    pub const MAKE_DIR: u64 = 1 << 7;
    pub const MAKE_REG: u64 = 1 << 8;
    pub const MAKE_SOCK: u64 = 1 << 9;
    pub const MAKE_FIFO: u64 = 1 << 10;
    pub const MAKE_BLOCK: u64 = 1 << 11;
    pub const MAKE_SYM: u64 = 1 << 12;
    pub const REFER: u64 = 1 << 13;
    pub const TRUNCATE: u64 = 1 << 14;
    pub const IOCTL_DEV: u64 = 1 << 15;
    /// The rights that apply to a file (not a directory).
    pub const FILE: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
    /// What AppArmor's `w` becomes.
    pub const WRITE: u64 = WRITE_FILE
        | TRUNCATE
        | MAKE_REG
        | MAKE_DIR
        | MAKE_SYM
        | MAKE_SOCK
        | MAKE_FIFO
        | REMOVE_FILE
        | REMOVE_DIR
        | REFER;
}

/// How a path rule is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The path and everything beneath it.
    Beneath,
    /// A file named literally: not granted if it is a directory.
    File,
    /// A directory named literally with a trailing `/`: listing only.
    Dir,
}

/// What the policy grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Path → rights, by how the path was meant.
    pub paths: BTreeMap<(String, Target), u64>,
    /// TCP connect to every port.
    pub tcp_connect: bool,
    /// TCP bind to every port.
    pub tcp_bind: bool,
    /// Abstract UNIX sockets only within the domain (ABI 6).
    pub scope_abstract_unix: bool,
    /// Signals only within the domain (ABI 6).
    pub scope_signal: bool,
    /// Widenings, dropped rules, missing includes (for `SNAPD_DEBUG`).
    pub notes: Vec<String>,
}

/// Who the app runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub instance_name: String,
    pub snap_name: String,
    /// `SNAP_REVISION`, if known.
    pub revision: Option<String>,
    /// The calling user's home (for `owner @{HOME}` rules).
    pub home: Option<String>,
    pub uid: u32,
}

/// The directory listings translation needs (only for a globbed last
/// component).
pub trait FsView {
    /// The names in `dir`, or `None` if it cannot be read.
    fn list_dir(&self, dir: &str) -> Option<Vec<String>>;
}

/// AppArmor's tunables as Debian's `tunables/global` defines them, used
/// where the profile's includes did not define them.
fn default_vars() -> BTreeMap<String, Vec<String>> {
    let mut v = BTreeMap::new();
    let mut set = |k: &str, vals: &[&str]| {
        v.insert(k.to_owned(), vals.iter().map(|s| (*s).to_owned()).collect());
    };
    set("HOMEDIRS", &["/home/"]);
    set("HOME", &["@{HOMEDIRS}/*/", "/root/"]);
    set("PROC", &["/proc/"]);
    set("sys", &["/sys/"]);
    set("run", &["/run/", "/var/run/"]);
    set("pid", &["{[1-9],[1-9][0-9]*}"]);
    set("pids", &["{[1-9],[1-9][0-9]*}"]);
    set("tid", &["@{pid}"]);
    set("multiarch", &["*-linux-gnu*"]);
    set("etc_ro", &["/etc/"]);
    set("etc_rw", &["/etc/"]);
    set("INSTALL_DIR", &["/{,var/lib/snapd/}snap"]);
    v
}

/// Translate `profile` for `ctx`.
pub fn translate(profile: &apparmor::Profile, ctx: &Context, fs: &dyn FsView) -> Policy {
    let mut vars = default_vars();
    for (k, val) in &profile.vars {
        vars.insert(k.clone(), val.clone());
    }
    let mut common = BTreeMap::new();
    common.insert("SNAP_NAME".to_owned(), vec![ctx.snap_name.clone()]);
    common.insert(
        "SNAP_INSTANCE_NAME".to_owned(),
        vec![ctx.instance_name.clone()],
    );
    if let Some(rev) = &ctx.revision {
        common.insert("SNAP_REVISION".to_owned(), vec![rev.clone()]);
    }
    common.insert("UID".to_owned(), vec![ctx.uid.to_string()]);
    // AppArmor's own name for the profile being compiled (abstractions/base
    // says `signal peer=@{profile_name}`): one of the snap's, so the app's own.
    common.insert(
        "profile_name".to_owned(),
        vec![format!("snap.{}.*", ctx.instance_name)],
    );
    // Profile values win over ours for the snap's own variables.
    for k in ["SNAP_NAME", "SNAP_INSTANCE_NAME", "SNAP_REVISION"] {
        if let Some(val) = profile.vars.get(k) {
            common.insert(k.to_owned(), val.clone());
        }
    }
    let mut owner_vars = common.clone();
    if let Some(home) = &ctx.home {
        owner_vars.insert("HOME".to_owned(), vec![home.clone()]);
    }

    let mut policy = Policy {
        scope_abstract_unix: true,
        scope_signal: true,
        ..Policy::default()
    };
    for inc in &profile.missing_includes {
        policy
            .notes
            .push(format!("include <{inc}> is missing on this host: skipped"));
    }
    for u in &profile.unreadable {
        policy.notes.push(format!("not translated: {u}"));
    }

    // Literal directories named by deny rules: left out of enumerations.
    let mut denied = BTreeSet::new();
    for rule in &profile.rules {
        if let Rule::File(f) = rule
            && f.deny
        {
            policy.notes.push(format!(
                "deny rule not expressible in Landlock: {} (granted where an allow rule covers it)",
                f.path
            ));
            // The caller's home for every deny rule: the narrowest reading.
            if let Ok(alts) = apparmor::expand(&f.path, &vars, &owner_vars) {
                for a in alts {
                    if !has_glob(&a) {
                        denied.insert(a.trim_end_matches('/').to_owned());
                    }
                }
            }
        }
    }

    let own_label = format!("snap.{}.", ctx.instance_name);
    for rule in &profile.rules {
        match rule {
            Rule::File(f) if !f.deny => {
                let over = if f.owner { &owner_vars } else { &common };
                match apparmor::expand(&f.path, &vars, over) {
                    Ok(alts) => {
                        for alt in alts {
                            add_path(&mut policy, &alt, f.perms, ctx.uid, fs, &denied);
                        }
                    }
                    Err(e) => policy
                        .notes
                        .push(format!("rule {} not granted: {e}", f.path)),
                }
            }
            Rule::File(_) => {}
            Rule::Network { deny: false, words } => {
                let inet = words.is_empty() || words.iter().any(|w| w == "inet" || w == "inet6");
                let kinds = ["stream", "dgram", "raw", "seqpacket", "rdm", "packet"];
                let typed = words.iter().any(|w| {
                    kinds.contains(&w.as_str()) || w == "tcp" || w == "udp" || w == "icmp"
                });
                let stream = !typed || words.iter().any(|w| w == "stream" || w == "tcp");
                if inet && stream {
                    policy.tcp_connect = true;
                    policy.tcp_bind = true;
                }
            }
            Rule::Unix { deny: false, text } if unix_beyond(text, &vars, &common, &own_label) => {
                policy.scope_abstract_unix = false;
            }
            Rule::Signal { deny: false, text }
                if signal_send_beyond(text, &vars, &common, &own_label) =>
            {
                policy.scope_signal = false;
            }
            _ => {}
        }
    }
    if !policy.scope_abstract_unix {
        policy.notes.push(
            "abstract UNIX sockets not scoped: the profile allows peers beyond the snap".into(),
        );
    }
    if !policy.scope_signal {
        policy
            .notes
            .push("signals not scoped: the profile allows sending beyond the snap".into());
    }
    policy
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn rights(perms: FilePerms, dir_only: bool) -> u64 {
    use access::*;
    if dir_only {
        return if perms.read { READ_DIR } else { 0 };
    }
    let mut r = 0;
    if perms.read {
        r |= READ_FILE | READ_DIR | IOCTL_DEV;
    }
    if perms.write {
        r |= WRITE | IOCTL_DEV;
    }
    if perms.link {
        r |= REFER;
    }
    if perms.exec {
        r |= EXECUTE;
    }
    r
}

fn grant(policy: &mut Policy, path: String, target: Target, r: u64) {
    if r != 0 {
        *policy.paths.entry((path, target)).or_default() |= r;
    }
}

fn add_path(
    policy: &mut Policy,
    alt: &str,
    perms: FilePerms,
    uid: u32,
    fs: &dyn FsView,
    denied: &BTreeSet<String>,
) {
    if !alt.starts_with('/') {
        policy
            .notes
            .push(format!("rule {alt} not granted: not absolute"));
        return;
    }
    let dir_only = alt.ends_with('/');
    let r = rights(perms, dir_only);
    if r == 0 {
        return;
    }
    // The snap's runtime directory is the caller's: `/run/user/[0-9]*/`
    // is read as `/run/user/UID/`.
    let alt = match alt.strip_prefix("/run/user/[0-9]*/") {
        Some(rest) => format!("/run/user/{uid}/{rest}"),
        None => alt.to_owned(),
    };
    let alt = alt.as_str();
    let segs = split_segments(alt[1..].trim_end_matches('/'));
    let Some(i) = segs.iter().position(|s| has_glob(s)) else {
        let path = normal(alt);
        if dir_only && path == "/" {
            // A listing right on `/` would reach every directory of the
            // system (Landlock's READ_DIR covers the hierarchy): narrowed
            // to nothing. Rules beneath grant their own listings.
            policy.notes.push(format!(
                "{alt}: narrowed: the listing of / is not granted (it would reach every directory)"
            ));
            return;
        }
        if dir_only {
            if r & access::READ_DIR != 0 {
                policy.notes.push(format!(
                    "{alt}: directory listing widened to every directory beneath {path}"
                ));
            }
            grant(policy, path, Target::Dir, r);
        } else {
            grant(policy, path, Target::File, r & access::FILE);
        }
        return;
    };
    let dir = format!("/{}", segs[..i].join("/"));
    let rest = &segs[i..];
    let glob = rest[0];
    if rest.len() == 1 && glob == "**" {
        grant(policy, dir, Target::Beneath, r);
        return;
    }
    let last_component = rest.len() == 1 || (rest.len() == 2 && rest[1] == "**");
    if last_component && dir != "/proc" && dir != "/" {
        // One globbed component at the end: the entries that exist now.
        let beneath = rest.len() == 2 || glob.ends_with("**");
        let Some(names) = fs.list_dir(&dir) else {
            return;
        };
        for name in names {
            if !apparmor::glob_match(glob, &name) {
                continue;
            }
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            if denied.contains(&path) {
                policy
                    .notes
                    .push(format!("{alt}: {path} left out (a deny rule names it)"));
                continue;
            }
            if beneath {
                grant(policy, path, Target::Beneath, r);
            } else if dir_only {
                grant(policy, path, Target::Dir, r);
            } else {
                grant(policy, path, Target::File, r & access::FILE);
            }
        }
        return;
    }
    if dir == "/" {
        policy
            .notes
            .push(format!("{alt}: not granted (it would widen to /)"));
        return;
    }
    // Kernel interfaces: a widened rule reads, never writes (a write to
    // `@{PROC}/@{pid}/fd/N` must not become one to all of `/proc`).
    let kernel = ["/proc", "/sys"]
        .iter()
        .any(|k| dir == *k || dir.starts_with(&format!("{k}/")));
    let r = if kernel {
        r & (access::READ_FILE | access::READ_DIR)
    } else {
        r
    };
    policy.notes.push(format!(
        "{alt}: widened to {dir} (glob mid-path){}",
        if kernel { ", read only" } else { "" }
    ));
    grant(policy, dir, Target::Beneath, r);
}

/// `a/b[^/]c/d` → `a`, `b[^/]c`, `d`: a `/` inside a character class does
/// not separate components.
fn split_segments(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_class) = (0, false);
    for (i, c) in p.char_indices() {
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            '/' if !in_class => {
                out.push(&p[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&p[start..]);
    out
}

fn normal(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/".into() } else { t.into() }
}

/// The value of `key=` in a rule's text (quotes and a `(...)` group kept
/// as written).
fn cond<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("{key}="))?;
    let v = &text[at + key.len() + 1..];
    let end = v.find([' ', ')', ',']).unwrap_or(v.len());
    Some(v[..end].trim_matches('"'))
}

fn label_is_own(
    label: &str,
    vars: &BTreeMap<String, Vec<String>>,
    over: &BTreeMap<String, Vec<String>>,
    own: &str,
) -> bool {
    match apparmor::expand(label, vars, over) {
        Ok(alts) => !alts.is_empty() && alts.iter().all(|a| a.starts_with(own)),
        Err(_) => false,
    }
}

fn unix_beyond(
    text: &str,
    vars: &BTreeMap<String, Vec<String>>,
    over: &BTreeMap<String, Vec<String>>,
    own: &str,
) -> bool {
    // An access list without connect or send (`unix (create)`, `unix
    // (getattr, getopt, setopt, shutdown)`, `unix (bind, listen) ...`,
    // `unix (receive) peer=...`): nothing the scope restricts.
    if let Some(list) = access_list(text)
        && !list
            .iter()
            .any(|a| matches!(*a, "connect" | "send" | "w" | "rw" | "write"))
    {
        return false;
    }
    if let Some(addr) = cond(text, "addr") {
        if !addr.starts_with('@') {
            return false; // pathname sockets: file rules
        }
        let own_addr = format!("@{own}");
        return !label_is_own(addr, vars, over, &own_addr);
    }
    if let Some(label) = cond(text, "label") {
        return !label_is_own(label, vars, over, own);
    }
    // `unix (...)` with neither: any peer.
    !text.contains("type=dgram") || text.contains("connect") || text.contains("send")
}

/// The `(a, b, ...)` access list right after a rule's keyword, if any.
fn access_list(text: &str) -> Option<Vec<&str>> {
    let list = text.trim().strip_prefix('(')?.split(')').next()?;
    Some(list.split([',', ' ']).filter(|s| !s.is_empty()).collect())
}

fn signal_send_beyond(
    text: &str,
    vars: &BTreeMap<String, Vec<String>>,
    over: &BTreeMap<String, Vec<String>>,
    own: &str,
) -> bool {
    let t = text.trim();
    if let Some(list) = t.strip_prefix('(') {
        let list = list.split(')').next().unwrap_or("");
        if !list.contains("send") {
            return false;
        }
    } else if t.starts_with("receive") {
        return false;
    }
    // `set=("exists")` (abstractions/base): signal 0 only. Under the scope
    // it fails with EPERM, which still tells the app the process exists.
    if let Some(at) = t.find("set=") {
        let v = &t[at + 4..];
        let set = match v.strip_prefix('(') {
            Some(group) => group.split(')').next().unwrap_or(""),
            None => v.split([' ', ',']).next().unwrap_or(""),
        };
        if set
            .split([',', ' '])
            .map(|s| s.trim_matches('"'))
            .filter(|s| !s.is_empty())
            .all(|s| s == "exists")
        {
            return false;
        }
    }
    match cond(t, "peer") {
        Some(peer) => !label_is_own(peer, vars, over, own),
        None => true,
    }
}

/// snapcell's own grants for a strict app where snapd wrote no profile,
/// as an AppArmor profile (our own rules, in snapd's variables): read and
/// execute of the base and the snap, read-write of the snap's data
/// directories, the private `/tmp`, `/dev/shm`, the snap's runtime
/// directory, plus each interface in `interfaces` this knows
/// ([`interface_grants`]). Returns the text and the interfaces it has no
/// grants for.
pub fn default_profile(interfaces: &[String]) -> (String, Vec<String>) {
    let mut text = String::from("profile snapcell-default {\n");
    text.push_str(DEFAULT_GRANTS);
    let mut unknown = Vec::new();
    let mut seen = BTreeSet::new();
    for iface in interfaces {
        match interface_grants(iface) {
            Some(grants) => {
                if seen.insert(grants) {
                    text.push_str(grants);
                }
            }
            None => unknown.push(iface.clone()),
        }
    }
    text.push_str("}\n");
    (text, unknown)
}

/// The grants a connected plug of interface `name` adds, as profile rules
/// (our own, in snapd's variables), for the interfaces whose grants depend
/// on nothing but the connection: home, network, network-bind,
/// network-observe, removable-media, audio-playback, camera, opengl, x11,
/// wayland and desktop. `None` for any other (content's grants depend on
/// the slot: [`content_grants`]).
pub fn interface_grants(name: &str) -> Option<&'static str> {
    Some(match name {
        "home" => HOME_GRANTS,
        "network" | "network-bind" => NETWORK_GRANTS,
        "network-observe" => NETWORK_OBSERVE_GRANTS,
        "removable-media" => REMOVABLE_MEDIA_GRANTS,
        "audio-playback" => AUDIO_PLAYBACK_GRANTS,
        "camera" => CAMERA_GRANTS,
        "opengl" => OPENGL_GRANTS,
        "x11" => X11_GRANTS,
        "wayland" => WAYLAND_GRANTS,
        "desktop" => DESKTOP_GRANTS,
        _ => return None,
    })
}

/// The grants of a content plug connected to a slot sharing `read` and
/// `write` (the slot's paths, expanded for the slot's snap): read and
/// execute beneath each read path, read-write beneath each write path, so
/// that the app reaches the files through the bind mount at the plug's
/// target and at their own path.
pub fn content_grants(read: &[String], write: &[String]) -> String {
    let mut text = String::from("  # content: the slot's shared directories.\n");
    for r in read {
        text.push_str(&format!("  \"{}/**\" rix,\n", r.trim_end_matches('/')));
    }
    for w in write {
        text.push_str(&format!("  \"{}/**\" rwlix,\n", w.trim_end_matches('/')));
    }
    text
}

/// What a layout item mounts at its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutKind {
    Bind,
    BindFile,
    Tmpfs,
    Symlink,
}

/// The grants for a layout item at `path` (expanded): read-write of the
/// directory and everything beneath for `bind` and `type: tmpfs`,
/// read-write of the file for `bind-file` (as snapd's layout rules allow
/// the layout's path), nothing for a symlink (reading a link is not
/// mediated by Landlock; its target keeps the rights of its own path).
pub fn layout_grants(path: &str, kind: LayoutKind) -> String {
    let path = path.trim_end_matches('/');
    match kind {
        LayoutKind::Bind | LayoutKind::Tmpfs => {
            format!("  # layout {path}\n  \"{path}/\" r,\n  \"{path}/**\" rwlix,\n")
        }
        LayoutKind::BindFile => format!("  # layout {path}\n  \"{path}\" rwlix,\n"),
        LayoutKind::Symlink => format!("  # layout {path}: a symbolic link, no rights needed\n"),
    }
}

/// The variables a profile for one security tag starts with, as snapd's
/// profiles do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileVars {
    pub snap_name: String,
    pub instance_name: String,
    /// The app's name, or `hook.HOOK`.
    pub command_name: String,
    pub revision: String,
}

/// A security tag in D-Bus's object path escaping, as snapd's
/// `@{PROFILE_DBUS}` (`snap.a-b.c` → `snap_2ea_2db_2ec`).
pub fn dbus_escape(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len() * 2);
    for b in tag.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// The whole profile of security tag `tag` (`snap.NAME.APP`): snapd's
/// variable header, then a `profile "TAG"` block holding
/// [`DEFAULT_GRANTS`] and `grants` (interfaces, layouts). What
/// snap-confine reads from `/var/lib/snapd/apparmor/profiles/TAG` and
/// translates exactly as it translates snapd's.
pub fn snap_profile(tag: &str, vars: &ProfileVars, grants: &str) -> String {
    let mut text = String::new();
    text.push_str("# Written by snapcell: the snap's own grants and its connections' (not snapd's template).\n");
    text.push_str("#include if exists <tunables/global>\n");
    for (k, v) in [
        ("SNAP_NAME", vars.snap_name.as_str()),
        ("SNAP_INSTANCE_NAME", vars.instance_name.as_str()),
        ("SNAP_COMMAND_NAME", vars.command_name.as_str()),
        ("SNAP_REVISION", vars.revision.as_str()),
    ] {
        text.push_str(&format!("@{{{k}}}=\"{v}\"\n"));
    }
    text.push_str(&format!("@{{PROFILE_DBUS}}=\"{}\"\n", dbus_escape(tag)));
    text.push_str("@{INSTALL_DIR}=\"/{,var/lib/snapd/}snap\"\n\n");
    text.push_str(&format!(
        "profile \"{tag}\" flags=(attach_disconnected,mediate_deleted) {{\n"
    ));
    text.push_str(DEFAULT_GRANTS);
    text.push_str(grants);
    text.push_str("}\n");
    text
}

/// The grants every strict app gets (the body of a profile, in snapd's
/// variables). No listing of `/`: a listing right on a directory reaches
/// every directory beneath it.
pub const DEFAULT_GRANTS: &str = r#"  # The base: programs, libraries, read-only data.
  /{,usr/}{,s}bin/** rix,
  /{,usr/}lib{,32,64,x32}/** rix,
  /usr/** rix,
  /opt/** rix,
  /etc/{passwd,group,nsswitch.conf,hosts,host.conf,resolv.conf,gai.conf} r,
  /etc/{ld.so.cache,ld.so.conf,ld.so.preload,localtime,timezone,hostname} r,
  /etc/{machine-id,os-release,lsb-release,mime.types,environment,profile,inputrc} r,
  /etc/{ld.so.conf.d,ssl,ca-certificates,alternatives,default,fonts,xdg,locale.alias}/** r,
  # The snap.
  @{INSTALL_DIR}/@{SNAP_INSTANCE_NAME}/ r,
  @{INSTALL_DIR}/@{SNAP_INSTANCE_NAME}/@{SNAP_REVISION}/** rix,
  /var/snap/@{SNAP_INSTANCE_NAME}/** r,
  /var/snap/@{SNAP_INSTANCE_NAME}/{@{SNAP_REVISION},common}/** rwlix,
  owner @{HOME}/snap/@{SNAP_INSTANCE_NAME}/** r,
  owner @{HOME}/snap/@{SNAP_INSTANCE_NAME}/{@{SNAP_REVISION},common}/** rwlix,
  owner /run/user/@{UID}/snap.@{SNAP_INSTANCE_NAME}/** rwlix,
  /run/snap.@{SNAP_INSTANCE_NAME}/** rwlix,
  /run/lock/snap.@{SNAP_INSTANCE_NAME}/** rwl,
  # The private /tmp and shared memory.
  /tmp/** rwlix,
  /dev/shm/** rwl,
  # Devices (the device cgroup decides which can be opened), processes.
  /dev/ r,
  /dev/{null,zero,full,random,urandom,tty,ptmx} rw,
  /dev/pts/** rw,
  /proc/** r,
  /sys/devices/system/cpu/** r,
  /sys/kernel/mm/transparent_hugepage/** r,
  # Signals and abstract sockets among the snap's own processes.
  signal peer=snap.@{SNAP_INSTANCE_NAME}.*,
  unix addr="@snap.@{SNAP_INSTANCE_NAME}.**",
"#;

const HOME_GRANTS: &str = r#"  # home: the user's non-hidden files, except ~/snap and ~/bin.
  owner @{HOME}/ r,
  owner @{HOME}/[^s.]** rwl,
  owner @{HOME}/s[^n]** rwl,
  owner @{HOME}/sn[^a]** rwl,
  owner @{HOME}/sna[^p]** rwl,
  owner @{HOME}/snap[^/]** rwl,
  owner @{HOME}/snap/ r,
  deny @{HOME}/bin/{,**} wl,
"#;

const NETWORK_GRANTS: &str = r#"  # network, network-bind: name resolution and TCP.
  /etc/{hosts,resolv.conf,host.conf,nsswitch.conf,gai.conf,services,protocols} r,
  /run/systemd/resolve/{resolv.conf,stub-resolv.conf} r,
  network inet stream,
  network inet6 stream,
"#;

const NETWORK_OBSERVE_GRANTS: &str = r#"  # network-observe: the network's state (no TCP of its own).
  /etc/{hosts,services,protocols,networks} r,
  /sys/class/net/ r,
  /sys/class/net/** r,
  /sys/devices/virtual/net/** r,
  /sys/devices/**/net/** r,
  /run/netns/ r,
"#;

const REMOVABLE_MEDIA_GRANTS: &str = r#"  # removable-media.
  /{,run/}media/ r,
  /{,run/}media/*/ r,
  /{,run/}media/*/** rwlix,
  /mnt/ r,
  /mnt/** rwlix,
"#;

const AUDIO_PLAYBACK_GRANTS: &str = r#"  # audio-playback: the PulseAudio and PipeWire sockets and their configuration.
  /etc/pulse/** r,
  /etc/alsa/** r,
  /run/pulse/native rw,
  owner /run/user/[0-9]*/pulse/ r,
  owner /run/user/[0-9]*/pulse/native rw,
  owner /run/user/[0-9]*/pipewire-0 rw,
  owner @{HOME}/.config/pulse/cookie r,
"#;

const CAMERA_GRANTS: &str = r#"  # camera: video capture devices and what describes them.
  /dev/video[0-9]* rw,
  /dev/vchiq rw,
  /sys/class/video4linux/ r,
  /sys/class/video4linux/** r,
  /sys/devices/**/video4linux/** r,
  /run/udev/data/c81:[0-9]* r,
"#;

const OPENGL_GRANTS: &str = r#"  # opengl: GPU devices, their description, the drivers' configuration.
  /dev/dri/ r,
  /dev/dri/** rw,
  /dev/nvidia* rw,
  /dev/nvidia-caps/** rw,
  /sys/class/drm/ r,
  /sys/devices/**/drm/** r,
  /sys/bus/pci/devices/ r,
  /etc/{glvnd,vulkan,OpenCL,drirc.d}/** r,
  /etc/drirc r,
  /var/lib/snapd/lib/{gl,gl32,vulkan,glvnd}/** rix,
  /run/udev/data/c226:[0-9]* r,
"#;

const X11_GRANTS: &str = r#"  # x11: the X server's pathname sockets (the abstract ones stay out of
  # reach: the domain's abstract socket scope is kept) and the cookie.
  /tmp/.X11-unix/ r,
  /tmp/.X11-unix/* rw,
  owner @{HOME}/.Xauthority r,
  owner /run/user/[0-9]*/.mutter-Xwaylandauth.* r,
  /etc/X11/** r,
"#;

const WAYLAND_GRANTS: &str = r#"  # wayland: the compositor's socket.
  owner /run/user/[0-9]*/wayland-[0-9]* rw,
"#;

const DESKTOP_GRANTS: &str = r#"  # desktop: fonts, themes, icons, the user's directory names, the buses.
  /etc/{fonts,gtk-2.0,gtk-3.0,xdg}/** r,
  /var/cache/fontconfig/** r,
  /var/lib/snapd/desktop/** r,
  owner @{HOME}/.local/share/fonts/** r,
  owner @{HOME}/.fonts/** r,
  owner @{HOME}/.config/user-dirs.{dirs,locale} r,
  owner @{HOME}/.config/{fontconfig,gtk-3.0}/** r,
  owner @{HOME}/.icons/** r,
  owner /run/user/[0-9]*/bus rw,
  /run/dbus/system_bus_socket rw,
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use access::*;

    struct Fs(BTreeMap<&'static str, Vec<&'static str>>);
    impl FsView for Fs {
        fn list_dir(&self, dir: &str) -> Option<Vec<String>> {
            self.0
                .get(dir)
                .map(|v| v.iter().map(|s| (*s).to_owned()).collect())
        }
    }

    fn ctx() -> Context {
        Context {
            instance_name: "hello".into(),
            snap_name: "hello".into(),
            revision: Some("x1".into()),
            home: Some("/home/u".into()),
            uid: 1000,
        }
    }

    fn fs() -> Fs {
        let mut m = BTreeMap::new();
        m.insert(
            "/home/u",
            vec!["Documents", ".ssh", "snap", "bin", "src", "notes.txt"],
        );
        m.insert("/media", vec!["u"]);
        Fs(m)
    }

    fn policy(interfaces: &[&str]) -> Policy {
        let ifaces: Vec<String> = interfaces.iter().map(|s| (*s).to_owned()).collect();
        let (text, unknown) = default_profile(&ifaces);
        assert!(unknown.is_empty());
        let profile = apparmor::parse(&text, &mut |_| None);
        assert!(profile.unreadable.is_empty(), "{:?}", profile.unreadable);
        translate(&profile, &ctx(), &fs())
    }

    fn get(p: &Policy, path: &str, t: Target) -> u64 {
        p.paths.get(&(path.to_owned(), t)).copied().unwrap_or(0)
    }

    #[test]
    fn default_grants() {
        let p = policy(&[]);
        assert_eq!(
            get(&p, "/snap/hello/x1", Target::Beneath),
            READ_FILE | READ_DIR | IOCTL_DEV | EXECUTE
        );
        assert!(get(&p, "/var/snap/hello/x1", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/var/snap/hello/common", Target::Beneath) & MAKE_REG != 0);
        assert!(get(&p, "/home/u/snap/hello/x1", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/run/user/1000/snap.hello", Target::Beneath) & WRITE_FILE != 0);
        assert_eq!(get(&p, "/etc/passwd", Target::File), READ_FILE | IOCTL_DEV);
        // No listing of /: it would reach every directory.
        assert_eq!(get(&p, "/", Target::Dir), 0);
        assert!(
            !p.paths
                .keys()
                .any(|(k, _)| k.starts_with("/home/u/Documents"))
        );
        assert!(!p.tcp_connect && !p.tcp_bind);
        assert!(p.scope_abstract_unix && p.scope_signal, "{:?}", p.notes);
    }

    #[test]
    fn home_network_removable_media() {
        let p = policy(&["home", "network", "removable-media"]);
        for entry in ["Documents", "src", "notes.txt"] {
            assert!(
                get(&p, &format!("/home/u/{entry}"), Target::Beneath) & WRITE_FILE != 0,
                "{entry}: {:?}",
                p.paths
            );
        }
        for hidden in [".ssh", "snap", "bin"] {
            assert_eq!(
                get(&p, &format!("/home/u/{hidden}"), Target::Beneath),
                0,
                "{hidden}"
            );
        }
        assert!(
            p.notes.iter().any(|n| n.contains("/home/u/bin left out")),
            "{:?}",
            p.notes
        );
        assert_eq!(get(&p, "/home/u", Target::Dir), READ_DIR);
        assert!(get(&p, "/media/u", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/mnt", Target::Beneath) & EXECUTE != 0);
        assert!(p.tcp_connect && p.tcp_bind);
    }

    #[test]
    fn widening_stops_short_of_root() {
        let profile = apparmor::parse(
            "@{PROC}/@{pid}/stat r,\n/**/foo r,\n/usr/lib/python3*/x rw,\n/sys/devices/**/uevent r,\n",
            &mut |_| None,
        );
        let p = translate(&profile, &ctx(), &fs());
        assert_eq!(get(&p, "/proc", Target::Beneath), READ_FILE | READ_DIR);
        assert_eq!(
            get(&p, "/usr/lib", Target::Beneath),
            READ_FILE | READ_DIR | IOCTL_DEV | WRITE
        );
        assert!(get(&p, "/sys/devices", Target::Beneath) != 0);
        assert!(!p.paths.keys().any(|(k, _)| k == "/"), "{:?}", p.paths);
        assert!(
            p.notes.iter().any(|n| n.contains("/**/foo: not granted")),
            "{:?}",
            p.notes
        );
        assert!(
            p.notes.iter().any(|n| n.contains("widened to /proc")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn owner_home_is_the_callers_and_other_homes_widen_to_home() {
        let profile = apparmor::parse(
            "owner @{HOME}/.config/x/** rw,\n@{HOME}/.cache/y/** r,\n",
            &mut |_| None,
        );
        let p = translate(&profile, &ctx(), &fs());
        assert!(get(&p, "/home/u/.config/x", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/home", Target::Beneath) & READ_FILE != 0);
        assert!(get(&p, "/root/.cache/y", Target::Beneath) & READ_FILE != 0);
    }

    #[test]
    fn scopes_follow_unix_and_signal_rules() {
        let p = translate(
            &apparmor::parse(
                "unix (connect, receive, send) type=stream addr=\"@/tmp/.X11-unix/X[0-9]*\",\nsignal (receive) peer=unconfined,\n",
                &mut |_| None,
            ),
            &ctx(),
            &fs(),
        );
        assert!(!p.scope_abstract_unix);
        assert!(p.scope_signal);
        let p = translate(
            &apparmor::parse(
                "signal (send) peer=unconfined,\nunix peer=(label=snap.@{SNAP_INSTANCE_NAME}.*),\n",
                &mut |_| None,
            ),
            &ctx(),
            &fs(),
        );
        assert!(p.scope_abstract_unix);
        assert!(!p.scope_signal);
    }

    /// abstractions/base's rules reach no peer beyond the snap that the
    /// scopes would cut off: both scopes stay on.
    #[test]
    fn abstractions_base_keeps_both_scopes() {
        let p = translate(
            &apparmor::parse(
                "signal (receive) peer=unconfined,\nsignal peer=@{profile_name},\n\
                 signal (receive, send) set=(\"exists\"),\nunix peer=(label=@{profile_name}),\n\
                 unix (receive) peer=(label=unconfined),\nunix (create),\n\
                 unix (getattr, getopt, setopt, shutdown),\n\
                 unix (bind, listen) addr=\"@snap.@{SNAP_INSTANCE_NAME}.**\",\n",
                &mut |_| None,
            ),
            &ctx(),
            &fs(),
        );
        assert!(p.scope_abstract_unix, "{:?}", p.notes);
        assert!(p.scope_signal, "{:?}", p.notes);
        // Beyond: sending real signals, connecting or sending to anyone.
        for (rule, unix) in [
            ("signal (send) set=(term, exists) peer=unconfined,", false),
            ("signal peer=unconfined,", false),
            ("unix (connect, send) type=stream,", true),
            ("unix (rw) peer=(label=unconfined),", true),
        ] {
            let p = translate(&apparmor::parse(rule, &mut |_| None), &ctx(), &fs());
            if unix {
                assert!(!p.scope_abstract_unix, "{rule}");
            } else {
                assert!(!p.scope_signal, "{rule}");
            }
        }
    }

    #[test]
    fn network_rules() {
        for (rule, tcp) in [
            ("network,", true),
            ("network inet,", true),
            ("network inet6 stream,", true),
            ("network inet dgram,", false),
            ("network netlink raw,", false),
            ("deny network inet,", false),
        ] {
            let p = translate(&apparmor::parse(rule, &mut |_| None), &ctx(), &fs());
            assert_eq!(p.tcp_connect, tcp, "{rule}");
            assert_eq!(p.tcp_bind, tcp, "{rule}");
        }
    }

    #[test]
    fn a_slash_in_a_class_is_not_a_separator_and_run_user_is_the_callers() {
        let mut m = BTreeMap::new();
        m.insert("/var/lib", vec!["snapd", "snapdx", "dpkg"]);
        let profile = apparmor::parse(
            "/var/lib/snapd[^/]** r,\nowner /run/user/[0-9]*/snap.hello/** rw,\nowner @{PROC}/@{pid}/fd/[0-9]* rw,\n",
            &mut |_| None,
        );
        let p = translate(&profile, &ctx(), &Fs(m));
        assert!(
            get(&p, "/var/lib/snapdx", Target::Beneath) != 0,
            "{:?}",
            p.paths
        );
        assert_eq!(get(&p, "/var/lib", Target::Beneath), 0, "{:?}", p.paths);
        assert_eq!(get(&p, "/var/lib/snapd", Target::Beneath), 0);
        assert!(get(&p, "/run/user/1000/snap.hello", Target::Beneath) & WRITE_FILE != 0);
        assert_eq!(get(&p, "/proc", Target::Beneath), READ_FILE | READ_DIR);
    }

    #[test]
    fn unknown_interfaces_are_reported() {
        let (_, unknown) = default_profile(&["home".into(), "content".into()]);
        assert_eq!(unknown, ["content"]);
    }

    /// `/ r` would be a listing right on every directory: narrowed to
    /// nothing, and said so; listings of other directories stay.
    #[test]
    fn the_listing_of_root_is_narrowed_to_nothing() {
        let profile = apparmor::parse("/ r,\n/dev/ r,\n/usr/** r,\n", &mut |_| None);
        let p = translate(&profile, &ctx(), &fs());
        assert_eq!(get(&p, "/", Target::Dir), 0, "{:?}", p.paths);
        assert!(!p.paths.keys().any(|(k, _)| k == "/"), "{:?}", p.paths);
        assert_eq!(get(&p, "/dev", Target::Dir), READ_DIR);
        assert!(get(&p, "/usr", Target::Beneath) & READ_DIR != 0);
        assert!(
            p.notes
                .iter()
                .any(|n| n.starts_with("/: narrowed: the listing of / is not granted")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn every_interface_grant_parses() {
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
        ] {
            let grants = interface_grants(name).unwrap();
            let text = format!("profile x {{\n{grants}}}\n");
            let profile = apparmor::parse(&text, &mut |_| None);
            assert!(
                profile.unreadable.is_empty(),
                "{name}: {:?}",
                profile.unreadable
            );
            assert!(!profile.rules.is_empty(), "{name}");
            let p = translate(&profile, &ctx(), &fs());
            // Only network and network-bind give TCP; none unscopes.
            assert_eq!(
                p.tcp_connect,
                matches!(name, "network" | "network-bind"),
                "{name}"
            );
            assert!(
                p.scope_abstract_unix && p.scope_signal,
                "{name}: {:?}",
                p.notes
            );
        }
        assert_eq!(interface_grants("content"), None);
    }

    #[test]
    fn a_snap_profile_reads_back_with_its_variables() {
        let vars = ProfileVars {
            snap_name: "hello".into(),
            instance_name: "hello".into(),
            command_name: "hello".into(),
            revision: "x1".into(),
        };
        let mut grants = String::from(interface_grants("home").unwrap());
        grants.push_str(&layout_grants("/usr/share/hello", LayoutKind::Bind));
        grants.push_str(&layout_grants("/etc/hello.conf", LayoutKind::BindFile));
        grants.push_str(&layout_grants("/opt/link", LayoutKind::Symlink));
        grants.push_str(&content_grants(
            &["/snap/producer/x2/lib".into()],
            &["/var/snap/producer/x2/share/".into()],
        ));
        let text = snap_profile("snap.hello.hello", &vars, &grants);
        assert!(text.contains("@{SNAP_NAME}=\"hello\"\n"), "{text}");
        assert!(
            text.contains("@{PROFILE_DBUS}=\"snap_2ehello_2ehello\"\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "profile \"snap.hello.hello\" flags=(attach_disconnected,mediate_deleted) {\n"
            ),
            "{text}"
        );
        let mut asked = Vec::new();
        let profile = apparmor::parse(&text, &mut |n: &str| {
            asked.push(n.to_owned());
            None
        });
        assert_eq!(asked, ["tunables/global"]);
        assert!(profile.missing_includes.is_empty(), "if exists");
        assert!(profile.unreadable.is_empty(), "{:?}", profile.unreadable);
        assert_eq!(profile.vars["SNAP_REVISION"], ["x1"]);
        let mut c = ctx();
        c.revision = None;
        let p = translate(&profile, &c, &fs());
        assert!(get(&p, "/var/snap/hello/x1", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/home/u/Documents", Target::Beneath) & WRITE_FILE != 0);
        assert!(get(&p, "/usr/share/hello", Target::Beneath) & WRITE_FILE != 0);
        assert_eq!(get(&p, "/usr/share/hello", Target::Dir), READ_DIR);
        assert!(get(&p, "/etc/hello.conf", Target::File) & WRITE_FILE != 0);
        assert!(!p.paths.keys().any(|(k, _)| k.starts_with("/opt/link")));
        assert_eq!(
            get(&p, "/snap/producer/x2/lib", Target::Beneath),
            READ_FILE | READ_DIR | IOCTL_DEV | EXECUTE
        );
        assert!(get(&p, "/var/snap/producer/x2/share", Target::Beneath) & WRITE_FILE != 0);
        assert!(!p.tcp_connect);
    }

    #[test]
    fn dbus_escaping() {
        assert_eq!(
            dbus_escape("snap.a-b.hook.c_d"),
            "snap_2ea_2db_2ehook_2ec_5fd"
        );
    }
}
