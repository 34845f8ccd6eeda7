//! The monitor's sandbox, entered after the Hello and before the first event is read:
//! Landlock with no filesystem access but making, writing and removing regular files in the
//! metrics directory, then a seccomp allow-list, with the metrics calls' fds pinned.

use crate::error::Error;
use crate::metrics::MetricsFds;
use std::collections::BTreeMap;

use std::os::fd::BorrowedFd;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, PathBeneath, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};
use xfs_heal_protocol::uapi::XFS_IOC_HEALTH_MONITOR;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the seccomp allow-list is written and tested for x86_64 only");

/// Step 2: no capability survives, whoever started the monitor. As root: every capability
/// leaves the bounding set (while CAP_SETPCAP is still held), then supplementary groups
/// (from the group database, as systemd's `User=` gives them), gid and uid become `user`'s,
/// which empties the other sets; root's own groups never come along. Otherwise: whatever came along
/// (file capabilities, ambient ones) is dropped. Checked afterwards; returns the user
/// switched to, if any.
pub fn drop_privileges(user: &str) -> Result<Option<String>, Error> {
    use caps::{CapSet, Capability};
    use nix::unistd::{initgroups, setresgid, setresuid, Uid, User};
    let err = Error::Capabilities;
    let root = Uid::current().is_root() || Uid::effective().is_root();
    if root || caps::has_cap(None, CapSet::Permitted, Capability::CAP_SETPCAP).map_err(err)? {
        for cap in caps::all() {
            if caps::has_cap(None, CapSet::Bounding, cap).map_err(err)? {
                caps::drop(None, CapSet::Bounding, cap).map_err(err)?;
            }
        }
    }
    let switched = if root {
        let by_name = User::from_name(user).ok().flatten();
        let target = by_name
            .or_else(|| user.parse().ok().and_then(|uid| User::from_uid(Uid::from_raw(uid)).ok().flatten()));
        let target = target.ok_or_else(|| Error::NoSuchUser(user.to_owned()))?;
        if target.uid.is_root() {
            return Err(Error::UserIsRoot(user.to_owned()));
        }
        let failed = |source| Error::SwitchUser { user: user.to_owned(), source };
        let name =
            std::ffi::CString::new(target.name.as_bytes()).map_err(|_| Error::NoSuchUser(user.to_owned()))?;
        initgroups(&name, target.gid).map_err(failed)?;
        setresgid(target.gid, target.gid, target.gid).map_err(failed)?;
        setresuid(target.uid, target.uid, target.uid).map_err(failed)?;
        Some(format!("{} (uid {}, gid {})", target.name, target.uid, target.gid))
    } else {
        None
    };
    // Only sets that hold something are cleared: the shipped unit forbids capset (systemd's
    // ~@privileged), and there the sets are empty already.
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        if !caps::read(None, set).map_err(err)?.is_empty() {
            caps::clear(None, set).map_err(err)?;
        }
    }
    // Not dumpable: another process of the same uid (another mount's monitor) cannot reach
    // this one's /proc entries, so neither its fds (the health fd) nor its mount namespace
    // (its repairer's socket).
    nix::sys::prctl::set_dumpable(false).map_err(Error::Dumpable)?;
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Ambient] {
        let left = caps::read(None, set).map_err(err)?;
        if !left.is_empty() {
            return Err(Error::CapabilitiesLeft { set: format!("{set:?}"), left: format!("{left:?}") });
        }
    }
    Ok(switched)
}

/// The Landlock ABI this ruleset was written and tested against.
pub const LANDLOCK_ABI: ABI = ABI::V7;

/// What the monitor may do beneath its metrics directory: create a regular file, write it,
/// and remove a name (a rename over the old file removes it). Nothing else, nowhere else:
/// no reading, no directories, no links, no devices.
pub fn metrics_dir_access() -> BitFlags<AccessFs> {
    AccessFs::MakeReg | AccessFs::WriteFile | AccessFs::RemoveFile
}

