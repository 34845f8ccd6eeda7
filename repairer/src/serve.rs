//! The sealed serving loop: one monitor at a time, every request re-validated and held to the
//! rate limits of `protocol::throttle`, every request and outcome written to the audit log.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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
use xfs_heal_protocol::throttle::{Limits, Line};
use xfs_heal_protocol::{
    Geometry, MonitorToRepairer, Refusal, RepairReply, RepairRequest, RepairerToMonitor,
};

use crate::log;
use crate::mount::{errno_of, Mount, MoveWatch};
use crate::sys;
use crate::systemd::Notifier;
use crate::workers::{Job, Workers};

/// A peer that sends part of a frame and then nothing for this long (5 s) is dropped: it
/// would otherwise hold the one connection slot.
pub const STALL_NS: u64 = 5_000_000_000;

/// A line about a peer's connection, written if its kind's limit allows and counted for the
/// summary if not (`protocol::throttle::Line`): nothing a peer does writes lines unbounded.
macro_rules! limited {
    ($st:ident, $kind:ident, $($arg:tt)*) => {
        if $st.limits.line(Line::$kind, $st.now_ns()) {
            log!($($arg)*)
        }
    };
}

/// One connected, authenticated monitor.
struct Connection {
    fd: OwnedFd,
    /// SO_PEERCRED, as checked when it connected.
    peer: UnixCredentials,
    frames: FrameReader,
    /// Which connection since startup this is: replies of repairs still running when it
    /// closed are not sent to its successor.
    serial: u64,
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
    /// The threads that issue repairs, started before the sandbox closed.
    pub workers: Workers,
}

