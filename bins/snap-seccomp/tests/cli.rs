//! snap-seccomp's command line: snapd's messages and exit codes, and every
//! kind of bad profile gives a clear error naming FILE:LINE and leaves no
//! output (and an existing output untouched).

use std::path::Path;
use std::process::{Command, Output};

const OURS: &str = env!("CARGO_BIN_EXE_snap-seccomp");
const DEBIAN: &str = "/usr/lib/snapd/snap-seccomp";

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("run snap-seccomp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn compile_err(src: &[u8]) -> (String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("p.src");
    let out = dir.path().join("p.bin2");
    std::fs::write(&input, src).unwrap();
    let o = run(
        OURS,
        &["compile", input.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        [std::ffi::OsString::from("p.src")],
        "no output, no temporary file"
    );
    let err = text(&o.stderr);
    (
        err.strip_prefix("error: ")
            .expect("error: prefix")
            .trim_end()
            .replace(input.to_str().unwrap(), "p.src"),
        out.exists(),
    )
}

#[test]
fn commands_as_snapd() {
    let o = run(OURS, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), format!("{OURS}: need a command\n"));
    let o = run(OURS, &["compile", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "compile needs an input and output file\n");
    let o = run(OURS, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: unsupported argument \"frobnicate\"\n"
    );
    let o = run(OURS, &["compile", "/nonexistent/p.src", "/nonexistent/out"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: open /nonexistent/p.src: no such file or directory\n"
    );
    let o = run(OURS, &["library-version"]);
    assert_eq!(o.status.code(), Some(0));
    let lib = text(&o.stdout);
    let o = run(OURS, &["version-info"]);
    let vi = text(&o.stdout);
    let fields: Vec<_> = vi.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{vi}");
    assert!(fields[0].len() >= 16 && fields[0].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(fields[1], lib.trim());
    assert_eq!(fields[2].len(), 64);
    assert!(fields[3] == "bpf-actlog" || fields[3] == "-");
    if Path::new(DEBIAN).exists() {
        let theirs = run(DEBIAN, &["library-version"]);
        assert_eq!(text(&theirs.stdout), lib);
        let theirs = text(&run(DEBIAN, &["version-info"]).stdout);
        assert_eq!(theirs.split_whitespace().nth(3), Some(fields[3]));
    }
}

#[test]
fn parse_errors_name_file_line_and_token() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"read\nioctl - 0x5412\n",
            r#"p.src:2: cannot parse line: cannot parse token "0x5412" (line "ioctl - 0x5412")"#,
        ),
        (
            b"socket AF_NOPE\n",
            r#"p.src:1: cannot parse line: cannot parse token "AF_NOPE" (line "socket AF_NOPE")"#,
        ),
        (
            b"read 1 2 3 4 5 6 7\n",
            r#"p.src:1: cannot parse line: too many arguments specified for syscall 'read' in line "read 1 2 3 4 5 6 7""#,
        ),
        (
            b"chown - u:nosuchuser-snapcell\n",
            r#"p.src:1: cannot parse line: cannot parse token "u:nosuchuser-snapcell" (line "chown - u:nosuchuser-snapcell"): user: unknown user nosuchuser-snapcell"#,
        ),
        (
            b"chown - - g:nosuchgroup-snapcell\n",
            r#"p.src:1: cannot parse line: cannot parse token "g:nosuchgroup-snapcell" (line "chown - - g:nosuchgroup-snapcell"): group: unknown group nosuchgroup-snapcell"#,
        ),
        (
            b"read\n \t \n",
            r#"p.src:2: cannot parse line: line " \t " holds only white space"#,
        ),
        (
            b"read\n\x7fELF\x02\x01\x01\0\0\0",
            r#"p.src:2: cannot parse line: line "\x7fELF\x02\x01\x01\x00\x00\x00" holds the control character U+007F"#,
        ),
        (
            b"\xff\xfe\xfd\n",
            "p.src:1: cannot parse line: line is not valid UTF-8",
        ),
        (
            b"setuid >1\n",
            r#"p.src:1: cannot parse line: cannot parse token ">1" (line "setuid >1"): unsupported comparison"#,
        ),
    ];
    for (src, want) in cases {
        let (err, exists) = compile_err(src);
        assert_eq!(&err, want);
        assert!(!exists);
    }
}

