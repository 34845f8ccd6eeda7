//! Everything the monitor tells an operator, in two forms: one human-readable line in the
//! wording operators know from xfs_healer, or one JSON object per line whose
//! schema ships in `monitor/schema/report.schema.json`.
//!
//! Inode events are reported by number (`ino N gen 0xG`): the monitor has no filesystem
//! access, so it cannot resolve paths. Mount paths are printed with control characters
//! escaped, so a hostile path cannot forge extra log lines.

use serde_json::{json, Map, Value};
use xfs_heal_protocol::defects::DefectId;
use xfs_heal_protocol::escape::escape_str;
use xfs_heal_protocol::fullcheck::{self, NoticeError, Outcome};
use xfs_heal_protocol::journal::Priority;
use xfs_heal_protocol::{RepairOutcome, RepairTarget};

#[cfg(feature = "json-replay")]
use crate::decode::json::JsonError;
use crate::decode::v0::{DecodeError, TruncatedRecord};
use crate::event::*;
use crate::policy::Unrepairable;

/// Why the engine started a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationCause {
    LostEvents { count: u64 },
    UndecodableSick,
    Unrepairable { domain: &'static str, structure: &'static str },
    RepairFailed { target: RepairTarget },
    TooManyTracked { cap: usize },
    TooManyQueued { cap: usize },
}

impl EscalationCause {
    /// Its name in JSON (`cause`) and the journal (`XFS_HEAL_CAUSE=`).
    pub const fn key(&self) -> &'static str {
        match self {
            Self::LostEvents { .. } => "lost_events",
            Self::UndecodableSick => "undecodable_sick",
            Self::Unrepairable { .. } => "unrepairable",
            Self::RepairFailed { .. } => "repair_failed",
            Self::TooManyTracked { .. } => "too_many_tracked",
            Self::TooManyQueued { .. } => "too_many_queued",
        }
    }
}

impl std::fmt::Display for EscalationCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LostEvents { count } => write!(f, "the kernel dropped {count} events"),
            Self::UndecodableSick => f.write_str("a sick report could not be decoded"),
            Self::Unrepairable { domain, structure } => {
                write!(f, "{domain} {structure} cannot be repaired on its own")
            }
            Self::RepairFailed { target } => write!(f, "repair of {target} failed"),
            Self::TooManyTracked { cap } => write!(f, "more than {cap} structures are outstanding at once"),
            Self::TooManyQueued { cap } => write!(f, "more than {cap} structures are waiting for repair"),
        }
    }
}

/// Why the engine stopped sending repairs for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Shutdown,
    Stale,
}

impl StopReason {
    pub const fn key(self) -> &'static str {
        match self {
            Self::Shutdown => "shutdown",
            Self::Stale => "stale_filesystem",
        }
    }

    pub const fn sentence(self) -> &'static str {
        match self {
            Self::Shutdown => "the filesystem has shut down",
            Self::Stale => {
                "the repairer no longer finds the monitored filesystem at its mount point (ESTALE)"
            }
        }
    }
}

