//! `snapcell connect`, `disconnect` and `connections`.

use snapcell_standalone::interfaces;
use snapcell_standalone::manage::read_state;

use crate::list::table;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell connect hello:home                       (to the system's home slot)
  snapcell connect hello:camera :camera
  snapcell connect consumer:themes producer:themes  (content: the producer's directories at the plug's target)

A running app's mount namespace is updated at once; its other policies apply from its next launch.")]
pub struct ConnectArgs {
    /// The plug: SNAP:PLUG.
    pub plug: String,
    /// The slot: SNAP[:SLOT], or :SLOT (also system:SLOT) for the system's; the system's by default (content: the plug's default-provider).
    pub slot: Option<String>,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell disconnect hello:home
  snapcell disconnect consumer:themes producer:themes
  snapcell disconnect producer:themes                 (every plug connected to the slot)")]
pub struct DisconnectArgs {
    /// The plug (SNAP:PLUG), or a slot (SNAP:SLOT) to disconnect everything from.
    pub plug: String,
    /// Only the connection to this slot (SNAP[:SLOT]).
    pub slot: Option<String>,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  snapcell connections
  snapcell connections hello
  snapcell connections --all --json")]
pub struct ConnectionsArgs {
    /// Only this snap's plugs and slots, connected or not.
    pub name: Option<String>,
    /// Also the plugs and slots that are not connected.
    #[arg(long)]
    pub all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn report(changed: interfaces::Changed) -> String {
    for w in &changed.warnings {
        eprintln!("warning: {w}");
    }
    String::new()
}

pub fn connect(args: ConnectArgs) -> Result<String, String> {
    interfaces::connect(&args.plug, args.slot.as_deref()).map(report)
}

pub fn disconnect(args: DisconnectArgs) -> Result<String, String> {
    interfaces::disconnect(&args.plug, args.slot.as_deref()).map(report)
}

pub fn connections(args: ConnectionsArgs) -> Result<String, String> {
    let state = read_state()?;
    let rows = interfaces::connection_rows(&state, args.name.as_deref(), args.all)?;
    if args.json {
        let mut s = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        s.push('\n');
        return Ok(s);
    }
    if rows.is_empty() {
        return Ok(String::new());
    }
    let mut cells = vec![
        ["Interface", "Plug", "Slot", "Notes"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in rows {
        cells.push(vec![r.interface, r.plug, r.slot, r.notes]);
    }
    Ok(table(&cells))
}
