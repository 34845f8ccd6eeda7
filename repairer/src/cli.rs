//! The repairer's command line, shared by the binary and the man page generator.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Parser;
use xfs_heal_protocol::defects::{DefectId, DEFECTS};

const AFTER_LONG_HELP: &str = "\
Exit status: 0 when the filesystem is gone (unmounted or replaced); 1 when a startup step \
fails (the message names the step) or the listening socket fails.

See also: xfs-heal(8), xfs-heal-monitor(8), xfs_healer(8), systemd.socket(5), sd_notify(3).";

/// Serve online repairs of one XFS filesystem to its xfs-heal monitor.
///
/// The privileged half of xfs-heal, socket-activated: by systemd (xfs-heal-repairer@INSTANCE.socket),
/// or run by hand through `xfs-heal listen`, which binds the socket (and can open a capture to
/// hand the monitor instead of the kernel's health monitor, --events-from) and starts it.
/// It records the identity and shape of the XFS filesystem mounted at MOUNTPOINT, opens its
/// health monitor (or takes back the one kept in systemd's fd store), keeps CAP_SYS_ADMIN alone,
/// seals itself with Landlock and seccomp, hands the monitor the health fd and answers repair
/// requests: each is re-validated and the filesystem re-verified before XFS_IOC_SCRUB_METADATA
/// is issued with the repair flag. Repairs run at once on up to --parallel threads, started
/// before the sandbox closes. Every request leaves one audit line.
#[derive(Debug, Parser)]
#[command(name = "xfs-heal-repairer", version, after_long_help = AFTER_LONG_HELP)]
pub struct Cli {
    /// The only peer uid served [default: the uid of the `xfs-heal` user].
    #[arg(long, value_name = "UID")]
    pub monitor_uid: Option<u32>,

    /// Serve even when this kernel enforces the Landlock ruleset only in part or not at all
    /// (seccomp still applies). Off by default, and never set by the shipped unit.
    #[arg(long)]
    pub allow_partial_landlock: bool,

    /// Repair what known kernel defect KEY forbids, because this kernel is known to be fixed
    /// (repeatable; logged at startup). The table, with each defect's kernels, filesystems
    /// and reason, is in ARCHITECTURE.md. Off by default: a wrong waiver can crash the kernel.
    #[arg(long, value_name = "KEY", value_parser = PossibleValuesParser::new(DEFECTS.iter().map(|d| d.key)).try_map(|k| k.parse::<DefectId>()))]
    pub assume_fixed: Vec<DefectId>,

    /// Name the inodes the kernel reports, for the monitor's reports, on a filesystem with
    /// parent pointers: allows XFS_IOC_GETPARENTS_BY_HANDLE, for inodes whose generation the
    /// monitor got from the kernel's event, each lookup re-verified and audited like a repair.
    #[arg(long)]
    pub resolve_names: bool,

    /// Repairs issued at once, each by a thread of its own [default: the number of CPUs this
    /// process may run on]. The monitor decides which repairs may run together.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: Option<u16>,

    /// The mount point of the XFS filesystem to serve.
    pub mountpoint: PathBuf,
}