/// The output format chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// One thing to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Event(HealthEvent),
    /// A V0 record that failed validation; decoding went on with the next one.
    InvalidRecord(DecodeError),
    /// A JSON-format event that failed to parse or to validate.
    #[cfg(feature = "json-replay")]
    InvalidJson(JsonError),
    /// The stream ended inside a record.
    Truncated(TruncatedRecord),
    /// A repair the monitor would send (`dry_run`) or has sent.
    RepairRequested {
        target: RepairTarget,
        dry_run: bool,
    },
    /// The repairer's answer.
    RepairResult {
        target: RepairTarget,
        outcome: RepairOutcome,
    },
    /// A sick structure no spot repair can fix.
    NeedsFullCheck(Unrepairable, MetadataObject),
    /// Spot repairs are not enough: a sweep of every filesystem-wide, AG and rtgroup
    /// structure begins (`structures` of them). Files and directories are not part of it.
    Escalation {
        cause: EscalationCause,
        structures: u32,
    },
    /// Escalation under systemd: the full online check (`xfs_scrub@`) is asked for.
    FullCheckRequested {
        cause: EscalationCause,
    },
    /// The full check's request could not be written: a sweep follows instead.
    FullCheckUnavailable {
        why: String,
    },
    /// The full check started; `requested`: because we asked (else a timer or a person did).
    FullCheckStarted {
        requested: bool,
    },
    /// The full check ended.
    FullCheckFinished {
        outcome: Outcome,
    },
    /// A line from the full check's hooks that is not a notice.
    InvalidFullCheckNotice(NoticeError),
    /// A replay's escalation: the live monitor would sweep here.
    WouldSweep {
        cause: EscalationCause,
    },
    /// No more repairs will be sent; `dropped` waiting ones were dropped.
    RepairsStopped {
        reason: StopReason,
        dropped: usize,
    },
    /// Sick reports a repair absorbed (queued, running, or its echo): one corruption, one call.
    SickAbsorbed {
        target: RepairTarget,
        count: u64,
    },
    /// Sick reports of new structures past the tracking cap, counted instead of tracked.
    Untracked {
        count: u64,
        cap: usize,
    },
    /// Repairs still waiting when the events ended.
    DroppedAtEnd {
        count: usize,
    },
    /// A reply to a request the engine did not send (or no longer waits for).
    UnknownReply {
        id: u64,
    },
    /// The end-of-run counters.
    RunSummary(crate::engine::Stats),
    /// A repair that would trigger a known kernel defect: not requested (`protocol::defects`).
    RepairForbidden {
        target: RepairTarget,
        defect: DefectId,
    },
    /// The sweep is over.
    SweepFinished {
        attempted: u32,
        fixed: u32,
        failed: u32,
    },
    /// A target's repairs keep failing; no more attempts for now.
    RepairAbandoned {
        target: RepairTarget,
        attempts: u32,
        window_secs: u64,
    },
    /// Sick reports for a target whose repairs are failing, counted instead of printed.
    SickSuppressed {
        target: RepairTarget,
        count: u64,
    },
    /// The monitor's own state: connections, modes, decisions, the end of the run.
    Status(String),
    /// A report about one inode, with the inode's path below the mount point (escaped,
    /// empty for the root directory) as the repairer named it (`--resolve-names`).
    Named {
        report: Box<Report>,
        path: String,
    },
}

impl Report {
    /// Does this belong to the routine chatter that `--quiet` suppresses? Mount-domain
    /// events, invalid input and repair outcomes are always shown, as in xfs_healer.
    pub fn is_routine(&self) -> bool {
        match self {
            Report::Named { report, .. } => report.is_routine(),
            Report::Event(e) => matches!(
                e.kind,
                EventKind::Metadata { .. } | EventKind::Media { .. } | EventKind::FileIo { .. }
            ),
            Report::RepairRequested { .. } | Report::SickAbsorbed { .. } => true,
            _ => false,
        }
    }

    /// How much an operator needs to see it (the journal's PRIORITY=): damage and failed
    /// repairs are errors or warnings, routine progress is info.
    pub fn priority(&self) -> Priority {
        match self {
            Report::Named { report, .. } => report.priority(),
            Report::Event(e) => match e.kind {
                EventKind::Running | EventKind::Unmount => Priority::Info,
                EventKind::Metadata { status: HealthStatus::Healthy, .. } => Priority::Info,
                EventKind::Shutdown { .. } => Priority::Err,
                EventKind::Lost { .. }
                | EventKind::Metadata { .. }
                | EventKind::Media { .. }
                | EventKind::FileIo { .. } => Priority::Warning,
            },
            Report::InvalidRecord(_) | Report::Truncated(_) | Report::InvalidFullCheckNotice(_) => {
                Priority::Warning
            }
            Report::FullCheckRequested { .. } | Report::FullCheckUnavailable { .. } => Priority::Warning,
            Report::FullCheckStarted { .. } => Priority::Notice,
            Report::FullCheckFinished { outcome } if outcome.is_clean() => Priority::Notice,
            Report::FullCheckFinished { .. } => Priority::Err,
            #[cfg(feature = "json-replay")]
            Report::InvalidJson(_) => Priority::Warning,
            Report::RepairRequested { .. }
            | Report::Status(_)
            | Report::SickAbsorbed { .. }
            | Report::RunSummary(_)
            | Report::UnknownReply { .. } => Priority::Info,
            Report::RepairsStopped { .. } | Report::Untracked { .. } | Report::DroppedAtEnd { .. } => {
                Priority::Warning
            }
            Report::RepairResult { outcome, .. } => match outcome {
                RepairOutcome::Repaired => Priority::Notice,
                RepairOutcome::NoRepairNeeded => Priority::Info,
                _ => Priority::Err,
            },
            Report::Escalation { .. } | Report::WouldSweep { .. } | Report::SickSuppressed { .. } => {
                Priority::Warning
            }
            Report::SweepFinished { failed: 0, .. } => Priority::Notice,
            Report::SweepFinished { .. }
            | Report::NeedsFullCheck(..)
            | Report::RepairAbandoned { .. }
            | Report::RepairForbidden { .. } => Priority::Err,
        }
    }

