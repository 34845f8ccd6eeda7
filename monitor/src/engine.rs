//! What to repair, and when: the monitor's decisions as a state machine with no I/O and an
//! injected clock, so every rule here is tested deterministically.
//!
//! Rules, per repair target (scope + object + scrub type):
//! - **Coalescing.** A target already queued is not queued again.
//! - **Echoes.** A repair re-reads the object, so the kernel reports it SICK again (then
//!   CORRUPT, then HEALTHY). A SICK report timed inside an in-flight repair, or up to
//!   [`Tuning::echo_grace_ns`] after a finished one, is absorbed: one corruption, one call.
//!   A SICK report that follows the kernel's HEALTHY for an in-flight repair is a new
//!   corruption: one re-check is queued after the repair.
//! - **Failures back off.** A failed repair makes the kernel mark the structure sick again,
//!   so a naive daemon loops. After a failure the target is retried only when a new SICK
//!   report arrives after an exponential backoff, at most [`Tuning::max_attempts`] times per
//!   [`Tuning::attempt_window_ns`]; meanwhile its SICK reports are counted and summarised.
//! - **Escalation.** A failed repair, a structure no spot repair can fix, a damaged SICK
//!   record, or lost events escalate, at most once per [`Tuning::escalation_interval_ns`]. With
//!   systemd's full-check trigger ([`Engine::with_full_check`]) that asks for the full online
//!   check (upstream's `xfs_scrub@`, which walks files and directories too), and nothing
//!   escalates while one runs; without it, one sweep of every whole-fs, AG and rtgroup
//!   structure, which ends with the recommendation to repair offline if it cannot fix
//!   everything.
//! - **Shutdown.** After the filesystem shuts down (or the repairer reports it stale) no
//!   repair is sent.

use std::collections::{BTreeMap, VecDeque};

use xfs_heal_protocol::{
    AgNumber, AgScrub, Errno, Geometry, InodeScrub, Refusal, RepairOutcome, RepairReply, RepairRequest,
    RepairTarget, RequestId, RtGroupNumber, RtGroupScrub,
};

use xfs_heal_protocol::defects::{DefectId, DefectSet};
use xfs_heal_protocol::fullcheck::{Notice, NoticeError};
use xfs_heal_protocol::uapi::XFS_HEALTH_MONITOR_TYPE_SICK;

use crate::decode::v0::DecodeError;
use crate::domains;
use crate::event::{EventKind, HealthEvent, HealthStatus};
use crate::policy;
use crate::report::{EscalationCause, Report, StopReason};

const SEC: u64 = 1_000_000_000;
/// How far into the queues [`Engine::next_ready`] looks for a target that may start.
const READY_WINDOW: usize = 256;
const ENOENT: i32 = 2;

/// The knobs, with defaults an operator would expect.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Send repairs at all (`--repair`, or autofsck=repair).
    pub repair: bool,
    /// Lost events start a sweep (off with `--everything`, as in xfs_healer).
    pub sweep_on_lost: bool,
    pub max_attempts: u32,
    pub attempt_window_ns: u64,
    /// Wait after the k-th failure: base * 4^(k-1).
    pub backoff_base_ns: u64,
    pub echo_grace_ns: u64,
    pub escalation_interval_ns: u64,
    /// Most targets waiting at once; beyond it, a sweep replaces spot repairs.
    pub max_queued: usize,
    /// Most targets tracked one by one (queued, in flight, settled within the echo grace,
    /// failing within the attempt window). Beyond it new ones are counted, not tracked, and
    /// a sweep is asked for: memory stays bounded whatever the kernel reports.
    pub max_tracked: usize,
    /// How often suppressed-report summaries are printed.
    pub summary_interval_ns: u64,
    /// Most repairs in flight at once (`--parallel`), independent ones only
    /// (`RepairTarget::must_wait_for`).
    pub max_in_flight: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            repair: true,
            sweep_on_lost: true,
            max_attempts: 3,
            attempt_window_ns: 600 * SEC,
            backoff_base_ns: 5 * SEC,
            echo_grace_ns: 2 * SEC,
            escalation_interval_ns: 600 * SEC,
            max_queued: 4096,
            max_tracked: 16_384,
            summary_interval_ns: 60 * SEC,
            max_in_flight: 1,
        }
    }
}

/// Where one target stands. Only [`Engine::transition`] changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting in the queue.
    Queued,
    /// Sent at `sent_ns`. `healthy_seen`: the kernel has since reported it healthy;
    /// `recheck`: a SICK report came after that, so it is checked once more afterwards.
    InFlight { sent_ns: u64, healthy_seen: bool, recheck: bool },
    /// Repaired or clean at `end_ns`; a SICK report within the echo grace is its echo.
    Settled { end_ns: u64 },
    /// The last attempt failed at `last_end_ns`: a new SICK report retries after the
    /// backoff, while attempts remain in the window.
    Failing { last_end_ns: u64 },
    /// Not valid on this filesystem (out of range): not tried again before `until_ns`.
    GivenUp { until_ns: u64 },
    /// A known kernel defect forbids its repair (`Hello::guards`): said once, never sent;
    /// forgotten after the attempt window, so a later report says it again.
    Forbidden { since_ns: u64 },
}

/// Everything the engine knows about one target: one record, one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    phase: Phase,
    /// When each failed attempt ended, within the attempt window, oldest first.
    failures: Vec<u64>,
    /// A failure of this target has started a sweep already (once per target).
    escalated: bool,
    /// SICK reports absorbed by its current repair, said after the result.
    absorbed: u64,
    /// SICK reports counted while it was failing, said in the periodic summary.
    suppressed: u64,
}

impl Record {
    const fn new(phase: Phase) -> Self {
        Self { phase, failures: Vec::new(), escalated: false, absorbed: 0, suppressed: 0 }
    }
}

/// What can happen to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// A SICK report the kernel timed at `event_ns`.
    Sick { event_ns: u64 },
    /// The kernel reported it healthy.
    Healthy,
    /// Its request went to the repairer.
    Sent,
    /// The connection dropped before the answer came.
    Unanswered,
    /// Repaired, or nothing needed repair.
    Succeeded,
    /// The repair failed; `never_valid` when the target is outside this filesystem.
    Failed { never_valid: bool },
    /// A known kernel defect forbids its repair.
    Forbidden { defect: DefectId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Spot,
    Sweep,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: RequestId,
    target: RepairTarget,
    purpose: Purpose,
}

/// The full online check, when systemd handed the monitor its trigger. Only
/// [`Engine::full_check_transition`] changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FullCheck {
    /// No trigger: escalations sweep group metadata instead.
    Unavailable,
    Idle,
    /// Asked for because of `cause`; its start not yet notified. A request that never
    /// starts (the unit skipped by its conditions) is asked again at the next escalation
    /// past the interval.
    Requested {
        cause: EscalationCause,
    },
    /// Notified as started (by us or by anyone: xfs_scrub_all's timer runs the same unit).
    Running,
}

/// What can happen to the full check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CheckInput {
    /// An escalation asks for it.
    Ask(EscalationCause),
    /// Its request could not be written.
    Unwritable(String),
    /// Its hooks said this.
    Notice(Notice),
}

#[derive(Debug, Default, Clone, Copy)]
struct SweepStats {
    attempted: u32,
    fixed: u32,
    failed: u32,
}

/// Counters for the end-of-run summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub sick: u64,
    pub repairs_sent: u64,
    /// SICK reports absorbed by a queued or running repair, or its echo.
    pub absorbed: u64,
    /// SICK reports for failing targets, counted instead of printed.
    pub suppressed: u64,
    pub sweeps: u64,
    /// Full online checks asked of systemd.
    pub full_checks: u64,
    /// SICK reports for new targets while [`Tuning::max_tracked`] were tracked.
    pub untracked: u64,
}

/// The monitor's decisions.
#[derive(Debug)]
pub struct Engine {
    tuning: Tuning,
    geometry: Geometry,
    /// Known kernel defects whose repairs are never requested (from `Hello`).
    guards: DefectSet,
    /// A replay: requests are what would be sent, results are not reported, and a sweep
    /// is only announced (a capture holds no geometry to list its structures).
    dry_run: bool,
    /// One record per target outstanding: queued, in flight, settled within the echo grace,
    /// failing or given up within the attempt window, forbidden.
    targets: BTreeMap<RepairTarget, Record>,
    queue: VecDeque<RepairTarget>,
    sweep: VecDeque<RepairTarget>,
    sweep_stats: Option<SweepStats>,
    /// Sent and not yet answered, oldest first.
    in_flight: Vec<InFlight>,
    /// The last escalation (a sweep or a full-check request).
    last_escalation_ns: Option<u64>,
    full_check: FullCheck,
    /// A request for the full check waits to be written (see [`Engine::take_full_check_request`]).
    full_check_wanted: bool,
    next_id: u64,
    stopped: Option<StopReason>,
    last_summary_ns: u64,
    last_prune_ns: u64,
    /// Untracked reports not yet summarised.
    untracked_unreported: u64,
    reports: Vec<Report>,
    pub stats: Stats,
}

