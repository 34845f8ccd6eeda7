//! Measures the repairer as deployed: round-trip latency of repair requests over the real
//! socket to the real kernel ioctl and back, and the repairer's peak memory while serving.
//! Run through `tests/bench/run.sh` (release build, root, a loop-mounted XFS).
#![forbid(unsafe_code)]

use std::process::{Command, Stdio};
use std::time::Instant;

use xfs_heal_monitor::event::{EventKind, HealthEvent, HealthStatus, InodeMask, MetadataObject};
use xfs_heal_protocol::{AgNumber, AgScrub, RepairRequest, RepairTarget, RequestId};
use xfs_heal_tests::*;

/// Waits for `child`; returns its exit status and the peak RSS (KiB) of the exec'd image,
/// VmHWM sampled until exit (rusage's maxrss would include the forked copy of this process,
/// which is much larger).
fn wait_with_peak_rss(mut child: std::process::Child) -> (std::process::ExitStatus, i64) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0i64;
    loop {
        if let Some(hwm) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        }) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Runs the monitor against a repairer serving `events`; returns (seconds, peak RSS KiB of
/// the monitor, peak RSS KiB of the repairer). Metrics are off unless `args` has
/// `--metrics-dir`; the monitor's output goes to `out` (or nowhere).
fn run_monitor(
    scratch: &Scratch,
    fs: &XfsMount,
    events: &[u8],
    args: &[&str],
    out: Option<&std::path::Path>,
) -> (f64, i64, u64) {
    let path = scratch.path("stream.v0");
    std::fs::write(&path, events).expect("events");
    let sub = Scratch::new("bench-run");
    let repairer = Repairer::start_with_uid(
        &sub,
        &fs.mountpoint,
        MONITOR_UID,
        &["--events-from", path.to_str().unwrap()],
    );
    let start = Instant::now();
    let mut child = Command::new(binary("xfs-heal-monitor"));
    let metrics: &[&str] = if args.contains(&"--metrics-dir") { &[] } else { &["--no-metrics"] };
    let stdout = out.map_or_else(Stdio::null, |p| std::fs::File::create(p).expect("output").into());
    child
        .arg("--connect")
        .arg(&repairer.socket)
        .args(args)
        .args(metrics)
        .arg(&fs.mountpoint)
        .stdout(stdout)
        .stderr(Stdio::null());
    // As its unit runs it (the user it would switch to when started as root).
    {
        use std::os::unix::process::CommandExt;
        child.uid(MONITOR_UID).gid(MONITOR_UID);
    }
    let (status, monitor_kib) = wait_with_peak_rss(child.spawn().expect("monitor"));
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "monitor failed");
    let (repairer_kib, _) = repairer.memory_kib();
    (secs, monitor_kib, repairer_kib)
}

