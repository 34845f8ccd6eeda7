//! The sealed serving loop: one monitor at a time, every request re-validated, every
//! request and outcome written to the audit log.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use nix::errno::Errno as NixErrno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{getsockopt, sendmsg, sockopt, ControlMessage, MsgFlags, UnixCredentials};
use xfs_heal_protocol::codec::{self, CodecError, MAX_FRAME};
use xfs_heal_protocol::{
    Geometry, MonitorToRepairer, Refusal, RepairOutcome, RepairReply, RepairRequest, RepairerToMonitor,
    ScrubOutFlags,
};

use crate::mount::{errno_of, Mount};
use crate::sys;
use crate::systemd::Notifier;
use crate::{log, Priority};

/// What has been served, for systemd's STATUS=.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    requests: u64,
    issued: u64,
}

/// One connected, authenticated monitor.
struct Connection {
    fd: OwnedFd,
    pid: i32,
    uid: u32,
    buf: Vec<u8>,
}

/// Everything the loop needs, fixed at startup.
#[derive(Debug)]
pub struct Server {
    pub listener: UnixListener,
    pub monitor_uid: u32,
    pub mount: Mount,
    pub geometry: Geometry,
    /// The fd handed to each monitor. Kept here, so a restarted monitor finds the same queue.
    pub health: OwnedFd,
    /// Whether `health` is the kernel's monitor (and can confirm the superblock).
    pub kernel_monitor: bool,
    /// The encoded `Hello`, sent with `health` on every connection.
    pub hello: Vec<u8>,
}

