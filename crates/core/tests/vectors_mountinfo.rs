//! snapd's mountinfo vectors: every field, the canonical line, exact errors.
mod common;

use std::collections::BTreeMap;

use common::{cases, check_all};
use serde_json::Value;
use snapcell_core::mountinfo::MountInfoEntry;

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("option map")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("option value").to_owned()))
        .collect()
}

/// The vector's entry object as a `MountInfoEntry`.
fn expected_entry(v: &Value) -> MountInfoEntry {
    let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("number {k} in {v}"));
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("string {k} in {v}"))
            .to_owned()
    };
    MountInfoEntry {
        mount_id: n("mount_id"),
        parent_id: n("parent_id"),
        dev_major: n("dev_major"),
        dev_minor: n("dev_minor"),
        root: s("root"),
        mount_dir: s("mount_dir"),
        mount_options: string_map(&v["mount_options"]),
        optional_fields: v["optional_fields"]
            .as_array()
            .expect("optional_fields")
            .iter()
            .map(|f| f.as_str().expect("optional field").to_owned())
            .collect(),
        fs_type: s("fs_type"),
        mount_source: s("mount_source"),
        super_options: string_map(&v["super_options"]),
    }
}

#[test]
fn mountinfo_parse() {
    let Some(cases) = cases("mountinfo_parse.json") else {
        return;
    };
    let checked = check_all("mountinfo_parse.json", &cases, |c| {
        let line = c["input"]["line"].as_str().unwrap();
        let expected = &c["expected"];
        match (
            expected["ok"].as_bool().unwrap(),
            MountInfoEntry::parse(line),
        ) {
            (true, Ok(got)) => {
                let want = expected_entry(&expected["entry"]);
                if got != want {
                    return Err(format!("got {got:?}, expected {want:?}"));
                }
                let canonical = got.to_string();
                let want = expected["canonical"].as_str().unwrap();
                if canonical != want {
                    return Err(format!("canonical {canonical:?}, expected {want:?}"));
                }
                Ok(())
            }
            (false, Err(err)) if err.to_string() == expected["error"].as_str().unwrap() => Ok(()),
            (_, got) => Err(format!("got {got:?}, expected {expected}")),
        }
    });
    assert_eq!(checked, 53);
}
