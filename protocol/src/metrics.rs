//! The metrics each monitor writes for node_exporter's textfile collector, and what
//! `xfs-heal status` reads back: one table of families from which the file's `# HELP` and
//! `# TYPE` lines, its samples and the reader's checks all derive; the file's name; the
//! rendering and a parser of the lines the monitor writes. No I/O.
//!
//! Naming follows the Prometheus guide: one `xfs_heal_` prefix, `_total` on counters, base
//! units (`_seconds`, timestamps as Unix seconds), and an `_info` gauge for the build. Every
//! sample carries `mountpoint` and `device`, named as node_exporter's filesystem collector
//! names them so the two join; at most one more label, from a closed set of values. Inode
//! numbers, paths and group numbers never become labels: they stay in the journal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Each monitor writes its file in a directory of its own beneath this one,
/// [`instance_dir`]: the only place its Landlock rule and its unit let it write, so no
/// monitor can touch another mount's file or any other name (systemd makes it, as the unit's
/// `StateDirectory=`). `xfs-heal status` reads here.
pub const STATE_DIR: &str = "/var/lib/xfs-heal/metrics";

/// Debian's node_exporter reads its textfile collector from here (its default). Nothing of
/// ours writes in it but root's `xfs-heal metrics-link`, which puts one symbolic link per
/// mount there, `xfs-heal@INSTANCE.prom`, to the file in [`instance_dir`].
pub const TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";

/// The monitor's own directory for the mount whose systemd-escaped path is `instance`.
pub fn instance_dir(instance: &str) -> String {
    format!("{STATE_DIR}/{instance}")
}

/// Is `name` an instance name as `systemd-escape --path` makes them, one path component
/// that fits a file name with our prefix and suffix? What the root verbs accept as their
/// argument, so a hostile `%i` cannot name another place.
pub fn is_instance(name: &str) -> bool {
    let fits = !name.is_empty() && file_name(name).len() <= 255;
    let chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.\\-".contains(&b));
    fits && chars && !name.starts_with('.')
}

/// A running monitor rewrites its file at least this often, changed or not.
pub const HEARTBEAT_SECS: u64 = 60;

/// A file older than this was left by a monitor that stopped writing: three heartbeats.
/// The shipped alert rules use the same age.
pub const STALE_SECS: u64 = 3 * HEARTBEAT_SECS;

/// Counter or gauge, as `# TYPE` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// One metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// The family's own label, beside `mountpoint` and `device`, if any.
    pub label: Option<&'static str>,
}

macro_rules! families {
    ($($id:ident = $name:literal, $kind:ident, $label:expr, $help:literal;)*) => {
        $(pub const $id: Family = Family { name: $name, kind: Kind::$kind, help: $help, label: $label };)*
        /// Every family, in the order the file lists them.
        pub const FAMILIES: &[Family] = &[$($id),*];
    };
}

families! {
    UP = "xfs_heal_up", Gauge, None,
        "1 while the monitor for this mount runs; the file is rewritten at least once a minute, so a stale file means a monitor that died.";
    BUILD_INFO = "xfs_heal_build_info", Gauge, Some("version"),
        "The monitor's version, as a label; the value is always 1.";
    REPAIRER_CONNECTED = "xfs_heal_repairer_connected", Gauge, None,
        "1 while the monitor is connected to its repairer (repairs possible), 0 while it reconnects.";
    EVENTS = "xfs_heal_events_total", Counter, Some("type"),
        "Health events read from the kernel, by type.";
    EVENTS_LOST = "xfs_heal_events_lost_total", Counter, None,
        "Events the kernel dropped because its queue was full, as its lost records counted them.";
    KERNEL_EVENTS_LOST = "xfs_heal_kernel_events_lost_total", Counter, None,
        "Events the kernel dropped, by its own counter (the health fd's fdinfo), which also counts losses no later record reported yet.";
    INVALID_RECORDS = "xfs_heal_invalid_records_total", Counter, None,
        "Records that failed validation and were skipped.";
    REPAIRS = "xfs_heal_repairs_total", Counter, Some("outcome"),
        "Repair requests answered, by outcome.";
    LAST_REPAIR_SUCCESS = "xfs_heal_last_repair_success_timestamp_seconds", Gauge, None,
        "When a repair last succeeded (Unix time); absent until one has.";
    ESCALATIONS = "xfs_heal_escalations_total", Counter, Some("action"),
        "Times spot repairs were not enough, by what followed: the full online check (xfs_scrub@) asked of systemd, or a sweep of group metadata.";
    FULL_CHECKS = "xfs_heal_full_checks_total", Counter, Some("outcome"),
        "Full online checks (xfs_scrub@) that ended while the monitor ran, by outcome.";
    SICK_OBJECTS = "xfs_heal_sick_objects", Gauge, Some("domain"),
        "Structures reported sick and not yet repaired or reported healthy, by domain.";
    OFFLINE_REPAIR_RECOMMENDED = "xfs_heal_offline_repair_recommended", Gauge, None,
        "1 once something online repair cannot fix was found: unmount and run xfs_repair.";
    SHUTDOWN = "xfs_heal_shutdown", Gauge, None,
        "1 once the filesystem has shut down.";
    MEDIA_ERRORS = "xfs_heal_media_errors_total", Counter, Some("volume"),
        "Media errors the kernel reported, by the filesystem's volume that failed (datadev, rtdev, logdev).";
    FILE_IO_ERRORS = "xfs_heal_file_io_errors_total", Counter, Some("kind"),
        "File I/O errors the kernel reported, by kind.";
    LAST_PROBLEM = "xfs_heal_last_problem_timestamp_seconds", Gauge, Some("kind"),
        "When a problem of each kind was last reported (Unix time).";
}

