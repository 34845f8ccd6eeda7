#!/usr/bin/env bash
# Runs every test of xfs-heal: formatting, lints, unit, property and integration tests.
# Installs the system packages it needs when they are missing (CI starts from a fresh machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run-all.sh must run as root: the tests loop-mount XFS images, run the repairer with" >&2
    echo "CAP_SYS_ADMIN, install QEMU and build a guest rootfs. Try: sudo bash tests/run-all.sh" >&2
    exit 1
fi

# --- System packages -------------------------------------------------------------------------
# xfsprogs: mkfs.xfs for the real-filesystem tests. util-linux: mount, losetup, blkid,
# findmnt. systemd: systemd-socket-activate for the activation test. dpkg-dev:
# dpkg-shlibdeps, which cargo-deb uses to fill in the package's dependencies. strace: the
# repairer tests count the repair ioctls the kernel actually saw. musl-tools: musl-gcc, for
# the C files of the static (musl) build's dependencies. prometheus-node-exporter and
# prometheus (for promtool): the metrics are scraped through the real node_exporter, and the
# alert rules checked and tested by promtool. acl: getfacl, to show node_exporter's directory
# carries no ACL of ours.
need=()
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
command -v findmnt >/dev/null 2>&1 || need+=(util-linux)
command -v blkid >/dev/null 2>&1 || need+=(util-linux)
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
command -v prometheus-node-exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v getfacl >/dev/null 2>&1 || need+=(acl)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The repairer refuses a mount whose parent does not propagate the host's unmount to its
# namespace (step 2). systemd makes every mount shared at boot; a machine booted without it
# (a container, this CI's) keeps / private, and the tests' loop mounts would all be refused.
if [ "$(findmnt -n -o PROPAGATION /)" = private ]; then
    log "making / shared (mount --make-rshared /), as systemd does at boot"
    mount --make-rshared /
fi

# Disk: the builds (debug, release, fuzz), the guest images and the tests' XFS images need
# about 4 GiB here and a few hundred MiB in /tmp. Say so plainly rather than let mkfs.xfs
# fail half-way through with ENOSPC.
for dir in . /tmp; do
    free_mib=$(( $(df -P -k "$dir" | awk 'NR == 2 { print $4 }') / 1024 ))
    want=$([ "$dir" = . ] && echo 4096 || echo 512)
    if [ "$free_mib" -lt "$want" ]; then
        echo "tests/run-all.sh: only $free_mib MiB free on the filesystem holding $(cd "$dir" && pwd)" >&2
        echo "(at least $want MiB needed there: builds, guest and XFS test images)" >&2
        exit 1
    fi
done
# A clean clone gains nothing from incremental compilation, and it costs disk.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

# The static build's standard library (.cargo/config.toml).
triple=$(sed -n 's/^target = "\(.*\)"$/\1/p' .cargo/config.toml)
if ! rustup target list --installed | grep -qx "$triple"; then
    log "adding the $triple target (the daemons are built static against musl)"
    rustup target add "$triple"
fi

for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        log "adding the $component component"
        rustup component add "$component"
    fi
done

# --- Checks ----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

# Everything with every feature (the tests drive --replay-json), and the monitor as packaged.
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p xfs-heal-monitor --all-targets --locked -- -D warnings

log "supply chain: the packaged monitor links no JSON schema validator; cargo deny"
if cargo tree -p xfs-heal-monitor -e normal --locked | grep -q jsonschema; then
    echo "the daemon's dependency tree has jsonschema: json-replay must stay an opt-in feature" >&2
    exit 1
fi
if ! cargo deny --version 2>/dev/null | grep -q "0.20.2"; then
    log "installing cargo-deny 0.20.2"
    cargo install --locked --quiet cargo-deny --version 0.20.2
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
snapshot=$(cd .. && pwd)/shared/advisory-db.tar.gz
if [ -f "$snapshot" ]; then
    # Offline: the RustSec snapshot from shared/, unpacked where cargo-deny's db-path wants it.
    mkdir -p "$logs/advisory-dbs"
    tar xzf "$snapshot" -C "$logs/advisory-dbs"
    sed "s|^\[advisories\]|[advisories]\ndb-path = \"$logs/advisory-dbs\"|" deny.toml > "$logs/deny.toml"
    cargo fetch --locked -q
    cargo deny --offline --log-level error --config "$logs/deny.toml" check
else
    cargo deny --log-level error check
fi

log "building the binaries the integration tests run"
cargo build --workspace --bins --all-features --locked

log "cargo test"
cargo test --workspace --all-features --locked 2>&1 | tee "$logs/cargo-test.log"

log "fuzzing every untrusted-input decoder (${XFS_HEAL_FUZZ_SECS:-10}s each)"
bash tests/fuzz/run.sh "${XFS_HEAL_FUZZ_SECS:-10}"

log "real-kernel VM suite (Linux 7.3 in QEMU, xfs-heal next to xfs_healer)"
bash tests/vm/run.sh | tee "$logs/vm.log"

# One closing line for everything: cargo's test counts plus the VM scenarios of xfs-heal.
sum() { awk -v f="$2" '$0 ~ /^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ "^" f) n += $i } END { print n + 0 }' "$1"; }
# Scenario ids are numbers (daemons started by hand) or U<n> (under systemd, from the package).
passed=$(( $(sum "$logs/cargo-test.log" "passed") + $(grep -c '^RESULT|U\{0,1\}[0-9]*|xfs-heal|PASS|' "$logs/vm.log" || true) ))
failed=$(( $(sum "$logs/cargo-test.log" "failed") + $(grep -c '^RESULT|U\{0,1\}[0-9]*|xfs-heal|FAIL|' "$logs/vm.log" || true) ))
echo
echo "total: $passed passed, $failed failed"
