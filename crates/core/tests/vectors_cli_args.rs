//! snapd's command-line vectors for snap-confine and snap-update-ns.
mod common;

use common::{cases, check_all};
use serde_json::Value;
use snapcell_core::args::{parse_confine_args, parse_update_ns_args};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

#[test]
fn snap_confine_args() {
    let Some(all) = cases("cli_args.json") else {
        return;
    };
    let cases: Vec<Value> = all
        .into_iter()
        .filter(|c| c["kind"] == "snap_confine_args")
        .collect();
    assert_eq!(cases.len(), 10);
    check_all("cli_args.json (snap_confine_args)", &cases, |c| {
        let e = &c["expected"];
        match (
            e["ok"].as_bool().unwrap(),
            parse_confine_args(&strings(&c["input"]["argv"])),
        ) {
            (true, Ok(a))
                if a.security_tag == opt(&e["security_tag"])
                    && a.executable == opt(&e["executable"])
                    && a.version_query == e["version_query"].as_bool().unwrap()
                    && a.classic == e["classic"].as_bool().unwrap()
                    && a.base_snap == opt(&e["base_snap"])
                    && a.remaining_argv == strings(&e["remaining_argv"]) =>
            {
                Ok(())
            }
            (false, Err(err)) if err.to_string() == e["error"].as_str().unwrap() => Ok(()),
            (_, got) => Err(format!("got {got:?}, expected {e}")),
        }
    });
}

#[test]
fn snap_update_ns_args() {
    let Some(all) = cases("cli_args.json") else {
        return;
    };
    let cases: Vec<Value> = all
        .into_iter()
        .filter(|c| c["kind"] == "snap_update_ns_args")
        .collect();
    assert_eq!(cases.len(), 38);
    check_all("cli_args.json (snap_update_ns_args)", &cases, |c| {
        let e = &c["expected"];
        match (
            e["ok"].as_bool().unwrap(),
            parse_update_ns_args(&strings(&c["input"]["argv"])),
        ) {
            (true, Ok(a))
                if a.instance_name == e["snap_name"].as_str().unwrap()
                    && a.should_setns == e["should_setns"].as_bool().unwrap()
                    && a.process_user_fstab == e["process_user_fstab"].as_bool().unwrap()
                    && u64::from(a.uid) == e["uid"].as_u64().unwrap() =>
            {
                Ok(())
            }
            (false, Err(err)) if err.to_string() == e["error"].as_str().unwrap() => Ok(()),
            (_, got) => Err(format!("got {got:?}, expected {e}")),
        }
    });
}
