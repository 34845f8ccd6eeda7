//! What the monitor tells node_exporter's textfile collector (ARCHITECTURE.md, "Metrics"):
//! the counts and states of one mount, kept as events and reports go by ([`Metrics`]), and
//! the file they are written to ([`TextFile`]): at most once a second when something
//! changed and once a minute regardless, through a temporary name and a rename, so the
//! collector never reads half a file and a stale file means a dead monitor.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};
use xfs_heal_protocol::fullcheck::{Outcome, ScrubStatus};
use xfs_heal_protocol::metrics::{self as m, values, Family, Sample};
use xfs_heal_protocol::{RepairOutcome, RepairTarget, Scope};

use crate::domains;
use crate::event::{Device, EventKind, FileIoKind, HealthEvent, HealthStatus, MetadataObject};
use crate::report::Report;

/// Most sick objects (an inode, an AG, an rtgroup, the filesystem) tracked one by one for
/// `xfs_heal_sick_objects`; past it, new ones are not counted (the engine escalates long
/// before: a full check looks at everything anyway).
const MAX_SICK: usize = 4_096;
/// A changed state waits at most this long for the next write, so a storm of events is one
/// write a second, not one per event.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Unchanged, the file is still rewritten this often: its age tells a dead monitor.
pub const HEARTBEAT: Duration = Duration::from_secs(m::HEARTBEAT_SECS);

/// The kinds of `xfs_heal_last_problem_timestamp_seconds`, in `values::PROBLEMS` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Sick,
    Shutdown,
    MediaError,
    FileIoError,
    Lost,
    RepairFailed,
    OfflineRepair,
}

/// Where each event, outcome and error lands in its family's counters: positions in the
/// `values` tables, which name them (the tests check every position against its name).
const fn event_index(kind: &EventKind) -> usize {
    match kind {
        EventKind::Running => 0,
        EventKind::Lost { .. } => 1,
        EventKind::Unmount => 2,
        EventKind::Shutdown { .. } => 3,
        EventKind::Metadata { status: HealthStatus::Sick, .. } => 4,
        EventKind::Metadata { status: HealthStatus::Corrupt, .. } => 5,
        EventKind::Metadata { status: HealthStatus::Healthy, .. } => 6,
        EventKind::Media { .. } => 7,
        EventKind::FileIo { .. } => 8,
    }
}

const fn outcome_index(outcome: &RepairOutcome) -> usize {
    match outcome {
        RepairOutcome::Repaired => 0,
        RepairOutcome::NoRepairNeeded => 1,
        RepairOutcome::OfflineRepairRecommended => 2,
        RepairOutcome::Failed => 3,
        RepairOutcome::KernelError(_) => 4,
        RepairOutcome::Refused(_) => 5,
    }
}

const fn volume_index(device: Device) -> usize {
    match device {
        Device::Data => 0,
        Device::Rt => 1,
        Device::Log => 2,
    }
}

const fn file_io_index(kind: FileIoKind) -> usize {
    match kind {
        FileIoKind::BufferedRead => 0,
        FileIoKind::BufferedWrite => 1,
        FileIoKind::DirectRead => 2,
        FileIoKind::DirectWrite => 3,
        FileIoKind::DataLost => 4,
    }
}

/// A sick object: its domain, number (AG, rtgroup or inode; 0 for the filesystem) and, for
/// an inode, its generation.
type ObjectKey = (Scope, u64, u32);

fn object_key(object: &MetadataObject) -> (ObjectKey, u32) {
    match *object {
        MetadataObject::Fs { mask } => ((Scope::Fs, 0, 0), mask.bits()),
        MetadataObject::Ag { agno, mask } => ((Scope::Ag, agno.into(), 0), mask.bits()),
        MetadataObject::RtGroup { rgno, mask } => ((Scope::RtGroup, rgno.into(), 0), mask.bits()),
        MetadataObject::Inode { ino, gen, mask } => ((Scope::Inode, ino, gen), mask.bits()),
    }
}

