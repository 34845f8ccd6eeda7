//! Journal entries with structured fields, in the journal's native protocol
//! (systemd.io/JOURNAL_NATIVE_PROTOCOL): one datagram per entry to
//! `/run/systemd/journal/socket`, each field `NAME=value\n`, or, for a value holding a
//! newline, `NAME\n`, its length as u64 little-endian, the value and `\n`.
//!
//! Both daemons use it when their output is the journal, so an operator can ask
//! `journalctl XFS_HEAL_INO=131 XFS_HEAL_OUTCOME=failed`. Field names are shared: the
//! monitor's events and results and the repairer's audit entries name an inode, an AG, a
//! structure and an outcome the same way. The bytes are built here; sending is each side's.

use std::fmt::{self, Display};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::names::LookupRequest;
use crate::RepairTarget;

/// Where journald reads native entries.
pub const SOCKET: &str = "/run/systemd/journal/socket";
/// Prefix of every field of ours.
pub const FIELD_PREFIX: &str = "XFS_HEAL_";

/// syslog(3) priorities, as journald's PRIORITY= field takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// Is `journal_stream` (the `JOURNAL_STREAM` variable, "DEV:INO") the stream whose fstat gave
/// `dev` and `ino`? systemd sets it when it connects stdout/stderr to the journal; a match
/// means the output really goes there and was not redirected by the service.
pub fn is_journal_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = journal_stream.split_once(':') else {
        return false;
    };
    d.parse::<u64>().ok() == Some(dev) && i.parse::<u64>().ok() == Some(ino)
}

/// One journal entry under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry(Vec<u8>);

impl Entry {
    /// An entry with MESSAGE, PRIORITY and SYSLOG_IDENTIFIER.
    pub fn new(identifier: &str, priority: Priority, message: &str) -> Self {
        let mut entry = Self(Vec::with_capacity(256));
        entry.raw("MESSAGE", message);
        entry.raw("PRIORITY", &(priority as u8).to_string());
        entry.raw("SYSLOG_IDENTIFIER", identifier);
        entry
    }

    /// Adds `XFS_HEAL_<KEY>`: `key` is upper-cased and anything but A-Z, 0-9 and `_` becomes
    /// `_`, so no key can produce a name journald would drop or a second field.
    pub fn field(mut self, key: &str, value: impl Display) -> Self {
        let name: String = FIELD_PREFIX
            .chars()
            .chain(key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }))
            .take(64)
            .collect();
        self.raw(&name, &value.to_string());
        self
    }

    /// The repair target's fields, named as in the monitor's JSON reports: scope, structure,
    /// scrub_type and agno, rgno or ino and gen.
    pub fn target(self, target: &RepairTarget) -> Self {
        let entry = self
            .field("scope", target.scope().key())
            .field("structure", target.structure_name())
            .field("scrub_type", target.scrub_type());
        match target {
            RepairTarget::Fs { .. } => entry,
            RepairTarget::Ag { agno, .. } => entry.field("agno", agno.get()),
            RepairTarget::RtGroup { rgno, .. } => entry.field("rgno", rgno.get()),
            RepairTarget::Inode { ino, gen, .. } => entry.field("ino", ino.get()).field("gen", gen),
        }
    }

    /// The fields of what an audited request asked for.
    pub fn audited(self, what: Audited<'_>) -> Self {
        match what {
            Audited::Repair(target) => self.target(target),
            Audited::Lookup(r) => self.field("scope", "lookup").field("ino", r.ino.get()).field("gen", r.gen),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn raw(&mut self, name: &str, value: &str) {
        self.0.extend_from_slice(name.as_bytes());
        if value.contains('\n') {
            self.0.push(b'\n');
            self.0.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            self.0.push(b'=');
        }
        self.0.extend_from_slice(value.as_bytes());
        self.0.push(b'\n');
    }
}

/// What the repairer did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Issued,
    Refused,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Refused => "refused",
        }
    }
}

/// The repairer's audit record of one request: who asked, for what, and what came of it.
/// Rendered here as its line and its journal fields, so the two never disagree.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub peer_pid: i32,
    pub peer_uid: u32,
    pub request: u64,
    pub target: Audited<'a>,
    pub verdict: Verdict,
    /// The outcome's name (`RepairOutcome::name`), or "refused".
    pub outcome: &'a str,
    /// The kernel's answer, or the reason for the refusal.
    pub result: &'a str,
}

/// What a request asked for: a repair, or the name of an inode.
#[derive(Debug, Clone, Copy)]
pub enum Audited<'a> {
    Repair(&'a RepairTarget),
    Lookup(&'a LookupRequest),
}

impl fmt::Display for Audited<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repair(target) => target.fmt(f),
            Self::Lookup(r) => write!(f, "name of ino {} gen {:#x}", r.ino.get(), r.gen),
        }
    }
}

