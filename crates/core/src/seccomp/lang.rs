//! The `.src` seccomp profile language, read as current snapd's
//! `snap-seccomp compile` reads it (`cmd/snap-seccomp/main.go`:
//! `preprocess` and `parseLine`; research `confinement.md` §1.2).
//!
//! A profile is text, one rule a line:
//!
//! ```text
//! # a comment
//! @complain                      (anywhere: the allow filter logs instead of failing)
//! read                           (allow read(2) whatever its arguments)
//! socket AF_NETLINK - NETLINK_ROUTE
//! setpriority PRIO_PROCESS 0 <=19
//! mknodat - - |S_IFIFO -
//! chown - u:root g:root
//! ~ioctl - 4294967295|TIOCSTI    (explicit deny: EACCES)
//! @enosys clone3                 (ours: fail with ENOSYS, as if the kernel lacked it)
//! ```
//!
//! * A line equal to `@unrestricted` or `@complain` once trimmed sets that
//!   flag, wherever it is. An unrestricted profile compiles no rules, so its
//!   other lines are not parsed (as snapd).
//! * A line (not trimmed) that is empty or starts with `#` is skipped.
//!   Anything else is split on white space: the first word is the system
//!   call (`~NAME` for an explicit deny), then at most six argument tokens.
//! * Unknown system call names are kept in [`SourceProfile::ignored`] and
//!   their arguments are not read, as snapd ignores them. Which names are
//!   known depends on the seccomp library (a name→number table per
//!   architecture), so the caller says, through `is_known`.
//! * An argument token is, by prefix in this order: `-` (any value), `>=N`,
//!   `<=N`, `!N` (not equal), `<N`, `>N`, `|N` (masked equal: the bits of N
//!   are set), a token holding `|` as in `A|B` (masked equal: `arg & A ==
//!   B`), `u:NAME` / `g:NAME` (equal to that user's or group's id, looked up
//!   by the caller: [`Value::User`], [`Value::Group`]), or `N` (equal).
//! * A number is one of snapd's symbolic constants ([`constant`]) or a
//!   decimal `u32` (no sign, no hex). For the system calls whose arguments
//!   are 32-bit ids ([`allows_negative_arguments`]) a decimal `i32` is taken
//!   too and stored as its `u32` bit pattern; only `=` may be used with
//!   them, and every `=` on them is a masked comparison of the low 32 bits.
//!
//! * `@enosys NAME` (snapcell's, not snapd's) fails the system call NAME
//!   with `ENOSYS` in the allow filter, whatever its arguments: the answer
//!   that makes a C library fall back to an older call a filter can check
//!   (glibc falls back from `clone3`, whose flags are behind a pointer, to
//!   `clone` only on `ENOSYS`). snapd's compiler reads the line as a rule
//!   for an unknown system call named `@enosys` and ignores it.
//!
//! Errors carry snapd's message, prefixed with `FILE:LINE:`. Deliberate
//! differences from snapd, where snapd crashes or takes garbage:
//! * a line of white space only is an error (snapd panics);
//! * a line that is not UTF-8 or holds a control character other than white
//!   space is an error (snapd reads such words as unknown system calls and
//!   ignores them);
//! * a profile larger than [`MAX_SOURCE_SIZE`] is an error;
//! * snapd looks `u:`/`g:` names up while it parses, so of two bad tokens on
//!   one line it may name the other one first.

use std::fmt;

use crate::goquote::quote;

/// The most argument tokens a rule may have (libseccomp's `ARG_COUNT_MAX`).
pub const MAX_ARGS: usize = 6;

/// The largest profile read (snapd's largest real profiles are tens of KiB).
pub const MAX_SOURCE_SIZE: usize = 8 << 20;

/// What a rule does to a matching system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A plain line: allow (in the allow filter).
    Allow,
    /// A `~` line: fail with `EACCES` (in the deny filter).
    Deny,
    /// An `@enosys` line (ours): fail with `ENOSYS` (in the allow filter).
    Enosys,
}

/// The word that starts an `@enosys NAME` line.
pub const ENOSYS_DIRECTIVE: &str = "@enosys";

/// How a condition compares an argument with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    /// `arg & mask == value`.
    MaskedEqual {
        mask: u64,
    },
}

/// The value an argument is compared with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Number(u64),
    /// `u:NAME`: the user's id, to be looked up in the user database.
    User(String),
    /// `g:NAME`: the group's id, to be looked up in the group database.
    Group(String),
}

