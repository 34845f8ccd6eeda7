//! What the monitor tells node_exporter's textfile collector (ARCHITECTURE.md, "Metrics"):
//! the counts and states of one mount, kept as events and reports go by ([`Metrics`]), and
//! the file they are written to ([`TextFile`]): at most once a second when something
//! changed and once a minute regardless, through a temporary name and a rename, so the
//! collector never reads half a file and a stale file means a dead monitor.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};
use xfs_heal_protocol::fullcheck::Outcome;
use xfs_heal_protocol::metrics::{self as m, values, Family, Sample};
use xfs_heal_protocol::{RepairOutcome, RepairTarget};

use crate::event::{EventKind, HealthEvent, HealthStatus};
use crate::policy;
use crate::report::Report;

/// Most sick structures tracked one by one for `xfs_heal_sick_objects`, as the engine.
const MAX_SICK: usize = 16_384;
/// A changed state waits at most this long for the next write, so a storm of events is one
/// write a second, not one per event.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Unchanged, the file is still rewritten this often: its age tells a dead monitor.
pub const HEARTBEAT: Duration = Duration::from_secs(m::HEARTBEAT_SECS);

/// One mount's counts and states.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// (family, the value of its own label, or "") to count.
    counts: BTreeMap<(&'static str, &'static str), u64>,
    sick: BTreeSet<RepairTarget>,
    shutdown: bool,
    offline_repair: bool,
    connected: bool,
    last_repair_ok_ns: Option<u64>,
    last_problem_ns: BTreeMap<&'static str, u64>,
    kernel_lost: Option<u64>,
    changed: bool,
}

impl Metrics {
    pub fn new() -> Self {
        Self { changed: true, ..Self::default() }
    }

    fn count(&mut self, family: Family, label: &'static str, by: u64) {
        *self.counts.entry((family.name, label)).or_default() += by;
        self.changed = true;
    }

    fn problem(&mut self, kind: &'static str, at_ns: u64) {
        let last = self.last_problem_ns.entry(kind).or_default();
        *last = (*last).max(at_ns);
        self.changed = true;
    }

    /// A decoded event, as the kernel sent it (before the engine absorbs repeats).
    pub fn on_event(&mut self, event: &HealthEvent) {
        let at = event.time_ns;
        let kind = match event.kind {
            EventKind::Running => "running",
            EventKind::Lost { count } => {
                self.count(m::EVENTS_LOST, "", count);
                self.problem("lost", at);
                "lost"
            }
            EventKind::Unmount => {
                self.sick.clear();
                "unmount"
            }
            EventKind::Shutdown { .. } => {
                self.shutdown = true;
                self.problem("shutdown", at);
                "shutdown"
            }
            EventKind::Metadata { status, .. } => {
                let targets = policy::targets_of(event);
                if status == HealthStatus::Healthy {
                    for t in &targets {
                        self.sick.remove(t);
                    }
                } else {
                    let room = MAX_SICK.saturating_sub(self.sick.len());
                    self.sick.extend(targets.into_iter().take(room));
                    self.problem("sick", at);
                }
                status.as_str()
            }
            EventKind::Media { device, .. } => {
                self.count(m::MEDIA_ERRORS, device.as_str(), 1);
                self.problem("media_error", at);
                "media_error"
            }
            EventKind::FileIo { kind, .. } => {
                self.count(m::FILE_IO_ERRORS, kind.as_str(), 1);
                self.problem("file_io_error", at);
                "file_io_error"
            }
        };
        self.count(m::EVENTS, kind, 1);
    }

    /// A record that failed validation.
    pub fn on_invalid_record(&mut self) {
        self.count(m::INVALID_RECORDS, "", 1);
    }