/// The closed sets of values the families' own labels take.
pub mod values {
    pub const EVENT_TYPES: &[&str] = &[
        "running",
        "lost",
        "unmount",
        "shutdown",
        "sick",
        "corrupt",
        "healthy",
        "media_error",
        "file_io_error",
    ];
    pub const DOMAINS: &[&str] = &["fs", "ag", "rtgroup", "inode"];
    pub const FILE_IO_KINDS: &[&str] =
        &["buffered_read", "buffered_write", "directio_read", "directio_write", "media"];
    pub const MEDIA_DEVICES: &[&str] = &["datadev", "rtdev", "logdev"];
    pub const REPAIR_OUTCOMES: &[&str] =
        &["repaired", "no_repair_needed", "offline_repair_recommended", "failed", "kernel_error", "refused"];
    pub const ESCALATION_ACTIONS: &[&str] = &["full_check", "sweep"];
    /// xfs_scrub left nothing, left errors, or did not finish.
    pub const FULL_CHECK_OUTCOMES: &[&str] = &["ok", "errors_left", "failed"];
    /// What `xfs_heal_last_problem_timestamp_seconds` tells apart.
    pub const PROBLEMS: &[&str] =
        &["sick", "shutdown", "media_error", "file_io_error", "lost", "repair_failed", "offline_repair"];
}

/// The file a monitor writes for the mount whose systemd-escaped path is `instance`
/// (`mnt-data`): named like its unit, so each mount has its own and one `ls` shows them.
pub fn file_name(instance: &str) -> String {
    format!("xfs-heal@{instance}.prom")
}

/// Where the file is written before it is renamed into place: not `*.prom`, so
/// node_exporter never reads it half-written, and hidden.
pub fn temp_name(instance: &str) -> String {
    format!(".xfs-heal@{instance}.prom.tmp")
}

/// Is `name` a file `file_name` made?
pub fn is_file_name(name: &str) -> bool {
    name.starts_with("xfs-heal@") && name.ends_with(".prom") && name.len() > "xfs-heal@.prom".len()
}

/// A label value as the text format needs it: backslash, double quote and newline escaped.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One sample to write: its family, the value of the family's own label (if it has one)
/// and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub family: Family,
    pub label: Option<String>,
    pub value: f64,
}

/// The whole file: for each family that has samples, `# HELP` and `# TYPE`, then its
/// samples, each with `mountpoint` and `device`; the order of `FAMILIES`.
pub fn render(mountpoint: &str, device: &str, samples: &[Sample]) -> String {
    let common = format!(
        "mountpoint=\"{}\",device=\"{}\"",
        escape_label_value(mountpoint),
        escape_label_value(device)
    );
    let mut out = String::new();
    for family in FAMILIES {
        let mut of_family = samples.iter().filter(|s| s.family.name == family.name).peekable();
        if of_family.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        for s in of_family {
            let own = match (family.label, &s.label) {
                (Some(name), Some(value)) => format!(",{name}=\"{}\"", escape_label_value(value)),
                _ => String::new(),
            };
            let _ = writeln!(out, "{}{{{common}{own}}} {}", family.name, s.value);
        }
    }
    out
}

/// One sample read back: the family's name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Why a file's line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub why: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for ParseError {}

/// Reads the samples of a file `render` wrote (comments skipped). Only what `render`
/// writes is accepted: `name{label="value",...} number`.
pub fn parse(text: &str) -> Result<Vec<ReadSample>, ParseError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |why| ParseError { line: i + 1, why };
        let (name, rest) = line.split_once('{').ok_or(err("no labels"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err("not a metric name"));
        }
        let (labels, rest) = parse_labels(rest).ok_or(err("malformed labels"))?;
        let value =
            rest.strip_prefix(' ').and_then(|v| v.trim().parse::<f64>().ok()).ok_or(err("no value"))?;
        samples.push(ReadSample { name: name.to_owned(), labels, value });
    }
    Ok(samples)
}

