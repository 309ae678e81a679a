//! Command lines of snap-confine (spec §6.1) and snap-update-ns (spec §3.1),
//! parsed exactly as snapd's C code parses them.

use crate::naming::{NameError, validate_instance_name};

const CONFINE_USAGE: &str = "Usage: snap-confine <security-tag> <executable>\n\n";

/// What snap-confine was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfineArgs {
    /// `--version`: print the version and exit.
    pub version_query: bool,
    /// `--classic`.
    pub classic: bool,
    /// `--base BASE`.
    pub base_snap: Option<String>,
    /// The security tag (absent with `--version`).
    pub security_tag: Option<String>,
    /// The program to execute (absent with `--version`).
    pub executable: Option<String>,
    /// argv[0] followed by the arguments after the executable.
    pub remaining_argv: Vec<String>,
}

/// Why snap-confine's command line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfineArgsError {
    #[error("cannot parse arguments, argc is zero or argv is NULL")]
    Empty,
    /// A usage error: the message is preceded by the usage text.
    #[error("{CONFINE_USAGE}{0}")]
    Usage(String),
}

impl ConfineArgs {
    /// The argv the executable is run with: `[EXECUTABLE, ARGS...]`.
    pub fn exec_argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = self.executable.iter().cloned().collect();
        argv.extend(self.remaining_argv.iter().skip(1).cloned());
        argv
    }
}

/// Parse snap-confine's argv (argv[0] included). Options are recognised only
/// before the first argument that does not start with `-`.
pub fn parse_confine_args(argv: &[String]) -> Result<ConfineArgs, ConfineArgsError> {
    let usage = |m: &str| ConfineArgsError::Usage(m.to_owned());
    let argv0 = argv.first().ok_or(ConfineArgsError::Empty)?;
    let mut args = ConfineArgs {
        version_query: false,
        classic: false,
        base_snap: None,
        security_tag: None,
        executable: None,
        remaining_argv: vec![argv0.clone()],
    };
    let mut i = 1;
    while let Some(arg) = argv.get(i) {
        if !arg.starts_with('-') {
            break;
        }
        match arg.as_str() {
            "--version" => args.version_query = true,
            "--classic" => args.classic = true,
            "--base" => {
                let value = argv
                    .get(i + 1)
                    .ok_or_else(|| usage("the --base option requires an argument"))?;
                if args.base_snap.is_some() {
                    return Err(usage("the --base option can be used only once"));
                }
                args.base_snap = Some(value.clone());
                i += 1;
            }
            other => return Err(usage(&format!("unrecognized command line option: {other}"))),
        }
        i += 1;
    }
    if !args.version_query {
        let tag = argv
            .get(i)
            .ok_or_else(|| usage("application or hook security tag was not provided"))?;
        let exe = argv
            .get(i + 1)
            .ok_or_else(|| usage("executable name was not provided"))?;
        args.security_tag = Some(tag.clone());
        args.executable = Some(exe.clone());
        i += 2;
    }
    args.remaining_argv.extend(argv.iter().skip(i).cloned());
    Ok(args)
}

/// What snap-update-ns was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateNsArgs {
    /// The snap instance name.
    pub instance_name: String,
    /// Enter `/run/snapd/ns/INSTANCE.mnt` first (not with `--from-snap-confine`).
    pub should_setns: bool,
    /// Apply the per-user profile (`--user-mounts` or `-u UID`).
    pub process_user_fstab: bool,
    /// The user of `-u`, 0 otherwise.
    pub uid: u32,
    /// `--from-snap-confine`: the caller holds the lock and built the namespace.
    pub from_snap_confine: bool,
}

/// Why snap-update-ns's command line was refused. The messages are snapd's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateNsArgsError {
    #[error("argv0 is corrupted")]
    NoArgv0,
    #[error("bootstrap is not enabled while testing")]
    Testing,
    #[error("snap name not provided")]
    NoName,
    #[error("too many positional arguments")]
    TooManyPositional,
    #[error("unsupported option")]
    UnsupportedOption,
    #[error("-u requires an argument")]
    UidMissing,
    #[error("cannot parse user id")]
    UidUnparsable,
    #[error("user id cannot be negative")]
    UidNegative,
    #[error("{0}")]
    Name(#[from] NameError),
}

