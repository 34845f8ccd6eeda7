//! The monitor's side of the repairer socket: connect, accept exactly one Hello with exactly
//! one fd, send requests, collect replies. `request_repair` here; `handle_repair` is the
//! repairer's.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
use xfs_heal_protocol::codec::{self, CodecError, MAX_FRAME};
use xfs_heal_protocol::{Hello, MonitorToRepairer, RepairRequest, RepairerToMonitor, PROTOCOL_VERSION};

use crate::sys;

/// Where each mount's repairer listens: `/run/xfs-heal/<systemd-escaped mount path>.sock`.
pub fn default_socket(mountpoint: &Path) -> PathBuf {
    PathBuf::from(format!("/run/xfs-heal/{}.sock", systemd_escape_path(&mountpoint.to_string_lossy())))
}

/// `systemd-escape --path`: trims slashes, turns `/` into `-`, hex-escapes the rest.
pub fn systemd_escape_path(path: &str) -> String {
    let trimmed: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if trimmed.is_empty() {
        return "-".into();
    }
    let joined = trimmed.join("/");
    let mut out = String::with_capacity(joined.len());
    for (i, b) in joined.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':' => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// How long the repairer has to send its Hello once connected: a listener that accepts and
/// never sends must not hang the monitor.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the repairer connection failed.
#[derive(Debug)]
pub enum ClientError {
    Connect(Errno),
    /// The socket is served by a process that is not root: not a repairer of ours.
    NotRoot {
        uid: u32,
        pid: i32,
    },
    HelloTimeout,
    /// The Hello describes another mount than the one this monitor was started for.
    WrongMount {
        hello: String,
    },
    Receive(sys::ReceiveError),
    Frame(CodecError),
    NotHello,
    Version(u16),
    Io(Errno),
    Closed,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::NotRoot { uid, pid } => {
                write!(f, "the socket is served by pid {pid} uid {uid}, not by root: not a repairer; refused")
            }
            Self::HelloTimeout => {
                write!(f, "no Hello within {} s of connecting; refused", HELLO_TIMEOUT.as_secs())
            }
            Self::WrongMount { hello } => {
                write!(f, "the repairer serves {hello}, not this monitor's mount; refused")
            }
            Self::Receive(e) => write!(f, "{e}"),
            Self::Frame(e) => write!(f, "bad frame from the repairer: {e}"),
            Self::NotHello => f.write_str("the repairer's first message is not a Hello"),
            Self::Version(v) => {
                write!(f, "the repairer speaks protocol {v}, this monitor {PROTOCOL_VERSION}")
            }
            Self::Io(e) => write!(f, "{e}"),
            Self::Closed => f.write_str("the repairer closed the connection"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A live connection to the repairer.
#[derive(Debug)]
pub struct Connection {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects without ever blocking on the peer, checks that root serves the socket, and
    /// accepts the Hello (within [`HELLO_TIMEOUT`]) and its one fd, for `mountpoint` only.
    pub fn open(socket: &Path, mountpoint: &Path) -> Result<(Self, Hello, OwnedFd), ClientError> {
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let fd = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)
            .map_err(ClientError::Connect)?;
        let addr = UnixAddr::new(socket).map_err(ClientError::Connect)?;
        socket::connect(fd.as_raw_fd(), &addr).map_err(ClientError::Connect)?;
        let stream = UnixStream::from(fd);
        let peer = socket::getsockopt(&stream, sockopt::PeerCredentials).map_err(ClientError::Io)?;
        if peer.uid() != 0 {
            return Err(ClientError::NotRoot { uid: peer.uid(), pid: peer.pid() });
        }
        let mut ready = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(HELLO_TIMEOUT.as_millis()).unwrap_or(u16::MAX);
        if poll(&mut ready, PollTimeout::from(ms)).map_err(ClientError::Io)? == 0 {
            return Err(ClientError::HelloTimeout);
        }
        let mut buf = vec![0u8; MAX_FRAME];
        let (n, fd) = sys::receive_hello(stream.as_fd(), &mut buf).map_err(ClientError::Receive)?;
        let (msg, used) = codec::decode_frame::<RepairerToMonitor>(&buf[..n]).map_err(ClientError::Frame)?;
        let RepairerToMonitor::Hello(hello) = msg else { return Err(ClientError::NotHello) };
        if hello.protocol_version != PROTOCOL_VERSION {
            return Err(ClientError::Version(hello.protocol_version));
        }
        if Path::new(hello.mountpoint.as_str()) != mountpoint {
            return Err(ClientError::WrongMount { hello: hello.mountpoint.as_str().to_owned() });
        }
        let rest = buf[used..n].to_vec();
        Ok((Self { stream, buf: rest }, hello, fd))
    }

    /// Sends one repair request.
    pub fn request_repair(&mut self, request: RepairRequest) -> Result<(), ClientError> {
        self.send(&MonitorToRepairer::Repair(request))
    }

    /// Sends one message (a few dozen bytes; the socket buffer always has room).
    pub fn send(&mut self, message: &MonitorToRepairer) -> Result<(), ClientError> {
        let frame = codec::encode(message).map_err(ClientError::Frame)?;
        match nix::unistd::write(&self.stream, &frame) {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(_) => Err(ClientError::Closed),
            Err(e) => Err(ClientError::Io(e)),
        }
    }

    /// Reads what is available (the socket is readable) and returns the complete replies and
    /// names; a second Hello is an error.
    pub fn read_replies(&mut self) -> Result<Vec<RepairerToMonitor>, ClientError> {
        let mut chunk = [0u8; 4096];
        match nix::unistd::read(self.stream.as_fd(), &mut chunk) {
            Ok(0) => return Err(ClientError::Closed),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => return Err(ClientError::Io(e)),
        }
        let mut replies = Vec::new();
        loop {
            match codec::decode_frame::<RepairerToMonitor>(&self.buf) {
                Ok((RepairerToMonitor::Hello(_), _)) => return Err(ClientError::NotHello),
                Ok((answer, used)) => {
                    self.buf.drain(..used);
                    replies.push(answer);
                }
                Err(CodecError::Incomplete { .. }) => return Ok(replies),
                Err(e) => return Err(ClientError::Frame(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_paths_follow_systemd_escape() {
        // Expected values from `systemd-escape --path`.
        assert_eq!(systemd_escape_path("/"), "-");
        assert_eq!(systemd_escape_path("/mnt/data"), "mnt-data");
        assert_eq!(systemd_escape_path("/mnt/data/"), "mnt-data");
        assert_eq!(systemd_escape_path("//srv//a b"), "srv-a\\x20b");
        assert_eq!(systemd_escape_path("/.hidden/x-y"), "\\x2ehidden-x\\x2dy");
        assert_eq!(default_socket(Path::new("/mnt/data")), Path::new("/run/xfs-heal/mnt-data.sock"));
    }
}