    /// The line in the chosen format, without a trailing newline.
    pub fn render(&self, mount: &str, format: Format) -> String {
        match format {
            Format::Text => self.text(mount),
            Format::Json => self.json(mount).to_string(),
        }
    }

    /// The human-readable line.
    pub fn text(&self, mount: &str) -> String {
        self.text_at(mount, None)
    }

    /// The inode a report is about, if it is about one: the lookup that names it.
    pub fn inode(&self) -> Option<(u64, u32)> {
        let of_target = |t: &RepairTarget| match t {
            RepairTarget::Inode { ino, gen, .. } => Some((ino.get(), *gen)),
            _ => None,
        };
        match self {
            Report::Event(e) => match e.kind {
                EventKind::Metadata { object: MetadataObject::Inode { ino, gen, .. }, .. }
                | EventKind::FileIo { ino, gen, .. } => Some((ino, gen)),
                _ => None,
            },
            Report::RepairRequested { target, .. }
            | Report::RepairResult { target, .. }
            | Report::RepairForbidden { target, .. }
            | Report::RepairAbandoned { target, .. }
            | Report::SickAbsorbed { target, .. }
            | Report::SickSuppressed { target, .. } => of_target(target),
            Report::NeedsFullCheck(_, MetadataObject::Inode { ino, gen, .. }) => Some((*ino, *gen)),
            _ => None,
        }
    }