impl Audit<'_> {
    /// Issued repairs are notices; refusals warnings.
    pub const fn priority(&self) -> Priority {
        match self.verdict {
            Verdict::Issued => Priority::Notice,
            Verdict::Refused => Priority::Warning,
        }
    }

    pub fn message(&self) -> String {
        format!(
            "audit: pid={} uid={} request={} target=\"{}\" verdict={} result=\"{}\"",
            self.peer_pid,
            self.peer_uid,
            self.request,
            self.target,
            self.verdict.as_str(),
            self.result
        )
    }

    pub fn fields(&self, entry: Entry) -> Entry {
        entry
            .field("kind", "audit")
            .field("peer_pid", self.peer_pid)
            .field("peer_uid", self.peer_uid)
            .field("request", self.request)
            .audited(self.target)
            .field("verdict", self.verdict.as_str())
            .field("outcome", self.outcome)
            .field("result", self.result)
    }
}

/// Log lines a daemon could not write because its reader fell behind: counted in all, and
/// since the last warning about them. Shared by every writer of the process.
#[derive(Debug, Default)]
pub struct Drops {
    total: AtomicU64,
    unreported: AtomicU64,
}

impl Drops {
    pub const fn new() -> Self {
        Self { total: AtomicU64::new(0), unreported: AtomicU64::new(0) }
    }

    /// One line was not written.
    pub fn dropped(&self) {
        self.total.fetch_add(1, Relaxed);
        self.unreported.fetch_add(1, Relaxed);
    }

