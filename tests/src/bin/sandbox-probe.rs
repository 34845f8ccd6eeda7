//! Enters one of the repairer's sandboxes (its real code, not a copy) and then tries one
//! thing, so a test can watch whether the kernel allows it or kills the process.
//!
//! `xfs-heal-sandbox-probe seccomp SYSCALL_NR ARG1 [ARG2]` — load the repairer's seccomp
//!   program (as step 9 does), then make syscall SYSCALL_NR with harmless arguments; print
//!   `survived`. `seccomp-names`: the same with names on (`--resolve-names`).
//! `xfs-heal-sandbox-probe seccomp-thread SYSCALL_NR` — start a thread, load the repairer's
//!   program from the main thread, then make the syscall in the other thread.
//! `xfs-heal-sandbox-probe landlock MOUNTPOINT PATH (dir|read|write)` — apply the repairer's
//!   Landlock ruleset for MOUNTPOINT, then open PATH; print `allowed` or `denied: ERROR`.
//! `xfs-heal-sandbox-probe isolated-landlock MOUNTPOINT PATH...` — the repairer's step 2
//!   (its own mount namespace, nothing beneath the mount point), print `isolated`, wait for a
//!   line on stdin (the test mounts more meanwhile), then step 7's Landlock ruleset; open each
//!   PATH as a directory and print `PATH: fs 0xMAGIC dev N` or `PATH: denied: ERROR`.
//! `xfs-heal-sandbox-probe monitor-seccomp SYSCALL_NR ARG0 ARG1 [ARG2]` — the same with the
//!   monitor's seccomp program (ARG0 too, for socket's domain).
//! `xfs-heal-sandbox-probe monitor-seccomp-metrics DIR_FD FDINFO_FD SYSCALL_NR ARG0 ARG1 ARG2`
//!   — the same, with the metrics calls pinned to those two fd numbers.
//! `xfs-heal-sandbox-probe monitor-landlock PATH (dir|read|write|create|rename|remove|connect)
//!   [METRICS_DIR]` — the monitor's Landlock ruleset (with METRICS_DIR as its metrics
//!   directory), then open (or connect to, create, rename to PATH.new, remove) PATH.
//! `xfs-heal-sandbox-probe unprivileged-unit PROGRAM ARGS...` — what the monitor's unit does
//!   with `SystemCallFilter=~@privileged`: kill on capset, setuid, setgroups and friends,
//!   then exec PROGRAM.
//! `xfs-heal-sandbox-probe no-landlock PROGRAM ARGS...` — a kernel without Landlock, as far
//!   as PROGRAM can tell: the landlock syscalls fail with ENOSYS; then exec PROGRAM.
//! `xfs-heal-sandbox-probe no-path-following PROGRAM ARGS...` — kill on any owner or mode
//!   change made through a path that follows symlinks (chmod, fchmodat, chown, and fchownat
//!   without AT_SYMLINK_NOFOLLOW); then exec PROGRAM.
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use nix::sys::stat::Mode;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(mode @ ("seccomp" | "seccomp-names")) => {
            let nr: i64 = args[2].parse().expect("syscall number");
            let arg1: i64 = args[3].parse().expect("arg1");
            let arg2: i64 = args.get(4).map_or(0, |a| a.parse().expect("arg2"));
            let arg0: i64 = if nr == libc::SYS_exit_group { 0 } else { -1 };
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            xfs_heal_repairer::sandbox::seccomp(mode == "seccomp-names").expect("seccomp");
            let ret = xfs_heal_tests::sys::raw_syscall(nr, arg0, arg1, arg2);
            // A killed process never gets here.
            println!("survived ({ret})");
        }
        Some("seccomp-thread") => {
            // Both threads spin instead of waiting on a lock: a futex is not on the list.
            use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
            static READY: AtomicBool = AtomicBool::new(false);
            static GO: AtomicBool = AtomicBool::new(false);
            static DONE: AtomicBool = AtomicBool::new(false);
            let nr: i64 = args[2].parse().expect("syscall number");
            std::thread::spawn(move || {
                // The thread's own start-up calls are done once its closure runs.
                READY.store(true, SeqCst);
                while !GO.load(SeqCst) {
                    std::hint::spin_loop();
                }
                xfs_heal_tests::sys::raw_syscall(nr, -1, 0, 0);
                // Not println!: its first allocation in this thread would make an arena
                // (mprotect), which the single-threaded repairer's list rightly lacks.
                let _ = nix::unistd::write(std::io::stdout(), b"survived\n");
                DONE.store(true, SeqCst);
                loop {
                    std::hint::spin_loop();
                }
            });
            while !READY.load(SeqCst) {
                std::hint::spin_loop();
            }
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            xfs_heal_repairer::sandbox::seccomp(false).expect("seccomp");
            GO.store(true, SeqCst);
            while !DONE.load(SeqCst) {
                std::hint::spin_loop();
            }
            std::process::exit(0);
        }
        Some(mode @ ("monitor-seccomp" | "monitor-seccomp-metrics")) => {
            let (metrics, args) = if mode == "monitor-seccomp" {
                (None, &args[..])
            } else {
                let fd = |i: usize| args[i].parse::<i32>().expect("fd");
                (Some(xfs_heal_monitor::metrics::MetricsFds { dir: fd(2), fdinfo: Some(fd(3)) }), &args[2..])
            };
            let nr: i64 = args[2].parse().expect("syscall number");
            let arg0: i64 = args[3].parse().expect("arg0");
            let arg1: i64 = args[4].parse().expect("arg1");
            let arg2: i64 = args.get(5).map_or(0, |a| a.parse().expect("arg2"));
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            xfs_heal_monitor::sandbox::seccomp(metrics).expect("seccomp");
            let ret = xfs_heal_tests::sys::raw_syscall(nr, arg0, arg1, arg2);
            println!("survived ({ret})");
        }
        Some("monitor-metrics-sandbox") => {
            // The monitor's whole sandbox for its own metrics directory, as main.rs enters it
            // (Landlock beneath the directory, then seccomp with the calls pinned to its fd),
            // then one metrics call relative to that fd: what a compromised monitor can try.
            use nix::fcntl::{open, openat, renameat, OFlag};
            use std::os::fd::{AsFd, AsRawFd};
            let dir =
                open(args[2].as_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                    .expect("metrics dir");
            xfs_heal_monitor::sandbox::landlock(Some(dir.as_fd())).expect("landlock");
            let fds = xfs_heal_monitor::metrics::MetricsFds { dir: dir.as_raw_fd(), fdinfo: None };
            xfs_heal_monitor::sandbox::seccomp(Some(fds)).expect("seccomp");
            let (op, path) = (args[3].as_str(), args[4].as_str());
            let result = match op {
                "create" => {
                    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
                    openat(dir.as_fd(), path, flags, Mode::from_bits_truncate(0o644)).map(drop)
                }
                "rename" => renameat(dir.as_fd(), path, dir.as_fd(), args[5].as_str()),
                "remove" => nix::unistd::unlinkat(dir.as_fd(), path, nix::unistd::UnlinkatFlags::NoRemoveDir),
                other => panic!("op {other}"),
            };
            // Not println!: no allocation the sandbox might not allow.
            let line = match result {
                Ok(()) => "allowed\n".to_owned(),
                Err(e) => format!("denied: {e}\n"),
            };
            let _ = nix::unistd::write(std::io::stdout(), line.as_bytes());
        }
        Some("monitor-landlock") => {
            let dir = args.get(4).map(|d| std::fs::File::open(d).expect("metrics dir"));
            let status = xfs_heal_monitor::sandbox::landlock(dir.as_ref().map(std::os::fd::AsFd::as_fd))
                .expect("landlock");
            eprintln!("ruleset {:?}", status.ruleset);
            let new_name = format!("{}.new", args[2]);
            let result = if args[3] == "connect" {
                std::os::unix::net::UnixStream::connect(&args[2]).map(drop)
            } else if args[3] == "rename" {
                std::fs::rename(&args[2], &new_name)
            } else if args[3] == "remove" {
                std::fs::remove_file(&args[2])
            } else if args[3] == "mkdir" {
                std::fs::create_dir(&args[2])
            } else if args[3] == "symlink" {
                std::os::unix::fs::symlink("/etc/passwd", &args[2])
            } else {
                let mut o = OpenOptions::new();
                match args[3].as_str() {
                    "dir" => o.read(true).custom_flags(libc::O_DIRECTORY),
                    "read" => o.read(true),
                    "create" => o.write(true).create_new(true),
                    _ => o.write(true).create(true),
                };
                o.open(&args[2]).map(drop)
            };
            match result {
                Ok(()) => println!("allowed"),
                Err(e) => println!("denied: {e}"),
            }
        }
        Some(mode @ ("unprivileged-unit" | "no-landlock" | "no-path-following")) => {
            use std::os::unix::process::CommandExt;
            let landlock = [
                libc::SYS_landlock_create_ruleset,
                libc::SYS_landlock_add_rule,
                libc::SYS_landlock_restrict_self,
            ];
            let privileged = [
                libc::SYS_capset,
                libc::SYS_setuid,
                libc::SYS_setgid,
                libc::SYS_setresuid,
                libc::SYS_setresgid,
                libc::SYS_setreuid,
                libc::SYS_setgroups,
                libc::SYS_chroot,
            ];
            let path_following = [libc::SYS_chmod, libc::SYS_fchmodat, libc::SYS_chown];
            let (listed, action): (&[i64], _) = match mode {
                "no-landlock" => (&landlock, seccompiler::SeccompAction::Errno(libc::ENOSYS.unsigned_abs())),
                "no-path-following" => (&path_following, seccompiler::SeccompAction::KillProcess),
                _ => (&privileged, seccompiler::SeccompAction::KillProcess),
            };
            let mut rules: std::collections::BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
                listed.iter().map(|nr| (*nr, Vec::new())).collect();
            if mode == "no-path-following" {
                // fchownat(dirfd, name, uid, gid, flags): flags without AT_SYMLINK_NOFOLLOW.
                let follows = seccompiler::SeccompCondition::new(
                    4,
                    seccompiler::SeccompCmpArgLen::Dword,
                    seccompiler::SeccompCmpOp::MaskedEq(libc::AT_SYMLINK_NOFOLLOW.unsigned_abs().into()),
                    0,
                )
                .expect("condition");
                rules.insert(
                    libc::SYS_fchownat,
                    vec![seccompiler::SeccompRule::new(vec![follows]).expect("rule")],
                );
            }
            let filter = seccompiler::SeccompFilter::new(
                rules,
                seccompiler::SeccompAction::Allow,
                action,
                seccompiler::TargetArch::x86_64,
            )
            .expect("filter");
            let program: seccompiler::BpfProgram = filter.try_into().expect("compile");
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            seccompiler::apply_filter(&program).expect("apply");
            let err = std::process::Command::new(&args[2]).args(&args[3..]).exec();
            panic!("exec {}: {err}", args[2]);
        }
        Some("isolated-landlock") => {
            use std::os::unix::fs::MetadataExt;
            drop(xfs_heal_repairer::mount::open_checked(args[2].as_ref(), false).expect("step 2"));
            println!("isolated");
            std::io::stdin().read_line(&mut String::new()).expect("stdin");
            let status = xfs_heal_repairer::sandbox::landlock(args[2].as_ref()).expect("landlock");
            eprintln!("ruleset {:?}", status.ruleset);
            for path in &args[3..] {
                match OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(path) {
                    Ok(dir) => {
                        let fs = nix::sys::statfs::fstatfs(&dir).expect("fstatfs").filesystem_type();
                        let dev = dir.metadata().expect("fstat").dev();
                        println!("{path}: fs {:#x} dev {dev}", fs.0);
                    }
                    Err(e) => println!("{path}: denied: {e}"),
                }
            }
        }
        Some("landlock") => {
            let status = xfs_heal_repairer::sandbox::landlock(args[2].as_ref()).expect("landlock");
            eprintln!("ruleset {:?}", status.ruleset);
            let mut o = OpenOptions::new();
            match args[4].as_str() {
                "dir" => o.read(true).custom_flags(libc::O_DIRECTORY),
                "read" => o.read(true),
                _ => o.write(true).create(true),
            };
            match o.open(&args[3]) {
                Ok(_) => println!("allowed"),
                Err(e) => println!("denied: {e}"),
            }
        }
        _ => {
            eprintln!("usage: see the module documentation");
            std::process::exit(2);
        }
    }
}
