//! From a parsed profile to BPF programs, through libseccomp, as snapd's
//! `compile` (research `confinement.md` §1.3), and cheaper to run:
//!
//! * The allow filter fails everything else with `ERRNO(EPERM)` (`LOG` under
//!   `@complain`); plain rules allow. The deny filter allows everything else;
//!   `~` rules fail with `ERRNO(EACCES)` (also under `@complain`).
//! * Both filters cover the native architecture and its compat one (i386 on
//!   amd64, armhf on arm64, powerpc on ppc64; the kernel's when the kernel's
//!   differs from ours); any other architecture, x32 included, is
//!   `KILL_THREAD`, libseccomp's default.
//! * `@enosys NAME` lines (ours, see `lang`) go into the allow filter with
//!   `ERRNO(ENOSYS)`, so a C library falls back as on an older kernel.
//! * snapd sets no filter attribute, so libseccomp emits one linear chain of
//!   comparisons sorted by system call number that every system call walks.
//!   We ask for a binary tree (`SCMP_FLTATR_CTL_OPTIMIZE` = 2): a system call
//!   takes about log2(N) comparisons instead of up to N. Unconditional rules
//!   stay pure comparisons of the number, so the kernel's per-filter action
//!   cache (Linux 5.11+) still skips the filters for those calls entirely.
//! * The allow filter of a large profile is built as many small libseccomp
//!   filters behind a dispatcher (`split`): libseccomp's build time grows
//!   with the square of a filter's size. The decisions are the same.
//! * `--format=bin` builds the one program snapd 2.57 reads: the allow
//!   filter, with the `~` rules in it too (2.57 itself drops them as unknown
//!   names; snapd 2.60–2.62 put them in its single filter). In one filter
//!   libseccomp does not let a deny rule win over an allow rule of the same
//!   system call that also matches (an unconditional allow absorbs it), so
//!   there a `~` rule only holds for system calls no allow rule names:
//!   `compile` warns on stderr. The `.bin2` keeps them apart (the kernel
//!   takes the stricter of the two filters) and has no such case.

use std::collections::HashMap;
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use snapcell_core::goquote::quote;
use snapcell_core::seccomp::lang::{
    self, Action, ErrorKind, Op, ParseError, Rule, SourceProfile, Value,
};

use crate::output;
use crate::split;

const EPERM: i32 = 1;
const EACCES: i32 = 13;
const ENOSYS: i32 = 38;

/// The output file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Current snapd's `.bin2`: header, allow program, deny program.
    Bin2,
    /// snapd 2.57's `.bin`: one raw program (or `@unrestricted\n`).
    Bin,
}

/// What `compile` writes.
pub enum Compiled {
    Unrestricted,
    Filters {
        allow: Program,
        /// `None` for [`Format::Bin`].
        deny: Option<Program>,
    },
}

/// One BPF program to export.
pub enum Program {
    /// One libseccomp filter.
    Whole(ScmpFilterContext),
    /// Many, glued behind a dispatcher (`split`): much cheaper to build.
    Split(split::Split),
}

/// `snap-seccomp compile IN OUT`.
pub fn compile_file(input: &str, out: &Path, format: Format) -> Result<(), String> {
    let data = read_limited(input)?;
    let profile = lang::parse(input, &data, &is_known).map_err(|e| e.to_string())?;
    // The debug dump shows each filter as one libseccomp filter.
    let debug = std::env::var("SNAP_SECCOMP_DEBUG").is_ok_and(|v| is_true(&v));
    let compiled = build(input, &profile, format, !debug)?;
    if let Compiled::Filters { allow, deny } = &compiled
        && debug
    {
        let stdout = std::io::stdout();
        for program in std::iter::once(allow).chain(deny) {
            if let Program::Whole(ctx) = program {
                let _ = ctx.export_pfc(&stdout);
            }
        }
    }
    output::write_compiled(out, &compiled, format)
}

/// Go's `strconv.ParseBool` truths, as snapd's `osutil.GetenvBool`.
fn is_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

fn read_limited(input: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(input).map_err(|e| format!("open {input}: {}", os_error(&e)))?;
    let mut data = Vec::new();
    file.take(lang::MAX_SOURCE_SIZE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("read {input}: {}", os_error(&e)))?;
    Ok(data)
}

