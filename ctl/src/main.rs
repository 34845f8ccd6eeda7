//! xfs-heal: the operator's command (`xfs-heal --help`).

use std::process::ExitCode;

use clap::Parser;
use xfs_heal_ctl::cli::{Cli, Command, Format};
use xfs_heal_ctl::{listen, status, supported, textfile};

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Status { metrics_dir, format } => match status::read(&metrics_dir, status::unit_states) {
            Ok(found) => {
                let text = match format {
                    Format::Text => status::render_text(&found, std::time::SystemTime::now()),
                    Format::Json => status::render_json(&found) + "\n",
                };
                print!("{text}");
                ExitCode::from(found.exit_code())
            }
            Err(e) => {
                eprintln!("xfs-heal status: {}: {e}", metrics_dir.display());
                ExitCode::from(2)
            }
        },
        Command::Supported { mountpoint } => {
            let (code, verdict) = supported::check(&mountpoint);
            eprintln!("xfs-heal supported {}: {verdict}", mountpoint.display());
            ExitCode::from(code)
        }
        Command::MetricsLink { dirs } => {
            metrics("metrics-link", || textfile::link(&dirs.textfile_dir, &dirs.state_dir, &dirs.mountpoint))
        }
        Command::MetricsUnlink { dirs } => metrics("metrics-unlink", || {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            textfile::unlink(&dirs.textfile_dir, &dirs.state_dir, &dirs.mountpoint, &mountinfo)
        }),
        Command::Listen { group, events_from, socket, command } => {
            let e = listen::run(&group, events_from.as_deref(), &socket, &command);
            eprintln!("xfs-heal listen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One metrics verb, and its one line: on stdout when it did what it should, else stderr.
fn metrics(verb: &str, run: impl FnOnce() -> Result<textfile::Done, textfile::TextfileError>) -> ExitCode {
    match run() {
        Ok(done) => {
            println!("xfs-heal {verb}: {done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xfs-heal {verb}: {e}");
            ExitCode::FAILURE
        }
    }
}
