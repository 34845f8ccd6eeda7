//! `xfs-heal status`: one line per protected mount, read from the same metrics files
//! node_exporter serves to Prometheus, so the operator and the fleet see the same numbers.
//! The files are written by the monitors, not trusted: each is read within a size bound,
//! only if it is a regular file, every value it holds is shown through the one escaper
//! (`protocol::escape`), every cell of the table is bounded, and every sum saturates, so no
//! file can drive the terminal, forge a row, hide another mount's state or stop the command.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use xfs_heal_protocol::escape::Escaped;
use xfs_heal_protocol::metrics::{self as m, ReadSample};

/// More than this is not a file a monitor wrote.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The widest a cell of the text table gets, in characters; longer ones end in "...".
pub const MAX_CELL_CHARS: usize = 64;

/// How a mount is, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The file is older than [`m::STALE_SECS`]: its monitor stopped writing.
    Stale,
    ShutDown,
    OfflineRepairRecommended,
    Sick,
    Ok,
}

impl Health {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stale => "stale",
            Self::ShutDown => "shut down",
            Self::OfflineRepairRecommended => "offline repair",
            Self::Sick => "sick",
            Self::Ok => "ok",
        }
    }
}

/// The newest problem a file records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub kind: Escaped,
    /// Unix seconds.
    pub time: f64,
}

/// One mount, as its file says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountStatus {
    pub mountpoint: Escaped,
    pub device: Escaped,
    pub health: Health,
    pub sick_objects: u64,
    pub events: u64,
    pub repairs_ok: u64,
    pub repairs_failed: u64,
    pub last_problem: Option<Problem>,
    /// `systemctl is-active` of the mount's monitor unit, or "unknown" without systemd.
    pub unit: Escaped,
    pub file: Escaped,
    pub age_seconds: u64,
}

/// A file that could not be read, or said nothing a monitor says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    pub file: Escaped,
    pub why: Escaped,
}

/// Everything `status` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    pub mounts: Vec<MountStatus>,
    pub unreadable: Vec<Unreadable>,
}

impl Status {
    /// 0 when every mount is healthy, 1 when one needs attention (or a file is unreadable).
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.unreadable.is_empty() || self.mounts.iter().any(|s| s.health != Health::Ok))
    }
}

/// Reads every metrics file beneath `dir`: `dir/INSTANCE/xfs-heal@INSTANCE.prom`, as the
/// monitor units write them, and `dir/xfs-heal@INSTANCE.prom`, as a monitor run by hand with
/// `--metrics-dir dir` does. Directories are entered only if they are directories (not
/// links) named as an instance, and only their own instance's file is read.
/// `unit_states` answers for all the monitor units' names at once, in order.
pub fn read(dir: &Path, unit_states: impl FnOnce(&[String]) -> Vec<String>) -> std::io::Result<Status> {
    let mut found: Vec<(std::path::PathBuf, String)> = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let Ok(name) = entry.file_name().into_string() else { continue };
        if m::is_file_name(&name) {
            let instance = name.trim_start_matches("xfs-heal@").trim_end_matches(".prom").to_owned();
            found.push((dir.join(&name), instance));
        } else if m::is_instance(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let file = dir.join(&name).join(m::file_name(&name));
            if std::fs::symlink_metadata(&file).is_ok() {
                found.push((file, name));
            }
        }
    }
    found.sort();
    let now = SystemTime::now();
    let mut status = Status::default();
    let mut units = Vec::new();
    for (path, instance) in found {
        let file = Escaped::new(path.as_os_str().as_bytes());
        match read_file(&path, now).and_then(|(samples, age)| summarise(&samples, age)) {
            Ok(mut s) => {
                units.push(format!("xfs-heal-monitor@{instance}.service"));
                s.file = file;
                status.mounts.push(s);
            }
            Err(why) => status.unreadable.push(Unreadable { file, why: Escaped::of(&why) }),
        }
    }
    if !units.is_empty() {
        let states = unit_states(&units);
        for (i, s) in status.mounts.iter_mut().enumerate() {
            s.unit = Escaped::of(states.get(i).map_or("unknown", String::as_str));
        }
    }
    Ok(status)
}

/// A regular file (never through a symlink), at most [`MAX_FILE_BYTES`], and its age.
fn read_file(path: &Path, now: SystemTime) -> Result<(Vec<ReadSample>, u64), String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => "a symbolic link: not followed".to_owned(),
            _ => e.to_string(),
        })?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let age = meta.modified().ok().and_then(|t| now.duration_since(t).ok()).map_or(0, |d| d.as_secs());
    Ok((m::parse(&text).map_err(|e| e.to_string())?, age))
}

