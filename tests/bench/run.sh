#!/usr/bin/env bash
# Benchmarks, release builds. Needs root for the repairer benchmark (loop-mounted XFS).
#   bash tests/bench/run.sh            # everything
#   bash tests/bench/run.sh decode     # only the decoder benchmarks (no root needed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
what=${1:-all}
if [ "$what" = all ] || [ "$what" = decode ]; then
    cargo bench -p xfs-heal-monitor --bench decode
fi
if [ "$what" = all ] || [ "$what" = repairer ]; then
    cargo build --release --workspace --bins
    echo "--- unpinned (the scheduler may wake the peer on the other core)"
    ./target/release/xfs-heal-bench "${2:-20000}"
    echo "--- both processes pinned to CPU 0 (no cross-core wakeups)"
    taskset -c 0 ./target/release/xfs-heal-bench "${2:-20000}"
fi
