//! The sealed serving loop: one monitor at a time, every request re-validated and held to the
//! rate limits of `protocol::throttle`, every request and outcome written to the audit log.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Instant;

use nix::errno::Errno as NixErrno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{getsockopt, sockopt, UnixCredentials};
use xfs_heal_protocol::codec::{self, Disconnect, FrameReader};
use xfs_heal_protocol::defects::DefectSet;
use xfs_heal_protocol::host::{self, Served};
use xfs_heal_protocol::journal::{Audit, Audited, Verdict};
use xfs_heal_protocol::names::{LookupReply, LookupRequest, Lookups};
use xfs_heal_protocol::throttle::Limits;
use xfs_heal_protocol::{
    Geometry, MonitorToRepairer, Refusal, RepairOutcome, RepairReply, RepairRequest, RepairerToMonitor,
};

use crate::log;
use crate::mount::{errno_of, Mount, MoveWatch};
use crate::sys;
use crate::systemd::Notifier;

/// A peer that sends part of a frame and then nothing for this long (5 s) is dropped: it
/// would otherwise hold the one connection slot.
pub const STALL_NS: u64 = 5_000_000_000;

/// One connected, authenticated monitor.
struct Connection {
    fd: OwnedFd,
    pid: i32,
    uid: u32,
    frames: FrameReader,
}

/// Everything the loop needs, fixed at startup.
#[derive(Debug)]
pub struct Server {
    pub listener: UnixListener,
    pub monitor_uid: u32,
    pub mount: Mount,
    pub geometry: Geometry,
    /// Known kernel defects whose repairs are refused (`protocol::defects`).
    pub guards: DefectSet,
    /// The fd handed to each monitor. Kept here, so a restarted monitor finds the same queue.
    pub health: OwnedFd,
    /// Whether `health` is the kernel's health fd (and can confirm the superblock), not a capture.
    pub health_is_kernels: bool,
    /// The encoded `Hello`, sent with `health` on every connection.
    pub hello: Vec<u8>,
    /// Run by hand: the watch for a move of the mount (`mount::MoveWatch`).
    pub moves: Option<MoveWatch>,
    /// Name lookups: the policy and the failed-lookup limit, as at startup.
    pub lookups: Lookups,
}

/// The loop's changing state: the connection, the limits and what they held back.
struct State {
    conn: Option<Connection>,
    counts: Served,
    limits: Limits,
    lookups: Lookups,
    epoch: Instant,
}