/// The loop's changing state: the connection, the limits and what they held back.
struct State {
    conn: Option<Connection>,
    counts: Served,
    limits: Limits,
    lookups: Lookups,
    epoch: Instant,
    /// Connections admitted so far.
    admitted: u64,
    /// Repairs given to the workers and not yet answered.
    busy: usize,
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
        let mut st =
            State { conn: None, counts, limits, lookups, epoch: Instant::now(), admitted: 0, busy: 0 };
        loop {
            self.summarise(&mut st, false);
            // While a request is held by the rate limit, or every worker is busy, the
            // connection is not read.
            let reading = st.limits.gate.held_until().is_none() && st.busy < self.workers.count.get();
            let watched: [Option<BorrowedFd>; 4] = [
                Some(self.listener.as_fd()),
                Some(self.workers.wake.as_fd()),
                self.moves.as_ref().map(|w| w.fd.as_fd()),
                st.conn.as_ref().filter(|_| reading).map(|c| c.fd.as_fd()),
            ];
            let mut fds: Vec<PollFd> =
                watched.iter().flatten().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
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
            let mut revents = fds.iter().map(|p| p.revents().is_some_and(|r| !r.is_empty()));
            let [listen_ready, replied, moved, conn_ready] =
                watched.map(|fd| fd.is_some() && revents.next() == Some(true));
            if moved && self.mount_moved() {
                self.summarise(&mut st, true);
                log!("{} was moved to another place (mount --move); exiting, so that this process does not keep the filesystem alive after it is unmounted there. A pair serves one mount point: start xfs-heal for the new one (xfs-heal-monitor@.service, or by hand)", self.mount.path.display());
                return Ok(());
            }
            let (before, replies) = (st.counts, if replied { self.workers.take_replies() } else { vec![] });
            st.busy -= replies.len();
            for (_, reply) in &replies {
                st.counts.count(true);
                st.limits.gate.answered(reply);
            }
            let served = self.service(&mut st, conn_ready, replies);
            if st.counts != before {
                notifier.notify(&st.counts.status(&self.mount.path, crate::DROPS.total()));
            }
            if let Err(reason) = served {
                st.limits.gate.drop_held();
                let pid = st.conn.take().map_or(0, |c| c.peer.pid());
                limited!(st, Connection, "monitor pid {pid} disconnected: {reason}");
                if let Err(why) = self.mount.reopen_verified(self.kernel_health()) {
                    self.summarise(&mut st, true);
                    log!("the filesystem is gone ({}); exiting", why.0);
                    return Ok(());
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

    /// Checks a new peer; if it is the monitor we serve, greets it with `Hello` and the
    /// health fd. A newer connection of the served peer replaces the current one: the
    /// identity checks make them equally trusted, and a peer that connected and fell silent
    /// must not lock the restarted monitor out.
    fn admit(&self, fd: OwnedFd, st: &mut State) {
        let peer: UnixCredentials = match getsockopt(&fd, sockopt::PeerCredentials) {
            Ok(c) => c,
            Err(e) => return limited!(st, Refusal, "refused a connection: SO_PEERCRED failed: {e}"),
        };
        let (pid, uid) = (peer.pid(), peer.uid());
        if let Err(why) = host::check_peer(pid, uid, self.monitor_uid) {
            return limited!(st, Refusal, "{why}");
        }
        if !st.limits.admit(st.now_ns()) {
            return limited!(st, Connection, "closed pid {pid}'s connection unanswered (admission limit)");
        }
        match sys::send_with_fd(fd.as_fd(), &self.hello, self.health.as_fd()) {
            Ok(n) if n == self.hello.len() => {
                if let Some(old) = st.conn.take() {
                    st.limits.gate.drop_held();
                    limited!(st, Connection, "monitor pid {pid} replaces monitor pid {}", old.peer.pid());
                }
                limited!(st, Connection, "monitor pid {pid} uid {uid} connected; handed over the health fd");
                st.admitted += 1;
                st.conn = Some(Connection { fd, peer, frames: FrameReader::new(), serial: st.admitted });
            }
            Ok(n) => limited!(st, Connection, "dropped monitor pid {pid}: Hello cut short after {n} bytes"),
            Err(e) => limited!(st, Connection, "dropped monitor pid {pid}: cannot send Hello: {e}"),
        }
    }

    /// Sends the workers' replies meant for this connection, reads what the monitor sent
    /// (when `readable`) and answers or hands to a worker every complete request the limits
    /// let through, while a worker is free. An error ends the connection; the loop goes on
    /// serving the next.
    fn service(
        &self,
        st: &mut State,
        readable: bool,
        replies: Vec<(u64, RepairReply)>,
    ) -> Result<(), Disconnect> {
        let now = st.now_ns();
        let Some(c) = st.conn.as_mut() else { return Ok(()) };
        for (_, reply) in replies.into_iter().filter(|(serial, _)| *serial == c.serial) {
            send(c, &RepairerToMonitor::Reply(reply))?;
        }
        if readable {
            let mut chunk = [0u8; 4096];
            let read = nix::unistd::read(c.fd.as_fd(), &mut chunk).map_err(std::io::Error::from);
            c.frames.received(read.map(|n| &chunk[..n]))?;
        }
        while st.busy < self.workers.count.get() {
            let frames = &mut c.frames;
            let next = || frames.next::<MonitorToRepairer>(now, STALL_NS).map_err(Disconnect::Stream);
            let reply = match st.limits.gate.pass(now, next)? {
                None => return Ok(()),
                Some(MonitorToRepairer::Repair(request)) => match self.accept_repair(c, request) {
                    Ok(job) => {
                        st.busy += 1;
                        self.workers.give(job);
                        continue;
                    }
                    Err(refused) => {
                        st.counts.count(false);
                        st.limits.gate.answered(&refused);
                        RepairerToMonitor::Reply(refused)
                    }
                },
                Some(MonitorToRepairer::Lookup(r)) => {
                    RepairerToMonitor::Named(self.lookup(c, &mut st.lookups, now, r))
                }
            };
            send(c, &reply)?;
        }
        Ok(())
    }

    /// Names an inode, on the re-verified mount: `protocol::names::Lookups` decides.
    fn lookup(&self, c: &Connection, l: &mut Lookups, now: u64, r: LookupRequest) -> LookupReply {
        let verify = || self.mount.reopen_verified(self.kernel_health()).map_err(|stale| stale.0);
        let call =
            |fd: &OwnedFd, h: &_, b: &mut _| sys::getparents(fd.as_fd(), h, b).map_err(|e| errno_of(&e));
        let (reply, result) = l.answer(now, r, verify, call);
        let verdict = if reply.refused() { Verdict::Refused } else { Verdict::Issued };
        audit(c.peer, r.id.0, Audited::Lookup(&r), verdict, reply.outcome.name(), &result);
        reply
    }

    /// Re-validates one request and proves the filesystem is still the recorded one: a job
    /// for a worker, or the refusal.
    fn accept_repair(&self, c: &Connection, request: RepairRequest) -> Result<Job, RepairReply> {
        let RepairRequest { id, target } = request;
        let refuse = |refusal: Refusal, why: &str| {
            audit(c.peer, id.0, Audited::Repair(&target), Verdict::Refused, "refused", why);
            RepairReply::refused(id, refusal)
        };
        if let Some((refusal, why)) = Refusal::screen(&target, &self.geometry, self.guards) {
            return Err(refuse(refusal, &why));
        }
        match self.mount.reopen_verified(self.kernel_health()) {
            Ok(fd) => Ok(Job { request, fd, peer: c.peer, connection: c.serial }),
            Err(stale) => Err(refuse(Refusal::StaleFilesystem, &format!("ESTALE: {}", stale.0))),
        }
    }
}

/// Writes one message to the monitor.
fn send(c: &Connection, message: &RepairerToMonitor) -> Result<(), Disconnect> {
    let frame = codec::encode(message).map_err(Disconnect::Encode)?;
    Disconnect::after_write(frame.len(), nix::unistd::write(&c.fd, &frame).map_err(Into::into))
}

/// One line per request, also the journal's structured audit record.
pub fn audit(
    peer: UnixCredentials,
    request: u64,
    target: Audited,
    verdict: Verdict,
    outcome: &str,
    result: &str,
) {
    let record =
        Audit { peer_pid: peer.pid(), peer_uid: peer.uid(), request, target, verdict, outcome, result };
    crate::log_entry(record.priority(), &record.message(), |entry| record.fields(entry));
}
