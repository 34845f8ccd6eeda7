//! Enters one of the repairer's sandboxes (its real code, not a copy) and then tries one
//! thing, so a test can watch whether the kernel allows it or kills the process.
//!
//! `xfs-heal-sandbox-probe seccomp SYSCALL_NR ARG1` — load the repairer's seccomp program,
//!   then make syscall SYSCALL_NR with harmless arguments; print `survived`.
//! `xfs-heal-sandbox-probe landlock MOUNTPOINT PATH (dir|read|write)` — apply the repairer's
//!   Landlock ruleset for MOUNTPOINT, then open PATH; print `allowed` or `denied: ERROR`.
//! `xfs-heal-sandbox-probe monitor-seccomp SYSCALL_NR ARG0 ARG1` — the same with the monitor's
//!   seccomp program (ARG0 too, for socket's domain).
//! `xfs-heal-sandbox-probe monitor-landlock PATH (dir|read|write|connect)` — the monitor's
//!   Landlock ruleset, then open (or connect to) PATH.
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seccomp") => {
            let nr: i64 = args[2].parse().expect("syscall number");
            let arg1: i64 = args[3].parse().expect("arg1");
            let arg0: i64 = if nr == libc::SYS_exit_group { 0 } else { -1 };
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            let program = xfs_heal_repairer::seccomp::program().expect("program");
            seccompiler::apply_filter(&program).expect("apply");
            let ret = xfs_heal_tests::sys::raw_syscall(nr, arg0, arg1);
            // A killed process never gets here.
            println!("survived ({ret})");
        }
        Some("monitor-seccomp") => {
            let nr: i64 = args[2].parse().expect("syscall number");
            let arg0: i64 = args[3].parse().expect("arg0");
            let arg1: i64 = args[4].parse().expect("arg1");
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            xfs_heal_monitor::sandbox::seccomp().expect("seccomp");
            let ret = xfs_heal_tests::sys::raw_syscall(nr, arg0, arg1);
            println!("survived ({ret})");
        }
        Some("monitor-landlock") => {
            let status = xfs_heal_monitor::sandbox::landlock().expect("landlock");
            eprintln!("ruleset {:?}", status.ruleset);
            let result = if args[3] == "connect" {
                std::os::unix::net::UnixStream::connect(&args[2]).map(drop)
            } else {
                let mut o = OpenOptions::new();
                match args[3].as_str() {
                    "dir" => o.read(true).custom_flags(libc::O_DIRECTORY),
                    "read" => o.read(true),
                    _ => o.write(true).create(true),
                };
                o.open(&args[2]).map(drop)
            };
            match result {
                Ok(()) => println!("allowed"),
                Err(e) => println!("denied: {e}"),
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
