#!/usr/bin/env bash
# The real-kernel suite: boots Debian's 7.3 kernel (health monitor + online repair) once in
# QEMU and runs every scenario of guest/scenarios.sh in that boot, for xfs-heal and for
# upstream's xfs_healer side by side. Prints a table; exits non-zero if any scenario of
# xfs-heal fails, the guest dies, or the kernel oopses.
#   bash tests/vm/run.sh                  # all scenarios
#   bash tests/vm/run.sh --update-sample  # also replace tests/data/sample.v0 with the capture
#   XFS_HEAL_VM_SCENARIOS="1 5" bash tests/vm/run.sh   # a subset
set -euo pipefail
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
source "$VM_DIR/setup.sh"
update_sample=false
[ "${1:-}" = --update-sample ] && update_sample=true

started=$(date +%s)
vm_setup

vm_log "building the package and release binaries"
deb=$(bash "$REPO/systemd/package.sh" | tail -n 1)
(cd "$REPO" && cargo build --release --locked -q -p xfs-heal-tests --bin xfs-heal-capture --bin xfs-heal-raw-client)

work=$(mktemp -d "${TMPDIR:-/tmp}/xfs-heal-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Boot 1: a shell /init runs guest/scenarios.sh (daemons started by hand).
seg=$work/seg
mkdir -p "$seg/opt/xfs-heal/bin"
install -m 0755 "$VM_DIR/guest/init" "$seg/init"
install -m 0644 "$VM_DIR/guest/lib.sh" "$VM_DIR/guest/scenarios.sh" "$seg/opt/xfs-heal/"
for b in xfs-heal xfs-heal-monitor xfs-heal-repairer xfs-heal-capture xfs-heal-raw-client; do
    install -m 0755 "$REPO/target/$(sed -n 's/^target = "\(.*\)"$/\1/p' "$REPO/.cargo/config.toml")/release/$b" "$seg/opt/xfs-heal/bin/"
done
echo "${XFS_HEAL_VM_SCENARIOS:-all}" > "$seg/opt/xfs-heal/selected"
# Scenario 13's runs per daemon (min/median/max over them).
echo "${XFS_HEAL_VM_PERF_RUNS:-3}" > "$seg/opt/xfs-heal/perf-runs"
# ... and the daemons it compares (xfs-heal-pN: both of ours with --parallel N, to diagnose).
echo "${XFS_HEAL_VM_PERF_LABELS:-xfs-heal xfs_healer xfs_healer-fg}" > "$seg/opt/xfs-heal/perf-labels"

# Boot 2: systemd is PID 1; the guest installs the package (dpkg -i) before its scenarios.
sd=$work/sd
mkdir -p "$sd/etc/systemd/system/multi-user.target.wants" "$sd/opt/xfs-heal"
echo "${XFS_HEAL_VM_SCENARIOS:-all}" > "$sd/opt/xfs-heal/selected"
install -m 0644 "$deb" "$sd/opt/xfs-heal/xfs-heal.deb"
install -m 0644 "$VM_DIR/guest/lib.sh" "$VM_DIR/guest/systemd-scenarios.sh" "$VM_DIR/guest/systemd-resume.sh" \
    "$VM_DIR/guest/systemd-fullcheck.sh" "$VM_DIR/guest/systemd-moved.sh" "$VM_DIR/guest/systemd-names.sh" \
    "$sd/opt/xfs-heal/"
# No udev in the guest: gettys would wait 90 s for tty devices that never appear.
ln -s /dev/null "$sd/etc/systemd/system/serial-getty@.service"
ln -s /dev/null "$sd/etc/systemd/system/getty@.service"
cat > "$sd/etc/systemd/system/vmtest.service" <<'UNIT'
[Unit]
Description=xfs-heal VM scenarios under systemd
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh /opt/xfs-heal/systemd-scenarios.sh
UNIT
ln -s /etc/systemd/system/vmtest.service "$sd/etc/systemd/system/multi-user.target.wants/vmtest.service"

# TCG unless real hardware KVM is there (/dev/kvm here may be a paravirtual stand-in that
# stock kernels crash under).
accel="tcg,thread=multi"
if lsmod 2>/dev/null | grep -qE '^kvm_(intel|amd) '; then accel=kvm; fi

# boot NAME SEGMENT_DIR INIT: one QEMU run; guest log in $work/NAME.txt, console in
# $work/NAME.console. Returns QEMU's status.
boot() {
    (cd "$2" && find . -print0 | cpio --null -o -H newc --quiet > "$work/$1.seg.cpio")
    cat "$CACHE/rootfs.cpio" "$work/$1.seg.cpio" > "$work/$1.initrd"
    vm_log "booting $KVER ($accel): $1"
    timeout "${XFS_HEAL_VM_TIMEOUT:-1500}" qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 3G \
        -nographic -no-reboot -monitor none -nic none \
        -kernel "$CACHE/kernel/vmlinuz" -initrd "$work/$1.initrd" \
        -append "console=ttyS0 rdinit=$3 panic=-1 quiet" \
        -serial "file:$work/$1.console" \
        -device virtio-serial-pci \
        -chardev "file,id=out,path=$work/$1.txt" -device virtconsole,chardev=out \
        -chardev "file,id=st,path=$work/$1.status" -device virtconsole,chardev=st >/dev/null 2>&1
    local rc=$?
    # Each initrd is the size of the rootfs; do not keep two around.
    rm -f "$work/$1.initrd" "$work/$1.seg.cpio"
    return $rc
}

# Boot 3: scenario 11's upstream run, which Oopses the kernel: the same /init, alone.
defect=$work/defect
cp -a "$seg" "$defect"
echo defect-healer > "$defect/opt/xfs-heal/selected"

set +e
boot scenarios "$seg" /init; qemu_rc=$?
defect_rc=0
if [ "${XFS_HEAL_VM_SCENARIOS:-all}" = all ] || echo " ${XFS_HEAL_VM_SCENARIOS} " | grep -q ' 11 '; then
    XFS_HEAL_VM_TIMEOUT=${XFS_HEAL_VM_DEFECT_TIMEOUT:-300} boot defect "$defect" /init; defect_rc=$?
fi
sd_rc=0
if [ "${XFS_HEAL_VM_SCENARIOS:-all}" = all ] || echo " ${XFS_HEAL_VM_SCENARIOS} " | grep -q -E ' U[0-9]+ '; then
    boot systemd "$sd" /lib/systemd/systemd; sd_rc=$?
fi
set -e
out=$work/guest.txt console=$work/console.log
# hvc0 is a tty: lines arrive as CRLF.
# A subset without U scenarios skips the second boot: read only what the boots wrote.
cat /dev/null "$work"/scenarios.txt "$work"/systemd.txt "$work"/defect.txt 2>/dev/null | tr -d '\r' > "$out" || true
# The defect boot's console is left out on purpose: upstream Oopses there (scenario 11).
cat /dev/null "$work"/scenarios.console "$work"/systemd.console 2>/dev/null > "$console" || true

# The guest's own log, minus the captured bytes.
sed '/^CAPTURE-BEGIN/,/^CAPTURE-END/d' "$out"
if grep -q '^CAPTURE-BEGIN' "$out"; then
    sed -n '/^CAPTURE-BEGIN/,/^CAPTURE-END/p' "$out" | sed '1d;$d' | base64 -d > "$CACHE/captured.v0"
    vm_log "captured $(stat -c %s "$CACHE/captured.v0") bytes of real V0 records: $CACHE/captured.v0"
    if $update_sample; then
        cp "$CACHE/captured.v0" "$REPO/tests/data/sample.v0"
        vm_log "tests/data/sample.v0 replaced by the capture"
    fi
fi

fail=0
echo
echo "Real-kernel scenarios ($KVER, xfsprogs $(grep -o 'xfsprogs [0-9.]*' "$out" | head -1 | cut -d' ' -f2)):"
printf '%-4s %-86s %-22s %-22s\n' "#" "scenario" "xfs-heal" "xfs_healer"
while IFS='|' read -r _ id title; do
    cell() {
        local line
        line=$(grep "^RESULT|$id|$1|" "$out" | head -1) || true
        if [ -z "$line" ]; then echo "not run"; return; fi
        IFS='|' read -r _ _ _ verdict secs _ <<<"$line"
        if [ "$secs" != "-" ]; then echo "$verdict ${secs}s"; else echo "$verdict"; fi
    }
    printf '%-4s %-86s %-22s %-22s\n' "$id" "$title" "$(cell xfs-heal)" "$(cell xfs_healer)"
done < <(grep '^SCENARIO|' "$out")
echo
echo "Notes:"
grep '^RESULT|' "$out" | awk -F'|' '{ printf "  %s %-10s %s\n", $2, $3, $6 }'

if grep '^RESULT|' "$out" | grep '|xfs-heal|FAIL|' >/dev/null; then fail=1; fi
for b in scenarios systemd defect; do
    [ -f "$work/$b.txt" ] || continue
    if ! tr -d '\r' < "$work/$b.txt" | grep -q '^ALL-DONE'; then
        echo "the $b boot did not finish (qemu exits $qemu_rc/$sd_rc); kernel console tail:" >&2
        tail -40 "$work/$b.console" >&2
        fail=1
    fi
done
if grep -qE 'Oops|BUG:|Kernel panic' "$console"; then
    echo "the guest kernel oopsed; console:" >&2
    grep -A30 -E 'Oops|BUG:|Kernel panic' "$console" | head -60 >&2
    fail=1
fi
vm_log "done in $(( $(date +%s) - started ))s"
exit $fail
