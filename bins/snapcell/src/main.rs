//! snapcell: the standalone front end.
//!
//! It gives command-line access to the core, which users debug their snaps
//! with (`profile check`, `layout`, `plan`), packs snaps (`pack`), builds
//! bases (`base build`), and describes itself (`completions`, `man`). Each
//! newer verb lives in a file of its own.
#![forbid(unsafe_code)]

mod base;
mod connect;
mod docs;
mod input;
mod inspect;
mod install;
mod list;
mod pack;
mod remove;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use snapcell_core::dirs::Dirs;
use snapcell_core::entry::MountEntry;
use snapcell_core::plan::{Change, FsView, needed_changes};
use snapcell_core::profile::Profile;
use snapcell_core::{layout, naming};
use snapcell_sys::fsview::DirFsView;
use snapcell_sys::ns;
use snapcell_sys::profile_io::load_profile;

#[derive(Parser)]
#[command(
    name = "snapcell",
    version,
    about = "A memory-safe implementation of the snap application sandbox"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mount profiles (snapd's fstab format).
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Validate a snap and print the mount profile its layouts produce.
    #[command(after_help = "Examples:
  snapcell layout examples/hello
  snapcell layout examples/hello/meta/snap.yaml --revision 42
  cat snap.yaml | snapcell layout -")]
    Layout {
        /// A snap.yaml file, a snap directory (containing meta/snap.yaml), or - for standard input.
        snap: PathBuf,
        /// The revision $SNAP and $SNAP_DATA expand with.
        #[arg(long, default_value = "x1")]
        revision: String,
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the changes snap-update-ns would make, one a line: ACTION<TAB>ENTRY.
    #[command(long_about = PLAN_ABOUT, after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Install a snap (a .snap file or a directory); again: refresh it.
    Install(install::InstallArgs),
    /// Install a snap directory in place, for development.
    Try(install::TryArgs),
    /// Run an app of an installed snap in its sandbox.
    Run(run::RunArgs),
    /// List the installed snaps.
    List(list::ListArgs),
    /// Show details about an installed snap.
    Info(list::InfoArgs),
    /// Remove a snap with all its revisions and data.
    Remove(remove::RemoveArgs),
    /// Go back to a snap's previous revision.
    Revert(remove::RevertArgs),
    /// Connect a plug to a slot.
    Connect(connect::ConnectArgs),
    /// Disconnect a plug from a slot.
    Disconnect(connect::DisconnectArgs),
    /// List the interface connections.
    Connections(connect::ConnectionsArgs),
    /// Show a snap's live namespace as a tree, its pending profile changes and its confinement.
    Inspect(inspect::InspectArgs),
    /// Pack a snap directory into a .snap, checking it as `snap pack` does.
    Pack(pack::PackArgs),
    /// Base snaps.
    Base {
        #[command(subcommand)]
        command: base::BaseCommand,
    },
    /// Print shell completions for snapcell.
    Completions(docs::CompletionsArgs),
    /// Print snapcell's manual page (or a subcommand's), in roff.
    Man(docs::ManArgs),
}

const PLAN_ABOUT: &str =
    "Print the changes snap-update-ns would make, one a line: ACTION<TAB>ENTRY, \
in the order it would make them (ACTION is keep, unmount or mount).

It works in one of two modes:

  snapcell plan NAME
      against a running snap: the current profile /run/snapd/ns/snap.NAME.fstab, the desired \
profile /var/lib/snapd/mount/snap.NAME.fstab, and the file system of the snap's preserved mount \
namespace /run/snapd/ns/NAME.mnt (entered read-only; nothing is changed). Needs root.

  snapcell plan --current FILE --desired FILE [--root DIR]
      against two profile files, with DIR (default /) standing in for the namespace's root \
file system. Either FILE may be - for standard input. Needs no namespace.";

const PLAN_EXAMPLES: &str = "Examples:
  snapcell plan hello
  snapcell plan --current current.fstab --desired desired.fstab --root /tmp/fake-root";

#[derive(Subcommand)]
enum ProfileCommand {
    /// Parse and check a mount profile and print each entry back in canonical form.
    #[command(
        long_about = "Parse and check a mount profile (snapd's fstab format) and print each \
entry back in canonical form. Besides the syntax, each entry's x-snapd.kind, x-snapd.mode, \
x-snapd.user and x-snapd.group values are checked, the mount point must be absolute, and no field \
may hold a NUL byte. Errors name FILE:LINE.",
        after_help = "Examples:
  snapcell profile check /var/lib/snapd/mount/snap.hello.fstab
  snapcell profile check - < my.fstab"
    )]
    Check {
        /// The profile file, or - for standard input.
        file: PathBuf,
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The snap instance whose preserved namespace and profiles to plan against (first mode).
    #[arg(conflicts_with_all = ["current", "desired", "root"])]
    name: Option<String>,
    /// The current profile (what was applied), instead of /run/snapd/ns/snap.NAME.fstab (second mode).
    #[arg(long, value_name = "FILE", requires = "desired")]
    current: Option<PathBuf>,
    /// The desired profile, instead of /var/lib/snapd/mount/snap.NAME.fstab (second mode).
    #[arg(long, value_name = "FILE", requires = "current")]
    desired: Option<PathBuf>,
    /// A directory standing in for the namespace's root file system (second mode) [default: /].
    #[arg(long, value_name = "DIR", requires = "current")]
    root: Option<PathBuf>,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(target) = argv.first().and_then(run::target_from_argv0) {
        // /snap/bin/NAME.APP: snap run NAME.APP ARGS.
        let args = run::RunArgs {
            shell: false,
            without_file_confinement: false,
            trace: false,
            target,
            args: argv[1..].to_vec(),
        };
        return finish(run::run(args).map_err(|e| format!("error: {e}")));
    }
    let cli = Cli::parse();
    let snap_error = |e: String| format!("error: {e}");
    if let Command::Plan(PlanArgs {
        name: None,
        current: None,
        desired: None,
        ..
    }) = &cli.command
    {
        Cli::command()
            .find_subcommand_mut("plan")
            .map(|c| c.clone().bin_name("snapcell plan"))
            .unwrap_or_else(Cli::command)
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "give a snap NAME, or --current FILE and --desired FILE (see --help for the two modes)",
            )
            .exit();
    }
    let result = match cli.command {
        Command::Profile {
            command: ProfileCommand::Check { file, json },
        } => profile_check(&file, json),
        Command::Layout {
            snap,
            revision,
            json,
        } => layout_cmd(&snap, &revision, json),
        Command::Plan(args) => plan_cmd(args),
        Command::Install(args) => install::install(args).map_err(snap_error),
        Command::Try(args) => install::try_dir(args).map_err(snap_error),
        Command::Run(args) => run::run(args).map_err(snap_error),
        Command::List(args) => list::list(args).map_err(snap_error),
        Command::Info(args) => list::info(args).map_err(snap_error),
        Command::Remove(args) => remove::remove(args).map_err(snap_error),
        Command::Revert(args) => remove::revert(args).map_err(snap_error),
        Command::Connect(args) => connect::connect(args).map_err(snap_error),
        Command::Disconnect(args) => connect::disconnect(args).map_err(snap_error),
        Command::Connections(args) => connect::connections(args).map_err(snap_error),
        Command::Inspect(args) => inspect::inspect(args).map_err(snap_error),
        Command::Pack(args) => pack::run(args),
        Command::Base { command } => base::run(command),
        Command::Completions(args) => docs::completions(&args, Cli::command()),
        Command::Man(args) => docs::man(&args, Cli::command()),
    };
    finish(result)
}