impl Engine {
    pub fn new(tuning: Tuning, geometry: Geometry) -> Self {
        Self {
            tuning,
            geometry,
            guards: DefectSet::NONE,
            dry_run: false,
            targets: BTreeMap::new(),
            queue: VecDeque::new(),
            sweep: VecDeque::new(),
            sweep_stats: None,
            in_flight: Vec::new(),
            last_escalation_ns: None,
            full_check: FullCheck::Unavailable,
            full_check_wanted: false,
            next_id: 1,
            stopped: None,
            last_summary_ns: 0,
            last_prune_ns: 0,
            untracked_unreported: 0,
            reports: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Guards against the known kernel defects the repairer named in its `Hello`.
    pub fn with_guards(mut self, guards: DefectSet) -> Self {
        self.guards = guards;
        self
    }

    /// Escalations ask for the full online check instead of sweeping: systemd handed the
    /// monitor the trigger of `xfs_scrub@` for this mount.
    pub fn with_full_check(mut self) -> Self {
        self.full_check = FullCheck::Idle;
        self
    }

    /// Must a full-check request be written now? True once per request.
    pub fn take_full_check_request(&mut self) -> bool {
        std::mem::take(&mut self.full_check_wanted)
    }

    /// The request could not be written (`why`): sweep instead, as without systemd.
    pub fn full_check_unavailable(&mut self, why: String) {
        self.full_check_transition(CheckInput::Unwritable(why));
    }

    /// A line from the full check's hooks.
    pub fn on_full_check_notice(&mut self, notice: Result<Notice, NoticeError>) {
        match notice {
            Ok(notice) => self.full_check_transition(CheckInput::Notice(notice)),
            Err(e) => self.reports.push(Report::InvalidFullCheckNotice(e)),
        }
    }

    /// The full check's one transition: every change of [`FullCheck`], with its reports.
    fn full_check_transition(&mut self, input: CheckInput) {
        match (self.full_check, input) {
            // No trigger (or it broke): notices mean nothing, escalations sweep.
            (FullCheck::Unavailable, _) => {}
            (_, CheckInput::Ask(cause)) => {
                self.full_check = FullCheck::Requested { cause };
                self.full_check_wanted = true;
                self.stats.full_checks += 1;
                self.reports.push(Report::FullCheckRequested { cause });
            }
            (FullCheck::Requested { cause }, CheckInput::Unwritable(why)) => {
                self.full_check = FullCheck::Unavailable;
                self.reports.push(Report::FullCheckUnavailable { why });
                self.start_sweep(cause);
            }
            (_, CheckInput::Unwritable(_)) => {}
            (before, CheckInput::Notice(Notice::Started)) => {
                self.full_check = FullCheck::Running;
                let requested = matches!(before, FullCheck::Requested { .. });
                self.reports.push(Report::FullCheckStarted { requested });
            }
            (_, CheckInput::Notice(Notice::Finished(outcome))) => {
                self.full_check = FullCheck::Idle;
                self.reports.push(Report::FullCheckFinished { outcome });
            }
        }
    }

    /// The replay's engine: see [`Engine::dry_run`]'s field.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Reports produced since the last call, in order.
    pub fn take_reports(&mut self) -> Vec<Report> {
        std::mem::take(&mut self.reports)
    }

    /// Is anything waiting to be sent or answered?
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
            || (self.stopped.is_none() && !(self.queue.is_empty() && self.sweep.is_empty()))
    }

    /// Handles one decoded event.
    pub fn on_event(&mut self, event: &HealthEvent, now_ns: u64) {
        self.stats.events += 1;
        match event.kind {
            EventKind::Metadata { status: HealthStatus::Sick, .. } => return self.on_sick(event, now_ns),
            EventKind::Metadata { status: HealthStatus::Healthy, .. } => self.on_healthy(event, now_ns),
            _ => {}
        }
        self.reports.push(Report::Event(*event));
        match event.kind {
            EventKind::Lost { count } if self.tuning.sweep_on_lost && self.tuning.repair => {
                self.escalate(EscalationCause::LostEvents { count }, now_ns);
            }
            EventKind::Shutdown { .. } => self.stop(StopReason::Shutdown),
            _ => {}
        }
    }

    /// A record that failed validation is reported in stream order; a damaged SICK record
    /// still says something is sick, so it starts a sweep.
    pub fn on_invalid_record(&mut self, error: DecodeError, now_ns: u64) {
        self.reports.push(Report::InvalidRecord(error));
        if error.error.event_type == XFS_HEALTH_MONITOR_TYPE_SICK && self.tuning.repair {
            self.escalate(EscalationCause::UndecodableSick, now_ns);
        }
    }

    fn on_sick(&mut self, event: &HealthEvent, now_ns: u64) {
        self.stats.sick += 1;
        let Some(plan) = policy::plan(event) else { return };
        let EventKind::Metadata { object, .. } = event.kind else { return };
        let mut acted = plan.targets.is_empty();
        for target in &plan.targets {
            acted |= self.sick_target(*target, event.time_ns, now_ns);
        }
        if acted {
            self.reports.push(Report::Event(*event));
        }
        for u in plan.needs_full_check {
            self.reports.push(Report::NeedsFullCheck(u, object));
            if self.tuning.repair {
                self.escalate(
                    EscalationCause::Unrepairable { domain: u.domain, structure: u.structure },
                    now_ns,
                );
            }
        }
    }

    /// Decides about one sick target; true if the report deserves its own line.
    fn sick_target(&mut self, target: RepairTarget, event_ns: u64, now_ns: u64) -> bool {
        if !self.tuning.repair || self.stopped.is_some() {
            return true;
        }
        if let Some(defect) = self.guards.forbidding(&target) {
            return self.transition(target, Input::Forbidden { defect: defect.id }, now_ns);
        }
        if !self.targets.contains_key(&target) && self.targets.len() >= self.tuning.max_tracked {
            // At most one pass a second: in a flood of new targets, the rest is counted.
            if now_ns.saturating_sub(self.last_prune_ns) >= SEC {
                self.prune(now_ns);
            }
            if self.targets.len() >= self.tuning.max_tracked {
                self.stats.untracked += 1;
                self.untracked_unreported += 1;
                self.escalate(EscalationCause::TooManyTracked { cap: self.tuning.max_tracked }, now_ns);
                return true;
            }
        }
        self.transition(target, Input::Sick { event_ns }, now_ns)
    }

    /// The one place a target's record changes. Each arm is a rule of the module
    /// documentation; the return value says whether a SICK report deserves its own line.
    fn transition(&mut self, target: RepairTarget, input: Input, now_ns: u64) -> bool {
        let grace = self.tuning.echo_grace_ns;
        let phase = self.targets.get(&target).map(|r| r.phase);
        match (phase, input) {
            // A new corruption, or one after the last repair's echo: repair it.
            (None, Input::Sick { .. }) => self.enqueue(target, now_ns),
            (Some(Phase::Settled { end_ns }), Input::Sick { event_ns })
                if event_ns > end_ns.saturating_add(grace) =>
            {
                self.enqueue(target, now_ns)
            }
            // SICK after the kernel's HEALTHY for the running repair: a new corruption,
            // checked once more after it.
            (
                Some(Phase::InFlight { sent_ns, healthy_seen: true, recheck: false }),
                Input::Sick { event_ns },
            ) if event_ns >= sent_ns => {
                self.set(target, Phase::InFlight { sent_ns, healthy_seen: true, recheck: true });
                true
            }
            // Queued, running, or the echo of a finished repair: one corruption, one call.
            (Some(Phase::Queued | Phase::InFlight { .. } | Phase::Settled { .. }), Input::Sick { .. }) => {
                self.stats.absorbed += 1;
                self.record(target).absorbed += 1;
                false
            }
            // Failing: retry only for a new report after the backoff, attempts permitting.
            (Some(Phase::Failing { last_end_ns }), Input::Sick { event_ns }) => {
                let window = self.tuning.attempt_window_ns;
                let record = self.record(target);
                record.failures.retain(|t| now_ns.saturating_sub(*t) < window);
                let done = u32::try_from(record.failures.len()).unwrap_or(u32::MAX);
                let backoff =
                    self.tuning.backoff_base_ns.saturating_mul(4u64.saturating_pow(done.saturating_sub(1)));
                let echo = event_ns <= last_end_ns.saturating_add(grace);
                let due = now_ns >= last_end_ns.saturating_add(backoff);
                if done < self.tuning.max_attempts && !echo && due {
                    self.enqueue(target, now_ns)
                } else {
                    self.stats.suppressed += 1;
                    self.record(target).suppressed += 1;
                    false
                }
            }
            (Some(Phase::GivenUp { until_ns }), Input::Sick { .. }) if now_ns >= until_ns => {
                self.targets.remove(&target);
                self.enqueue(target, now_ns)
            }
            (Some(Phase::GivenUp { .. } | Phase::Forbidden { .. }), Input::Sick { .. }) => {
                self.stats.suppressed += 1;
                false
            }
            // Never asked for; said once per target.
            (Some(Phase::Forbidden { .. }), Input::Forbidden { .. }) => {
                self.stats.suppressed += 1;
                false
            }
            (_, Input::Forbidden { defect }) => {
                self.set(target, Phase::Forbidden { since_ns: now_ns });
                self.reports.push(Report::RepairForbidden { target, defect });
                true
            }
            (Some(Phase::InFlight { sent_ns, recheck, .. }), Input::Healthy) => {
                self.set(target, Phase::InFlight { sent_ns, healthy_seen: true, recheck });
                false
            }
            // Fixed by something else (a sweep, xfs_scrub): forget the failures.
            (Some(Phase::Failing { .. } | Phase::GivenUp { .. }), Input::Healthy) => {
                self.record(target).failures.clear();
                self.set(target, Phase::Settled { end_ns: now_ns });
                self.summarise_one(target);
                false
            }
            (_, Input::Healthy) => false,
            (_, Input::Sent) => {
                self.set(target, Phase::InFlight { sent_ns: now_ns, healthy_seen: false, recheck: false });
                false
            }
            (_, Input::Unanswered) => {
                self.set(target, Phase::Queued);
                self.queue.push_front(target);
                false
            }
            (_, Input::Succeeded) => {
                let recheck = matches!(phase, Some(Phase::InFlight { recheck: true, .. }));
                self.record(target).failures.clear();
                self.set(target, Phase::Settled { end_ns: now_ns });
                if recheck {
                    self.enqueue(target, now_ns);
                }
                self.follow_up(target, now_ns);
                false
            }
            (_, Input::Failed { never_valid }) => {
                let (window, max) = (self.tuning.attempt_window_ns, self.tuning.max_attempts);
                let record = self.record(target);
                record.failures.retain(|t| now_ns.saturating_sub(*t) < window);
                record.failures.push(now_ns);
                let escalated = std::mem::replace(&mut record.escalated, true);
                let attempts = u32::try_from(record.failures.len()).unwrap_or(u32::MAX);
                if attempts >= max || never_valid {
                    self.reports.push(Report::RepairAbandoned {
                        target,
                        attempts,
                        window_secs: window / SEC,
                    });
                }
                let next = if never_valid {
                    Phase::GivenUp { until_ns: now_ns.saturating_add(window) }
                } else {
                    Phase::Failing { last_end_ns: now_ns }
                };
                self.set(target, next);
                if !escalated {
                    self.escalate(EscalationCause::RepairFailed { target }, now_ns);
                }
                false
            }
        }
    }

    /// The target's record, made if it has none (only the transition calls this).
    fn record(&mut self, target: RepairTarget) -> &mut Record {
        self.targets.entry(target).or_insert_with(|| Record::new(Phase::Queued))
    }

    fn set(&mut self, target: RepairTarget, phase: Phase) {
        self.record(target).phase = phase;
    }

    fn enqueue(&mut self, target: RepairTarget, now_ns: u64) -> bool {
        if self.queue.len() >= self.tuning.max_queued {
            self.escalate(EscalationCause::TooManyQueued { cap: self.tuning.max_queued }, now_ns);
            return true;
        }
        self.set(target, Phase::Queued);
        self.queue.push_back(target);
        true
    }

    fn on_healthy(&mut self, event: &HealthEvent, now_ns: u64) {
        for target in policy::targets_of(event) {
            self.transition(target, Input::Healthy, now_ns);
        }
    }

    /// The next request to send, if one may start now: fewer than
    /// [`Tuning::max_in_flight`] in flight, and a queued target independent of them.
    pub fn next_request(&mut self, now_ns: u64) -> Option<RepairRequest> {
        if self.in_flight.len() >= self.tuning.max_in_flight.max(1) || self.stopped.is_some() {
            return None;
        }
        let (target, purpose) = self.next_ready()?;
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if purpose == Purpose::Spot {
            self.transition(target, Input::Sent, now_ns);
        }
        self.in_flight.push(InFlight { id, target, purpose });
        self.stats.repairs_sent += 1;
        self.reports.push(Report::RepairRequested { target, dry_run: self.dry_run });
        Some(RepairRequest { id, target })
    }

    /// The first target, spot repairs before the sweep and each queue in order, that may
    /// start beside what is in flight. A target that must wait holds back every later one
    /// that would have to wait for it (a whole-filesystem structure holds back all), so
    /// nothing overtakes what it depends on. Only the first [`READY_WINDOW`] are looked at.
    fn next_ready(&mut self) -> Option<(RepairTarget, Purpose)> {
        let mut waiting: Vec<RepairTarget> = Vec::new();
        let order = self
            .queue
            .iter()
            .map(|t| (*t, Purpose::Spot))
            .chain(self.sweep.iter().map(|t| (*t, Purpose::Sweep)));
        let mut chosen = None;
        for (i, (t, purpose)) in order.enumerate().take(READY_WINDOW) {
            let blocked =
                self.in_flight.iter().map(|f| &f.target).chain(&waiting).any(|o| t.must_wait_for(o));
            if !blocked {
                chosen = Some((i, t, purpose));
                break;
            }
            waiting.push(t);
        }
        let (i, target, purpose) = chosen?;
        match purpose {
            Purpose::Spot => self.queue.remove(i),
            Purpose::Sweep => self.sweep.remove(i - self.queue.len()),
        };
        Some((target, purpose))
    }

    /// The connection dropped: the unanswered requests go back to the front of their queue,
    /// in their order, and are sent again after reconnecting (repairs are idempotent).
    pub fn on_disconnect(&mut self, now_ns: u64) {
        for f in std::mem::take(&mut self.in_flight).into_iter().rev() {
            match f.purpose {
                Purpose::Spot => {
                    self.transition(f.target, Input::Unanswered, now_ns);
                }
                Purpose::Sweep => self.sweep.push_front(f.target),
            }
            self.stats.repairs_sent -= 1;
        }
    }

    /// Handles the repairer's answer.
    pub fn on_reply(&mut self, reply: RepairReply, now_ns: u64) {
        let Some(at) = self.in_flight.iter().position(|f| f.id == reply.id) else {
            self.reports.push(Report::UnknownReply { id: reply.id.0 });
            return;
        };
        let f = self.in_flight.remove(at);
        let target = f.target;
        if !self.dry_run {
            self.reports.push(Report::RepairResult { target, outcome: reply.outcome.clone() });
        }
        if let Some(r) = self.targets.get_mut(&target).filter(|r| r.absorbed > 0) {
            let count = std::mem::take(&mut r.absorbed);
            self.reports.push(Report::SickAbsorbed { target, count });
        }
        if let RepairOutcome::Refused(Refusal::StaleFilesystem) = reply.outcome {
            self.stop(StopReason::Stale);
            return;
        }
        match f.purpose {
            Purpose::Sweep => self.sweep_result(&reply.outcome),
            Purpose::Spot => self.spot_result(target, &reply.outcome, now_ns),
        }
    }

    fn spot_result(&mut self, target: RepairTarget, outcome: &RepairOutcome, now_ns: u64) {
        let input = match outcome {
            // The repairer guards against a defect this monitor was not told of: same rule.
            RepairOutcome::Refused(Refusal::KnownKernelDefect(defect)) => {
                Input::Forbidden { defect: *defect }
            }
            RepairOutcome::Refused(Refusal::OutOfRange(_)) => Input::Failed { never_valid: true },
            o if o.is_failure() || matches!(o, RepairOutcome::Refused(_)) => {
                Input::Failed { never_valid: false }
            }
            _ => Input::Succeeded,
        };
        self.transition(target, input, now_ns);
    }

    /// Rebuilding an inode's core or attr fork can drop the parent pointers stored in its
    /// attr fork, and the kernel reports nothing for that (xfs_repair -n then finds them
    /// missing): on a parent-pointer filesystem, repair that inode's parent pointers next.
    fn follow_up(&mut self, target: RepairTarget, now_ns: u64) {
        let RepairTarget::Inode { ino, gen, kind: InodeScrub::Core | InodeScrub::AttrFork } = target else {
            return;
        };
        if !self.geometry.has_parent_pointers() {
            return;
        }
        let parent = RepairTarget::Inode { ino, gen, kind: InodeScrub::Parent };
        if !matches!(self.targets.get(&parent).map(|r| r.phase), Some(Phase::Queued | Phase::InFlight { .. }))
        {
            self.enqueue(parent, now_ns);
        }
    }

    /// One sweep answer counted; the last one (nothing of the sweep queued or in flight)
    /// ends the sweep with its summary.
    fn sweep_result(&mut self, outcome: &RepairOutcome) {
        let Some(s) = self.sweep_stats.as_mut() else { return };
        match outcome {
            // The structure does not exist on this filesystem (quota off, no rmap...).
            RepairOutcome::KernelError(e) if *e == Errno::try_from(ENOENT).unwrap_or(Errno::EINVAL) => {}
            RepairOutcome::Repaired | RepairOutcome::NoRepairNeeded => {
                s.attempted += 1;
                s.fixed += 1;
            }
            _ => {
                s.attempted += 1;
                s.failed += 1;
            }
        }
        if self.sweep.is_empty() && !self.in_flight.iter().any(|f| f.purpose == Purpose::Sweep) {
            let SweepStats { attempted, fixed, failed } = *s;
            self.sweep_stats = None;
            self.reports.push(Report::SweepFinished { attempted, fixed, failed });
        }
    }

    /// Asks for the full check, or starts a sweep without it; unless one ran recently or is
    /// running.
    fn escalate(&mut self, cause: EscalationCause, now_ns: u64) {
        if self.stopped.is_some() || self.sweep_stats.is_some() || self.full_check == FullCheck::Running {
            return;
        }
        if let Some(last) = self.last_escalation_ns {
            if now_ns.saturating_sub(last) < self.tuning.escalation_interval_ns {
                return;
            }
        }
        self.last_escalation_ns = Some(now_ns);
        if self.dry_run {
            self.stats.sweeps += 1;
            self.reports.push(Report::WouldSweep { cause });
            return;
        }
        if self.full_check == FullCheck::Unavailable {
            return self.start_sweep(cause);
        }
        self.full_check_transition(CheckInput::Ask(cause));
    }

    fn start_sweep(&mut self, cause: EscalationCause) {
        self.stats.sweeps += 1;
        self.sweep = sweep_targets(&self.geometry).into();
        self.sweep_stats = Some(SweepStats::default());
        let structures = u32::try_from(self.sweep.len()).unwrap_or(u32::MAX);
        self.reports.push(Report::Escalation { cause, structures });
    }

    fn stop(&mut self, reason: StopReason) {
        if self.stopped.is_none() {
            let dropped = self.queue.len() + self.sweep.len();
            self.reports.push(Report::RepairsStopped { reason, dropped });
            self.stopped = Some(reason);
            self.queue.clear();
            self.sweep.clear();
            self.sweep_stats = None;
        }
    }

    /// Periodic work: forgets what no longer matters, prints the summaries.
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_prune_ns) >= SEC {
            self.prune(now_ns);
        }
        if now_ns.saturating_sub(self.last_summary_ns) >= self.tuning.summary_interval_ns {
            self.last_summary_ns = now_ns;
            self.summarise_all();
        }
    }

    /// Forgets targets whose record can no longer change a decision: settled past the echo
    /// grace (a new SICK report is a new corruption either way), failing with no attempt
    /// left in the window (a new SICK report may try again either way).
    fn prune(&mut self, now_ns: u64) {
        self.last_prune_ns = now_ns;
        let (grace, window) = (self.tuning.echo_grace_ns, self.tuning.attempt_window_ns);
        let stale: Vec<RepairTarget> = self
            .targets
            .iter()
            .filter(|(_, r)| match r.phase {
                Phase::Settled { end_ns } => now_ns > end_ns.saturating_add(grace),
                Phase::Failing { .. } => r.failures.iter().all(|t| now_ns.saturating_sub(*t) >= window),
                Phase::GivenUp { until_ns } => now_ns >= until_ns,
                Phase::Forbidden { since_ns } => now_ns.saturating_sub(since_ns) >= window,
                Phase::Queued | Phase::InFlight { .. } => false,
            })
            .map(|(target, _)| *target)
            .collect();
        for target in stale {
            self.summarise_one(target);
            self.targets.remove(&target);
        }
    }

    /// How many targets are tracked one by one now.
    pub fn tracked(&self) -> usize {
        self.targets.len()
    }

    fn summarise_one(&mut self, target: RepairTarget) {
        if let Some(r) = self.targets.get_mut(&target) {
            self.reports.extend(Self::take_suppressed(target, r));
        }
    }

    fn summarise_all(&mut self) {
        for (target, r) in &mut self.targets {
            self.reports.extend(Self::take_suppressed(*target, r));
        }
        let untracked = std::mem::take(&mut self.untracked_unreported);
        if untracked > 0 {
            self.reports.push(Report::Untracked { count: untracked, cap: self.tuning.max_tracked });
        }
    }

    /// The summary of the SICK reports counted for `target` since the last one, if any.
    fn take_suppressed(target: RepairTarget, r: &mut Record) -> Option<Report> {
        (r.suppressed > 0)
            .then(|| Report::SickSuppressed { target, count: std::mem::take(&mut r.suppressed) })
    }

    /// The end of the events: summaries, and what was left undone.
    pub fn finish(&mut self) {
        self.summarise_all();
        let pending = self.queue.len() + self.sweep.len() + self.in_flight.len();
        if pending > 0 && self.stopped.is_none() {
            self.reports.push(Report::DroppedAtEnd { count: pending });
        }
        self.reports.push(Report::RunSummary(self.stats));
    }
}