/// One condition on one argument of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Condition {
    /// Which argument, 0 to 5.
    pub arg: u8,
    pub op: Op,
    pub value: Value,
    /// The token the condition was read from, for messages.
    pub token: String,
}

/// One rule line: all its conditions must hold (they are ANDed); several
/// rules for one system call are ORed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// 1-based line number.
    pub line: usize,
    /// The line as written (less a trailing `\r`), for messages.
    pub text: String,
    /// The system call's name, without the `~`.
    pub syscall: String,
    pub action: Action,
    pub conditions: Vec<Condition>,
}

/// A line naming a system call the compiler does not know: ignored.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ignored {
    pub line: usize,
    pub syscall: String,
    pub action: Action,
}

/// A parsed profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceProfile {
    /// `@unrestricted`: no filter at all (then `rules` is empty).
    pub unrestricted: bool,
    /// `@complain`: the allow filter logs what it would have refused.
    pub complain: bool,
    pub rules: Vec<Rule>,
    pub ignored: Vec<Ignored>,
}

/// A profile that cannot be compiled: where, and snapd's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The file's name as given on the command line.
    pub file: String,
    /// 1-based line number; 0 for the whole file.
    pub line: usize,
    pub kind: ErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.kind)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.kind)
        }
    }
}

/// What is wrong, worded as snapd words it (`line` is the line's text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error(
        "cannot parse line: too many arguments specified for syscall '{syscall}' in line {}",
        quote(line)
    )]
    TooManyArguments { syscall: String, line: String },
    #[error(
        "cannot parse line: cannot parse token {} (line {})",
        quote(token),
        quote(line)
    )]
    BadToken { token: String, line: String },
    #[error(
        "cannot parse line: cannot parse token {} (line {}): unsupported comparison",
        quote(token),
        quote(line)
    )]
    UnsupportedComparison { token: String, line: String },
    #[error(
        "cannot parse line: cannot parse token {} (line {}): {} must be a valid {}",
        quote(token),
        quote(line),
        quote(name),
        if *group { "group name" } else { "username" }
    )]
    InvalidName {
        token: String,
        line: String,
        name: String,
        group: bool,
    },
    /// A `u:`/`g:` name the caller could not resolve; `reason` as snapd
    /// prints it (`user: unknown user NAME`, `group: unknown group NAME`).
    #[error(
        "cannot parse line: cannot parse token {} (line {}): {reason}",
        quote(token),
        quote(line)
    )]
    Lookup {
        token: String,
        line: String,
        reason: String,
    },
    #[error(
        "cannot parse line: {ENOSYS_DIRECTIVE} takes one system call name and no arguments (line {})",
        quote(line)
    )]
    BadDirective { line: String },
    #[error("cannot parse line: line {} holds only white space", quote(line))]
    WhiteSpaceOnly { line: String },
    #[error("cannot parse line: line is not valid UTF-8")]
    NotUtf8,
    #[error(
        "cannot parse line: line {} holds the control character U+{:04X}",
        quote(line),
        *character as u32
    )]
    ControlCharacter { line: String, character: char },
    #[error("cannot read profile: larger than {MAX_SOURCE_SIZE} bytes")]
    TooLarge,
}

/// Parse a whole profile. `file` names it in errors; `is_known` says
/// whether the seccomp library knows a system call name (lines naming
/// others are ignored, as snapd ignores them).
pub fn parse(
    file: &str,
    data: &[u8],
    is_known: &dyn Fn(&str) -> bool,
) -> Result<SourceProfile, ParseError> {
    let err = |line: usize, kind: ErrorKind| ParseError {
        file: file.to_owned(),
        line,
        kind,
    };
    if data.len() > MAX_SOURCE_SIZE {
        return Err(err(0, ErrorKind::TooLarge));
    }
    // Lines as Go's bufio.ScanLines gives them: split at '\n', a trailing
    // '\r' dropped, no empty line after a final '\n'.
    let mut lines = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (raw, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let number = lines.len() + 1;
        let text = std::str::from_utf8(raw).map_err(|_| err(number, ErrorKind::NotUtf8))?;
        if let Some(character) = text.chars().find(|c| c.is_control() && !c.is_whitespace()) {
            return Err(err(
                number,
                ErrorKind::ControlCharacter {
                    line: text.to_owned(),
                    character,
                },
            ));
        }
        lines.push(text);
    }

    let mut profile = SourceProfile::default();
    for line in &lines {
        match line.trim() {
            "@unrestricted" => profile.unrestricted = true,
            "@complain" => profile.complain = true,
            _ => {}
        }
    }
    if profile.unrestricted {
        return Ok(profile);
    }
    for (i, line) in lines.iter().enumerate() {
        parse_line(i + 1, line, is_known, &mut profile).map_err(|kind| err(i + 1, kind))?;
    }
    Ok(profile)
}

