//! THE allow-list: every syscall the sealed repairer may make, each with the call site that
//! needs it. Anything else kills the process (SIGSYS). `ioctl` is further pinned to two
//! request numbers (a third with names on). The pinning test in `tests/tests/sandbox.rs`
//! spells this list out, so any widening shows up in review as a diff to both files.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};
use xfs_heal_protocol::uapi::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the seccomp allow-list is written and tested for x86_64 only");

/// (syscall number, name, why the sealed repairer needs it).
#[rustfmt::skip]
pub const ALLOWED: &[(i64, &str, &str)] = &[
    (libc::SYS_poll,              "poll",              "serve: wait for a connection or a request"),
    (libc::SYS_accept4,           "accept4",           "serve: accept a monitor connection (non-blocking, close-on-exec)"),
    (libc::SYS_getsockopt,        "getsockopt",        "serve: SO_PEERCRED, the peer's uid and pid"),
    (libc::SYS_sendmsg,           "sendmsg",           "serve: Hello with the health fd attached (SCM_RIGHTS)"),
    (libc::SYS_read,              "read",              "serve: read request frames"),
    (libc::SYS_write,             "write",             "serve: replies; log lines to stderr; sd_notify datagrams"),
    (libc::SYS_openat,            "openat",            "verify: reopen the mount point (Landlock allows nothing else): only the flags in OPENAT_FLAGS"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at", "verify: unique mount ID and root handle"),
    (libc::SYS_ioctl,             "ioctl",             "repair and verify: only the request numbers in IOCTLS"),
    (libc::SYS_close,             "close",             "serve and verify: drop connections and reopened fds"),
    (libc::SYS_fcntl,             "fcntl",             "std's fd-drop check in debug builds: only the commands in FCNTLS"),
    (libc::SYS_futex,             "futex",             "workers: wait for a job, wake the loop's channel; std's lock and channel sleep and wake here"),
    (libc::SYS_sched_yield,       "sched_yield",       "workers: std's channel yields once before it sleeps on a contended hand-over"),
    (libc::SYS_brk,               "brk",               "allocator: grow the heap"),
    (libc::SYS_mmap,              "mmap",              "allocator: large allocations"),
    (libc::SYS_munmap,            "munmap",            "allocator: release large allocations; runtime exit"),
    (libc::SYS_clock_gettime,     "clock_gettime",     "serve: rate limits and the partial-frame timeout (the vDSO answers unless it is missing)"),
    (libc::SYS_restart_syscall,   "restart_syscall",   "the kernel resumes a poll interrupted by SIGSTOP/SIGCONT or ptrace"),
    (libc::SYS_sigaltstack,       "sigaltstack",       "Rust runtime: returning from main disables the signal stack"),
    (libc::SYS_exit_group,        "exit_group",        "exit when the filesystem is gone"),
];

/// The only ioctl request numbers allowed, matched on the low 32 bits the kernel uses; a
/// row marked `true` only when names are on (`--resolve-names` on a filesystem with parent
/// pointers): it reads names, and only of inodes whose generation the caller knows
/// (ARCHITECTURE.md, "Names in reports").
#[rustfmt::skip]
pub const IOCTLS: &[(u32, &str, bool, &str)] = &[
    (XFS_IOC_SCRUB_METADATA,            "XFS_IOC_SCRUB_METADATA",            false, "the repair itself"),
    (XFS_IOC_HEALTH_FD_ON_MONITORED_FS, "XFS_IOC_HEALTH_FD_ON_MONITORED_FS", false, "is the reopened mount the monitored superblock?"),
    (XFS_IOC_GETPARENTS_BY_HANDLE,      "XFS_IOC_GETPARENTS_BY_HANDLE",      true,  "names for reports: the parent pointers of an inode the kernel reported"),
];

/// The only fcntl commands allowed: reading an fd's own close-on-exec flag grants nothing.
pub const FCNTLS: &[(u32, &str)] = &[(libc::F_GETFD.unsigned_abs(), "F_GETFD")];

/// The only flags `openat` may carry: `mount::open_dir`'s read-only directory open.
/// musl's openat adds O_LARGEFILE, which glibc leaves to the kernel (0 in its headers here).
pub const OPENAT_FLAGS: &[(u32, &str)] = &[(
    (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_LARGEFILE).unsigned_abs(),
    "O_RDONLY|O_DIRECTORY|O_CLOEXEC, and O_LARGEFILE from musl",
)];

/// One rule per allowed value of argument `index` (the ioctl request, the fcntl command, the
/// openat flags).
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

/// Compiles the table to BPF (the names-only ioctl with `names`): an unknown architecture or
/// syscall kills the process.
pub fn program(names: bool) -> Result<BpfProgram, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|(nr, _, _)| (*nr, Vec::new())).collect();
    let ioctls = IOCTLS.iter().filter(|(_, _, names_only, _)| names || !names_only);
    rules.insert(libc::SYS_ioctl, arg_in(1, ioctls.map(|(request, ..)| *request))?);
    rules.insert(libc::SYS_fcntl, arg_in(1, FCNTLS.iter().map(|(cmd, _)| *cmd))?);
    rules.insert(libc::SYS_openat, arg_in(2, OPENAT_FLAGS.iter().map(|(flags, _)| *flags))?);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        seccompiler::TargetArch::x86_64,
    )?;
    filter.try_into()
}
