//! The repairer's rate limits, as arithmetic on a monotonic clock the caller reads
//! (nanoseconds), so each limit is tested here without sleeping.
//!
//! A request over its limit is not refused: the repairer stops reading that connection until
//! a token is due, so a flood backs up into the sender's socket buffer and the ioctl rate
//! stays bounded. Log lines over their limit are counted and summarised instead.

use crate::{Errno, MonitorToRepairer, RepairOutcome, RepairReply, RepairTarget, RequestId, Scope};

/// A token bucket's shape: up to `burst` at once, then one every `every_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every_ns: u64,
}

const MS: u64 = 1_000_000;

/// Every repair request. An escalation sweep of a large filesystem (every AG structure, ten
/// per AG) stays well inside this; 49,000 requests in three seconds does not.
pub const REQUESTS: Rate = Rate { burst: 64, every_ns: 10 * MS };
/// Whole-filesystem scrubs (fscounters, quotacheck, nlinks, ...) walk every inode: the eight
/// kinds a sweep asks for at once, then one every two seconds.
pub const WHOLE_FS_REQUESTS: Rate = Rate { burst: 8, every_ns: 2_000 * MS };
/// Inode repairs the kernel answered ENOENT or ESTALE: a generation that is not the inode's
/// (or an inode that is not there). Such answers would make repair requests an oracle for
/// generations, so they draw from a bucket shaped as failed name lookups draw from theirs
/// (`names::FAILED_LOOKUPS`): 32 at once, then ten a second. A token is taken when an inode
/// repair is admitted and given back when its answer is anything else, so the bound is
/// exact however many workers run, and a real repair never keeps one.
pub const INODE_MISSES: Rate = crate::names::FAILED_LOOKUPS;
/// Lines naming one refused connection each: ten a minute, the rest counted.
pub const REFUSAL_LINES: Rate = Rate { burst: 10, every_ns: 6_000 * MS };
/// Lines about the served peer's connections (connected, replaced, disconnected): twenty at
/// once, so a restart or two is told in full, then ten a minute, the rest counted.
pub const CONNECTION_LINES: Rate = Rate { burst: 20, every_ns: 6_000 * MS };
/// Connections of the served peer greeted (a `Hello` and a health fd each): sixteen at once,
/// then four a second. One over it is closed at once, with no Hello and no fd sent, and
/// counted. A monitor reconnects with a backoff from 100 ms and never comes close; a connect
/// loop costs the repairer an accept and a close, writes no line of its own and leaves no fd
/// in flight. Refused peers draw nothing from it, so they cannot lock the monitor out.
pub const ADMISSIONS: Rate = Rate { burst: 16, every_ns: 250 * MS };
/// How long after the first held-back item its summary line is written.
pub const SUMMARY_AFTER_NS: u64 = 60_000 * MS;

/// The limits a request is subject to: all requests; whole-filesystem ones again; inode
/// ones against what their misses may cost.
pub fn classes(target: &RepairTarget) -> &'static [Class] {
    match target.scope() {
        Scope::Fs => &[Class::Request, Class::WholeFs],
        Scope::Inode => &[Class::Request, Class::InodeMiss],
        Scope::Ag | Scope::RtGroup => &[Class::Request],
    }
}

/// The limits a message is subject to: a lookup is one request.
pub fn message_classes(message: &MonitorToRepairer) -> &'static [Class] {
    match message {
        MonitorToRepairer::Repair(request) => classes(&request.target),
        MonitorToRepairer::Lookup(_) => &[Class::Request],
    }
}

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    WholeFs,
    /// Held for an inode repair until its answer says it was not a miss ([`INODE_MISSES`]).
    InodeMiss,
}

/// A token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    tokens: u32,
    stamp_ns: u64,
}

impl Bucket {
    /// A full bucket at `now_ns`.
    pub const fn full(rate: Rate, now_ns: u64) -> Self {
        Self { rate, tokens: rate.burst, stamp_ns: now_ns }
    }