fn parse_line(
    number: usize,
    line: &str,
    is_known: &dyn Fn(&str) -> bool,
    profile: &mut SourceProfile,
) -> Result<(), ErrorKind> {
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let Some((&first, args)) = tokens.split_first() else {
        return Err(ErrorKind::WhiteSpaceOnly {
            line: line.to_owned(),
        });
    };
    if args.len() > MAX_ARGS {
        return Err(ErrorKind::TooManyArguments {
            syscall: first.to_owned(),
            line: line.to_owned(),
        });
    }
    let (syscall, action, args) = if first == ENOSYS_DIRECTIVE {
        let [name] = args else {
            return Err(ErrorKind::BadDirective {
                line: line.to_owned(),
            });
        };
        (*name, Action::Enosys, &[][..])
    } else {
        match first.strip_prefix('~') {
            Some(name) => (name, Action::Deny, args),
            None => (first, Action::Allow, args),
        }
    };
    if !is_known(syscall) {
        profile.ignored.push(Ignored {
            line: number,
            syscall: syscall.to_owned(),
            action,
        });
        return Ok(());
    }
    let mut conditions = Vec::with_capacity(args.len());
    for (pos, &token) in args.iter().enumerate() {
        if token == "-" {
            continue;
        }
        let bad = || ErrorKind::BadToken {
            token: token.to_owned(),
            line: line.to_owned(),
        };
        let number = |s: &str| read_number(s, syscall).ok_or_else(bad);
        let (op, value) = if let Some(n) = token.strip_prefix(">=") {
            (Op::GreaterOrEqual, Value::Number(number(n)?))
        } else if let Some(n) = token.strip_prefix("<=") {
            (Op::LessOrEqual, Value::Number(number(n)?))
        } else if let Some(n) = token.strip_prefix('!') {
            (Op::NotEqual, Value::Number(number(n)?))
        } else if let Some(n) = token.strip_prefix('<') {
            (Op::Less, Value::Number(number(n)?))
        } else if let Some(n) = token.strip_prefix('>') {
            (Op::Greater, Value::Number(number(n)?))
        } else if let Some(n) = token.strip_prefix('|') {
            let n = number(n)?;
            (Op::MaskedEqual { mask: n }, Value::Number(n))
        } else if let Some((mask, value)) = token.split_once('|') {
            (
                Op::MaskedEqual {
                    mask: number(mask)?,
                },
                Value::Number(number(value)?),
            )
        } else if let Some(name) = token.strip_prefix("u:") {
            check_name(token, line, name, false)?;
            (Op::Equal, Value::User(name.to_owned()))
        } else if let Some(name) = token.strip_prefix("g:") {
            check_name(token, line, name, true)?;
            (Op::Equal, Value::Group(name.to_owned()))
        } else {
            (Op::Equal, Value::Number(number(token)?))
        };
        let op = if allows_negative_arguments(syscall) {
            if op != Op::Equal {
                return Err(ErrorKind::UnsupportedComparison {
                    token: token.to_owned(),
                    line: line.to_owned(),
                });
            }
            Op::MaskedEqual { mask: 0xFFFF_FFFF }
        } else {
            op
        };
        conditions.push(Condition {
            arg: pos as u8,
            op,
            value,
            token: token.to_owned(),
        });
    }
    profile.rules.push(Rule {
        line: number,
        text: line.to_owned(),
        syscall: syscall.to_owned(),
        action,
        conditions,
    });
    Ok(())
}

fn check_name(token: &str, line: &str, name: &str, group: bool) -> Result<(), ErrorKind> {
    if is_valid_system_username(name) {
        Ok(())
    } else {
        Err(ErrorKind::InvalidName {
            token: token.to_owned(),
            line: line.to_owned(),
            name: name.to_owned(),
            group,
        })
    }
}

