//! `snapcell inspect NAME [--json]`: what a snap's sandbox is made of.
//!
//! * its live mount namespace (the preserved `/run/snapd/ns/NAME.mnt`,
//!   entered read-only: snapcell reads its `/proc/self/mountinfo` and
//!   changes nothing) as a tree of mount points with source, file system,
//!   propagation and the entry of the current profile
//!   (`/run/snapd/ns/snap.NAME.fstab`) that made each;
//! * the pending difference between the current and the desired profile
//!   (`/var/lib/snapd/mount/snap.NAME.fstab`), as snap-update-ns would
//!   plan it in that namespace (`core::plan`);
//! * its confinement: each app's and hook's seccomp profile (path, format,
//!   filters and their sizes), the AppArmor profiles snap-confine
//!   translates to Landlock, the interfaces snap-confine cached for the
//!   Landlock domain of a namespace it built, each app's Landlock rules
//!   (computed as snap-confine computes them: `core::landlock::translate`
//!   of the same profile, in the namespace), and the devices of its
//!   device cgroup (the default set and those udev tagged for each app).
//!
//! With no live namespace it says so and still prints the desired profile
//! and the confinement. Everything on the host is read before the
//! namespace is entered: afterwards snapcell sees the snap's world.

use std::fs;
use std::path::{Path, PathBuf};

use snapcell_core::devices::default_devices;
use snapcell_core::devices::udev::udev_tag;
use snapcell_core::dirs::{APPARMOR_PROFILES_DIR, Dirs};
use snapcell_core::entry::MountEntry;
use snapcell_core::mountinfo::MountInfoEntry;
use snapcell_core::plan::{Action, Change, FsView, needed_changes};
use snapcell_core::profile::Profile;
use snapcell_core::seccomp::bin2::{parse_bin2, parse_legacy_bin};
use snapcell_core::{apparmor, landlock, naming};
use snapcell_sys::fsview::DirFsView;
use snapcell_sys::profile_io::load_profile;
use snapcell_sys::{mountinfo, ns};

use crate::entry_json;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell inspect hello
  snapcell inspect hello --json | jq '.namespace.mounts[] | select(.profile_entry != null)'

