//! The repairer's sandbox, enforced by the real kernel in child processes, and pinned: the
//! exact syscall list, ioctl numbers and Landlock access sets are spelled out here, so any
//! widening is a diff to this file too.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use landlock::{Access, AccessFs, ABI};
use xfs_heal_repairer::{sandbox, seccomp};
use xfs_heal_tests::*;

#[test]
fn pinned_syscall_list() {
    // Each row is keyed by the syscall's own constant: a number and a name that disagree
    // (a row `(SYS_unlinkat, "getsockopt", ...)`) fail here.
    let rows: Vec<(i64, &str)> = seccomp::ALLOWED.iter().map(|(nr, name, _)| (*nr, *name)).collect();
    assert_eq!(
        rows,
        [
            (libc::SYS_poll, "poll"),
            (libc::SYS_accept4, "accept4"),
            (libc::SYS_getsockopt, "getsockopt"),
            (libc::SYS_sendmsg, "sendmsg"),
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_openat, "openat"),
            (libc::SYS_name_to_handle_at, "name_to_handle_at"),
            (libc::SYS_ioctl, "ioctl"),
            (libc::SYS_close, "close"),
            (libc::SYS_fcntl, "fcntl"),
            (libc::SYS_futex, "futex"),
            (libc::SYS_sched_yield, "sched_yield"),
            (libc::SYS_brk, "brk"),
            (libc::SYS_mmap, "mmap"),
            (libc::SYS_munmap, "munmap"),
            (libc::SYS_clock_gettime, "clock_gettime"),
            (libc::SYS_restart_syscall, "restart_syscall"),
            (libc::SYS_sigaltstack, "sigaltstack"),
            (libc::SYS_exit_group, "exit_group"),
        ]
    );
    for (nr, name, why) in seccomp::ALLOWED {
        assert!(!why.is_empty(), "{name} has no reason");
        assert!(*nr >= 0);
    }
    let ioctls: Vec<(u32, &str, bool)> =
        seccomp::IOCTLS.iter().map(|(n, name, names_only, _)| (*n, *name, *names_only)).collect();
    assert_eq!(
        ioctls,
        [
            (0xC040_583C, "XFS_IOC_SCRUB_METADATA", false),
            (0x4008_5845, "XFS_IOC_HEALTH_FD_ON_MONITORED_FS", false),
            // With --resolve-names on a filesystem with parent pointers, and only then.
            (0xC040_583F, "XFS_IOC_GETPARENTS_BY_HANDLE", true),
        ]
    );
    assert_eq!(seccomp::FCNTLS, [(1, "F_GETFD")]);
    // O_LARGEFILE (0o100_000) is in the value only where musl's openat adds it.
    let flags = if cfg!(target_env = "musl") { 0o2_300_000 } else { 0o2_200_000 };
    assert_eq!(seccomp::OPENAT_FLAGS, [(flags, "O_RDONLY|O_DIRECTORY|O_CLOEXEC, and O_LARGEFILE from musl")]);
}

#[test]
fn pinned_landlock_sets() {
    assert_eq!(sandbox::LANDLOCK_ABI, ABI::V7);
    let handled: Vec<AccessFs> = sandbox::handled_fs().iter().collect();
    assert_eq!(
        handled,
        [
            AccessFs::Execute,
            AccessFs::WriteFile,
            AccessFs::ReadFile,
            AccessFs::ReadDir,
            AccessFs::RemoveDir,
            AccessFs::RemoveFile,
            AccessFs::MakeChar,
            AccessFs::MakeDir,
            AccessFs::MakeReg,
            AccessFs::MakeSock,
            AccessFs::MakeFifo,
            AccessFs::MakeBlock,
            AccessFs::MakeSym,
            AccessFs::Refer,
            AccessFs::Truncate,
            AccessFs::IoctlDev,
        ]
    );
    assert_eq!(sandbox::handled_fs(), AccessFs::from_all(ABI::V7));
    let allowed: Vec<AccessFs> = sandbox::allowed_beneath_mount().iter().collect();
    assert_eq!(allowed, [AccessFs::ReadDir]);
}

/// Runs the probe in seccomp mode; returns (exit code, signal, stdout).
fn probe(nr: i64, arg1: i64) -> (Option<i32>, Option<i32>, String) {
    probe3(nr, arg1, 0)
}

fn probe3(nr: i64, arg1: i64, arg2: i64) -> (Option<i32>, Option<i32>, String) {
    probe_in("seccomp", nr, arg1, arg2)
}