    fn refill(&mut self, now_ns: u64) {
        let due = now_ns.saturating_sub(self.stamp_ns) / self.rate.every_ns.max(1);
        if due == 0 {
            return;
        }
        let room = u64::from(self.rate.burst - self.tokens);
        if due >= room {
            self.tokens = self.rate.burst;
            self.stamp_ns = now_ns;
        } else {
            // `due < room <= burst`, so it fits in a u32.
            self.tokens += u32::try_from(due).unwrap_or(0);
            self.stamp_ns += due * self.rate.every_ns;
        }
    }

    /// Whether a token is there now; if not, how long until one is.
    pub fn check(&mut self, now_ns: u64) -> Result<(), u64> {
        self.refill(now_ns);
        if self.tokens > 0 {
            Ok(())
        } else {
            Err((self.stamp_ns + self.rate.every_ns).saturating_sub(now_ns).max(1))
        }
    }

    /// Takes a token if one is there; if not, says how long until one is.
    pub fn take(&mut self, now_ns: u64) -> Result<(), u64> {
        self.check(now_ns)?;
        self.tokens -= 1;
        Ok(())
    }

    /// Gives back a token taken for something that turned out not to cost one.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1).min(self.rate.burst);
    }
}

/// The repairer's request buckets.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    requests: Bucket,
    whole_fs: Bucket,
    inode_misses: Bucket,
}

impl RequestLimits {
    pub const fn new(now_ns: u64) -> Self {
        Self {
            requests: Bucket::full(REQUESTS, now_ns),
            whole_fs: Bucket::full(WHOLE_FS_REQUESTS, now_ns),
            inode_misses: Bucket::full(INODE_MISSES, now_ns),
        }
    }

    fn bucket(&mut self, class: Class) -> &mut Bucket {
        match class {
            Class::Request => &mut self.requests,
            Class::WholeFs => &mut self.whole_fs,
            Class::InodeMiss => &mut self.inode_misses,
        }
    }

    /// Admits `target` now (taking a token from each of its buckets), or says how long to
    /// wait; nothing is taken unless every bucket has a token.
    pub fn admit(&mut self, classes: &[Class], now_ns: u64) -> Result<(), u64> {
        let wait = classes.iter().filter_map(|c| self.bucket(*c).check(now_ns).err()).max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for c in classes {
            // Each had a token a moment ago, at the same `now_ns`.
            let _ = self.bucket(*c).take(now_ns);
        }
        Ok(())
    }
}

/// The repairer's request gate: a request the limits do not let through now is held (with
/// the time it may go), and the connection is not read meanwhile, so a flood backs up into
/// the sender's socket buffer. Held requests are counted for the summary.
#[derive(Debug, Clone)]
pub struct Gate {
    limits: RequestLimits,
    held: Option<(MonitorToRepairer, u64)>,
    /// Inode repairs let through and not yet answered, each holding an [`INODE_MISSES`] token.
    inode_out: Vec<RequestId>,
    /// Requests held back since the last summary.
    pub tally: Tally,
}

impl Gate {
    pub const fn new(now_ns: u64) -> Self {
        Self {
            limits: RequestLimits::new(now_ns),
            held: None,
            inode_out: Vec::new(),
            tally: Tally { count: 0, first_ns: None },
        }
    }

    /// Every answer to a repair request passes here: an inode repair's token is given back
    /// unless the kernel answered ENOENT or ESTALE (a miss: it stays spent).
    pub fn answered(&mut self, reply: &RepairReply) {
        let Some(at) = self.inode_out.iter().position(|id| *id == reply.id) else { return };
        self.inode_out.swap_remove(at);
        if !matches!(reply.outcome, RepairOutcome::KernelError(Errno::ENOENT | Errno::ESTALE)) {
            self.limits.inode_misses.give_back();
        }
    }

