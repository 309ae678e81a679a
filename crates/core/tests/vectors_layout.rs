//! snapd's layout vectors: validation (whole snap and single item), layout
//! to fstab conversion, and the final assembly of the mount profile. Every
//! case that carries a `snap_yaml` fragment is checked twice: from the
//! structured input and through the snap.yaml parser.
mod common;

use std::collections::BTreeMap;

use common::{cases, check_all, entries};
use serde_json::Value;
use snapcell_core::entry::MountEntry;
use snapcell_core::layout::{self, Constraint, Layout};
use snapcell_core::mount_spec;
use snapcell_core::paths;
use snapcell_core::snap_yaml::SnapInfo;

/// A layout item of the vectors. Absent fields are Go's zero values (so an
/// absent user is "", not "root"), as in snapd's own tests.
fn layout_item(v: &Value) -> Result<Layout, String> {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let mode = match v["mode"].as_str() {
        Some(m) => layout::parse_mode(m).map_err(|e| format!("mode {m:?}: {e}"))?,
        None => 0,
    };
    Ok(Layout {
        bind: s("bind"),
        bind_file: s("bind-file"),
        fs_type: s("type"),
        symlink: s("symlink"),
        user: s("user"),
        group: s("group"),
        mode,
    })
}

fn layout_map(v: &Value) -> Result<BTreeMap<String, Layout>, String> {
    v.as_object()
        .ok_or("layout is not an object")?
        .iter()
        .map(|(p, item)| Ok((p.clone(), layout_item(item)?)))
        .collect()
}

fn constraint(v: &Value) -> Result<Constraint, String> {
    let path = v["path"]
        .as_str()
        .ok_or("constraint without path")?
        .to_owned();
    Ok(match v["kind"].as_str() {
        Some("mounted_tree") => Constraint::MountedTree(path),
        Some("mounted_file") => Constraint::MountedFile(path),
        Some("symlink_file") => Constraint::SymlinkFile(path),
        // snapd's test stub, recorded under its Go type name.
        Some("always_off_limits" | "snap_test.testConstraint") => Constraint::AlwaysOffLimits(path),
        other => return Err(format!("unknown constraint kind {other:?}")),
    })
}

/// Compare a validation result with `expected` (`ok`, `error`).
fn compare<E: std::fmt::Display>(got: Result<(), E>, expected: &Value) -> Result<(), String> {
    let ok = expected["ok"].as_bool().ok_or("expected.ok missing")?;
    match (ok, got) {
        (true, Ok(())) => Ok(()),
        (false, Err(e)) if e.to_string() == expected["error"].as_str().unwrap_or("") => Ok(()),
        (_, got) => Err(format!(
            "got {:?}, expected {expected}",
            got.map_err(|e| e.to_string())
        )),
    }
}

/// Parse a vector's snap.yaml fragment and check it names the snap and
/// gives the same layout as the structured input, modulo the defaults the
/// parser fills in (user/group root, mode 0755 are given explicitly there).
fn parse_yaml(case: &Value, structured: &BTreeMap<String, Layout>) -> Result<SnapInfo, String> {
    let input = &case["input"];
    let yaml = input["snap_yaml"].as_str().ok_or("no snap_yaml")?;
    let info = SnapInfo::parse(yaml).map_err(|e| format!("snap.yaml: {e}"))?;
    if info.name != input["snap_name"].as_str().unwrap_or("") {
        return Err(format!("snap.yaml names {:?}", info.name));
    }
    if &info.layout != structured {
        return Err(format!(
            "snap.yaml layout {:?} differs from the structured one {:?}",
            info.layout, structured
        ));
    }
    Ok(info)
}

#[test]
fn layout_validate() {
    let Some(cases) = cases("layout_validate.json") else {
        return;
    };
    let (mut all, mut single) = (0, 0);
    check_all("layout_validate.json", &cases, |c| {
        let input = &c["input"];
        let name = input["snap_name"].as_str().ok_or("no snap_name")?;
        let revision = input["revision"].as_str().ok_or("no revision")?;
        match c["kind"].as_str() {
            Some("validate_layout_all") => {
                all += 1;
                let map = layout_map(&input["layout"])?;
                compare(layout::validate_all(name, revision, &map), &c["expected"])
                    .map_err(|e| format!("structured: {e}"))?;
                let info = parse_yaml(c, &map)?;
                compare(
                    layout::validate_all(&info.name, revision, &info.layout),
                    &c["expected"],
                )
                .map_err(|e| format!("via snap.yaml: {e}"))
            }
            Some("validate_layout_single") => {
                single += 1;
                let path = input["path"].as_str().ok_or("no path")?;
                let item = layout_item(&input["layout"])?;
                let prior = input["prior_constraints"]
                    .as_array()
                    .ok_or("no prior_constraints")?
                    .iter()
                    .map(constraint)
                    .collect::<Result<Vec<_>, _>>()?;
                compare(
                    layout::validate_layout(name, revision, path, &item, &prior),
                    &c["expected"],
                )
            }
            other => Err(format!("unknown kind {other:?}")),
        }
    });
    eprintln!(
        "layout_validate.json: {all} whole-snap cases (each also via snap.yaml), {single} single-item cases"
    );
    assert_eq!(all + single, cases.len());
}

