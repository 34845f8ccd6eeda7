//! What the repairer takes from systemd: the activated listening socket and the health fd it
//! kept for us across a restart (`LISTEN_FDS`/`LISTEN_FDNAMES`, sd_listen_fds(3)), and a
//! notification channel (`NOTIFY_SOCKET`, sd_notify(3)) for readiness, status and handing the
//! health fd to the fd store. Read in step 1, before the environment is cleared and the
//! sandbox closes.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
use std::sync::OnceLock;

use nix::sys::socket::{getsockopt, sockopt, SockType, UnixAddr};

use xfs_heal_protocol::host::{self, HEALTH_FD_NAME};
use xfs_heal_protocol::journal::{self, Entry};

use crate::error::Error;
use crate::sys;

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The fds systemd (or `xfs-heal listen`) passed to this process.
#[derive(Debug, Default)]
pub struct Passed {
    pub listener: Option<UnixListener>,
    /// The health monitor fd from an earlier run of this service, unverified: step 4
    /// checks that it watches the filesystem at the mount point before using it.
    pub stored_health: Option<OwnedFd>,
    /// A capture `xfs-heal listen --events-from` opened and checked, to hand the monitor
    /// instead of the kernel's health monitor.
    pub events: Option<OwnedFd>,
    /// The first fd number systemd did not pass; everything from here up is closed.
    pub first_unused: RawFd,
}

/// Adopts what systemd passed, if the environment says it passed anything to us.
pub fn passed_fds() -> Result<Passed, Error> {
    let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
    let plan = host::listen_fds_plan(pid.as_deref(), fds.as_deref(), names.as_deref(), std::process::id())
        .map_err(Error::ListenFds)?;
    let mut fds: Vec<Option<OwnedFd>> =
        sys::adopt_listen_fds(LISTEN_FDS_START, plan.count).into_iter().map(Some).collect();
    let mut take = |i: Option<usize>| i.and_then(|i| fds.get_mut(i)?.take());
    let listener = match take(plan.listener) {
        Some(fd) if !is_listener(&fd) => return Err(Error::NotAListener(fd.as_raw_fd())),
        fd => fd.map(UnixListener::from),
    };
    let first_unused = LISTEN_FDS_START + RawFd::try_from(plan.count).unwrap_or(0);
    Ok(Passed { listener, stored_health: take(plan.health), events: take(plan.events), first_unused })
}

/// A listening Unix stream socket, as the socket unit makes.
fn is_listener(owned: &OwnedFd) -> bool {
    let stream = getsockopt(owned, sockopt::SockType).is_ok_and(|t| t == SockType::Stream);
    let unix = nix::sys::socket::getsockname::<UnixAddr>(owned.as_raw_fd()).is_ok();
    stream && unix && getsockopt(owned, sockopt::AcceptConn).unwrap_or(false)
}

/// journald's native socket, when stderr is the journal. Set once, in step 1.
static JOURNAL: OnceLock<UnixDatagram> = OnceLock::new();

/// Step 1: when `JOURNAL_STREAM` names our stderr, connects to journald's native socket so
/// log lines, audit lines above all, carry structured fields. Connected before the sandbox
/// closes; after it, an entry is one write(2) on this socket.
pub fn connect_journal() {
    let stream = std::env::var_os("JOURNAL_STREAM").unwrap_or_default();
    let stderr_is_journal = nix::sys::stat::fstat(std::io::stderr())
        .is_ok_and(|st| journal::is_journal_stream(&stream.to_string_lossy(), st.st_dev, st.st_ino));
    if !stderr_is_journal {
        return;
    }
    match datagram_to(journal::SOCKET.as_ref()) {
        Ok(sock) => drop(JOURNAL.set(sock)),
        Err(e) => crate::log!("cannot connect to {}: {e}; logging plain lines", journal::SOCKET),
    }
}

/// A non-blocking datagram socket connected to `path` ("@name" for an abstract one).
fn datagram_to(path: &std::ffi::OsStr) -> std::io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    let addr = match std::os::unix::ffi::OsStrExt::as_bytes(path).strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(path)?,
    };
    sock.connect_addr(&addr)?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// Sends the entry `entry` builds, if connected; false if not sent (the caller then writes
