//! xfs-heal: the operator's command (`xfs-heal --help`).

use std::process::ExitCode;

use clap::Parser;
use xfs_heal_ctl::cli::{Cli, Command};
use xfs_heal_ctl::{listen, supported};

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Supported { mountpoint } => {
            let (code, verdict) = supported::check(&mountpoint);
            eprintln!("xfs-heal supported {}: {verdict}", mountpoint.display());
            ExitCode::from(code)
        }
        Command::Listen { group, events_from, socket, command } => {
            let e = listen::run(&group, events_from.as_deref(), &socket, &command);
            eprintln!("xfs-heal listen: {e}");
            ExitCode::FAILURE
        }
    }
}
