//! The live loop: one thread, one poll over the health fd and the repairer socket. Events
//! are drained as fast as they come (reading never waits on a repair); decisions are the
//! engine's; one request is in flight at a time.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use xfs_heal_protocol::names::Naming;
use xfs_heal_protocol::{EventSource, Hello, MonitorToRepairer, RepairerToMonitor};

use crate::client::Connection;
use crate::decode::v0::V0Decoder;
use crate::engine::Engine;
use crate::event::EventKind;
use crate::fullcheck::Trigger;
use crate::journal::Journal;
use crate::metrics::{Metrics, TextFile};
use crate::names::Namer;
use crate::report::{Format, Report};

/// How reports are printed.
#[derive(Debug)]
pub struct Output<W: Write> {
    pub out: W,
    pub label: String,
    pub format: Format,
    pub quiet: bool,
    /// Under systemd: entries with structured fields instead of plain lines on `out`.
    pub journal: Option<Journal>,
    /// Counts for the metrics file, kept from every report that passes here.
    pub metrics: Option<Metrics>,
}

impl<W: Write> Output<W> {
    pub fn say(&mut self, report: &Report) {
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.on_report(report, now_ns);
        }
        if self.quiet && report.is_routine() {
            return;
        }
        if self.journal.as_ref().is_some_and(|j| j.send(report, &self.label, self.format)) {
            return;
        }
        // A closed stdout must not stop repairs; the journal is the usual reader.
        let _ = writeln!(self.out, "{}", report.render(&self.label, self.format));
    }
    fn say_all(&mut self, reports: Vec<Report>) {
        for r in &reports {
            self.say(r);
        }
    }
}

/// Non-blocking reads, so a drained queue ends a read burst instead of blocking the loop.
pub fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

/// Nanoseconds on a monotonic clock: when a report stops waiting for its name.
fn mono_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Most bytes read from the health fd per wake-up, so replies are not starved in a storm.
const READ_BURST: usize = 1 << 20;
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// With a file as the event source, how long to finish queued repairs after its end.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Everything the loop owns.
#[derive(Debug)]
pub struct Live<W: Write> {
    pub socket: PathBuf,
    /// The mount this monitor serves: a Hello for any other is refused.
    pub mountpoint: PathBuf,
    pub conn: Option<Connection>,
    pub health: OwnedFd,
    pub hello: Hello,
    pub engine: Engine,
    pub output: Output<W>,
    pub everything: bool,
    /// systemd's trigger of the full online check, if it passed one.
    pub full_check: Option<Trigger>,
    /// Reports about an inode wait here for its name.
    pub names: Namer,
    /// Where the metrics go, if anywhere.
    pub textfile: Option<TextFile>,
}