Needs root (it enters the snap's preserved mount namespace, read-only). Mount points without a \
profile entry were made by snap-confine when it built the namespace (the base, the host's \
directories) or propagated from the host since.")]
pub struct InspectArgs {
    /// The snap (instance) name.
    pub name: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One security tag's seccomp profile.
struct Seccomp {
    tag: String,
    path: PathBuf,
    /// `bin2`, `bin` or the error reading it.
    format: String,
    unrestricted: bool,
    /// (role, instructions) in load order.
    filters: Vec<(String, usize)>,
}

struct Confinement {
    seccomp: Vec<Seccomp>,
    apparmor_profiles: Vec<PathBuf>,
    /// The interfaces snap-confine cached for the Landlock domain.
    landlock_cache: Option<Vec<String>>,
    /// Each tag's Landlock domain, as snap-confine builds it.
    landlock: Vec<Domain>,
    default_devices: Vec<String>,
    /// (tag, devices udev tagged for it).
    tagged_devices: Vec<(String, Vec<String>)>,
}

/// A tag's Landlock domain, computed as snap-confine computes it on a
/// kernel without AppArmor: from snapd's AppArmor profile for the tag,
/// else from snapcell's default grants and the cached interfaces, else the
/// minimal domain.
struct Domain {
    tag: String,
    source: String,
    /// (path, how, rights)
    rules: Vec<(String, String, String)>,
    network: Vec<String>,
    notes: Vec<String>,
}

struct ListDir;

impl landlock::FsView for ListDir {
    fn list_dir(&self, dir: &str) -> Option<Vec<String>> {
        let rd = fs::read_dir(dir).ok()?;
        Some(
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .take(4096)
                .collect(),
        )
    }
}

/// Landlock's rights, one letter each: r read, l list, w write, x
/// execute, t truncate, i ioctl, m make (any kind), d remove, f refer.
fn rights(bits: u64) -> String {
    use landlock::access::*;
    let mut out = String::new();
    for (mask, c) in [
        (READ_FILE, 'r'),
        (READ_DIR, 'l'),
        (WRITE_FILE, 'w'),
        (EXECUTE, 'x'),
        (TRUNCATE, 't'),
        (IOCTL_DEV, 'i'),
        (
            MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM,
            'm',
        ),
        (REMOVE_DIR | REMOVE_FILE, 'd'),
        (REFER, 'f'),
    ] {
        if bits & mask != 0 {
            out.push(c);
        }
    }
    out
}

fn read_policy_file(path: &str) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(4 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn landlock_domain(
    tag: &str,
    instance: &str,
    revision: Option<&str>,
    cache: Option<&[String]>,
) -> Domain {
    let profile_path = format!("{APPARMOR_PROFILES_DIR}/{tag}");
    let (source, profile) = match read_policy_file(&profile_path) {
        Some(text) => (
            format!("the AppArmor profile {profile_path}"),
            apparmor::parse(&text, &mut |inc: &str| {
                let safe = !inc.is_empty()
                    && !inc.starts_with('/')
                    && !inc.split('/').any(|c| c == ".." || c.is_empty());
                if safe {
                    read_policy_file(&format!("/etc/apparmor.d/{inc}"))
                } else {
                    None
                }
            }),
        ),
        None => match cache {
            Some(ifaces) => {
                let (text, _) = landlock::default_profile(ifaces);
                let listed = if ifaces.is_empty() {
                    "none".to_owned()
                } else {
                    ifaces.join(", ")
                };
                (
                    format!("snapcell's default grants and the cached interfaces ({listed})"),
                    apparmor::parse(&text, &mut |_: &str| None),
                )
            }
            None => {
                return Domain {
                    tag: tag.to_owned(),
                    source: "nothing: the minimal domain (no AppArmor profile, no cached \
                             interfaces; ptrace and other processes' /proc entries closed)"
                        .to_owned(),
                    rules: Vec::new(),
                    network: Vec::new(),
                    notes: Vec::new(),
                };
            }
        },
    };
    let ctx = landlock::Context {
        instance_name: instance.to_owned(),
        snap_name: naming::split_instance_name(instance).0.to_owned(),
        revision: revision.map(str::to_owned),
        home: std::env::var("HOME").ok().filter(|h| h.starts_with('/')),
        // The owner of /proc/self: this process's user (inspect runs as root).
        uid: fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m)),
    };
    let policy = landlock::translate(&profile, &ctx, &ListDir);
    let rules = policy
        .paths
        .iter()
        .map(|((path, how), bits)| {
            let how = match how {
                landlock::Target::Beneath => "beneath",
                landlock::Target::File => "file",
                landlock::Target::Dir => "dir",
            };
            (path.clone(), how.to_owned(), rights(*bits))
        })
        .collect();
    let mut network = Vec::new();
    for (on, what) in [
        (policy.tcp_connect, "tcp connect"),
        (policy.tcp_bind, "tcp bind"),
        (
            policy.scope_abstract_unix,
            "abstract unix sockets scoped to the domain",
        ),
        (policy.scope_signal, "signals scoped to the domain"),
    ] {
        if on {
            network.push(what.to_owned());
        }
    }
    Domain {
        tag: tag.to_owned(),
        source,
        rules,
        network,
        notes: policy.notes,
    }
}

struct Mount {
    entry: MountInfoEntry,
    depth: usize,
    profile_entry: Option<MountEntry>,
}

struct Namespace {
    path: String,
    /// Why there is none.
    absent: Option<String>,
    mounts: Vec<Mount>,
    pending: Vec<Change>,
}

pub fn inspect(args: InspectArgs) -> Result<String, String> {
    let name = args.name.as_str();
    naming::validate_instance_name(name).map_err(|e| format!("cannot inspect {name:?}: {e}"))?;
    let dirs = Dirs::HOST;
    let desired_path = dirs.desired_profile(name);
    let current_path = dirs.current_profile(name);
    // The standalone state only where there is one (reading it under its
    // lock would create it on a machine snapd manages).
    let state_file = snapcell_standalone::manage::state_paths().file;
    let revision = state_file
        .exists()
        .then(snapcell_standalone::manage::read_state)
        .and_then(Result::ok)
        .and_then(|s| s.snaps.get(name).map(|s| s.current.clone()))
        .filter(|r| !r.is_empty());
    let desired = load_optional(&desired_path)?;
    let current = load_optional(&current_path)?;
    if revision.is_none() && desired.is_none() && current.is_none() {
        return Err(format!(
            "cannot inspect snap {name:?}: it is not installed (no {desired_path})"
        ));
    }
    let desired = desired.unwrap_or_default();
    let mut confinement = read_confinement(name);
    let namespace = read_namespace(name, current.as_ref(), &desired);
    // In the namespace where there is one, where snap-confine builds it.
    let tags: std::collections::BTreeSet<String> =
        confinement.seccomp.iter().map(|s| s.tag.clone()).collect();
    confinement.landlock = tags
        .iter()
        .map(|tag| {
            landlock_domain(
                tag,
                name,
                revision.as_deref(),
                confinement.landlock_cache.as_deref(),
            )
        })
        .collect();
    Ok(if args.json {
        json(
            name,
            revision.as_deref(),
            &namespace,
            current.as_ref(),
            &desired,
            &confinement,
        )
    } else {
        text(
            name,
            revision.as_deref(),
            &namespace,
            current.as_ref(),
            &desired,
            &confinement,
        )
    })
}

