//! Symbolic links planted on the way are refused, and nothing gets mounted.

use super::*;

/// Every component of `/var/snap/app/common/a/b/target` in turn replaced by
/// a link to /etc: the update fails naming the path and mounts nothing.
#[test]
fn a_symlink_at_any_component_of_the_target_is_refused() {
    let stems = [
        "/var/snap/app/common/a",
        "/var/snap/app/common/a/b",
        "/var/snap/app/common/a/b/target",
    ];
    for (i, link) in stems.iter().enumerate() {
        let mut fs = world();
        // Make the directories above the link, then plant the link.
        if i > 0 {
            fs.add_dir(stems[i - 1], 0o755);
        }
        fs.add_symlink(link, "/etc");
        let before = fs.state();
        let desired = profile(&[
            "/snap/app/1/data /var/snap/app/common/a/b/target none rbind,rw,x-snapd.origin=layout 0 0",
        ]);
        let e = err(&mut fs, &Profile::default(), &desired);
        let msg = e.to_string();
        assert!(msg.starts_with("cannot "), "{msg}");
        assert!(
            msg.contains(link) || msg.contains("/var/snap/app/common/a/b/target"),
            "{msg}"
        );
        assert!(e.rolled_back(), "{e}");
        assert_eq!(fs.state(), before, "link at {link}");
        assert!(fs.peek("/etc/b").is_none() && fs.peek("/etc/target").is_none());
    }
}

#[test]
fn the_messages_name_the_link() {
    let mut fs = world();
    fs.add_symlink("/var/snap/app/common/link", "/etc");
    let desired = profile(&[
        "/snap/app/1/data /var/snap/app/common/link/x none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot inspect \"/var/snap/app/common/link/x\": too many levels of symbolic links"
    );
    let desired = profile(&[
        "/snap/app/1/data /var/snap/app/common/link none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot use \"/var/snap/app/common/link\" as mount point: not a directory"
    );
}

#[test]
fn a_symlink_as_bind_source_is_refused() {
    let mut fs = world();
    let before = fs.state();
    let desired = profile(&[
        "/snap/app/1/data-link /var/snap/app/common/x none rbind,rw,x-snapd.origin=layout 0 0",
    ]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert_eq!(
        e.to_string(),
        "cannot use \"/snap/app/1/data-link\" as bind-mount source: not a directory"
    );
    assert_eq!(fs.state(), before);
}

#[test]
fn a_symlink_below_an_existing_directory_is_refused() {
    let mut fs = world();
    fs.add_dir("/var/snap/app/common/a", 0o755)
        .add_symlink("/var/snap/app/common/a/b", "/etc");
    let before = fs.state();
    let desired = profile(&["tmpfs /var/snap/app/common/a/b/c tmpfs x-snapd.origin=layout 0 0"]);
    let e = err(&mut fs, &Profile::default(), &desired);
    assert!(e.to_string().contains("/var/snap/app/common/a/b"), "{e}");
    assert_eq!(fs.state(), before);
}

#[test]
fn for_content_entries_a_symlink_is_a_warning_and_nothing_is_mounted() {
    let mut fs = world();
    fs.add_symlink("/var/snap/app/common/link", "/etc");
    let before = fs.state();
    let desired = profile(&["/snap/other/1 /var/snap/app/common/link/x none bind,ro 0 0"]);
    let out = ok(&mut fs, &Profile::default(), &desired);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("/var/snap/app/common/link/x"));
    assert!(out.profile.entries.is_empty());
    assert_eq!(fs.state(), before);
}
