//! snapd's validation of a decoded snap.yaml (`snap.Validate`, restricted to
//! what is modelled, plus snapcell's environment checks).

use super::model::*;
use crate::goquote::{quote, quote_to_ascii};
use crate::layout::{self, LayoutError};
use crate::naming;

/// A field of an app that has characters snap-exec cannot handle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("\"daemon\" field contains invalid value {}", quote(.0))]
    Daemon(String),
    #[error("cannot have {} as app name - use letters, digits, and dash as separator", quote(.0))]
    Name(String),
    #[error("app description field '{field}' contains illegal {} (legal: '{legal}')", quote(.value))]
    IllegalField {
        field: &'static str,
        value: String,
        legal: &'static str,
    },
}

/// Why a parsed snap.yaml is not valid (snapd's `snap.Validate`, restricted
/// to what is modelled here, plus snapcell's environment checks).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("snap name cannot be empty")]
    EmptyName,
    #[error("invalid snap name: {}", quote(.0))]
    SnapName(String),
    #[error("title can have up to 40 codepoints, got {0}")]
    TitleTooLong(usize),
    #[error("description can have up to 4096 codepoints, got {0}")]
    DescriptionTooLong(usize),
    /// The whole message, as snapd builds it.
    #[error("{0}")]
    Version(String),
    #[error("invalid definition of application {}: {reason}", quote(.app))]
    App { app: String, reason: AppError },
    #[error(transparent)]
    Name(#[from] naming::NameError),
    #[error("hook command-chain contains illegal {} (legal: '{COMMAND_CHAIN_LEGAL}')", quote(.0))]
    HookCommandChain(String),
    #[error("invalid interface name {} for {kind} {}", quote(.interface), quote(.name))]
    InterfaceName {
        kind: &'static str,
        name: String,
        interface: String,
    },
    #[error("cannot have plug and slot with the same name: {}", quote(.0))]
    PlugSlotSameName(String),
    #[error("cannot have \"base\" field on {} snap {}", quote(.snap_type.as_str()), quote(.name))]
    BaseOnBaseSnap { snap_type: SnapType, name: String },
    #[error("cannot have apps or hooks with base \"none\"")]
    AppsWithBaseNone,
    #[error("base cannot specify a snap instance name: {}", quote(.0))]
    BaseInstanceName(String),
    #[error("invalid base name: invalid snap name: {}", quote(.0))]
    BaseName(String),
    /// snapcell's rule: a name snap-exec could not put in an environment.
    #[error("invalid environment variable name {} in {scope}: must be non-empty and contain neither '=' nor NUL", quote(.key))]
    EnvironmentKey { scope: String, key: String },
    /// snapcell's rule: NUL cannot be passed in an environment.
    #[error("invalid value of environment variable {} in {scope}: contains NUL", quote(.key))]
    EnvironmentValue { scope: String, key: String },
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// Characters allowed in app commands (snap-exec splits them on spaces and
/// would be confused by quotes).
pub const APP_FIELD_LEGAL: &str = "^[A-Za-z0-9/. _#:$-]*$";
/// Characters allowed in command-chain entries (no white space either).
pub const COMMAND_CHAIN_LEGAL: &str = "^[A-Za-z0-9/._#:$-]*$";

fn app_field_ok(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/. _#:$-".contains(&c))
}

fn command_chain_ok(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/._#:$-".contains(&c))
}
// ---------------------------------------------------------------------------
// Validation helpers.

/// Go's `%q` of a byte (a rune literal); only used for ASCII graphic bytes.
fn quote_byte(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'\\' => "'\\\\'".to_owned(),
        c => format!("'{}'", c as char),
    }
}

/// snapd's `ValidateVersion`: the error message, or `None` if valid.
pub fn version_error(version: &str) -> Option<String> {
    let b = version.as_bytes();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let last_ok = |c: u8| alnum(c) || c == b'+' || c == b'~';
    let mid_ok = |c: u8| alnum(c) || b":.+~-".contains(&c);
    let valid = match b {
        [] => false,
        [first] => alnum(*first),
        [first, mid @ .., last] => {
            b.len() <= 32 && alnum(*first) && last_ok(*last) && mid.iter().all(|&c| mid_ok(c))
        }
    };
    if valid {
        return None;
    }
    if b.is_empty() {
        return Some("invalid snap version: cannot be empty".to_owned());
    }
    if b.iter().any(|c| !(0x21..=0x7e).contains(c)) {
        return Some(format!(
            "invalid snap version {}: must be printable, non-whitespace ASCII",
            quote_to_ascii(version)
        ));
    }
    let mut reasons = Vec::new();
    if b.len() > 32 {
        reasons.push(format!(
            "cannot be longer than 32 characters (got: {})",
            b.len()
        ));
    }
    if !alnum(b[0]) {
        reasons.push(format!(
            "must start with an ASCII alphanumeric (and not {})",
            quote_byte(b[0])
        ));
    }
    if b.len() > 1 {
        let last = b[b.len() - 1];
        if !last_ok(last) {
            reasons.push(format!(
                "must end with an ASCII alphanumeric or one of '+' or '~' (and not {})",
                quote_byte(last)
            ));
        }
        if b.len() > 2 {
            let middle = &version[1..version.len() - 1];
            let runs: Vec<String> = middle
                .split(|c: char| mid_ok(c as u8) && c.is_ascii())
                .filter(|r| !r.is_empty())
                .map(quote)
                .collect();
            if !runs.is_empty() {
                reasons.push(format!("contains invalid characters: {}", runs.join(", ")));
            }
        }
    }
    Some(match reasons.as_slice() {
        [] => format!("invalid snap version {}", quote(version)),
        [one] => format!("invalid snap version {}: {one}", quote(version)),
        [init @ .., last] => format!(
            "invalid snap version {}: {}, and {last}",
            quote(version),
            init.join(", ")
        ),
    })
}