fn load_optional(path: &str) -> Result<Option<Profile>, String> {
    if !Path::new(path).exists() {
        return Ok(None);
    }
    load_profile(Path::new(path))
        .map(Some)
        .map_err(|e| e.to_string())
}

fn read_confinement(name: &str) -> Confinement {
    let dirs = Dirs::HOST;
    let prefix = format!("snap.{name}.");
    let listed = |dir: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|f| f.to_str())
                            .is_some_and(|f| f.starts_with(&prefix))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut seccomp = Vec::new();
    for path in listed(&dirs.seccomp_dir()) {
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let (tag, legacy) = match (file.strip_suffix(".bin2"), file.strip_suffix(".bin")) {
            (Some(tag), _) => (tag.to_owned(), false),
            (None, Some(tag)) => (tag.to_owned(), true),
            _ => continue,
        };
        let parsed = fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                if legacy {
                    parse_legacy_bin(&path, &bytes)
                } else {
                    parse_bin2(&path, &bytes)
                }
                .map_err(|e| e.to_string())
            });
        let (format, unrestricted, filters) = match parsed {
            Ok(p) => (
                if legacy { "bin" } else { "bin2" }.to_owned(),
                p.is_unrestricted(),
                p.filters()
                    .iter()
                    .map(|(role, prog)| {
                        (
                            format!("{role:?}").to_lowercase(),
                            prog.instructions().len(),
                        )
                    })
                    .collect(),
            ),
            Err(e) => (format!("unreadable: {e}"), false, Vec::new()),
        };
        seccomp.push(Seccomp {
            tag,
            path,
            format,
            unrestricted,
            filters,
        });
    }
    let landlock_cache = fs::read_to_string(format!("{}/snap.{name}.landlock", dirs.ns_dir()))
        .ok()
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        });
    let mut tags: Vec<String> = seccomp.iter().map(|s| s.tag.clone()).collect();
    tags.dedup();
    let tagged_devices = tags
        .iter()
        .map(|tag| {
            let devices = snapcell_sys::cgroup::udev::tagged_devices(&udev_tag(tag))
                .map(|d| d.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            (tag.clone(), devices)
        })
        .collect();
    Confinement {
        seccomp,
        apparmor_profiles: listed(APPARMOR_PROFILES_DIR),
        landlock_cache,
        landlock: Vec::new(),
        default_devices: default_devices().iter().map(ToString::to_string).collect(),
        tagged_devices,
    }
}

/// Enter the preserved namespace (last: the host is not seen afterwards)
/// and read its mount table and the pending changes.
fn read_namespace(name: &str, current: Option<&Profile>, desired: &Profile) -> Namespace {
    let path = Dirs::HOST.preserved_ns(name);
    let absent = |why: String| Namespace {
        path: path.clone(),
        absent: Some(why),
        mounts: Vec::new(),
        pending: Vec::new(),
    };
    if !ns::is_preserved(Path::new(&path)) {
        return absent(format!(
            "no live namespace: {path} is not a preserved namespace (no app of the snap ran since it was built or discarded)"
        ));
    }
    if let Err(e) = ns::enter_mount_namespace(Path::new(&path)) {
        return absent(format!("cannot enter {path}: {e}"));
    }
    let table = match mountinfo::read_mountinfo() {
        Ok(t) => t,
        Err(e) => return absent(format!("cannot read the namespace's mount table: {e}")),
    };
    let empty = Profile::default();
    let current = current.unwrap_or(&empty);
    let pending = match DirFsView::open(Path::new("/")) {
        Ok(view) => needed_changes(&current.entries, &desired.entries, &view as &dyn FsView)
            .into_iter()
            .filter(|c| c.action != Action::Keep)
            .collect(),
        Err(_) => Vec::new(),
    };
    Namespace {
        path,
        absent: None,
        mounts: tree(&table, current),
        pending,
    }
}

