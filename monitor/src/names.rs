//! Names for reports about one inode (`--resolve-names` on the repairer): a report that
//! names an inode waits, in order, until the repairer has named it or a deadline passes, and
//! then goes out with the path in place of `ino N gen G`, or without it.
//!
//! The request carries the inode number and generation from the kernel's own report, so the
//! monitor asks only about what it was told. Names are remembered (a failed lookup too, so a
//! storm of reports about an unnamable inode asks once), and a failed name is asked again
//! after a repair of that inode succeeds: the repair may have mended the directory tree.

use std::collections::{HashMap, VecDeque};

use xfs_heal_protocol::names::{LookupOutcome, LookupReply, LookupRequest};
use xfs_heal_protocol::{InodeNumber, RepairOutcome, RequestId};

use crate::report::Report;

/// How long a report waits for its name.
pub const WAIT_NS: u64 = 2_000_000_000;
/// Lookups asked and not yet answered, at most; beyond, reports go out unnamed.
pub const MAX_ASKED: usize = 64;
/// Reports waiting, at most; beyond, the oldest goes out unnamed.
pub const MAX_HELD: usize = 4096;
/// Names remembered, at most; when full, all are forgotten.
pub const MAX_KNOWN: usize = 4096;

/// An inode as the kernel names it: number and generation.
type Inode = (u64, u32);

/// What a lookup found: the path below the mount (escaped), or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Path(String),
    Unknown,
}

/// The naming stage between the engine's reports and the output.
#[derive(Debug, Default)]
pub struct Namer {
    on: bool,
    known: HashMap<Inode, Name>,
    /// Lookups sent, by request: the inode and when its reports stop waiting.
    asked: HashMap<RequestId, (Inode, u64)>,
    held: VecDeque<Report>,
    outbox: Vec<LookupRequest>,
    next_id: u64,
}

impl Namer {
    /// `on`: the repairer's Hello says it names inodes.
    pub fn new(on: bool) -> Self {
        Self { on, ..Self::default() }
    }

