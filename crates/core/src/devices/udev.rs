//! udev's side of the device cgroup: the tag snapd's udev rules give a
//! snap's devices, what udev records about a tagged device under
//! `/run/udev`, and the two command lines of `snap-device-helper`, which
//! udev runs when a tagged device comes or goes.
//!
//! snapd writes `/etc/udev/rules.d/70-snap.NAME.rules`: for each device an
//! interface grants, `<match>, TAG+="snap_NAME_APP"`, and for each tag
//! `TAG=="snap_NAME_APP", RUN+="<libexecdir>/snap-device-helper
//! $env{ACTION} snap_NAME_APP $devpath $major:$minor"` (current snapd adds
//! `SUBSYSTEM!="module", SUBSYSTEM!="subsystem"`). udev then keeps, for
//! every device with a tag, an empty file `/run/udev/tags/TAG/ID` and the
//! device's database `/run/udev/data/ID` whose `G:TAG` lines list its tags
//! and `Q:TAG` lines its *current* tags (systemd 247 and later), where ID
//! is `c10:237` or `b7:0` for devices with a node (`n3` for network
//! interfaces, `+SUBSYSTEM:NAME` for the rest).

use super::{Device, DeviceKind};
use crate::naming::validate_security_tag;

/// The udev tag of an app (`snap.foo.bar` → `snap_foo_bar`): udev allows
/// no `.` in tags. A component's `+` becomes `__`.
pub fn udev_tag(security_tag: &str) -> String {
    security_tag.replace('.', "_").replace('+', "__")
}

/// The device a udev device id names (`c10:237`, `b7:0`); `None` for ids
/// of devices without a node (`n3`, `+usb:1-1`) and for `0:0`.
pub fn parse_device_id(id: &str) -> Option<Device> {
    let kind = match id.as_bytes().first()? {
        b'c' => DeviceKind::Char,
        b'b' => DeviceKind::Block,
        _ => return None,
    };
    let (major, minor) = id[1..].split_once(':')?;
    let major = parse_decimal(major)?;
    let minor = parse_decimal(minor)?;
    if major == 0 && minor == 0 {
        return None;
    }
    Some(Device { kind, major, minor })
}

fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether udev's database of a device (`/run/udev/data/ID`) lists `tag`
/// among its current tags (`Q:TAG`). A device whose tag is no longer
/// current (the interface was disconnected, the rules reloaded) keeps its
/// `G:` line and its file under `/run/udev/tags` until it is removed;
/// snap-confine skips it.
pub fn has_current_tag(database: &str, tag: &str) -> bool {
    database
        .lines()
        .any(|line| line.strip_prefix("Q:") == Some(tag))
}

/// The node name of a device from its `uevent` file in sysfs (`DEVNAME=`,
/// relative to `/dev`).
pub fn devname_from_uevent(uevent: &str) -> Option<&str> {
    uevent
        .lines()
        .find_map(|line| line.strip_prefix("DEVNAME="))
        .filter(|name| !name.is_empty())
}

/// Why snap-device-helper gives up (exit status 1). The texts are snapd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HelperError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, HelperError> {
    Err(HelperError(message.into()))
}

/// Turn a udev tag back into the app's security tag:
/// `snap_foo_bar` → `snap.foo.bar`, `snap_foo_instance_bar` →
/// `snap.foo_instance.bar`, `snap_foo_hook_configure` →
/// `snap.foo.hook.configure`, `snap_foo_instance_hook_configure` →
/// `snap.foo_instance.hook.configure` (`snap_foo_hook_bar` is read as a
/// hook, never as the instance `foo_hook`, as snapd does), and `__` back to
/// a component's `+`. The result must be a valid security tag of the snap.
pub fn security_tag_from_udev_tag(udev_tag: &str) -> Result<String, HelperError> {
    if !udev_tag.starts_with("snap_") {
        return fail(format!("malformed tag \"{udev_tag}\""));
    }
    if udev_tag.len() < "snap_a_b".len() || udev_tag.len() > crate::naming::SECURITY_TAG_MAX_LEN {
        return fail(format!(
            "tag \"{udev_tag}\" length {} is incorrect",
            udev_tag.len()
        ));
    }
    // A component's `+` is `__` in the udev tag; nothing else has two.
    let body = udev_tag["snap_".len()..].replace("__", "+");
    let Some(last) = body.rfind('_') else {
        return fail(format!("missing app name in tag \"{udev_tag}\""));
    };
    let (head, app) = (&body[..last], &body[last + 1..]);
    // head is now `foo`, `foo_instance`, `foo_hook` or `foo_instance_hook`.
    let (instance, target) = match head.find('_') {
        None => (head.to_owned(), app.to_owned()),
        Some(first) => match head[first + 1..].find('_') {
            None if &head[first..] == "_hook" => (head[..first].to_owned(), format!("hook.{app}")),
            None => (head.to_owned(), app.to_owned()),
            Some(second) => {
                let second = first + 1 + second;
                (
                    head[..second].to_owned(),
                    format!("{}.{app}", &head[second + 1..]),
                )
            }
        },
    };
    // The instance ends before a component's `+`.
    let instance_name = instance.split('+').next().unwrap_or_default();
    if instance_name.is_empty() {
        return fail(format!("missing snap name in tag \"{udev_tag}\""));
    }
    let component = instance.split_once('+').map(|(_, c)| c);
    let tag = format!("snap.{instance}.{target}");
    if validate_security_tag(&tag, instance_name, component).is_err() {
        return fail(format!(
            "security tag \"{tag}\" for snap \"{instance_name}\" is not valid"
        ));
    }
    Ok(tag)
}