/// The mount table in tree order (each mount after its parent, siblings
/// in mount order) with depths, and the profile entry of each mount point
/// (the last entry naming it: a later one covers an earlier).
fn tree(table: &[MountInfoEntry], current: &Profile) -> Vec<Mount> {
    let ids: std::collections::BTreeSet<i64> = table.iter().map(|e| e.mount_id).collect();
    let mut out = Vec::new();
    fn walk(
        table: &[MountInfoEntry],
        current: &Profile,
        parent: Option<i64>,
        depth: usize,
        ids: &std::collections::BTreeSet<i64>,
        out: &mut Vec<Mount>,
    ) {
        for e in table {
            let is_child = match parent {
                None => e.parent_id == e.mount_id || !ids.contains(&e.parent_id),
                Some(p) => e.parent_id == p && e.mount_id != p,
            };
            if !is_child {
                continue;
            }
            let profile_entry = current
                .entries
                .iter()
                .rev()
                .find(|p| p.dir == e.mount_dir)
                .cloned();
            out.push(Mount {
                entry: e.clone(),
                depth,
                profile_entry,
            });
            if depth < 64 {
                walk(table, current, Some(e.mount_id), depth + 1, ids, out);
            }
        }
    }
    walk(table, current, None, 0, &ids, &mut out);
    out
}

fn propagation(e: &MountInfoEntry) -> String {
    let p = e.propagation();
    let mut parts = Vec::new();
    if let Some(n) = p.shared {
        parts.push(format!("shared:{n}"));
    }
    if let Some(n) = p.master {
        parts.push(format!("master:{n}"));
    }
    if let Some(n) = p.propagate_from {
        parts.push(format!("propagate_from:{n}"));
    }
    if p.unbindable {
        parts.push("unbindable".to_owned());
    }
    if parts.is_empty() {
        "private".to_owned()
    } else {
        parts.join(",")
    }
}

fn source(e: &MountInfoEntry) -> String {
    if e.root == "/" {
        e.mount_source.clone()
    } else {
        format!("{}[{}]", e.mount_source, e.root)
    }
}

fn text(
    name: &str,
    revision: Option<&str>,
    ns: &Namespace,
    current: Option<&Profile>,
    desired: &Profile,
    c: &Confinement,
) -> String {
    let mut out = format!("snap {name}");
    if let Some(rev) = revision {
        out.push_str(&format!(" (revision {rev})"));
    }
    out.push('\n');
    match &ns.absent {
        Some(why) => out.push_str(&format!("namespace: {why}\n")),
        None => {
            out.push_str(&format!("namespace: {} (live)\n", ns.path));
            out.push_str("  MOUNT POINT  SOURCE  TYPE  PROPAGATION  [profile entry]\n");
            for m in &ns.mounts {
                let e = &m.entry;
                out.push_str(&format!(
                    "  {}{}  {}  {}  {}",
                    "  ".repeat(m.depth),
                    e.mount_dir,
                    source(e),
                    e.fs_type,
                    propagation(e)
                ));
                if let Some(p) = &m.profile_entry {
                    out.push_str(&format!("  [{p}]"));
                }
                out.push('\n');
            }
        }
    }
    let show = |out: &mut String, title: &str, p: &Profile| {
        out.push_str(&format!("{title}:"));
        if p.entries.is_empty() {
            out.push_str(" (empty)\n");
        } else {
            out.push('\n');
            for e in &p.entries {
                out.push_str(&format!("  {e}\n"));
            }
        }
    };
    match current {
        Some(p) => show(&mut out, "current profile", p),
        None => out.push_str("current profile: none (no namespace applied one)\n"),
    }
    show(&mut out, "desired profile", desired);
    if ns.absent.is_none() {
        if ns.pending.is_empty() {
            out.push_str("pending changes: none (the namespace is up to date)\n");
        } else {
            out.push_str("pending changes (as snap-update-ns would make them):\n");
            for ch in &ns.pending {
                out.push_str(&format!("  {ch}\n"));
            }
        }
    }
    out.push_str("confinement:\n  seccomp:\n");
    if c.seccomp.is_empty() {
        out.push_str("    none (snap-confine refuses to start an app without one)\n");
    }
    for s in &c.seccomp {
        let filters: Vec<String> = s
            .filters
            .iter()
            .map(|(role, n)| format!("{role} {n} instructions"))
            .collect();
        out.push_str(&format!(
            "    {}: {} ({}{}{})\n",
            s.tag,
            s.path.display(),
            s.format,
            if s.unrestricted { ", unrestricted" } else { "" },
            if filters.is_empty() {
                String::new()
            } else {
                format!("; {}", filters.join(", "))
            }
        ));
    }
    out.push_str("  file confinement (AppArmor, or Landlock where the kernel has no AppArmor):\n");
    if c.apparmor_profiles.is_empty() {
        out.push_str("    no AppArmor profiles: snapcell's default grants and the connections\n");
    }
    for p in &c.apparmor_profiles {
        out.push_str(&format!("    profile {}\n", p.display()));
    }
    match &c.landlock_cache {
        Some(ifaces) => out.push_str(&format!(
            "    interfaces cached for the Landlock domain: {}\n",
            if ifaces.is_empty() {
                "none".to_owned()
            } else {
                ifaces.join(", ")
            }
        )),
        None => {
            out.push_str("    no Landlock cache (written when snap-confine builds the namespace)\n")
        }
    }
    for d in &c.landlock {
        out.push_str(&format!(
            "    Landlock domain of {}: from {}\n",
            d.tag, d.source
        ));
        for (path, how, r) in &d.rules {
            out.push_str(&format!("      {r:<9} {how:<7} {path}\n"));
        }
        if !d.network.is_empty() {
            out.push_str(&format!("      {}\n", d.network.join(", ")));
        }
        for n in &d.notes {
            out.push_str(&format!("      note: {n}\n"));
        }
    }
    out.push_str(&format!(
        "  devices: the default set ({})",
        c.default_devices.join(", ")
    ));
    let tagged: Vec<String> = c
        .tagged_devices
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(t, d)| format!("{t}: {}", d.join(", ")))
        .collect();
    if tagged.is_empty() {
        out.push_str("; none tagged by udev\n");
    } else {
        out.push_str(&format!("; tagged: {}\n", tagged.join("; ")));
    }
    out
}

