//! Loading snapd's conformance vectors from `../shared/spec/vectors/`.
//!
//! The vectors are not copied into the project: they are read from the
//! `shared/` folder that sits beside the repository (CI lays it there). Set
//! `SNAPCELL_VECTORS` to read them from elsewhere. Where the folder is absent
//! the vector tests say so on stderr and skip; the project's own tests still run.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use snapcell_core::entry::MountEntry;

/// The vectors folder, if it can be found.
pub fn vectors_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SNAPCELL_VECTORS") {
        return Some(PathBuf::from(dir));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/spec/vectors"))
        .find(|p| p.join("README.md").is_file())
}

/// The cases of one vector file, or `None` (with a note on stderr) where the
/// vectors are not available.
pub fn cases(file: &str) -> Option<Vec<Value>> {
    let Some(dir) = vectors_dir() else {
        eprintln!(
            "SKIPPED: snapd vectors folder ../shared/spec/vectors not found; {file} not checked"
        );
        return None;
    };
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    let cases = doc["cases"].as_array().expect("cases array").clone();
    assert_eq!(
        cases.len() as u64,
        doc["count"].as_u64().expect("count"),
        "{file}: count mismatch"
    );
    Some(cases)
}

/// A vector's mount entry object (`options: null` is an empty list).
pub fn entry(v: &Value) -> MountEntry {
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("entry field {k} in {v}"))
            .to_owned()
    };
    MountEntry {
        name: s("name"),
        dir: s("dir"),
        fs_type: s("type"),
        options: match &v["options"] {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .iter()
                .map(|o| o.as_str().expect("option string").to_owned())
                .collect(),
            other => panic!("options must be null or a list, got {other}"),
        },
        freq: v["freq"].as_i64().expect("freq"),
        passno: v["passno"].as_i64().expect("passno"),
    }
}

/// A list of vector entries.
pub fn entries(v: &Value) -> Vec<MountEntry> {
    v.as_array()
        .map(|a| a.iter().map(entry).collect())
        .unwrap_or_default()
}

/// Run `check` on each case, collecting failures so one run reports all of
/// them; panics at the end if any failed. Returns the number checked.
pub fn check_all(
    file: &str,
    cases: &[Value],
    mut check: impl FnMut(&Value) -> Result<(), String>,
) -> usize {
    let mut failures = Vec::new();
    for case in cases {
        if let Err(msg) = check(case) {
            failures.push(format!("{}: {msg}", case["name"].as_str().unwrap_or("?")));
        }
    }
    assert!(
        failures.is_empty(),
        "{file}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{file}: {} cases passed", cases.len());
    cases.len()
}