/// The object a repair target belongs to, and the sick bits its repair mends.
fn target_key(target: &RepairTarget) -> (ObjectKey, u32) {
    fn bits<K: PartialEq + Copy>(rows: &[domains::Row<K>], kind: K) -> u32 {
        rows.iter().filter(|r| r.fix == domains::Fix::Scrub(kind)).fold(0, |m, r| m | r.bit)
    }
    match *target {
        RepairTarget::Fs { kind } => ((Scope::Fs, 0, 0), bits(domains::FS, kind)),
        RepairTarget::Ag { agno, kind } => ((Scope::Ag, agno.get().into(), 0), bits(domains::AG, kind)),
        RepairTarget::RtGroup { rgno, kind } => {
            ((Scope::RtGroup, rgno.get().into(), 0), bits(domains::RTGROUP, kind))
        }
        RepairTarget::Inode { ino, gen, kind } => {
            ((Scope::Inode, ino.get(), gen), bits(domains::INODE, kind))
        }
    }
}

/// One mount's counts and states. Counting an event is a few array increments and, for a
/// metadata event, one map update: the monitor's throughput is not the metrics' to spend.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    events: [u64; values::EVENT_TYPES.len()],
    repairs: [u64; values::REPAIR_OUTCOMES.len()],
    escalations: [u64; values::ESCALATION_ACTIONS.len()],
    full_checks: [u64; values::FULL_CHECK_OUTCOMES.len()],
    media_errors: [u64; values::MEDIA_DEVICES.len()],
    file_io_errors: [u64; values::FILE_IO_KINDS.len()],
    events_lost: u64,
    invalid_records: u64,
    /// Sick bits per object, from the events; cleared by a HEALTHY report or a repair.
    sick: BTreeMap<ObjectKey, u32>,
    shutdown: bool,
    offline_repair: bool,
    connected: bool,
    last_repair_ok_ns: Option<u64>,
    last_problem_ns: [Option<u64>; values::PROBLEMS.len()],
    kernel_lost: Option<u64>,
    changed: bool,
}

impl Metrics {
    pub fn new() -> Self {
        Self { changed: true, ..Self::default() }
    }

    fn problem(&mut self, kind: Problem, at_ns: u64) {
        let last = &mut self.last_problem_ns[kind as usize];
        *last = Some(last.map_or(at_ns, |l| l.max(at_ns)));
    }

    /// A decoded event, as the kernel sent it (before the engine absorbs repeats).
    pub fn on_event(&mut self, event: &HealthEvent) {
        let at = event.time_ns;
        self.changed = true;
        self.events[event_index(&event.kind)] += 1;
        match event.kind {
            EventKind::Running => {}
            EventKind::Lost { count } => {
                self.events_lost += count;
                self.problem(Problem::Lost, at);
            }
            EventKind::Unmount => self.sick.clear(),
            EventKind::Shutdown { .. } => {
                self.shutdown = true;
                self.problem(Problem::Shutdown, at);
            }
            EventKind::Metadata { status: HealthStatus::Healthy, object } => {
                let (key, bits) = object_key(&object);
                self.clear_sick(key, bits);
            }
            EventKind::Metadata { object, .. } => {
                let (key, bits) = object_key(&object);
                if self.sick.len() < MAX_SICK || self.sick.contains_key(&key) {
                    *self.sick.entry(key).or_default() |= bits;
                }
                self.problem(Problem::Sick, at);
            }
            EventKind::Media { device, .. } => {
                self.media_errors[volume_index(device)] += 1;
                self.problem(Problem::MediaError, at);
            }
            EventKind::FileIo { kind, .. } => {
                self.file_io_errors[file_io_index(kind)] += 1;
                self.problem(Problem::FileIoError, at);
            }
        }
    }

    fn clear_sick(&mut self, key: ObjectKey, bits: u32) {
        if let Some(left) = self.sick.get_mut(&key) {
            *left &= !bits;
            if *left == 0 {
                self.sick.remove(&key);
            }
        }
    }

    /// A record that failed validation.
    pub fn on_invalid_record(&mut self) {
        self.invalid_records += 1;
        self.changed = true;
    }