impl State {
    /// Nanoseconds since the loop started: the clock of the rate limits.
    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Server {
    /// Serves until the filesystem is gone (returns Ok) or the listener fails. After each
    /// request, systemd's STATUS= shows the counters (`systemctl status`).
    pub fn run(&self, notifier: &Notifier) -> std::io::Result<()> {
        let (counts, limits, lookups) = (Served::default(), Limits::new(0), self.lookups.clone());
        let mut st = State { conn: None, counts, limits, lookups, epoch: Instant::now() };
        loop {
            self.summarise(&mut st, false);
            let (listen_ready, conn_ready, moved) = {
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                fds.extend(self.moves.as_ref().map(|w| PollFd::new(w.fd.as_fd(), PollFlags::POLLIN)));
                // While a request is held by the rate limit, its connection is not read.
                if let Some(c) = st.conn.as_ref().filter(|_| st.limits.gate.held_until().is_none()) {
                    fds.push(PollFd::new(c.fd.as_fd(), PollFlags::POLLIN));
                }
                let stall = st.conn.as_ref().and_then(|c| c.frames.stall_deadline(STALL_NS));
                let timeout = st
                    .limits
                    .sleep_ms(st.now_ns(), stall)
                    .map_or(PollTimeout::NONE, |ms| PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX));
                match poll(&mut fds, timeout) {
                    Err(NixErrno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                let ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
                let watched = usize::from(self.moves.is_some());
                (ready(&fds[0]), fds.get(1 + watched).is_some_and(ready), watched == 1 && ready(&fds[1]))
            };
            if moved && self.mount_moved() {
                self.summarise(&mut st, true);
                log!("{} was moved to another place (mount --move); exiting, so that this process does not keep the filesystem alive after it is unmounted there. A pair serves one mount point: start xfs-heal for the new one (xfs-heal-monitor@.service, or by hand)", self.mount.path.display());
                return Ok(());
            }
            if st.conn.is_some() {
                let before = st.counts;
                let served = self.service(&mut st, conn_ready);
                if st.counts != before {
                    notifier.notify(&st.counts.status(&self.mount.path, crate::DROPS.total()));
                }
                if let Err(reason) = served {
                    st.limits.gate.drop_held();
                    let pid = st.conn.take().map_or(0, |c| c.pid);
                    log!("monitor pid {pid} disconnected: {reason}");
                    if let Err(why) = self.mount.reopen_verified(self.kernel_health()) {
                        self.summarise(&mut st, true);
                        log!("the filesystem is gone ({}); exiting", why.0);
                        return Ok(());
                    }
                }
            }
            if listen_ready {
                // A Unix socket's accept fails only for this process (no fd left, no memory):
                // exit, and let systemd restart it, rather than spin on a readable listener.
                // A peer gone before the accept is still accepted, and reads as closed.
                self.admit(sys::accept(self.listener.as_fd())?, &mut st);
            }
        }
    }

    /// Reads what the move watch has queued: was it our mount that moved?
    fn mount_moved(&self) -> bool {
        let Some(watch) = &self.moves else { return false };
        let mut buf = [0u8; 4096];
        matches!(nix::unistd::read(watch.fd.as_fd(), &mut buf), Ok(n) if host::mount_moved(&buf[..n], watch.mount_id))
    }

    fn kernel_health(&self) -> Option<&OwnedFd> {
        self.health_is_kernels.then_some(&self.health)
    }

    /// The counted summaries of what the limits held back, when due (or now, with `force`).
    fn summarise(&self, st: &mut State, force: bool) {
        for line in st.limits.summary_lines(st.now_ns(), force) {
            log!("{line}");
        }
    }

    /// Logs one refused connection, or counts it once over the line limit.
    fn refused(&self, st: &mut State, message: &str) {
        if st.limits.refusal_line(st.now_ns()) {
            log!("{message}");
        }
    }

    /// Checks a new peer; if it is the monitor we serve, greets it with `Hello` and the
    /// health fd. A newer connection of the served peer replaces the current one: the
    /// identity checks make them equally trusted, and a peer that connected and fell silent
    /// must not lock the restarted monitor out.
    fn admit(&self, fd: OwnedFd, st: &mut State) {
        let cred: UnixCredentials = match getsockopt(&fd, sockopt::PeerCredentials) {
            Ok(c) => c,
            Err(e) => return self.refused(st, &format!("refused a connection: SO_PEERCRED failed: {e}")),
        };
        let (pid, uid) = (cred.pid(), cred.uid());
        if let Err(why) = host::check_peer(pid, uid, self.monitor_uid) {
            return self.refused(st, &why);
        }
        match sys::send_with_fd(fd.as_fd(), &self.hello, self.health.as_fd()) {
            Ok(n) if n == self.hello.len() => {
                if let Some(old) = st.conn.take() {
                    st.limits.gate.drop_held();
                    log!("monitor pid {pid} replaces monitor pid {}, whose connection is closed", old.pid);
                }
                log!("monitor pid {pid} uid {uid} connected; handed over the health fd");
                st.conn = Some(Connection { fd, pid, uid, frames: FrameReader::new() });
            }
            Ok(n) => log!("dropped monitor pid {pid}: Hello cut short after {n} bytes"),
            Err(e) => log!("dropped monitor pid {pid}: cannot send Hello: {e}"),
        }
    }

    /// Reads what the monitor sent (when `readable`) and answers every complete request the
    /// limits let through. An error ends the connection; the loop goes on serving the next.
    fn service(&self, st: &mut State, readable: bool) -> Result<(), Disconnect> {
        let now = st.now_ns();
        let Some(c) = st.conn.as_mut() else { return Ok(()) };
        if readable {
            let mut chunk = [0u8; 4096];
            let read = nix::unistd::read(c.fd.as_fd(), &mut chunk).map_err(std::io::Error::from);
            c.frames.received(read.map(|n| &chunk[..n]))?;
        }
        loop {
            let Some(c) = st.conn.as_mut() else { return Ok(()) };
            let frames = &mut c.frames;
            let next = || frames.next::<MonitorToRepairer>(now, STALL_NS).map_err(Disconnect::Stream);
            let reply = match st.limits.gate.pass(now, next)? {
                None => return Ok(()),
                Some(MonitorToRepairer::Repair(request)) => {
                    let reply = self.handle_repair(c, request);
                    st.counts.count(!matches!(reply.outcome, RepairOutcome::Refused(_)));
                    RepairerToMonitor::Reply(reply)
                }
                Some(MonitorToRepairer::Lookup(r)) => {
                    RepairerToMonitor::Named(self.lookup(c, &mut st.lookups, now, r))
                }
            };
            let frame = codec::encode(&reply).map_err(Disconnect::Encode)?;
            Disconnect::after_write(frame.len(), nix::unistd::write(&c.fd, &frame).map_err(Into::into))?;
        }
    }

    /// One line per request, also the journal's structured audit record.
    fn audit(c: &Connection, request: u64, target: Audited, verdict: Verdict, outcome: &str, result: &str) {
        let record = Audit { peer_pid: c.pid, peer_uid: c.uid, request, target, verdict, outcome, result };
        crate::log_entry(record.priority(), &record.message(), |entry| record.fields(entry));
    }

    /// Names an inode, on the re-verified mount: `protocol::names::Lookups` decides.
    fn lookup(&self, c: &Connection, l: &mut Lookups, now: u64, r: LookupRequest) -> LookupReply {
        let verify = || self.mount.reopen_verified(self.kernel_health()).map_err(|stale| stale.0);
        let call =
            |fd: &OwnedFd, h: &_, b: &mut _| sys::getparents(fd.as_fd(), h, b).map_err(|e| errno_of(&e));
        let (reply, result) = l.answer(now, r, verify, call);
        let verdict = if reply.refused() { Verdict::Refused } else { Verdict::Issued };
        Self::audit(c, r.id.0, Audited::Lookup(&r), verdict, reply.outcome.name(), &result);
        reply
    }

    /// Re-validates one request, proves the filesystem is still the recorded one, and only
    /// then issues the repair.
    fn handle_repair(&self, c: &Connection, request: RepairRequest) -> RepairReply {
        let RepairRequest { id, target } = request;
        let audit = |verdict, outcome, result: &str| {
            Self::audit(c, id.0, Audited::Repair(&target), verdict, outcome, result)
        };
        let refuse = |refusal: Refusal, why: &str| {
            audit(Verdict::Refused, "refused", why);
            RepairReply::refused(id, refusal)
        };
        if let Some((refusal, why)) = Refusal::screen(&target, &self.geometry, self.guards) {
            return refuse(refusal, &why);
        }
        let fd = match self.mount.reopen_verified(self.kernel_health()) {
            Ok(fd) => fd,
            Err(stale) => return refuse(Refusal::StaleFilesystem, &format!("ESTALE: {}", stale.0)),
        };
        let mut sm = target.to_scrub_metadata();
        let result = sys::scrub_metadata(fd.as_fd(), &mut sm).map(|()| sm.sm_flags).map_err(|e| errno_of(&e));
        let reply = RepairReply::issued(id, result);
        audit(Verdict::Issued, reply.outcome.name(), &reply.audit_result());
        reply
    }
}
