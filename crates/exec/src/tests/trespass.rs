//! Trespassing: mount points are never created in host directories.

use snapcell_core::mount_opts::MountFlags;
use snapcell_sys::system::System;

use super::*;
use crate::error::ExecError;

#[test]
fn a_mount_point_under_the_hosts_etc_gets_a_mimic_instead_of_a_write() {
    let mut fs = world();
    let initial = fs.state();
    let desired = profile(&["/snap/app/1/data /etc/app none rbind,rw,x-snapd.origin=layout 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    // The mimic's entries in name order (snapd's ReadDir sorts), not in the
    // order the directory lists them (ssl was made before hostname).
    assert_eq!(
        lines(&out.profile),
        vec![
            "tmpfs /etc tmpfs x-snapd.synthetic,x-snapd.needed-by=/etc/app,mode=0755,uid=0,gid=0 0 0",
            "/etc/hostname /etc/hostname none bind,x-snapd.kind=file,x-snapd.synthetic,x-snapd.needed-by=/etc/app 0 0",
            "/etc/ssl /etc/ssl none rbind,x-snapd.synthetic,x-snapd.needed-by=/etc/app,x-snapd.detach 0 0",
            "/snap/app/1/data /etc/app none rbind,rw,x-snapd.origin=layout 0 0",
        ]
    );
    // Nothing was ever made in the host's /etc: the first mkdir below /etc
    // happens once the tmpfs is on it.
    let calls = fs.mutation_calls();
    let tmpfs = calls
        .iter()
        .position(|c| c.starts_with("mount_fs tmpfs \"/etc\""))
        .unwrap();
    let first_write = calls
        .iter()
        .position(|c| c.starts_with("mkdir \"/etc\"") || c.starts_with("mkfile \"/etc\""))
        .unwrap();
    assert!(tmpfs < first_write, "{calls:#?}");
    assert_eq!(fs.peek("/etc/hostname").map(|m| m.size), Some(5));
    // Taking it down leaves the host's /etc as it was.
    ok(&mut fs, &out.profile, &Profile::default());
    assert_eq!(fs.state(), initial);
}

#[test]
fn the_first_host_directory_on_the_way_is_mimicked_and_only_once() {
    // The walk meets the host's /etc first: the mimic is made there. The
    // retry then meets the host's /etc/ssl (bound back into the mimic) and,
    // as in snapd, there is no second mimic: the layout fails.
    let mut fs = world();
    let before = fs.state();
    let desired = profile(&["tmpfs /etc/ssl/app tmpfs x-snapd.origin=layout 0 0"]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot write to \"/etc/ssl/app\" because it would affect the host in \"/etc/ssl\""
    );
    assert_eq!(
        fs.calls()
            .iter()
            .filter(|c| c.starts_with("set_aside"))
            .count(),
        1
    );
    assert!(fs.calls().contains(&"set_aside \"/etc\" -> #1".to_owned()));
    assert_eq!(fs.state(), before);
}

#[test]
fn unrestricted_places_are_written_directly() {
    let mut fs = world();
    let desired = profile(&[
        "/snap/app/1/data /var/snap/app/common/data none rbind,rw,x-snapd.origin=layout 0 0",
        "tmpfs /tmp/scratch tmpfs x-snapd.origin=layout 0 0",
        "/snap/app/1/lib /snap/app/extra none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert!(
        out.profile.entries.iter().all(|e| !e.is_synthetic()),
        "{:#?}",
        lines(&out.profile)
    );
    assert!(fs.calls().iter().all(|c| !c.starts_with("set_aside")));
    let calls = fs.mutation_calls();
    assert!(
        calls.contains(&"mkdir \"/var/snap/app/common\" \"data\" 0755 0 0".to_owned()),
        "{calls:#?}"
    );
    assert!(
        calls.contains(&"mkdir \"/tmp\" \"scratch\" 0755 0 0".to_owned()),
        "{calls:#?}"
    );
    assert!(
        calls.contains(&"mkdir \"/snap/app\" \"extra\" 0755 0 0".to_owned()),
        "{calls:#?}"
    );
}

#[test]
fn a_tmpfs_we_mounted_is_writable_and_a_hosts_tmpfs_is_not() {
    // Ours: a layout tmpfs at /etc/app from an earlier run; the next run
    // knows it from the current profile and writes into it directly.
    let mut fs = world();
    let first = profile(&["tmpfs /etc/app tmpfs x-snapd.origin=layout 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &first);
    let mut desired = first.clone();
    desired.entries.push(entry(
        "/snap/app/1/data /etc/app/data none rbind,rw,x-snapd.origin=layout 0 0",
    ));
    fs.clear_log();
    let out2 = ok(&mut fs, &out.profile, &desired);
    let mimics: Vec<&str> = out2
        .profile
        .entries
        .iter()
        .filter(|e| e.is_synthetic() && e.fs_type == "tmpfs")
        .map(|e| e.dir.as_str())
        .collect();
    assert_eq!(
        mimics,
        vec!["/etc"],
        "only the first run's mimic of the host's /etc"
    );
    assert!(
        fs.mutation_calls()
            .contains(&"mkdir \"/etc/app\" \"data\" 0755 0 0".to_owned())
    );
    assert!(fs.calls().iter().all(|c| !c.starts_with("set_aside")));

    // A tmpfs the host mounted (in no profile) is not trusted: mimicked.
    let mut fs = world();
    fs.add_dir("/run/host", 0o755);
    fs.mount_fs(
        "tmpfs",
        "/run/host",
        "tmpfs",
        MountFlags::empty(),
        "mode=0755",
    )
    .unwrap();
    let desired = profile(&["tmpfs /run/host/app tmpfs x-snapd.origin=layout 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        out.profile.entries[0].to_string(),
        "tmpfs /run/host tmpfs x-snapd.synthetic,x-snapd.needed-by=/run/host/app,mode=0755,uid=0,gid=0 0 0"
    );
    // A mimic is a tmpfs we mounted: entries below it need no other.
    assert_eq!(
        out.profile
            .entries
            .iter()
            .filter(|e| e.fs_type == "tmpfs")
            .count(),
        2
    );
}

#[test]
fn the_root_directory_is_never_mimicked() {
    // A writable, untrusted / : trespassing there cannot be cured.
    let mut fs = world();
    fs.mark_fs("/", crate::fake::EXT4_MAGIC, false);
    let before = fs.state();
    let desired = profile(&["tmpfs /new/x tmpfs x-snapd.origin=layout 0 0"]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(e.to_string(), "cannot recover from trespassing over /");
    assert!(e.rolled_back());
    assert_eq!(fs.state(), before);

    // A read-only / gives EROFS there, and a mimic over / is refused.
    let mut fs = world();
    let before = fs.state();
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.error,
        ExecError::Failed(
            "cannot create writable mimic over \"/\": cannot recover from trespassing over /"
                .to_owned()
        )
    );
    assert_eq!(fs.state(), before);
}

#[test]
fn trespassing_without_mimics_names_both_paths() {
    // Sources only get mimics for layouts: a content source in /etc fails.
    let mut fs = world();
    let desired = profile(&["/etc/missing-src /var/snap/app/common/x none bind,rw 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].ends_with(
            "cannot write to \"/etc/missing-src\" because it would affect the host in \"/etc\""
        ),
        "{}",
        out.warnings[0]
    );
    assert!(out.profile.entries.is_empty());
}