    /// The line, with `path` (escaped, below the mount) in place of `ino N gen G`.
    fn text_at(&self, mount: &str, path: Option<&str>) -> String {
        let m = escape(mount);
        match self {
            Report::Named { report, path } => report.text_at(mount, Some(path)),
            Report::Event(e) => event_text(&m, e, path),
            Report::Escalation { cause, structures } => format!(
                "{m}: sweep of filesystem and group metadata started ({structures} structures) because {cause}; files and directories are not part of it, and no full online check can be started here (that needs systemd's xfs-heal-full-check@ units): run xfs_scrub -n {m} to check them."
            ),
            Report::FullCheckRequested { cause } => format!(
                "{m}: full online check requested because {cause}: {} checks every structure, files and directories included, and repairs what the autofsck property allows.",
                full_check_unit(mount)
            ),
            Report::FullCheckUnavailable { why } => format!(
                "{m}: could not ask systemd for the full online check ({}); sweeping instead.",
                escape(why)
            ),
            Report::FullCheckStarted { requested } => format!(
                "{m}: full online check started ({}{}).",
                full_check_unit(mount),
                if *requested { "" } else { ", not by us" }
            ),
            Report::FullCheckFinished { outcome } => format!(
                "{m}: full online check finished ({}): {}.",
                full_check_unit(mount),
                outcome.sentence()
            ),
            Report::InvalidFullCheckNotice(e) => format!("{m}: ignored {e}"),
            Report::WouldSweep { cause } => format!(
                "{m}: would sweep filesystem and group metadata because {cause} (files and directories are not part of a sweep)"
            ),
            Report::RepairsStopped { reason, dropped } => {
                format!("{m}: repairs stopped: {}; {dropped} waiting repairs dropped", reason.sentence())
            }
            Report::SickAbsorbed { target, count } => format!(
                "{} {}: {count} more sick reports were absorbed by this repair (queued, running or its echo)",
                target_prefix(&m, target, path),
                target.structure_name()
            ),
            Report::Untracked { count, cap } => format!(
                "{m}: {count} sick reports of further structures were not tracked one by one (more than {cap} outstanding); the sweep covers their groups"
            ),
            Report::DroppedAtEnd { count } => format!("{m}: {count} repairs were still waiting at the end; dropped"),
            Report::UnknownReply { id } => format!("{m}: ignored a reply to unknown request {id}"),
            Report::RunSummary(s) => format!(
                "{m}: {} events, {} sick reports: {} repair requests, {} absorbed, {} suppressed, {} sweeps, {} full checks",
                s.events, s.sick, s.repairs_sent, s.absorbed, s.suppressed, s.sweeps, s.full_checks
            ),
            Report::SweepFinished { attempted, fixed, failed: 0 } => format!(
                "{m}: sweep of filesystem and group metadata finished: {fixed} of {attempted} structures repaired or clean; files and directories were not checked: run xfs_scrub -n {m} to check them."
            ),
            Report::SweepFinished { attempted, fixed, failed } => format!(
                "{m}: sweep of filesystem and group metadata finished: {fixed} of {attempted} structures repaired or clean, {failed} could not be repaired online; offline repair required: run xfs_scrub -n {m}, then xfs_repair on the unmounted device."
            ),
            Report::RepairForbidden { target, defect } => {
                let d = defect.entry();
                format!(
                    "{} {}: not repairing online: known kernel defect {}: {}; instead, {}.",
                    target_prefix(&m, target, path),
                    target.structure_name(),
                    d.key,
                    d.reason,
                    d.instead
                )
            }
            Report::RepairAbandoned { target, attempts, window_secs } => format!(
                "{} {}: giving up after {attempts} failed repairs in {window_secs} s; offline repair required (xfs_repair on the unmounted device).",
                target_prefix(&m, target, path),
                target.structure_name()
            ),
            Report::SickSuppressed { target, count } => format!(
                "{} {}: {count} more sick reports while its repairs were failing (not printed one by one)",
                target_prefix(&m, target, path),
                target.structure_name()
            ),
            Report::Status(message) => format!("{m}: {}", escape(message)),
            Report::InvalidRecord(err) => format!("{m}: {err}"),
            #[cfg(feature = "json-replay")]
            Report::InvalidJson(err) => format!("{m}: {err}"),
            Report::Truncated(t) => format!("{m}: {t}"),
            Report::RepairRequested { target, dry_run: true } => {
                format!(
                    "{} {}: would request repair (scrub type {})",
                    target_prefix(&m, target, path),
                    target.structure_name(),
                    target.scrub_type()
                )
            }
            Report::RepairRequested { target, dry_run: false } => {
                format!("{} {}: repair requested", target_prefix(&m, target, path), target.structure_name())
            }
            Report::RepairResult { target, outcome } => {
                format!("{} {}: {}", target_prefix(&m, target, path), target.structure_name(), outcome.sentence())
            }
            Report::NeedsFullCheck(u, object) => {
                format!("{} {}: {}; a full check is needed.", object_prefix(&m, object, path), u.structure, u.why)
            }
        }
    }

