//! snapd's compiled seccomp profile files (spec §6.7), parsed from bytes.
//!
//! snapd compiles every security tag's seccomp profile ahead of time, and
//! snap-confine only reads the result and hands it to the kernel. Two file
//! formats exist:
//!
//! * `TAG.bin2` (current snapd): a 128-byte header followed by two classic BPF
//!   programs. Header: `"SC"`, version `1`, a flags byte (bit 0 =
//!   unrestricted: load nothing), 4 bytes of padding, the allow program's
//!   length and the deny program's length (`u32`, native endian), 112
//!   reserved bytes. The allow program follows the header, the deny program
//!   follows the allow program. Each length is at most 32 KiB (`BPF_MAXINSNS`
//!   instructions), a multiple of 8 (`sizeof(struct sock_filter)`) and zero
//!   only in an unrestricted profile; the file is exactly
//!   `128 + allow + deny` bytes. The deny program is loaded first.
//! * `TAG.bin` (snapd up to 2.57, the version Debian 12 ships): one raw BPF
//!   program, or, for a profile whose source is `@unrestricted`, the source
//!   text itself: 2.57's `snap-seccomp compile` copies the 14 bytes
//!   `"@unrestricted\n"` to the output file and 2.57's snap-confine compares
//!   the file with that string. Checked on this machine; see the tests of
//!   `snapcell_sys::seccomp`.
//!
//! The parsers take the file's bytes and its path (for the result and the
//! messages); reading the file is `snapcell_sys::seccomp`'s part.

use std::path::{Path, PathBuf};

use super::bpf::{BpfProgram, MAX_BPF_SIZE, SOCK_FILTER_SIZE};
use super::{FilterRole, ProfileFormat, SeccompProgram};

/// Size of the `.bin2` header.
pub const HEADER_SIZE: usize = 128;
/// What snapd 2.57 writes to `TAG.bin` for an `@unrestricted` profile.
pub const LEGACY_UNRESTRICTED: &[u8] = b"@unrestricted\n";

/// Why a profile file is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformation {
    #[error("file is {0} bytes, shorter than the {HEADER_SIZE}-byte header")]
    TruncatedHeader(usize),
    #[error("unexpected seccomp header {:?} (expected \"SC\")", String::from_utf8_lossy(.0))]
    BadMagic([u8; 2]),
    #[error("unexpected seccomp file version {0} (expected 1)")]
    BadVersion(u8),
    #[error("{role} filter size {len} is too big (at most {MAX_BPF_SIZE} bytes)")]
    FilterTooBig { role: FilterRole, len: u64 },
    #[error(
        "{role} filter size {len} is not a multiple of {SOCK_FILTER_SIZE} (sizeof struct sock_filter)"
    )]
    FilterNotMultiple { role: FilterRole, len: u64 },
    #[error("{role} filter may only be empty in unrestricted profiles")]
    EmptyFilter { role: FilterRole },
    #[error("unexpected file size {actual} != {HEADER_SIZE} + {allow} + {deny}")]
    SizeMismatch { actual: u64, allow: u64, deny: u64 },
    #[error("file is larger than {limit} bytes")]
    TooBig { limit: usize },
    #[error("empty program")]
    EmptyProgram,
}

/// A profile file that does not parse: which file, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot load seccomp profile {}: {reason}", .path.display())]
pub struct MalformedProfile {
    pub path: PathBuf,
    pub reason: Malformation,
}

fn filter_len(role: FilterRole, len: u32, unrestricted: bool) -> Result<usize, Malformation> {
    let len64 = u64::from(len);
    if len as usize > MAX_BPF_SIZE {
        return Err(Malformation::FilterTooBig { role, len: len64 });
    }
    if !(len as usize).is_multiple_of(SOCK_FILTER_SIZE) {
        return Err(Malformation::FilterNotMultiple { role, len: len64 });
    }
    if len == 0 && !unrestricted {
        return Err(Malformation::EmptyFilter { role });
    }
    Ok(len as usize)
}

