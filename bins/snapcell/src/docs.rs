//! `snapcell completions SHELL` and `snapcell man`: shell completions and
//! manual pages, generated from the command line's clap definitions (so
//! they never fall behind it).

use std::path::PathBuf;

use clap_complete::Shell;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell completions bash > /etc/bash_completion.d/snapcell
  snapcell completions zsh > /usr/local/share/zsh/site-functions/_snapcell
  snapcell completions fish > ~/.config/fish/completions/snapcell.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: Shell,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell man | man -l -                       # read snapcell(1)
  snapcell man pack | man -l -                  # read snapcell-pack(1)
  snapcell man --dir /usr/local/share/man/man1  # install every page")]
pub struct ManArgs {
    /// The subcommand whose page to print (`profile check` for nested ones);
    /// snapcell's own page when none is given.
    pub command: Vec<String>,
    /// Write every page (snapcell.1, snapcell-pack.1, ...) into this
    /// directory instead of printing one.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> Result<String, String> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "snapcell", &mut out);
    String::from_utf8(out).map_err(|e| format!("cannot generate completions: {e}"))
}

pub fn man(args: &ManArgs, cmd: clap::Command) -> Result<String, String> {
    if let Some(dir) = &args.dir {
        clap_mangen::generate_to(cmd, dir)
            .map_err(|e| format!("cannot write manual pages to {}: {e}", dir.display()))?;
        return Ok(String::new());
    }
    let mut cmd = cmd;
    cmd.build();
    let mut name = "snapcell".to_owned();
    for word in &args.command {
        let sub = cmd.find_subcommand(word).cloned().ok_or_else(|| {
            format!("cannot show the manual page of {name} {word}: no such command")
        })?;
        name = format!("{name} {word}");
        // Built, a subcommand's display name is its page's (snapcell-pack).
        cmd = sub;
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("cannot render the manual page: {e}"))
}
