//! The monitor's command line, shared by the binary and the man page generator.

use std::path::PathBuf;

use clap::Parser;

use crate::report::Format;

const LONG_ABOUT: &str = "\
Watch an XFS filesystem's health events and have sick metadata repaired online.

The unprivileged half of xfs-heal. It connects to the repairer serving MOUNTPOINT, receives \
the kernel's health monitor fd from it, and from then on holds no capability and no \
filesystem access but its metrics directory (Landlock, seccomp). It decodes and validates every event, reports it \
(one line per event in xfs_healer's wording, or JSON), and asks the repairer to repair each \
sick structure: by the filesystem's autofsck property, or always with --repair. Repairs \
are coalesced, retried with backoff and given up after three failures in ten minutes; \
failed spot repairs or lost events escalate, at most once per ten minutes: under the \
package's units to upstream's full online check (xfs_scrub@INSTANCE.service, started by \
systemd when the monitor writes the FIFO xfs-heal-full-check@INSTANCE.socket passed it; \
its start and result are reported), otherwise to one sweep of every filesystem-wide and \
group structure.

Under systemd (xfs-heal-monitor@INSTANCE.service) reports go to the journal with \
structured fields (XFS_HEAL_KIND, XFS_HEAL_INO, XFS_HEAL_OUTCOME, ...); elsewhere they are \
plain lines on standard output.

Metrics for Prometheus go to node_exporter's textfile collector: one file per mount, \
xfs-heal@INSTANCE.prom in a directory of the mount's own (--metrics-dir), written through a \
temporary name and a rename at most once a second while things change and once a minute \
regardless, and removed when the filesystem is unmounted. The unit links it into \
node_exporter's directory (`xfs-heal metrics-link`); `xfs-heal status` reads the same files.";

const AFTER_LONG_HELP: &str = "\
Exit status: 0 when the filesystem is unmounted, the event source ends, or its autofsck \
property says to do nothing; 1 when the repairer cannot be reached or the sandbox cannot \
be entered; 2 for a usage error, or a replay that met invalid or truncated input.

Enable for a mount:  systemctl enable --now xfs-heal-monitor@$(systemd-escape -p /MOUNTPOINT).service

See also: xfs-heal-repairer(8), xfs_healer(8), xfs_scrub(8), systemd.service(5).";

/// Watch an XFS filesystem's health events and have sick metadata repaired online.
#[derive(Debug, Parser)]
#[command(
    name = "xfs-heal-monitor",
    version,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    /// The repairer's socket [default: /run/xfs-heal/<systemd-escaped MOUNTPOINT>.sock].
    #[arg(long, value_name = "PATH")]
    pub connect: Option<PathBuf>,

    /// Repair every sick structure, whatever the filesystem's autofsck property says.
    #[arg(long, conflicts_with = "no_autofsck")]
    pub repair: bool,

    /// Ignore the autofsck property; without --repair, only report.
    #[arg(long)]
    pub no_autofsck: bool,

    /// Ask the kernel for every health transition, not only new problems and real fixes.
    #[arg(long)]
    pub everything: bool,

    /// Report only mount-level events, invalid input and repair outcomes.
    #[arg(long)]
    pub quiet: bool,

    /// Repairs run at once, for independent structures only (different inodes, different
    /// groups; a whole-filesystem structure always runs alone); as many more wait at the
    /// repairer, so its workers never wait for the monitor. Give the repairer the same
    /// --parallel [default: the number of CPUs this process may run on].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: Option<u16>,

    /// The directory of this mount's own, where the monitor writes xfs-heal@INSTANCE.prom
    /// [default: /var/lib/xfs-heal/metrics/INSTANCE, which the unit's StateDirectory= makes;
    /// `xfs-heal metrics-link` shows it to node_exporter]. Opened before the sandbox closes;
    /// the monitor may create, write, rename and remove regular files there and nowhere
    /// else. If it cannot be opened, the monitor says so and runs without metrics.
    #[arg(long, value_name = "DIR")]
    pub metrics_dir: Option<PathBuf>,

    /// Write no metrics file.
    #[arg(long)]
    pub no_metrics: bool,

    /// Output format: one line of text or one JSON object per report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When started as root: the user to switch to, with every capability dropped, before
    /// the first byte is read (a name, or a numeric uid).
    #[arg(long, value_name = "USER", default_value = "xfs-heal")]
    pub user: String,

    /// Dry run: decode a capture of V0 binary records, report it and print the repairs that
    /// would be requested. Needs no privilege and no kernel support.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay_json", "connect", "repair", "no_autofsck", "everything"])]
    pub replay: Option<PathBuf>,

    /// Like --replay, for a capture of JSON-format events (the pre-7.0 format). Needs a build
    /// with the `json-replay` feature: the packaged daemon links no JSON schema validator.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["connect", "repair", "no_autofsck", "everything"])]
    pub replay_json: Option<PathBuf>,

    /// The mount point of the XFS filesystem; with --replay, only a label for the reports
    /// [default for replays: the capture's path].
    #[arg(required_unless_present_any = ["replay", "replay_json"])]
    pub mountpoint: Option<PathBuf>,
}