impl<W: Write> Live<W> {
    /// Runs until the events end (EOF or UNMOUNT) and, for a file source, queued repairs
    /// are answered.
    pub fn run(mut self) -> W {
        let mut decoder = V0Decoder::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut ended: Option<Instant> = None;
        let mut reconnect_at: Option<Instant> = None;
        let mut backoff = Duration::from_millis(100);
        let drain = self.hello.event_source == EventSource::File;
        loop {
            let now = now_ns();
            while let Some(conn) = self.conn.as_mut() {
                let Some(req) = self.engine.next_request(now) else { break };
                if let Err(e) = conn.request_repair(req) {
                    self.lost_connection(&format!("cannot send a request: {e}"), &mut reconnect_at, backoff);
                }
            }
            self.engine.tick(now);
            if self.engine.take_full_check_request() {
                let asked = self.full_check.as_ref().map_or(Err(Errno::EBADF), Trigger::request);
                if let Err(e) = asked {
                    self.engine.full_check_unavailable(format!("writing its trigger failed: {e}"));
                }
            }
            self.report();
            self.write_metrics();
            let _ = self.output.out.flush();
            if let Some(at) = ended {
                if !drain || !(self.engine.busy() || self.names.waiting()) {
                    break;
                }
                if at.elapsed() > DRAIN_LIMIT {
                    self.output
                        .say(&Report::Status("the repairer did not answer the last repairs in time".into()));
                    break;
                }
            }

            let timeout = reconnect_at
                .map_or(Duration::from_secs(1), |at| at.saturating_duration_since(Instant::now()));
            let (health_ready, conn_ready, notices_ready) = {
                let mut fds = Vec::with_capacity(3);
                if let Some(t) = &self.full_check {
                    fds.push(PollFd::new(t.notices_fd(), PollFlags::POLLIN));
                }
                let first = fds.len();
                if ended.is_none() {
                    fds.push(PollFd::new(self.health.as_fd(), PollFlags::POLLIN));
                }
                if let Some(c) = &self.conn {
                    fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
                }
                let ms = u16::try_from(timeout.as_millis()).unwrap_or(1000).min(1000);
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => {
                        self.output.say(&Report::Status(format!("poll failed: {e}; stopping")));
                        break;
                    }
                }
                let ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
                let notices = first == 1 && fds.first().is_some_and(ready);
                let health = ended.is_none() && fds.get(first).is_some_and(ready);
                let conn = self.conn.is_some() && fds.last().is_some_and(ready);
                (health, conn, notices)
            };

            if notices_ready {
                self.read_notices();
            }
            if health_ready && self.read_events(&mut decoder, &mut buf) {
                ended = Some(Instant::now());
            }
            if conn_ready {
                let result = self.conn.as_mut().map(Connection::read_replies);
                match result {
                    Some(Ok(replies)) => {
                        let now = now_ns();
                        for r in replies {
                            match r {
                                RepairerToMonitor::Reply(r) => self.engine.on_reply(r, now),
                                RepairerToMonitor::Named(r) => {
                                    let ready = self.names.on_named(r, mono_ns());
                                    self.output.say_all(ready);
                                }
                                RepairerToMonitor::Hello(_) => {}
                            }
                        }
                    }
                    Some(Err(e)) => self.lost_connection(&e.to_string(), &mut reconnect_at, backoff),
                    None => {}
                }
            }
            if reconnect_at.is_some_and(|at| Instant::now() >= at) {
                if self.reconnect() {
                    reconnect_at = None;
                    backoff = Duration::from_millis(100);
                } else {
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                    reconnect_at = Some(Instant::now() + backoff);
                }
            }
        }
        if let Err(t) = decoder.finish() {
            self.output.say(&Report::Truncated(t));
        }
        self.engine.finish();
        self.report();
        let rest = self.names.unanswered(u64::MAX);
        self.output.say_all(rest);
        // Only a clean end (the filesystem unmounted, the capture over) removes the file:
        // otherwise it goes stale, as a dead monitor's would.
        if let (Some(file), Some(_)) = (&self.textfile, ended) {
            let line = match file.remove() {
                Ok(()) => format!("metrics: removed {} (written {} times)", file.name(), file.writes()),
                Err(e) => format!("metrics: cannot remove {}: {e}", file.name()),
            };
            self.output.say(&Report::Status(line));
        }
        let _ = self.output.out.flush();
        self.output.out
    }

    /// Writes the metrics file when it is due (`TextFile::due`).
    fn write_metrics(&mut self) {
        let (Some(file), Some(metrics)) = (self.textfile.as_mut(), self.output.metrics.as_mut()) else {
            return;
        };
        metrics.set_connected(self.conn.is_some());
        let now = Instant::now();
        if file.due(metrics.changed(), now) {
            if let Some(line) = file.write(metrics, now) {
                self.output.say(&Report::Status(line));
            }
        }
    }

    /// The engine's reports, through the naming stage, to the output; its lookups to the
    /// repairer. Without a connection to send them on, the waiting reports go out unnamed.
    fn report(&mut self) {
        let now = mono_ns();
        let ready = self.names.pass(self.engine.take_reports(), now);
        self.output.say_all(ready);
        let asked = self.names.take_requests();
        if asked.is_empty() {
            return;
        }
        let sent = match self.conn.as_mut() {
            Some(conn) => {
                asked.into_iter().try_for_each(|r| conn.send(&MonitorToRepairer::Lookup(r)).map_err(drop))
            }
            None => Err(()),
        };
        if sent.is_err() {
            let unnamed = self.names.unanswered(now);
            self.output.say_all(unnamed);
        }
    }

    /// Hands the full check's notices to the engine; a failing FIFO is given up.
    fn read_notices(&mut self) {
        let Some(trigger) = self.full_check.as_mut() else { return };
        let engine = &mut self.engine;
        if let Err(e) = trigger.read_notices(|n| engine.on_full_check_notice(n)) {
            self.output
                .say(&Report::Status(format!("reading the full check's notices failed: {e}; ignoring them")));
            self.full_check = None;
        }
        self.report();
    }

    /// Drains the health fd; true when the events have ended (EOF or UNMOUNT).
    fn read_events(&mut self, decoder: &mut V0Decoder, buf: &mut [u8]) -> bool {
        let mut total = 0;
        while total < READ_BURST {
            let n = match nix::unistd::read(self.health.as_fd(), buf) {
                Ok(0) => return true,
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => return false,
                Err(e) => {
                    self.output.say(&Report::Status(format!("reading events failed: {e}; stopping")));
                    return true;
                }
            };
            total += n;
            let now = now_ns();
            let mut unmounted = false;
            let (engine, metrics) = (&mut self.engine, &mut self.output.metrics);
            decoder.feed(&buf[..n], |r| match r {
                // Nothing follows an unmount; whatever else the read returned is ignored.
                _ if unmounted => {}
                Ok(event) => {
                    unmounted = event.kind == EventKind::Unmount;
                    if let Some(m) = metrics.as_mut() {
                        m.on_event(&event);
                    }
                    engine.on_event(&event, now);
                }
                Err(e) => {
                    if let Some(m) = metrics.as_mut() {
                        m.on_invalid_record();
                    }
                    engine.on_invalid_record(e, now);
                }
            });
            // Print as we go: a burst's reports never pile up in memory.
            self.report();
            if unmounted {
                return true;
            }
        }
        false
    }

    fn lost_connection(&mut self, why: &str, reconnect_at: &mut Option<Instant>, backoff: Duration) {
        self.output.say(&Report::Status(format!("lost the repairer connection ({why}); reconnecting")));
        self.conn = None;
        self.engine.on_disconnect(now_ns());
        let unnamed = self.names.unanswered(mono_ns());
        self.output.say_all(unnamed);
        *reconnect_at = Some(Instant::now() + backoff);
    }

    /// One reconnect attempt. The re-sent fd replaces ours only if it is another object:
    /// for the same queue we keep reading where we are.
    fn reconnect(&mut self) -> bool {
        match Connection::open(&self.socket, &self.mountpoint) {
            Ok((conn, hello, fd)) => {
                // A re-sent fd for the same queue (same object) keeps the position of the one
                // already held, so no event is read twice.
                let resent = crate::sys::fd_identity(fd.as_fd());
                let same = resent.is_some() && resent == crate::sys::fd_identity(self.health.as_fd());
                if !same {
                    let _ = set_nonblocking(&fd);
                    if self.everything && hello.event_source == EventSource::KernelMonitor {
                        let _ = crate::sys::reconfigure_monitor(fd.as_fd(), true);
                    }
                    self.health = fd;
                }
                // The mount ID is the repairer's own copy's, new at each start: not compared.
                if (hello.uuid, hello.identity.root) != (self.hello.uuid, self.hello.identity.root) {
                    self.output.say(&Report::Status(format!(
                        "the repairer now serves {} (was {})",
                        hello.identity, self.hello.identity
                    )));
                }
                self.names.set_on(hello.names == Naming::On);
                self.hello = hello;
                self.conn = Some(conn);
                let kept =
                    if same { "kept reading the same event queue" } else { "switched to the new event fd" };
                self.output.say(&Report::Status(format!("reconnected to the repairer; {kept}")));
                true
            }
            Err(e) => {
                // A wrong peer is worth a line each time; a repairer still starting is not.
                if !matches!(e, crate::client::ClientError::Connect(_)) {
                    self.output.say(&Report::Status(format!("reconnecting: {e}")));
                }
                false
            }
        }
    }
}
