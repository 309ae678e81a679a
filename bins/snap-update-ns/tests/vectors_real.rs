//! snapd's planning vectors (`needed_changes.json`) performed for real
//! (issue 4): each case is built in a fresh preserved namespace, the current
//! profile is mounted by hand in its log order and saved as the current
//! profile, the desired profile is applied with snap-update-ns, and the
//! resulting mount table, files and saved profile are checked against the
//! expected plan.
//!
//! How a vector becomes a namespace:
//!
//! * **Paths.** Every absolute path of a case (and `{ROOT}`, the unit tests'
//!   temporary root) is moved below a root `R` = `/tmp/vr-N` of its own:
//!   `/usr/share` becomes `R/usr/share`, `/` becomes `R`. This keeps the
//!   plan (a common prefix changes neither the sort orders nor the parent
//!   relations) while nothing is ever mounted over the namespace's real
//!   directories. `R` is below `/tmp`, where snap-update-ns may write, so
//!   the trespassing rules play no part; read-only directories do (below).
//! * **File system state.** `fs.existing_dirs` are made below `R`; each
//!   top-level one is then bind-mounted read-only over itself, standing in
//!   for a read-only base (so creating something in it needs a writable
//!   mimic, as for real), except that `R/tmp`, `R/var/tmp` and `R/var/snap`
//!   are made writable again as on a real system. Bind sources that the
//!   planner never looked at are made beforehand (with a marker file) unless
//!   that would change what the planner sees: a source is left for
//!   snap-update-ns to create when it or one of its parents was queried and
//!   absent, or when it is a parent of a mount point of the case.
//! * **Entries that cannot be mounted as written.** The unit tests use
//!   `none` as a file system type for directories and files (`none
//!   /common/stuff none defaults`); the kernel has no such type. Such
//!   entries become a `tmpfs` (directories; the name is kept as the tmpfs's
//!   source, so `/dev/sda1` and `/dev/sda2` stay different) or a bind of a
//!   prepared file (files). The same rewriting is applied to the current
//!   and desired profiles and to the expected changes, so equalities, and
//!   therefore the plan, are unchanged.
//! * **Expected outcome.** The saved profile must hold the expected plan's
//!   `mount` and `keep` entries in plan order, with any writable mimic's
//!   synthetic entries between them; a `mount` that snapd itself would skip
//!   (`x-snapd.ignore-missing` with a missing source or target) or only warn
//!   about (a non-layout symlink without a target) is left out. The mount
//!   table below `R` must then hold exactly the set-up mounts, the saved
//!   profile's mounts and what recursive binds carried along; each tmpfs
//!   has its source, each bind shows its source (same device and inode), each
//!   symlink points where the entry says, and entries unmounted by the plan
//!   are gone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use snapcell_core::entry::MountEntry;
use snapcell_test_support::preserve::{in_namespace, preserve_namespace, write_file};
use snapcell_test_support::run_in_world;

const INSTANCE: &str = "vec";

/// The target of symlinks that must dangle: below the world's fresh `/tmp`,
/// beside the cases' roots (`/tmp/vr-N`), and never created (unlike a path
/// such as `/nonexistent`, which the machine may have).
const ABSENT_TARGET: &str = "/tmp/vr-absent";

fn vectors_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SNAPCELL_VECTORS") {
        return Some(PathBuf::from(dir));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/spec/vectors"))
        .find(|p| p.join("README.md").is_file())
}

fn load_cases() -> Option<Vec<Value>> {
    let Some(dir) = vectors_dir() else {
        eprintln!(
            "SKIPPED: snapd vectors folder shared/spec/vectors not found; needed_changes.json not performed"
        );
        return None;
    };
    let text =
        std::fs::read_to_string(dir.join("needed_changes.json")).expect("read needed_changes.json");
    let doc: Value = serde_json::from_str(&text).expect("parse needed_changes.json");
    Some(doc["cases"].as_array().expect("cases").clone())
}