fn probe_in(mode: &str, nr: i64, arg1: i64, arg2: i64) -> (Option<i32>, Option<i32>, String) {
    let out = Command::new(binary("xfs-heal-sandbox-probe"))
        .args([mode, &nr.to_string(), &arg1.to_string(), &arg2.to_string()])
        .output()
        .expect("spawn probe");
    (out.status.code(), out.status.signal(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_allowed_syscall_is_usable() {
    for (nr, name, _) in seccomp::ALLOWED {
        let (arg1, arg2) = match *name {
            "ioctl" => (i64::from(seccomp::IOCTLS[0].0), 0),
            "fcntl" => (i64::from(libc::F_GETFD), 0),
            "openat" => (0, i64::from(seccomp::OPENAT_FLAGS[0].0)),
            _ => (0, 0),
        };
        let (code, signal, stdout) = probe3(*nr, arg1, arg2);
        assert_eq!(signal, None, "{name} was killed");
        assert_eq!(code, Some(0), "{name}");
        if *name != "exit_group" {
            assert!(stdout.starts_with("survived"), "{name}: {stdout}");
        }
    }
    for (request, name, _, _) in seccomp::IOCTLS.iter().filter(|(_, _, names_only, _)| !names_only) {
        let (_, signal, stdout) = probe(libc::SYS_ioctl, i64::from(*request));
        assert_eq!(signal, None, "ioctl {name} was killed");
        assert!(stdout.starts_with("survived"));
    }
}

#[test]
fn the_name_lookup_ioctl_is_allowed_only_with_names_on() {
    let getparents = 0xC040_583F;
    let (code, signal, _) = probe(libc::SYS_ioctl, getparents);
    assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "without names it must be killed");
    let (_, signal, stdout) = probe_in("seccomp-names", libc::SYS_ioctl, getparents, 0);
    assert_eq!(signal, None, "with names it is allowed");
    assert!(stdout.starts_with("survived"), "{stdout}");
    // Names on widen nothing else: the other XFS ioctls are still killed.
    for other in [0xC038_586A_i64, 0x4020_5844, 0xC028_5840] {
        let (code, signal, _) = probe_in("seccomp-names", libc::SYS_ioctl, other, 0);
        assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "ioctl {other:#x} must be killed");
    }
    for (request, name, _, _) in seccomp::IOCTLS {
        let (_, signal, _) = probe_in("seccomp-names", libc::SYS_ioctl, i64::from(*request), 0);
        assert_eq!(signal, None, "{name} still allowed with names on");
    }
}

#[test]
fn anything_else_is_killed_with_sigsys() {
    let forbidden = [
        (libc::SYS_socket, 0, "socket"),
        (libc::SYS_connect, 0, "connect"),
        (libc::SYS_execve, 0, "execve"),
        (libc::SYS_getpid, 0, "getpid"),
        (libc::SYS_open, 0, "open"),
        (libc::SYS_ptrace, 0, "ptrace"),
        (libc::SYS_mprotect, 0, "mprotect"),
        (libc::SYS_setuid, 0, "setuid"),
    ];
    for (nr, arg1, name) in forbidden {
        let (code, signal, _) = probe(nr, arg1);
        assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "{name} must be killed");
    }
}

#[test]
fn other_ioctls_and_fcntls_are_killed() {
    let other_requests = [
        0x541B_i64,    // FIONREAD
        0xC038_586A,   // XFS_IOC_FD_TO_HANDLE
        0x4020_5844,   // XFS_IOC_HEALTH_MONITOR (opening a second monitor)
        0xC028_5840,   // XFS_IOC_SCRUBV_METADATA (vectored scrub)
        0xC040_583F,   // XFS_IOC_GETPARENTS_BY_HANDLE
        0x1_C040_583C, // the scrub number with a high bit set: the kernel sees...
    ];
    for request in &other_requests[..5] {
        let (code, signal, _) = probe(libc::SYS_ioctl, *request);
        assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "ioctl {request:#x} must be killed");
    }
    // ... the low 32 bits only, and so does the filter: this is the allowed scrub request.
    let (_, signal, _) = probe(libc::SYS_ioctl, other_requests[5]);
    assert_eq!(signal, None);
    for cmd in [libc::F_SETFD, libc::F_SETFL, libc::F_DUPFD, libc::F_SETOWN] {
        let (code, signal, _) = probe(libc::SYS_fcntl, i64::from(cmd));
        assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "fcntl {cmd} must be killed");
    }
    // openat may only open a directory read-only: writing, creating or O_PATH is killed.
    for flags in [
        libc::O_RDONLY | libc::O_CLOEXEC,
        libc::O_WRONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
    ] {
        let (code, signal, _) = probe3(libc::SYS_openat, 0, i64::from(flags));
        assert_eq!((code, signal), (None, Some(libc::SIGSYS)), "openat flags {flags:#o} must be killed");
    }
}

