//! snapd's `NeededChanges` vectors: the change planner of snap-update-ns (spec §3.3).
mod common;

use common::{cases, check_all, entries, entry};
use serde_json::Value;
use snapcell_core::plan::{Action, MemFs, needed_changes};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn action(s: &str) -> Option<Action> {
    match s {
        "keep" => Some(Action::Keep),
        "unmount" => Some(Action::Unmount),
        "mount" => Some(Action::Mount),
        _ => None,
    }
}

#[test]
fn needed_changes_vectors() {
    let Some(cases) = cases("needed_changes.json") else {
        return;
    };
    let n = check_all("needed_changes.json", &cases, |c| {
        let input = &c["input"];
        let fs = MemFs::new(
            strings(&input["fs"]["existing_dirs"]),
            strings(&input["fs"]["existing_files"]),
            strings(&input["fs"]["existing_symlinks"]),
        );
        let got = needed_changes(
            &entries(&input["current"]),
            &entries(&input["desired"]),
            &fs,
        );
        let want = c["expected"]["changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let render = |lines: Vec<String>| lines.join("\n    ");
        let got_lines: Vec<String> = got.iter().map(ToString::to_string).collect();
        let want_lines: Vec<String> = want
            .iter()
            .map(|w| {
                format!(
                    "{}\t{}",
                    w["action"].as_str().unwrap_or("?"),
                    w["line"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let mismatch = || {
            format!(
                "got:\n    {}\nexpected:\n    {}",
                render(got_lines.clone()),
                render(want_lines.clone())
            )
        };
        if got.len() != want.len() {
            return Err(format!(
                "{} changes, expected {}; {}",
                got.len(),
                want.len(),
                mismatch()
            ));
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let want_action = w["action"].as_str().and_then(action);
            if Some(g.action) != want_action
                || g.entry != entry(&w["entry"])
                || Some(g.entry.to_string().as_str()) != w["line"].as_str()
            {
                return Err(format!("change {i} differs; {}", mismatch()));
            }
        }
        Ok(())
    });
    assert_eq!(n, 78);
}