impl Server {
    /// Serves until the filesystem is gone (returns Ok) or the listener fails. After each
    /// request, systemd's STATUS= shows the counters (`systemctl status`).
    pub fn run(&self, notifier: &Notifier) -> std::io::Result<()> {
        let mut conn: Option<Connection> = None;
        let mut counts = Counts::default();
        loop {
            let (listen_ready, conn_ready) = {
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                if let Some(c) = &conn {
                    fds.push(PollFd::new(c.fd.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(NixErrno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                let ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), fds.get(1).is_some_and(ready))
            };
            if let (true, Some(c)) = (conn_ready, conn.as_mut()) {
                let before = counts;
                let served = self.service(c, &mut counts);
                if counts != before {
                    notifier.notify(&format!(
                        "STATUS=serving {}: {} requests, {} repairs issued, {} refused",
                        self.mount.path.display(),
                        counts.requests,
                        counts.issued,
                        counts.requests - counts.issued
                    ));
                }
                if let Err(reason) = served {
                    log!("monitor pid {} disconnected: {reason}", c.pid);
                    conn = None;
                    if let Err(why) = self.mount.reopen_verified(self.monitor()) {
                        log!("the filesystem is gone ({}); exiting", why.0);
                        return Ok(());
                    }
                }
            }
            if listen_ready {
                match sys::accept(self.listener.as_fd()) {
                    Ok(fd) => self.admit(fd, &mut conn),
                    // The peer gave up before we got to it; nothing to serve.
                    Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    fn monitor(&self) -> Option<&OwnedFd> {
        self.kernel_monitor.then_some(&self.health)
    }

    /// Checks a new peer; if it is the one monitor we serve and nobody else is connected,
    /// greets it with `Hello` and the health fd.
    fn admit(&self, fd: OwnedFd, conn: &mut Option<Connection>) {
        let cred: UnixCredentials = match getsockopt(&fd, sockopt::PeerCredentials) {
            Ok(c) => c,
            Err(e) => return log!("refused a connection: SO_PEERCRED failed: {e}"),
        };
        let (pid, uid) = (cred.pid(), cred.uid());
        if uid != self.monitor_uid {
            return log!(
                "refused connection from pid {pid} uid {uid}: only uid {} is served",
                self.monitor_uid
            );
        }
        if let Some(current) = conn {
            return log!(
                "refused connection from pid {pid}: monitor pid {} is already connected",
                current.pid
            );
        }
        let fds = [self.health.as_raw_fd()];
        let iov = [IoSlice::new(&self.hello)];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        match sendmsg::<()>(fd.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) if n == self.hello.len() => {
                log!("monitor pid {pid} uid {uid} connected; handed over the health fd");
                *conn = Some(Connection { fd, pid, uid, buf: Vec::with_capacity(MAX_FRAME) });
            }
            Ok(n) => log!("dropped monitor pid {pid}: Hello cut short after {n} bytes"),
            Err(e) => log!("dropped monitor pid {pid}: cannot send Hello: {e}"),
        }
    }

    /// Reads what the monitor sent and answers every complete request. An error ends the
    /// connection; the loop goes on serving the next one.
    fn service(&self, c: &mut Connection, counts: &mut Counts) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        let n = match nix::unistd::read(c.fd.as_fd(), &mut chunk) {
            Ok(0) if c.buf.is_empty() => return Err("connection closed".into()),
            Ok(0) => {
                return Err(format!(
                    "connection closed inside a frame ({} bytes of it received)",
                    c.buf.len()
                ))
            }
            Ok(n) => n,
            Err(NixErrno::EAGAIN | NixErrno::EINTR) => return Ok(()),
            Err(e) => return Err(format!("read failed: {e}")),
        };
        c.buf.extend_from_slice(&chunk[..n]);
        loop {
            match codec::decode_frame::<MonitorToRepairer>(&c.buf) {
                Ok((MonitorToRepairer::Repair(request), used)) => {
                    c.buf.drain(..used);
                    let reply = self.handle_repair(c, request);
                    counts.requests += 1;
                    counts.issued += u64::from(!matches!(reply.outcome, RepairOutcome::Refused(_)));
                    let frame = codec::encode(&RepairerToMonitor::Reply(reply)).map_err(|e| e.to_string())?;
                    match nix::unistd::write(&c.fd, &frame) {
                        Ok(n) if n == frame.len() => {}
                        Ok(_) | Err(NixErrno::EAGAIN) => {
                            return Err("monitor is not reading its replies".into())
                        }
                        Err(e) => return Err(format!("cannot send reply: {e}")),
                    }
                }
                Err(CodecError::Incomplete { .. }) => return Ok(()),
                Err(e) => return Err(format!("rejected frame: {e}")),
            }
        }
    }

    /// Re-validates one request, proves the filesystem is still the recorded one, and only
    /// then issues the repair.
    fn handle_repair(&self, c: &Connection, request: RepairRequest) -> RepairReply {
        let RepairRequest { id, target } = request;
        // One line per request, also the journal's structured audit record.
        let audit = |verdict: &str, outcome: &str, result: &str| {
            let message = format!(
                "audit: pid={} uid={} request={} target=\"{target}\" verdict={verdict} result=\"{result}\"",
                c.pid, c.uid, id.0
            );
            let priority = if verdict == "issued" { Priority::Notice } else { Priority::Warning };
            crate::log_entry(priority, &message, |entry| {
                entry
                    .field("kind", "audit")
                    .field("peer_pid", c.pid)
                    .field("peer_uid", c.uid)
                    .field("request", id.0)
                    .target(&target)
                    .field("verdict", verdict)
                    .field("outcome", outcome)
                    .field("result", result)
            });
        };
        let refuse = |refusal: Refusal, why: &str| {
            audit("refused", "refused", why);
            RepairReply { id, oflags: ScrubOutFlags::NONE, outcome: RepairOutcome::Refused(refusal) }
        };
        if let Err(out_of_range) = target.check_geometry(&self.geometry) {
            let why = out_of_range.to_string();
            return refuse(Refusal::OutOfRange(out_of_range), &why);
        }
        let fd = match self.mount.reopen_verified(self.monitor()) {
            Ok(fd) => fd,
            Err(stale) => return refuse(Refusal::StaleFilesystem, &format!("ESTALE: {}", stale.0)),
        };
        let mut sm = target.to_scrub_metadata();
        let (oflags, outcome) = match sys::scrub_metadata(fd.as_fd(), &mut sm) {
            Ok(()) => {
                let oflags = ScrubOutFlags::from_kernel(sm.sm_flags);
                (oflags, RepairOutcome::classify(oflags))
            }
            Err(e) => (ScrubOutFlags::NONE, RepairOutcome::KernelError(errno_of(&e))),
        };
        audit("issued", outcome.name(), &format!("{} oflags={:#x}", outcome.sentence(), oflags.bits()));
        RepairReply { id, oflags, outcome }
    }
}