    /// The request to serve now: the held one once it is due, else `next()` if the limits
    /// let it through (otherwise it is held). `None`: nothing to serve now.
    pub fn pass<E>(
        &mut self,
        now_ns: u64,
        next: impl FnOnce() -> Result<Option<MonitorToRepairer>, E>,
    ) -> Result<Option<MonitorToRepairer>, E> {
        let request = match self.held.take() {
            Some((request, at)) if at <= now_ns => request,
            Some(held) => {
                self.held = Some(held);
                return Ok(None);
            }
            None => match next()? {
                Some(request) => request,
                None => return Ok(None),
            },
        };
        match self.limits.admit(message_classes(&request), now_ns) {
            Ok(()) => {
                if let MonitorToRepairer::Repair(r) = &request {
                    if r.target.scope() == Scope::Inode {
                        self.inode_out.push(r.id);
                    }
                }
                Ok(Some(request))
            }
            Err(wait) => {
                self.held = Some((request, now_ns.saturating_add(wait)));
                self.tally.add(now_ns);
                Ok(None)
            }
        }
    }

    /// When the held request may go, if one is held.
    pub fn held_until(&self) -> Option<u64> {
        self.held.as_ref().map(|(_, at)| *at)
    }

    /// Forgets the held request (its connection is gone). Repairs already given to the
    /// workers keep their tokens until their answers come back, sent or not.
    pub fn drop_held(&mut self) {
        self.held = None;
    }
}

/// The log lines a peer's connections cause, each kind with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A connection refused (wrong uid, no credentials).
    Refusal,
    /// The served peer connected, was replaced, disconnected, or could not be greeted.
    Connection,
}

/// Every limit of the repairer's serving loop, on one clock. Together they bound every line a
/// peer can make the repairer write ([`Limits::max_lines_in`]); audit lines, one per request,
/// are bounded by the request limit, so nothing a peer does can crowd them out of a journal
/// whose rate limit is above that bound.
#[derive(Debug, Clone)]
pub struct Limits {
    pub gate: Gate,
    admissions: Bucket,
    refusal_lines: Bucket,
    refusals_unlogged: Tally,
    connection_lines: Bucket,
    connections_unlogged: Tally,
}

impl Limits {
    pub const fn new(now_ns: u64) -> Self {
        Self {
            gate: Gate::new(now_ns),
            admissions: Bucket::full(ADMISSIONS, now_ns),
            refusal_lines: Bucket::full(REFUSAL_LINES, now_ns),
            refusals_unlogged: Tally { count: 0, first_ns: None },
            connection_lines: Bucket::full(CONNECTION_LINES, now_ns),
            connections_unlogged: Tally { count: 0, first_ns: None },
        }
    }

    /// The most lines of every kind the repairer writes in `secs` seconds: every burst, then
    /// each rate, plus one summary of each kind per minute begun, and one audit line per
    /// request the request limit admits (a lookup is a request). A journal whose rate limit is
    /// above this never drops an audit line on our account.
    pub const fn max_lines_in(secs: u64) -> u64 {
        let ns = secs * 1_000 * MS;
        let minutes = secs.div_ceil(60);
        let audit = REQUESTS.burst as u64 + ns / REQUESTS.every_ns;
        let refusals = REFUSAL_LINES.burst as u64 + ns / REFUSAL_LINES.every_ns;
        let connections = CONNECTION_LINES.burst as u64 + ns / CONNECTION_LINES.every_ns;
        audit + refusals + connections + 3 * minutes
    }

    /// Whether a connection of the served peer is greeted now (taking a token), or closed.
    pub fn admit(&mut self, now_ns: u64) -> bool {
        self.admissions.take(now_ns).is_ok()
    }