#[test]
fn the_filter_covers_threads_started_before_it() {
    let run = |nr: i64| {
        let out = Command::new(binary("xfs-heal-sandbox-probe"))
            .args(["seccomp-thread", &nr.to_string()])
            .output()
            .expect("spawn probe");
        (out.status.code(), out.status.signal())
    };
    assert_eq!(run(libc::SYS_getpid), (None, Some(libc::SIGSYS)), "getpid in the other thread");
    assert_eq!(run(libc::SYS_close), (Some(0), None), "an allowed call in the other thread");
}

fn landlock_probe(mount: &std::path::Path, path: &std::path::Path, how: &str) -> String {
    let out = Command::new(binary("xfs-heal-sandbox-probe"))
        .args(["landlock", mount.to_str().unwrap(), path.to_str().unwrap(), how])
        .output()
        .expect("spawn probe");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FullyEnforced"), "this kernel has Landlock ABI 7");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn landlock_leaves_only_reopening_the_mount_point() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("landlock");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::write(fs.mountpoint.join("file"), b"data").unwrap();
    std::fs::create_dir(fs.mountpoint.join("dir")).unwrap();
    let m = &fs.mountpoint;
    assert_eq!(landlock_probe(m, m, "dir"), "allowed");
    assert!(landlock_probe(m, &m.join("file"), "read").starts_with("denied: Permission denied"));
    assert!(landlock_probe(m, &m.join("new"), "write").starts_with("denied: Permission denied"));
    assert!(landlock_probe(m, &m.join("file"), "write").starts_with("denied: Permission denied"));
    assert!(landlock_probe(m, "/etc".as_ref(), "dir").starts_with("denied: Permission denied"));
    assert!(landlock_probe(m, "/etc/passwd".as_ref(), "read").starts_with("denied: Permission denied"));
    assert!(landlock_probe(m, &scratch.path("a.img"), "read").starts_with("denied: Permission denied"));
}

/// Audit finding 8: Landlock's rule covers everything beneath the mount point, whatever
/// filesystem it belongs to. Step 2 gives the repairer a mount namespace of its own where
/// the mount point is private and nothing is mounted beneath it: a mount made before the
/// repairer started is detached there, one made after never arrives, and every directory the
/// sealed repairer can open is on the served filesystem. The host keeps its mounts.
#[test]
fn landlock_reaches_no_other_filesystem_mounted_beneath_the_mount_point() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::fs::MetadataExt;
    use std::process::Stdio;
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("landlock-submounts");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let m = &fs.mountpoint;
    let (early, late, inner) = (m.join("early"), m.join("late"), m.join("early/inner"));
    for dir in [&early, &late] {
        std::fs::create_dir(dir).unwrap();
    }
    let tmpfs = |at: &std::path::Path| {
        let ok = Command::new("mount").args(["-t", "tmpfs", "probe"]).arg(at).status().unwrap().success();
        assert!(ok, "mount tmpfs on {}", at.display());
    };
    let is_tmpfs = |at: &std::path::Path| {
        nix::sys::statfs::statfs(at).unwrap().filesystem_type() == nix::sys::statfs::TMPFS_MAGIC
    };
    tmpfs(&early);
    std::fs::create_dir(&inner).unwrap();
    tmpfs(&inner);
    let mut probe = Command::new(binary("xfs-heal-sandbox-probe"))
        .arg("isolated-landlock")
        .args([m, m, &early, &inner, &late])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let mut out = BufReader::new(probe.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "isolated",
        "{}",
        probe.wait_with_output().map(|o| o.stderr).unwrap_or_default().escape_ascii()
    );
    tmpfs(&late);
    probe.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let lines: Vec<String> = out.lines().map(Result::unwrap).collect();
    let status = probe.wait().unwrap();
    assert!(status.success(), "probe failed: {lines:?}");

    let xfs = format!(
        "fs {:#x} dev {}",
        xfs_heal_protocol::uapi::XFS_SUPER_MAGIC,
        std::fs::metadata(m).unwrap().dev()
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, path) in lines.iter().zip([m, &early, &inner, &late]) {
        let opened = line.strip_prefix(&format!("{}: ", path.display())).unwrap_or(line);
        // The nested mount's directory is gone with its parent: ENOENT is as good as XFS.
        let allowed = opened == xfs || (path == &inner && opened.contains("No such file"));
        assert!(allowed, "{} must open on the served XFS or not at all: {line}", path.display());
    }
    // Nothing the repairer did in its namespace reached the host's.
    assert!(is_tmpfs(&early) && is_tmpfs(&inner) && is_tmpfs(&late), "the host lost a mount");
    for at in [&inner, &early, &late] {
        assert!(Command::new("umount").arg(at).status().unwrap().success());
    }
}

