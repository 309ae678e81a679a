//! The instance-name cases of snapd's `cli_args.json` (snap-update-ns'
//! bootstrap validator, shared with snap-confine).
mod common;

use common::{cases, check_all};
use snapcell_core::naming::{self, validate_instance_name};

#[test]
fn instance_name_validate() {
    let Some(all) = cases("cli_args.json") else {
        return;
    };
    let cases: Vec<_> = all
        .into_iter()
        .filter(|c| c["kind"].as_str() == Some("instance_name_validate"))
        .collect();
    assert!(!cases.is_empty(), "no instance_name_validate cases");
    check_all("cli_args.json (instance_name_validate)", &cases, |c| {
        let name = c["input"]["instance_name"]
            .as_str()
            .ok_or("no instance_name")?;
        let want_ok = c["expected"]["ok"].as_bool().ok_or("no expected.ok")?;
        let got = validate_instance_name(name);
        if got.is_ok() != want_ok {
            return Err(format!("got {got:?}, expected ok={want_ok}"));
        }
        if let Some(want) = c["expected"]["error"].as_str() {
            let msg = got.as_ref().err().map(ToString::to_string);
            if msg.as_deref() != Some(want) {
                return Err(format!("got {msg:?}, expected error {want:?}"));
            }
        }
        // A valid instance name splits into a valid snap name and key.
        if want_ok {
            let (snap, key) = naming::split_instance_name(name);
            naming::validate_snap_name(snap).map_err(|e| e.to_string())?;
            if !key.is_empty() {
                naming::validate_instance_key(key).map_err(|e| e.to_string())?;
            }
            if naming::instance_name(snap, key) != name {
                return Err("split and join do not round-trip".into());
            }
        }
        Ok(())
    });
}
