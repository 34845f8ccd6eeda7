//! Measures the repairer as deployed: round-trip latency of repair requests over the real
//! socket to the real kernel ioctl and back, and the repairer's peak memory while serving.
//! Run through `tests/bench/run.sh` (release build, root, a loop-mounted XFS).
#![forbid(unsafe_code)]

use std::time::Instant;

use xfs_heal_protocol::{AgNumber, AgScrub, RepairRequest, RepairTarget, RequestId};
use xfs_heal_tests::*;

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
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
    let start = Instant::now();
    for id in 0..n {
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
    println!("  throughput {:.0} requests/s", n as f64 / total);
    println!("repairer memory: peak RSS {hwm} KiB while serving (idle after startup {idle_hwm} KiB), current {rss} KiB");
    println!("repairer binary: {size} bytes ({})", binary("xfs-heal-repairer").display());
    println!(
        "kernel answer on this host: {}",
        repairer.log_text().lines().rev().find(|l| l.contains("result=")).unwrap_or("")
    );
}
