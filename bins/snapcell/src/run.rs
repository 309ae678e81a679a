//! `snapcell run NAME.APP [ARGS]` and the `/snap/bin/NAME.APP` commands.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use snapcell_standalone::run::{Launch, Trace, launch};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  snapcell run hello.world --greeting hi\n  snapcell run --shell hello      (a shell in the sandbox of hello's app hello)\n  snapcell run --trace hello      (and then each stage of the launch with its time)\n  /snap/bin/hello.world           (the same as snapcell run hello.world)\n\n\
--trace runs snap-confine and snap-exec with SNAPD_DEBUG=1 and reads their stage lines from \
standard error (the other lines are passed on, the DEBUG lines are not); the table goes to \
standard error when the app ends, and snapcell exits with the app's status."
)]
pub struct RunArgs {
    /// Open a shell inside the app's sandbox instead of running it.
    #[arg(long)]
    pub shell: bool,
    /// Run a strict snap even where the kernel enforces neither AppArmor nor Landlock (its files then are not confined).
    #[arg(long)]
    pub without_file_confinement: bool,
    /// Print each stage of the launch with its time (lock, join or build, profile,
    /// confinement, exec) when the app ends.
    #[arg(long)]
    pub trace: bool,
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
    if args.trace {
        return run_traced(&args.target, l);
    }
    let err = Command::new(&l.program)
        .args(&l.args)
        .env_clear()
        .envs(l.env)
        .exec();
    Err(format!("cannot run {}: {err}", l.program.display()))
}

/// `--trace`: snap-confine as a child with `SNAPD_DEBUG=1`, its standard
/// error read line by line (the stage lines kept, the rest passed on), the
/// table printed when the app ends; exits with the app's status.
fn run_traced(target: &str, mut l: Launch) -> Result<String, String> {
    l.env.retain(|(k, _)| k != "SNAPD_DEBUG");
    l.env.push(("SNAPD_DEBUG".into(), "1".into()));
    let spawned_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut child = Command::new(&l.program)
        .args(&l.args)
        .env_clear()
        .envs(l.env)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", l.program.display()))?;
    let mut trace = Trace::default();
    if let Some(stderr) = child.stderr.take() {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            if !trace.read_line(text.trim_end_matches('\n')) {
                let _ = std::io::stderr().write_all(&line);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for {}: {e}", l.program.display()))?;
    eprint!("{}", trace.render(target, spawned_at));
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code);
}