    /// Whether a line of `kind` is written now; if not, it is counted for the summary.
    pub fn line(&mut self, kind: Line, now_ns: u64) -> bool {
        let (bucket, unlogged) = match kind {
            Line::Refusal => (&mut self.refusal_lines, &mut self.refusals_unlogged),
            Line::Connection => (&mut self.connection_lines, &mut self.connections_unlogged),
        };
        let ok = bucket.take(now_ns).is_ok();
        if !ok {
            unlogged.add(now_ns);
        }
        ok
    }

    /// The summaries due now (all of them with `force`): refusals and connection lines not
    /// written one by one, and requests held back.
    pub fn summaries(&mut self, now_ns: u64, force: bool) -> [Option<u64>; 3] {
        [
            self.refusals_unlogged.take_due(now_ns, force),
            self.connections_unlogged.take_due(now_ns, force),
            self.gate.tally.take_due(now_ns, force),
        ]
    }

    /// [`Limits::summaries`] as the repairer's log lines.
    pub fn summary_lines(&mut self, now_ns: u64, force: bool) -> Vec<String> {
        let [refused, connections, held] = self.summaries(now_ns, force);
        let refused = refused.map(|n| {
            format!("refused {n} more connections in the last minute without a line each (rate limit)")
        });
        let connections = connections.map(|n| {
            format!("{n} more connection lines (connected, replaced, disconnected) in the last minute were counted, not written (rate limit)")
        });
        let held = held.map(|n| {
            format!("rate limit: {n} repair requests were held back in the last minute before being served")
        });
        refused.into_iter().chain(connections).chain(held).collect()
    }

    /// How long the loop may sleep in poll(2), in whole milliseconds rounded up so that it
    /// never wakes before the deadline: until the earliest of [`Limits::deadline`] and
    /// `other` (a partial frame's timeout). `None`: until input arrives.
    pub fn sleep_ms(&self, now_ns: u64, other: Option<u64>) -> Option<u64> {
        let at = self.deadline().into_iter().chain(other).min()?;
        Some(at.saturating_sub(now_ns).div_ceil(1_000_000))
    }