#[test]
fn a_100_mb_profile_is_refused() {
    let mut src = b"read\n".repeat(20 << 20);
    src.truncate(100 << 20);
    let (err, exists) = compile_err(&src);
    assert!(!exists);
    assert_eq!(err, "p.src: cannot read profile: larger than 8388608 bytes");
}

#[test]
fn a_failed_compile_leaves_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.src");
    let bad = dir.path().join("bad.src");
    let out = dir.path().join("out.bin2");
    std::fs::write(&good, "read\nwrite\n").unwrap();
    std::fs::write(&bad, "read 0x1\n").unwrap();
    let o = run(
        OURS,
        &["compile", good.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{o:?}");
    let before = std::fs::read(&out).unwrap();
    assert_eq!(&before[0..4], b"SC\x01\x00");
    let o = run(
        OURS,
        &["compile", bad.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "no temporary file left"
    );
    // An unwritable output directory (absent, whatever the machine has):
    // an error, nothing written.
    let absent = dir.path().join("absent-dir");
    let o = run(
        OURS,
        &[
            "compile",
            good.to_str().unwrap(),
            absent.join("out.bin2").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with(&format!("error: open {}/.", absent.display())),
        "{o:?}"
    );
}

#[test]
fn an_output_that_is_not_a_regular_file_is_never_replaced() {
    // A symlink (to a file or to a device such as /dev/stdout) or a
    // directory given as OUT stays what it is.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("p.src");
    std::fs::write(&src, "read\n").unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let subdir = dir.path().join("subdir");
    std::fs::create_dir(&subdir).unwrap();
    for out in [&link, &subdir] {
        let o = run(
            OURS,
            &["compile", src.to_str().unwrap(), out.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        assert!(
            text(&o.stderr).contains("it exists and is not a regular file"),
            "{o:?}"
        );
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(subdir.is_dir());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        4,
        "no temporary file left"
    );
}

#[test]
fn unrestricted_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("u.src");
    std::fs::write(&src, "# x\n  @unrestricted\nread 0x5\n").unwrap();
    let bin2 = dir.path().join("u.bin2");
    let bin = dir.path().join("u.bin");
    assert!(
        run(
            OURS,
            &["compile", src.to_str().unwrap(), bin2.to_str().unwrap()]
        )
        .status
        .success()
    );
    let b = std::fs::read(&bin2).unwrap();
    assert_eq!(b.len(), 128);
    assert_eq!(&b[0..4], b"SC\x01\x01");
    assert!(b[4..].iter().all(|&x| x == 0));
    assert!(
        run(
            OURS,
            &[
                "compile",
                "--format=bin",
                src.to_str().unwrap(),
                bin.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    assert_eq!(std::fs::read(&bin).unwrap(), b"@unrestricted\n");
    if Path::new(DEBIAN).exists() {
        let deb = dir.path().join("deb.bin");
        assert!(
            run(
                DEBIAN,
                &["compile", src.to_str().unwrap(), deb.to_str().unwrap()]
            )
            .status
            .success()
        );
        assert_eq!(std::fs::read(&deb).unwrap(), b"@unrestricted\n");
    }
}

#[test]
fn dump_writes_both_programs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("p.src");
    let out = dir.path().join("p.bin2");
    std::fs::write(&src, "read\n~ioctl - TIOCSTI\nioctl\n").unwrap();
    assert!(
        run(
            OURS,
            &["compile", src.to_str().unwrap(), out.to_str().unwrap()]
        )
        .status
        .success()
    );
    let prefix = dir.path().join("d");
    let o = run(
        OURS,
        &["dump", out.to_str().unwrap(), prefix.to_str().unwrap()],
    );
    assert!(o.status.success(), "{o:?}");
    let file = std::fs::read(&out).unwrap();
    let allow = std::fs::read(dir.path().join("d.allow")).unwrap();
    let deny = std::fs::read(dir.path().join("d.deny")).unwrap();
    let allow_len = u32::from_ne_bytes(file[8..12].try_into().unwrap()) as usize;
    let deny_len = u32::from_ne_bytes(file[12..16].try_into().unwrap()) as usize;
    assert_eq!(allow, &file[128..128 + allow_len]);
    assert_eq!(deny, &file[128 + allow_len..128 + allow_len + deny_len]);
    assert!(!allow.is_empty() && !deny.is_empty());
}
