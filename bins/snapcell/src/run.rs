//! `snapcell run NAME.APP [ARGS]` and the `/snap/bin/NAME.APP` commands.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use snapcell_standalone::run::launch;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  snapcell run hello.world --greeting hi\n  snapcell run --shell hello      (a shell in the sandbox of hello's app hello)\n  /snap/bin/hello.world           (the same as snapcell run hello.world)"
)]
pub struct RunArgs {
    /// Open a shell inside the app's sandbox instead of running it.
    #[arg(long)]
    pub shell: bool,
    /// Run a strict snap even where the kernel enforces neither AppArmor nor Landlock (its files then are not confined).
    #[arg(long)]
    pub without_file_confinement: bool,
    /// The app: NAME.APP, or NAME for the app named like the snap.
    pub target: String,
    /// Arguments for the app.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// The app a `/snap/bin` command runs: its file name, when snapcell runs
/// under another name (as `/usr/bin/snap` dispatches on `argv[0]`).
pub fn target_from_argv0(argv0: &OsString) -> Option<String> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    (!name.starts_with("snapcell")).then(|| name.to_owned())
}

/// Execute snap-confine for the app; returns only on failure.
pub fn run(args: RunArgs) -> Result<String, String> {
    let l = launch(
        &args.target,
        &args.args,
        args.shell,
        args.without_file_confinement,
    )?;
    let err = Command::new(&l.program)
        .args(&l.args)
        .env_clear()
        .envs(l.env)
        .exec();
    Err(format!("cannot run {}: {err}", l.program.display()))
}
