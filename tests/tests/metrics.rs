//! Issue #15: the metrics a monitor writes, scraped through the real node_exporter
//! (Debian's prometheus-node-exporter, textfile collector) over loopback and checked by the
//! real `promtool`; the file written through a rename, at most once a second, in the mount's
//! own directory and shown to node_exporter by root's `xfs-heal metrics-link`; removed, link
//! and all, at a clean end.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xfs_heal_monitor::event::*;
use xfs_heal_protocol::*;
use xfs_heal_tests::*;

fn md(status: HealthStatus, object: MetadataObject, t: u64) -> HealthEvent {
    HealthEvent { time_ns: t, kind: EventKind::Metadata { status, object } }
}
fn ev(kind: EventKind, t: u64) -> HealthEvent {
    HealthEvent { time_ns: t, kind }
}

/// node_exporter with only its textfile collector, reading `dir`, on a free loopback port.
struct NodeExporter {
    child: Child,
    addr: SocketAddr,
}

impl NodeExporter {
    fn start(dir: &Path) -> Self {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address={addr}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!("--collector.textfile.directory={}", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-node-exporter (Debian package prometheus-node-exporter)");
        let n = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while n.try_scrape().is_none() {
            assert!(Instant::now() < deadline, "node_exporter did not answer on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// GET /metrics over loopback (HTTP/1.0: the body ends with the connection).
    fn try_scrape(&self) -> Option<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
    }

    /// Scrapes until `line` is in the answer (the monitor writes at most once a second).
    fn scrape_until(&self, line: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let body = self.try_scrape().unwrap_or_default();
            if body.lines().any(|l| l == line) || Instant::now() > deadline {
                return body;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// What both tests start from: a loop-mounted XFS; the layout the package's units make,
/// under the scratch directory: node_exporter's textfile directory (root's, 0755, which no
/// monitor can write) and the monitors' state directory, with this mount's own directory in
/// it, owned by the monitor's user (the unit's `StateDirectory=`); and a repairer whose
/// events come from a FIFO the test writes. Bound in this order, the repairer goes first and
/// the scratch directory last.
struct Served {
    scratch: Scratch,
    fs: XfsMount,
    /// The mount's own metrics directory (`--metrics-dir`).
    dir: std::path::PathBuf,
    /// What holds every mount's directory (`xfs-heal status --metrics-dir`).
    state: std::path::PathBuf,
    /// node_exporter's textfile directory.
    textfile: std::path::PathBuf,
    writer: std::fs::File,
    repairer: Repairer,
}

impl Served {
    fn start(name: &str) -> Self {
        let scratch = Scratch::new(name);
        let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
        let (state, textfile) = (scratch.path("state"), scratch.path("textfile"));
        std::fs::create_dir(&textfile).unwrap();
        let dir = state.join(client_instance(&fs.mountpoint));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(MONITOR_UID), Some(MONITOR_UID)).unwrap();
        let fifo = scratch.path("events.fifo");
        let writer = xfs_heal_tests::fifo(&fifo, false);
        let args = ["--events-from", fifo.to_str().unwrap()];
        let repairer = Repairer::start_with_uid(&scratch, &fs.mountpoint, MONITOR_UID, &args);
        Self { scratch, fs, dir, state, textfile, writer, repairer }
    }
}

/// `xfs-heal metrics-link` or `metrics-unlink` for the mount, as the unit runs them.
fn link(verb: &str, textfile: &Path, state: &Path, mountpoint: &Path) -> String {
    let out = Command::new(binary("xfs-heal"))
        .args([verb, "--textfile-dir", textfile.to_str().unwrap()])
        .args(["--state-dir", state.to_str().unwrap()])
        .arg(mountpoint)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    said
}

#[test]
fn a_repair_reaches_prometheus_through_node_exporter() {
    if !require_root() {
        return;
    }
    let Served { scratch, fs, dir, state, textfile, mut writer, repairer } = Served::start("metrics");
    // Before the monitor starts, as the unit's ExecStartPre=.
    assert!(link("metrics-link", &textfile, &state, &fs.mountpoint).contains("linked "));
    let mut m = Monitor::start(
        &scratch,
        &repairer.socket,
        &fs.mountpoint,
        &["--repair", "--metrics-dir", dir.to_str().unwrap()],
    );
    let exporter = NodeExporter::start(&textfile);
    let t = now_ns();
    let dir_ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&fs.mountpoint).unwrap());
    let sick = md(
        HealthStatus::Sick,
        MetadataObject::Inode { ino: dir_ino, gen: 0, mask: InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap() },
        t + 1,
    );
    let io = EventKind::FileIo {
        kind: FileIoKind::BufferedRead,
        ino: dir_ino,
        gen: 0,
        pos: 0,
        len: 4096,
        error: 5,
    };
    writer
        .write_all(&v0(&[
            ev(EventKind::Running, t),
            sick,
            ev(EventKind::Lost { count: 3 }, t + 2),
            ev(EventKind::Media { device: Device::Data, daddr: 64, bbcount: 8 }, t + 3),
            ev(io, t + 4),
        ]))
        .unwrap();
    // The directory's repair fails on this host, which escalates to one sweep of the
    // filesystem and group structures: every answer is counted.
    m.wait_for("sweep of filesystem and group metadata finished", 60);
    let answered = repairer.log_text().lines().filter(|l| l.contains("verdict=issued")).count();

    // What this host's kernel answers the directory repair with (it cannot repair).
    let outcome = {
        use std::os::fd::AsFd;
        let target = RepairTarget::Inode {
            ino: InodeNumber::try_from(dir_ino).unwrap(),
            gen: 0,
            kind: InodeScrub::Directory,
        };
        let root = std::fs::File::open(&fs.mountpoint).unwrap();
        let mut sm = target.to_scrub_metadata();
        match xfs_heal_repairer::sys::scrub_metadata(root.as_fd(), &mut sm) {
            Ok(()) => RepairOutcome::classify(ScrubOutFlags::from_kernel(sm.sm_flags)).name(),
            Err(_) => "kernel_error",
        }
    };
    let device = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(fs.mountpoint.to_str().unwrap()))
        .and_then(|l| l.split(" - ").nth(1)?.split(' ').nth(1).map(str::to_owned))
        .unwrap();
    // node_exporter sorts the labels by name.
    let mountpoint = fs.mountpoint.display().to_string();
    let series = |name: &str, extra: &str| {
        let mut labels = vec![format!("device=\"{device}\""), format!("mountpoint=\"{mountpoint}\"")];
        labels.extend(extra.strip_prefix(',').map(str::to_owned));
        labels.sort();
        format!("{name}{{{}}}", labels.join(","))
    };
    let repaired = series("xfs_heal_repairs_total", &format!(",outcome=\"{outcome}\""));
    let body = exporter.scrape_until(&format!("{repaired} {answered}"));

    for (s, want) in [
        (series("xfs_heal_up", ""), 1.0),
        (series("xfs_heal_repairer_connected", ""), 1.0),
        (series("xfs_heal_build_info", &format!(",version=\"{}\"", env!("CARGO_PKG_VERSION"))), 1.0),
        (series("xfs_heal_events_total", ",type=\"running\""), 1.0),
        (series("xfs_heal_events_total", ",type=\"sick\""), 1.0),
        (series("xfs_heal_events_total", ",type=\"lost\""), 1.0),
        (series("xfs_heal_events_total", ",type=\"media_error\""), 1.0),
        (series("xfs_heal_events_total", ",type=\"file_io_error\""), 1.0),
        (series("xfs_heal_events_total", ",type=\"healthy\""), 0.0),
        (series("xfs_heal_events_lost_total", ""), 3.0),
        (series("xfs_heal_media_errors_total", ",volume=\"datadev\""), 1.0),
        (series("xfs_heal_file_io_errors_total", ",kind=\"buffered_read\""), 1.0),
        (repaired.clone(), f64::from(u32::try_from(answered).unwrap())),
        (series("xfs_heal_escalations_total", ",action=\"sweep\""), 1.0),
        (series("xfs_heal_escalations_total", ",action=\"full_check\""), 0.0),
        (series("xfs_heal_repairs_total", ",outcome=\"repaired\""), 0.0),
        // The repair did not mend it: the directory is still sick.
        (series("xfs_heal_sick_objects", ",domain=\"inode\""), 1.0),
        (series("xfs_heal_sick_objects", ",domain=\"ag\""), 0.0),
        (series("xfs_heal_shutdown", ""), 0.0),
        ("node_textfile_scrape_error".to_owned(), 0.0),
    ] {
        assert_eq!(value(&body, &s), Some(want), "{s} in\n{body}");
    }
    // A file source has no fdinfo lost counter; timestamps are Unix seconds of the events.
    assert_eq!(value(&body, &series("xfs_heal_kernel_events_lost_total", "")), None, "{body}");
    let sick_at = value(&body, &series("xfs_heal_last_problem_timestamp_seconds", ",kind=\"sick\"")).unwrap();
    #[allow(clippy::cast_precision_loss)]
    let expected = (t + 1) as f64 / 1e9;
    assert!((sick_at - expected).abs() < 1e-3, "{sick_at} vs {expected}");
    // No inode number, path or group number in any label.
    for line in body.lines().filter(|l| l.starts_with("xfs_heal_")) {
        assert!(!line.contains(&dir_ino.to_string()), "{line}");
    }

    // `xfs-heal status` reads the same file: the same numbers, for the operator.
    let status = Command::new(binary("xfs-heal"))
        .args(["status", "--metrics-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(status.status.code(), Some(1), "a sick mount needs attention: {table}");
    let row = table.lines().find(|l| l.starts_with(&mountpoint)).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    let events = value(&body, &series("xfs_heal_events_total", ",type=\"running\"")).unwrap() + 4.0;
    assert_eq!(
        cells[..5],
        [mountpoint.as_str(), device.as_str(), "sick (1)", &events.to_string(), &format!("0/{answered}")],
        "{table}"
    );
    assert!(cells[5].starts_with("repair_failed, ") && cells[6] == "unknown", "{table}");
    let json = Command::new(binary("xfs-heal"))
        .args(["status", "--format", "json", "--metrics-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let mount = &json["mounts"][0];
    assert_eq!(
        (mount["mountpoint"].as_str(), mount["health"].as_str()),
        (Some(mountpoint.as_str()), Some("sick"))
    );
    assert_eq!(mount["repairs_failed"].as_u64(), Some(u64::try_from(answered).unwrap()));
    assert_eq!(mount["sick_objects"].as_u64(), Some(1));

    // promtool lints what Prometheus would ingest: nothing to say.
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    check.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");

    // The events end: the monitor exits cleanly and takes its file with it, and the unit's
    // metrics-unlink then the link: nothing is left for node_exporter to stumble on.
    let file = dir.join(format!("xfs-heal@{}.prom", client_instance(&fs.mountpoint)));
    assert!(file.exists(), "{}", file.display());
    drop(writer);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    assert!(!file.exists(), "left behind: {}", file.display());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(link("metrics-unlink", &textfile, &state, &fs.mountpoint).contains("removed "));
    let left: Vec<_> = std::fs::read_dir(&textfile).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(value(&exporter.try_scrape().unwrap(), "node_textfile_scrape_error"), Some(0.0));
}

fn client_instance(mountpoint: &Path) -> String {
    xfs_heal_monitor::client::systemd_escape_path(&mountpoint.to_string_lossy())
}

/// A storm of events is one write a second, not one per event: the renames that reached the
/// kernel, counted by strace, against the seconds the storm lasted.
#[test]
fn a_storm_of_events_is_written_at_most_once_a_second() {
    if !require_root() {
        return;
    }
    let Served { scratch, fs, dir, mut writer, repairer, .. } = Served::start("metrics-storm");
    let trace = scratch.path("renames.strace");
    let strace = ["strace", "-f", "-qq", "-e", "trace=renameat,renameat2", "-o", trace.to_str().unwrap()];
    let mut m = Monitor::start_wrapped(
        &scratch,
        &repairer.socket,
        &fs.mountpoint,
        &["--user", MONITOR_USER, "--no-autofsck", "--quiet", "--metrics-dir", dir.to_str().unwrap()],
        None,
        &strace,
    );
    writer.write_all(&v0(&[ev(EventKind::Running, now_ns())])).unwrap();
    m.wait_for("monitoring started", 20);
    let start = Instant::now();
    let mut sent = 0u64;
    // Three seconds of healthy reports, about 20,000 a second.
    while start.elapsed() < Duration::from_secs(3) {
        let t = now_ns();
        let batch: Vec<HealthEvent> = (0..200)
            .map(|i| {
                let mask = AgMask::new(0x2).unwrap();
                md(HealthStatus::Healthy, MetadataObject::Ag { agno: i % 4, mask }, t + u64::from(i))
            })
            .collect();
        writer.write_all(&v0(&batch)).unwrap();
        sent += 200;
        std::thread::sleep(Duration::from_millis(10));
    }
    let storm = start.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let renames = std::fs::read_to_string(&trace).unwrap().lines().filter(|l| l.contains("rename")).count();
    drop(writer);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    // One at startup, then at most one a second while things change, plus the last change.
    let most = usize::try_from(storm.as_secs()).unwrap() + 4;
    assert!((2..=most).contains(&renames), "{renames} writes for {sent} events in {storm:.1?}");
}