    /// The JSON object.
    pub fn json(&self, mount: &str) -> Value {
        let mut o = Map::new();
        o.insert("mountpoint".into(), escape(mount).into());
        match self {
            Report::Named { report, path } => {
                if let Value::Object(inner) = report.json(mount) {
                    o = inner;
                }
                o.insert("path".into(), under(&escape(mount), path).into());
            }
            Report::Event(e) => {
                o.insert("kind".into(), "event".into());
                event_json(&mut o, e);
            }
            Report::Escalation { cause, structures } => {
                o.insert("kind".into(), "escalation".into());
                o.insert("cause".into(), cause.key().into());
                o.insert("reason".into(), cause.to_string().into());
                o.insert("swept".into(), "filesystem and group metadata".into());
                o.insert("structures".into(), (*structures).into());
            }
            Report::RepairForbidden { target, defect } => {
                let d = defect.entry();
                o.insert("kind".into(), "repair_forbidden".into());
                o.insert("target".into(), target_json(target));
                o.insert("defect".into(), d.key.into());
                o.insert("reason".into(), d.reason.into());
                o.insert("instead".into(), d.instead.into());
            }
            Report::SweepFinished { attempted, fixed, failed } => {
                o.insert("kind".into(), "sweep_finished".into());
                o.insert("attempted".into(), (*attempted).into());
                o.insert("fixed".into(), (*fixed).into());
                o.insert("failed".into(), (*failed).into());
            }
            Report::RepairAbandoned { target, attempts, window_secs } => {
                o.insert("kind".into(), "repair_abandoned".into());
                o.insert("target".into(), target_json(target));
                o.insert("attempts".into(), (*attempts).into());
                o.insert("window_secs".into(), (*window_secs).into());
            }
            Report::SickSuppressed { target, count } => {
                o.insert("kind".into(), "sick_suppressed".into());
                o.insert("target".into(), target_json(target));
                o.insert("count".into(), (*count).into());
            }
            Report::FullCheckRequested { cause } => {
                o.insert("kind".into(), "full_check_requested".into());
                o.insert("cause".into(), cause.key().into());
                o.insert("reason".into(), cause.to_string().into());
                o.insert("unit".into(), full_check_unit(mount).into());
            }
            Report::FullCheckUnavailable { why } => {
                o.insert("kind".into(), "full_check_unavailable".into());
                o.insert("reason".into(), escape(why).into());
            }
            Report::FullCheckStarted { requested } => {
                o.insert("kind".into(), "full_check_started".into());
                o.insert("requested".into(), (*requested).into());
                o.insert("unit".into(), full_check_unit(mount).into());
            }
            Report::FullCheckFinished { outcome } => {
                o.insert("kind".into(), "full_check_finished".into());
                o.insert("outcome".into(), outcome.key().into());
                if let Outcome::Exited(s) = outcome {
                    o.insert("exit_status".into(), s.get().into());
                }
                o.insert("unit".into(), full_check_unit(mount).into());
            }
            Report::InvalidFullCheckNotice(e) => {
                o.insert("kind".into(), "invalid_full_check_notice".into());
                o.insert("problem".into(), e.to_string().into());
            }
            Report::WouldSweep { cause } => {
                o.insert("kind".into(), "would_sweep".into());
                o.insert("cause".into(), cause.key().into());
                o.insert("reason".into(), cause.to_string().into());
            }
            Report::RepairsStopped { reason, dropped } => {
                o.insert("kind".into(), "repairs_stopped".into());
                o.insert("reason".into(), reason.key().into());
                o.insert("dropped".into(), (*dropped).into());
            }
            Report::SickAbsorbed { target, count } => {
                o.insert("kind".into(), "sick_absorbed".into());
                o.insert("target".into(), target_json(target));
                o.insert("count".into(), (*count).into());
            }
            Report::Untracked { count, cap } => {
                o.insert("kind".into(), "untracked".into());
                o.insert("count".into(), (*count).into());
                o.insert("cap".into(), (*cap).into());
            }
            Report::DroppedAtEnd { count } => {
                o.insert("kind".into(), "dropped_at_end".into());
                o.insert("count".into(), (*count).into());
            }
            Report::UnknownReply { id } => {
                o.insert("kind".into(), "unknown_reply".into());
                o.insert("request".into(), (*id).into());
            }
            Report::RunSummary(s) => {
                o.insert("kind".into(), "run_summary".into());
                for (key, value) in [
                    ("events", s.events),
                    ("sick", s.sick),
                    ("repairs_sent", s.repairs_sent),
                    ("absorbed", s.absorbed),
                    ("suppressed", s.suppressed),
                    ("sweeps", s.sweeps),
                    ("full_checks", s.full_checks),
                    ("untracked", s.untracked),
                ] {
                    o.insert(key.into(), value.into());
                }
            }
            Report::Status(message) => {
                o.insert("kind".into(), "status".into());
                o.insert("status".into(), message.as_str().into());
            }
            Report::InvalidRecord(err) => {
                o.insert("kind".into(), "invalid_record".into());
                o.insert("stream_offset".into(), err.stream_offset.into());
                o.insert("field".into(), err.error.field.into());
                o.insert("field_offset".into(), err.error.field_offset.into());
                o.insert("value".into(), err.error.value.into());
                o.insert("problem".into(), err.error.problem.to_string().into());
            }
            #[cfg(feature = "json-replay")]
            Report::InvalidJson(err) => {
                o.insert("kind".into(), "invalid_json_event".into());
                o.insert("object_index".into(), err.object_index.into());
                o.insert("problem".into(), err.problem.to_string().into());
            }
            Report::Truncated(t) => {
                o.insert("kind".into(), "truncated_stream".into());
                o.insert("stream_offset".into(), t.stream_offset.into());
                o.insert("bytes".into(), t.have.into());
            }
            Report::RepairRequested { target, dry_run } => {
                o.insert("kind".into(), "repair_requested".into());
                o.insert("dry_run".into(), (*dry_run).into());
                o.insert("target".into(), target_json(target));
            }
            Report::RepairResult { target, outcome } => {
                o.insert("kind".into(), "repair_result".into());
                o.insert("target".into(), target_json(target));
                let errno = match outcome {
                    RepairOutcome::KernelError(e) => Some(*e),
                    RepairOutcome::Refused(r) => Some(r.errno()),
                    _ => None,
                };
                o.insert("outcome".into(), outcome.name().into());
                if let Some(e) = errno {
                    o.insert("errno".into(), e.get().into());
                }
            }
            Report::NeedsFullCheck(u, object) => {
                o.insert("kind".into(), "needs_full_check".into());
                o.insert("domain".into(), u.domain.into());
                o.insert("structure".into(), u.structure.into());
                o.insert("reason".into(), u.why.into());
                object_ids_json(&mut o, object);
            }
        }
        o.insert("message".into(), self.text(mount).into());
        Value::Object(o)
    }
}

