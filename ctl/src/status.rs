//! `xfs-heal status`: one line per protected mount, read from the same metrics files
//! node_exporter serves to Prometheus, so the operator and the fleet see the same numbers.
//! The files are written by the monitors, not trusted: each is read within a size bound,
//! only if it is a regular file, and whatever it says is shown without terminal controls.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use xfs_heal_protocol::metrics::{self as m, ReadSample};

/// More than this is not a file a monitor wrote.
const MAX_FILE_BYTES: u64 = 1 << 20;

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
    pub kind: String,
    /// Unix seconds.
    pub time: f64,
}

/// One mount, as its file says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountStatus {
    pub mountpoint: String,
    pub device: String,
    pub health: Health,
    pub sick_objects: u64,
    pub events: u64,
    pub repairs_ok: u64,
    pub repairs_failed: u64,
    pub last_problem: Option<Problem>,
    /// `systemctl is-active` of the mount's monitor unit, or "unknown" without systemd.
    pub unit: String,
    pub file: PathBuf,
    pub age_seconds: u64,
}

/// A file that could not be read, or said nothing a monitor says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    pub file: PathBuf,
    pub why: String,
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

/// Reads every metrics file in `dir`; `unit_state` answers for a monitor unit's name.
pub fn read(dir: &Path, unit_state: impl Fn(&str) -> String) -> std::io::Result<Status> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| m::is_file_name(n))
        .collect();
    names.sort();
    let now = SystemTime::now();
    let mut status = Status::default();
    for name in names {
        let file = dir.join(&name);
        match read_file(&file, now) {
            Ok((samples, age_seconds)) => match summarise(&samples, age_seconds) {
                Some(mut s) => {
                    let instance = name.trim_start_matches("xfs-heal@").trim_end_matches(".prom");
                    s.unit = unit_state(&format!("xfs-heal-monitor@{instance}.service"));
                    s.file = file;
                    status.mounts.push(s);
                }
                None => status.unreadable.push(Unreadable { file, why: "no xfs_heal_up sample".into() }),
            },
            Err(why) => status.unreadable.push(Unreadable { file, why }),
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

/// The mount's line, from its samples; none without `xfs_heal_up`.
pub fn summarise(samples: &[ReadSample], age_seconds: u64) -> Option<MountStatus> {
    let up = samples.iter().find(|s| s.name == m::UP.name)?;
    let label = |s: &ReadSample, name: &str| s.labels.get(name).cloned().unwrap_or_default();
    // The samples of `family` whose own label is one of `values` (all of them, if none).
    let sum = |family: m::Family, values: &[&str]| -> u64 {
        let own = |s: &ReadSample| family.label.and_then(|l| s.labels.get(l)).cloned().unwrap_or_default();
        let of = samples.iter().filter(|s| s.name == family.name);
        let picked = of.filter(|s| values.is_empty() || values.contains(&own(s).as_str()));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = picked.map(|s| s.value.max(0.0) as u64).sum();
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
    Some(MountStatus {
        mountpoint: label(up, "mountpoint"),
        device: label(up, "device"),
        health,
        sick_objects,
        events: sum(m::EVENTS, &[]),
        repairs_ok: sum(m::REPAIRS, &["repaired", "no_repair_needed"]),
        repairs_failed: sum(m::REPAIRS, &["failed", "kernel_error", "offline_repair_recommended"]),
        last_problem,
        unit: String::new(),
        file: PathBuf::new(),
        age_seconds,
    })
}

/// What a terminal shows of a value from a file: no control characters.
fn shown(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
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
        let problem = s
            .last_problem
            .as_ref()
            .map_or("-".into(), |p| format!("{}, {}", shown(&p.kind), ago(p.time, now)));
        rows.push([
            shown(&s.mountpoint),
            shown(&s.device),
            health,
            s.events.to_string(),
            format!("{}/{}", s.repairs_ok, s.repairs_failed),
            problem,
            shown(&s.unit),
        ]);
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
        out.push_str(&format!("unreadable: {}: {}\n", shown(&u.file.display().to_string()), shown(&u.why)));
    }
    out
}

/// The same, as one JSON document.
pub fn render_json(status: &Status) -> String {
    serde_json::to_string_pretty(status).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// What systemd says of `unit`: `systemctl is-active`'s word, or "unknown" where systemd is
/// not running (or not installed).
pub fn unit_state(unit: &str) -> String {
    let out = std::process::Command::new("systemctl").args(["is-active", unit]).output();
    match out {
        Ok(out) => {
            let word = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let known = ["active", "inactive", "failed", "activating", "deactivating", "reloading"];
            if known.contains(&word.as_str()) {
                word
            } else {
                "unknown".into()
            }
        }
        Err(_) => "unknown".into(),
    }
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
        assert!(summarise(&file(&[s(m::SHUTDOWN, None, 1.0)]), 0).is_none(), "no up sample");
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
        assert_eq!(st.last_problem, Some(Problem { kind: "repair_failed".into(), time: 160.0 }));
        assert_eq!((st.mountpoint.as_str(), st.device.as_str()), ("/mnt/data", "/dev/sdb1"));
        let status = Status { mounts: vec![MountStatus { unit: "active".into(), ..st }], unreadable: vec![] };
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
        let old = std::fs::File::options().write(true).open(dir.join("xfs-heal@old.prom")).unwrap();
        old.set_modified(SystemTime::now() - std::time::Duration::from_secs(m::STALE_SECS + 5)).unwrap();
        let status = read(&dir, |unit| format!("state of {unit}")).unwrap();
        let mounts: Vec<_> =
            status.mounts.iter().map(|s| (s.mountpoint.as_str(), s.health, s.unit.as_str())).collect();
        assert_eq!(
            mounts,
            [
                ("/mnt/a", Health::Ok, "state of xfs-heal-monitor@mnt-a.service"),
                ("/mnt/a", Health::Stale, "state of xfs-heal-monitor@old.service"),
            ]
        );
        let why: Vec<(String, &str)> = status
            .unreadable
            .iter()
            .map(|u| (u.file.file_name().unwrap().to_string_lossy().into_owned(), u.why.as_str()))
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
    fn a_hostile_file_cannot_drive_the_terminal() {
        let samples = file(&[s(m::UP, None, 1.0)]);
        let mut st = summarise(&samples, 0).unwrap();
        st.mountpoint = "/mnt/\u{1b}[2J".into();
        let status = Status { mounts: vec![st], unreadable: vec![] };
        let text = render_text(&status, SystemTime::now());
        assert!(!text.contains('\u{1b}') && text.contains("/mnt/?[2J"), "{text}");
    }
}