// --- The monitor's sandbox ----------------------------------------------------------------

#[test]
fn pinned_monitor_syscall_list() {
    use xfs_heal_monitor::sandbox as m;
    let rows: Vec<(i64, &str)> = m::ALLOWED.iter().map(|(nr, name, _)| (*nr, *name)).collect();
    assert_eq!(
        rows,
        [
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_poll, "poll"),
            (libc::SYS_socket, "socket"),
            (libc::SYS_connect, "connect"),
            (libc::SYS_recvmsg, "recvmsg"),
            (libc::SYS_getsockopt, "getsockopt"),
            (libc::SYS_fstat, "fstat"),
            (libc::SYS_fcntl, "fcntl"),
            (libc::SYS_ioctl, "ioctl"),
            (libc::SYS_close, "close"),
            (libc::SYS_brk, "brk"),
            (libc::SYS_mmap, "mmap"),
            (libc::SYS_munmap, "munmap"),
            (libc::SYS_mremap, "mremap"),
            (libc::SYS_madvise, "madvise"),
            (libc::SYS_clock_gettime, "clock_gettime"),
            (libc::SYS_restart_syscall, "restart_syscall"),
            (libc::SYS_sigaltstack, "sigaltstack"),
            (libc::SYS_exit_group, "exit_group"),
        ]
    );
    assert!(m::ALLOWED.iter().all(|(_, _, why)| !why.is_empty()));
    assert_eq!(m::SOCKET_DOMAINS, [(1, "AF_UNIX")]);
    assert_eq!(m::FCNTLS, [(1, "F_GETFD"), (3, "F_GETFL"), (4, "F_SETFL")]);
    assert_eq!(m::IOCTLS, [(0x4020_5844, "XFS_IOC_HEALTH_MONITOR")]);
    assert_eq!(m::SOCKOPTS, [(1, 17, "SOL_SOCKET/SO_PEERCRED")]);
    assert_eq!(m::LANDLOCK_ABI, ABI::V7);
    // Issue #15: the metrics file, and nothing else.
    let rows: Vec<(i64, &str)> = m::METRICS_ALLOWED.iter().map(|(nr, name, _)| (*nr, *name)).collect();
    assert_eq!(
        rows,
        [
            (libc::SYS_openat, "openat"),
            (libc::SYS_renameat, "renameat"),
            (libc::SYS_unlinkat, "unlinkat"),
            (libc::SYS_pread64, "pread64"),
        ]
    );
    assert!(m::METRICS_ALLOWED.iter().all(|(_, _, why)| !why.is_empty()));
    let new = (libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC).unsigned_abs();
    assert_eq!(
        m::METRICS_OPEN_FLAGS,
        [
            (new, "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC"),
            (new | libc::O_LARGEFILE.unsigned_abs(), "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_LARGEFILE")
        ]
    );
    let granted: Vec<AccessFs> = m::metrics_dir_access().iter().collect();
    assert_eq!(granted, [AccessFs::WriteFile, AccessFs::RemoveFile, AccessFs::MakeReg]);
}