    /// A new Hello (after a reconnect) may say otherwise.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
    }

    /// Takes reports in order and returns those ready to print, in the same order.
    pub fn pass(&mut self, reports: Vec<Report>, now_ns: u64) -> Vec<Report> {
        if !self.on && self.held.is_empty() {
            return reports;
        }
        for report in reports {
            if let Some(inode) = report.inode().filter(|_| self.on) {
                if matches!(report, Report::RepairResult { outcome: RepairOutcome::Repaired, .. })
                    && self.known.get(&inode) == Some(&Name::Unknown)
                {
                    self.known.remove(&inode);
                }
                self.ask(inode, now_ns);
            }
            self.held.push_back(report);
        }
        self.release(now_ns)
    }

    /// The lookups to send now.
    pub fn take_requests(&mut self) -> Vec<LookupRequest> {
        std::mem::take(&mut self.outbox)
    }

    /// The repairer's answer; returns the reports it lets go.
    pub fn on_named(&mut self, reply: LookupReply, now_ns: u64) -> Vec<Report> {
        if let Some((inode, _)) = self.asked.remove(&reply.id) {
            let name = match reply.outcome {
                LookupOutcome::Found(path) => Name::Path(path.to_string()),
                LookupOutcome::Failed(_) | LookupOutcome::Refused(_) => Name::Unknown,
            };
            if self.known.len() >= MAX_KNOWN {
                self.known.clear();
            }
            self.known.insert(inode, name);
        }
        self.release(now_ns)
    }

    /// No answer will come to what was asked (the connection is gone, or there is none):
    /// the waiting reports go out unnamed. Nothing is remembered, so they are asked again.
    pub fn unanswered(&mut self, now_ns: u64) -> Vec<Report> {
        self.asked.clear();
        self.outbox.clear();
        self.release(now_ns)
    }

    /// Whether reports are waiting for names.
    pub fn waiting(&self) -> bool {
        !self.held.is_empty()
    }

    fn ask(&mut self, inode: Inode, now_ns: u64) {
        let asked = self.asked.values().any(|(i, _)| *i == inode);
        if asked || self.known.contains_key(&inode) || self.asked.len() >= MAX_ASKED {
            return;
        }
        let Ok(ino) = InodeNumber::try_from(inode.0) else { return };
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.asked.insert(id, (inode, now_ns.saturating_add(WAIT_NS)));
        self.outbox.push(LookupRequest { id, ino, gen: inode.1 });
    }

    /// Lets go, from the front, every report that no longer waits: not about an inode, its
    /// name known or not asked for, its wait over, or too many behind it.
    fn release(&mut self, now_ns: u64) -> Vec<Report> {
        self.asked.retain(|_, (_, until)| *until > now_ns);
        let mut out = Vec::new();
        while let Some(front) = self.held.front() {
            let inode = front.inode();
            let waits = inode.is_some_and(|i| self.asked.values().any(|(a, _)| *a == i));
            if waits && self.held.len() <= MAX_HELD {
                break;
            }
            let Some(report) = self.held.pop_front() else { break };
            out.push(match inode.and_then(|i| self.known.get(&i)) {
                Some(Name::Path(path)) => Report::Named { report: Box::new(report), path: path.clone() },
                _ => report,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use xfs_heal_protocol::names::{FsPath, LookupRefusal};
    use xfs_heal_protocol::{Errno, InodeScrub, RepairTarget};

    use super::*;
    use crate::event::{EventKind, FileIoKind, HealthEvent};

    fn io(ino: u64) -> Report {
        let kind =
            EventKind::FileIo { kind: FileIoKind::BufferedRead, ino, gen: 7, pos: 0, len: 4096, error: 5 };
        Report::Event(HealthEvent { time_ns: 1, kind })
    }

    fn repaired(ino: u64) -> Report {
        let ino = InodeNumber::try_from(ino).unwrap();
        let target = RepairTarget::Inode { kind: InodeScrub::Directory, ino, gen: 7 };
        Report::RepairResult { target, outcome: RepairOutcome::Repaired }
    }

    fn found(id: u64, names: &[&str]) -> LookupReply {
        let path = FsPath::try_from(names.iter().map(|n| n.as_bytes().to_vec()).collect::<Vec<_>>()).unwrap();
        LookupReply { id: RequestId(id), outcome: LookupOutcome::Found(path) }
    }

    fn path_of(r: &Report) -> Option<&str> {
        match r {
            Report::Named { path, .. } => Some(path),
            _ => None,
        }
    }

    #[test]
    fn off_passes_everything_through_and_asks_nothing() {
        let mut n = Namer::new(false);
        assert_eq!(n.pass(vec![io(131)], 0).len(), 1);
        assert!(n.take_requests().is_empty());
    }

    #[test]
    fn names_are_remembered_side_by_side_and_waiting_is_told() {
        let mut n = Namer::new(true);
        n.pass(vec![io(131), io(132)], 0);
        assert!(n.waiting());
        let asked = n.take_requests();
        n.on_named(found(asked[0].id.0, &["a"]), 1);
        assert!(n.waiting(), "132 still waits");
        n.on_named(found(asked[1].id.0, &["b"]), 2);
        assert!(!n.waiting());
        // Both known: reports about either go out named at once, nothing asked.
        let out = n.pass(vec![io(131), io(132)], 3);
        assert_eq!(out.iter().map(path_of).collect::<Vec<_>>(), [Some("a"), Some("b")]);
        assert!(n.take_requests().is_empty());
    }

    #[test]
    fn a_new_hello_turns_names_on_and_off() {
        let mut n = Namer::new(false);
        n.set_on(true);
        assert!(n.pass(vec![io(131)], 0).is_empty(), "waits for its name");
        assert_eq!(n.take_requests().len(), 1);
        n.set_on(false);
        // What waits still goes out in order; nothing new is asked.
        let out = n.pass(vec![io(132)], 1);
        assert!(out.is_empty());
        assert!(n.take_requests().is_empty());
        assert_eq!(n.unanswered(2).len(), 2);
    }

    #[test]
    fn a_report_waits_for_its_name_and_keeps_its_place() {
        let mut n = Namer::new(true);
        let status = Report::Status("x".into());
        assert!(n.pass(vec![io(131), status], 0).is_empty());
        let asked = n.take_requests();
        assert_eq!(asked.len(), 1);
        assert_eq!((asked[0].ino.get(), asked[0].gen), (131, 7));
        let out = n.on_named(found(asked[0].id.0, &["dir", "file"]), 1);
        assert_eq!(out.len(), 2);
        assert_eq!(path_of(&out[0]), Some("dir/file"));
        assert!(matches!(out[1], Report::Status(_)));
        // Known now: the next report about it goes out at once, named, with no new lookup.
        let again = n.pass(vec![io(131)], 2);
        assert_eq!(path_of(&again[0]), Some("dir/file"));
        assert!(n.take_requests().is_empty());
    }

    #[test]
    fn no_answer_in_time_lets_it_go_unnamed() {
        let mut n = Namer::new(true);
        assert!(n.pass(vec![io(131)], 0).is_empty());
        assert!(n.pass(vec![], WAIT_NS - 1).is_empty());
        let out = n.pass(vec![], WAIT_NS);
        assert_eq!(out.len(), 1);
        assert_eq!(path_of(&out[0]), None);
    }

    #[test]
    fn a_lost_connection_lets_everything_go() {
        let mut n = Namer::new(true);
        assert!(n.pass(vec![io(131), io(132)], 0).is_empty());
        assert_eq!(n.unanswered(1).len(), 2);
        assert!(!n.waiting());
    }

    #[test]
    fn a_failed_name_is_asked_once_and_again_after_a_successful_repair() {
        let mut n = Namer::new(true);
        n.pass(vec![io(131)], 0);
        let id = n.take_requests()[0].id;
        let failed = LookupReply { id, outcome: LookupOutcome::Failed(Errno::ENOENT) };
        assert_eq!(path_of(&n.on_named(failed, 1)[0]), None);
        // A storm about the same inode asks nothing more.
        assert_eq!(n.pass(vec![io(131), io(131)], 2).len(), 2);
        assert!(n.take_requests().is_empty());
        // The repair of that inode succeeded: its result asks again, and waits for it.
        assert!(n.pass(vec![repaired(131)], 3).is_empty());
        let retry = n.take_requests();
        assert_eq!(retry.len(), 1);
        assert_eq!(path_of(&n.on_named(found(retry[0].id.0, &["dir"]), 4)[0]), Some("dir"));
    }

    #[test]
    fn a_refusal_is_remembered_like_a_failure() {
        let mut n = Namer::new(true);
        n.pass(vec![io(131)], 0);
        let id = n.take_requests()[0].id;
        let refused = LookupReply { id, outcome: LookupOutcome::Refused(LookupRefusal::RateLimited) };
        assert_eq!(n.on_named(refused, 1).len(), 1);
        assert_eq!(n.pass(vec![io(131)], 2).len(), 1);
    }

    #[test]
    fn asking_and_waiting_are_bounded() {
        let mut n = Namer::new(true);
        let many: Vec<Report> = (0..MAX_ASKED as u64 + 10).map(|i| io(1000 + i)).collect();
        // Only the first MAX_ASKED are asked; the rest pass once they reach the front.
        assert!(n.pass(many, 0).is_empty());
        assert_eq!(n.take_requests().len(), MAX_ASKED);
        let flood: Vec<Report> = (0..MAX_HELD).map(|_| Report::Status("s".into())).collect();
        // More than MAX_HELD waiting: the oldest go out unnamed.
        assert!(!n.pass(flood, 1).is_empty());
        assert!(n.held.len() <= MAX_HELD);
    }

    #[test]
    fn an_answer_to_nothing_asked_changes_nothing() {
        let mut n = Namer::new(true);
        assert!(n.on_named(found(99, &["x"]), 0).is_empty());
        assert!(n.known.is_empty());
    }
}
