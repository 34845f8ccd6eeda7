//! One error variant per startup step, so every failure names the step that broke.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// Step 1: closing inherited fds, reading the environment.
    Sanitize(io::Error),
    /// Step 1: the socket handed over by systemd is missing or not what we serve on.
    Activation(String),
    /// Step 1: binding `--listen PATH`.
    Listen {
        path: PathBuf,
        source: io::Error,
    },
    /// Step 1: no `--monitor-uid` and no `xfs-heal` user.
    NoMonitorUser,
    /// Step 2.
    OpenMount {
        path: PathBuf,
        source: io::Error,
    },
    NotXfs {
        path: PathBuf,
    },
    NotMountRoot {
        path: PathBuf,
        detail: String,
    },
    /// Step 3.
    Identity(io::Error),
    Geometry(String),
    /// Step 4.
    NoHealthMonitor {
        path: PathBuf,
    },
    MonitorAlreadyAttached {
        path: PathBuf,
    },
    HealthMonitor {
        path: PathBuf,
        source: io::Error,
    },
    EventsFrom {
        path: PathBuf,
        source: io::Error,
    },
    /// Step 6.
    Capabilities(String),
    /// Step 7.
    Landlock(String),
    /// Step 8.
    Seccomp(String),
    /// Serving: the listening socket failed.
    Serve(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sanitize(e) => write!(f, "step 1 (sanitize): {e}"),
            Self::Activation(why) => write!(f, "step 1 (socket activation): {why}"),
            Self::Listen { path, source } => write!(f, "step 1 (listen): {}: {source}", path.display()),
            Self::NoMonitorUser => {
                write!(f, "step 1 (peer): no --monitor-uid given and there is no 'xfs-heal' user")
            }
            Self::OpenMount { path, source } => write!(f, "step 2 (open mount): {}: {source}", path.display()),
            Self::NotXfs { path } => write!(f, "step 2 (open mount): {}: not an XFS mount point", path.display()),
            Self::NotMountRoot { path, detail } => write!(f, "step 2 (open mount): {}: {detail}", path.display()),
            Self::Identity(e) => write!(f, "step 3 (record identity): {e}"),
            Self::Geometry(e) => write!(f, "step 3 (record geometry): {e}"),
            Self::NoHealthMonitor { path } => write!(
                f,
                "step 4 (health monitor): {}: this kernel has no XFS health monitor (Linux 7.0+ needed; --events-from FILE replays a capture instead)",
                path.display()
            ),
            Self::MonitorAlreadyAttached { path } => write!(
                f,
                "step 4 (health monitor): another health monitor is already attached to {} (xfs_healer, or a monitor still holding the one an earlier repairer opened outside systemd's fd store)",
                path.display()
            ),
            Self::HealthMonitor { path, source } => {
                write!(f, "step 4 (health monitor): {}: {source}", path.display())
            }
            Self::EventsFrom { path, source } => write!(f, "step 4 (--events-from): {}: {source}", path.display()),
            Self::Capabilities(e) => write!(f, "step 6 (drop capabilities): {e}"),
            Self::Landlock(e) => write!(f, "step 7 (landlock): {e}"),
            Self::Seccomp(e) => write!(f, "step 8 (seccomp): {e}"),
            Self::Serve(e) => write!(f, "serving: {e}"),
        }
    }
}

impl std::error::Error for Error {}
