//! The two things the repairer takes from systemd: an activated listening socket
//! (`LISTEN_FDS`, sd_listen_fds(3)) and a readiness channel (`NOTIFY_SOCKET`, sd_notify(3)).
//! Both are read in step 1, before the environment is cleared and the sandbox closes.

use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};

use nix::sys::socket::{getsockopt, sockopt, SockType};

use crate::error::Error;
use crate::sys;

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// The listening socket systemd passed, if the environment says it passed one to us.
pub fn activated_listener() -> Result<Option<UnixListener>, Error> {
    let (Some(pid), Some(fds)) = (std::env::var_os("LISTEN_PID"), std::env::var_os("LISTEN_FDS")) else {
        return Ok(None);
    };
    let pid = pid.to_str().and_then(|p| p.parse::<u32>().ok());
    if pid != Some(std::process::id()) {
        // Meant for another process (e.g. our parent); not ours to take.
        return Ok(None);
    }
    if fds.to_str() != Some("1") {
        return Err(Error::Activation(format!("expected exactly one socket, LISTEN_FDS={fds:?}")));
    }
    let fd = sys::adopt_fd(LISTEN_FDS_START);
    check_listener(&fd).map_err(Error::Activation)?;
    Ok(Some(UnixListener::from(fd)))
}

fn check_listener(fd: &OwnedFd) -> Result<(), String> {
    let ty = getsockopt(fd, sockopt::SockType).map_err(|e| format!("fd 3 is not a socket: {e}"))?;
    let listening = getsockopt(fd, sockopt::AcceptConn).map_err(|e| format!("fd 3: {e}"))?;
    let local =
        nix::sys::socket::getsockname::<nix::sys::socket::UnixAddr>(std::os::fd::AsRawFd::as_raw_fd(fd));
    match (ty, listening, local) {
        (SockType::Stream, true, Ok(_)) => Ok(()),
        _ => Err("fd 3 is not a listening Unix stream socket".into()),
    }
}

/// sd_notify(3) without libsystemd: one datagram per state change.
#[derive(Debug, Default)]
pub struct Notifier(Option<UnixDatagram>);

impl Notifier {
    /// Connects to `NOTIFY_SOCKET`, if set. Failure is logged, never fatal: the service can
    /// run without it (Type=simple) and the journal shows why readiness was not reported.
    pub fn from_env() -> Self {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Self(None);
        };
        let connect = || -> std::io::Result<UnixDatagram> {
            let sock = UnixDatagram::unbound()?;
            let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
            let addr = match bytes.strip_prefix(b"@") {
                Some(name) => SocketAddr::from_abstract_name(name)?,
                None => SocketAddr::from_pathname(&path)?,
            };
            sock.connect_addr(&addr)?;
            Ok(sock)
        };
        match connect() {
            Ok(sock) => Self(Some(sock)),
            Err(e) => {
                crate::log!("cannot connect to NOTIFY_SOCKET {path:?}: {e}; readiness will not be reported");
                Self(None)
            }
        }
    }

    /// Sends `state` (e.g. "READY=1\nSTATUS=serving"). Uses write(2) on the connected socket.
    pub fn notify(&self, state: &str) {
        if let Some(sock) = &self.0 {
            if let Err(e) = nix::unistd::write(sock.as_fd(), state.as_bytes()) {
                crate::log!("sd_notify failed: {e}");
            }
        }
    }
}