    /// A report on its way out: repairs, escalations, full checks. `now_ns` gives Unix time,
    /// asked only for the reports that record one.
    pub fn on_report(&mut self, report: &Report, now_ns: impl FnOnce() -> u64) {
        match report {
            Report::Named { report, .. } => return self.on_report(report, now_ns),
            Report::RepairResult { target, outcome } => {
                self.repairs[outcome_index(outcome)] += 1;
                match outcome {
                    RepairOutcome::Repaired | RepairOutcome::NoRepairNeeded => {
                        let (key, bits) = target_key(target);
                        self.clear_sick(key, bits);
                        if *outcome == RepairOutcome::Repaired {
                            self.last_repair_ok_ns = Some(now_ns());
                        }
                    }
                    RepairOutcome::OfflineRepairRecommended => {
                        self.offline_repair = true;
                        self.problem(Problem::OfflineRepair, now_ns());
                    }
                    RepairOutcome::Failed | RepairOutcome::KernelError(_) => {
                        self.problem(Problem::RepairFailed, now_ns());
                    }
                    RepairOutcome::Refused(_) => {}
                }
            }
            // Damage the kernel must not be asked to repair: only xfs_repair mends it.
            Report::RepairForbidden { .. } => {
                self.offline_repair = true;
                self.problem(Problem::OfflineRepair, now_ns());
            }
            Report::RepairAbandoned { .. } => self.problem(Problem::RepairFailed, now_ns()),
            Report::FullCheckRequested { .. } => self.escalations[0] += 1,
            Report::Escalation { .. } => self.escalations[1] += 1,
            Report::FullCheckFinished { outcome } => {
                let index = match outcome {
                    Outcome::Exited(s) if s.is_clean() => 0,
                    Outcome::Exited(s) if s.get() == ScrubStatus::ERRORS_LEFT => {
                        self.offline_repair = true;
                        self.problem(Problem::OfflineRepair, now_ns());
                        1
                    }
                    _ => 2,
                };
                self.full_checks[index] += 1;
            }
            _ => return,
        }
        self.changed = true;
    }

    pub fn set_connected(&mut self, connected: bool) {
        self.changed |= self.connected != connected;
        self.connected = connected;
    }

    pub fn set_kernel_lost(&mut self, lost: Option<u64>) {
        self.changed |= self.kernel_lost != lost;
        self.kernel_lost = lost;
    }

    /// Whether anything changed since the last [`Metrics::samples`].
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Every sample, counters of the closed label sets at zero included (so a first
    /// increase is seen as one), and marks them written.
    #[allow(clippy::cast_precision_loss)]
    pub fn samples(&mut self) -> Vec<Sample> {
        self.changed = false;
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        let one = |family: Family, label: Option<&str>, value: f64| Sample {
            family,
            label: label.map(str::to_owned),
            value,
        };
        let secs = |ns: u64| Duration::from_nanos(ns).as_secs_f64();
        let mut out = vec![
            one(m::UP, None, 1.0),
            one(m::BUILD_INFO, Some(env!("CARGO_PKG_VERSION")), 1.0),
            one(m::REPAIRER_CONNECTED, None, flag(self.connected)),
            one(m::EVENTS_LOST, None, self.events_lost as f64),
            one(m::INVALID_RECORDS, None, self.invalid_records as f64),
        ];
        if let Some(lost) = self.kernel_lost {
            out.push(one(m::KERNEL_EVENTS_LOST, None, lost as f64));
        }
        let labelled: [(Family, &[&str], &[u64]); 6] = [
            (m::EVENTS, values::EVENT_TYPES, &self.events),
            (m::REPAIRS, values::REPAIR_OUTCOMES, &self.repairs),
            (m::ESCALATIONS, values::ESCALATION_ACTIONS, &self.escalations),
            (m::FULL_CHECKS, values::FULL_CHECK_OUTCOMES, &self.full_checks),
            (m::MEDIA_ERRORS, values::MEDIA_DEVICES, &self.media_errors),
            (m::FILE_IO_ERRORS, values::FILE_IO_KINDS, &self.file_io_errors),
        ];
        for (family, labels, counts) in labelled {
            out.extend(labels.iter().zip(counts).map(|(l, n)| one(family, Some(l), *n as f64)));
        }
        for (domain, scope) in
            values::DOMAINS.iter().zip([Scope::Fs, Scope::Ag, Scope::RtGroup, Scope::Inode])
        {
            let n: u32 =
                self.sick.iter().filter(|((s, _, _), _)| *s == scope).map(|(_, b)| b.count_ones()).sum();
            out.push(one(m::SICK_OBJECTS, Some(domain), f64::from(n)));
        }
        out.push(one(m::OFFLINE_REPAIR_RECOMMENDED, None, flag(self.offline_repair)));
        out.push(one(m::SHUTDOWN, None, flag(self.shutdown)));
        if let Some(ns) = self.last_repair_ok_ns {
            out.push(one(m::LAST_REPAIR_SUCCESS, None, secs(ns)));
        }
        for (kind, at) in values::PROBLEMS.iter().zip(self.last_problem_ns) {
            if let Some(ns) = at {
                out.push(one(m::LAST_PROBLEM, Some(kind), secs(ns)));
            }
        }
        out
    }
}

/// The fd numbers the metrics calls may use, pinned in the seccomp filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsFds {
    pub dir: RawFd,
    pub fdinfo: Option<RawFd>,
}