/// The mount's line, from its samples: refused without `xfs_heal_up`, or with a value no
/// monitor writes (negative, infinite or not a number), which could only hide a count.
pub fn summarise(samples: &[ReadSample], age_seconds: u64) -> Result<MountStatus, String> {
    let up = samples.iter().find(|s| s.name == m::UP.name).ok_or("no xfs_heal_up sample")?;
    if let Some(bad) = samples.iter().find(|s| !(s.value.is_finite() && s.value >= 0.0)) {
        return Err(format!("{} has a value no monitor writes: {}", bad.name, bad.value));
    }
    let label = |s: &ReadSample, name: &str| Escaped::of(s.labels.get(name).map_or("", String::as_str));
    // The samples of `family` whose own label is one of `values` (all of them, if none),
    // added up without overflow.
    let sum = |family: m::Family, values: &[&str]| -> u64 {
        let own = |s: &ReadSample| family.label.and_then(|l| s.labels.get(l)).cloned().unwrap_or_default();
        let of = samples.iter().filter(|s| s.name == family.name);
        let picked = of.filter(|s| values.is_empty() || values.contains(&own(s).as_str()));
        // Finite and not negative (checked above); `as` saturates past u64::MAX.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = picked.fold(0u64, |n, s| n.saturating_add(s.value as u64));
        n
    };
    let flag = |family: m::Family| sum(family, &[]) > 0;
    let sick_objects = sum(m::SICK_OBJECTS, &[]);
    let health = if age_seconds > m::STALE_SECS {
        Health::Stale
    } else if flag(m::SHUTDOWN) {
        Health::ShutDown
    } else if flag(m::OFFLINE_REPAIR_RECOMMENDED) {
        Health::OfflineRepairRecommended
    } else if sick_objects > 0 {
        Health::Sick
    } else {
        Health::Ok
    };
    let last_problem = samples
        .iter()
        .filter(|s| s.name == m::LAST_PROBLEM.name)
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .map(|s| Problem { kind: label(s, "kind"), time: s.value });
    Ok(MountStatus {
        mountpoint: label(up, "mountpoint"),
        device: label(up, "device"),
        health,
        sick_objects,
        events: sum(m::EVENTS, &[]),
        repairs_ok: sum(m::REPAIRS, &["repaired", "no_repair_needed"]),
        repairs_failed: sum(m::REPAIRS, &["failed", "kernel_error", "offline_repair_recommended"]),
        last_problem,
        unit: Escaped::default(),
        file: Escaped::default(),
        age_seconds,
    })
}

/// A cell of the text table, at most [`MAX_CELL_CHARS`] characters: what came from a file
/// is [`Escaped`] already, the rest is our own words.
fn cell(value: &str) -> String {
    bounded(value, MAX_CELL_CHARS)
}

/// `value`, or its first `most - 3` characters and "...".
fn bounded(value: &str, most: usize) -> String {
    if value.chars().count() <= most {
        return value.to_owned();
    }
    let mut short: String = value.chars().take(most - 3).collect();
    short.push_str("...");
    short
}