fn check_environment(scope: &str, env: &Environment) -> Result<(), ValidationError> {
    for (k, v) in env.iter() {
        if k.is_empty() || k.contains(['=', '\0']) {
            return Err(ValidationError::EnvironmentKey {
                scope: scope.to_owned(),
                key: k.to_owned(),
            });
        }
        if v.contains('\0') {
            return Err(ValidationError::EnvironmentValue {
                scope: scope.to_owned(),
                key: k.to_owned(),
            });
        }
    }
    Ok(())
}

fn validate_app(name: &str, app: &AppInfo) -> Result<(), AppError> {
    if !matches!(
        app.daemon.as_str(),
        "" | "simple" | "forking" | "oneshot" | "dbus" | "notify"
    ) {
        return Err(AppError::Daemon(app.daemon.clone()));
    }
    if !naming::is_valid_app_name(name) {
        return Err(AppError::Name(name.to_owned()));
    }
    for (field, value) in [
        ("command", &app.command),
        ("stop-command", &app.stop_command),
        ("reload-command", &app.reload_command),
        ("post-stop-command", &app.post_stop_command),
    ] {
        if !app_field_ok(value) {
            return Err(AppError::IllegalField {
                field,
                value: value.clone(),
                legal: APP_FIELD_LEGAL,
            });
        }
    }
    if let Some(bad) = app.command_chain.iter().find(|c| !command_chain_ok(c)) {
        return Err(AppError::IllegalField {
            field: "command-chain",
            value: bad.clone(),
            legal: COMMAND_CHAIN_LEGAL,
        });
    }
    Ok(())
}

impl SnapInfo {
    /// Validate with no known revision (`$SNAP` expands to `/snap/NAME/unset`
    /// in layout checks); see [`SnapInfo::validate_with_revision`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.validate_with_revision("unset")
    }

    /// snapd's `snap.Validate` for the modelled fields, in snapd's order
    /// (name, title, description, version, apps, hooks, plug and slot names,
    /// base, then layouts), with snapcell's environment checks before the
    /// layouts. Maps are checked in key order.
    pub fn validate_with_revision(&self, revision: &str) -> Result<(), ValidationError> {
        if self.name.is_empty() {
            return Err(ValidationError::EmptyName);
        }
        if naming::validate_snap_name(&self.name).is_err() {
            return Err(ValidationError::SnapName(self.name.clone()));
        }
        let title_len = self.title.as_ref().map_or(0, |t| t.chars().count());
        if title_len > 40 {
            return Err(ValidationError::TitleTooLong(title_len));
        }
        let description_len = self.description.as_ref().map_or(0, |d| d.chars().count());
        if description_len > 4096 {
            return Err(ValidationError::DescriptionTooLong(description_len));
        }
        if let Some(msg) = version_error(&self.version) {
            return Err(ValidationError::Version(msg));
        }
        for (name, app) in &self.apps {
            validate_app(name, app).map_err(|reason| ValidationError::App {
                app: name.clone(),
                reason,
            })?;
        }
        for (name, hook) in &self.hooks {
            naming::validate_hook_name(name)?;
            if let Some(bad) = hook.command_chain.iter().find(|c| !command_chain_ok(c)) {
                return Err(ValidationError::HookCommandChain(bad.clone()));
            }
        }
        let (plugs, slots) = self.all_plugs_and_slots();
        for (name, iface) in &plugs {
            naming::validate_plug_name(name)?;
            if naming::validate_interface_name(iface).is_err() {
                return Err(ValidationError::InterfaceName {
                    kind: "plug",
                    name: (*name).to_owned(),
                    interface: (*iface).to_owned(),
                });
            }
        }
        for (name, iface) in &slots {
            naming::validate_slot_name(name)?;
            if naming::validate_interface_name(iface).is_err() {
                return Err(ValidationError::InterfaceName {
                    kind: "slot",
                    name: (*name).to_owned(),
                    interface: (*iface).to_owned(),
                });
            }
        }
        if let Some(name) = plugs.keys().find(|n| slots.contains_key(*n)) {
            return Err(ValidationError::PlugSlotSameName((*name).to_owned()));
        }
        self.validate_base()?;
        check_environment("snap environment", &self.environment)?;
        for (name, app) in &self.apps {
            check_environment(
                &format!("environment of app {}", quote(name)),
                &app.environment,
            )?;
        }
        for (name, hook) in &self.hooks {
            check_environment(
                &format!("environment of hook {}", quote(name)),
                &hook.environment,
            )?;
        }
        layout::validate_all(&self.name, revision, &self.layout)?;
        Ok(())
    }

    /// snapd's `ValidateBase`.
    fn validate_base(&self) -> Result<(), ValidationError> {
        let base = self.base.as_deref().unwrap_or("");
        if matches!(self.snap_type, SnapType::Os | SnapType::Base) && !matches!(base, "" | "none") {
            return Err(ValidationError::BaseOnBaseSnap {
                snap_type: self.snap_type,
                name: self.name.clone(),
            });
        }
        if base == "none" && (!self.hooks.is_empty() || !self.apps.is_empty()) {
            return Err(ValidationError::AppsWithBaseNone);
        }
        if !base.is_empty() {
            let (base_name, key) = naming::split_instance_name(base);
            if !key.is_empty() {
                return Err(ValidationError::BaseInstanceName(base.to_owned()));
            }
            if naming::validate_snap_name(base_name).is_err() {
                return Err(ValidationError::BaseName(base_name.to_owned()));
            }
        }
        Ok(())
    }
}