    /// Lines dropped since startup.
    pub fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }

    /// The warning due before the next line, if lines were dropped since the last one: its
    /// message and count. Taken: give the count back ([`Drops::restore`]) if it is not written.
    pub fn take_warning(&self) -> Option<(String, u64)> {
        let n = self.unreported.swap(0, Relaxed);
        (n > 0).then(|| (format!("{n} log lines were dropped: the log was not read fast enough"), n))
    }

    pub fn restore(&self, n: u64) {
        self.unreported.fetch_add(n, Relaxed);
    }

    /// The warning's journal fields.
    pub fn fields(entry: Entry, n: u64) -> Entry {
        entry.field("kind", "log_dropped").field("dropped", n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgNumber, AgScrub, FsScrub, InodeNumber, InodeScrub};

    #[test]
    fn simple_fields_are_name_equals_value_lines() {
        let e = Entry::new("xfs-heal-monitor", Priority::Warning, "/mnt: sick")
            .field("kind", "event")
            .field("time_ns", 12);
        assert_eq!(
            e.into_bytes(),
            b"MESSAGE=/mnt: sick\nPRIORITY=4\nSYSLOG_IDENTIFIER=xfs-heal-monitor\nXFS_HEAL_KIND=event\nXFS_HEAL_TIME_NS=12\n"
        );
    }

    #[test]
    fn a_value_with_a_newline_is_length_prefixed_so_it_cannot_forge_fields() {
        let e = Entry::new("x", Priority::Info, "a\nPRIORITY=0");
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&12u64.to_le_bytes());
        want.extend_from_slice(b"a\nPRIORITY=0\nPRIORITY=6\nSYSLOG_IDENTIFIER=x\n");
        assert_eq!(e.into_bytes(), want);
    }

    #[test]
    fn keys_become_valid_field_names() {
        let e = Entry::new("x", Priority::Info, "m").field("a-b.c\n=d", 1).into_bytes();
        assert!(e.ends_with(b"XFS_HEAL_A_B_C__D=1\n"), "{}", String::from_utf8_lossy(&e));
    }

    #[test]
    fn targets_name_their_scope_and_numbers() {
        let fields = |t: RepairTarget| {
            let e = Entry::new("x", Priority::Info, "m").target(&t).into_bytes();
            String::from_utf8(e).unwrap().lines().skip(3).map(str::to_owned).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(
            fields(RepairTarget::Fs { kind: FsScrub::FsCounters }),
            "XFS_HEAL_SCOPE=fs XFS_HEAL_STRUCTURE=fscounters XFS_HEAL_SCRUB_TYPE=24"
        );
        let agno = AgNumber::try_from(1).unwrap();
        assert_eq!(
            fields(RepairTarget::Ag { kind: AgScrub::Inobt, agno }),
            "XFS_HEAL_SCOPE=ag XFS_HEAL_STRUCTURE=inobt XFS_HEAL_SCRUB_TYPE=7 XFS_HEAL_AGNO=1"
        );
        let ino = InodeNumber::try_from(131).unwrap();
        assert_eq!(
            fields(RepairTarget::Inode { kind: InodeScrub::Directory, ino, gen: 7 }),
            "XFS_HEAL_SCOPE=inode XFS_HEAL_STRUCTURE=directory XFS_HEAL_SCRUB_TYPE=15 XFS_HEAL_INO=131 XFS_HEAL_GEN=7"
        );
    }

    #[test]
    fn a_hostile_name_given_out_cannot_add_fields_to_the_audit_line() {
        use crate::names::{FsPath, LookupRequest};
        let name = "q\" verdict=refused peer_uid=0 x=\"y\u{202e}\u{200b}";
        let path = FsPath::try_from(vec![b"dir".to_vec(), name.as_bytes().to_vec()]).unwrap();
        let shown = path.to_string();
        let ask = LookupRequest { id: crate::RequestId(3), ino: InodeNumber::try_from(132).unwrap(), gen: 5 };
        let line = Audit {
            peer_pid: 42,
            peer_uid: 990,
            request: 3,
            target: Audited::Lookup(&ask),
            verdict: Verdict::Issued,
            outcome: "found",
            result: &shown,
        }
        .message();
        // Read as a log parser reads it: key=value, a value in quotes running to the next quote.
        let mut fields = vec![];
        let mut rest = line.strip_prefix("audit: ").unwrap();
        while let Some((key, after)) = rest.split_once('=') {
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => quoted.split_once('"').unwrap(),
                None => after.split_once(' ').unwrap_or((after, "")),
            };
            fields.push((key.trim().to_owned(), value.to_owned()));
            rest = next;
        }
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["pid", "uid", "request", "target", "verdict", "result"], "{line}");
        assert_eq!(fields[4].1, "issued");
        assert!(
            line.ends_with(
                "result=\"dir/q\\x22 verdict=refused peer_uid=0 x=\\x22y\\xe2\\x80\\xae\\xe2\\x80\\x8b\""
            ),
            "{line}"
        );
    }

    #[test]
    fn an_audit_record_renders_one_line_and_the_same_facts_as_fields() {
        let ino = InodeNumber::try_from(131).unwrap();
        let target = RepairTarget::Inode { kind: InodeScrub::Directory, ino, gen: 7 };
        let record = |verdict, outcome, result| Audit {
            peer_pid: 42,
            peer_uid: 990,
            request: 9,
            target: Audited::Repair(&target),
            verdict,
            outcome,
            result,
        };
        let refused = record(Verdict::Refused, "refused", "ESTALE: gone");
        assert_eq!(refused.priority(), Priority::Warning);
        assert_eq!(record(Verdict::Issued, "repaired", "ok").priority(), Priority::Notice);
        assert_eq!(
            refused.message(),
            format!(
                "audit: pid=42 uid=990 request=9 target=\"{target}\" verdict=refused result=\"ESTALE: gone\""
            )
        );
        let fields =
            String::from_utf8(refused.fields(Entry::new("x", Priority::Info, "m")).into_bytes()).unwrap();
        let fields: Vec<&str> = fields.lines().skip(3).collect();
        assert_eq!(
            fields,
            [
                "XFS_HEAL_KIND=audit",
                "XFS_HEAL_PEER_PID=42",
                "XFS_HEAL_PEER_UID=990",
                "XFS_HEAL_REQUEST=9",
                "XFS_HEAL_SCOPE=inode",
                "XFS_HEAL_STRUCTURE=directory",
                "XFS_HEAL_SCRUB_TYPE=15",
                "XFS_HEAL_INO=131",
                "XFS_HEAL_GEN=7",
                "XFS_HEAL_VERDICT=refused",
                "XFS_HEAL_OUTCOME=refused",
                "XFS_HEAL_RESULT=ESTALE: gone",
            ]
        );
    }

    #[test]
    fn a_lookup_is_audited_with_its_inode_and_the_name_given_out() {
        let request =
            LookupRequest { id: crate::RequestId(4), ino: InodeNumber::try_from(131).unwrap(), gen: 0xbeef };
        let record = Audit {
            peer_pid: 42,
            peer_uid: 990,
            request: 4,
            target: Audited::Lookup(&request),
            verdict: Verdict::Issued,
            outcome: "found",
            result: "dir/file",
        };
        assert_eq!(
            record.message(),
            "audit: pid=42 uid=990 request=4 target=\"name of ino 131 gen 0xbeef\" verdict=issued result=\"dir/file\""
        );
        let fields =
            String::from_utf8(record.fields(Entry::new("x", Priority::Info, "m")).into_bytes()).unwrap();
        assert!(fields.contains("XFS_HEAL_SCOPE=lookup\nXFS_HEAL_INO=131\nXFS_HEAL_GEN=48879\n"), "{fields}");
    }

    #[test]
    fn dropped_lines_are_warned_about_once_and_counted_in_all() {
        let d = Drops::new();
        assert_eq!(d.take_warning(), None);
        d.dropped();
        d.dropped();
        let (line, n) = d.take_warning().unwrap();
        assert_eq!((line.as_str(), n), ("2 log lines were dropped: the log was not read fast enough", 2));
        assert_eq!(d.take_warning(), None);
        // The warning itself could not be written: it is due again, with the next drop.
        d.restore(n);
        d.dropped();
        assert_eq!(d.take_warning().map(|w| w.1), Some(3));
        assert_eq!(d.total(), 3);
        let fields =
            String::from_utf8(Drops::fields(Entry::new("x", Priority::Warning, "m"), 3).into_bytes())
                .unwrap();
        assert!(fields.ends_with("XFS_HEAL_KIND=log_dropped\nXFS_HEAL_DROPPED=3\n"), "{fields}");
    }

    #[test]
    fn journal_stream_must_match_both_numbers() {
        assert!(is_journal_stream("8:1234", 8, 1234));
        assert!(!is_journal_stream("8:1234", 8, 1235));
        assert!(!is_journal_stream("8", 8, 1234));
        assert!(!is_journal_stream("", 0, 0));
    }
}