/// snapd's `readNumber`: a symbolic constant, a decimal `u32`, or, for the
/// system calls of [`allows_negative_arguments`], a decimal `i32` (Go's
/// `ParseInt`, so a leading `+` or `-`) as its `u32` bit pattern.
pub fn read_number(token: &str, syscall: &str) -> Option<u64> {
    if let Some(v) = constant(token) {
        return Some(u64::from(v));
    }
    if let Some(v) = parse_decimal(token).filter(|&v| v <= u64::from(u32::MAX)) {
        return Some(v);
    }
    if !allows_negative_arguments(syscall) {
        return None;
    }
    let (negative, digits) = match token.as_bytes().first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let magnitude = parse_decimal(digits)?;
    let value = if negative {
        -i64::try_from(magnitude).ok()?
    } else {
        i64::try_from(magnitude).ok()?
    };
    let value = i32::try_from(value).ok()?;
    Some(u64::from(value as u32))
}

/// Decimal digits only (no sign, no `_`), as Go's `ParseUint(s, 10, 64)`.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The system calls whose arguments snapd reads as 32-bit ids, where
/// negative numbers (`-1`: "unchanged") are allowed and `=` compares only
/// the low 32 bits (snapd's `syscallsWithNegArgsMaskHi32`).
pub fn allows_negative_arguments(syscall: &str) -> bool {
    matches!(
        syscall,
        "chown"
            | "chown32"
            | "fchown"
            | "fchown32"
            | "fchownat"
            | "lchown"
            | "lchown32"
            | "setgid"
            | "setgid32"
            | "setregid"
            | "setregid32"
            | "setresgid"
            | "setresgid32"
            | "setreuid"
            | "setreuid32"
            | "setresuid"
            | "setresuid32"
            | "setuid"
            | "setuid32"
            | "copy_file_range"
    )
}

/// The names `u:`/`g:` accept (snapd's `IsValidSnapSystemUsername`):
/// adduser's `NAME_REGEX` `^[a-z][-a-z0-9_]*$`, and `_daemon_`, the system
/// user snapd allocates since 2.61.
pub fn is_valid_system_username(name: &str) -> bool {
    if name == "_daemon_" {
        return true;
    }
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// The value of one of snapd's symbolic constants (snapd's
/// `seccompResolver`, 225 names), as on Linux's generic and x86 ABIs.
pub fn constant(name: &str) -> Option<u32> {
    CONSTANTS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| CONSTANTS[i].1)
}

