//! Decoder throughput. Targets (issue #2): at least 10 million V0 records/s and 300,000
//! JSON events/s (parse + schema validation + mapping) on one core.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xfs_heal_monitor::decode::json::JsonDecoder;
use xfs_heal_monitor::decode::v0::V0Decoder;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data").join(name)).unwrap()
}

fn v0(c: &mut Criterion) {
    // The real 20-record capture, repeated to 64 KiB: what one read() of the monitor fd returns.
    let one = capture("linux-7.3.4-dir-symlink-repair-verbose.v0");
    let buf: Vec<u8> = one.iter().copied().cycle().take(1024 * 64).collect();
    let records = (buf.len() / 64) as u64;
    let mut g = c.benchmark_group("v0");
    g.throughput(Throughput::Elements(records));
    g.bench_function("decode+validate 1024 records", |b| {
        b.iter(|| {
            let mut d = V0Decoder::new();
            let mut ok = 0u64;
            d.feed(black_box(&buf), |r| ok += u64::from(r.is_ok()));
            assert_eq!(ok, records);
            ok
        })
    });
    // The same bytes delivered in 32-byte halves: the reassembly path.
    g.bench_function("decode+validate 1024 records in 32-byte reads", |b| {
        b.iter(|| {
            let mut d = V0Decoder::new();
            let mut ok = 0u64;
            for half in black_box(&buf).chunks(32) {
                d.feed(half, |r| ok += u64::from(r.is_ok()));
            }
            ok
        })
    });
    g.finish();
}

fn json(c: &mut Criterion) {
    let one = capture("linux-7.3.4-dir-symlink-repair-verbose.json");
    let events = 20 * 50;
    let buf: Vec<u8> = one.iter().copied().cycle().take(one.len() * 50).collect();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(events));
    g.bench_function("frame+parse+schema+map 1000 events", |b| {
        let mut d = JsonDecoder::new();
        b.iter(|| {
            let mut ok = 0u64;
            d.feed(black_box(&buf), |r| ok += u64::from(r.is_ok()));
            assert_eq!(ok, events);
            ok
        })
    });
    g.finish();
}

criterion_group!(benches, v0, json);
criterion_main!(benches);