#[test]
fn layout_to_fstab() {
    let Some(cases) = cases("layout_to_fstab.json") else {
        return;
    };
    check_all("layout_to_fstab.json", &cases, |c| {
        let input = &c["input"];
        let name = input["snap_name"].as_str().ok_or("no snap_name")?;
        let revision = input["revision"].as_str().ok_or("no revision")?;
        let want = entries(&c["expected"]["entries"]);
        let want_lines: Vec<&str> = c["expected"]["fstab_lines"]
            .as_array()
            .ok_or("no fstab_lines")?
            .iter()
            .map(|l| l.as_str().unwrap_or(""))
            .collect();
        let check = |how: &str, got: Vec<MountEntry>| -> Result<(), String> {
            if got != want {
                return Err(format!("{how}: got {got:?}, expected {want:?}"));
            }
            let lines: Vec<String> = got.iter().map(ToString::to_string).collect();
            if lines != want_lines {
                return Err(format!(
                    "{how}: got lines {lines:?}, expected {want_lines:?}"
                ));
            }
            // Reading the lines back and writing them again gives the same
            // text (reading does not turn `none` back into "").
            for l in &lines {
                let again = MountEntry::parse(l).map(|e| e.to_string());
                if again.as_deref() != Ok(l.as_str()) {
                    return Err(format!("{how}: {l:?} reads back as {again:?}"));
                }
            }
            Ok(())
        };
        let map = layout_map(&input["layout"])?;
        check("structured", layout::to_mount_entries(name, revision, &map))?;
        let info = parse_yaml(c, &map)?;
        check("via snap.yaml", info.layout_entries(revision))?;
        // Validation agrees with the note on the one invalid case.
        let note = c["expected"]["note_validation_error"].as_str();
        let valid = layout::validate_all(name, revision, &map).map_err(|e| e.to_string());
        match (note, valid) {
            (None, Ok(())) => {}
            (Some(n), Err(e)) if n == e => {}
            (n, v) => return Err(format!("validation {v:?}, note {n:?}")),
        }
        // Layout entries survive the final assembly unchanged, after the
        // overname entries of a parallel instance.
        let key = input["instance_key"].as_str().unwrap_or("");
        let instance = if key.is_empty() {
            name.to_owned()
        } else {
            format!("{name}_{key}")
        };
        let overname = mount_spec::overname_entries(&instance);
        let assembled = mount_spec::mount_entries(&overname, &want, &[]);
        if assembled[overname.len()..] != want[..]
            || overname.len() != if key.is_empty() { 0 } else { 2 }
        {
            return Err(format!("assembly changed layout entries: {assembled:?}"));
        }
        Ok(())
    });
}

#[test]
fn spec_mount_entries() {
    let Some(cases) = cases("spec_mount_entries.json") else {
        return;
    };
    check_all("spec_mount_entries.json", &cases, |c| {
        let input = &c["input"];
        let overname = entries(&input["overname"]);
        let got = mount_spec::mount_entries(
            &overname,
            &entries(&input["layout"]),
            &entries(&input["general"]),
        );
        let want = entries(&c["expected"]["entries"]);
        if got != want {
            return Err(format!("got {got:?}, expected {want:?}"));
        }
        let lines: Vec<String> = got.iter().map(ToString::to_string).collect();
        let want_lines: Vec<String> = c["expected"]["fstab_lines"]
            .as_array()
            .ok_or("no fstab_lines")?
            .iter()
            .map(|l| l.as_str().unwrap_or("").to_owned())
            .collect();
        if lines != want_lines {
            return Err(format!("got lines {lines:?}, expected {want_lines:?}"));
        }
        // Where the case has overname entries, we make the same ones from
        // the instance name (the base name of the first source).
        if let Some(first) = overname.first() {
            let instance = paths::base(&first.name);
            let made = mount_spec::overname_entries(&instance);
            if made != overname {
                return Err(format!("overname_entries({instance:?}) = {made:?}"));
            }
        }
        Ok(())
    });
}
