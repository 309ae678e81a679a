//! snapcell: the standalone front end.
//!
//! Today it gives command-line access to the core, which users debug their
//! snaps with: `profile check`, `layout` and `plan`.
#![forbid(unsafe_code)]

mod install;
mod list;
mod remove;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use snapcell_core::dirs::Dirs;
use snapcell_core::plan::{Change, FsView, needed_changes};
use snapcell_core::profile::Profile;
use snapcell_core::snap_yaml::SnapInfo;
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
    Layout {
        /// A snap.yaml file or a snap directory (containing meta/snap.yaml).
        snap: PathBuf,
        /// The revision $SNAP and $SNAP_DATA expand with.
        #[arg(long, default_value = "x1")]
        revision: String,
    },
    /// Print the changes snap-update-ns would make, one a line: ACTION<TAB>ENTRY.
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
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Parse a mount profile and print each entry back in canonical form.
    Check {
        /// The profile file.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The snap instance whose preserved namespace and profiles to plan against.
    #[arg(required_unless_present_all = ["current", "desired"], conflicts_with_all = ["current", "desired", "root"])]
    name: Option<String>,
    /// The current profile (what was applied), instead of /run/snapd/ns/snap.NAME.fstab.
    #[arg(long, requires = "desired")]
    current: Option<PathBuf>,
    /// The desired profile, instead of /var/lib/snapd/mount/snap.NAME.fstab.
    #[arg(long, requires = "current")]
    desired: Option<PathBuf>,
    /// A directory standing in for the namespace's root file system.
    #[arg(long, requires = "current", default_value = "/")]
    root: PathBuf,
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(target) = argv.first().and_then(run::target_from_argv0) {
        // /snap/bin/NAME.APP: snap run NAME.APP ARGS.
        let args = run::RunArgs {
            shell: false,
            target,
            args: argv[1..].to_vec(),
        };
        return finish(run::run(args).map_err(|e| format!("error: {e}")));
    }
    let cli = Cli::parse();
    let snap_error = |e: String| format!("error: {e}");
    let result = match cli.command {
        Command::Profile {
            command: ProfileCommand::Check { file },
        } => profile_check(&file),
        Command::Layout { snap, revision } => layout_cmd(&snap, &revision),
        Command::Plan(args) => plan_cmd(args),
        Command::Install(args) => install::install(args).map_err(snap_error),
        Command::Try(args) => install::try_dir(args).map_err(snap_error),
        Command::Run(args) => run::run(args).map_err(snap_error),
        Command::List(args) => list::list(args).map_err(snap_error),
        Command::Info(args) => list::info(args).map_err(snap_error),
        Command::Remove(args) => remove::remove(args).map_err(snap_error),
        Command::Revert(args) => remove::revert(args).map_err(snap_error),
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

/// Read a profile that must exist (a missing profile is an error here,
/// unlike in snap-update-ns where it means "empty").
fn read_existing_profile(file: &Path) -> Result<Profile, String> {
    std::fs::symlink_metadata(file)
        .map_err(|e| format!("cannot read mount profile {}: {e}", file.display()))?;
    load_profile(file).map_err(|e| e.to_string())
}

fn profile_check(file: &Path) -> Result<String, String> {
    read_existing_profile(file).map(|p| p.to_string())
}

fn layout_cmd(snap: &Path, revision: &str) -> Result<String, String> {
    let yaml_path = if snap.is_dir() {
        snap.join("meta/snap.yaml")
    } else {
        snap.to_path_buf()
    };
    let bytes = std::fs::read(&yaml_path)
        .map_err(|e| format!("cannot read {}: {e}", yaml_path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot parse {}: invalid UTF-8 at byte {}",
            yaml_path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let info = SnapInfo::parse(&text).map_err(|e| format!("{}: {e}", yaml_path.display()))?;
    naming::validate_revision_for_layout(revision)
        .map_err(|e| format!("cannot use revision: {e}"))?;
    info.validate()
        .map_err(|e| format!("{}: {e}", yaml_path.display()))?;
    let entries = layout::to_mount_entries(&info.name, revision, &info.layout);
    Ok(Profile::from(entries).to_string())
}

fn plan_cmd(args: PlanArgs) -> Result<String, String> {
    let (current, desired, view) = match (&args.name, &args.current, &args.desired) {
        (Some(name), _, _) => {
            naming::validate_instance_name(name)
                .map_err(|e| format!("cannot plan for {name:?}: {e}"))?;
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
        (None, Some(current), Some(desired)) => (
            read_existing_profile(current)?,
            read_existing_profile(desired)?,
            DirFsView::open(&args.root).map_err(|e| e.to_string())?,
        ),
        _ => return Err("cannot plan: give a snap name, or --current and --desired".to_owned()),
    };
    Ok(render(&needed_changes(
        &current.entries,
        &desired.entries,
        &view as &dyn FsView,
    )))
}

fn render(changes: &[Change]) -> String {
    changes.iter().map(|c| format!("{c}\n")).collect()
}