fn entry_of(v: &Value) -> MountEntry {
    // Profiles write an empty field as `none`, which reads back as `none`.
    let s = |k: &str| match v[k].as_str().unwrap_or("") {
        "" => "none".to_owned(),
        x => x.to_owned(),
    };
    MountEntry {
        name: s("name"),
        dir: s("dir"),
        fs_type: s("type"),
        options: v["options"]
            .as_array()
            .map(|a| a.iter().map(|o| o.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
        freq: v["freq"].as_i64().unwrap_or(0),
        passno: v["passno"].as_i64().unwrap_or(0),
    }
}

fn is_bind(e: &MountEntry) -> bool {
    e.options.iter().any(|o| o == "bind" || o == "rbind")
}

fn is_rbind(e: &MountEntry) -> bool {
    e.options.iter().any(|o| o == "rbind")
}

fn kind(e: &MountEntry) -> &str {
    e.option_value("x-snapd.kind").unwrap_or("")
}

/// Whether the entry puts a mount at its directory.
fn mounts_something(e: &MountEntry) -> bool {
    !matches!(kind(e), "symlink" | "ensure-dir")
        && e.option_value("x-snapd.origin") != Some("rootfs")
}

/// Ancestors of a clean absolute path, nearest first, then the path itself last? No: self first.
fn self_and_ancestors(p: &str) -> Vec<String> {
    let mut out = vec![p.to_owned()];
    let mut cur = p;
    while let Some(i) = cur.rfind('/') {
        cur = if i == 0 { "/" } else { &cur[..i] };
        out.push(cur.to_owned());
        if cur == "/" {
            break;
        }
    }
    out
}

fn is_under(p: &str, dir: &str) -> bool {
    p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/'
}

/// The rewriting of one case: paths below `root`, unmountable entries made mountable.
struct Mapper {
    root: String,
    /// Files to prepare for `none`-type file entries: path → contents.
    file_sources: BTreeMap<String, String>,
    /// Directories to prepare for `none`-type directory entries: path → marker.
    dir_sources: BTreeMap<String, String>,
}

impl Mapper {
    fn path(&self, p: &str) -> String {
        if let Some(rest) = p.strip_prefix("{ROOT}") {
            return format!("{}{rest}", self.root);
        }
        if p == "/" {
            return self.root.clone();
        }
        if p.starts_with('/') {
            return format!("{}{p}", self.root);
        }
        p.to_owned()
    }

    fn entry(&mut self, e: &MountEntry) -> MountEntry {
        let mut m = e.clone();
        m.dir = self.path(&e.dir);
        if is_bind(e) {
            m.name = self.path(&e.name);
        }
        m.options = e
            .options
            .iter()
            .map(|o| {
                for key in [
                    "x-snapd.symlink=",
                    "x-snapd.needed-by=",
                    "x-snapd.must-exist-dir=",
                ] {
                    if let Some(v) = o.strip_prefix(key)
                        && (v.starts_with('/') || v.starts_with("{ROOT}"))
                    {
                        return format!("{key}{}", self.path(v));
                    }
                }
                o.clone()
            })
            .collect();
        if e.fs_type == "none" && !is_bind(e) {
            let label = e.name.replace('/', "_");
            match kind(e) {
                "" => {
                    let src = format!("{}/.vsrc/dir-{label}", self.root);
                    self.dir_sources.insert(src.clone(), e.name.clone());
                    m.name = src;
                    m.options.insert(0, "bind".to_owned());
                }
                "file" => {
                    let src = format!("{}/.vsrc/file-{label}", self.root);
                    self.file_sources.insert(src.clone(), e.name.clone());
                    m.name = src;
                    m.options.insert(0, "bind".to_owned());
                }
                _ => {}
            }
        }
        m
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Shell commands mounting one current entry by hand (its mount point exists).
fn mount_by_hand(e: &MountEntry) -> String {
    let d = sh_quote(&e.dir);
    match kind(e) {
        "symlink" => {
            return format!(
                "[ -L {d} ] || ln -sfn {} {d}\n",
                sh_quote(e.symlink_target().unwrap_or(ABSENT_TARGET))
            );
        }
        "ensure-dir" => return format!("mkdir -p {d}\n"),
        _ => {}
    }
    if e.option_value("x-snapd.origin") == Some("rootfs") {
        return String::new();
    }
    let make = if kind(e) == "file" {
        format!("[ -e {d} ] || touch {d}\n")
    } else {
        format!("mkdir -p {d} 2>/dev/null || true\n")
    };
    if is_bind(e) {
        let n = sh_quote(&e.name);
        let src = if kind(e) == "file" {
            format!("[ -e {n} ] || {{ mkdir -p $(dirname {n}); touch {n}; }}\n")
        } else {
            format!("mkdir -p {n}\n")
        };
        let how = if is_rbind(e) { "--rbind" } else { "--bind" };
        let mut s = format!("{src}{make}mount {how} {n} {d}\n");
        if e.options.iter().any(|o| o == "ro") {
            s += &format!("mount -o remount,bind,ro {d}\n");
        }
        s
    } else {
        let data: Vec<&str> = e
            .options
            .iter()
            .filter(|o| !o.starts_with("x-snapd.") && *o != "defaults" && *o != "rw")
            .map(|o| o.as_str())
            .collect();
        let opts = if data.is_empty() {
            String::new()
        } else {
            format!("-o {}", data.join(","))
        };
        format!(
            "{make}mount -t {} {opts} {} {d}\n",
            e.fs_type,
            sh_quote(&e.name)
        )
    }
}

struct Prepared {
    name: String,
    setup: String,
    current: Vec<MountEntry>,
    desired: Vec<MountEntry>,
    /// Expected (action, entry) in plan order.
    expected: Vec<(String, MountEntry)>,
    /// Mounts made by the set-up below the root (mount points).
    setup_mounts: BTreeSet<String>,
    /// Sources made beforehand (with a marker).
    made_sources: BTreeSet<String>,
    root: String,
    /// Why the plan's order cannot be checked, if it cannot: the vector's
    /// file system says a directory is absent where its own current profile
    /// has something mounted (the unit test's file system was a mock), so
    /// the real planner, seeing the directory, may pick another mimic bucket.
    order_unchecked: Option<String>,
}

const WRITABLE_AGAIN: &[&str] = &["/tmp", "/var/tmp", "/var/snap"];

fn prepare(idx: usize, case: &Value) -> Result<Prepared, String> {
    let name = case["name"].as_str().unwrap().to_owned();
    let input = &case["input"];
    let root = format!("/tmp/vr-{idx}");
    let mut mapper = Mapper {
        root: root.clone(),
        file_sources: BTreeMap::new(),
        dir_sources: BTreeMap::new(),
    };
    let entries =
        |v: &Value| -> Vec<MountEntry> { v.as_array().unwrap().iter().map(entry_of).collect() };
    let cur_raw = entries(&input["current"]);
    let des_raw = entries(&input["desired"]);
    let current: Vec<MountEntry> = cur_raw.iter().map(|e| mapper.entry(e)).collect();
    let desired: Vec<MountEntry> = des_raw.iter().map(|e| mapper.entry(e)).collect();
    let expected: Vec<(String, MountEntry)> = case["expected"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                mapper.entry(&entry_of(&c["entry"])),
            )
        })
        .collect();
    let fs = &input["fs"];
    let list = |k: &str| -> Vec<String> {
        fs[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut dirs: Vec<String> = Vec::new();
    for d in list("existing_dirs") {
        if d.is_empty() || d == "/" || d == "{ROOT}" {
            continue;
        }
        if !d.starts_with('/') && !d.starts_with("{ROOT}") {
            return Err(format!("existing directory {d:?} is relative"));
        }
        dirs.push(mapper.path(&d));
    }
    let absent: BTreeSet<String> = fs["queried_and_absent"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|q| mapper.path(q["path"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    for e in current.iter().chain(&desired) {
        if !e.dir.starts_with(&root) {
            return Err(format!("mount point {:?} is not an absolute path", e.dir));
        }
    }

    let mut s = String::from("set -e\nmount -o remount,bind,ro /\n");
    s += &format!("mkdir -p {root}\n");
    for d in &dirs {
        s += &format!("mkdir -p {}\n", sh_quote(d));
    }
    for f in list("existing_files") {
        let f = mapper.path(&f);
        s += &format!("mkdir -p $(dirname {0}); touch {0}\n", sh_quote(&f));
    }
    for l in list("existing_symlinks") {
        let l = mapper.path(&l);
        s += &format!(
            "mkdir -p $(dirname {0}); ln -s {1} {0}\n",
            sh_quote(&l),
            sh_quote(ABSENT_TARGET)
        );
    }
    let mut made_sources = BTreeSet::new();
    for (path, text) in &mapper.file_sources {
        s += &format!(
            "mkdir -p $(dirname {0}); printf %s {0} > {0}\n",
            sh_quote(path)
        );
        let _ = text;
        made_sources.insert(path.clone());
    }
    for path in mapper.dir_sources.keys() {
        s += &format!("mkdir -p {0}; printf %s {0} > {0}/.vsrc\n", sh_quote(path));
        made_sources.insert(path.clone());
    }
    // Mount points of the current profile (they exist where it is mounted).
    for e in &current {
        if kind(e) == "symlink" {
            s += &format!(
                "mkdir -p $(dirname {0}); {1}",
                sh_quote(&e.dir),
                mount_by_hand(e)
            );
        }
        if mounts_something(e) {
            if kind(e) == "file" {
                s += &format!(
                    "mkdir -p $(dirname {0}); [ -e {0} ] || touch {0}\n",
                    sh_quote(&e.dir)
                );
            } else {
                s += &format!("mkdir -p {}\n", sh_quote(&e.dir));
            }
        }
    }
    // Sources of the current profile's binds (they were mounted, so they exist).
    for e in current.iter().filter(|e| is_bind(e) && mounts_something(e)) {
        if made_sources.contains(&e.name) {
            continue;
        }
        let q = sh_quote(&e.name);
        if kind(e) == "file" {
            s += &format!("mkdir -p $(dirname {q}); [ -e {q} ] || printf %s {q} > {q}\n");
        } else {
            s += &format!("mkdir -p {q}; [ -e {q}/.vsrc ] || printf %s {q} > {q}/.vsrc\n");
        }
        let hidden = current
            .iter()
            .any(|c| mounts_something(c) && (c.dir == e.name || is_under(&e.name, &c.dir)));
        if !hidden {
            made_sources.insert(e.name.clone());
        }
    }
    // Bind sources the planner does not look at.
    let mount_points: Vec<&str> = current
        .iter()
        .chain(&desired)
        .map(|e| e.dir.as_str())
        .collect();
    for e in current.iter().chain(&desired) {
        if !is_bind(e) || !e.name.starts_with(&root) || made_sources.contains(&e.name) {
            continue;
        }
        let src = &e.name;
        let queried = self_and_ancestors(src).iter().any(|a| absent.contains(a));
        let parent_of_mount_point = mount_points.iter().any(|d| *d == src || is_under(d, src));
        // Below something the current profile mounts: hidden by that mount.
        let hidden = current
            .iter()
            .any(|c| mounts_something(c) && (c.dir == *src || is_under(src, &c.dir)));
        if queried || parent_of_mount_point || hidden {
            continue;
        }
        let q = sh_quote(src);
        if kind(e) == "file" {
            s += &format!("mkdir -p $(dirname {q}); [ -e {q} ] || printf %s {q} > {q}\n");
        } else {
            s += &format!("mkdir -p {q}; [ -e {q}/.vsrc ] || printf %s {q} > {q}/.vsrc\n");
        }
        made_sources.insert(src.clone());
    }
    // Read-only base stand-ins, writable host directories again.
    let mut setup_mounts = BTreeSet::new();
    let tops: BTreeSet<String> = dirs
        .iter()
        .filter_map(|d| {
            d.strip_prefix(&format!("{root}/"))
                .map(|r| r.split('/').next().unwrap().to_owned())
        })
        .collect();
    for t in &tops {
        let d = format!("{root}/{t}");
        // The current profile has things there without a writable mimic:
        // only possible if it is writable (a rootfs tmpfs, say).
        if current
            .iter()
            .any(|e| e.option_value("x-snapd.origin") != Some("rootfs") && is_under(&e.dir, &d))
        {
            continue;
        }
        s += &format!("mount --bind {d} {d}\nmount -o remount,bind,ro {d}\n");
        setup_mounts.insert(d);
    }
    for w in WRITABLE_AGAIN {
        let d = format!("{root}{w}");
        if dirs.contains(&d) {
            s += &format!("mount --bind {d} {d}\n");
            setup_mounts.insert(d);
        }
    }
    // The current profile, mounted by hand in its log order.
    for e in &current {
        s += &mount_by_hand(e);
    }
    let order_unchecked = current.iter().find_map(|e| {
        let a = self_and_ancestors(&e.dir)
            .into_iter()
            .find(|a| absent.contains(a))?;
        Some(format!(
            "the vector says {a} is absent, but its current profile has {} there",
            e.dir
        ))
    });
    Ok(Prepared {
        name,
        setup: s,
        current,
        desired,
        expected,
        setup_mounts,
        made_sources,
        root,
        order_unchecked,
    })
}

fn profile_text(entries: &[MountEntry]) -> String {
    entries.iter().map(|e| format!("{e}\n")).collect()
}

fn update_ns() -> Output {
    Command::new(env!("CARGO_BIN_EXE_snap-update-ns"))
        .arg(INSTANCE)
        .env_clear()
        .output()
        .expect("run snap-update-ns")
}

/// One mountinfo row: (mount point, fs type, source).
fn mounts_below(root: &str) -> Vec<(String, String, String)> {
    let text = in_namespace(INSTANCE, "cat /proc/self/mountinfo");
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            let dir = f[4].replace("\\040", " ");
            (dir == root || is_under(&dir, root))
                .then(|| (dir, f[sep + 1].to_owned(), f[sep + 2].to_owned()))
        })
        .collect()
}

/// Run one prepared case; `Err` lists what is wrong.
fn run_case(p: &Prepared) -> Result<String, Vec<String>> {
    let _ = std::fs::remove_file(format!("/run/snapd/ns/snap.{INSTANCE}.fstab"));
    let mut holder = preserve_namespace(INSTANCE, &p.setup);
    write_file(
        &format!("/run/snapd/ns/snap.{INSTANCE}.fstab"),
        &profile_text(&p.current),
    );
    write_file(
        &format!("/var/lib/snapd/mount/snap.{INSTANCE}.fstab"),
        &profile_text(&p.desired),
    );
    // What exists before the run (for x-snapd.ignore-missing).
    let mut probe = String::new();
    for (_, e) in &p.expected {
        for path in [&e.dir, &e.name] {
            probe += &format!("[ -e {0} ] && echo {0}\n", sh_quote(path));
        }
    }
    let existing: BTreeSet<String> = in_namespace(INSTANCE, &format!("{probe}true"))
        .lines()
        .map(str::to_owned)
        .collect();

    let o = update_ns();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let mut bad = Vec::new();
    let saved_text =
        std::fs::read_to_string(format!("/run/snapd/ns/snap.{INSTANCE}.fstab")).unwrap_or_default();
    let saved: Vec<MountEntry> = saved_text
        .lines()
        .map(|l| MountEntry::parse(l).expect("saved line parses"))
        .collect();
    let table = mounts_below(&p.root);
    let mut checks = String::new();

    if !o.status.success() {
        bad.push(format!("snap-update-ns failed: {stderr}"));
    }
    // The expected profile: mounts and keeps in plan order, less what snapd skips.
    let mut warned = Vec::new();
    let want: Vec<&MountEntry> = p
        .expected
        .iter()
        .filter(|(action, e)| {
            if action == "unmount" {
                return false;
            }
            if action == "mount"
                && e.ignore_missing()
                && !(existing.contains(&e.dir) && (!is_bind(e) || existing.contains(&e.name)))
            {
                return false;
            }
            if action == "mount"
                && kind(e) == "symlink"
                && e.symlink_target().is_none_or(str::is_empty)
            {
                warned.push(e.dir.clone());
                return false;
            }
            true
        })
        .map(|(_, e)| e)
        .collect();
    for d in &warned {
        if !stderr.contains(&format!(
            "WARNING: cannot change mount namespace according to change mount (none {d} "
        )) {
            bad.push(format!(
                "no warning for the symlink without a target at {d}: {stderr}"
            ));
        }
    }
    let want_set: std::collections::HashSet<&MountEntry> = want.iter().copied().collect();
    let got_plain: Vec<&MountEntry> = saved
        .iter()
        .filter(|e| !e.is_synthetic() || want_set.contains(e))
        .collect();
    let same = if p.order_unchecked.is_some() {
        let mut a: Vec<String> = got_plain.iter().map(|e| e.to_string()).collect();
        let mut b: Vec<String> = want.iter().map(|e| e.to_string()).collect();
        a.sort();
        b.sort();
        a == b
    } else {
        got_plain == want
    };
    if !same {
        bad.push(format!(
            "saved profile (less new synthetic entries) differs:\n  want:\n{}  got:\n{}",
            want.iter()
                .map(|e| format!("    {e}\n"))
                .collect::<String>(),
            saved
                .iter()
                .map(|e| format!("    {e}\n"))
                .collect::<String>()
        ));
    }
    // Mount table: every mount below the root is accounted for.
    let profile_dirs: BTreeSet<&str> = saved
        .iter()
        .filter(|e| mounts_something(e))
        .map(|e| e.dir.as_str())
        .collect();
    let rbind_dirs: Vec<&str> = saved
        .iter()
        .filter(|e| is_rbind(e))
        .map(|e| e.dir.as_str())
        .collect();
    let mounted: BTreeSet<&str> = table.iter().map(|(d, _, _)| d.as_str()).collect();
    for (d, _, _) in &table {
        let ok = p.setup_mounts.contains(d)
            || profile_dirs.contains(d.as_str())
            || rbind_dirs.iter().any(|r| is_under(d, r));
        if !ok {
            bad.push(format!("unexpected mount at {d}"));
        }
    }
    for e in saved.iter().filter(|e| mounts_something(e)) {
        let top = table.iter().rev().find(|(d, _, _)| *d == e.dir);
        match top {
            None => bad.push(format!("{} is not mounted", e.dir)),
            Some((_, fstype, source)) if e.fs_type == "tmpfs" => {
                if fstype != "tmpfs" || *source != e.name {
                    bad.push(format!(
                        "{} is {fstype} from {source}, not tmpfs from {}",
                        e.dir, e.name
                    ));
                }
            }
            Some(_) => {}
        }
        if is_bind(e)
            && e.name != e.dir
            && !profile_dirs.contains(e.name.as_str())
            && !is_under(&e.name, &e.dir)
        {
            checks += &format!(
                "a=$(stat -L -c %d:%i {0}); b=$(stat -L -c %d:%i {1}); [ \"$a\" = \"$b\" ] || echo \"{1} does not show {0} ($a vs $b)\"\n",
                sh_quote(&e.name),
                sh_quote(&e.dir)
            );
            if p.made_sources.contains(&e.name) {
                let marker = if kind(e) == "file" {
                    e.dir.clone()
                } else {
                    format!("{}/.vsrc", e.dir)
                };
                checks += &format!(
                    "[ \"$(cat {0})\" = {1} ] || echo \"{0} lacks the marker of {1}\"\n",
                    sh_quote(&marker),
                    sh_quote(&e.name)
                );
            }
        }
        if kind(e) == "file" {
            checks += &format!(
                "[ -f {0} ] || echo \"{0} is not a file\"\n",
                sh_quote(&e.dir)
            );
        }
    }
    for e in saved.iter().filter(|e| kind(e) == "symlink") {
        let t = e.symlink_target().unwrap_or("");
        checks += &format!(
            "[ \"$(readlink {0})\" = {1} ] || echo \"{0} does not point to {1}\"\n",
            sh_quote(&e.dir),
            sh_quote(t)
        );
    }
    // Entries the plan unmounts, and which nothing mounts again, are gone.
    for (action, e) in &p.expected {
        if action == "unmount"
            && mounts_something(e)
            && !profile_dirs.contains(e.dir.as_str())
            && !p.setup_mounts.contains(&e.dir)
            && mounted.contains(e.dir.as_str())
        {
            bad.push(format!(
                "{} is still mounted after the plan unmounted it",
                e.dir
            ));
        }
    }
    let out = in_namespace(INSTANCE, &format!("{checks}true"));
    bad.extend(out.lines().map(str::to_owned));
    if !bad.is_empty() && !stderr.is_empty() {
        bad.push(format!("snap-update-ns said: {}", stderr.trim()));
    }

    holder.kill().unwrap();
    holder.wait().unwrap();
    let st = Command::new("umount")
        .args(["-l", &format!("/run/snapd/ns/{INSTANCE}.mnt")])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(format!("/run/snapd/ns/{INSTANCE}.mnt")).unwrap();
    if bad.is_empty() {
        let synthetic = saved
            .iter()
            .filter(|e| e.is_synthetic() && e.fs_type == "tmpfs")
            .count();
        let order = match &p.order_unchecked {
            Some(why) => format!("; order not checked: {why}"),
            None => String::new(),
        };
        Ok(format!(
            "{} mounts below the root, {} saved entries, {synthetic} mimics{order}",
            table.len() - p.setup_mounts.len(),
            saved.len()
        ))
    } else {
        Err(bad)
    }
}

#[test]
fn needed_changes_vectors_performed_in_a_namespace() {
    let Some(cases) = load_cases() else { return };
    run_in_world(|_w| {
        let mut failures = Vec::new();
        let (mut from_tests, mut generated, mut skipped) = (0, 0, 0);
        for (idx, case) in cases.iter().enumerate() {
            let name = case["name"].as_str().unwrap();
            let prepared = match prepare(idx, case) {
                Ok(p) => p,
                Err(why) => {
                    eprintln!("SKIPPED {name}: {why}");
                    skipped += 1;
                    continue;
                }
            };
            match run_case(&prepared) {
                Ok(what) => {
                    eprintln!("ok {name}: {what}");
                    if name.starts_with("generated:") {
                        generated += 1;
                    } else {
                        from_tests += 1;
                    }
                }
                Err(bad) => {
                    eprintln!("FAILED {}:\n  {}", prepared.name, bad.join("\n  "));
                    failures.push(format!("{}: {}", prepared.name, bad.join("; ")));
                }
            }
        }
        eprintln!(
            "{from_tests} vectors from snapd's tests and {generated} generated ones performed; {skipped} skipped; {} failed",
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{} vectors failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(
            from_tests >= 36,
            "only {from_tests} of snapd's test vectors were performed"
        );
    });
}
