//! `snapcell list` and `snapcell info`.

use serde::Serialize;
use snapcell_standalone::manage::{installed_info, read_state};
use snapcell_standalone::security::command_name;
use snapcell_standalone::state::{Revision, SnapState};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  snapcell list\n  snapcell list --all --json")]
pub struct ListArgs {
    /// Show every installed revision, not only the current ones.
    #[arg(long)]
    pub all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(after_help = "Example:\n  snapcell info hello")]
pub struct InfoArgs {
    /// The snap's name.
    pub name: String,
}

/// One row of the list.
#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    version: &'a str,
    revision: &'a str,
    tracking: &'a str,
    publisher: &'a str,
    notes: String,
    #[serde(rename = "type")]
    snap_type: &'a str,
    base: &'a str,
    current: bool,
}

fn notes(snap: &SnapState, rev: &Revision) -> String {
    let mut n = Vec::new();
    if rev.revision != snap.current {
        n.push("disabled");
    }
    if matches!(rev.snap_type.as_str(), "base" | "os" | "snapd") {
        n.push(rev.snap_type.as_str());
    }
    if rev.try_dir.is_some() {
        n.push("try");
    }
    if n.is_empty() {
        "-".to_owned()
    } else {
        n.join(",")
    }
}

/// snap's table: Go's tabwriter with minimum width 5 and padding 2.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count() + 2)
                .max()
                .unwrap_or(0)
                .max(5)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

pub fn list(args: ListArgs) -> Result<String, String> {
    let state = read_state()?;
    let mut rows = Vec::new();
    for (name, snap) in &state.snaps {
        for rev in &snap.revisions {
            let current = rev.revision == snap.current;
            if !args.all && !current {
                continue;
            }
            rows.push(Row {
                name,
                version: &rev.version,
                revision: &rev.revision,
                tracking: "-",
                publisher: "-",
                notes: notes(snap, rev),
                snap_type: &rev.snap_type,
                base: &rev.base,
                current,
            });
        }
    }
    if args.json {
        let mut s = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        s.push('\n');
        return Ok(s);
    }
    if rows.is_empty() {
        eprintln!("No snaps are installed yet. Try 'snapcell install --dangerous FILE.snap'.");
        return Ok(String::new());
    }
    let mut cells = vec![
        ["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in &rows {
        cells.push(vec![
            r.name.to_owned(),
            r.version.to_owned(),
            r.revision.to_owned(),
            r.tracking.to_owned(),
            r.publisher.to_owned(),
            r.notes.clone(),
        ]);
    }
    Ok(table(&cells))
}

pub fn info(args: InfoArgs) -> Result<String, String> {
    let state = read_state()?;
    let name = &args.name;
    let snap = state
        .snaps
        .get(name)
        .ok_or_else(|| format!("no snap found for {name:?}"))?;
    let rev = snap
        .current_revision()
        .ok_or_else(|| format!("snap {name:?} has no current revision"))?;
    let info = installed_info(name, &rev.revision)?;
    let mut out = String::new();
    out.push_str(&format!("name:      {name}\n"));
    out.push_str(&format!(
        "summary:   {}\n",
        info.summary.as_deref().unwrap_or("")
    ));
    out.push_str("publisher: –\nlicense:   unset\n");
    let description = info.description.as_deref().unwrap_or("").trim_end();
    out.push_str("description: |\n");
    for line in description.lines() {
        out.push_str(&format!("  {line}\n"));
    }
    if !info.apps.is_empty() {
        out.push_str("commands:\n");
        for app in info.apps.keys() {
            out.push_str(&format!("  - {}\n", command_name(name, app)));
        }
    }
    out.push_str(&format!("type:      {}\n", rev.snap_type));
    if !rev.base.is_empty() {
        out.push_str(&format!("base:      {}\n", rev.base));
    }
    let connected = state.connected_interfaces(name);
    if !connected.is_empty() {
        out.push_str(&format!("connected: {}\n", connected.join(", ")));
    }
    out.push_str(&format!(
        "installed: {} ({}) {}\n",
        rev.version,
        rev.revision,
        if rev.try_dir.is_some() {
            "try"
        } else {
            "dangerous"
        }
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_like_gos_tabwriter() {
        let rows = vec![
            vec!["Name".into(), "Rev".into(), "Notes".into()],
            vec!["hello-world".into(), "x1".into(), "-".into()],
        ];
        assert_eq!(
            super::table(&rows),
            "Name         Rev  Notes\nhello-world  x1   -\n"
        );
    }
}