/// Print the output or the error; exit 0 or 1, as the snap command does.
fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// A profile as text, or as JSON (`--json`): a list of entries.
fn show_profile(profile: &Profile, json: bool) -> String {
    if !json {
        return profile.to_string();
    }
    let entries: Vec<serde_json::Value> = profile.entries.iter().map(entry_json).collect();
    format!("{}\n", serde_json::Value::Array(entries))
}

fn entry_json(e: &MountEntry) -> serde_json::Value {
    serde_json::json!({
        "source": e.name,
        "target": e.dir,
        "type": e.fs_type,
        "options": e.options,
        "freq": e.freq,
        "passno": e.passno,
        "entry": e.to_string(),
    })
}

fn profile_check(file: &Path, json: bool) -> Result<String, String> {
    input::read_profile(file).map(|p| show_profile(&p, json))
}

fn layout_cmd(snap: &Path, revision: &str, json: bool) -> Result<String, String> {
    let yaml = input::read_snap_yaml(snap)?;
    let info = input::parse_snap_yaml(&yaml)?;
    naming::validate_revision_for_layout(revision)
        .map_err(|e| format!("cannot use revision: {e}"))?;
    input::validate_snap_yaml(&yaml, &info)?;
    let entries = layout::to_mount_entries(&info.name, revision, &info.layout);
    Ok(show_profile(&Profile::from(entries), json))
}

fn plan_cmd(args: PlanArgs) -> Result<String, String> {
    let (current, desired, view) = match (&args.name, &args.current, &args.desired) {
        (Some(name), _, _) => {
            naming::validate_instance_name(name)
                .map_err(|e| format!("cannot plan for {name:?}: {e}"))?;
            if args.root.is_some() {
                return Err("cannot plan: --root goes with --current and --desired".to_owned());
            }
            let current = load_profile(Path::new(&Dirs::HOST.current_profile(name)))
                .map_err(|e| e.to_string())?;
            let desired = load_profile(Path::new(&Dirs::HOST.desired_profile(name)))
                .map_err(|e| e.to_string())?;
            let ns_file = PathBuf::from(Dirs::HOST.preserved_ns(name));
            ns::enter_mount_namespace(&ns_file).map_err(|e| {
                format!("cannot plan for snap {name}: {e} (use --current, --desired and --root to plan without one)")
            })?;
            (
                current,
                desired,
                DirFsView::open(Path::new("/")).map_err(|e| e.to_string())?,
            )
        }
        (None, Some(current), Some(desired)) => {
            if current == Path::new("-") && desired == Path::new("-") {
                return Err(
                    "cannot plan: only one of --current and --desired can be standard input"
                        .to_owned(),
                );
            }
            let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
            if !root.is_dir() {
                return Err(format!(
                    "cannot plan: --root {}: not a directory",
                    root.display()
                ));
            }
            (
                input::read_profile_syntax(current)?,
                input::read_profile_syntax(desired)?,
                DirFsView::open(&root).map_err(|e| e.to_string())?,
            )
        }
        _ => return Err("cannot plan: give a snap name, or --current and --desired".to_owned()),
    };
    Ok(render(
        &needed_changes(&current.entries, &desired.entries, &view as &dyn FsView),
        args.json,
    ))
}

fn render(changes: &[Change], json: bool) -> String {
    if !json {
        return changes.iter().map(|c| format!("{c}\n")).collect();
    }
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            let text = c.to_string();
            let (action, _) = text.split_once('\t').unwrap_or((&text, ""));
            serde_json::json!({ "action": action, "entry": entry_json(&c.entry) })
        })
        .collect();
    format!("{}\n", serde_json::Value::Array(rows))
}