/// snapd's symbolic constants, sorted by name. Values as on x86 and the
/// generic Linux ABI (arm, arm64, riscv, s390x), checked once against the
/// glibc 2.36 / Linux UAPI headers of Debian 12 with a C program; `Q_X*` are
/// `XQM_CMD(n)`, `AF_CONN` is usrsctp's 123. powerpc and mips number some of
/// them (`TIOCSTI`, `TIOCLINUX`) differently: not handled.
pub const CONSTANTS: &[(&str, u32)] = &[
    ("AF_ALG", 38),
    ("AF_APPLETALK", 5),
    ("AF_ASH", 18),
    ("AF_ATMPVC", 8),
    ("AF_AX25", 3),
    ("AF_BLUETOOTH", 31),
    ("AF_BRIDGE", 7),
    ("AF_CAIF", 37),
    ("AF_CAN", 29),
    ("AF_CONN", 123),
    ("AF_ECONET", 19),
    ("AF_IB", 27),
    ("AF_IEEE802154", 36),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_IPX", 4),
    ("AF_IRDA", 23),
    ("AF_ISDN", 34),
    ("AF_IUCV", 32),
    ("AF_KEY", 15),
    ("AF_LLC", 26),
    ("AF_LOCAL", 1),
    ("AF_MPLS", 28),
    ("AF_NETBEUI", 13),
    ("AF_NETLINK", 16),
    ("AF_NETROM", 6),
    ("AF_NFC", 39),
    ("AF_PACKET", 17),
    ("AF_PHONET", 35),
    ("AF_PPPOX", 24),
    ("AF_QIPCRTR", 42),
    ("AF_RDS", 21),
    ("AF_ROSE", 11),
    ("AF_RXRPC", 33),
    ("AF_SECURITY", 14),
    ("AF_SNA", 22),
    ("AF_TIPC", 30),
    ("AF_UNIX", 1),
    ("AF_VSOCK", 40),
    ("AF_WANPIPE", 25),
    ("AF_X25", 9),
    ("AF_XDP", 44),
    ("CLONE_NEWIPC", 0x0800_0000),
    ("CLONE_NEWNET", 0x4000_0000),
    ("CLONE_NEWNS", 0x0002_0000),
    ("CLONE_NEWPID", 0x2000_0000),
    ("CLONE_NEWUSER", 0x1000_0000),
    ("CLONE_NEWUTS", 0x0400_0000),
    ("KCMP_EPOLL_TFD", 7),
    ("KCMP_FILE", 0),
    ("KCMP_FILES", 2),
    ("KCMP_FS", 3),
    ("KCMP_IO", 5),
    ("KCMP_SIGHAND", 4),
    ("KCMP_SYSVSEM", 6),
    ("KCMP_VM", 1),
    ("NETLINK_AUDIT", 9),
    ("NETLINK_CONNECTOR", 11),
    ("NETLINK_CRYPTO", 21),
    ("NETLINK_DNRTMSG", 14),
    ("NETLINK_ECRYPTFS", 19),
    ("NETLINK_FIB_LOOKUP", 10),
    ("NETLINK_FIREWALL", 3),
    ("NETLINK_GENERIC", 16),
    ("NETLINK_INET_DIAG", 4),
    ("NETLINK_IP6_FW", 13),
    ("NETLINK_ISCSI", 8),
    ("NETLINK_KOBJECT_UEVENT", 15),
    ("NETLINK_NETFILTER", 12),
    ("NETLINK_NFLOG", 5),
    ("NETLINK_RDMA", 20),
    ("NETLINK_ROUTE", 0),
    ("NETLINK_SCSITRANSPORT", 18),
    ("NETLINK_SELINUX", 7),
    ("NETLINK_SOCK_DIAG", 4),
    ("NETLINK_USERSOCK", 2),
    ("NETLINK_XFRM", 6),
    ("O_CREAT", 0o100),
    ("O_NOTIFICATION_PIPE", 0o200),
    ("O_TMPFILE", 0o20_200_000),
    ("PF_ALG", 38),
    ("PF_APPLETALK", 5),
    ("PF_ASH", 18),
    ("PF_ATMPVC", 8),
    ("PF_AX25", 3),
    ("PF_BLUETOOTH", 31),
    ("PF_BRIDGE", 7),
    ("PF_CAIF", 37),
    ("PF_CAN", 29),
    ("PF_CONN", 123),
    ("PF_ECONET", 19),
    ("PF_IB", 27),
    ("PF_IEEE802154", 36),
    ("PF_INET", 2),
    ("PF_INET6", 10),
    ("PF_IPX", 4),
    ("PF_IRDA", 23),
    ("PF_ISDN", 34),
    ("PF_IUCV", 32),
    ("PF_KEY", 15),
    ("PF_LLC", 26),
    ("PF_LOCAL", 1),
    ("PF_MPLS", 28),
    ("PF_NETBEUI", 13),
    ("PF_NETLINK", 16),
    ("PF_NETROM", 6),
    ("PF_NFC", 39),
    ("PF_PACKET", 17),
    ("PF_PHONET", 35),
    ("PF_PPPOX", 24),
    ("PF_QIPCRTR", 42),
    ("PF_RDS", 21),
    ("PF_ROSE", 11),
    ("PF_RXRPC", 33),
    ("PF_SECURITY", 14),
    ("PF_SNA", 22),
    ("PF_TIPC", 30),
    ("PF_UNIX", 1),
    ("PF_VSOCK", 40),
    ("PF_WANPIPE", 25),
    ("PF_X25", 9),
    ("PF_XDP", 44),
    ("PRIO_PGRP", 1),
    ("PRIO_PROCESS", 0),
    ("PRIO_USER", 2),
    ("PR_CAPBSET_DROP", 24),
    ("PR_CAPBSET_READ", 23),
    ("PR_CAP_AMBIENT", 47),
    ("PR_CAP_AMBIENT_CLEAR_ALL", 4),
    ("PR_CAP_AMBIENT_IS_SET", 1),
    ("PR_CAP_AMBIENT_LOWER", 3),
    ("PR_CAP_AMBIENT_RAISE", 2),
    ("PR_GET_CHILD_SUBREAPER", 37),
    ("PR_GET_DUMPABLE", 3),
    ("PR_GET_ENDIAN", 19),
    ("PR_GET_FPEMU", 9),
    ("PR_GET_FPEXC", 11),
    ("PR_GET_KEEPCAPS", 7),
    ("PR_GET_NAME", 16),
    ("PR_GET_NO_NEW_PRIVS", 39),
    ("PR_GET_PDEATHSIG", 2),
    ("PR_GET_SECCOMP", 21),
    ("PR_GET_SECUREBITS", 27),
    ("PR_GET_THP_DISABLE", 42),
    ("PR_GET_TID_ADDRESS", 40),
    ("PR_GET_TIMERSLACK", 30),
    ("PR_GET_TIMING", 13),
    ("PR_GET_TSC", 25),
    ("PR_GET_UNALIGN", 5),
    ("PR_MCE_KILL", 33),
    ("PR_MCE_KILL_GET", 34),
    ("PR_MPX_DISABLE_MANAGEMENT", 44),
    ("PR_MPX_ENABLE_MANAGEMENT", 43),
    ("PR_SET_CHILD_SUBREAPER", 36),
    ("PR_SET_DUMPABLE", 4),
    ("PR_SET_ENDIAN", 20),
    ("PR_SET_FPEMU", 10),
    ("PR_SET_FPEXC", 12),
    ("PR_SET_KEEPCAPS", 8),
    ("PR_SET_MM", 35),
    ("PR_SET_MM_ARG_END", 9),
    ("PR_SET_MM_ARG_START", 8),
    ("PR_SET_MM_AUXV", 12),
    ("PR_SET_MM_BRK", 7),
    ("PR_SET_MM_END_CODE", 2),
    ("PR_SET_MM_END_DATA", 4),
    ("PR_SET_MM_ENV_END", 11),
    ("PR_SET_MM_ENV_START", 10),
    ("PR_SET_MM_EXE_FILE", 13),
    ("PR_SET_MM_START_BRK", 6),
    ("PR_SET_MM_START_CODE", 1),
    ("PR_SET_MM_START_DATA", 3),
    ("PR_SET_MM_START_STACK", 5),
    ("PR_SET_NAME", 15),
    ("PR_SET_NO_NEW_PRIVS", 38),
    ("PR_SET_PDEATHSIG", 1),
    ("PR_SET_PTRACER", 0x5961_6d61),
    ("PR_SET_SECCOMP", 22),
    ("PR_SET_SECUREBITS", 28),
    ("PR_SET_THP_DISABLE", 41),
    ("PR_SET_TIMERSLACK", 29),
    ("PR_SET_TIMING", 14),
    ("PR_SET_TSC", 26),
    ("PR_SET_UNALIGN", 6),
    ("PR_TASK_PERF_EVENTS_DISABLE", 31),
    ("PR_TASK_PERF_EVENTS_ENABLE", 32),
    ("PTRACE_ATTACH", 16),
    ("PTRACE_CONT", 7),
    ("PTRACE_DETACH", 17),
    ("PTRACE_GETFPREGS", 14),
    ("PTRACE_GETFPXREGS", 18),
    ("PTRACE_GETREGS", 12),
    ("PTRACE_GETREGSET", 0x4204),
    ("PTRACE_PEEKDATA", 2),
    ("PTRACE_PEEKUSER", 3),
    ("PTRACE_PEEKUSR", 3),
    ("Q_GETFMT", 0x80_0004),
    ("Q_GETINFO", 0x80_0005),
    ("Q_GETQUOTA", 0x80_0007),
    ("Q_QUOTAOFF", 0x80_0003),
    ("Q_QUOTAON", 0x80_0002),
    ("Q_SETINFO", 0x80_0006),
    ("Q_SETQUOTA", 0x80_0008),
    ("Q_SYNC", 0x80_0001),
    ("Q_XGETQSTAT", 0x5805),
    ("Q_XGETQUOTA", 0x5803),
    ("Q_XQUOTAOFF", 0x5802),
    ("Q_XQUOTAON", 0x5801),
    ("Q_XQUOTARM", 0x5806),
    ("Q_XSETQLIM", 0x5804),
    ("SOCK_DGRAM", 2),
    ("SOCK_PACKET", 10),
    ("SOCK_RAW", 3),
    ("SOCK_RDM", 4),
    ("SOCK_SEQPACKET", 5),
    ("SOCK_STREAM", 1),
    ("S_IFBLK", 0o060_000),
    ("S_IFCHR", 0o020_000),
    ("S_IFIFO", 0o010_000),
    ("S_IFREG", 0o100_000),
    ("S_IFSOCK", 0o140_000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
    ("TIOCLINUX", 0x541C),
    ("TIOCSTI", 0x5412),
];