    /// The earliest moment the loop must act without input: a held request, a summary.
    pub fn deadline(&self) -> Option<u64> {
        [
            self.gate.held_until(),
            self.refusals_unlogged.due_at(),
            self.connections_unlogged.due_at(),
            self.gate.tally.due_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Counts items held back by a limit and says when their summary is due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    count: u64,
    first_ns: Option<u64>,
}

impl Tally {
    pub fn add(&mut self, now_ns: u64) {
        self.count += 1;
        self.first_ns.get_or_insert(now_ns);
    }

    /// When the summary is due, if anything is counted.
    pub fn due_at(&self) -> Option<u64> {
        self.first_ns.map(|t| t + SUMMARY_AFTER_NS)
    }

    /// The count to report, once due (or at once with `force`); the tally starts again.
    pub fn take_due(&mut self, now_ns: u64, force: bool) -> Option<u64> {
        let due = self.due_at().is_some_and(|at| force || now_ns >= at);
        due.then(|| std::mem::take(self).count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgNumber, AgScrub, FsScrub, RepairRequest};

    const S: u64 = 1_000 * MS;

    #[test]
    fn a_bucket_gives_its_burst_then_one_per_interval() {
        let rate = Rate { burst: 3, every_ns: 10 };
        let mut b = Bucket::full(rate, 1000);
        assert_eq!((0..3).map(|_| b.take(1000)).collect::<Vec<_>>(), vec![Ok(()); 3]);
        assert_eq!(b.take(1000), Err(10));
        assert_eq!(b.take(1004), Err(6));
        assert_eq!(b.take(1010), Ok(()));
        assert_eq!(b.take(1019), Err(1));
        // A long pause refills to the burst, never beyond it.
        assert_eq!((0..4).map(|_| b.take(5000)).collect::<Vec<_>>(), vec![Ok(()), Ok(()), Ok(()), Err(10)]);
    }

    #[test]
    fn a_refill_keeps_the_fraction_of_an_interval_already_served() {
        let mut b = Bucket::full(Rate { burst: 2, every_ns: 10 }, 0);
        assert!(b.take(0).is_ok() && b.take(0).is_ok());
        // 15 ns later one token is due and half of the next interval has passed.
        assert_eq!(b.take(15), Ok(()));
        assert_eq!(b.take(15), Err(5));
        assert_eq!(b.take(20), Ok(()));
    }

    #[test]
    fn a_flood_of_requests_is_held_to_the_documented_rate() {
        let agi = RepairTarget::Ag { agno: AgNumber::try_from(0).unwrap(), kind: AgScrub::Agi };
        let mut limits = RequestLimits::new(0);
        // Three seconds of a sender that never waits: the burst plus one per interval.
        let mut admitted = 0u64;
        let mut now = 0;
        while now <= 3 * S {
            match limits.admit(classes(&agi), now) {
                Ok(()) => admitted += 1,
                Err(wait) => now += wait,
            }
        }
        assert_eq!(admitted, u64::from(REQUESTS.burst) + 3 * S / REQUESTS.every_ns);
    }

    #[test]
    fn whole_filesystem_scrubs_have_their_own_tighter_limit() {
        let nlinks = RepairTarget::Fs { kind: FsScrub::NLinks };
        let agi = RepairTarget::Ag { agno: AgNumber::try_from(0).unwrap(), kind: AgScrub::Agi };
        let mut limits = RequestLimits::new(0);
        for _ in 0..WHOLE_FS_REQUESTS.burst {
            assert_eq!(limits.admit(classes(&nlinks), 0), Ok(()));
        }
        assert_eq!(limits.admit(classes(&nlinks), 0), Err(WHOLE_FS_REQUESTS.every_ns));
        // Group-level requests still go through, and the refusal took no token from them.
        let left = REQUESTS.burst - WHOLE_FS_REQUESTS.burst;
        for _ in 0..left {
            assert_eq!(limits.admit(classes(&agi), 0), Ok(()));
        }
        assert_eq!(limits.admit(classes(&agi), 0), Err(REQUESTS.every_ns));
        assert_eq!(limits.admit(classes(&nlinks), WHOLE_FS_REQUESTS.every_ns), Ok(()));
    }

    #[test]
    fn the_gate_holds_what_the_limits_refuse_and_releases_it_when_due() {
        let nlinks = |id| {
            MonitorToRepairer::Repair(RepairRequest {
                id: crate::RequestId(id),
                target: RepairTarget::Fs { kind: FsScrub::NLinks },
            })
        };
        let mut gate = Gate::new(0);
        let pulled = std::cell::Cell::new(0);
        let next = |id| {
            pulled.set(pulled.get() + 1);
            Ok::<_, ()>(Some(nlinks(id)))
        };
        for id in 0..u64::from(WHOLE_FS_REQUESTS.burst) {
            assert_eq!(gate.pass(0, || next(id)), Ok(Some(nlinks(id))));
        }
        assert_eq!(gate.pass(0, || next(99)), Ok(None));
        assert_eq!(gate.held_until(), Some(WHOLE_FS_REQUESTS.every_ns));
        // While one is held, nothing more is pulled from the connection.
        assert_eq!(gate.pass(1, || next(100)), Ok(None));
        assert_eq!(gate.pass(WHOLE_FS_REQUESTS.every_ns, || next(101)), Ok(Some(nlinks(99))));
        assert_eq!(pulled.get(), WHOLE_FS_REQUESTS.burst + 1);
        assert_eq!(gate.tally.take_due(0, true), Some(1));
        gate.pass(WHOLE_FS_REQUESTS.every_ns, || next(7)).unwrap();
        gate.drop_held();
        assert_eq!(gate.held_until(), None);
    }

    #[test]
    fn a_lookup_draws_one_request_token() {
        let lookup = MonitorToRepairer::Lookup(crate::names::LookupRequest {
            id: crate::RequestId(1),
            ino: crate::InodeNumber::try_from(131).unwrap(),
            gen: 7,
        });
        assert_eq!(message_classes(&lookup), [Class::Request]);
        let fs = MonitorToRepairer::Repair(RepairRequest {
            id: crate::RequestId(2),
            target: RepairTarget::Fs { kind: FsScrub::NLinks },
        });
        assert_eq!(message_classes(&fs), [Class::Request, Class::WholeFs]);
    }

    #[test]
    fn the_loop_limits_log_ten_refusals_a_minute_and_say_when_to_wake() {
        let mut l = Limits::new(0);
        assert_eq!(l.deadline(), None);
        let lines = (0..25).filter(|_| l.line(Line::Refusal, S)).count();
        assert_eq!(lines, 10);
        assert_eq!(l.deadline(), Some(S + SUMMARY_AFTER_NS));
        // The sleep rounds up to whole milliseconds and takes the earlier deadline.
        assert_eq!(l.sleep_ms(S, None), Some(SUMMARY_AFTER_NS / 1_000_000));
        assert_eq!(l.sleep_ms(S + SUMMARY_AFTER_NS - 1, None), Some(1));
        assert_eq!(l.sleep_ms(S, Some(S + 1_500_001)), Some(2));
        assert_eq!(l.sleep_ms(S + SUMMARY_AFTER_NS + 5, Some(S)), Some(0), "past due: no sleep");
        assert_eq!(Limits::new(0).sleep_ms(S, None), None);
        assert_eq!(Limits::new(0).sleep_ms(S, Some(S + 3_000_000)), Some(3));
        assert_eq!(l.summaries(S, false), [None, None, None]);
        assert_eq!(
            l.summary_lines(S + SUMMARY_AFTER_NS, false),
            ["refused 15 more connections in the last minute without a line each (rate limit)"]
        );
        assert_eq!(l.deadline(), None);
        assert!(l.line(Line::Refusal, S + SUMMARY_AFTER_NS), "a minute later, lines again");
    }

    #[test]
    fn connection_lines_have_their_own_limit_and_summary() {
        let mut l = Limits::new(0);
        let written = (0..1_000).filter(|_| l.line(Line::Connection, S)).count();
        assert_eq!(written, usize::try_from(CONNECTION_LINES.burst).unwrap());
        // Refusals are not charged for what connections spent.
        assert!(l.line(Line::Refusal, S));
        // Ten a minute after the burst.
        let later = (1..=60).filter(|i| l.line(Line::Connection, S + i * S)).count();
        assert_eq!(later, 10);
        assert_eq!(
            l.summary_lines(S + SUMMARY_AFTER_NS, false),
            ["1030 more connection lines (connected, replaced, disconnected) in the last minute were counted, not written (rate limit)"]
        );
    }

    #[test]
    fn admissions_give_their_burst_then_four_a_second() {
        let mut l = Limits::new(0);
        let greeted = (0..1_000).filter(|_| l.admit(S)).count();
        assert_eq!(greeted, usize::try_from(ADMISSIONS.burst).unwrap());
        assert!(!l.admit(S + ADMISSIONS.every_ns - 1));
        assert!(l.admit(S + ADMISSIONS.every_ns), "and refills at its rate");
        // A connect loop for ten seconds (one every 100 us, from a full bucket) is greeted
        // the burst, then once every 250 ms: 39 more before the ten seconds are up.
        let mut l = Limits::new(0);
        let greeted = (0..100_000u64).filter(|i| l.admit(S + i * 100_000)).count();
        assert_eq!(greeted, usize::try_from(ADMISSIONS.burst).unwrap() + 39);
        assert_eq!(l.deadline(), None, "closing over the limit needs no wake-up");
    }

    #[test]
    fn inode_repairs_answered_enoent_or_estale_draw_from_the_miss_bucket_and_others_give_back() {
        use crate::{InodeNumber, InodeScrub};
        let inode = |id: u64| {
            let target = RepairTarget::Inode {
                ino: InodeNumber::try_from(131).unwrap(),
                gen: u32::try_from(id).unwrap(),
                kind: InodeScrub::Directory,
            };
            MonitorToRepairer::Repair(RepairRequest { id: RequestId(id), target })
        };
        let miss = |id: u64, errno| RepairReply {
            id: RequestId(id),
            outcome: RepairOutcome::KernelError(errno),
            oflags: crate::ScrubOutFlags::NONE,
        };
        // Guessing generations: every answer a miss. 32 at once, then ten a second, however
        // the request limit (64, 100/s) would allow more.
        let mut g = Gate::new(0);
        let (mut answered, mut now, mut id) = (0u64, 0u64, 0u64);
        while now < 10 * S {
            match g.pass(now, || Ok::<_, ()>(Some(inode(id)))).unwrap() {
                Some(_) => {
                    let errno = if id % 2 == 0 { Errno::ENOENT } else { Errno::ESTALE };
                    g.answered(&miss(id, errno));
                    answered += 1;
                    id += 1;
                }
                None => now = g.held_until().unwrap(),
            }
        }
        // The burst, then one every 100 ms before the ten seconds are up (99 of them).
        assert_eq!(answered, u64::from(INODE_MISSES.burst) + 10 * S / INODE_MISSES.every_ns - 1);
        // Real repairs (or any other answer) give their token back: 1,000 in a row pass at
        // the request limit, not the miss limit.
        let mut g = Gate::new(0);
        let mut passed = 0;
        for id in 0..1_000u64 {
            let t = id * 10 * MS;
            if g.pass(t, || Ok::<_, ()>(Some(inode(id)))).unwrap().is_some() {
                g.answered(&RepairReply::issued(RequestId(id), Ok(0)));
                passed += 1;
            }
        }
        assert!(passed >= 990, "{passed}");
        // Tokens of requests in flight are held: only 32 inode repairs out at once.
        let mut g = Gate::new(0);
        let out =
            (0..100u64).filter(|id| g.pass(S, || Ok::<_, ()>(Some(inode(*id)))).unwrap().is_some()).count();
        assert_eq!(out, usize::try_from(INODE_MISSES.burst).unwrap());
        // An answer to an id never let through gives nothing back...
        g.answered(&RepairReply::issued(RequestId(5_000), Ok(0)));
        assert!(g.pass(S, || Ok::<_, ()>(Some(inode(200)))).unwrap().is_none(), "held");
        g.drop_held();
        // ... and a refusal of one that was gives its token back: the next goes at once.
        g.answered(&RepairReply::refused(RequestId(3), crate::Refusal::StaleFilesystem));
        assert!(g.pass(S, || Ok::<_, ()>(Some(inode(201)))).unwrap().is_some());
    }

    #[test]
    fn every_line_a_peer_causes_stays_under_journalds_default_rate_limit() {
        // journald drops a unit's lines over 10,000 in 30 s by default; the repairer's unit
        // sets that limit explicitly (LogRateLimitBurst=), and this is what it must exceed.
        assert_eq!(Limits::max_lines_in(30), 64 + 3_000 + 10 + 5 + 20 + 5 + 3);
        assert!(Limits::max_lines_in(30) < 10_000);
    }

    #[test]
    fn a_tally_reports_once_a_minute_after_its_first_item() {
        let mut t = Tally::default();
        assert_eq!(t.due_at(), None);
        assert_eq!(t.take_due(0, true), None);
        t.add(5 * S);
        t.add(6 * S);
        assert_eq!(t.due_at(), Some(65 * S));
        assert_eq!(t.take_due(64 * S, false), None);
        assert_eq!(t.take_due(65 * S, false), Some(2));
        assert_eq!(t.take_due(200 * S, false), None);
        t.add(201 * S);
        assert_eq!(t.take_due(202 * S, true), Some(1));
    }
}