fn json(
    name: &str,
    revision: Option<&str>,
    ns: &Namespace,
    current: Option<&Profile>,
    desired: &Profile,
    c: &Confinement,
) -> String {
    let profile = |p: &Profile| -> serde_json::Value {
        serde_json::Value::Array(p.entries.iter().map(entry_json).collect())
    };
    let mounts: Vec<serde_json::Value> = ns
        .mounts
        .iter()
        .map(|m| {
            let e = &m.entry;
            serde_json::json!({
                "mount_id": e.mount_id,
                "parent_id": e.parent_id,
                "depth": m.depth,
                "mount_point": e.mount_dir,
                "source": e.mount_source,
                "root": e.root,
                "fs_type": e.fs_type,
                "propagation": propagation(e),
                "read_only": e.is_read_only(),
                "profile_entry": m.profile_entry.as_ref().map(entry_json),
            })
        })
        .collect();
    let pending: Vec<serde_json::Value> = ns
        .pending
        .iter()
        .map(|c| {
            serde_json::json!({
                "action": c.action.to_string(),
                "entry": entry_json(&c.entry),
            })
        })
        .collect();
    let seccomp: Vec<serde_json::Value> = c
        .seccomp
        .iter()
        .map(|s| {
            serde_json::json!({
                "tag": s.tag,
                "path": s.path,
                "format": s.format,
                "unrestricted": s.unrestricted,
                "filters": s.filters.iter().map(|(role, n)| serde_json::json!({"role": role, "instructions": n})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let report = serde_json::json!({
        "name": name,
        "revision": revision,
        "namespace": {
            "path": ns.path,
            "live": ns.absent.is_none(),
            "absent": ns.absent,
            "mounts": mounts,
        },
        "current_profile": current.map(profile),
        "desired_profile": profile(desired),
        "pending": if ns.absent.is_none() { serde_json::Value::Array(pending) } else { serde_json::Value::Null },
        "confinement": {
            "seccomp": seccomp,
            "apparmor_profiles": c.apparmor_profiles,
            "landlock_cache": c.landlock_cache,
            "landlock": c.landlock.iter().map(|d| serde_json::json!({
                "tag": d.tag,
                "source": d.source,
                "rules": d.rules.iter().map(|(p, how, r)| serde_json::json!({"path": p, "how": how, "rights": r})).collect::<Vec<_>>(),
                "network": d.network,
                "notes": d.notes,
            })).collect::<Vec<_>>(),
            "devices": {
                "default": c.default_devices,
                "tagged": c.tagged_devices.iter().map(|(t, d)| serde_json::json!({"tag": t, "devices": d})).collect::<Vec<_>>(),
            },
        },
    });
    format!("{report:#}\n")
}
