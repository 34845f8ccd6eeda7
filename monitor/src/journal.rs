//! Reports as journal entries with structured fields, when the monitor's stdout is the
//! journal (systemd sets `JOURNAL_STREAM`). The fields are the report's JSON object
//! (`schema/report.schema.json`) flattened: `XFS_HEAL_KIND=repair_result`,
//! `XFS_HEAL_OUTCOME=failed`, `XFS_HEAL_INO=131`, `XFS_HEAL_AGNO=1`, `XFS_HEAL_STRUCTURE=...`;
//! a nested target's fields sit beside the others, so the repairer's audit entries for the
//! same target carry the same names. Anywhere else the monitor prints plain lines.

use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;

use serde_json::Value;
use xfs_heal_protocol::journal::{self, Entry};

use crate::report::{Format, Report};

/// A connection to journald's native socket.
#[derive(Debug)]
pub struct Journal(UnixDatagram);

impl Journal {
    /// Connects when stdout is the journal stream (Ok(None) when it is not); must run before
    /// the sandbox: after it, sending is one write(2) on this socket, which seccomp allows.
    pub fn for_stdout() -> std::io::Result<Option<Self>> {
        let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
            return Ok(None);
        };
        let st = nix::sys::stat::fstat(std::io::stdout())?;
        if !journal::is_journal_stream(&stream.to_string_lossy(), st.st_dev, st.st_ino) {
            return Ok(None);
        }
        let sock = UnixDatagram::unbound()?;
        sock.connect(journal::SOCKET)?;
        Ok(Some(Self(sock)))
    }

    /// Sends one report; false if that failed (the caller prints the plain line instead).
    pub fn send(&self, report: &Report, mount: &str, format: Format) -> bool {
        nix::unistd::write(self.0.as_fd(), &entry(report, mount, format).into_bytes()).is_ok()
    }
}

/// The journal entry for one report: MESSAGE is the line `--format` would print. The JSON
/// object is built once and serves both the fields and the message (its "message" is the
/// text line).
pub fn entry(report: &Report, mount: &str, format: Format) -> Entry {
    let json = report.json(mount);
    let message = match format {
        Format::Json => json.to_string(),
        Format::Text => json.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
    };
    let entry = Entry::new("xfs-heal-monitor", report.priority(), &message);
    match &json {
        Value::Object(fields) => flatten(entry, fields),
        _ => entry,
    }
}

fn flatten(mut entry: Entry, fields: &serde_json::Map<String, Value>) -> Entry {
    for (key, value) in fields {
        entry = match value {
            Value::Object(inner) => flatten(entry, inner),
            _ if key == "message" => entry,
            Value::Null => entry,
            Value::String(s) => entry.field(key, s),
            Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                entry.field(key, items.join(","))
            }
            other => entry.field(key, other),
        };
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use xfs_heal_protocol::{InodeNumber, InodeScrub, RepairOutcome, RepairTarget};

    fn text(entry: Entry) -> String {
        String::from_utf8(entry.into_bytes()).unwrap()
    }

    #[test]
    fn a_repair_result_carries_its_target_and_outcome() {
        let target = RepairTarget::Inode {
            kind: InodeScrub::Directory,
            ino: InodeNumber::try_from(131).unwrap(),
            gen: 0x1c,
        };
        let report = Report::RepairResult { target, outcome: RepairOutcome::Failed };
        let e = text(entry(&report, "/mnt/data", Format::Text));
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(
            lines[0],
            "MESSAGE=/mnt/data ino 131 gen 0x1c directory: Repair unsuccessful; offline repair required."
        );
        assert_eq!(lines[1], "PRIORITY=3");
        assert_eq!(lines[2], "SYSLOG_IDENTIFIER=xfs-heal-monitor");
        for field in [
            "XFS_HEAL_KIND=repair_result",
            "XFS_HEAL_OUTCOME=failed",
            "XFS_HEAL_MOUNTPOINT=/mnt/data",
            "XFS_HEAL_SCOPE=inode",
            "XFS_HEAL_STRUCTURE=directory",
            "XFS_HEAL_INO=131",
            "XFS_HEAL_GEN=28",
        ] {
            assert!(lines.contains(&field), "{field} missing from\n{e}");
        }
        assert!(!e.contains("XFS_HEAL_MESSAGE"), "{e}");
    }

    #[test]
    fn every_report_in_the_sample_makes_a_valid_entry() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/sample.v0")).unwrap();
        let mut decoder = crate::decode::v0::V0Decoder::new();
        let mut n = 0;
        decoder.feed(&bytes, |r| {
            let report = match r {
                Ok(event) => Report::Event(event),
                Err(e) => Report::InvalidRecord(e),
            };
            let e = text(entry(&report, "/mnt/data", Format::Json));
            // Every line is NAME=value with a valid name; MESSAGE is the JSON line.
            for line in e.lines() {
                let (name, _) = line.split_once('=').unwrap();
                assert!(
                    name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                    "{line}"
                );
            }
            assert!(e.starts_with("MESSAGE={\""), "{e}");
            assert!(e.contains("XFS_HEAL_KIND=event\n"), "{e}");
            assert!(e.contains("XFS_HEAL_DOMAIN="), "{e}");
            n += 1;
        });
        assert_eq!(n, 9);
    }
}
