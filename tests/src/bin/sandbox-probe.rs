//! Enters one of the repairer's sandboxes (its real code, not a copy) and then tries one
//! thing, so a test can watch whether the kernel allows it or kills the process.
//!
//! `xfs-heal-sandbox-probe seccomp SYSCALL_NR ARG1` — load the repairer's seccomp program,
//!   then make syscall SYSCALL_NR with harmless arguments; print `survived`.
//! `xfs-heal-sandbox-probe landlock MOUNTPOINT PATH (dir|read|write)` — apply the repairer's
//!   Landlock ruleset for MOUNTPOINT, then open PATH; print `allowed` or `denied: ERROR`.
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