/// The metrics calls, with the directory at fd 100 and the fdinfo at fd 101: each survives
/// with its own fds and flags, and is killed with any other.
#[test]
fn the_monitors_metrics_calls_reach_only_their_fds() {
    let probe = |nr: i64, arg0: i64, arg1: i64, arg2: i64| {
        let out = Command::new(binary("xfs-heal-sandbox-probe"))
            .args(["monitor-seccomp-metrics", "100", "101"])
            .args([nr, arg0, arg1, arg2].map(|a| a.to_string()))
            .output()
            .expect("spawn probe");
        (out.status.code(), out.status.signal())
    };
    let (lives, killed) = ((Some(0), None), (None, Some(libc::SIGSYS)));
    let new = i64::from(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC);
    assert_eq!(probe(libc::SYS_openat, 100, 0, new), lives, "openat in the directory");
    assert_eq!(probe(libc::SYS_openat, 100, 0, new | i64::from(libc::O_LARGEFILE)), lives, "musl's openat");
    assert_eq!(probe(libc::SYS_openat, 99, 0, new), killed, "openat elsewhere");
    assert_eq!(probe(libc::SYS_openat, 100, 0, i64::from(libc::O_RDONLY)), killed, "openat to read");
    assert_eq!(
        probe(libc::SYS_openat, 100, 0, i64::from(libc::O_WRONLY | libc::O_CREAT)),
        killed,
        "no O_EXCL"
    );
    assert_eq!(probe(libc::SYS_renameat, 100, 0, 100), lives, "renameat within");
    assert_eq!(probe(libc::SYS_renameat, 100, 0, 99), killed, "renameat out");
    assert_eq!(probe(libc::SYS_renameat, 99, 0, 100), killed, "renameat in");
    assert_eq!(probe(libc::SYS_unlinkat, 100, 0, 0), lives, "unlinkat a file");
    assert_eq!(probe(libc::SYS_unlinkat, 100, 0, i64::from(libc::AT_REMOVEDIR)), killed, "rmdir");
    assert_eq!(probe(libc::SYS_unlinkat, 99, 0, 0), killed, "unlinkat elsewhere");
    assert_eq!(probe(libc::SYS_pread64, 101, 0, 0), lives, "pread64 of the fdinfo");
    assert_eq!(probe(libc::SYS_pread64, 100, 0, 0), killed, "pread64 of anything else");
    assert_eq!(probe(libc::SYS_renameat2, 100, 0, 100), killed, "renameat2");
    assert_eq!(probe(libc::SYS_mkdirat, 100, 0, 0o755), killed, "mkdirat");
    assert_eq!(probe(libc::SYS_symlinkat, 0, 100, 0), killed, "symlinkat");
    // Without metrics, none of them.
    assert_eq!(monitor_probe3(libc::SYS_openat, 100, 0, new), killed, "openat without metrics");
    assert_eq!(monitor_probe3(libc::SYS_pread64, 101, 0, 0), killed, "pread64 without metrics");
}

