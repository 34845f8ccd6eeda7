//! Why the monitor could not start: one variant per startup step of `main.rs`, each naming
//! its step, with the cause as its typed source.

use std::path::PathBuf;

use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("step 2 (drop privileges): dropping capabilities: {0}")]
    Capabilities(#[source] caps::errors::CapsError),
    #[error("step 2 (drop privileges): started as root, and there is no user {0:?} to switch to: create it (the package does) or give --user")]
    NoSuchUser(String),
    #[error("step 2 (drop privileges): --user {0} is root: the monitor never runs as root")]
    UserIsRoot(String),
    #[error("step 2 (drop privileges): switching to {user}: {source}")]
    SwitchUser { user: String, source: nix::Error },
    #[error("step 2 (drop privileges): PR_SET_DUMPABLE: {0}")]
    Dumpable(#[source] nix::Error),
    #[error("step 2 (drop privileges): capabilities left in the {set} set after dropping them all: {left}")]
    CapabilitiesLeft { set: String, left: String },
    #[error("step 3 (connect): repairer at {}: {source}", socket.display())]
    Connect { socket: PathBuf, source: ClientError },
    #[error("step 3 (health fd): cannot make the health fd non-blocking: {0}")]
    NonBlocking(#[source] nix::Error),
    #[error("step 3 (--everything): cannot reconfigure the health monitor: {0}")]
    Everything(#[source] std::io::Error),
    #[error("step 4 (landlock): {0}")]
    Landlock(#[source] landlock::RulesetError),
    #[error("step 4 (seccomp): compiling the allow-list: {0}")]
    SeccompCompile(#[source] seccompiler::BackendError),
    #[error("step 4 (seccomp): {0}")]
    Seccomp(#[source] seccompiler::Error),
}