/// What snap-device-helper is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperRequest {
    /// Let the app open the device (`add`, `change`, `bind`).
    Allow {
        security_tag: String,
        device: Device,
    },
    /// Take the device away (`remove`).
    Deny {
        security_tag: String,
        device: Device,
    },
    /// Nothing to do (the reason, for debug output): a device without a
    /// node, a `module`/`subsystem`/`drivers` event, `unbind`.
    Nothing(String),
}

/// The environment udev gives a `RUN` program, as far as the helper reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdevEnv {
    pub action: Option<String>,
    pub devpath: Option<String>,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub subsystem: Option<String>,
}

/// Read snap-device-helper's command line; both forms are accepted:
///
/// * current snapd's (2.62 and later): `snap-device-helper TAG`, or the
///   legacy four arguments of which only the tag is used, with `ACTION`,
///   `MAJOR`, `MINOR` and `SUBSYSTEM` from udev's environment;
/// * snapd 2.57's: `snap-device-helper ACTION TAG DEVPATH MAJ:MIN`, the
///   device's kind from the `subsystem` link of `/sys/DEVPATH`
///   (`subsystem_of` returns the link's last component, `None` when it
///   cannot be read).
///
/// Four arguments with `ACTION` in the environment (udev always sets it)
/// take current snapd's path; four arguments without it, 2.57's (the form
/// a hand-written call or an old rule with a cleared environment uses).
pub fn parse_helper_request(
    args: &[String],
    env: &UdevEnv,
    subsystem_of: impl FnOnce(&str) -> Option<String>,
) -> Result<HelperRequest, HelperError> {
    match args.len() {
        1 => parse_current(&args[0], env),
        n if n >= 4 && env.action.is_some() => parse_current(&args[1], env),
        n if n >= 4 => parse_legacy(&args[0], &args[1], &args[2], &args[3], subsystem_of),
        _ => fail("incorrect number of arguments"),
    }
}

fn parse_current(udev_tag: &str, env: &UdevEnv) -> Result<HelperRequest, HelperError> {
    let Some(action) = env.action.as_deref() else {
        return fail("no action given");
    };
    let (major, minor) = match (env.major.as_deref(), env.minor.as_deref()) {
        (None, None) => {
            return Ok(HelperRequest::Nothing(
                "no major/minor: the device has no node".into(),
            ));
        }
        (Some(major), Some(minor)) => (major, minor),
        _ => return fail("incomplete major/minor"),
    };
    let subsystem = env.subsystem.as_deref().unwrap_or_default();
    if matches!(subsystem, "subsystem" | "module" | "drivers") {
        return Ok(HelperRequest::Nothing(format!(
            "ignoring an event of subsystem {subsystem}"
        )));
    }
    let allow = match action {
        "add" | "change" | "bind" => true,
        "remove" => false,
        "unbind" => return Ok(HelperRequest::Nothing("ignoring unbind".into())),
        other => return fail(format!("ERROR: unknown action \"{other}\"")),
    };
    let security_tag = security_tag_from_udev_tag(udev_tag)?;
    let device = Device {
        kind: DeviceKind::of_subsystem(subsystem),
        major: must_number(major)?,
        minor: must_number(minor)?,
    };
    Ok(request(allow, security_tag, device))
}