/// An I/O error as Go prints it (`no such file or directory`).
pub fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Whether libseccomp knows the name (on any architecture: names of other
/// architectures' calls resolve to pseudo numbers it rewrites or drops).
pub fn is_known(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok()
}

/// The compat architecture added to every filter (snapd's
/// `addSecondaryArches`); worked out once per process.
pub fn compat_arch() -> Option<ScmpArch> {
    static COMPAT: std::sync::OnceLock<Option<ScmpArch>> = std::sync::OnceLock::new();
    *COMPAT.get_or_init(find_compat_arch)
}

fn find_compat_arch() -> Option<ScmpArch> {
    let kernel = kernel_arch();
    let native = ScmpArch::native();
    match kernel {
        Some(k) if k != native => Some(k),
        _ => match native {
            ScmpArch::X8664 => Some(ScmpArch::X86),
            ScmpArch::Aarch64 => Some(ScmpArch::Arm),
            ScmpArch::Ppc64 => Some(ScmpArch::Ppc),
            _ => None,
        },
    }
}

/// The kernel's architecture, from `uname -m`, where it matters (a 32-bit
/// userland on a 64-bit kernel).
fn kernel_arch() -> Option<ScmpArch> {
    let machine = std::fs::read_to_string("/proc/sys/kernel/arch").ok()?;
    Some(match machine.trim() {
        "x86_64" => ScmpArch::X8664,
        "i386" | "i486" | "i586" | "i686" => ScmpArch::X86,
        "aarch64" => ScmpArch::Aarch64,
        m if m.starts_with("armv7") || m.starts_with("armv8l") => ScmpArch::Arm,
        "ppc64" => ScmpArch::Ppc64,
        "ppc64le" => ScmpArch::Ppc64Le,
        "ppc" => ScmpArch::Ppc,
        "s390x" => ScmpArch::S390X,
        "riscv64" => ScmpArch::Riscv64,
        _ => return None,
    })
}

fn new_filter(default: ScmpAction) -> Result<ScmpFilterContext, String> {
    let mut ctx = ScmpFilterContext::new(default)
        .map_err(|e| format!("cannot create seccomp filter: {e}"))?;
    if let Some(arch) = compat_arch() {
        ctx.add_arch(arch)
            .map_err(|e| format!("cannot add architecture {arch:?}: {e}"))?;
    }
    // Binary tree of system call numbers instead of a linear chain.
    ctx.set_ctl_optimize(2)
        .map_err(|e| format!("cannot set filter attribute: {e}"))?;
    Ok(ctx)
}

/// A filter for `arch` alone (a piece of a split filter).
fn new_piece(default: ScmpAction, arch: ScmpArch) -> Option<ScmpFilterContext> {
    let mut ctx = ScmpFilterContext::new(default).ok()?;
    let native = ScmpArch::native();
    if arch != native {
        ctx.add_arch(arch).ok()?;
        ctx.remove_arch(native).ok()?;
    }
    ctx.set_ctl_optimize(2).ok()?;
    Some(ctx)
}

/// `split`: build the allow filter in pieces where that applies.
pub fn build(
    file: &str,
    profile: &SourceProfile,
    format: Format,
    split: bool,
) -> Result<Compiled, String> {
    if profile.unrestricted {
        return Ok(Compiled::Unrestricted);
    }
    let default = if profile.complain {
        ScmpAction::Log
    } else {
        ScmpAction::Errno(EPERM)
    };
    if format == Format::Bin {
        for deny in profile.rules.iter().filter(|r| r.action == Action::Deny) {
            if let Some(allow) = profile
                .rules
                .iter()
                .find(|r| r.action == Action::Allow && r.syscall == deny.syscall)
            {
                eprintln!(
                    "warning: {file}:{}: the deny rule may have no effect in --format=bin: {} is also allowed on line {}",
                    deny.line, deny.syscall, allow.line
                );
            }
        }
    }
    // Each rule resolved, in file order, for the filter it goes into.
    let mut ids = Ids::default();
    let (mut allow, mut deny) = (Resolved::default(), Resolved::default());
    for rule in &profile.rules {
        let conditions = conditions(file, rule, &mut ids)?;
        // is_known said yes, so the name resolves.
        let syscall = ScmpSyscall::from_name(&rule.syscall)
            .map_err(|e| format!("cannot resolve {}: {e}", quote(&rule.syscall)))?;
        let (list, action) = match rule.action {
            Action::Allow => (&mut allow, ScmpAction::Allow),
            Action::Deny if format == Format::Bin => (&mut allow, ScmpAction::Errno(EACCES)),
            Action::Deny => (&mut deny, ScmpAction::Errno(EACCES)),
            Action::Enosys => (&mut allow, ScmpAction::Errno(ENOSYS)),
        };
        list.lines.push(rule);
        list.rules.push(split::Rule {
            name: &rule.syscall,
            action,
            syscall,
            conditions,
        });
    }
    let allow = program(file, default, &allow, split)?;
    let deny = match format {
        Format::Bin2 => Some(program(file, ScmpAction::Allow, &deny, false)?),
        Format::Bin => None,
    };
    Ok(Compiled::Filters { allow, deny })
}

#[derive(Default)]
struct Resolved<'a> {
    lines: Vec<&'a Rule>,
    rules: Vec<split::Rule<'a>>,
}

