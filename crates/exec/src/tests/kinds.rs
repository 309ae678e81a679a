//! Entry kinds and options: ignore-missing, file, symlink, ensure-dir;
//! error texts of the low-level steps.

use snapcell_sys::system::{Errno, FileKind};

use super::*;
use crate::fake::Op;

#[test]
fn ignore_missing_skips_silently_and_creates_nothing() {
    let mut fs = world();
    let before = fs.state();
    let desired = profile(&[
        "/snap/app/1/missing /var/snap/app/common/x none bind,rw,x-snapd.ignore-missing 0 0",
        "/snap/app/1/data /var/snap/app/common/missing-target none bind,rw,x-snapd.ignore-missing 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert!(out.profile.entries.is_empty());
    assert!(out.warnings.is_empty());
    assert_eq!(fs.state(), before);
    // With both present it is an ordinary bind.
    fs.add_dir("/var/snap/app/common/x", 0o755)
        .add_dir("/snap/app/1/missing", 0o755);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(out.profile.entries.len(), 1);
}

#[test]
fn kind_file_creates_an_empty_file_and_removes_it_again() {
    let mut fs = world();
    let before = fs.state();
    let desired = profile(&[
        "/snap/app/1/conf/app.conf /var/snap/app/common/app.conf none bind,ro,x-snapd.kind=file 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(lines(&out.profile), lines(&desired));
    assert!(
        fs.mutation_calls()
            .contains(&"mkfile \"/var/snap/app/common\" \"app.conf\" 0755 0 0".to_owned())
    );
    assert_eq!(
        fs.peek("/var/snap/app/common/app.conf").map(|m| m.size),
        Some(10)
    );
    assert!(
        fs.mounts()
            .iter()
            .any(|m| m.target == "/var/snap/app/common/app.conf" && m.read_only)
    );
    ok(&mut fs, &out.profile, &Profile::default());
    assert_eq!(fs.state(), before);
}

#[test]
fn kind_file_keeps_a_non_empty_mount_point() {
    let mut fs = world();
    fs.add_file("/var/snap/app/common/app.conf", 0o644, 4);
    let before = fs.state();
    let desired = profile(&[
        "/snap/app/1/conf/app.conf /var/snap/app/common/app.conf none bind,x-snapd.kind=file 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    ok(&mut fs, &out.profile, &Profile::default());
    assert_eq!(fs.state(), before);
}

#[test]
fn kind_symlink_creates_and_verifies_the_link() {
    let mut fs = world();
    let before = fs.state();
    let line = "none /var/snap/app/common/link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/data,x-snapd.origin=layout 0 0";
    let desired = profile(&[line]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(lines(&out.profile), vec![line]);
    assert_eq!(
        fs.peek_link("/var/snap/app/common/link").as_deref(),
        Some("/snap/app/1/data")
    );
    assert_eq!(fs.mounts().len(), 1, "a symlink is not a mount");
    // An identical link in place is fine (e.g. a lost current profile).
    let again = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(lines(&again.profile), vec![line]);
    // Removing the entry removes the link.
    ok(&mut fs, &again.profile, &Profile::default());
    assert_eq!(fs.state(), before);

    // A different link in the way.
    fs.add_symlink("/var/snap/app/common/link", "/elsewhere");
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot create symbolic link \"/var/snap/app/common/link\": existing symbolic link in the way"
    );
    assert_eq!(
        fs.peek_link("/var/snap/app/common/link").as_deref(),
        Some("/elsewhere")
    );
    // A file in the way.
    let mut fs = world();
    fs.add_file("/var/snap/app/common/link", 0o644, 0);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot create symlink in \"/var/snap/app/common/link\": existing file in the way"
    );
    // An empty target.
    let mut fs = world();
    let bad = profile(&[
        "none /var/snap/app/common/l none x-snapd.kind=symlink,x-snapd.origin=layout 0 0",
    ]);
    let e = err(&mut fs, &Profile::default(), &bad);
    assert_eq!(
        e.to_string(),
        "cannot create symlink with empty target: \"/var/snap/app/common/l\""
    );
}

#[test]
fn kind_symlink_in_a_read_only_place_gets_a_mimic() {
    let mut fs = world();
    let desired = profile(&[
        "none /usr/share/app-link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/share,x-snapd.origin=layout 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(out.profile.entries[0].dir, "/usr/share");
    assert_eq!(
        fs.peek_link("/usr/share/app-link").as_deref(),
        Some("/snap/app/1/share")
    );
}

#[test]
fn ensure_dir_creates_missing_directories_for_the_caller_and_keeps_them() {
    let mut fs = world();
    let ensure = "none /home/user/.local/share/app none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=/home/user 0 0";
    let desired = profile(&[ensure]);
    let asm = Assumptions::for_user(&mut fs, "/home/user", 1000, 1000);
    let out = apply(&mut fs, &Profile::default(), &desired, asm).expect("ensure-dir works");
    assert_eq!(lines(&out.profile), vec![ensure]);
    for d in [
        "/home/user/.local",
        "/home/user/.local/share",
        "/home/user/.local/share/app",
    ] {
        let m = fs.peek(d).unwrap_or_else(|| panic!("{d} made"));
        assert_eq!(
            (m.kind, m.mode, m.uid, m.gid),
            (FileKind::Dir, 0o700, 1000, 1000),
            "{d}"
        );
    }
    assert_eq!(fs.mounts().len(), 1);
    // Never removed.
    let asm = Assumptions::for_user(&mut fs, "/home/user", 1000, 1000);
    apply(&mut fs, &out.profile, &Profile::default(), asm).expect("unmount of ensure-dir");
    assert!(fs.peek("/home/user/.local/share/app").is_some());

    // The directory that must exist does not.
    let mut fs = world();
    let missing = profile(&[
        "none /home/nobody/x none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=/home/nobody 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &missing);
    assert_eq!(
        out.warnings,
        vec![format!(
            "cannot change mount namespace according to change mount ({}): cannot create ensure-dir target \"/home/nobody/x\": parent directory \"/home/nobody\" does not exist",
            missing.entries[0]
        )]
    );
    // Not below it.
    let outside = profile(&[
        "none /home/x none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=/home/user 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &outside);
    assert!(
        out.warnings[0].ends_with("path \"/home/user\" is not a parent of \"/home/x\""),
        "{}",
        out.warnings[0]
    );
    // Without the home as unrestricted path, the host's /home is trespassing.
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert!(
        out.warnings[0].ends_with("cannot write to \"/home/user/.local/share/app\" because it would affect the host in \"/home/user\""),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn low_level_failures_name_the_paths_and_errno() {
    let cases = [
        (
            "/snap/app/1/data /var/snap/app/common/d none bind,rw,x-snapd.origin=layout 0 0",
            Op::Bind,
            "/var/snap/app/common/d",
            "cannot bind-mount \"/snap/app/1/data\" over \"/var/snap/app/common/d\": permission denied",
        ),
        (
            "tmpfs /var/snap/app/common/t tmpfs size=1m,x-snapd.origin=layout 0 0",
            Op::MountFs,
            "/var/snap/app/common/t",
            "cannot mount tmpfs \"tmpfs\" over \"/var/snap/app/common/t\": permission denied",
        ),
        (
            "/snap/app/1/data /var/snap/app/common/d none rbind,rshared,x-snapd.origin=layout 0 0",
            Op::SetPropagation,
            "/var/snap/app/common/d",
            "cannot change mount propagation of \"/var/snap/app/common/d\": permission denied",
        ),
        (
            "tmpfs /var/snap/app/common/t tmpfs x-snapd.origin=layout 0 0",
            Op::Mkdir,
            "/var/snap/app/common/t",
            "cannot create directory \"/var/snap/app/common/t\": permission denied",
        ),
    ];
    for (line, op, path, want) in cases {
        let mut fs = world();
        let before = fs.state();
        fs.fail_on(op, path, Errno::ACCESS);
        let e = err(&mut fs, &Profile::default(), &profile(&[line]));
        assert_eq!(e.to_string(), want);
        assert_eq!(e.change.entry.to_string(), line);
        assert!(e.rolled_back());
        assert_eq!(fs.state(), before, "{line}");
    }
}

#[test]
fn propagation_is_applied_after_the_mount() {
    let mut fs = world();
    let desired = profile(&["/snap/app/1/data /var/snap/app/common/d none rbind,rslave 0 0"]);
    ok(&mut fs, &Profile::default(), &desired);
    let calls = fs.mutation_calls();
    assert_eq!(
        calls[calls.len() - 2..],
        [
            "bind \"/snap/app/1/data\" \"/var/snap/app/common/d\" rec",
            "set_propagation \"/var/snap/app/common/d\" rslave",
        ]
    );
}

#[test]
fn read_only_recursive_binds_are_allowed() {
    let mut fs = world();
    let desired = profile(&["/snap/app/1/data /var/snap/app/common/d none rbind,ro 0 0"]);
    ok(&mut fs, &Profile::default(), &desired);
    assert!(
        fs.mutation_calls()
            .contains(&"bind \"/snap/app/1/data\" \"/var/snap/app/common/d\" rec ro".to_owned())
    );
}

#[test]
fn an_unmount_that_finds_nothing_mounted_is_forgiven() {
    let mut fs = world();
    fs.add_dir("/var/snap/app/common/gone", 0o755);
    let current = profile(&["/snap/app/1/data /var/snap/app/common/gone none rbind,rw 0 0"]);
    let out = ok(&mut fs, &current, &Profile::default());
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(
        fs.peek("/var/snap/app/common/gone").is_none(),
        "the mount point is cleaned up"
    );
    // But EINVAL on something that is still a mount point is an error.
    let mut fs = world();
    let out = ok(&mut fs, &Profile::default(), &current);
    fs.fail_on(Op::Unmount, "/var/snap/app/common/gone", Errno::INVAL);
    let out = ok(&mut fs, &out.profile, &Profile::default());
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].ends_with("cannot unmount \"/var/snap/app/common/gone\": invalid argument")
    );
}

#[test]
fn unknown_kinds_are_refused() {
    let mut fs = world();
    let desired =
        profile(&["none /var/snap/app/common/x none x-snapd.kind=weird,x-snapd.origin=layout 0 0"]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert!(e.to_string().starts_with("cannot use mount entry "), "{e}");
}

#[test]
fn a_symlink_entry_removes_only_its_own_link() {
    let line = "none /var/snap/app/common/link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/data,x-snapd.origin=layout 0 0";
    let current = profile(&[line]);
    // Someone replaced the link: it is left alone.
    let mut fs = world();
    fs.add_symlink("/var/snap/app/common/link", "/somewhere/else");
    let out = ok(&mut fs, &current, &Profile::default());
    assert!(out.profile.entries.is_empty());
    assert_eq!(
        fs.peek_link("/var/snap/app/common/link").as_deref(),
        Some("/somewhere/else")
    );
    // Gone already: fine.
    let mut fs = world();
    let out = ok(&mut fs, &current, &Profile::default());
    assert!(out.warnings.is_empty());
}

#[test]
fn the_new_current_profile_survives_saving_and_loading() {
    let mut fs = world();
    let desired = profile(&[
        "/snap/app/1/data /rofs/target none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/lib /etc/app none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    let reloaded = Profile::parse(&out.profile.to_string()).expect("parses");
    assert_eq!(reloaded, out.profile);
    // And the reloaded profile plans as all keeps.
    let again = ok(&mut fs, &reloaded, &desired);
    assert!(
        again
            .changes
            .iter()
            .all(|c| c.action == snapcell_core::plan::Action::Keep)
    );
}

#[test]
fn overname_failures_abort_and_content_failures_do_not() {
    let mut fs = world();
    fs.fail_on(Op::Bind, "/snap/app", Errno::PERM);
    let over = profile(&["/snap/app_foo /snap/app none rbind,x-snapd.origin=overname 0 0"]);
    fs.add_dir("/snap/app_foo", 0o755);
    let before = fs.state();
    let e = err(&mut fs, &Profile::default(), &over);
    assert_eq!(
        e.to_string(),
        "cannot recursively bind-mount \"/snap/app_foo\" over \"/snap/app\": operation not permitted"
    );
    assert_eq!(fs.state(), before);
}

#[test]
fn a_failed_rollback_is_reported() {
    let mut fs = world();
    let current_desired = profile(&[
        "/snap/app/1/data /var/snap/app/common/a none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let current = ok(&mut fs, &Profile::default(), &current_desired).profile;
    // The update unmounts /var/snap/app/common/a, then fails; mounting it
    // back fails too.
    let desired = profile(&[
        "/snap/app/1/lib /var/snap/app/common/a none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    fs.fail_on(Op::Bind, "/var/snap/app/common/a", Errno::IO);
    let e = err(&mut fs, &current, &desired);
    assert!(!e.rolled_back());
    assert_eq!(
        e.to_string(),
        "cannot recursively bind-mount \"/snap/app/1/lib\" over \"/var/snap/app/common/a\": input/output error \
         (and cannot roll back, the mount namespace may be inconsistent: cannot restore \"/var/snap/app/common/a\": \
         cannot recursively bind-mount \"/snap/app/1/data\" over \"/var/snap/app/common/a\": input/output error)"
    );
}

#[test]
fn a_home_reached_through_a_symlink_is_not_unrestricted() {
    let mut fs = world();
    fs.add_symlink("/home/link", "user");
    let asm = Assumptions::for_user(&mut fs, "/home/link", 1000, 1000);
    assert!(asm.is_restricted("/home/link/x"));
    let asm = Assumptions::for_user(&mut fs, "/home/user/", 1000, 1000);
    assert!(asm.is_restricted("/home/user/x"), "unclean");
    let asm = Assumptions::for_user(&mut fs, "/home/user", 1000, 1000);
    assert!(!asm.is_restricted("/home/user/x"));
}