/// `a="x",b="y"}` and what follows the closing brace.
fn parse_labels(mut rest: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn instance_names_are_what_systemd_escape_makes_and_nothing_that_leaves_the_directory() {
        for good in ["mnt-data", "-", "srv-a\\x2db", "mnt-caf\\xc3\\xa9", "a:b_c.d"] {
            assert!(is_instance(good), "{good}");
        }
        for bad in ["", "..", ".hidden", "a/b", "../etc", "a b", "a\nb", "\u{e9}", &"x".repeat(300)] {
            assert!(!is_instance(bad), "{bad:?}");
        }
        assert_eq!(instance_dir("mnt-data"), "/var/lib/xfs-heal/metrics/mnt-data");
    }

    #[test]
    fn names_follow_the_naming_guide() {
        for f in FAMILIES {
            assert!(f.name.starts_with("xfs_heal_"), "{}", f.name);
            assert_eq!(f.kind == Kind::Counter, f.name.ends_with("_total"), "{}", f.name);
            assert!(!f.help.is_empty() && !f.help.contains('\n'), "{}", f.name);
            assert!(f.label.is_none_or(|l| l != "mountpoint" && l != "device"), "{}", f.name);
        }
        let mut names: Vec<_> = FAMILIES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len(), "a family twice");
    }

    #[test]
    fn renders_help_type_and_labelled_samples_and_reads_them_back() {
        let samples = [
            Sample { family: UP, label: None, value: 1.0 },
            Sample { family: REPAIRS, label: Some("repaired".into()), value: 3.0 },
            Sample { family: REPAIRS, label: Some("failed".into()), value: 0.0 },
        ];
        let text = render("/mnt/da\"ta", "/dev/loop0", &samples);
        assert_eq!(
            text,
            format!(
                "# HELP xfs_heal_up {}\n# TYPE xfs_heal_up gauge\n\
                 xfs_heal_up{{mountpoint=\"/mnt/da\\\"ta\",device=\"/dev/loop0\"}} 1\n\
                 # HELP xfs_heal_repairs_total {}\n# TYPE xfs_heal_repairs_total counter\n\
                 xfs_heal_repairs_total{{mountpoint=\"/mnt/da\\\"ta\",device=\"/dev/loop0\",outcome=\"repaired\"}} 3\n\
                 xfs_heal_repairs_total{{mountpoint=\"/mnt/da\\\"ta\",device=\"/dev/loop0\",outcome=\"failed\"}} 0\n",
                UP.help, REPAIRS.help
            )
        );
        let read = parse(&text).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[1].name, "xfs_heal_repairs_total");
        assert_eq!(read[1].labels["mountpoint"], "/mnt/da\"ta");
        assert_eq!(read[1].labels["outcome"], "repaired");
        assert_eq!(read[1].value, 3.0);
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        for bad in ["xfs_heal_up 1", "xfs heal{a=\"b\"} 1", "x{a=\"b} 1", "x{a=\"b\"}", "x{a=\"b\"} one"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("x{a=\"b\"}").unwrap_err(), ParseError { line: 1, why: "no value" });
    }

    #[test]
    fn every_repair_outcome_has_its_label_value() {
        use crate::{Errno, Refusal, RepairOutcome};
        let all = [
            RepairOutcome::Repaired,
            RepairOutcome::NoRepairNeeded,
            RepairOutcome::OfflineRepairRecommended,
            RepairOutcome::Failed,
            RepairOutcome::KernelError(Errno::EIO),
            RepairOutcome::Refused(Refusal::StaleFilesystem),
        ];
        let names: Vec<_> = all.iter().map(RepairOutcome::name).collect();
        assert_eq!(names, values::REPAIR_OUTCOMES);
    }

    #[test]
    fn file_names_are_told_apart() {
        assert_eq!(file_name("mnt-data"), "xfs-heal@mnt-data.prom");
        assert!(is_file_name(&file_name("mnt-data")));
        assert!(!is_file_name(&temp_name("mnt-data")));
        assert!(!is_file_name("xfs-heal@.prom") && !is_file_name("node.prom"));
    }

    proptest! {
        #[test]
        fn any_label_value_survives_the_round_trip(mount in "\\PC*", device in "[ -~]*", v in 0u32..1_000_000) {
            let text = render(&mount, &device, &[Sample { family: EVENTS, label: Some("sick".into()), value: f64::from(v) }]);
            let read = parse(&text).unwrap();
            prop_assert_eq!(&read[0].labels["mountpoint"], &mount);
            prop_assert_eq!(&read[0].labels["device"], &device);
            prop_assert_eq!(read[0].value, f64::from(v));
        }

        #[test]
        fn parse_never_panics(text in "\\PC*") {
            let _ = parse(&text);
        }
    }
}
