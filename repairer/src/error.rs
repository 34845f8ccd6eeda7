//! One error variant per startup step, so every failure names the step that broke, with the
//! cause as its typed source.

use std::io;
use std::path::PathBuf;

use xfs_heal_protocol::{CodecError, InvalidValue};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("step 1 (sanitize): {0}")]
    Sanitize(#[source] io::Error),
    #[error("step 1 (socket activation): {0}")]
    ListenFds(#[source] xfs_heal_protocol::host::ListenFdsError),
    #[error("step 1 (socket activation): fd {0} is not a listening Unix stream socket")]
    NotAListener(std::os::fd::RawFd),
    #[error("step 1 (socket activation): no listening socket passed (LISTEN_FDS): start it from its socket unit, or by hand through `xfs-heal listen`")]
    NoSocket,
    #[error("step 1 (peer): no --monitor-uid given and there is no 'xfs-heal' user")]
    NoXfsHealUser,
    #[error("step 2 (open mount): {}: {source}", path.display())]
    OpenMount { path: PathBuf, source: io::Error },
    #[error("step 2 (private mount namespace): {step}: {source}")]
    Isolate { step: &'static str, source: io::Error },
    #[error("step 2 (open mount): {}: not an XFS mount point", path.display())]
    NotXfs { path: PathBuf },
    #[error("step 2 (open mount): {}: {detail}", path.display())]
    NotMountRoot { path: PathBuf, detail: String },
    #[error("step 2 (watch for a moved mount): {0} (fanotify mount events, Linux 6.15+)")]
    MoveWatch(#[source] io::Error),
    #[error("step 3 (record identity): {0}")]
    Identity(#[source] io::Error),
    #[error("step 3 (record geometry): XFS_IOC_FSGEOMETRY: {0}")]
    GeometryIoctl(#[source] io::Error),
    #[error("step 3 (record geometry): {0}")]
    Geometry(#[source] InvalidValue),
    #[error("step 4 (health monitor): {}: this kernel has no XFS health monitor (Linux 7.0+ needed; xfs-heal listen --events-from FILE replays a capture instead)", path.display())]
    NoHealthMonitor { path: PathBuf },
    #[error("step 4 (health monitor): another health monitor is already attached to {} (xfs_healer, or a monitor still holding the one an earlier repairer opened outside systemd's fd store)", path.display())]
    MonitorAlreadyAttached { path: PathBuf },
    #[error("step 4 (health monitor): {}: {source}", path.display())]
    HealthMonitor { path: PathBuf, source: io::Error },
    #[error("step 6 (drop capabilities): {0}")]
    Capabilities(#[source] caps::errors::CapsError),
    #[error("step 6 (drop capabilities): CAP_SYS_ADMIN is not in the permitted set: run as root")]
    NotPrivileged,
    #[error("step 6 (drop capabilities): no_new_privs: {0}")]
    NoNewPrivs(#[source] nix::Error),
    #[error("step 7 (landlock): {0}")]
    Landlock(#[from] landlock::RulesetError),
    #[error("step 7 (landlock): {0}")]
    LandlockPath(#[source] landlock::PathFdError),
    #[error("step 7 (landlock): {0:?}: this kernel cannot enforce the whole ruleset; refusing to serve (--allow-partial-landlock accepts it)")]
    LandlockNotEnforced(landlock::RulesetStatus),
    #[error("step 7 (hello): the mount path: {0}")]
    HelloPath(#[source] InvalidValue),
    #[error("step 7 (hello): {0}")]
    HelloEncode(#[source] CodecError),
    #[error("step 8 (repair workers): {0}")]
    Workers(#[source] io::Error),
    #[error("step 9 (seccomp): compiling the allow-list: {0}")]
    SeccompCompile(#[source] seccompiler::BackendError),
    #[error("step 9 (seccomp): {0}")]
    Seccomp(#[source] seccompiler::Error),
    /// The listening socket failed while serving.
    #[error("serving: {0}")]
    Serve(#[source] io::Error),
}