/// The file one monitor writes in the textfile collector's directory.
#[derive(Debug)]
pub struct TextFile {
    /// The directory, opened before the sandbox closed: the only place the monitor may
    /// create, write, rename and remove files (its Landlock rule), and only regular files.
    dir: OwnedFd,
    name: String,
    temp: String,
    mountpoint: String,
    device: String,
    /// `/proc/self/fdinfo/N` of the health fd, opened before the sandbox: the kernel's own
    /// lost-event counter, read again at each write.
    fdinfo: Option<File>,
    last_write: Option<Instant>,
    /// Files written so far: the cost of the metrics, in the closing line.
    writes: u64,
    /// The last write failed (said once, until one succeeds).
    failing: bool,
}

impl TextFile {
    pub fn new(dir: OwnedFd, instance: &str, mountpoint: &str, device: &str, fdinfo: Option<File>) -> Self {
        Self {
            dir,
            name: m::file_name(instance),
            temp: m::temp_name(instance),
            mountpoint: mountpoint.to_owned(),
            device: device.to_owned(),
            fdinfo,
            last_write: None,
            writes: 0,
            failing: false,
        }
    }

    /// The file's name in its directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times the file was written.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The directory, for the Landlock rule.
    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// The fds the seccomp filter lets the metrics calls use: the directory and the fdinfo.
    pub fn fds(&self) -> MetricsFds {
        MetricsFds { dir: self.dir.as_raw_fd(), fdinfo: self.fdinfo.as_ref().map(AsRawFd::as_raw_fd) }
    }

    /// Whether to write now: never written, or changed a second after the last write, or a
    /// heartbeat due.
    pub fn due(&self, changed: bool, now: Instant) -> bool {
        self.last_write.is_none_or(|last| {
            let since = now.saturating_duration_since(last);
            since >= HEARTBEAT || (changed && since >= MIN_INTERVAL)
        })
    }

    /// Writes the metrics; returns a line to say when writing starts or stops failing.
    pub fn write(&mut self, metrics: &mut Metrics, now: Instant) -> Option<String> {
        if let Some(fdinfo) = &self.fdinfo {
            let mut buf = [0u8; 1024];
            let lost = nix::sys::uio::pread(fdinfo, &mut buf, 0).ok().and_then(|n| {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                text.lines().find_map(|l| l.strip_prefix("lost:")).and_then(|v| v.trim().parse().ok())
            });
            metrics.set_kernel_lost(lost);
        }
        let text = m::render(&self.mountpoint, &self.device, &metrics.samples());
        self.last_write = Some(now);
        let replaced = self.replace(&text);
        self.writes += u64::from(replaced.is_ok());
        match (replaced, self.failing) {
            (Ok(()), false) | (Err(_), true) => None,
            (Ok(()), true) => {
                self.failing = false;
                Some(format!("metrics: {} written again", self.name))
            }
            (Err(e), false) => {
                self.failing = true;
                Some(format!("metrics: cannot write {}: {e}; retrying", self.name))
            }
        }
    }

