//! snap-confine's and snap-update-ns's command lines and snap-confine's
//! environment: parsing never panics, and what is accepted is consistent.
//!
//! Input: NUL-separated fields; those before the first empty field are argv
//! (bytes, not necessarily UTF-8), those after it `KEY=VALUE` environment
//! variables.
#![no_main]
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use libfuzzer_sys::fuzz_target;
use snapcell_confine::request::{Invocation, MAX_PROFILE_WAIT, parse_request};
use snapcell_core::args::{parse_confine_args, parse_update_ns_args};

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0);
    let argv: Vec<OsString> = fields
        .by_ref()
        .take_while(|f| !f.is_empty())
        .map(|f| OsString::from_vec(f.to_vec()))
        .collect();
    let env: Vec<(OsString, OsString)> = fields
        .map(|f| {
            let (k, v) = match f.iter().position(|&b| b == b'=') {
                Some(i) => (&f[..i], &f[i + 1..]),
                None => (f, &b""[..]),
            };
            (
                OsString::from_vec(k.to_vec()),
                OsString::from_vec(v.to_vec()),
            )
        })
        .collect();
    let text: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();

    if let Ok(a) = parse_confine_args(&text) {
        assert_eq!(a.remaining_argv.first(), text.first());
        if !a.version_query {
            assert!(a.security_tag.is_some() && a.executable.is_some());
            assert_eq!(a.exec_argv()[0], *a.executable.as_ref().unwrap());
        }
    }
    let _ = parse_update_ns_args(&text);

    if let Ok(Invocation::Launch(r)) = parse_request(&argv, &env) {
        // The program and its arguments are passed on byte for byte: they
        // are the tail of argv.
        assert_eq!(r.argv[0], r.executable);
        assert!(argv.ends_with(&r.argv), "argv is not passed on unchanged");
        assert!(r.security_tag.starts_with("snap."));
        assert!(r.profile_wait.as_secs() >= 1 && r.profile_wait.as_secs() <= MAX_PROFILE_WAIT);
        if let Some(d) = &r.user_data {
            assert!(d.as_bytes().starts_with(b"/"));
        }
        assert!(r.instance_name.starts_with(&r.snap_name));
    }
});
