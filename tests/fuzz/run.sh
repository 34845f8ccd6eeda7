#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder that reads untrusted bytes, on stable Rust
# (libFuzzer without sanitizers). Usage: bash tests/fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-60}
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
for target in request_decoder reply_decoder v0_decoder json_decoder notice_decoder mount_event_decoder parents_decoder metrics_decoder status_renderer fstab_decoder; do
    echo "==> fuzzing $target for ${secs}s"
    cargo fuzz run --fuzz-dir . --sanitizer none "$target" -- -max_total_time="$secs" 2>&1 | grep -E '^Done|^==|SUMMARY|panicked' || true
    # A crash leaves an artifact and a non-zero status; make it fail loudly.
    if ls artifacts/"$target"/crash-* >/dev/null 2>&1; then
        echo "fuzz target $target found a crash: $(ls artifacts/"$target"/crash-*)" >&2
        exit 1
    fi
done