/// The full check's unit for this mount, as systemctl names it: `systemd-escape --path`
/// leaves nothing in it the escaper would change but its own backslashes, which must stay.
fn full_check_unit(mount: &str) -> String {
    fullcheck::unit_name(mount).unwrap_or_else(|| "xfs_scrub@.service".into())
}

/// Text from outside (the mount point, a reason built from what the system said), as every
/// rendering shows it: through the one escaper, `protocol::escape`.
fn escape(s: &str) -> String {
    escape_str(s).into_owned()
}

/// A path below the mount point `m` (both escaped): the mount point itself for the root.
fn under(m: &str, path: &str) -> String {
    if path.is_empty() {
        m.to_owned()
    } else {
        format!("{}/{path}", m.trim_end_matches('/'))
    }
}

/// How xfs_healer names an inode: its path when one is known, else its number and generation.
fn inode_prefix(m: &str, ino: u64, gen: u32, path: Option<&str>) -> String {
    match path {
        Some(path) => under(m, path),
        None => format!("{m} ino {ino} gen {gen:#x}"),
    }
}

fn object_prefix(m: &str, object: &MetadataObject, path: Option<&str>) -> String {
    match object {
        MetadataObject::Fs { .. } => m.to_owned(),
        MetadataObject::Ag { agno, .. } => format!("{m} agno {agno:#x}"),
        MetadataObject::RtGroup { rgno, .. } => format!("{m} rgno {rgno:#x}"),
        MetadataObject::Inode { ino, gen, .. } => inode_prefix(m, *ino, *gen, path),
    }
}

/// The prefix xfs_healer prints before a repaired structure's name.
pub fn target_prefix(m: &str, target: &RepairTarget, path: Option<&str>) -> String {
    match target {
        RepairTarget::Fs { .. } => m.to_owned(),
        RepairTarget::Ag { agno, .. } => format!("{m} agno {:#x}", agno.get()),
        RepairTarget::RtGroup { rgno, .. } => format!("{m} rgno {:#x}", rgno.get()),
        RepairTarget::Inode { ino, gen, .. } => inode_prefix(m, ino.get(), *gen, path),
    }
}

/// An errno as fstests' xfs_healer lines show it: strerror's words alone.
fn strerror(errno: i32) -> std::borrow::Cow<'static, str> {
    xfs_heal_protocol::strerror::words(errno)
}