/// The metrics directory's Landlock rule: create, write, rename over and remove regular
/// files there; nothing else there, and nothing anywhere else.
#[test]
fn the_monitor_may_only_make_write_and_remove_files_in_its_metrics_directory() {
    let scratch = Scratch::new("mon-landlock-metrics");
    let dir = scratch.path("textfile");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("other.prom"), b"x 1\n").unwrap();
    std::fs::write(scratch.path("outside"), b"x").unwrap();
    let probe = |path: &std::path::Path, how: &str| {
        let out = Command::new(binary("xfs-heal-sandbox-probe"))
            .args(["monitor-landlock", path.to_str().unwrap(), how, dir.to_str().unwrap()])
            .output()
            .expect("spawn probe");
        assert!(String::from_utf8_lossy(&out.stderr).contains("FullyEnforced"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let file = dir.join("xfs-heal@x.prom");
    assert_eq!(probe(&file, "create"), "allowed");
    assert_eq!(probe(&file, "write"), "allowed");
    assert_eq!(probe(&file, "rename"), "allowed");
    assert_eq!(probe(&dir.join("xfs-heal@x.prom.new"), "remove"), "allowed");
    for (path, how) in [
        (dir.join("other.prom"), "read"),
        (dir.clone(), "dir"),
        (dir.join("sub"), "mkdir"),
        (dir.join("link"), "symlink"),
        (scratch.path("outside"), "read"),
        (scratch.path("new"), "create"),
        (scratch.path("outside"), "remove"),
    ] {
        assert!(probe(&path, how).starts_with("denied"), "{how} {}", path.display());
    }
    assert!(scratch.path("outside").exists() && !dir.join("sub").exists() && !dir.join("link").exists());
}

fn monitor_probe(nr: i64, arg0: i64, arg1: i64) -> (Option<i32>, Option<i32>) {
    monitor_probe3(nr, arg0, arg1, 0)
}

fn monitor_probe3(nr: i64, arg0: i64, arg1: i64, arg2: i64) -> (Option<i32>, Option<i32>) {
    let out = Command::new(binary("xfs-heal-sandbox-probe"))
        .args(["monitor-seccomp", &nr.to_string(), &arg0.to_string(), &arg1.to_string(), &arg2.to_string()])
        .output()
        .expect("spawn probe");
    (out.status.code(), out.status.signal())
}

#[test]
fn the_monitor_can_make_its_syscalls_and_nothing_else() {
    use xfs_heal_monitor::sandbox as m;
    for (nr, name, _) in m::ALLOWED {
        let (arg0, arg1, arg2) = match *name {
            "socket" => (i64::from(libc::AF_UNIX), 0, 0),
            "fcntl" => (-1, i64::from(libc::F_GETFL), 0),
            "ioctl" => (-1, i64::from(m::IOCTLS[0].0), 0),
            "getsockopt" => (-1, i64::from(libc::SOL_SOCKET), i64::from(libc::SO_PEERCRED)),
            "exit_group" => (0, 0, 0),
            _ => (-1, 0, 0),
        };
        assert_eq!(monitor_probe3(*nr, arg0, arg1, arg2), (Some(0), None), "{name}");
    }
    let killed = (None, Some(libc::SIGSYS));
    assert_eq!(monitor_probe(libc::SYS_socket, i64::from(libc::AF_INET), 0), killed, "AF_INET socket");
    assert_eq!(monitor_probe(libc::SYS_socket, i64::from(libc::AF_NETLINK), 0), killed, "netlink socket");
    assert_eq!(monitor_probe(libc::SYS_ioctl, -1, 0xC040_583C), killed, "XFS_IOC_SCRUB_METADATA");
    assert_eq!(monitor_probe(libc::SYS_fcntl, -1, i64::from(libc::F_DUPFD)), killed, "F_DUPFD");
    let sol = i64::from(libc::SOL_SOCKET);
    assert_eq!(
        monitor_probe3(libc::SYS_getsockopt, -1, sol, i64::from(libc::SO_PEERSEC)),
        killed,
        "SO_PEERSEC"
    );
    assert_eq!(
        monitor_probe3(libc::SYS_getsockopt, -1, 6, i64::from(libc::SO_PEERCRED)),
        killed,
        "IPPROTO_TCP"
    );
    for (nr, name) in [
        (libc::SYS_openat, "openat"),
        (libc::SYS_execve, "execve"),
        (libc::SYS_sendmsg, "sendmsg"),
        (libc::SYS_ptrace, "ptrace"),
        (libc::SYS_getpid, "getpid"),
    ] {
        assert_eq!(monitor_probe(nr, -1, 0), killed, "{name}");
    }
}

#[test]
fn the_monitor_has_no_filesystem_access_but_can_reach_the_repairer() {
    let scratch = Scratch::new("mon-landlock");
    std::fs::write(scratch.path("file"), b"x").unwrap();
    let sock = scratch.path("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let probe = |path: &std::path::Path, how: &str| {
        let out = Command::new(binary("xfs-heal-sandbox-probe"))
            .args(["monitor-landlock", path.to_str().unwrap(), how])
            .output()
            .expect("spawn probe");
        assert!(String::from_utf8_lossy(&out.stderr).contains("FullyEnforced"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    for (path, how) in [("/", "dir"), ("/etc/passwd", "read"), ("/tmp", "dir")] {
        assert!(probe(path.as_ref(), how).starts_with("denied: Permission denied"), "{path}");
    }
    assert!(probe(&scratch.path("file"), "read").starts_with("denied"));
    assert!(probe(&scratch.path("new"), "write").starts_with("denied"));
    assert_eq!(probe(&sock, "connect"), "allowed", "reconnecting to the repairer must keep working");
}

/// The syscall names in the first column of the table that follows `heading` in
/// ARCHITECTURE.md.
fn documented_syscalls(heading: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).unwrap();
    let after = &doc[doc.find(heading).unwrap_or_else(|| panic!("no {heading:?} in ARCHITECTURE.md"))..];
    let mut names: Vec<String> = after
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("| syscall |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|row| {
            row.split('|').nth(1).unwrap_or("").split(',').map(|n| n.trim().trim_matches('`').to_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn architecture_md_lists_exactly_the_syscalls_of_each_table() {
    let sorted = |table: &[(i64, &str, &str)]| {
        let mut v: Vec<String> = table.iter().map(|(_, n, _)| (*n).to_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(documented_syscalls("**The sandbox, as the kernel enforces it.**"), sorted(seccomp::ALLOWED));
    let monitor = [xfs_heal_monitor::sandbox::ALLOWED, xfs_heal_monitor::sandbox::METRICS_ALLOWED].concat();
    assert_eq!(documented_syscalls("4. **Enter the sandbox**"), sorted(&monitor));
}
