//! The command line, shared by the binary and the man page generator.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

const AFTER_LONG_HELP: &str = "\
Exit status: that of the command run (xfs-heal-status(8), xfs-heal-supported(8), \
xfs-heal-metrics-link(8), xfs-heal-metrics-unlink(8), \
xfs-heal-listen(8)); 2 for a command line it cannot parse.

See also: xfs-heal-repairer(8), xfs-heal-monitor(8), xfs_healer(8), systemd-socket-activate(1).";

/// Operate xfs-heal, the self-healing service for XFS filesystems
///
/// The operator's command: whatever runs by hand or from a unit, kept out of the sealed
/// repairer.
#[derive(Debug, Parser)]
#[command(name = "xfs-heal", version, after_long_help = AFTER_LONG_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every protected mount on this host: health, events, repairs, last problem
    ///
    /// One line per mount: its health (ok, sick with the number of sick structures, offline
    /// repair recommended, shut down, or stale when its monitor stopped writing), the events
    /// read, repairs that succeeded and failed, the newest problem and when, and the state of
    /// its monitor unit. Read from the metrics files the monitors write for node_exporter
    /// (xfs-heal@INSTANCE.prom, in a directory of each mount's own beneath --metrics-dir),
    /// so it shows what Prometheus sees. Needs no privilege.
    #[command(after_long_help = "Exit status: 0 every mount is healthy (or none is protected); 1 \
a mount needs attention, or a metrics file is unreadable; 2 the directory cannot be read.")]
    Status {
        /// Where the monitors write their metrics files: DIR/INSTANCE/xfs-heal@INSTANCE.prom,
        /// or DIR/xfs-heal@INSTANCE.prom for a monitor run by hand with --metrics-dir DIR.
        #[arg(long, value_name = "DIR", default_value = xfs_heal_protocol::metrics::STATE_DIR)]
        metrics_dir: PathBuf,

        /// Output format: a table, or one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },

    /// Tell whether xfs-heal can serve a filesystem (the units' ExecCondition=)
    ///
    /// Tells whether xfs-heal can serve the XFS filesystem mounted at MOUNTPOINT, without
    /// serving it. Runs the repairer's own startup checks (steps 2 to 4: the mount, the
    /// autofsck property, the health monitor) and exits 0 when it can,
    /// 1 when it cannot, 255 on any other error, as xfs_healer --supported does. The verdict
    /// is one line on stderr. Needs root.
    #[command(after_long_help = "Exit status: 0 xfs-heal can serve the filesystem; 1 it cannot (not \
XFS, a kernel without the XFS health monitor, or the autofsck property says to stand down); \
255 on any other error (it cannot tell).")]
    Supported {
        /// The mount point of the XFS filesystem.
        mountpoint: PathBuf,
    },

    /// Show one mount's metrics file to node_exporter (the monitor unit's ExecStartPre=)
    ///
    /// Makes TEXTFILE_DIR/xfs-heal@INSTANCE.prom a symbolic link to
    /// STATE_DIR/INSTANCE/xfs-heal@INSTANCE.prom (INSTANCE: MOUNTPOINT, systemd-escaped), the
    /// file the mount's monitor writes in a directory of its own, replacing whatever had that name in one rename. An empty file is
    /// made first if the monitor has not written one yet. Nothing is followed through a link.
    /// Without TEXTFILE_DIR (no node_exporter) it does nothing. Needs root.
    #[command(
        after_long_help = "Exit status: 0 linked, linked already, or no textfile directory; 1 on an error (a bad instance name, a directory that cannot be opened)."
    )]
    MetricsLink {
        #[command(flatten)]
        dirs: MetricsDirs,
    },

    /// Take one mount's link away from node_exporter once its monitor ended cleanly (the
    /// monitor unit's ExecStopPost=)
    ///
    /// Removes TEXTFILE_DIR/xfs-heal@INSTANCE.prom if it is our link and the monitor's file is
    /// gone (the monitor removes it when the filesystem is unmounted). While the file is there
    /// the link stays, so a monitor that died shows as stale (XfsHealMonitorDown). Nothing
    /// but our own link is ever removed. Needs root.
    #[command(after_long_help = "Exit status: 0 removed, kept, or nothing to remove; 1 on an error.")]
    MetricsUnlink {
        #[command(flatten)]
        dirs: MetricsDirs,
    },

    /// Run a repairer by hand, the way its socket unit would start it
    ///
    /// Binds SOCKET, then replaces this process with COMMAND (normally /usr/libexec/xfs-heal/xfs-heal-repairer
    /// MOUNTPOINT), passing the socket as systemd does (LISTEN_FDS). SOCKET's directory must
    /// belong to root and be writable by root alone; the socket is created root's, group
    /// GROUP, mode 0660, and an old socket there is replaced if nothing accepts on it any more
    /// (nothing else is, and a live socket never). Needs root.
    #[command(after_long_help = "Exit status: COMMAND's, which replaces this process; 1 when the \
socket or the capture cannot be set up, or COMMAND cannot be run.")]
    Listen {
        /// The group given the socket: the monitor's.
        #[arg(long, value_name = "GROUP", default_value = "xfs-heal")]
        group: String,

        /// Also pass this file or FIFO, for the repairer to hand the monitor instead of the
        /// kernel's health monitor (for tests, and for replaying captures on kernels without
        /// one). It must be a root-owned regular file (one link) or FIFO that nobody else can
        /// write, named without symlinks; a file must also be what a capture can be: not on
        /// proc, sysfs or another pseudo filesystem, whole 64-byte health records, the first
        /// a record the kernel defines.
        #[arg(long, value_name = "PATH")]
        events_from: Option<PathBuf>,

        /// The Unix socket path to bind.
        socket: PathBuf,

        /// The program to run with the socket, and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
}

/// The directories and the instance the metrics verbs work on.
#[derive(Debug, clap::Args)]
pub struct MetricsDirs {
    /// node_exporter's textfile collector directory.
    #[arg(long, value_name = "DIR", default_value = xfs_heal_protocol::metrics::TEXTFILE_DIR)]
    pub textfile_dir: PathBuf,

    /// Where each monitor has its directory (the unit's StateDirectory=).
    #[arg(long, value_name = "DIR", default_value = xfs_heal_protocol::metrics::STATE_DIR)]
    pub state_dir: PathBuf,

    /// The mount point (%f): its systemd-escaped name names the files.
    pub mountpoint: PathBuf,
}