fn event_text(m: &str, e: &HealthEvent, path: Option<&str>) -> String {
    match e.kind {
        EventKind::Running => format!("{m}: monitoring started"),
        EventKind::Unmount => format!("{m}: filesystem unmounted"),
        EventKind::Lost { count } => format!("{m}: {count} events lost"),
        EventKind::Shutdown { reasons } => {
            format!("{m}: filesystem shut down due to {}", reasons.names().collect::<Vec<_>>().join(", "))
        }
        EventKind::Metadata { status, object } => format!(
            "{} {}: {}",
            object_prefix(m, &object, path),
            object.structure_names().join(", "),
            status.as_str()
        ),
        EventKind::Media { device, daddr, bbcount } => {
            format!("{m} {} daddr {daddr:#x} bbcount {bbcount:#x}: media error", device.as_str())
        }
        EventKind::FileIo { kind, ino, gen, pos, len, error } => {
            let head = format!("{} pos {pos} len {len}: {}", inode_prefix(m, ino, gen, path), kind.as_str());
            if error == 0 || kind == FileIoKind::DataLost {
                format!("{head} failed")
            } else {
                format!("{head}: {}", strerror(i32::try_from(error).unwrap_or(i32::MAX)))
            }
        }
    }
}

fn object_ids_json(o: &mut Map<String, Value>, object: &MetadataObject) {
    match *object {
        MetadataObject::Fs { .. } => {}
        MetadataObject::Ag { agno, .. } => {
            o.insert("agno".into(), agno.into());
        }
        MetadataObject::RtGroup { rgno, .. } => {
            o.insert("rgno".into(), rgno.into());
        }
        MetadataObject::Inode { ino, gen, .. } => {
            o.insert("ino".into(), ino.into());
            o.insert("gen".into(), gen.into());
        }
    }
}

fn event_json(o: &mut Map<String, Value>, e: &HealthEvent) {
    o.insert("time_ns".into(), e.time_ns.into());
    let (domain, ty) = match e.kind {
        EventKind::Running => ("mount", "running"),
        EventKind::Lost { count } => {
            o.insert("count".into(), count.into());
            ("mount", "lost")
        }
        EventKind::Unmount => ("mount", "unmount"),
        EventKind::Shutdown { reasons } => {
            o.insert("reasons".into(), reasons.names().collect::<Vec<_>>().into());
            ("mount", "shutdown")
        }
        EventKind::Metadata { status, object } => {
            object_ids_json(o, &object);
            o.insert("structures".into(), object.structure_names().into());
            (object.domain_name(), status.as_str())
        }
        EventKind::Media { device, daddr, bbcount } => {
            o.insert("daddr".into(), daddr.into());
            o.insert("bbcount".into(), bbcount.into());
            (device.as_str(), "media_error")
        }
        EventKind::FileIo { kind, ino, gen, pos, len, error } => {
            o.insert("ino".into(), ino.into());
            o.insert("gen".into(), gen.into());
            o.insert("pos".into(), pos.into());
            o.insert("len".into(), len.into());
            o.insert("error".into(), error.into());
            ("filerange", kind.as_str())
        }
    };
    o.insert("domain".into(), domain.into());
    o.insert("type".into(), ty.into());
}

fn target_json(t: &RepairTarget) -> Value {
    let mut o = json!({
        "scope": t.scope().key(),
        "structure": t.structure_name(),
        "scrub_type": t.scrub_type(),
    });
    if let Value::Object(map) = &mut o {
        match t {
            RepairTarget::Fs { .. } => {}
            RepairTarget::Ag { agno, .. } => {
                map.insert("agno".into(), agno.get().into());
            }
            RepairTarget::RtGroup { rgno, .. } => {
                map.insert("rgno".into(), rgno.get().into());
            }
            RepairTarget::Inode { ino, gen, .. } => {
                map.insert("ino".into(), ino.get().into());
                map.insert("gen".into(), (*gen).into());
            }
        }
    }
    o
}

/// The JSON Schema (2020-12) every `--format json` line satisfies.
pub const REPORT_SCHEMA: &str = include_str!("../schema/report.schema.json");