/// the plain line).
pub fn journal_send(entry: impl FnOnce() -> Entry) -> bool {
    JOURNAL.get().is_some_and(|sock| nix::unistd::write(sock.as_fd(), &entry().into_bytes()).is_ok())
}

/// sd_notify(3) without libsystemd: one datagram per state change.
#[derive(Debug, Default)]
pub struct Notifier(Option<UnixDatagram>);

impl Notifier {
    /// Connects to `NOTIFY_SOCKET`, if set. Failure is logged, never fatal: the service can
    /// run without it (Type=simple) and the journal shows why readiness was not reported.
    pub fn from_env() -> Self {
        std::env::var_os("NOTIFY_SOCKET").map_or(Self(None), |path| Self::connect(&path))
    }

    /// Connects to the notification socket at `path` ("@name" for an abstract one).
    pub fn connect(path: &std::ffi::OsStr) -> Self {
        match datagram_to(path) {
            Ok(sock) => Self(Some(sock)),
            Err(e) => {
                crate::log!("cannot connect to NOTIFY_SOCKET {path:?}: {e}; readiness will not be reported");
                Self(None)
            }
        }
    }

    /// Whether a service manager listens: run by hand, none does.
    pub fn connected(&self) -> bool {
        self.0.is_some()
    }

    /// Sends `state` (e.g. "READY=1\nSTATUS=serving"). Uses write(2) on the connected socket.
    pub fn notify(&self, state: &str) {
        if let Some(sock) = &self.0 {
            if let Err(e) = nix::unistd::write(sock.as_fd(), state.as_bytes()) {
                crate::log!("sd_notify failed: {e}");
            }
        }
    }

    /// Hands a duplicate of the health fd to systemd's fd store (`FDSTORE=1`), so a restarted
    /// repairer gets the same monitor back instead of EEXIST, with its queued events. Needs
    /// `FileDescriptorStoreMax=` in the unit; runs before seccomp (it is a sendmsg). Returns
    /// whether the fd was sent.
    pub fn store_health_fd(&self, health: BorrowedFd<'_>) -> bool {
        let Some(sock) = &self.0 else {
            return false;
        };
        let state = format!("FDSTORE=1\nFDNAME={HEALTH_FD_NAME}\n");
        sys::send_with_fd(sock.as_fd(), state.as_bytes(), health)
            .map_err(|e| crate::log!("cannot hand the health fd to systemd's fd store: {e}; a restart will find the filesystem still monitored"))
            .is_ok()
    }

    /// Empties our slot in the fd store (a stored fd that no longer watches our filesystem).
    pub fn forget_stored_health_fd(&self) {
        self.notify(&format!("FDSTOREREMOVE=1\nFDNAME={HEALTH_FD_NAME}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_health_fd_to_the_store_with_its_name() {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::io::IoSliceMut;
        let dir = std::env::temp_dir().join(format!("xfs-heal-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let systemd_end = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::connect(path.as_os_str());
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(notifier.store_health_fd(file.as_fd()));

        let mut buf = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([RawFd; 2]);
        let msg =
            recvmsg::<()>(systemd_end.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
        let received: Vec<RawFd> = msg
            .cmsgs()
            .unwrap()
            .flat_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds,
                _ => vec![],
            })
            .collect();
        let len = msg.bytes;
        assert_eq!(&buf[..len], b"FDSTORE=1\nFDNAME=health\n");
        assert_eq!(received.len(), 1);
        // The received fd is the same open file: seen through /proc, no fd adopted here.
        let same = |path: String| {
            let st = nix::sys::stat::stat(path.as_str()).unwrap();
            (st.st_dev, st.st_ino)
        };
        assert_eq!(
            same(format!("/proc/self/fd/{}", received[0])),
            same(format!("/proc/self/fd/{}", file.as_raw_fd()))
        );
        nix::unistd::close(received[0]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