/// Denies every filesystem right but [`metrics_dir_access`] beneath `metrics_dir`, TCP,
/// abstract sockets and signals outside the sandbox. Connecting to the repairer's named
/// socket needs none of them.
pub fn landlock(metrics_dir: Option<BorrowedFd<'_>>) -> Result<RestrictionStatus, Error> {
    let err = Error::Landlock;
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .scope(Scope::from_all(LANDLOCK_ABI))
        .map_err(err)?
        .create()
        .map_err(err)?;
    if let Some(dir) = metrics_dir {
        ruleset = ruleset.add_rule(PathBeneath::new(dir, metrics_dir_access())).map_err(err)?;
    }
    ruleset.restrict_self().map_err(err)
}

/// (syscall number, name, why the sandboxed monitor needs it).
#[rustfmt::skip]
pub const ALLOWED: &[(i64, &str, &str)] = &[
    (libc::SYS_read,        "read",        "events from the health fd; replies from the repairer"),
    (libc::SYS_write,       "write",       "reports to stdout and stderr; requests to the repairer"),
    (libc::SYS_poll,        "poll",        "wait for events, replies, or the reconnect timer"),
    (libc::SYS_socket,      "socket",      "reconnect to the repairer: AF_UNIX only, see SOCKET_DOMAINS"),
    (libc::SYS_connect,     "connect",     "reconnect to the repairer's socket"),
    (libc::SYS_recvmsg,     "recvmsg",     "the Hello and its health fd after a reconnect"),
    (libc::SYS_getsockopt,  "getsockopt",  "a reconnected repairer must be root: SO_PEERCRED only, see SOCKOPTS"),
    (libc::SYS_fstat,       "fstat",       "is a re-sent health fd the same queue? (sys::fd_identity, never via libc)"),
    (libc::SYS_fcntl,       "fcntl",       "make a re-sent health fd non-blocking: see FCNTLS"),
    (libc::SYS_ioctl,       "ioctl",       "re-apply --everything on a re-sent health fd: see IOCTLS"),
    (libc::SYS_close,       "close",       "drop connections and duplicate fds"),
    (libc::SYS_brk,         "brk",         "allocator: grow the heap"),
    (libc::SYS_mmap,        "mmap",        "allocator: large buffers"),
    (libc::SYS_munmap,      "munmap",      "allocator: release large buffers; runtime exit"),
    (libc::SYS_mremap,      "mremap",      "allocator: grow large buffers in place"),
    (libc::SYS_madvise,     "madvise",     "allocator: return freed memory"),
    (libc::SYS_clock_gettime, "clock_gettime", "the engine's clock and timeouts (the vDSO answers unless it is missing)"),
    (libc::SYS_restart_syscall, "restart_syscall", "the kernel resumes a poll interrupted by SIGSTOP/SIGCONT or ptrace"),
    (libc::SYS_sigaltstack, "sigaltstack", "Rust runtime: returning from main disables the signal stack"),
    (libc::SYS_exit_group,  "exit_group",  "exit at unmount or end of events"),
];

/// (syscall number, name, why): added only when the metrics file is written, each with its
/// fd arguments pinned to the metrics directory or the fdinfo file (see `seccomp`).
#[rustfmt::skip]
pub const METRICS_ALLOWED: &[(i64, &str, &str)] = &[
    (libc::SYS_openat,   "openat",   "metrics: create the temporary file, in the metrics directory only, with METRICS_OPEN_FLAGS only"),
    (libc::SYS_renameat, "renameat", "metrics: rename it over the file, within the metrics directory"),
    (libc::SYS_unlinkat, "unlinkat", "metrics: remove a temporary file a dead monitor left, and the file at unmount (never a directory)"),
    (libc::SYS_pread64,  "pread64",  "metrics: the kernel's lost-event counter, re-read from the health fd's fdinfo"),
];

/// openat's only flags: a new file, write-only. musl adds O_LARGEFILE to every open.
pub const METRICS_OPEN_FLAGS: &[(u32, &str)] = &[
    (OPEN_NEW.unsigned_abs(), "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC"),
    ((OPEN_NEW | libc::O_LARGEFILE).unsigned_abs(), "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_LARGEFILE"),
];
const OPEN_NEW: i32 = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;