fn parse_legacy(
    action: &str,
    udev_tag: &str,
    devpath: &str,
    majmin: &str,
    subsystem_of: impl FnOnce(&str) -> Option<String>,
) -> Result<HelperRequest, HelperError> {
    if majmin.len() < 3 {
        return fail(format!("no or malformed major/minor \"{majmin}\""));
    }
    if devpath.len() <= "/devices/".len() {
        return fail(format!("no or malformed devpath \"{devpath}\""));
    }
    let allow = match action {
        "add" | "change" => true,
        "remove" => false,
        other => return fail(format!("ERROR: unknown action \"{other}\"")),
    };
    let security_tag = security_tag_from_udev_tag(udev_tag)?;
    let kind = match subsystem_of(devpath) {
        Some(subsystem) => DeviceKind::of_subsystem(&subsystem),
        // The device is gone: guess from where it was.
        None if !allow => {
            if looks_like_block_devpath(devpath) {
                DeviceKind::Block
            } else {
                DeviceKind::Char
            }
        }
        None => return fail(format!("cannot read symlink /sys{devpath}/subsystem")),
    };
    let Some((major, minor)) = majmin.split_once(':').filter(|(_, m)| !m.is_empty()) else {
        return fail(format!("malformed major:minor string: {majmin}"));
    };
    let device = Device {
        kind,
        major: must_number(major)?,
        minor: must_number(minor)?,
    };
    Ok(request(allow, security_tag, device))
}

/// `*/block/*` or `*/nvme/nvmeX/nvmeXnY*`: where block devices live in sysfs.
fn looks_like_block_devpath(devpath: &str) -> bool {
    if devpath.contains("/block/") {
        return true;
    }
    let parts: Vec<&str> = devpath.split('/').collect();
    parts.windows(3).any(|w| {
        w[0] == "nvme"
            && w[1].starts_with("nvme")
            && w[2].starts_with("nvme")
            && w[2]["nvme".len()..].contains('n')
    })
}

fn must_number(s: &str) -> Result<u32, HelperError> {
    parse_decimal(s).ok_or_else(|| HelperError(format!("malformed number \"{s}\"")))
}