/// "3m ago", from Unix seconds.
fn ago(time: f64, now: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = (now - time).max(0.0) as u64;
    match secs {
        0..=119 => format!("{secs}s ago"),
        120..=7199 => format!("{}m ago", secs / 60),
        7200..=172_799 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// The table, one row per mount, then the files that could not be read.
pub fn render_text(status: &Status, now: SystemTime) -> String {
    let now = now.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let mut rows: Vec<[String; 7]> = vec![[
        "MOUNT".into(),
        "DEVICE".into(),
        "HEALTH".into(),
        "EVENTS".into(),
        "REPAIRS OK/FAILED".into(),
        "LAST PROBLEM".into(),
        "UNIT".into(),
    ]];
    for s in &status.mounts {
        let health = match s.health {
            Health::Sick => format!("sick ({})", s.sick_objects),
            Health::Stale => format!("stale ({}m old)", s.age_seconds / 60),
            h => h.as_str().to_owned(),
        };
        let problem =
            s.last_problem.as_ref().map_or("-".into(), |p| format!("{}, {}", p.kind, ago(p.time, now)));
        rows.push(
            [
                s.mountpoint.as_str(),
                s.device.as_str(),
                &health,
                &s.events.to_string(),
                &format!("{}/{}", s.repairs_ok, s.repairs_failed),
                &problem,
                s.unit.as_str(),
            ]
            .map(cell),
        );
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if status.mounts.is_empty() {
        out.push_str(
            "(no xfs-heal metrics files: no monitor is running, or it writes elsewhere: --metrics-dir)\n",
        );
    }
    for u in &status.unreadable {
        out.push_str(&format!(
            "unreadable: {}: {}\n",
            bounded(u.file.as_str(), 4 * MAX_CELL_CHARS),
            cell(u.why.as_str())
        ));
    }
    out
}

/// The same, as one JSON document.
pub fn render_json(status: &Status) -> String {
    serde_json::to_string_pretty(status).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// What systemd says of each unit: `systemctl is-active`'s word, asked once for all of
/// them (one line each, in order), or "unknown" where systemd is not running (or not
/// installed) or its answer does not line up.
pub fn unit_states(units: &[String]) -> Vec<String> {
    let known = ["active", "inactive", "failed", "activating", "deactivating", "reloading"];
    let out = std::process::Command::new("systemctl").arg("is-active").arg("--").args(units).output();
    let words: Vec<String> = match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout).lines().map(|w| w.trim().to_owned()).collect(),
        Err(_) => vec![],
    };
    if words.len() != units.len() {
        return vec!["unknown".into(); units.len()];
    }
    words.into_iter().map(|w| if known.contains(&w.as_str()) { w } else { "unknown".into() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xfs_heal_protocol::metrics::{render, Sample};

    fn file(samples: &[Sample]) -> Vec<ReadSample> {
        m::parse(&render("/mnt/data", "/dev/sdb1", samples)).unwrap()
    }
    fn s(family: m::Family, label: Option<&str>, value: f64) -> Sample {
        Sample { family, label: label.map(str::to_owned), value }
    }

    #[test]
    fn health_is_the_worst_thing_the_file_says() {
        let base = vec![s(m::UP, None, 1.0), s(m::SICK_OBJECTS, Some("inode"), 0.0)];
        let with = |extra: Vec<Sample>| [base.clone(), extra].concat();
        assert_eq!(summarise(&file(&base), 0).unwrap().health, Health::Ok);
        let sick = with(vec![s(m::SICK_OBJECTS, Some("ag"), 2.0)]);
        assert_eq!(summarise(&file(&sick), 0).unwrap().health, Health::Sick);
        assert_eq!(summarise(&file(&sick), 0).unwrap().sick_objects, 2);
        let offline = [sick.clone(), vec![s(m::OFFLINE_REPAIR_RECOMMENDED, None, 1.0)]].concat();
        assert_eq!(summarise(&file(&offline), 0).unwrap().health, Health::OfflineRepairRecommended);
        let down = [offline, vec![s(m::SHUTDOWN, None, 1.0)]].concat();
        assert_eq!(summarise(&file(&down), 0).unwrap().health, Health::ShutDown);
        assert_eq!(summarise(&file(&down), m::STALE_SECS + 1).unwrap().health, Health::Stale);
        assert_eq!(summarise(&file(&down), m::STALE_SECS).unwrap().health, Health::ShutDown);
        assert!(summarise(&file(&[s(m::SHUTDOWN, None, 1.0)]), 0).is_err(), "no up sample");
        let one = |health| Status {
            mounts: vec![MountStatus { health, ..summarise(&file(&base), 0).unwrap() }],
            unreadable: vec![],
        };
        assert_eq!(one(Health::Ok).exit_code(), 0);
        assert_eq!(one(Health::Sick).exit_code(), 1, "a mount that needs attention, every file read");
    }

    #[test]
    fn counts_repairs_by_what_they_did_and_names_the_newest_problem() {
        let samples = file(&[
            s(m::UP, None, 1.0),
            s(m::EVENTS, Some("sick"), 4.0),
            s(m::EVENTS, Some("healthy"), 3.0),
            s(m::REPAIRS, Some("repaired"), 2.0),
            s(m::REPAIRS, Some("no_repair_needed"), 1.0),
            s(m::REPAIRS, Some("failed"), 1.0),
            s(m::REPAIRS, Some("kernel_error"), 5.0),
            s(m::REPAIRS, Some("refused"), 7.0),
            s(m::LAST_PROBLEM, Some("sick"), 100.0),
            s(m::LAST_PROBLEM, Some("repair_failed"), 160.0),
        ]);
        let st = summarise(&samples, 0).unwrap();
        assert_eq!((st.events, st.repairs_ok, st.repairs_failed), (7, 3, 6));
        assert_eq!(st.last_problem, Some(Problem { kind: Escaped::of("repair_failed"), time: 160.0 }));
        assert_eq!((st.mountpoint.as_str(), st.device.as_str()), ("/mnt/data", "/dev/sdb1"));
        let status =
            Status { mounts: vec![MountStatus { unit: Escaped::of("active"), ..st }], unreadable: vec![] };
        let text = render_text(&status, UNIX_EPOCH + std::time::Duration::from_secs(400));
        assert_eq!(
            text,
            "MOUNT      DEVICE     HEALTH  EVENTS  REPAIRS OK/FAILED  LAST PROBLEM           UNIT\n\
             /mnt/data  /dev/sdb1  ok      7       3/6                repair_failed, 4m ago  active\n"
        );
        assert_eq!(status.exit_code(), 0);
        let json: serde_json::Value = serde_json::from_str(&render_json(&status)).unwrap();
        assert_eq!(json["mounts"][0]["health"], "ok");
        assert_eq!(json["mounts"][0]["repairs_failed"], 6);
        assert_eq!(json["mounts"][0]["last_problem"]["kind"], "repair_failed");
    }

    #[test]
    fn reads_regular_files_only_within_the_bound_and_judges_their_age() {
        let dir = std::env::temp_dir().join(format!("xfs-heal-status-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let good = render("/mnt/a", "/dev/a", &[s(m::UP, None, 1.0)]);
        std::fs::write(dir.join("xfs-heal@mnt-a.prom"), &good).unwrap();
        std::fs::write(dir.join("other.prom"), "node_thing 1\n").unwrap();
        std::os::unix::fs::symlink(dir.join("xfs-heal@mnt-a.prom"), dir.join("xfs-heal@link.prom")).unwrap();
        nix::unistd::mkfifo(&dir.join("xfs-heal@fifo.prom"), nix::sys::stat::Mode::from_bits_truncate(0o600))
            .unwrap();
        let big = "#".repeat(usize::try_from(MAX_FILE_BYTES).unwrap()) + "\n";
        std::fs::write(dir.join("xfs-heal@big.prom"), big).unwrap();
        std::fs::write(dir.join("xfs-heal@edge.prom"), "#".repeat(usize::try_from(MAX_FILE_BYTES).unwrap()))
            .unwrap();
        std::fs::write(dir.join("xfs-heal@old.prom"), &good).unwrap();
        // The units' layout: a directory per instance, holding its own instance's file only.
        std::fs::create_dir(dir.join("mnt-b")).unwrap();
        std::fs::write(
            dir.join("mnt-b/xfs-heal@mnt-b.prom"),
            render("/mnt/b", "/dev/b", &[s(m::UP, None, 1.0)]),
        )
        .unwrap();
        std::fs::write(dir.join("mnt-b/xfs-heal@mnt-c.prom"), &good).unwrap();
        std::fs::create_dir(dir.join("mnt-stopped")).unwrap();
        std::os::unix::fs::symlink(dir.join("mnt-b"), dir.join("mnt-linked")).unwrap();
        let old = std::fs::File::options().write(true).open(dir.join("xfs-heal@old.prom")).unwrap();
        old.set_modified(SystemTime::now() - std::time::Duration::from_secs(m::STALE_SECS + 5)).unwrap();
        let mut asked = 0;
        let status = read(&dir, |units| {
            asked += 1;
            units.iter().map(|unit| format!("state of {unit}")).collect()
        })
        .unwrap();
        assert_eq!(asked, 1, "the service manager is asked once for every file");
        let mounts: Vec<_> =
            status.mounts.iter().map(|s| (s.mountpoint.as_str(), s.health, s.unit.as_str())).collect();
        assert_eq!(
            mounts,
            [
                ("/mnt/b", Health::Ok, "state of xfs-heal-monitor@mnt-b.service"),
                ("/mnt/a", Health::Ok, "state of xfs-heal-monitor@mnt-a.service"),
                ("/mnt/a", Health::Stale, "state of xfs-heal-monitor@old.service"),
            ]
        );
        let why: Vec<(String, &str)> = status
            .unreadable
            .iter()
            .map(|u| (u.file.as_str().rsplit('/').next().unwrap().to_owned(), u.why.as_str()))
            .collect();
        assert_eq!(why.len(), 4, "{why:?}");
        assert!(why[0].0 == "xfs-heal@big.prom" && why[0].1.starts_with("larger than"), "{why:?}");
        assert!(why[1].0 == "xfs-heal@edge.prom" && why[1].1 == "no xfs_heal_up sample", "{why:?}");
        assert!(why[2].0 == "xfs-heal@fifo.prom" && why[2].1 == "not a regular file", "{why:?}");
        assert!(why[3].0 == "xfs-heal@link.prom" && why[3].1 == "a symbolic link: not followed", "{why:?}");
        assert_eq!(status.exit_code(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(100.0, 219.0), "119s ago");
        assert_eq!(ago(100.0, 220.0), "2m ago");
        assert_eq!(ago(0.0, 7199.0), "119m ago");
        assert_eq!(ago(0.0, 7200.0), "2h ago");
        assert_eq!(ago(0.0, 172_800.0), "2d ago");
        assert_eq!(ago(10.0, 5.0), "0s ago", "a clock behind the file");
    }

    #[test]
    fn a_hostile_file_cannot_drive_the_terminal_forge_a_row_or_stop_the_table() {
        let hostile = "/mnt/\u{1b}[2J\u{9b}31m\u{202e}evil\u{200b}\n\"x";
        let long = "d".repeat(65_536);
        let text = render("/x", "/dev/x", &[s(m::UP, None, 1.0)])
            .replace("mountpoint=\"/x\"", &format!("mountpoint=\"{}\"", m::escape_label_value(hostile)))
            .replace("device=\"/dev/x\"", &format!("device=\"{long}\""));
        let st = summarise(&m::parse(&text).unwrap(), 0).unwrap();
        let status = Status { mounts: vec![st], unreadable: vec![] };
        let table = render_text(&status, SystemTime::now());
        assert!(
            table.chars().all(|c| c == '\n' || !xfs_heal_protocol::escape::must_escape(c) || c == '\\'),
            "{table}"
        );
        assert!(
            table.contains("/mnt/\\x1b[2J\\xc2\\x9b31m\\xe2\\x80\\xaeevil\\xe2\\x80\\x8b\\x0a\\x22x"),
            "{table}"
        );
        assert_eq!(table.lines().count(), 2, "one header, one row: {table}");
        assert!(table.lines().all(|l| l.chars().count() < 8 * (MAX_CELL_CHARS + 2)), "bounded cells");
        assert!(table.contains(&format!("{}...", "d".repeat(MAX_CELL_CHARS - 3))));
        let json = render_json(&status);
        assert!(!json.chars().any(|c| c.is_control() && c != '\n'), "no raw control in the JSON: {json:?}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["mounts"][0]["device"].as_str().unwrap().len(), 65_536, "JSON keeps the value whole");
    }

    #[test]
    fn a_count_no_monitor_writes_makes_the_file_unreadable_not_healthy() {
        let mut judged = 0;
        for bad in ["+Inf", "-1", "NaN"] {
            let text = render("/x", "/dev/x", &[s(m::UP, None, 1.0), s(m::SICK_OBJECTS, Some("inode"), 7.0)]);
            let line = text.lines().find(|l| l.starts_with("xfs_heal_sick_objects{")).unwrap().to_owned();
            let twice = format!(
                "{text}{}\n{}\n",
                line.replace(" 7", &format!(" {bad}")),
                line.replace(" 7", &format!(" {bad}"))
            );
            // One the parser refuses is never "ok" either.
            if let Ok(samples) = m::parse(&twice) {
                let why = summarise(&samples, 0).unwrap_err();
                assert!(why.contains("xfs_heal_sick_objects has a value no monitor writes"), "{why}");
                judged += 1;
            }
        }
        assert!(judged >= 2, "the parser takes +Inf and -1 as the text format allows");
        // Huge but finite counts saturate instead of wrapping.
        let big = render(
            "/x",
            "/dev/x",
            &[
                s(m::UP, None, 1.0),
                s(m::SICK_OBJECTS, Some("inode"), 1e300),
                s(m::SICK_OBJECTS, Some("ag"), 1e300),
            ],
        );
        let st = summarise(&m::parse(&big).unwrap(), 0).unwrap();
        assert_eq!((st.sick_objects, st.health), (u64::MAX, Health::Sick));
    }
}
