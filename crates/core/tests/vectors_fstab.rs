//! snapd's fstab vectors: entry parse, entry format, whole profile parse.
mod common;

use common::{cases, check_all, entries, entry};
use snapcell_core::entry::MountEntry;
use snapcell_core::profile::Profile;

#[test]
fn fstab_entry_parse() {
    let Some(cases) = cases("fstab_entry_parse.json") else {
        return;
    };
    check_all("fstab_entry_parse.json", &cases, |c| {
        let got = MountEntry::parse(c["input"]["line"].as_str().unwrap());
        match (c["expected"]["ok"].as_bool().unwrap(), got) {
            (true, Ok(e)) if e == entry(&c["expected"]["entry"]) => Ok(()),
            (false, Err(err)) if err.to_string() == c["expected"]["error"].as_str().unwrap() => {
                Ok(())
            }
            (_, got) => Err(format!("got {got:?}, expected {}", c["expected"])),
        }
    });
}

#[test]
fn fstab_entry_format() {
    let Some(cases) = cases("fstab_entry_format.json") else {
        return;
    };
    check_all("fstab_entry_format.json", &cases, |c| {
        let line = entry(&c["input"]["entry"]).to_string();
        let want = c["expected"]["line"].as_str().unwrap();
        if line == want {
            Ok(())
        } else {
            Err(format!("got {line:?}, expected {want:?}"))
        }
    });
}

#[test]
fn fstab_profile_parse() {
    let Some(cases) = cases("fstab_profile_parse.json") else {
        return;
    };
    check_all("fstab_profile_parse.json", &cases, |c| {
        let got = Profile::parse(c["input"]["text"].as_str().unwrap());
        match (c["expected"]["ok"].as_bool().unwrap(), got) {
            (true, Ok(p)) if p.entries == entries(&c["expected"]["entries"]) => Ok(()),
            (false, Err(err))
                if err.error.to_string() == c["expected"]["error"].as_str().unwrap() =>
            {
                Ok(())
            }
            (_, got) => Err(format!("got {got:?}, expected {}", c["expected"])),
        }
    });
}