/// Parse the contents of a `.bin2` file (no I/O). `path` is only used for
/// the result's [`SeccompProgram::path`] and messages.
///
/// Checks, in snapd's order: header length, magic, version, each length
/// (≤ 32 KiB, multiple of 8), the file size, then (unless unrestricted) that
/// no program is empty. Flag bits other than bit 0 and the reserved bytes
/// are ignored, as snapd does; an unrestricted profile loads nothing even
/// if it carries programs.
pub fn parse_bin2(path: &Path, bytes: &[u8]) -> Result<SeccompProgram, MalformedProfile> {
    parse_bin2_inner(bytes)
        .map(|(unrestricted, filters)| SeccompProgram {
            source: path.to_owned(),
            format: ProfileFormat::Bin2,
            unrestricted,
            filters,
        })
        .map_err(|reason| MalformedProfile {
            path: path.to_owned(),
            reason,
        })
}

type Filters = Vec<(FilterRole, BpfProgram)>;

fn parse_bin2_inner(bytes: &[u8]) -> Result<(bool, Filters), Malformation> {
    if bytes.len() < HEADER_SIZE {
        return Err(Malformation::TruncatedHeader(bytes.len()));
    }
    if &bytes[0..2] != b"SC" {
        return Err(Malformation::BadMagic([bytes[0], bytes[1]]));
    }
    if bytes[2] != 1 {
        return Err(Malformation::BadVersion(bytes[2]));
    }
    let unrestricted = bytes[3] & 0x1 != 0;
    let allow_raw = u32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
    let deny_raw = u32::from_ne_bytes(bytes[12..16].try_into().expect("4 bytes"));
    // Limits and alignment first (snapd checks them while reading the
    // header), then the size, then emptiness (snapd checks it while reading
    // each program, which only happens for restricted profiles).
    let allow = filter_len(FilterRole::Allow, allow_raw, true)?;
    let deny = filter_len(FilterRole::Deny, deny_raw, true)?;
    if bytes.len() != HEADER_SIZE + allow + deny {
        return Err(Malformation::SizeMismatch {
            actual: bytes.len() as u64,
            allow: allow as u64,
            deny: deny as u64,
        });
    }
    if unrestricted {
        return Ok((true, Vec::new()));
    }
    filter_len(FilterRole::Allow, allow_raw, false)?;
    filter_len(FilterRole::Deny, deny_raw, false)?;
    let allow_prog = BpfProgram::from_checked_bytes(&bytes[HEADER_SIZE..HEADER_SIZE + allow]);
    let deny_prog = BpfProgram::from_checked_bytes(&bytes[HEADER_SIZE + allow..]);
    Ok((
        false,
        vec![
            (FilterRole::Deny, deny_prog),
            (FilterRole::Allow, allow_prog),
        ],
    ))
}

/// Parse the contents of a legacy `.bin` file (no I/O): exactly
/// `"@unrestricted\n"`, or a raw program (non-empty, a multiple of 8 bytes,
/// at most 32 KiB). snapd 2.57 itself did not check the multiple of 8 (the
/// kernel would have rejected the truncated program anyway); we do.
pub fn parse_legacy_bin(path: &Path, bytes: &[u8]) -> Result<SeccompProgram, MalformedProfile> {
    let malformed = |reason| MalformedProfile {
        path: path.to_owned(),
        reason,
    };
    if bytes == LEGACY_UNRESTRICTED {
        return Ok(SeccompProgram {
            source: path.to_owned(),
            format: ProfileFormat::LegacyBin,
            unrestricted: true,
            filters: Vec::new(),
        });
    }
    if bytes.is_empty() {
        return Err(malformed(Malformation::EmptyProgram));
    }
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    filter_len(FilterRole::Legacy, len, false).map_err(malformed)?;
    Ok(SeccompProgram {
        source: path.to_owned(),
        format: ProfileFormat::LegacyBin,
        unrestricted: false,
        filters: vec![(FilterRole::Legacy, BpfProgram::from_checked_bytes(bytes))],
    })
}