/// Requests per second with `k` in flight, for k = 1, 2 and the CPU count: rounds of 60
/// requests (under the rate limit's burst of 64), each after a pause that refills the
/// bucket; only the time inside the rounds counts. Each reply is matched to its request.
fn in_flight(client: &mut Client, first_id: u64) {
    use xfs_heal_protocol::{codec, MonitorToRepairer, RepairerToMonitor};
    const ROUND: u64 = 60;
    const ROUNDS: u32 = 10;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut ks = vec![1, 2, cpus];
    ks.dedup();
    let mut id = first_id;
    let targets: Vec<RepairTarget> = (1..=8)
        .map(|ag| RepairTarget::Ag { agno: AgNumber::try_from(ag % 4).unwrap(), kind: AgScrub::Bnobt })
        .collect();
    for k in ks {
        let mut took = std::time::Duration::ZERO;
        for _ in 0..ROUNDS {
            std::thread::sleep(std::time::Duration::from_millis(700));
            let t = Instant::now();
            let (mut sent, mut answered, mut out) = (0, 0, std::collections::BTreeSet::new());
            while answered < ROUND {
                while out.len() < k && sent < ROUND {
                    let target = targets[usize::try_from(id).unwrap_or(0) % targets.len()];
                    let frame = codec::encode(&MonitorToRepairer::Repair(RepairRequest {
                        id: RequestId(id),
                        target,
                    }))
                    .expect("encode");
                    client.send_raw(&frame);
                    out.insert(id);
                    (id, sent) = (id + 1, sent + 1);
                }
                match client.read_message() {
                    Some(RepairerToMonitor::Reply(r)) => {
                        assert!(out.remove(&r.id.0), "a reply to no request")
                    }
                    other => panic!("expected a reply, got {other:?}"),
                }
                answered += 1;
            }
            took += t.elapsed();
        }
        let total = f64::from(ROUNDS) * ROUND as f64;
        println!(
            "  {k} in flight: {:.0} requests/s ({total} requests in rounds of {ROUND})",
            total / took.as_secs_f64()
        );
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    assert!(nix::unistd::geteuid().is_root(), "the benchmark loop-mounts XFS: run it as root");
    let scratch = Scratch::new("bench");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::copy(data("sample.v0"), scratch.path("events.v0")).expect("events");
    let events = scratch.path("events.v0");
    let repairer = Repairer::start(&scratch, &fs.mountpoint, &["--events-from", events.to_str().unwrap()]);
    let (idle_hwm, _) = repairer.memory_kib();
    let mut client = Client::served(&repairer.socket);
    let target = RepairTarget::Ag { agno: AgNumber::try_from(1).unwrap(), kind: AgScrub::Bnobt };
    let mut micros: Vec<f64> = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    // Paced just under the repairer's request rate limit, so each round trip is the
    // repairer's own work and not a wait for a token.
    let pace = std::time::Duration::from_nanos(xfs_heal_protocol::throttle::REQUESTS.every_ns * 11 / 10);
    let start = Instant::now();
    for id in 0..n {
        if id > 0 {
            std::thread::sleep(pace);
        }
        let t = Instant::now();
        let reply = client.request(RepairRequest { id: RequestId(id), target });
        micros.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(reply.id, RequestId(id));
    }
    let total = start.elapsed().as_secs_f64();
    micros.sort_by(f64::total_cmp);
    let pct = |permille: usize| micros[(micros.len() - 1) * permille / 1000];
    let (hwm, rss) = repairer.memory_kib();
    let size = std::fs::metadata(binary("xfs-heal-repairer")).map(|m| m.len()).unwrap_or(0);
    println!(
        "repairer round trip (request -> verify identity -> XFS_IOC_SCRUB_METADATA -> reply), {n} requests:"
    );
    println!(
        "  median {:.1} us   p90 {:.1} us   p99 {:.1} us   max {:.1} us",
        pct(500),
        pct(900),
        pct(990),
        pct(1000)
    );
    println!("  throughput {:.0} requests/s (paced under the rate limit)", n as f64 / total);
    in_flight(&mut client, n);
    println!("repairer memory: peak RSS {hwm} KiB while serving (idle after startup {idle_hwm} KiB), current {rss} KiB");
    println!("repairer binary: {size} bytes ({})", binary("xfs-heal-repairer").display());
    println!(
        "kernel answer on this host: {}",
        repairer.log_text().lines().rev().find(|l| l.contains("result=")).unwrap_or("")
    );
    drop(client);
    drop(repairer);

    // Monitor throughput with repairs off: one million events, a sick inode each (a distinct
    // report line per event), decoded, validated, reported to /dev/null.
    let t0 = now_ns();
    let sick = |i: u64, ino: u64| HealthEvent {
        time_ns: t0 + i,
        kind: EventKind::Metadata {
            status: HealthStatus::Sick,
            object: MetadataObject::Inode { ino, gen: 1, mask: InodeMask::new(0x10).unwrap() },
        },
    };
    let bytes = v0(&(0..1_000_000u64).map(|i| sick(i, 128 + i)).collect::<Vec<_>>());
    // Each with the metrics file off and on (issue #15: writing it must cost nothing
    // measurable, and be one write a second, not one per event).
    let textfile = scratch.path("textfile");
    std::fs::create_dir_all(&textfile).expect("textfile dir");
    std::os::unix::fs::chown(&textfile, Some(MONITOR_UID), Some(MONITOR_UID)).expect("chown");
    let out = scratch.path("monitor.out");
    // Five runs of each, off and on interleaved, so drift hits both alike: min/median/max.
    const RUNS: usize = 5;
    for (what, args) in
        [("text reports", vec!["--no-autofsck"]), ("--quiet", vec!["--no-autofsck", "--quiet"])]
    {
        let mut rates = [Vec::new(), Vec::new()];
        let (mut kib, mut writes) = ([0i64; 2], String::new());
        for _ in 0..RUNS {
            for (i, metrics) in [false, true].into_iter().enumerate() {
                let mut args = args.clone();
                if metrics {
                    args.extend(["--metrics-dir", textfile.to_str().unwrap()]);
                }
                // Text reports to /dev/null, as before; the quiet runs' few lines to a file.
                let capture = (what == "--quiet").then_some(out.as_path());
                let (secs, peak, _) = run_monitor(&scratch, &fs, &bytes, &args, capture);
                rates[i].push(1e6 / secs);
                kib[i] = kib[i].max(peak);
                if let Some(n) = std::fs::read_to_string(&out)
                    .ok()
                    .filter(|_| capture.is_some() && metrics)
                    .and_then(|t| {
                        t.lines()
                            .find_map(|l| Some(l.split("(written ").nth(1)?.split(' ').next()?.to_owned()))
                    })
                {
                    writes = format!("; the file written {n} times in a run");
                }
            }
        }
        for (i, state) in ["off", "on"].iter().enumerate() {
            rates[i].sort_by(f64::total_cmp);
            let r = &rates[i];
            println!(
                "monitor, repairs off, {what}, metrics {state}: 1000000 events, {RUNS} runs: min/median/max {:.0}/{:.0}/{:.0} events/s (whole run, connect included); peak RSS {} KiB{}",
                r[0],
                r[RUNS / 2],
                r[RUNS - 1],
                kib[i],
                if i == 1 { writes.as_str() } else { "" }
            );
        }
    }

    // A storm with repairs on: 100,000 identical sick records.
    let storm = v0(&(0..100_000u64).map(|i| sick(i, 131)).collect::<Vec<_>>());
    let (secs, monitor_kib, repairer_kib) = run_monitor(&scratch, &fs, &storm, &["--repair"], None);
    println!(
        "storm of 100000 identical sick records, repairs on: {secs:.3} s; peak RSS monitor {monitor_kib} KiB, repairer {repairer_kib} KiB"
    );

    // A million distinct sick inodes, repairs on (they fail where the kernel has no online
    // repair): the engine tracks at most 16,384 targets at once, so memory stays flat.
    let distinct = v0(&(0..1_000_000u64).map(|i| sick(i, 1_000 + i)).collect::<Vec<_>>());
    let (secs, monitor_kib, _) = run_monitor(&scratch, &fs, &distinct, &["--repair"], None);
    println!("1000000 distinct sick inodes, repairs on: {secs:.1} s; peak RSS monitor {monitor_kib} KiB");

    // The same million through --replay, which drives the same engine (dry run).
    let capture = scratch.path("distinct.v0");
    std::fs::write(&capture, &distinct).expect("capture");
    let start = std::time::Instant::now();
    let replay = std::process::Command::new(binary("xfs-heal-monitor"))
        .args(["--replay", capture.to_str().unwrap(), "--quiet", "/mnt"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("replay");
    let (status, replay_kib) = wait_with_peak_rss(replay);
    assert!(status.success(), "replay failed");
    println!(
        "--replay of 1000000 distinct sick inodes (the live engine, dry run): {:.1} s; peak RSS {replay_kib} KiB",
        start.elapsed().as_secs_f64()
    );
}