fn request(allow: bool, security_tag: String, device: Device) -> HelperRequest {
    if allow {
        HelperRequest::Allow {
            security_tag,
            device,
        }
    } else {
        HelperRequest::Deny {
            security_tag,
            device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn env(action: &str, major: &str, minor: &str, subsystem: &str) -> UdevEnv {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        UdevEnv {
            action: some(action),
            devpath: Some("/devices/virtual/misc/loop-control".into()),
            major: some(major),
            minor: some(minor),
            subsystem: some(subsystem),
        }
    }

    #[test]
    fn tags_both_ways() {
        for (security, udev) in [
            ("snap.foo.bar", "snap_foo_bar"),
            ("snap.foo_instance.bar", "snap_foo_instance_bar"),
            ("snap.foo.hook.configure", "snap_foo_hook_configure"),
            (
                "snap.foo_instance.hook.configure",
                "snap_foo_instance_hook_configure",
            ),
            ("snap.foo-bar.baz-app", "snap_foo-bar_baz-app"),
            ("snap.foo+comp.hook.install", "snap_foo__comp_hook_install"),
        ] {
            assert_eq!(udev_tag(security), udev);
            assert_eq!(
                security_tag_from_udev_tag(udev).unwrap(),
                security,
                "{udev}"
            );
        }
    }

    #[test]
    fn bad_tags() {
        let msg = |t: &str| security_tag_from_udev_tag(t).unwrap_err().0;
        assert_eq!(msg("foo_bar"), "malformed tag \"foo_bar\"");
        assert_eq!(msg("snap_a"), "tag \"snap_a\" length 6 is incorrect");
        assert_eq!(
            msg("snap_foobar"),
            "missing app name in tag \"snap_foobar\""
        );
        assert_eq!(msg("snap__bar"), "missing snap name in tag \"snap__bar\"");
        assert_eq!(
            msg("snap_FOO_bar"),
            "security tag \"snap.FOO.bar\" for snap \"FOO\" is not valid"
        );
    }

    #[test]
    fn device_ids() {
        assert_eq!(parse_device_id("c10:237"), Some(Device::char(10, 237)));
        assert_eq!(parse_device_id("b7:0"), Some(Device::block(7, 0)));
        assert_eq!(parse_device_id("n3"), None);
        assert_eq!(parse_device_id("+usb:1-1"), None);
        assert_eq!(parse_device_id("c0:0"), None);
        assert_eq!(parse_device_id("c1:x"), None);
    }

    #[test]
    fn udev_database() {
        let db = "S:loop-control\nI:123\nG:snap_foo_bar\nQ:snap_foo_bar\nV:1\n";
        assert!(has_current_tag(db, "snap_foo_bar"));
        assert!(!has_current_tag("G:snap_foo_bar\n", "snap_foo_bar"));
        assert!(!has_current_tag(db, "snap_foo"));
        let uevent = "MAJOR=10\nMINOR=237\nDEVNAME=loop-control\nDEVMODE=0660\n";
        assert_eq!(devname_from_uevent(uevent), Some("loop-control"));
        assert_eq!(devname_from_uevent("MAJOR=1\n"), None);
    }

    #[test]
    fn current_command_line() {
        let no_sysfs = |_: &str| -> Option<String> { panic!("current snapd reads no sysfs") };
        let add = parse_helper_request(
            &strings(&["snap_foo_bar"]),
            &env("add", "10", "237", "misc"),
            no_sysfs,
        )
        .unwrap();
        assert_eq!(
            add,
            HelperRequest::Allow {
                security_tag: "snap.foo.bar".into(),
                device: Device::char(10, 237)
            }
        );
        // The legacy four arguments: only the tag counts.
        let rm = parse_helper_request(
            &strings(&["ignored", "snap_foo_bar", "/devices/x", "1:1"]),
            &env("remove", "7", "3", "block"),
            no_sysfs,
        )
        .unwrap();
        assert_eq!(
            rm,
            HelperRequest::Deny {
                security_tag: "snap.foo.bar".into(),
                device: Device::block(7, 3)
            }
        );
        let bind = parse_helper_request(
            &strings(&["snap_foo_bar"]),
            &env("bind", "10", "1", "usb"),
            no_sysfs,
        );
        assert!(matches!(bind, Ok(HelperRequest::Allow { .. })));
        for e in [
            env("add", "", "", "usb"),
            env("add", "1", "2", "module"),
            env("add", "1", "2", "subsystem"),
            env("add", "1", "2", "drivers"),
            env("unbind", "1", "2", "usb"),
        ] {
            let got = parse_helper_request(&strings(&["snap_foo_bar"]), &e, no_sysfs).unwrap();
            assert!(matches!(got, HelperRequest::Nothing(_)), "{e:?}");
        }
        let err = |e: UdevEnv| {
            parse_helper_request(&strings(&["snap_foo_bar"]), &e, no_sysfs)
                .unwrap_err()
                .0
        };
        assert_eq!(err(env("add", "1", "", "usb")), "incomplete major/minor");
        assert_eq!(
            err(env("frob", "1", "2", "usb")),
            "ERROR: unknown action \"frob\""
        );
        assert_eq!(err(env("add", "1x", "2", "usb")), "malformed number \"1x\"");
        assert_eq!(err(UdevEnv::default()), "no action given");
        assert_eq!(
            parse_helper_request(&strings(&["a", "b"]), &UdevEnv::default(), no_sysfs)
                .unwrap_err()
                .0,
            "incorrect number of arguments"
        );
    }

    #[test]
    fn legacy_command_line() {
        let none = UdevEnv::default();
        let args = |a: &str, p: &str, mm: &str| strings(&[a, "snap_foo_bar", p, mm]);
        let got = parse_helper_request(
            &args("add", "/devices/virtual/block/loop0", "7:0"),
            &none,
            |p| {
                assert_eq!(p, "/devices/virtual/block/loop0");
                Some("block".into())
            },
        )
        .unwrap();
        assert_eq!(
            got,
            HelperRequest::Allow {
                security_tag: "snap.foo.bar".into(),
                device: Device::block(7, 0)
            }
        );
        // A removed device whose sysfs entry is gone: guessed from the path.
        let got = parse_helper_request(
            &args("remove", "/devices/pci0/nvme/nvme0/nvme0n1", "259:0"),
            &none,
            |_| None,
        )
        .unwrap();
        assert!(
            matches!(got, HelperRequest::Deny { device, .. } if device == Device::block(259, 0))
        );
        let got = parse_helper_request(
            &args("remove", "/devices/virtual/misc/uhid", "10:239"),
            &none,
            |_| None,
        )
        .unwrap();
        assert!(
            matches!(got, HelperRequest::Deny { device, .. } if device == Device::char(10, 239))
        );
        let err = |a: Vec<String>| {
            parse_helper_request(&a, &none, |_| Some("misc".into()))
                .unwrap_err()
                .0
        };
        assert_eq!(
            err(args("bind", "/devices/virtual/x", "1:2")),
            "ERROR: unknown action \"bind\""
        );
        assert_eq!(
            err(args("add", "/devices/", "1:2")),
            "no or malformed devpath \"/devices/\""
        );
        assert_eq!(
            err(args("add", "/devices/virtual/x", "12")),
            "no or malformed major/minor \"12\""
        );
        assert_eq!(
            err(args("add", "/devices/virtual/x", "123:")),
            "malformed major:minor string: 123:"
        );
        assert_eq!(
            parse_helper_request(&args("add", "/devices/virtual/x", "1:2"), &none, |_| None)
                .unwrap_err()
                .0,
            "cannot read symlink /sys/devices/virtual/x/subsystem"
        );
    }
}
