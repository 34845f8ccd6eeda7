//! The repairer's command line, shared by the binary and the man page generator.

use std::path::PathBuf;

use clap::Parser;

const LONG_ABOUT: &str = "\
Serve online repairs of one XFS filesystem to its xfs-heal monitor.

The privileged half of xfs-heal, normally started by socket activation \
(xfs-heal-repairer@INSTANCE.socket). At startup it checks that MOUNTPOINT is the root of a \
mounted XFS filesystem, records its identity (unique mount ID and root file handle), \
geometry and autofsck property, opens the kernel health monitor (or takes back the one \
kept in systemd's fd store), then keeps CAP_SYS_ADMIN alone and seals itself with Landlock \
and a seccomp allow-list. It hands the monitor the health fd and answers repair requests: \
each is re-validated, the filesystem's identity re-verified, and only then is \
XFS_IOC_SCRUB_METADATA issued with the repair flag. Every request leaves one audit line \
(with structured journal fields under systemd).";

const AFTER_LONG_HELP: &str = "\
Exit status: 0 when the filesystem is gone (unmounted or replaced); 1 when a startup step \
fails (the message names the step) or the listening socket fails.

See also: xfs-heal-monitor(8), xfs_healer(8), systemd.socket(5), sd_notify(3).";

/// Serve online repairs of one XFS filesystem to its xfs-heal monitor.
#[derive(Debug, Parser)]
#[command(name = "xfs-heal-repairer", version, long_about = LONG_ABOUT, after_long_help = AFTER_LONG_HELP)]
pub struct Cli {
    /// Bind this Unix socket path instead of taking one from systemd socket activation.
    #[arg(long, value_name = "PATH")]
    pub listen: Option<PathBuf>,

    /// The only peer uid served [default: the uid of the `xfs-heal` user].
    #[arg(long, value_name = "UID")]
    pub monitor_uid: Option<u32>,

    /// Hand the monitor this file or FIFO instead of the kernel's health monitor (for tests,
    /// and for replaying captures on kernels without one).
    #[arg(long, value_name = "PATH")]
    pub events_from: Option<PathBuf>,

    /// The mount point of the XFS filesystem to serve.
    pub mountpoint: PathBuf,
}