    /// The new contents under the temporary name, then renamed over the file.
    fn replace(&self, text: &str) -> nix::Result<()> {
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(0o644);
        let fd = match openat(self.dir.as_fd(), self.temp.as_str(), flags, mode) {
            // Left by a monitor that died between create and rename.
            Err(Errno::EEXIST) => {
                unlinkat(self.dir.as_fd(), self.temp.as_str(), UnlinkatFlags::NoRemoveDir)?;
                openat(self.dir.as_fd(), self.temp.as_str(), flags, mode)?
            }
            r => r?,
        };
        let written = File::from(fd)
            .write_all(text.as_bytes())
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
        if let Err(e) = written {
            let _ = unlinkat(self.dir.as_fd(), self.temp.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        renameat(self.dir.as_fd(), self.temp.as_str(), self.dir.as_fd(), self.name.as_str())
    }

    /// At a clean end (the filesystem unmounted): the file goes, so no stale file is left
    /// to look like a dead monitor.
    pub fn remove(&self) -> nix::Result<()> {
        unlinkat(self.dir.as_fd(), self.name.as_str(), UnlinkatFlags::NoRemoveDir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Device, FileIoKind, InodeMask, MetadataObject};
    use crate::report::EscalationCause;
    use xfs_heal_protocol::fullcheck::ScrubStatus;
    use xfs_heal_protocol::{uapi, InodeNumber, InodeScrub};

    fn value(m: &mut Metrics, family: Family, label: Option<&str>) -> Option<f64> {
        m.samples()
            .into_iter()
            .find(|s| s.family.name == family.name && s.label.as_deref() == label)
            .map(|s| s.value)
    }

    fn dir_event(status: HealthStatus, ino: u64) -> HealthEvent {
        let mask = InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap();
        HealthEvent {
            time_ns: 5_000_000_000,
            kind: EventKind::Metadata { status, object: MetadataObject::Inode { ino, gen: 1, mask } },
        }
    }

    fn dir_target(ino: u64) -> RepairTarget {
        RepairTarget::Inode { ino: InodeNumber::try_from(ino).unwrap(), gen: 1, kind: InodeScrub::Directory }
    }

    #[test]
    fn a_sick_structure_counts_until_repaired_or_healthy() {
        let mut m = Metrics::new();
        for ino in [130, 131, 131] {
            m.on_event(&dir_event(HealthStatus::Sick, ino));
        }
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(2.0));
        assert_eq!(value(&mut m, m::EVENTS, Some("sick")), Some(3.0));
        assert_eq!(value(&mut m, m::LAST_PROBLEM, Some("sick")), Some(5.0));
        let failed = Report::RepairResult { target: dir_target(130), outcome: RepairOutcome::Failed };
        m.on_report(&failed, || 7_000_000_000);
        assert_eq!(
            value(&mut m, m::SICK_OBJECTS, Some("inode")),
            Some(2.0),
            "a failed repair leaves it sick"
        );
        assert_eq!(value(&mut m, m::LAST_PROBLEM, Some("repair_failed")), Some(7.0));
        let fixed = Report::RepairResult { target: dir_target(130), outcome: RepairOutcome::Repaired };
        m.on_report(&fixed, || 8_000_000_000);
        m.on_event(&dir_event(HealthStatus::Healthy, 131));
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(0.0));
        assert_eq!(value(&mut m, m::REPAIRS, Some("repaired")), Some(1.0));
        assert_eq!(value(&mut m, m::REPAIRS, Some("failed")), Some(1.0));
        assert_eq!(value(&mut m, m::REPAIRS, Some("refused")), Some(0.0), "zeros are written too");
        assert_eq!(value(&mut m, m::LAST_REPAIR_SUCCESS, None), Some(8.0));
        m.on_event(&dir_event(HealthStatus::Sick, 132));
        m.on_event(&HealthEvent { time_ns: 9, kind: EventKind::Unmount });
        assert_eq!(
            value(&mut m, m::SICK_OBJECTS, Some("inode")),
            Some(0.0),
            "nothing is sick once unmounted"
        );
    }

    #[test]
    fn what_online_repair_cannot_fix_raises_the_offline_flag() {
        let mut m = Metrics::new();
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(0.0));
        let xfail = Report::RepairResult {
            target: dir_target(130),
            outcome: RepairOutcome::OfflineRepairRecommended,
        };
        m.on_report(&Report::Named { report: Box::new(xfail), path: "a/b".into() }, || 1);
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(1.0));
        let mut m = Metrics::new();
        let left = Outcome::Exited(ScrubStatus::new(ScrubStatus::ERRORS_LEFT).unwrap());
        m.on_report(&Report::FullCheckFinished { outcome: left }, || 1);
        assert_eq!(value(&mut m, m::FULL_CHECKS, Some("errors_left")), Some(1.0));
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(1.0));
        let clean = Outcome::Exited(ScrubStatus::new(0).unwrap());
        m.on_report(&Report::FullCheckFinished { outcome: clean }, || 1);
        assert_eq!(value(&mut m, m::FULL_CHECKS, Some("ok")), Some(1.0));
    }

    #[test]
    fn escalations_say_what_followed_and_errors_what_failed() {
        let mut m = Metrics::new();
        let cause = EscalationCause::LostEvents { count: 4 };
        m.on_report(&Report::FullCheckRequested { cause }, || 1);
        m.on_report(&Report::Escalation { cause, structures: 42 }, || 1);
        assert_eq!(value(&mut m, m::ESCALATIONS, Some("full_check")), Some(1.0));
        assert_eq!(value(&mut m, m::ESCALATIONS, Some("sweep")), Some(1.0));
        m.on_event(&HealthEvent { time_ns: 1, kind: EventKind::Lost { count: 4 } });
        m.on_event(&HealthEvent {
            time_ns: 1,
            kind: EventKind::Media { device: Device::Log, daddr: 0, bbcount: 1 },
        });
        let io =
            EventKind::FileIo { kind: FileIoKind::DirectWrite, ino: 1, gen: 0, pos: 0, len: 1, error: 5 };
        m.on_event(&HealthEvent { time_ns: 1, kind: io });
        m.on_event(&HealthEvent {
            time_ns: 1,
            kind: EventKind::Shutdown { reasons: crate::event::ShutdownReasons::new(1).unwrap() },
        });
        assert_eq!(value(&mut m, m::EVENTS_LOST, None), Some(4.0));
        assert_eq!(value(&mut m, m::MEDIA_ERRORS, Some("logdev")), Some(1.0));
        assert_eq!(value(&mut m, m::FILE_IO_ERRORS, Some("directio_write")), Some(1.0));
        assert_eq!(value(&mut m, m::SHUTDOWN, None), Some(1.0));
        assert_eq!(value(&mut m, m::KERNEL_EVENTS_LOST, None), None, "no fdinfo, no sample");
        m.set_kernel_lost(Some(9));
        assert_eq!(value(&mut m, m::KERNEL_EVENTS_LOST, None), Some(9.0));
    }

    #[test]
    fn every_counter_position_is_its_name_in_the_values_tables() {
        let mask = InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap();
        let object = MetadataObject::Inode { ino: 1, gen: 1, mask };
        let kinds = [
            (EventKind::Running, "running"),
            (EventKind::Lost { count: 1 }, "lost"),
            (EventKind::Unmount, "unmount"),
            (EventKind::Shutdown { reasons: crate::event::ShutdownReasons::new(1).unwrap() }, "shutdown"),
            (EventKind::Metadata { status: HealthStatus::Sick, object }, "sick"),
            (EventKind::Metadata { status: HealthStatus::Corrupt, object }, "corrupt"),
            (EventKind::Metadata { status: HealthStatus::Healthy, object }, "healthy"),
            (EventKind::Media { device: Device::Rt, daddr: 0, bbcount: 1 }, "media_error"),
            (
                EventKind::FileIo { kind: FileIoKind::DataLost, ino: 1, gen: 0, pos: 0, len: 1, error: 0 },
                "file_io_error",
            ),
        ];
        for (kind, name) in kinds {
            assert_eq!(values::EVENT_TYPES[event_index(&kind)], name);
        }
        for d in [Device::Data, Device::Rt, Device::Log] {
            assert_eq!(values::MEDIA_DEVICES[volume_index(d)], d.as_str());
        }
        for k in [
            FileIoKind::BufferedRead,
            FileIoKind::BufferedWrite,
            FileIoKind::DirectRead,
            FileIoKind::DirectWrite,
            FileIoKind::DataLost,
        ] {
            assert_eq!(values::FILE_IO_KINDS[file_io_index(k)], k.as_str());
        }
        let outcomes = [
            RepairOutcome::Repaired,
            RepairOutcome::NoRepairNeeded,
            RepairOutcome::OfflineRepairRecommended,
            RepairOutcome::Failed,
            RepairOutcome::KernelError(xfs_heal_protocol::Errno::EIO),
            RepairOutcome::Refused(xfs_heal_protocol::Refusal::StaleFilesystem),
        ];
        for o in outcomes {
            assert_eq!(values::REPAIR_OUTCOMES[outcome_index(&o)], o.name());
        }
        let problems = [
            (Problem::Sick, "sick"),
            (Problem::Shutdown, "shutdown"),
            (Problem::MediaError, "media_error"),
            (Problem::FileIoError, "file_io_error"),
            (Problem::Lost, "lost"),
            (Problem::RepairFailed, "repair_failed"),
            (Problem::OfflineRepair, "offline_repair"),
        ];
        for (p, name) in problems {
            assert_eq!(values::PROBLEMS[p as usize], name);
        }
        assert_eq!(values::ESCALATION_ACTIONS, ["full_check", "sweep"]);
        assert_eq!(values::FULL_CHECK_OUTCOMES, ["ok", "errors_left", "failed"]);
        assert_eq!(values::DOMAINS, ["fs", "ag", "rtgroup", "inode"]);
    }

    #[test]
    fn past_the_cap_new_sick_objects_are_not_tracked() {
        let mut m = Metrics::new();
        for ino in 0..(MAX_SICK as u64 + 10) {
            m.on_event(&dir_event(HealthStatus::Sick, 1000 + ino));
        }
        #[allow(clippy::cast_precision_loss)]
        let cap = MAX_SICK as f64;
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(cap));
        // A tracked one can still gain bits and heal.
        m.on_event(&dir_event(HealthStatus::Healthy, 1000));
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(cap - 1.0));
    }

    #[test]
    fn one_healed_structure_leaves_the_others_of_its_object_sick() {
        let mut m = Metrics::new();
        let both = InodeMask::new(uapi::XFS_BS_SICK_DIR | uapi::XFS_BS_SICK_XATTR).unwrap();
        let object = MetadataObject::Inode { ino: 140, gen: 1, mask: both };
        m.on_event(&HealthEvent {
            time_ns: 1,
            kind: EventKind::Metadata { status: HealthStatus::Sick, object },
        });
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(2.0));
        m.on_event(&dir_event(HealthStatus::Healthy, 140));
        assert_eq!(value(&mut m, m::SICK_OBJECTS, Some("inode")), Some(1.0), "the xattr fork is still sick");
    }

    #[test]
    fn invalid_records_forbidden_and_abandoned_repairs_are_kept() {
        let mut m = Metrics::new();
        m.on_invalid_record();
        m.on_invalid_record();
        assert_eq!(value(&mut m, m::INVALID_RECORDS, None), Some(2.0));
        m.on_report(
            &Report::RepairAbandoned { target: dir_target(1), attempts: 3, window_secs: 600 },
            || 3_000_000_000,
        );
        assert_eq!(value(&mut m, m::LAST_PROBLEM, Some("repair_failed")), Some(3.0));
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(0.0));
        let defect = xfs_heal_protocol::defects::DEFECTS[0].id;
        m.on_report(&Report::RepairForbidden { target: dir_target(1), defect }, || 4_000_000_000);
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(1.0));
        assert_eq!(value(&mut m, m::LAST_PROBLEM, Some("offline_repair")), Some(4.0));
        // A full check that could not run is a failure, not damage left behind.
        let broken = Outcome::Exited(ScrubStatus::new(ScrubStatus::OPERATIONAL).unwrap());
        let mut m = Metrics::new();
        m.on_report(&Report::FullCheckFinished { outcome: broken }, || 1);
        assert_eq!(value(&mut m, m::FULL_CHECKS, Some("failed")), Some(1.0));
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(0.0));
    }

    #[test]
    fn a_new_kernel_lost_count_is_a_change_the_same_one_is_not() {
        let mut m = Metrics::new();
        m.set_kernel_lost(Some(3));
        drop(m.samples());
        m.set_kernel_lost(Some(3));
        assert!(!m.changed());
        m.set_kernel_lost(Some(4));
        assert!(m.changed());
    }

    #[test]
    fn the_file_is_written_under_its_name_counted_and_removed() {
        let dir = std::env::temp_dir().join(format!("xfs-heal-textfile-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let fd = nix::fcntl::open(&dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .unwrap();
        let mut file = TextFile::new(fd, "mnt-x", "/mnt/x", "/dev/x", None);
        assert_eq!(file.name(), "xfs-heal@mnt-x.prom");
        // A temporary name a dead monitor left is cleared away.
        std::fs::write(dir.join(".xfs-heal@mnt-x.prom.tmp"), b"half").unwrap();
        let mut m = Metrics::new();
        assert_eq!(file.write(&mut m, Instant::now()), None);
        assert_eq!(file.writes(), 1);
        let text = std::fs::read_to_string(dir.join("xfs-heal@mnt-x.prom")).unwrap();
        assert!(text.contains("xfs_heal_up{mountpoint=\"/mnt/x\",device=\"/dev/x\"} 1\n"), "{text}");
        assert!(!dir.join(".xfs-heal@mnt-x.prom.tmp").exists());
        // Again, with no temporary name left: created afresh, and counted.
        assert_eq!(file.write(&mut m, Instant::now()), None);
        assert_eq!(file.writes(), 2);
        // A link planted at the temporary name is never written through (O_EXCL): it is
        // removed and a file made in its place.
        let victim = std::env::temp_dir().join(format!("xfs-heal-textfile-victim-{}", std::process::id()));
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(".xfs-heal@mnt-x.prom.tmp")).unwrap();
        assert_eq!(file.write(&mut m, Instant::now()), None);
        assert!(std::fs::read(&victim).unwrap() == b"precious", "written through the link");
        std::fs::remove_file(&victim).unwrap();
        file.remove().unwrap();
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
        // A directory gone: said once, then quiet until a write succeeds again.
        std::fs::remove_dir(&dir).unwrap();
        assert!(file
            .write(&mut m, Instant::now())
            .unwrap()
            .starts_with("metrics: cannot write xfs-heal@mnt-x.prom: "));
        assert_eq!(file.write(&mut m, Instant::now()), None);
        assert_eq!(file.writes(), 3);
    }

    #[test]
    fn every_label_value_written_is_one_of_its_family_set() {
        let mut m = Metrics::new();
        m.on_event(&dir_event(HealthStatus::Corrupt, 130));
        for s in m.samples() {
            assert_eq!(s.family.label.is_some(), s.label.is_some(), "{}", s.family.name);
        }
    }

    #[test]
    fn writes_are_batched_and_a_heartbeat_keeps_the_file_fresh() {
        let dir = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        let mut file = TextFile::new(dir, "x", "/x", "/dev/x", None);
        let t0 = Instant::now();
        assert!(file.due(false, t0), "the first write is at once");
        file.last_write = Some(t0);
        assert!(!file.due(true, t0 + Duration::from_millis(999)), "a change waits for the second");
        assert!(file.due(true, t0 + MIN_INTERVAL));
        assert!(!file.due(false, t0 + Duration::from_secs(59)), "nothing changed: no write");
        assert!(file.due(false, t0 + HEARTBEAT));
        let mut m = Metrics::new();
        assert!(m.changed());
        drop(m.samples());
        assert!(!m.changed());
        m.set_connected(false);
        assert!(!m.changed(), "the same state is no change");
        m.set_connected(true);
        assert!(m.changed());
    }
}