    /// A report on its way out: repairs, escalations, full checks. `now_ns` is Unix time.
    pub fn on_report(&mut self, report: &Report, now_ns: u64) {
        match report {
            Report::Named { report, .. } => self.on_report(report, now_ns),
            Report::RepairResult { target, outcome } => {
                self.count(m::REPAIRS, outcome.name(), 1);
                match outcome {
                    RepairOutcome::Repaired | RepairOutcome::NoRepairNeeded => {
                        self.sick.remove(target);
                        if *outcome == RepairOutcome::Repaired {
                            self.last_repair_ok_ns = Some(now_ns);
                        }
                    }
                    RepairOutcome::OfflineRepairRecommended => {
                        self.offline_repair = true;
                        self.problem("offline_repair", now_ns);
                    }
                    RepairOutcome::Failed | RepairOutcome::KernelError(_) => {
                        self.problem("repair_failed", now_ns);
                    }
                    RepairOutcome::Refused(_) => {}
                }
            }
            // Damage the kernel must not be asked to repair: only xfs_repair mends it.
            Report::RepairForbidden { .. } => {
                self.offline_repair = true;
                self.problem("offline_repair", now_ns);
                self.changed = true;
            }
            Report::RepairAbandoned { .. } => self.problem("repair_failed", now_ns),
            Report::FullCheckRequested { .. } => self.count(m::ESCALATIONS, "full_check", 1),
            Report::Escalation { .. } => self.count(m::ESCALATIONS, "sweep", 1),
            Report::FullCheckFinished { outcome } => {
                let label = match outcome {
                    Outcome::Exited(s) if s.is_clean() => "ok",
                    Outcome::Exited(s)
                        if s.get() == xfs_heal_protocol::fullcheck::ScrubStatus::ERRORS_LEFT =>
                    {
                        self.offline_repair = true;
                        self.problem("offline_repair", now_ns);
                        "errors_left"
                    }
                    _ => "failed",
                };
                self.count(m::FULL_CHECKS, label, 1);
            }
            _ => {}
        }
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
    pub fn samples(&mut self) -> Vec<Sample> {
        self.changed = false;
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        let one = |family: Family, label: Option<&str>, value: f64| Sample {
            family,
            label: label.map(str::to_owned),
            value,
        };
        let counted = |family: Family, label: &'static str| {
            #[allow(clippy::cast_precision_loss)]
            let n = self.counts.get(&(family.name, label)).copied().unwrap_or(0) as f64;
            n
        };
        let secs = |ns: u64| Duration::from_nanos(ns).as_secs_f64();
        let mut out = vec![
            one(m::UP, None, 1.0),
            one(m::BUILD_INFO, Some(env!("CARGO_PKG_VERSION")), 1.0),
            one(m::REPAIRER_CONNECTED, None, flag(self.connected)),
        ];
        let labelled: [(Family, &[&'static str]); 6] = [
            (m::EVENTS, values::EVENT_TYPES),
            (m::REPAIRS, values::REPAIR_OUTCOMES),
            (m::ESCALATIONS, values::ESCALATION_ACTIONS),
            (m::FULL_CHECKS, values::FULL_CHECK_OUTCOMES),
            (m::MEDIA_ERRORS, values::MEDIA_DEVICES),
            (m::FILE_IO_ERRORS, values::FILE_IO_KINDS),
        ];
        for family in [m::EVENTS_LOST, m::INVALID_RECORDS] {
            out.push(one(family, None, counted(family, "")));
        }
        if let Some(lost) = self.kernel_lost {
            #[allow(clippy::cast_precision_loss)]
            out.push(one(m::KERNEL_EVENTS_LOST, None, lost as f64));
        }
        for (family, labels) in labelled {
            out.extend(labels.iter().map(|l| one(family, Some(l), counted(family, l))));
        }
        for domain in values::DOMAINS {
            let n = self.sick.iter().filter(|t| t.scope().key() == *domain).count();
            #[allow(clippy::cast_precision_loss)]
            out.push(one(m::SICK_OBJECTS, Some(domain), n as f64));
        }
        out.push(one(m::OFFLINE_REPAIR_RECOMMENDED, None, flag(self.offline_repair)));
        out.push(one(m::SHUTDOWN, None, flag(self.shutdown)));
        if let Some(ns) = self.last_repair_ok_ns {
            out.push(one(m::LAST_REPAIR_SUCCESS, None, secs(ns)));
        }
        for kind in values::PROBLEMS {
            if let Some(ns) = self.last_problem_ns.get(kind) {
                out.push(one(m::LAST_PROBLEM, Some(kind), secs(*ns)));
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
        m.on_report(&failed, 7_000_000_000);
        assert_eq!(
            value(&mut m, m::SICK_OBJECTS, Some("inode")),
            Some(2.0),
            "a failed repair leaves it sick"
        );
        assert_eq!(value(&mut m, m::LAST_PROBLEM, Some("repair_failed")), Some(7.0));
        let fixed = Report::RepairResult { target: dir_target(130), outcome: RepairOutcome::Repaired };
        m.on_report(&fixed, 8_000_000_000);
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
        m.on_report(&Report::Named { report: Box::new(xfail), path: "a/b".into() }, 1);
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(1.0));
        let mut m = Metrics::new();
        let left = Outcome::Exited(ScrubStatus::new(ScrubStatus::ERRORS_LEFT).unwrap());
        m.on_report(&Report::FullCheckFinished { outcome: left }, 1);
        assert_eq!(value(&mut m, m::FULL_CHECKS, Some("errors_left")), Some(1.0));
        assert_eq!(value(&mut m, m::OFFLINE_REPAIR_RECOMMENDED, None), Some(1.0));
        let clean = Outcome::Exited(ScrubStatus::new(0).unwrap());
        m.on_report(&Report::FullCheckFinished { outcome: clean }, 1);
        assert_eq!(value(&mut m, m::FULL_CHECKS, Some("ok")), Some(1.0));
    }

    #[test]
    fn escalations_say_what_followed_and_errors_what_failed() {
        let mut m = Metrics::new();
        let cause = EscalationCause::LostEvents { count: 4 };
        m.on_report(&Report::FullCheckRequested { cause }, 1);
        m.on_report(&Report::Escalation { cause, structures: 42 }, 1);
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