/// Every whole-fs, AG and rtgroup structure this geometry has, for a sweep: the swept rows
/// of `domains`' tables, less the btrees this filesystem does not have.
pub fn sweep_targets(g: &Geometry) -> Vec<RepairTarget> {
    let absent_ag = |k: AgScrub| {
        (k == AgScrub::Rmapbt && !g.has_rmapbt()) || (k == AgScrub::Refcountbt && !g.has_reflink())
    };
    let absent_rg = |k: RtGroupScrub| {
        (k == RtGroupScrub::Rmapbt && !g.has_rmapbt()) || (k == RtGroupScrub::Refcountbt && !g.has_reflink())
    };
    let mut v: Vec<RepairTarget> =
        domains::FS.iter().filter_map(|r| r.sweep_kind()).map(|kind| RepairTarget::Fs { kind }).collect();
    for agno in (0..g.agcount()).filter_map(|n| AgNumber::try_from(n).ok()) {
        let kinds = domains::AG.iter().filter_map(|r| r.sweep_kind()).filter(|k| !absent_ag(*k));
        v.extend(kinds.map(|kind| RepairTarget::Ag { agno, kind }));
    }
    for rgno in (0..g.rgcount()).filter_map(|n| RtGroupNumber::try_from(n).ok()) {
        let kinds = domains::RTGROUP.iter().filter_map(|r| r.sweep_kind()).filter(|k| !absent_rg(*k));
        v.extend(kinds.map(|kind| RepairTarget::RtGroup { rgno, kind }));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::v0::decode_all;
    use crate::event::{InodeMask, MetadataObject, ShutdownReasons};
    use xfs_heal_protocol::{InodeNumber, ScrubOutFlags};

    fn geometry() -> Geometry {
        use xfs_heal_protocol::uapi::{XFS_FSOP_GEOM_FLAGS_REFLINK, XFS_FSOP_GEOM_FLAGS_RMAPBT};
        Geometry::new(4, 0, XFS_FSOP_GEOM_FLAGS_RMAPBT | XFS_FSOP_GEOM_FLAGS_REFLINK).unwrap()
    }

    fn reply(req: &RepairRequest, outcome: RepairOutcome) -> RepairReply {
        RepairReply { id: req.id, oflags: ScrubOutFlags::NONE, outcome }
    }

    fn inode_event(status: HealthStatus, time_ns: u64) -> HealthEvent {
        let object = MetadataObject::Inode { ino: 131, gen: 7, mask: InodeMask::new(0x10).unwrap() };
        HealthEvent { time_ns, kind: EventKind::Metadata { status, object } }
    }

    fn dir_target() -> RepairTarget {
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 7, kind: InodeScrub::Directory }
    }

    const T0: u64 = 1_800_000_000 * SEC;

    fn sick_dir(ino: u64, time_ns: u64) -> HealthEvent {
        let object = MetadataObject::Inode { ino, gen: 7, mask: InodeMask::new(0x10).unwrap() };
        HealthEvent { time_ns, kind: EventKind::Metadata { status: HealthStatus::Sick, object } }
    }

    fn sick_inode(mask: u32, time_ns: u64) -> HealthEvent {
        let object = MetadataObject::Inode { ino: 131, gen: 7, mask: InodeMask::new(mask).unwrap() };
        HealthEvent { time_ns, kind: EventKind::Metadata { status: HealthStatus::Sick, object } }
    }

    fn core_target() -> RepairTarget {
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 7, kind: InodeScrub::Core }
    }

    fn parallel(n: usize) -> Engine {
        Engine::new(Tuning { max_in_flight: n, ..Tuning::default() }, geometry())
    }

    fn all_ready(e: &mut Engine, now: u64) -> Vec<RepairRequest> {
        std::iter::from_fn(|| e.next_request(now)).collect()
    }

    #[test]
    fn independent_inodes_are_repaired_together_and_one_inodes_structures_in_turn() {
        let mut e = parallel(4);
        // Inode 131: core and directory (core first); inode 132: directory.
        e.on_event(&sick_inode(0x1 | 0x10, T0), T0);
        e.on_event(&sick_dir(132, T0), T0);
        let first = all_ready(&mut e, T0);
        let targets: Vec<String> = first.iter().map(|r| r.target.to_string()).collect();
        assert_eq!(targets, ["ino 131 gen 0x7 core", "ino 132 gen 0x7 directory"]);
        // 131's directory waits for its core, however many slots are free.
        assert!(e.next_request(T0).is_none());
        e.on_reply(reply(&first[1], RepairOutcome::Repaired), T0 + 1);
        assert!(e.next_request(T0 + 1).is_none(), "132's answer frees nothing 131 waits for");
        e.on_reply(reply(&first[0], RepairOutcome::Repaired), T0 + 2);
        let next = all_ready(&mut e, T0 + 2);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].target, dir_target());
    }

    #[test]
    fn the_bound_is_kept_and_the_same_target_is_never_twice_in_flight() {
        let mut e = parallel(2);
        for ino in 200..210 {
            e.on_event(&sick_dir(ino, T0), T0);
        }
        let sent = all_ready(&mut e, T0);
        assert_eq!(sent.len(), 2, "at most --parallel in flight");
        // A storm about an inode in flight asks nothing more.
        for i in 0..100 {
            e.on_event(&sick_dir(200, T0 + i), T0 + i);
        }
        assert!(e.next_request(T0 + 100).is_none());
        e.on_reply(reply(&sent[0], RepairOutcome::Repaired), T0 + 200);
        let more = all_ready(&mut e, T0 + 200);
        assert_eq!(more.len(), 1);
        assert_ne!(more[0].target, sent[0].target);
        assert_ne!(more[0].target, sent[1].target);
    }

    #[test]
    fn a_sweep_runs_filesystem_structures_alone_and_one_group_structure_at_a_time() {
        let mut e = parallel(8);
        e.on_event(&HealthEvent { time_ns: T0, kind: EventKind::Lost { count: 5 } }, T0);
        let mut now = T0;
        let mut finished = false;
        let mut max_seen = 0;
        let mut sent_order: Vec<RepairTarget> = Vec::new();
        loop {
            let batch = all_ready(&mut e, now);
            if batch.is_empty() {
                break;
            }
            max_seen = max_seen.max(batch.len());
            for (i, a) in batch.iter().enumerate() {
                // Nothing in one batch must wait for another of it.
                for b in &batch[i + 1..] {
                    assert!(!a.target.must_wait_for(&b.target), "{} with {}", a.target, b.target);
                }
                if matches!(a.target, RepairTarget::Fs { .. }) {
                    assert_eq!(batch.len(), 1, "a whole-filesystem structure runs alone");
                }
            }
            sent_order.extend(batch.iter().map(|r| r.target));
            for r in &batch {
                now += 1;
                assert!(!finished, "the sweep ended with a request still out");
                e.on_reply(reply(r, RepairOutcome::Repaired), now);
                finished |= e.take_reports().iter().any(|r| matches!(r, Report::SweepFinished { .. }));
            }
        }
        assert!(finished);
        assert_eq!(sent_order.len(), sweep_targets(&geometry()).len(), "each structure once");
        assert_eq!(max_seen, 4, "one structure of each of the 4 AGs at a time");
        // Within one AG, the sweep's order (headers first) is kept.
        let ag1: Vec<RepairTarget> = sent_order
            .iter()
            .copied()
            .filter(|t| matches!(t, RepairTarget::Ag { agno, .. } if agno.get() == 1))
            .collect();
        let planned: Vec<RepairTarget> = sweep_targets(&geometry())
            .into_iter()
            .filter(|t| matches!(t, RepairTarget::Ag { agno, .. } if agno.get() == 1))
            .collect();
        assert_eq!(ag1, planned);
    }

    #[test]
    fn spot_repairs_waiting_beside_a_sweep_take_nothing_of_it() {
        let mut e = parallel(3);
        e.on_event(&HealthEvent { time_ns: T0, kind: EventKind::Lost { count: 5 } }, T0);
        let mut now = T0;
        let mut sent: Vec<RepairTarget> = Vec::new();
        // Answer the whole-filesystem part of the sweep, one at a time.
        while let Some(r) = e.next_request(now).filter(|r| matches!(r.target, RepairTarget::Fs { .. })) {
            sent.push(r.target);
            now += 1;
            e.on_reply(reply(&r, RepairOutcome::Repaired), now);
        }
        // That took the first AG structure; now an inode's core and directory turn up: the
        // core goes, the directory waits, and the sweep goes on beside it.
        e.on_event(&sick_inode(0x1 | 0x10, now), now);
        let mut out: Vec<RepairRequest> =
            e.in_flight.iter().map(|f| RepairRequest { id: f.id, target: f.target }).collect();
        sent.extend(out.iter().map(|r| r.target));
        // Bounded: a bookkeeping slip that resends a target forever fails here, not hangs.
        for _ in 0..10_000 {
            out.extend(std::iter::from_fn(|| e.next_request(now)).take(8).inspect(|r| sent.push(r.target)));
            let Some(r) = out.pop() else { break };
            now += 1;
            e.on_reply(reply(&r, RepairOutcome::Repaired), now);
        }
        let swept: Vec<RepairTarget> =
            sent.iter().copied().filter(|t| !matches!(t, RepairTarget::Inode { .. })).collect();
        let mut want = sweep_targets(&geometry());
        let mut got = swept.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "every swept structure exactly once");
        let inode: Vec<String> = sent
            .iter()
            .filter(|t| matches!(t, RepairTarget::Inode { .. }))
            .map(ToString::to_string)
            .collect();
        assert_eq!(inode, ["ino 131 gen 0x7 core", "ino 131 gen 0x7 directory"]);
    }

    #[test]
    fn a_whole_filesystem_repair_waiting_is_not_overtaken() {
        let mut e = parallel(4);
        e.on_event(&sick_dir(300, T0), T0);
        let first = all_ready(&mut e, T0);
        assert_eq!(first.len(), 1);
        // fscounters sick, then another inode: the counters wait for 300 and hold 301 back.
        let fs = MetadataObject::Fs {
            mask: crate::event::FsMask::new(xfs_heal_protocol::uapi::XFS_FSOP_GEOM_SICK_COUNTERS).unwrap(),
        };
        e.on_event(
            &HealthEvent {
                time_ns: T0,
                kind: EventKind::Metadata { status: HealthStatus::Sick, object: fs },
            },
            T0,
        );
        e.on_event(&sick_dir(301, T0), T0);
        assert!(e.next_request(T0).is_none());
        e.on_reply(reply(&first[0], RepairOutcome::Repaired), T0 + 1);
        let alone = all_ready(&mut e, T0 + 1);
        assert_eq!(alone.len(), 1);
        assert!(matches!(alone[0].target, RepairTarget::Fs { .. }));
        e.on_reply(reply(&alone[0], RepairOutcome::Repaired), T0 + 2);
        assert_eq!(all_ready(&mut e, T0 + 2).len(), 1, "then 301");
    }

    #[test]
    fn a_lost_connection_sends_everything_in_flight_again_in_order() {
        let mut e = parallel(3);
        for ino in [400, 401, 402] {
            e.on_event(&sick_dir(ino, T0), T0);
        }
        let sent: Vec<RepairTarget> = all_ready(&mut e, T0).iter().map(|r| r.target).collect();
        assert_eq!(sent.len(), 3);
        e.on_disconnect(T0 + 1);
        assert!(!e.in_flight.iter().any(|_| true));
        let again: Vec<RepairTarget> = all_ready(&mut e, T0 + 2).iter().map(|r| r.target).collect();
        assert_eq!(again, sent);
    }

    #[test]
    fn a_repair_a_known_kernel_defect_forbids_is_never_requested_and_said_once() {
        let guards = DefectSet::try_from(1).unwrap();
        let mut e = Engine::new(Tuning::default(), geometry()).with_guards(guards);
        e.on_event(&sick_inode(0x1, T0), T0);
        assert_eq!(e.next_request(T0), None, "no inode-core repair is asked for");
        let forbidden = |r: &Report| matches!(r, Report::RepairForbidden { target, defect: DefectId::RtgroupRmapNullCursor } if *target == core_target());
        let reports = e.take_reports();
        assert_eq!(reports.iter().filter(|r| forbidden(r)).count(), 1, "{reports:?}");
        assert!(!reports.iter().any(|r| matches!(r, Report::Escalation { .. })), "a sweep cannot help");
        // Again: no second line, still nothing asked; the directory beside it is repaired.
        e.on_event(&sick_inode(0x1, T0 + 60 * SEC), T0 + 60 * SEC);
        assert!(!e.take_reports().iter().any(forbidden));
        e.on_event(&sick_inode(0x10, T0 + 61 * SEC), T0 + 61 * SEC);
        assert_eq!(e.next_request(T0 + 61 * SEC).map(|r| r.target), Some(dir_target()));
        // Without the guard the same report asks for the repair.
        let mut unguarded = Engine::new(Tuning::default(), geometry());
        unguarded.on_event(&sick_inode(0x1, T0), T0);
        assert_eq!(unguarded.next_request(T0).map(|r| r.target), Some(core_target()));
    }

    #[test]
    fn the_repairers_defect_refusal_is_final_and_reported_once() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&sick_inode(0x1, T0), T0);
        let req = e.next_request(T0).unwrap();
        let refused = RepairOutcome::Refused(Refusal::KnownKernelDefect(DefectId::RtgroupRmapNullCursor));
        e.on_reply(reply(&req, refused), T0 + SEC);
        let reports = e.take_reports();
        assert_eq!(reports.iter().filter(|r| matches!(r, Report::RepairForbidden { .. })).count(), 1);
        assert!(!reports
            .iter()
            .any(|r| matches!(r, Report::Escalation { .. } | Report::RepairAbandoned { .. })));
        e.on_event(&sick_inode(0x1, T0 + 600 * SEC), T0 + 600 * SEC);
        assert_eq!(e.next_request(T0 + 600 * SEC), None, "not retried");
    }

    /// The documented schedule, exactly: after the k-th failure a new SICK report may retry
    /// only once base * 4^(k-1) has passed (5 s, then 20 s), and after the third failure in
    /// the window the target is given up.
    #[test]
    fn failed_repairs_back_off_on_the_documented_schedule() {
        let tuning = Tuning::default();
        assert_eq!((tuning.backoff_base_ns, tuning.max_attempts), (5 * SEC, 3));
        let mut e = Engine::new(tuning, geometry());
        let failed = RepairOutcome::KernelError(Errno::EINVAL);
        // The directory's request, if one is made; the first failure's sweep is answered
        // along the way.
        let sick_at = |e: &mut Engine, t: u64| {
            e.on_event(&inode_event(HealthStatus::Sick, t), t);
            while let Some(req) = e.next_request(t) {
                if req.target == dir_target() {
                    return Some(req);
                }
                e.on_reply(reply(&req, RepairOutcome::NoRepairNeeded), t);
            }
            None
        };
        let first = sick_at(&mut e, T0).expect("first attempt");
        let end1 = T0 + SEC;
        e.on_reply(reply(&first, failed.clone()), end1);
        assert_eq!(sick_at(&mut e, end1 + 5 * SEC - 1), None, "before 5 s");
        let second = sick_at(&mut e, end1 + 5 * SEC).expect("at 5 s");
        let end2 = end1 + 6 * SEC;
        e.on_reply(reply(&second, failed.clone()), end2);
        assert_eq!(sick_at(&mut e, end2 + 20 * SEC - 1), None, "before 20 s");
        let third = sick_at(&mut e, end2 + 20 * SEC).expect("at 20 s");
        let end3 = end2 + 21 * SEC;
        e.on_reply(reply(&third, failed), end3);
        let reports = e.take_reports();
        assert!(
            reports.iter().any(|r| matches!(r, Report::RepairAbandoned { attempts: 3, .. })),
            "{reports:?}"
        );
        assert_eq!(sick_at(&mut e, end3 + 80 * SEC), None, "given up within the window");
        assert_eq!(sick_at(&mut e, end3 + 320 * SEC), None, "still within the 600 s window");
    }

    #[test]
    fn a_million_distinct_sick_targets_stay_under_the_tracking_cap() {
        // The audit's case: distinct sick inodes whose repairs all fail (a host without
        // online repair), one per microsecond, answered as they go.
        let tuning = Tuning::default();
        let cap = tuning.max_tracked;
        let mut e = Engine::new(tuning, geometry());
        let mut most = 0;
        for i in 0..1_000_000u64 {
            let now = T0 + i * 1_000;
            e.on_event(&sick_dir(128 + i, now), now);
            if let Some(req) = e.next_request(now) {
                e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), now);
            }
            e.tick(now);
            most = most.max(e.tracked());
            let _ = e.take_reports();
        }
        assert!(most <= cap, "{most} tracked");
        assert_eq!(most, cap, "the cap was reached");
        assert!(e.stats.untracked > 900_000, "{:?}", e.stats);
        e.finish();
        let reports = e.take_reports();
        assert!(
            reports.iter().any(|r| matches!(r, Report::Untracked { cap: 16_384, count } if *count > 900_000)),
            "{reports:?}"
        );
    }

    #[test]
    fn settled_and_expired_targets_are_forgotten() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + SEC);
        assert_eq!(e.tracked(), 1, "kept for the echo grace");
        e.tick(T0 + 2 * SEC);
        assert_eq!(e.tracked(), 1, "still inside the grace");
        e.tick(T0 + 4 * SEC);
        assert_eq!(e.tracked(), 0, "settled and past the grace");
        // A failing target is kept while its attempts count, then forgotten.
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 10 * SEC), T0 + 10 * SEC);
        let req = e.next_request(T0 + 10 * SEC).unwrap();
        e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0 + 11 * SEC);
        e.tick(T0 + 11 * SEC + 599 * SEC);
        assert_eq!(e.tracked(), 1);
        e.tick(T0 + 11 * SEC + 600 * SEC);
        assert_eq!(e.tracked(), 0);
    }

    // --- Tests written against the mutants cargo-mutants found surviving ------------------

    /// The counters behind the run summary count one per thing, exactly.
    #[test]
    fn the_counters_count_each_thing_once() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&HealthEvent { time_ns: T0, kind: EventKind::Running }, T0);
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 1), T0 + 1);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 2), T0 + 2);
        let req = e.next_request(T0 + 3).unwrap();
        e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0 + 4);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 5), T0 + 5);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 6), T0 + 6);
        let s = e.stats;
        assert_eq!((s.events, s.sick, s.absorbed, s.suppressed), (6, 5, 2, 2), "{s:?}");
        e.tick(T0 + 120 * SEC);
        let reports = e.take_reports();
        let absorbed = reports.iter().find_map(|r| match r {
            Report::SickAbsorbed { count, .. } => Some(*count),
            _ => None,
        });
        let suppressed = reports.iter().find_map(|r| match r {
            Report::SickSuppressed { count, .. } => Some(*count),
            _ => None,
        });
        assert_eq!((absorbed, suppressed), (Some(2), Some(2)), "{reports:?}");
    }

    /// A damaged SICK record starts a sweep; a damaged record of another type does not.
    #[test]
    fn only_a_damaged_sick_record_escalates() {
        let escalates = |bytes: Vec<u8>| {
            let (results, _) = decode_all(&bytes);
            let error = results.into_iter().find_map(Result::err).expect("a damaged record");
            let mut e = Engine::new(Tuning::default(), geometry());
            e.on_invalid_record(error, T0);
            let reports = e.take_reports();
            assert!(matches!(reports[0], Report::InvalidRecord(_)));
            reports
                .iter()
                .any(|r| matches!(r, Report::Escalation { cause: EscalationCause::UndecodableSick, .. }))
        };
        let mut sick = inode_event(HealthStatus::Sick, T0).to_v0_bytes().to_vec();
        sick[17] = 0x80; // an undefined inode mask bit
        assert!(escalates(sick.clone()));
        let mut healthy = inode_event(HealthStatus::Healthy, T0).to_v0_bytes().to_vec();
        healthy[17] = 0x80;
        assert!(!escalates(healthy));
        let off = |bytes: Vec<u8>| {
            let (results, _) = decode_all(&bytes);
            let error = results.into_iter().find_map(Result::err).unwrap();
            let mut e = Engine::new(Tuning { repair: false, ..Tuning::default() }, geometry());
            e.on_invalid_record(error, T0);
            e.take_reports().len()
        };
        assert_eq!(off(sick), 1, "reporting only: no sweep");
    }

    #[test]
    fn busy_means_something_to_send_or_to_hear_back() {
        let mut e = Engine::new(Tuning::default(), geometry());
        assert!(!e.busy());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        assert!(e.busy(), "queued");
        let req = e.next_request(T0).unwrap();
        assert!(e.busy(), "in flight");
        assert_eq!(e.next_request(T0), None, "one at a time");
        e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + SEC);
        assert!(!e.busy());
        e.on_event(&sick_dir(132, T0 + 2 * SEC), T0 + 2 * SEC);
        e.on_event(
            &HealthEvent {
                time_ns: T0,
                kind: EventKind::Shutdown { reasons: ShutdownReasons::new(1).unwrap() },
            },
            T0 + 3 * SEC,
        );
        assert!(!e.busy(), "stopped: nothing more will be sent");
        assert_eq!(e.next_request(T0 + 4 * SEC), None);
    }

    /// SICK after the kernel's HEALTHY, but timed before the repair was sent, is the old
    /// corruption's report arriving late: absorbed, no re-check.
    #[test]
    fn only_a_sick_report_timed_after_the_send_asks_for_a_recheck() {
        let run = |sick_ns: u64| {
            let mut e = Engine::new(Tuning::default(), geometry());
            e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
            let req = e.next_request(T0 + SEC).unwrap();
            e.on_event(&inode_event(HealthStatus::Healthy, T0 + 2 * SEC), T0 + 2 * SEC);
            e.on_event(&inode_event(HealthStatus::Sick, sick_ns), T0 + 3 * SEC);
            e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + 4 * SEC);
            e.next_request(T0 + 4 * SEC).is_some()
        };
        assert!(!run(T0 + SEC - 1), "timed before the send");
        assert!(run(T0 + SEC), "timed at the send");
    }

    /// The echo grace ends exactly 2 s after the repair: a report timed at that instant is
    /// still the echo.
    #[test]
    fn the_echo_grace_is_inclusive() {
        let run = |after: u64| {
            let mut e = Engine::new(Tuning::default(), geometry());
            e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
            let req = e.next_request(T0).unwrap();
            e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + SEC);
            let t = T0 + SEC + after;
            e.on_event(&inode_event(HealthStatus::Sick, t), t);
            e.next_request(t).is_some()
        };
        assert!(!run(2 * SEC));
        assert!(run(2 * SEC + 1));
    }

    /// A target outside the filesystem is given up until the attempt window has passed,
    /// then tried again; the abandonment line names the window in seconds.
    #[test]
    fn an_out_of_range_target_is_given_up_for_the_window() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        let out = RepairOutcome::Refused(Refusal::OutOfRange(xfs_heal_protocol::OutOfRange::AgNumber {
            agno: 9,
            agcount: 4,
        }));
        e.on_reply(reply(&req, out), T0);
        assert!(e
            .take_reports()
            .iter()
            .any(|r| matches!(r, Report::RepairAbandoned { attempts: 1, window_secs: 600, .. })));
        let retry = |e: &mut Engine, t: u64| {
            e.on_event(&inode_event(HealthStatus::Sick, t), t);
            while let Some(r) = e.next_request(t) {
                if r.target == dir_target() {
                    return true;
                }
                e.on_reply(reply(&r, RepairOutcome::NoRepairNeeded), t);
            }
            false
        };
        assert!(!retry(&mut e, T0 + 600 * SEC - 1));
        assert!(retry(&mut e, T0 + 600 * SEC));
    }

    /// A failure exactly one window old no longer counts against the attempts.
    #[test]
    fn failures_leave_the_window_exactly_when_it_ends() {
        let tuning = Tuning { backoff_base_ns: 0, ..Tuning::default() };
        let mut e = Engine::new(tuning, geometry());
        let failed = RepairOutcome::KernelError(Errno::EINVAL);
        let mut t = T0;
        for _ in 0..3 {
            e.on_event(&inode_event(HealthStatus::Sick, t), t);
            while let Some(r) = e.next_request(t) {
                let outcome =
                    if r.target == dir_target() { failed.clone() } else { RepairOutcome::NoRepairNeeded };
                e.on_reply(reply(&r, outcome), t);
            }
            t += 3 * SEC;
        }
        let first = T0;
        let window = 600 * SEC;
        let asks = |e: &mut Engine, at: u64| {
            e.on_event(&inode_event(HealthStatus::Sick, at), at);
            e.next_request(at).is_some_and(|r| r.target == dir_target())
        };
        assert!(!asks(&mut e, first + window - 1), "three failures still in the window");
        assert!(asks(&mut e, first + window), "the first one has left it");
    }

    /// At the tracking cap a target already tracked is still handled as itself.
    #[test]
    fn the_cap_counts_new_targets_only() {
        let tuning = Tuning { max_tracked: 2, ..Tuning::default() };
        let mut e = Engine::new(tuning, geometry());
        e.on_event(&sick_dir(131, T0), T0);
        e.on_event(&sick_dir(132, T0), T0);
        e.on_event(&sick_dir(131, T0 + 1), T0 + 1);
        assert_eq!(e.stats.untracked, 0);
        assert_eq!(e.stats.absorbed, 1);
        e.on_event(&sick_dir(133, T0 + 2), T0 + 2);
        assert_eq!(e.stats.untracked, 1);
    }

    #[test]
    fn the_real_capture_needs_one_repair_per_corruption() {
        // The kernel's own sequence for two repaired objects: sick, (repair) sick echo,
        // corrupt, healthy. Replies arrive when the kernel says healthy.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/linux-7.3.4-dir-symlink-repair-verbose.v0"
        ))
        .unwrap();
        let (events, _) = decode_all(&bytes);
        let mut e = Engine::new(Tuning::default(), geometry());
        let mut in_flight: Option<RepairRequest> = None;
        let mut sent = Vec::new();
        for ev in events.into_iter().map(Result::unwrap) {
            let now = ev.time_ns;
            e.on_event(&ev, now);
            if let (Some(req), EventKind::Metadata { status: HealthStatus::Healthy, .. }) =
                (in_flight, ev.kind)
            {
                if policy::targets_of(&ev).contains(&req.target) {
                    e.on_reply(reply(&req, RepairOutcome::Repaired), now);
                    in_flight = None;
                }
            }
            if in_flight.is_none() {
                if let Some(req) = e.next_request(now) {
                    sent.push(req.target);
                    in_flight = Some(req);
                }
            }
        }
        let names: Vec<String> = sent.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["ino 1179776 gen 0x65f8bee7 directory", "ino 1572993 gen 0x5fde98a7 symlink"]);
        assert_eq!(e.stats.absorbed, 2, "each repair's own sick echo is absorbed");
        assert_eq!(e.stats.sweeps, 0);
    }

    #[test]
    fn a_storm_of_identical_sick_reports_is_one_repair() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        for i in 1..100_000 {
            e.on_event(&inode_event(HealthStatus::Sick, T0 + i * 1000), T0 + i * 1000);
            assert!(e.next_request(T0 + i * 1000).is_none());
        }
        e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + SEC / 10);
        // Reports read after the reply but stamped inside the repair are its echo too.
        e.on_event(&inode_event(HealthStatus::Sick, T0 + SEC / 5), T0 + SEC / 5);
        assert!(e.next_request(T0 + SEC).is_none());
        assert_eq!(e.stats.repairs_sent, 1);
        assert_eq!(e.stats.absorbed, 100_000);
        // Only the first report got a line of its own; the rest are one summary.
        let reports = e.take_reports();
        let events = reports.iter().filter(|r| matches!(r, Report::Event(_))).count();
        assert_eq!(events, 1);
        assert!(reports.iter().any(|r| matches!(r, Report::SickAbsorbed { count: 99_999, .. })));
        // A corruption long after the repair is new.
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 10 * SEC), T0 + 10 * SEC);
        assert_eq!(e.next_request(T0 + 10 * SEC).map(|r| r.target), Some(dir_target()));
    }

    #[test]
    fn sick_after_healthy_during_a_repair_queues_one_recheck() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 1000), T0 + 1000); // echo
        e.on_event(&inode_event(HealthStatus::Healthy, T0 + 2000), T0 + 2000); // fixed
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 3000), T0 + 3000); // new damage
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 4000), T0 + 4000); // at most one re-check
        assert!(e.next_request(T0 + 5000).is_none(), "nothing is sent while a repair runs");
        e.on_reply(reply(&req, RepairOutcome::Repaired), T0 + 6000);
        let recheck = e.next_request(T0 + 7000).unwrap();
        assert_eq!(recheck.target, dir_target());
        e.on_reply(reply(&recheck, RepairOutcome::NoRepairNeeded), T0 + 8000);
        assert!(e.next_request(T0 + 9000).is_none());
        assert_eq!(e.stats.repairs_sent, 2);
    }

    #[test]
    fn failing_repairs_back_off_and_escalate_once() {
        let mut e = Engine::new(Tuning::default(), geometry());
        let enotty = RepairOutcome::KernelError(Errno::try_from(25).unwrap());
        let mut spot = 0;
        let mut sweep_items = 0;
        // 15 minutes of a sick report every 100 ms, each repair answered with an error.
        let mut now = T0;
        while now < T0 + 900 * SEC {
            e.on_event(&inode_event(HealthStatus::Sick, now), now);
            while let Some(req) = e.next_request(now) {
                if req.target == dir_target() {
                    spot += 1;
                } else {
                    sweep_items += 1;
                }
                e.on_reply(reply(&req, enotty.clone()), now);
            }
            e.tick(now);
            now += SEC / 10;
        }
        // 3 attempts in the first 10 minutes (at 0 s, then after 5 s and 20 s of backoff),
        // then at most 3 more once the first ones leave the window.
        assert!((3..=6).contains(&spot), "{spot} attempts");
        assert_eq!(e.stats.sweeps, 1, "escalation happens once");
        assert_eq!(sweep_items, 46, "6 fs + 4 AGs x 10 structures");
        let reports = e.take_reports();
        let abandoned = reports.iter().filter(|r| matches!(r, Report::RepairAbandoned { .. })).count();
        assert!(abandoned >= 1);
        assert!(reports
            .iter()
            .any(|r| matches!(r, Report::SweepFinished { attempted: 46, fixed: 0, failed: 46 })));
        let summaries: u64 = reports
            .iter()
            .filter_map(|r| if let Report::SickSuppressed { count, .. } = r { Some(*count) } else { None })
            .sum();
        assert!(summaries > 8000, "suppressed reports are summarised, not printed: {summaries}");
        let event_lines = reports.iter().filter(|r| matches!(r, Report::Event(_))).count();
        assert!(event_lines <= spot, "one line per attempt at most, not one per report");
    }

    #[test]
    fn lost_events_sweep_every_group_structure_once() {
        let mut e = Engine::new(Tuning::default(), geometry());
        let lost = HealthEvent { time_ns: T0, kind: EventKind::Lost { count: 12 } };
        e.on_event(&lost, T0);
        e.on_event(&lost, T0 + SEC);
        let mut n = 0;
        while let Some(req) = e.next_request(T0) {
            n += 1;
            e.on_reply(reply(&req, RepairOutcome::NoRepairNeeded), T0);
        }
        assert_eq!(n, 46);
        let reports = e.take_reports();
        assert_eq!(reports.iter().filter(|r| matches!(r, Report::Escalation { .. })).count(), 1);
        assert!(reports.contains(&Report::SweepFinished { attempted: 46, fixed: 46, failed: 0 }));
        // With --everything, lost events are only reported.
        let mut quiet = Engine::new(Tuning { sweep_on_lost: false, ..Tuning::default() }, geometry());
        quiet.on_event(&lost, T0);
        assert!(quiet.next_request(T0).is_none());
    }

    #[test]
    fn nothing_is_sent_after_a_shutdown_or_when_not_repairing() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let shutdown = HealthEvent {
            time_ns: T0,
            kind: EventKind::Shutdown { reasons: crate::event::ShutdownReasons::new(4).unwrap() },
        };
        e.on_event(&shutdown, T0);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 10 * SEC), T0 + 10 * SEC);
        assert!(e.next_request(T0 + 10 * SEC).is_none());
        assert!(e
            .take_reports()
            .iter()
            .any(|r| matches!(r, Report::RepairsStopped { reason: StopReason::Shutdown, dropped: 1 })));

        let mut off = Engine::new(Tuning { repair: false, ..Tuning::default() }, geometry());
        off.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        assert!(off.next_request(T0).is_none());
        assert_eq!(off.take_reports().len(), 1, "the sick report is still reported");
    }

    #[test]
    fn an_unanswered_request_is_sent_again_after_a_disconnect() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let first = e.next_request(T0).unwrap();
        e.on_disconnect(T0);
        let again = e.next_request(T0 + SEC).unwrap();
        assert_eq!(again.target, first.target);
        assert_ne!(again.id, first.id);
        // A late reply to the lost request is ignored, the new one settles it.
        e.on_reply(reply(&first, RepairOutcome::Repaired), T0 + SEC);
        assert!(e.busy());
        e.on_reply(reply(&again, RepairOutcome::Repaired), T0 + SEC);
        assert!(!e.busy());
        assert_eq!(e.stats.repairs_sent, 1);
    }

    #[test]
    fn a_rebuilt_inode_core_gets_its_parent_pointers_repaired_too() {
        use xfs_heal_protocol::uapi::XFS_FSOP_GEOM_FLAGS_PARENT;
        let pptr = Geometry::new(4, 0, XFS_FSOP_GEOM_FLAGS_PARENT).unwrap();
        for (geometry, want) in [(pptr, Some(InodeScrub::Parent)), (geometry(), None)] {
            let mut e = Engine::new(Tuning::default(), geometry);
            let object = MetadataObject::Inode { ino: 131, gen: 7, mask: InodeMask::new(0x1).unwrap() };
            e.on_event(
                &HealthEvent {
                    time_ns: T0,
                    kind: EventKind::Metadata { status: HealthStatus::Sick, object },
                },
                T0,
            );
            let core = e.next_request(T0).unwrap();
            e.on_reply(reply(&core, RepairOutcome::Repaired), T0 + 1000);
            let next = e.next_request(T0 + 2000).map(|r| r.target);
            let want = want.map(|kind| RepairTarget::Inode {
                ino: InodeNumber::try_from(131).unwrap(),
                gen: 7,
                kind,
            });
            assert_eq!(next, want);
        }
    }

    #[test]
    fn unrepairable_bits_and_stale_filesystems() {
        let mut e = Engine::new(Tuning::default(), geometry());
        let object = MetadataObject::Fs { mask: crate::event::FsMask::new(0x100).unwrap() };
        e.on_event(
            &HealthEvent { time_ns: T0, kind: EventKind::Metadata { status: HealthStatus::Sick, object } },
            T0,
        );
        let reports = e.take_reports();
        assert!(reports
            .iter()
            .any(|r| matches!(r, Report::NeedsFullCheck(u, _) if u.structure == "metadir")));
        assert!(reports.iter().any(|r| matches!(
            r,
            Report::Escalation {
                cause: EscalationCause::Unrepairable { domain: "fs", structure: "metadir" },
                ..
            }
        )));
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::Refused(Refusal::StaleFilesystem)), T0);
        assert!(e.next_request(T0).is_none(), "no repair after the repairer says ESTALE");
    }

    // --- The second round: mutants that survived the first ---------------------------

    fn out_of_range() -> RepairOutcome {
        RepairOutcome::Refused(Refusal::OutOfRange(xfs_heal_protocol::OutOfRange::AgNumber {
            agno: 9,
            agcount: 4,
        }))
    }

    /// Answers every sweep request with `outcome` until the queue is empty.
    fn drain(e: &mut Engine, t: u64, outcome: &RepairOutcome) -> usize {
        let mut n = 0;
        while let Some(req) = e.next_request(t) {
            n += 1;
            e.on_reply(reply(&req, outcome.clone()), t);
        }
        n
    }

    /// Reports matching `f`, counted.
    fn count(reports: &[Report], f: impl Fn(&Report) -> bool) -> usize {
        reports.iter().filter(|r| f(r)).count()
    }

    /// Reports counted instead of printed are counted one each, whatever the phase.
    #[test]
    fn suppressed_reports_for_given_up_and_forbidden_targets_count_one_each() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, out_of_range()), T0);
        drain(&mut e, T0, &RepairOutcome::NoRepairNeeded);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + SEC), T0 + SEC);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 2 * SEC), T0 + 2 * SEC);
        assert_eq!(e.stats.suppressed, 2, "given up");
        let guards = DefectSet::try_from(1).unwrap();
        let mut f = Engine::new(Tuning::default(), geometry()).with_guards(guards);
        for i in 0..3 {
            f.on_event(&sick_inode(0x1, T0 + i * SEC), T0 + i * SEC);
        }
        assert_eq!(f.stats.suppressed, 2, "forbidden: said once, then counted");
    }

    /// A failure exactly one window before the next one has left the window: it no longer
    /// counts towards giving up.
    #[test]
    fn a_failure_one_window_old_does_not_count_towards_giving_up() {
        let run = |second_end: u64| {
            let tuning = Tuning { max_attempts: 2, ..Tuning::default() };
            let mut e = Engine::new(tuning, geometry());
            e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
            let req = e.next_request(T0).unwrap();
            e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0);
            drain(&mut e, T0, &RepairOutcome::NoRepairNeeded);
            let _ = e.take_reports();
            e.on_event(&inode_event(HealthStatus::Sick, T0 + 10 * SEC), T0 + 10 * SEC);
            let req = e.next_request(T0 + 10 * SEC).unwrap();
            e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), second_end);
            count(&e.take_reports(), |r| matches!(r, Report::RepairAbandoned { .. }))
        };
        assert_eq!(run(T0 + 600 * SEC - 1), 1, "two failures in the window");
        assert_eq!(run(T0 + 600 * SEC), 0, "the first has left it");
    }

    /// One request in flight at a time, however much is queued.
    #[test]
    fn a_second_request_waits_for_the_first_answer() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&sick_dir(131, T0), T0);
        e.on_event(&sick_dir(132, T0), T0);
        let first = e.next_request(T0).unwrap();
        assert_eq!(e.next_request(T0), None);
        e.on_reply(reply(&first, RepairOutcome::Repaired), T0);
        assert!(e.next_request(T0).is_some());
    }

    /// The live monitor reports each result; a replay has none to report. A result with no
    /// SICK report absorbed says nothing about absorbing.
    #[test]
    fn results_are_reported_live_only_and_absorption_only_when_it_happened() {
        let results = |e: Engine| {
            let mut e = e;
            e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
            let req = e.next_request(T0).unwrap();
            e.on_reply(reply(&req, RepairOutcome::Repaired), T0);
            let reports = e.take_reports();
            assert_eq!(count(&reports, |r| matches!(r, Report::SickAbsorbed { .. })), 0, "{reports:?}");
            count(&reports, |r| matches!(r, Report::RepairResult { .. }))
        };
        assert_eq!(results(Engine::new(Tuning::default(), geometry())), 1);
        assert_eq!(results(Engine::new(Tuning::default(), geometry()).dry_run()), 0);
    }

    /// A structure the filesystem does not have (ENOENT) is neither fixed nor failed.
    #[test]
    fn a_sweep_counts_absent_structures_as_not_attempted() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&HealthEvent { time_ns: T0, kind: EventKind::Lost { count: 1 } }, T0);
        let mut n = 0u32;
        while let Some(req) = e.next_request(T0) {
            let outcome = if n % 2 == 0 {
                RepairOutcome::KernelError(Errno::try_from(ENOENT).unwrap())
            } else {
                RepairOutcome::KernelError(Errno::try_from(5).unwrap())
            };
            n += 1;
            e.on_reply(reply(&req, outcome), T0);
        }
        let finished: Vec<Report> =
            e.take_reports().into_iter().filter(|r| matches!(r, Report::SweepFinished { .. })).collect();
        assert_eq!(finished, [Report::SweepFinished { attempted: n / 2, fixed: 0, failed: n / 2 }]);
    }

    /// One sweep at a time, none after the repairs stopped, and at most one per interval:
    /// the next is allowed exactly one interval after the last began.
    #[test]
    fn sweeps_are_spaced_by_the_interval_and_never_overlap() {
        let lost = |t: u64| HealthEvent { time_ns: t, kind: EventKind::Lost { count: 1 } };
        let sweeps = |e: &mut Engine| count(&e.take_reports(), |r| matches!(r, Report::Escalation { .. }));
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&lost(T0), T0);
        assert_eq!(sweeps(&mut e), 1);
        let late = T0 + 700 * SEC;
        e.on_event(&lost(late), late);
        assert_eq!(sweeps(&mut e), 0, "one is running");
        drain(&mut e, late, &RepairOutcome::NoRepairNeeded);
        e.on_event(&lost(T0 + SEC), T0 + SEC);
        e.on_event(&lost(T0 + 600 * SEC - 1), T0 + 600 * SEC - 1);
        assert_eq!(sweeps(&mut e), 0, "within the interval");
        e.on_event(&lost(T0 + 600 * SEC), T0 + 600 * SEC);
        assert_eq!(sweeps(&mut e), 1, "one interval after the last");
        let mut stale = Engine::new(Tuning::default(), geometry());
        stale.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = stale.next_request(T0).unwrap();
        stale.on_reply(reply(&req, RepairOutcome::Refused(Refusal::StaleFilesystem)), T0);
        stale.on_event(&lost(T0 + SEC), T0 + SEC);
        assert_eq!(sweeps(&mut stale), 0, "stopped");
    }

    /// Pruning keeps each record exactly as long as it can change a decision: a settled
    /// target to the end of its echo grace, a given-up one to its time, a forbidden one for
    /// the window.
    #[test]
    fn pruning_keeps_each_record_as_long_as_it_decides() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::Repaired), T0);
        e.tick(T0 + 2 * SEC);
        assert_eq!(e.tracked(), 1, "the grace ends at 2 s, inclusive");
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 2 * SEC), T0 + 2 * SEC);
        assert_eq!(e.next_request(T0 + 2 * SEC), None, "still the echo");

        let mut g = Engine::new(Tuning::default(), geometry());
        g.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = g.next_request(T0).unwrap();
        g.on_reply(reply(&req, out_of_range()), T0);
        drain(&mut g, T0, &RepairOutcome::NoRepairNeeded);
        g.tick(T0 + 10 * SEC);
        assert_eq!(g.tracked(), 1, "given up until the window ends");
        g.tick(T0 + 600 * SEC);
        assert_eq!(g.tracked(), 0);

        let mut f = Engine::new(Tuning::default(), geometry()).with_guards(DefectSet::try_from(1).unwrap());
        f.on_event(&sick_inode(0x1, T0), T0);
        f.tick(T0 + 10 * SEC);
        f.on_event(&sick_inode(0x1, T0 + 11 * SEC), T0 + 11 * SEC);
        assert_eq!(count(&f.take_reports(), |r| matches!(r, Report::RepairForbidden { .. })), 1);
        f.tick(T0 + 600 * SEC);
        assert_eq!(f.tracked(), 0, "forgotten after the window");
    }

    /// Pruning runs at most once a second, from the clock tick and when the cap is reached.
    #[test]
    fn pruning_runs_once_a_second() {
        let settle = |e: &mut Engine, ino: u64, t: u64| {
            e.on_event(&sick_dir(ino, t), t);
            let req = e.next_request(t).unwrap();
            e.on_reply(reply(&req, RepairOutcome::Repaired), t);
        };
        let mut e = Engine::new(Tuning::default(), geometry());
        settle(&mut e, 131, T0);
        e.tick(T0 + 5 * SEC);
        assert_eq!(e.tracked(), 0, "a tick prunes");
        settle(&mut e, 132, T0 + 5 * SEC);
        e.tick(T0 + 5 * SEC + SEC - 1);
        assert_eq!(e.tracked(), 1, "not twice in a second");
        e.tick(T0 + 8 * SEC);
        assert_eq!(e.tracked(), 0);

        let mut c = Engine::new(Tuning { max_tracked: 1, ..Tuning::default() }, geometry());
        settle(&mut c, 131, T0);
        c.on_event(&sick_dir(132, T0 + 10 * SEC), T0 + 10 * SEC);
        assert_eq!(c.stats.untracked, 0, "the cap pruned the settled target");
        assert!(c.next_request(T0 + 10 * SEC).is_some());
        let req = c.next_request(T0 + 10 * SEC);
        assert_eq!(req, None);
    }

    /// Summaries say only what happened: no zero counts.
    #[test]
    fn summaries_never_say_zero() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0);
        drain(&mut e, T0, &RepairOutcome::NoRepairNeeded);
        // Failing, nothing suppressed, then fixed by something else; pruned; summarised.
        e.on_event(&inode_event(HealthStatus::Healthy, T0 + SEC), T0 + SEC);
        e.tick(T0 + 120 * SEC);
        e.finish();
        let reports = e.take_reports();
        let zero = |r: &Report| {
            matches!(
                r,
                Report::SickSuppressed { .. } | Report::Untracked { .. } | Report::DroppedAtEnd { .. }
            )
        };
        assert_eq!(count(&reports, zero), 0, "{reports:?}");
    }

    /// The end of the run counts what is left: queued, swept, in flight; nothing once
    /// stopped (the stop said how many it dropped).
    #[test]
    fn the_end_counts_exactly_what_was_left_undone() {
        let mut e = Engine::new(Tuning::default(), geometry());
        for ino in [131, 132, 133] {
            e.on_event(&sick_dir(ino, T0), T0);
        }
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0);
        let sweep = sweep_targets(&geometry()).len();
        let _ = e.next_request(T0).unwrap();
        e.finish();
        let left: Vec<Report> =
            e.take_reports().into_iter().filter(|r| matches!(r, Report::DroppedAtEnd { .. })).collect();
        assert_eq!(left, [Report::DroppedAtEnd { count: 1 + 1 + sweep }], "one queued, one sent");

        let mut s = Engine::new(Tuning::default(), geometry());
        s.on_event(&sick_dir(131, T0), T0);
        let shutdown = HealthEvent {
            time_ns: T0,
            kind: EventKind::Shutdown { reasons: ShutdownReasons::new(1).unwrap() },
        };
        s.on_event(&shutdown, T0);
        s.finish();
        assert_eq!(count(&s.take_reports(), |r| matches!(r, Report::DroppedAtEnd { .. })), 0);
    }

    /// A sweep lists each btree only where the filesystem has it.
    #[test]
    fn a_sweep_lists_each_btree_only_where_the_filesystem_has_it() {
        use xfs_heal_protocol::uapi::{
            XFS_FSOP_GEOM_FLAGS_REFLINK as REFLINK, XFS_FSOP_GEOM_FLAGS_RMAPBT as RMAP,
        };
        for features in [0, RMAP, REFLINK, RMAP | REFLINK] {
            let targets = sweep_targets(&Geometry::new(2, 2, features).unwrap());
            let ag = |k: AgScrub| {
                targets.iter().filter(|t| matches!(t, RepairTarget::Ag { kind, .. } if *kind == k)).count()
            };
            let rg = |k: RtGroupScrub| {
                targets
                    .iter()
                    .filter(|t| matches!(t, RepairTarget::RtGroup { kind, .. } if *kind == k))
                    .count()
            };
            let per = |on: bool| if on { 2 } else { 0 };
            assert_eq!(ag(AgScrub::Rmapbt), per(features & RMAP != 0), "{features:#x}");
            assert_eq!(ag(AgScrub::Refcountbt), per(features & REFLINK != 0), "{features:#x}");
            assert_eq!(rg(RtGroupScrub::Rmapbt), per(features & RMAP != 0), "{features:#x}");
            assert_eq!(rg(RtGroupScrub::Refcountbt), per(features & REFLINK != 0), "{features:#x}");
            assert_eq!(ag(AgScrub::Agf), 2);
            assert_eq!(rg(RtGroupScrub::Bitmap), 2);
        }
    }

    /// A failing target's counted reports are said when it stops failing (here: fixed by
    /// something else), not lost with its record.
    #[test]
    fn counted_reports_are_said_when_their_target_recovers() {
        let mut e = Engine::new(Tuning::default(), geometry());
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::KernelError(Errno::EINVAL)), T0);
        drain(&mut e, T0, &RepairOutcome::NoRepairNeeded);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + SEC), T0 + SEC);
        e.on_event(&inode_event(HealthStatus::Sick, T0 + 2 * SEC), T0 + 2 * SEC);
        let _ = e.take_reports();
        e.on_event(&inode_event(HealthStatus::Healthy, T0 + 3 * SEC), T0 + 3 * SEC);
        let said: Vec<Report> =
            e.take_reports().into_iter().filter(|r| matches!(r, Report::SickSuppressed { .. })).collect();
        assert_eq!(said, [Report::SickSuppressed { target: dir_target(), count: 2 }]);
    }

    fn full_check_reports(reports: &[Report]) -> Vec<&Report> {
        reports
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Report::FullCheckRequested { .. }
                        | Report::FullCheckStarted { .. }
                        | Report::FullCheckFinished { .. }
                        | Report::FullCheckUnavailable { .. }
                        | Report::Escalation { .. }
                        | Report::InvalidFullCheckNotice(_)
                )
            })
            .collect()
    }

    /// With systemd's trigger, an escalation asks for the full check once, instead of a
    /// sweep; nothing escalates again within the interval or while the check runs, and the
    /// check's end makes the next escalation (past the interval) ask again.
    #[test]
    fn escalations_ask_for_one_full_check_instead_of_a_sweep() {
        use xfs_heal_protocol::fullcheck::{Outcome, ScrubStatus};
        let mut e = Engine::new(Tuning::default(), geometry()).with_full_check();
        let lost = |t: u64| HealthEvent { time_ns: t, kind: EventKind::Lost { count: 3 } };
        e.on_event(&lost(T0), T0);
        assert!(e.take_full_check_request(), "asked once");
        assert!(!e.take_full_check_request(), "and only once");
        assert!(e.next_request(T0).is_none(), "no sweep: the full check covers it");
        e.on_event(&lost(T0 + SEC), T0 + SEC);
        assert!(!e.take_full_check_request(), "not again within the interval");
        let cause = EscalationCause::LostEvents { count: 3 };
        assert_eq!(full_check_reports(&e.take_reports()), [&Report::FullCheckRequested { cause }]);

        e.on_full_check_notice(Ok(Notice::Started));
        let later = T0 + Tuning::default().escalation_interval_ns + SEC;
        e.on_event(&lost(later), later);
        assert!(!e.take_full_check_request(), "not while it runs, even past the interval");
        let clean = Outcome::Exited(ScrubStatus::new(0).unwrap());
        e.on_full_check_notice(Ok(Notice::Finished(clean.clone())));
        assert_eq!(
            full_check_reports(&e.take_reports()),
            [&Report::FullCheckStarted { requested: true }, &Report::FullCheckFinished { outcome: clean }]
        );
        e.on_event(&lost(later + SEC), later + SEC);
        assert!(e.take_full_check_request(), "after it ended, past the interval: asked again");
        assert_eq!(e.stats.full_checks, 2);
        assert_eq!(e.stats.sweeps, 0);

        // A check started by someone else (xfs_scrub_all's timer) is said so.
        let mut other = Engine::new(Tuning::default(), geometry()).with_full_check();
        other.on_full_check_notice(Ok(Notice::Started));
        other.on_full_check_notice(Err(NoticeError::Unknown));
        assert_eq!(
            full_check_reports(&other.take_reports()),
            [
                &Report::FullCheckStarted { requested: false },
                &Report::InvalidFullCheckNotice(NoticeError::Unknown)
            ]
        );
        // Without the trigger, notices mean nothing and escalations sweep.
        let mut plain = Engine::new(Tuning::default(), geometry());
        plain.on_full_check_notice(Ok(Notice::Started));
        plain.on_event(&lost(T0), T0);
        assert!(!plain.take_full_check_request());
        assert!(plain.next_request(T0).is_some(), "the sweep's first request");
        assert!(matches!(full_check_reports(&plain.take_reports())[..], [Report::Escalation { .. }]));
    }

    /// A replay announces the sweep the live monitor would start, counts it as one, and
    /// never asks for a full check (a capture runs no systemd units).
    #[test]
    fn a_replay_counts_the_sweep_it_would_start() {
        let mut e = Engine::new(Tuning::default(), geometry()).dry_run().with_full_check();
        e.on_event(&HealthEvent { time_ns: T0, kind: EventKind::Lost { count: 4 } }, T0);
        e.on_event(&HealthEvent { time_ns: T0 + SEC, kind: EventKind::Lost { count: 4 } }, T0 + SEC);
        assert_eq!((e.stats.sweeps, e.stats.full_checks), (1, 0));
        assert!(!e.take_full_check_request());
        let reports = e.take_reports();
        assert!(full_check_reports(&reports).is_empty(), "{reports:?}");
        let cause = EscalationCause::LostEvents { count: 4 };
        assert_eq!(reports.iter().filter(|r| **r == Report::WouldSweep { cause }).count(), 1);
    }

    /// A failed repair asks for the check too; when the trigger cannot be written, the
    /// engine sweeps at once, as without systemd.
    #[test]
    fn an_unwritable_trigger_falls_back_to_the_sweep() {
        let mut e = Engine::new(Tuning::default(), geometry()).with_full_check();
        e.on_event(&inode_event(HealthStatus::Sick, T0), T0);
        let req = e.next_request(T0).unwrap();
        e.on_reply(reply(&req, RepairOutcome::Failed), T0 + SEC);
        assert!(e.take_full_check_request());
        e.full_check_unavailable("EAGAIN".into());
        let reports = e.take_reports();
        let said = full_check_reports(&reports);
        assert!(matches!(
            said[0],
            Report::FullCheckRequested { cause: EscalationCause::RepairFailed { .. } }
        ));
        assert_eq!(said[1], &Report::FullCheckUnavailable { why: "EAGAIN".into() });
        assert!(matches!(
            said[2],
            Report::Escalation { cause: EscalationCause::RepairFailed { .. }, structures: 46 }
        ));
        assert_eq!(said.len(), 3);
        assert!(e.next_request(T0 + SEC).is_some(), "the sweep runs");
        // Once fallen back, it stays with sweeps: a later notice changes nothing.
        e.full_check_unavailable("again".into());
        e.on_full_check_notice(Ok(Notice::Started));
        assert!(full_check_reports(&e.take_reports()).is_empty());
    }
}