/// The only socket domain the monitor may create.
pub const SOCKET_DOMAINS: &[(u32, &str)] = &[(libc::AF_UNIX.unsigned_abs(), "AF_UNIX")];

/// fcntl commands: read and set the fd's flags (O_NONBLOCK), read close-on-exec.
#[rustfmt::skip]
pub const FCNTLS: &[(u32, &str)] = &[
    (libc::F_GETFD.unsigned_abs(), "F_GETFD"),
    (libc::F_GETFL.unsigned_abs(), "F_GETFL"),
    (libc::F_SETFL.unsigned_abs(), "F_SETFL"),
];

/// The only socket option read: (level, option).
pub const SOCKOPTS: &[(u32, u32, &str)] =
    &[(libc::SOL_SOCKET.unsigned_abs(), libc::SO_PEERCRED.unsigned_abs(), "SOL_SOCKET/SO_PEERCRED")];

/// The only ioctl: reconfiguring the health monitor fd (needs no privilege).
pub const IOCTLS: &[(u32, &str)] = &[(XFS_IOC_HEALTH_MONITOR, "XFS_IOC_HEALTH_MONITOR")];

/// Each metrics call, its fd arguments equal to the fds opened for it.
fn metrics_rules(fds: MetricsFds) -> Result<Vec<(i64, Vec<SeccompRule>)>, seccompiler::BackendError> {
    let eq = |index, value: u32| {
        SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, u64::from(value))
    };
    let dir = u32::try_from(fds.dir).unwrap_or(u32::MAX);
    let open = METRICS_OPEN_FLAGS
        .iter()
        .map(|(flags, _)| SeccompRule::new(vec![eq(0, dir)?, eq(2, *flags)?]))
        .collect::<Result<_, _>>()?;
    let mut rules = vec![
        (libc::SYS_openat, open),
        (libc::SYS_renameat, vec![SeccompRule::new(vec![eq(0, dir)?, eq(2, dir)?])?]),
        (libc::SYS_unlinkat, vec![SeccompRule::new(vec![eq(0, dir)?, eq(2, 0)?])?]),
    ];
    if let Some(fdinfo) = fds.fdinfo.and_then(|f| u32::try_from(f).ok()) {
        rules.push((libc::SYS_pread64, vec![SeccompRule::new(vec![eq(0, fdinfo)?])?]));
    }
    Ok(rules)
}

fn arg_in(
    index: u8,
    values: impl Iterator<Item = u32>,
) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    values
        .map(|v| {
            SeccompRule::new(vec![SeccompCondition::new(
                index,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                u64::from(v),
            )?])
        })
        .collect()
}

/// Loads the allow-list (with the metrics calls when `metrics` is given); anything else
/// kills the process.
pub fn seccomp(metrics: Option<MetricsFds>) -> Result<(), Error> {
    let e = Error::SeccompCompile;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|(nr, _, _)| (*nr, Vec::new())).collect();
    if let Some(fds) = metrics {
        rules.extend(metrics_rules(fds).map_err(e)?);
    }
    rules.insert(libc::SYS_socket, arg_in(0, SOCKET_DOMAINS.iter().map(|(d, _)| *d)).map_err(e)?);
    rules.insert(libc::SYS_fcntl, arg_in(1, FCNTLS.iter().map(|(c, _)| *c)).map_err(e)?);
    rules.insert(libc::SYS_ioctl, arg_in(1, IOCTLS.iter().map(|(r, _)| *r)).map_err(e)?);
    let sockopt = |&(level, name, _): &(u32, u32, &str)| {
        let eq = |index, value| {
            SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, u64::from(value))
        };
        SeccompRule::new(vec![eq(1, level)?, eq(2, name)?])
    };
    rules.insert(libc::SYS_getsockopt, SOCKOPTS.iter().map(sockopt).collect::<Result<_, _>>().map_err(e)?);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        seccompiler::TargetArch::x86_64,
    )
    .map_err(e)?;
    let program: seccompiler::BpfProgram = filter.try_into().map_err(e)?;
    seccompiler::apply_filter_all_threads(&program).map_err(Error::Seccomp)
}