/// A user id as snapd's bootstrap reads it: decimal digits only (leading
/// zeros allowed), no sign, no white space, within u32.
fn parse_uid(s: &str) -> Result<u32, UpdateNsArgsError> {
    if let Some(digits) = s.strip_prefix('-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(UpdateNsArgsError::UidNegative);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UpdateNsArgsError::UidUnparsable);
    }
    s.parse().map_err(|_| UpdateNsArgsError::UidUnparsable)
}

/// Parse snap-update-ns's argv (argv[0] included) as its C bootstrap does.
pub fn parse_update_ns_args(argv: &[String]) -> Result<UpdateNsArgs, UpdateNsArgsError> {
    let argv0 = argv.first().ok_or(UpdateNsArgsError::NoArgv0)?;
    if argv0.ends_with(".test") {
        return Err(UpdateNsArgsError::Testing);
    }
    let mut out = UpdateNsArgs {
        instance_name: String::new(),
        should_setns: true,
        process_user_fstab: false,
        uid: 0,
        from_snap_confine: false,
    };
    let mut name: Option<&String> = None;
    let mut rest = argv[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--from-snap-confine" => {
                out.from_snap_confine = true;
                out.should_setns = false;
            }
            "--user-mounts" => {
                out.process_user_fstab = true;
                out.should_setns = false;
            }
            "-u" => {
                let value = rest.next().ok_or(UpdateNsArgsError::UidMissing)?;
                out.uid = parse_uid(value)?;
                out.process_user_fstab = true;
            }
            a if a.starts_with('-') => return Err(UpdateNsArgsError::UnsupportedOption),
            _ if name.is_some() => return Err(UpdateNsArgsError::TooManyPositional),
            _ => name = Some(arg),
        }
    }
    let name = name.ok_or(UpdateNsArgsError::NoName)?;
    validate_instance_name(name)?;
    out.instance_name = name.clone();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn confine_exec_argv_is_the_executable_and_its_arguments() {
        let a = parse_confine_args(&argv(&[
            "sc", "--base", "core22", "snap.x.y", "/bin/exe", "--flag", "v",
        ]))
        .unwrap();
        assert_eq!(a.exec_argv(), argv(&["/bin/exe", "--flag", "v"]));
        assert_eq!(a.base_snap.as_deref(), Some("core22"));
    }

    #[test]
    fn confine_options_stop_at_the_first_positional() {
        let a = parse_confine_args(&argv(&["sc", "snap.x.y", "--classic", "--base"])).unwrap();
        assert!(!a.classic && a.base_snap.is_none());
        assert_eq!(a.executable.as_deref(), Some("--classic"));
        assert_eq!(a.exec_argv(), argv(&["--classic", "--base"]));
        let err = parse_confine_args(&argv(&["sc", "-x"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Usage: snap-confine")
                && err.ends_with("unrecognized command line option: -x")
        );
    }

    #[test]
    fn update_ns_flags_in_any_position() {
        let a = parse_update_ns_args(&argv(&["u", "foo_bar", "--from-snap-confine"])).unwrap();
        assert!(a.from_snap_confine && !a.should_setns && a.instance_name == "foo_bar");
        assert_eq!(
            parse_update_ns_args(&argv(&["u", "-u", "99999999999", "x1"])),
            Err(UpdateNsArgsError::UidUnparsable)
        );
        assert_eq!(
            parse_update_ns_args(&argv(&["u", "-u", "+5", "x1"])),
            Err(UpdateNsArgsError::UidUnparsable)
        );
        assert_eq!(
            parse_update_ns_args(&argv(&["u", "-u", "-"])),
            Err(UpdateNsArgsError::UidUnparsable)
        );
    }
}
