//! xfs-heal-monitor: reads XFS health events, reports them, and asks the repairer to fix
//! what is sick. See ARCHITECTURE.md for the startup steps.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use xfs_heal_monitor::replay::{self, CaptureFormat, Options};
use xfs_heal_monitor::report::Format;

/// Watch an XFS filesystem's health events and have sick metadata repaired online.
#[derive(Debug, Parser)]
#[command(name = "xfs-heal-monitor", version)]
struct Cli {
    /// The repairer's socket [default: /run/xfs-heal/<systemd-escaped MOUNTPOINT>.sock].
    #[arg(long, value_name = "PATH")]
    connect: Option<PathBuf>,

    /// Repair every sick structure, whatever the filesystem's autofsck property says.
    #[arg(long, conflicts_with = "no_autofsck")]
    repair: bool,

    /// Ignore the autofsck property; without --repair, only report.
    #[arg(long)]
    no_autofsck: bool,

    /// Ask the kernel for every health transition, not only new problems and real fixes.
    #[arg(long)]
    everything: bool,

    /// Report only mount-level events, invalid input and repair outcomes.
    #[arg(long)]
    quiet: bool,

    /// Output format: one line of text or one JSON object per report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Dry run: decode a capture of V0 binary records, report it and print the repairs that
    /// would be requested. Needs no privilege and no kernel support.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay_json", "connect", "repair", "no_autofsck", "everything"])]
    replay: Option<PathBuf>,

    /// Like --replay, for a capture of JSON-format events (the pre-7.0 format).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["connect", "repair", "no_autofsck", "everything"])]
    replay_json: Option<PathBuf>,

    /// The mount point of the XFS filesystem; with --replay, only a label for the reports
    /// [default for replays: the capture's path].
    #[arg(required_unless_present_any = ["replay", "replay_json"])]
    mountpoint: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let replay_source = match (&cli.replay, &cli.replay_json) {
        (Some(p), _) => Some((p, CaptureFormat::V0)),
        (_, Some(p)) => Some((p, CaptureFormat::Json)),
        _ => None,
    };
    let Some((path, capture)) = replay_source else {
        eprintln!("xfs-heal-monitor: live monitoring through the repairer is not implemented yet; use --replay FILE");
        return ExitCode::FAILURE;
    };
    let label = cli.mountpoint.as_deref().unwrap_or(path).display().to_string();
    let options = Options { format: cli.format, quiet: cli.quiet };
    match replay::replay(path, capture, &label, options, std::io::stdout().lock()) {
        Ok(s) => {
            eprintln!(
                "xfs-heal-monitor: replayed {}: {} events, {} invalid{}, {} repairs would be requested, {} structures need a full check",
                path.display(),
                s.events,
                s.invalid,
                if s.truncated { ", stream truncated" } else { "" },
                s.repairs,
                s.full_checks
            );
            if s.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xfs-heal-monitor: cannot replay {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