fn program(
    file: &str,
    default: ScmpAction,
    resolved: &Resolved,
    split: bool,
) -> Result<Program, String> {
    if split {
        let arches: Vec<ScmpArch> = std::iter::once(ScmpArch::native())
            .chain(compat_arch())
            .collect();
        if let Some(s) = split::build(&arches, &resolved.rules, |arch| new_piece(default, arch)) {
            return Ok(Program::Split(s));
        }
    }
    let mut ctx = new_filter(default)?;
    for (line, rule) in resolved.lines.iter().zip(&resolved.rules) {
        if ctx
            .add_rule_conditional_exact(rule.action, rule.syscall, &rule.conditions)
            .is_err()
        {
            ctx.add_rule_conditional(rule.action, rule.syscall, &rule.conditions)
                .map_err(|e| {
                    format!(
                        "{file}:{}: cannot add rule for line {}: {e}",
                        line.line,
                        quote(&line.text)
                    )
                })?;
        }
    }
    Ok(Program::Whole(ctx))
}

fn conditions(file: &str, rule: &Rule, ids: &mut Ids) -> Result<Vec<ScmpArgCompare>, String> {
    let mut out = Vec::with_capacity(rule.conditions.len());
    for c in &rule.conditions {
        let value = match &c.value {
            Value::Number(n) => Ok(*n),
            Value::User(name) => ids.lookup(false, name),
            Value::Group(name) => ids.lookup(true, name),
        };
        let value = value.map_err(|reason| {
            ParseError {
                file: file.to_owned(),
                line: rule.line,
                kind: ErrorKind::Lookup {
                    token: c.token.clone(),
                    line: rule.text.clone(),
                    reason,
                },
            }
            .to_string()
        })?;
        let op = match c.op {
            Op::Equal => ScmpCompareOp::Equal,
            Op::NotEqual => ScmpCompareOp::NotEqual,
            Op::Less => ScmpCompareOp::Less,
            Op::LessOrEqual => ScmpCompareOp::LessOrEqual,
            Op::Greater => ScmpCompareOp::Greater,
            Op::GreaterOrEqual => ScmpCompareOp::GreaterEqual,
            Op::MaskedEqual { mask } => ScmpCompareOp::MaskedEqual(mask),
        };
        out.push(ScmpArgCompare::new(u32::from(c.arg), op, value));
    }
    Ok(out)
}

/// User and group ids by name, looked up once each in the system's user
/// database, in process (`getpwnam_r`/`getgrnam_r`, through NSS as snapd's
/// lookup goes). Messages as Go's `os/user`.
#[derive(Default)]
struct Ids {
    cache: HashMap<(bool, String), u64>,
}

impl Ids {
    fn lookup(&mut self, group: bool, name: &str) -> Result<u64, String> {
        if let Some(id) = self.cache.get(&(group, name.to_owned())) {
            return Ok(*id);
        }
        let found = if group {
            snapcell_sys::users::gid_by_name(name)
        } else {
            snapcell_sys::users::uid_by_name(name)
        };
        let (what, kind) = if group {
            ("group", "groupname")
        } else {
            ("user", "username")
        };
        let id = match found {
            Ok(Some(id)) => u64::from(id),
            Ok(None) => return Err(format!("{what}: unknown {what} {name}")),
            Err(e) => return Err(format!("user: lookup {kind} {name}: {}", os_error(&e))),
        };
        self.cache.insert((group, name.to_owned()), id);
        Ok(id)
    }
}
