#!/usr/bin/env bash
# Builds the xfs-heal .deb: release binaries, man pages rendered from the clap definitions,
# then cargo-deb (installed from crates.io at a pinned version if missing). Prints the path
# of the package on its last line.
#   bash systemd/package.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_DEB_VERSION=3.8.0
cd "$REPO"

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "==> package: installing cargo-deb $CARGO_DEB_VERSION" >&2
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION" >&2
fi
# dpkg-shlibdeps fills in $auto (the libc the binaries need).
command -v dpkg-shlibdeps >/dev/null || {
    echo "==> package: installing dpkg-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev >/dev/null
}

echo "==> package: building release binaries and man pages" >&2
# The daemons on their own: built together with the tests crate, the monitor would get the
# json-replay feature the tests enable (cargo unifies features within one build).
cargo build --release --locked -q -p xfs-heal-monitor -p xfs-heal-repairer -p xfs-heal-generator -p xfs-heal-ctl \
    --bin xfs-heal-monitor --bin xfs-heal-repairer --bin xfs-heal-generator --bin xfs-heal
cargo build --release --locked -q -p xfs-heal-tests --bin xfs-heal-man
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
# The static build's triple (.cargo/config.toml); cargo-deb maps the assets' target/release/
# to target/TRIPLE/release/.
triple=$(sed -n 's/^target = "\(.*\)"$/\1/p' "$REPO/.cargo/config.toml")
release=$target/$triple/release
rm -rf "$release/man"
"$release/xfs-heal-man" "$release/man" >/dev/null
# Compressed per Debian policy; -n keeps the package reproducible (no name or time stamp).
gzip -9nf "$release/man"/*.8

echo "==> package: cargo deb" >&2
deb=$(cargo deb --no-build --quiet -p xfs-heal-repairer --target "$triple" --output "$target/debian/" | tail -n 1)
echo "$deb"
