//! snapd's application environment vectors (`snap_exec_env.json`): the
//! basic and user environments of `snap run`, and snap-exec's argv and
//! environment for apps.
mod common;

use std::collections::BTreeMap;

use common::{cases, check_all};
use serde_json::Value;
use snapcell_core::snap_yaml::{AppInfo, Confinement, Environment};
use snapcell_core::snapenv::{
    AppExec, BasicInputs, Env, RunInfo, UserDirOptions, UserInputs, XDG_RUNTIME_DIR_BASE,
    basic_env, exec_app, split_snap_app, user_env,
};

/// What stands for `{PATH}`, the incoming PATH of snapd's test process.
const TEST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn subst(v: &str) -> String {
    v.replace("{PATH}", TEST_PATH)
}

fn string_map(v: &Value) -> Env {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), subst(s(v)))).collect())
        .unwrap_or_default()
}

fn run_info(v: &Value) -> RunInfo {
    RunInfo {
        snap_name: s(&v["snap_name"]).to_owned(),
        instance_key: s(&v["instance_key"]).to_owned(),
        revision: s(&v["revision"]).to_owned(),
        version: s(&v["version"]).to_owned(),
        confinement: match s(&v["confinement"]) {
            "" => Confinement::Strict,
            c => Confinement::from_yaml(c).unwrap(),
        },
    }
}

fn compare(what: &str, got: &Env, want: &Env) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

/// Inputs snapd's tests set up on the side and the vectors do not record:
/// the test that moved the runtime directories under its root, and the two
/// completion tests that placed snap-exec in different directories.
fn xdg_runtime_dir_base(name: &str) -> String {
    if name == "HTestSuite.TestParallelInstallUserForClassicConfinement#1" {
        format!("{{ROOT}}{XDG_RUNTIME_DIR_BASE}")
    } else {
        XDG_RUNTIME_DIR_BASE.to_owned()
    }
}

fn snap_exec_dir(name: &str) -> &'static str {
    if name.contains("TestSnapExecCompleteClassicNoReexec") {
        "{ROOT}/usr/lib/snapd"
    } else if name.contains("TestSnapExecCompleteClassicReexec") {
        "{ROOT}/snap/core/current/usr/lib/snapd"
    } else {
        "/usr/lib/snapd"
    }
}

fn check_basic(c: &Value) -> Result<(), String> {
    let inp = &c["input"];
    let env = basic_env(
        &run_info(&inp["info"]),
        &BasicInputs {
            uid: 0,
            euid: 0,
            arch: "amd64",
            snap_reexec: inp["process_env"]["SNAP_REEXEC"].as_str().unwrap_or(""),
            save_data_exists: false,
            component: None,
        },
    );
    compare("env", &env, &string_map(&c["expected"]["env"]))
}

fn check_user(c: &Value) -> Result<(), String> {
    let inp = &c["input"];
    let base = xdg_runtime_dir_base(s(&c["name"]));
    let env = user_env(
        &run_info(&inp["info"]),
        &UserInputs {
            home: Some(s(&inp["home"])),
            euid: 0,
            opts: UserDirOptions {
                hidden_snap_data_dir: inp["opts"]["hidden_snap_data_dir"].as_bool().unwrap(),
                migrated_to_exposed_home: inp["opts"]["migrated_to_exposed_home"]
                    .as_bool()
                    .unwrap(),
            },
            classic_preserves_xdg_runtime_dir: inp["feature_classic_preserves_xdg_runtime_dir"]
                .as_bool()
                .unwrap(),
            xdg_runtime_dir_base: &base,
        },
    );
    compare("env", &env, &string_map(&c["expected"]["env"]))
}

fn check_exec(c: &Value) -> Result<(), String> {
    let inp = &c["input"];
    let a = &inp["app"];
    let command_opt = s(&inp["command_opt"]);
    let command = s(&a["command"]).to_owned();
    let mut app = AppInfo {
        completer: s(&a["completer"]).to_owned(),
        command_chain: a["command_chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| s(x).to_owned())
            .collect(),
        ..AppInfo::default()
    };
    match command_opt {
        "stop" => app.stop_command = command,
        "reload" => app.reload_command = command,
        "post-stop" => app.post_stop_command = command,
        _ => app.command = command,
    }
    let chain: Vec<Environment> = a["env_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|level| {
            level
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| (s(&kv[0]).to_owned(), s(&kv[1]).to_owned()))
                .collect()
        })
        .collect();
    assert_eq!(chain.len(), 2, "env_chain is snap-level then app-level");
    app.environment = chain[1].clone();
    let args: Vec<String> = inp["extra_args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| s(x).to_owned())
        .collect();
    let incoming = string_map(&inp["process_env_snap_vars"]);
    let (_, app_name) = split_snap_app(s(&inp["snap_target"]));
    let got = exec_app(
        &AppExec {
            app_name,
            app: &app,
            snap_environment: &chain[0],
            mount_dir: s(&inp["mount_dir"]),
            command: command_opt,
            args: &args,
            snap_exec_dir: snap_exec_dir(s(&c["name"])),
            cups_on_own_device: false,
        },
        incoming.clone(),
    )
    .map_err(|e| format!("error: {e}"))?;

    let want_argv: Vec<String> = c["expected"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| subst(s(x)))
        .collect();
    if got.argv != want_argv {
        return Err(format!("argv: got {:?}, expected {want_argv:?}", got.argv));
    }
    let changed: Env = got
        .env
        .iter()
        .filter(|(k, v)| incoming.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    compare(
        "env_set_or_changed",
        &changed,
        &string_map(&c["expected"]["env_set_or_changed"]),
    )?;
    let removed: Vec<&String> = incoming
        .keys()
        .filter(|k| !got.env.contains_key(*k))
        .collect();
    let want_removed: Vec<&str> = c["expected"]["env_removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    if removed != want_removed {
        return Err(format!(
            "env_removed: got {removed:?}, expected {want_removed:?}"
        ));
    }
    Ok(())
}

#[test]
fn snap_exec_env() {
    let Some(cases) = cases("snap_exec_env.json") else {
        return;
    };
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let n = check_all("snap_exec_env.json", &cases, |c| {
        let kind = s(&c["kind"]);
        *kinds.entry(kind.to_owned()).or_default() += 1;
        match kind {
            "basic_env" => check_basic(c),
            "user_env" => check_user(c),
            "snap_exec_app" => check_exec(c),
            other => Err(format!("unknown kind {other}")),
        }
    });
    assert_eq!(n, 28);
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}
