#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the decision and trust-boundary code: each mutant must
# make some test fail. Not part of the default test command: it rebuilds and reruns the
# tests once per mutant, on 2 cores: protocol 4 minutes, the repairer 28 (its root integration
# tests run each mutant's binary), the engine 19.
#   bash tests/mutants/run.sh              # protocol/src/{codec,scrub,fullcheck}.rs, the repairer, the engine
#   bash tests/mutants/run.sh protocol     # one group
# Results: mutants.out/ (caught.txt, missed.txt, unviable.txt, timeout.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants
what=${1:-all}
# --iterate (second argument): test only the mutants not caught last time.
ITERATE=()
[ "${2:-}" = --iterate ] && ITERATE=(--iterate)
run() { # OUTPUT_DIR PACKAGE TEST_SCOPE FILE...
    local out=$1 package=$2 scope=$3; shift 3
    local files=()
    for f in "$@"; do files+=(--file "$f"); done
    cargo mutants --no-shuffle -j 2 --output "$out" --package "$package" "${files[@]}" "${ITERATE[@]}" -- --all-features $scope
}
if [ "$what" = all ] || [ "$what" = protocol ]; then
    run target/mutants-protocol xfs-heal-protocol "" protocol/src/codec.rs protocol/src/scrub.rs \
        protocol/src/fullcheck.rs
fi
if [ "$what" = all ] || [ "$what" = repairer ]; then
    # The serving loop and the mount checks are pinned by the root integration tests, which
    # run the built binary: `--test cli` (in the repairer's package) makes cargo build it
    # with each mutant, `--test report` the monitor's. Run as root, on a shared /.
    cargo mutants --no-shuffle -j 2 --output target/mutants-repairer \
        --file repairer/src/serve.rs --file repairer/src/mount.rs --test-workspace=true \
        --baseline=skip --timeout 300 "${ITERATE[@]}" -- \
        --all-features --test cli --test report --test repairer --test repairer_startup \
        --test sandbox --test audit_findings
    # A mutant that keeps the repairer from exiting leaves it running after its test: end
    # those (they run from cargo-mutants' scratch copies, never from this tree).
    pkill -9 -f '/cargo-mutants-[^/]*/target/debug/xfs-heal-repairer' || true
fi
if [ "$what" = all ] || [ "$what" = engine ]; then
    # The engine's rules are pinned by the monitor's unit tests (engine, replay, policy).
    run target/mutants-engine xfs-heal-monitor --lib monitor/src/engine.rs
fi
