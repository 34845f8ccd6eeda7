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

vm_log "building release binaries"
(cd "$REPO" && cargo build --release --locked -q -p xfs-heal-monitor -p xfs-heal-repairer \
    -p xfs-heal-tests --bin xfs-heal-monitor --bin xfs-heal-repairer --bin xfs-heal-capture)

work=$(mktemp -d "${TMPDIR:-/tmp}/xfs-heal-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
seg=$work/seg
mkdir -p "$seg/opt/xfs-heal/bin"
install -m 0755 "$VM_DIR/guest/init" "$seg/init"
install -m 0644 "$VM_DIR/guest/lib.sh" "$VM_DIR/guest/scenarios.sh" "$seg/opt/xfs-heal/"
for b in xfs-heal-monitor xfs-heal-repairer xfs-heal-capture; do
    install -m 0755 "$REPO/target/release/$b" "$seg/opt/xfs-heal/bin/"
done
echo "${XFS_HEAL_VM_SCENARIOS:-all}" > "$seg/opt/xfs-heal/selected"
(cd "$seg" && find . -print0 | cpio --null -o -H newc --quiet > "$work/seg.cpio")
cat "$CACHE/rootfs.cpio" "$work/seg.cpio" > "$work/initrd.cpio"

# TCG unless real hardware KVM is there (/dev/kvm here may be a paravirtual stand-in that
# stock kernels crash under).
accel="tcg,thread=multi"
if lsmod 2>/dev/null | grep -qE '^kvm_(intel|amd) '; then accel=kvm; fi
vm_log "booting $KVER ($accel)"
out=$work/guest.txt status=$work/status.txt console=$work/console.log
set +e
timeout "${XFS_HEAL_VM_TIMEOUT:-1500}" qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 3G \
    -nographic -no-reboot -monitor none -nic none \
    -kernel "$CACHE/kernel/vmlinuz" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
    -serial "file:$console" \
    -device virtio-serial-pci \
    -chardev "file,id=out,path=$out" -device virtconsole,chardev=out \
    -chardev "file,id=st,path=$status" -device virtconsole,chardev=st >/dev/null 2>&1
qemu_rc=$?
set -e
# hvc0 is a tty: lines arrive as CRLF.
tr -d '\r' < "$out" > "$out.clean" && mv "$out.clean" "$out"

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
printf '%-4s %-58s %-22s %-22s\n' "#" "scenario" "xfs-heal" "xfs_healer"
while IFS='|' read -r _ id title; do
    cell() {
        local line
        line=$(grep "^RESULT|$id|$1|" "$out" | head -1) || true
        if [ -z "$line" ]; then echo "not run"; return; fi
        IFS='|' read -r _ _ _ verdict secs _ <<<"$line"
        if [ "$secs" != "-" ]; then echo "$verdict ${secs}s"; else echo "$verdict"; fi
    }
    printf '%-4s %-58s %-22s %-22s\n' "$id" "$title" "$(cell xfs-heal)" "$(cell xfs_healer)"
done < <(grep '^SCENARIO|' "$out")
echo
echo "Notes:"
grep '^RESULT|' "$out" | awk -F'|' '{ printf "  %s %-10s %s\n", $2, $3, $6 }'

if grep '^RESULT|' "$out" | grep '|xfs-heal|FAIL|' >/dev/null; then fail=1; fi
if ! grep -q '^ALL-DONE' "$out"; then
    echo "the guest did not finish its scenarios (qemu exit $qemu_rc); kernel console tail:" >&2
    tail -40 "$console" >&2
    fail=1
fi
if grep -qE 'Oops|BUG:|Kernel panic' "$console"; then
    echo "the guest kernel oopsed; console:" >&2
    grep -A30 -E 'Oops|BUG:|Kernel panic' "$console" | head -60 >&2
    fail=1
fi
vm_log "done in $(( $(date +%s) - started ))s"
exit $fail
