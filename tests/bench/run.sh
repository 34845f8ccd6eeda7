#!/usr/bin/env bash
# Benchmarks, release builds. Needs root for the repairer benchmark (loop-mounted XFS).
#   bash tests/bench/run.sh            # everything
#   bash tests/bench/run.sh decode     # only the decoder benchmarks (no root needed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
what=${1:-all}
if [ "$what" = all ] || [ "$what" = decode ]; then
    cargo bench -p xfs-heal-monitor --features json-replay --bench decode
fi
if [ "$what" = all ] || [ "$what" = repairer ]; then
    # The daemons as packaged (without the tests crate's json-replay feature), then the tool.
    cargo build --release -p xfs-heal-monitor -p xfs-heal-repairer -p xfs-heal-ctl --bin xfs-heal-monitor --bin xfs-heal-repairer --bin xfs-heal
    cargo build --release -p xfs-heal-tests --bin xfs-heal-bench
    bench=./target/$(sed -n 's/^target = "\(.*\)"$/\1/p' .cargo/config.toml)/release/xfs-heal-bench
    echo "--- unpinned (the scheduler may wake the peer on the other core)"
    $bench "${2:-2000}"
    echo "--- both processes pinned to CPU 0 (no cross-core wakeups)"
    taskset -c 0 $bench "${2:-2000}"
fi