/// Encode a `.bin2` file: header, allow program, deny program (what
/// `snap-seccomp compile` writes).
pub fn encode_bin2(unrestricted: bool, allow: &[u8], deny: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + allow.len() + deny.len());
    out.extend_from_slice(b"SC");
    out.push(1);
    out.push(u8::from(unrestricted));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(allow.len() as u32).to_ne_bytes());
    out.extend_from_slice(&(deny.len() as u32).to_ne_bytes());
    out.extend_from_slice(&[0; 112]);
    debug_assert_eq!(out.len(), HEADER_SIZE);
    out.extend_from_slice(allow);
    out.extend_from_slice(deny);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::{self, SockFilter};

    fn ret_allow() -> Vec<u8> {
        SockFilter::stmt(bpf::RET_K, bpf::RET_ALLOW)
            .to_bytes()
            .to_vec()
    }

    fn bin2_err(bytes: &[u8]) -> Malformation {
        match parse_bin2(Path::new("/x/t.bin2"), bytes) {
            Err(MalformedProfile { reason, .. }) => reason,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn bin2_round_trip() {
        let allow = ret_allow();
        let deny = [ret_allow(), ret_allow()].concat();
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(false, &allow, &deny)).unwrap();
        assert!(!p.is_unrestricted());
        assert_eq!(p.filters().len(), 2);
        assert_eq!(p.filters()[0].0, FilterRole::Deny);
        assert_eq!(p.filters()[0].1.instructions().len(), 2);
        assert_eq!(p.filters()[1].0, FilterRole::Allow);
        assert_eq!(p.filters()[1].1.to_bytes(), allow);
    }

    #[test]
    fn bin2_malformed() {
        let a = ret_allow();
        assert_eq!(bin2_err(&[]), Malformation::TruncatedHeader(0));
        let mut bad = encode_bin2(false, &a, &a);
        bad[0] = b'X';
        assert_eq!(bin2_err(&bad), Malformation::BadMagic([b'X', b'C']));
        let mut bad = encode_bin2(false, &a, &a);
        bad[2] = 2;
        assert_eq!(bin2_err(&bad), Malformation::BadVersion(2));
        assert_eq!(
            bin2_err(&encode_bin2(false, &a, &[])),
            Malformation::EmptyFilter {
                role: FilterRole::Deny
            }
        );
        assert_eq!(
            bin2_err(&encode_bin2(false, &[], &a)),
            Malformation::EmptyFilter {
                role: FilterRole::Allow
            }
        );
        assert_eq!(
            bin2_err(&encode_bin2(false, &a[..4], &a)),
            Malformation::FilterNotMultiple {
                role: FilterRole::Allow,
                len: 4
            }
        );
        let big = vec![0u8; MAX_BPF_SIZE + 8];
        assert_eq!(
            bin2_err(&encode_bin2(false, &a, &big)),
            Malformation::FilterTooBig {
                role: FilterRole::Deny,
                len: (MAX_BPF_SIZE + 8) as u64
            }
        );
        let mut short = encode_bin2(false, &a, &a);
        short.pop();
        assert_eq!(
            bin2_err(&short),
            Malformation::SizeMismatch {
                actual: 143,
                allow: 8,
                deny: 8
            }
        );
        let mut long = encode_bin2(true, &[], &[]);
        long.push(0);
        assert_eq!(
            bin2_err(&long),
            Malformation::SizeMismatch {
                actual: 129,
                allow: 0,
                deny: 0
            }
        );
    }

    #[test]
    fn bin2_unrestricted_loads_nothing() {
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(true, &[], &[])).unwrap();
        assert!(p.is_unrestricted());
        assert!(p.filters().is_empty());
        // snapd ignores programs in an unrestricted profile, and so do we.
        let a = ret_allow();
        let p = parse_bin2(Path::new("/x/t.bin2"), &encode_bin2(true, &a, &a)).unwrap();
        assert!(p.filters().is_empty());
    }

    #[test]
    fn legacy_bin() {
        let p = parse_legacy_bin(Path::new("/x/t.bin"), LEGACY_UNRESTRICTED).unwrap();
        assert!(p.is_unrestricted());
        let p = parse_legacy_bin(Path::new("/x/t.bin"), &ret_allow()).unwrap();
        assert_eq!(p.filters()[0].0, FilterRole::Legacy);
        let err = |b: &[u8]| match parse_legacy_bin(Path::new("/x/t.bin"), b) {
            Err(MalformedProfile { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b""), Malformation::EmptyProgram);
        assert_eq!(
            err(b"@unrestricted"),
            Malformation::FilterNotMultiple {
                role: FilterRole::Legacy,
                len: 13
            }
        );
        assert_eq!(
            err(b"@unrestricted\n\n"),
            Malformation::FilterNotMultiple {
                role: FilterRole::Legacy,
                len: 15
            }
        );
    }
}
