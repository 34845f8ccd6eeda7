#!/usr/bin/env bash
# Prepares everything the VM suite needs, from the package registries only, cached under
# $XFS_HEAL_VM_CACHE (default tests/vm/cache): QEMU and mmdebstrap from bookworm-backports
# (installed on the host), Debian's 7.3 cloud kernel from trixie-backports (unpacked, never
# installed), and a sid rootfs with xfsprogs 7.2 packed as an initramfs.
# Sourced by run.sh; safe to run again (each step checks its stamp).
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${XFS_HEAL_VM_CACHE:-$VM_DIR/cache}
KVER=7.3.4+deb13-cloud-amd64
# The guest's packages; changing this list rebuilds the rootfs.
# prometheus-node-exporter and curl: the metrics are scraped from the real node_exporter.
GUEST_PACKAGES=xfsprogs,kmod,mount,procps,util-linux,attr,systemd,coreutils,mawk,libseccomp2,prometheus-node-exporter,curl
ROOTFS_STAMP="$KVER $GUEST_PACKAGES v4"
# Debian's Release files for these suites are past Valid-Until on snapshot-pinned machines.
NOVALID=(-o Acquire::Check-Valid-Until=false)

vm_log() { printf '==> vm: %s\n' "$*" >&2; }

# A private apt configuration: the host's own sources stay untouched.
private_apt() { # NAME SOURCES...
    local name=$1; shift
    local dir=$CACHE/apt-$name
    mkdir -p "$dir"/lists/partial "$dir"/cache/archives/partial
    printf '%s\n' "$@" > "$dir/sources.list"
    APT_OPTS=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- \
              -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" "${NOVALID[@]}")
    if [ ! -e "$dir/updated" ] || [ "$dir/sources.list" -nt "$dir/updated" ]; then
        apt-get "${APT_OPTS[@]}" update -qq
        touch "$dir/updated"
    fi
}

deb_line() { echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/$1 $2 main"; }

ensure_host_tools() {
    if qemu-system-x86_64 --version 2>/dev/null | grep -q 'version 1[0-9]' && command -v mmdebstrap >/dev/null && command -v cpio >/dev/null; then
        return
    fi
    vm_log "installing qemu-system-x86 and mmdebstrap from bookworm-backports"
    private_apt host "$(deb_line debian bookworm)" "$(deb_line debian bookworm-updates)" \
        "$(deb_line debian-security bookworm-security)" "$(deb_line debian bookworm-backports)"
    # --no-remove: bookworm's own qemu would replace the machine's qemu-utils 10.x.
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq --no-remove \
        --no-install-recommends -t bookworm-backports qemu-system-x86 mmdebstrap cpio >/dev/null
}

ensure_kernel() {
    [ -f "$CACHE/kernel/vmlinuz" ] && [ -d "$CACHE/kernel/modules/$KVER" ] && return
    vm_log "fetching the $KVER kernel from trixie-backports"
    private_apt kernel "$(deb_line debian trixie)" "$(deb_line debian trixie-backports)"
    local tmp=$CACHE/kernel.tmp
    rm -rf "$tmp" && mkdir -p "$tmp/debs" "$tmp/root"
    (cd "$tmp/debs" && apt-get "${APT_OPTS[@]}" download -qq \
        "linux-binary-$KVER" "linux-modules-$KVER" "linux-base-$KVER" 2>/dev/null)
    for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    mkdir -p "$tmp/out/modules"
    cp "$tmp/root/usr/lib/modules/$KVER/vmlinuz" "$tmp/out/vmlinuz"
    cp -a "$tmp/root/usr/lib/modules/$KVER" "$tmp/out/modules/"
    rm -f "$tmp/out/modules/$KVER/vmlinuz"
    rm -rf "$CACHE/kernel" && mv "$tmp/out" "$CACHE/kernel" && rm -rf "$tmp"
}

ensure_rootfs() {
    if [ -f "$CACHE/rootfs.cpio" ] && [ "$(cat "$CACHE/rootfs.stamp" 2>/dev/null)" = "$ROOTFS_STAMP" ]; then
        return
    fi
    vm_log "building the sid guest rootfs ($GUEST_PACKAGES)"
    local root=$CACHE/rootfs.tmp
    rm -rf "$root"
    mmdebstrap --quiet --variant=essential --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$GUEST_PACKAGES" sid "$root" http://deb.debian.org/debian
    mkdir -p "$root/usr/lib/modules"
    cp -a "$CACHE/kernel/modules/$KVER" "$root/usr/lib/modules/"
    chroot "$root" depmod "$KVER"
    rm -rf "$root"/usr/share/{doc,man,locale,info}
    (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet > "$CACHE/rootfs.cpio.tmp")
    mv "$CACHE/rootfs.cpio.tmp" "$CACHE/rootfs.cpio"
    echo "$ROOTFS_STAMP" > "$CACHE/rootfs.stamp"
    rm -rf "$root"
}

vm_setup() {
    mkdir -p "$CACHE"
    ensure_host_tools
    ensure_kernel
    ensure_rootfs
}
