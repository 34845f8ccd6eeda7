# Helpers for the guest scenarios (POSIX sh). Every wait is bounded, so a hung daemon fails
# its scenario instead of the whole boot.
BIN=/opt/xfs-heal/bin
HEALER=/usr/libexec/xfsprogs/xfs_healer
MONITOR_UID=990

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
say() { echo "[$(now)] $*"; }
scenario() { echo "SCENARIO|$1|$2"; say "=== scenario $1: $2"; }
# result ID DAEMON PASS|FAIL|N/A SECONDS|- NOTE
result() { echo "RESULT|$1|$2|$3|$4|$5"; }
# settled_down UNIT...: true when every unit's stop has finished (inactive or failed), not
# merely begun ("deactivating": its ExecStopPost= may still run).
settled_down() {
    for _u in "$@"; do
        case $(systemctl is-active "$_u") in inactive|failed) ;; *) return 1 ;; esac
    done
}
# wait_settled_down UNIT...: up to 10 s for settled_down.
wait_settled_down() {
    _w=200; while [ $_w -gt 0 ] && ! settled_down "$@"; do sleep 0.05; _w=$((_w - 1)); done
    settled_down "$@"
}

# wait_for FILE PATTERN SECONDS: true once FILE has a line matching PATTERN.
wait_for() {
    _n=$(( $3 * 20 ))
    while [ $_n -gt 0 ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05; _n=$((_n - 1))
    done
    return 1
}

# wait_exit PID SECONDS: sets WAIT_RC to the exit status, or "timeout". Must run in the
# shell that started PID (not in a $(...) subshell), which alone can reap it.
wait_exit() {
    _n=$(( $2 * 20 ))
    while [ $_n -gt 0 ]; do
        # A zombie still answers kill -0; its state says it is gone.
        if ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; then
            wait "$1" 2>/dev/null; WAIT_RC=$?; return
        fi
        sleep 0.05; _n=$((_n - 1))
    done
    WAIT_RC=timeout
}

count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

# mkfs_img NAME [mkfs options]: a 512 MiB image in guest memory.
mkfs_img() {
    _name=$1; shift
    rm -f /tmp/$_name.img; truncate -s 512M /tmp/$_name.img
    mkfs.xfs -q -f "$@" /tmp/$_name.img
}
mount_img() { mkdir -p /mnt/$1 && mount -o loop${2:+,$2} /tmp/$1.img /mnt/$1; }

# A block-format directory of 50 entries at /a/b/c, its first block's magic trashed offline.
corrupt_dir_image() {
    mkfs_img "$1"; mount_img "$1"
    mkdir -p /mnt/$1/a/b/c
    _i=1; while [ $_i -le 50 ]; do : > /mnt/$1/a/b/c/f$_i; _i=$((_i + 1)); done
    umount /mnt/$1
    xfs_db -x -c 'path /a/b/c' -c 'dblock 0' -c 'fuzz -d bhdr.hdr.magic ones' /tmp/$1.img >/dev/null 2>&1
}
dir_entries() { ls "$1" 2>/dev/null | wc -l; }

# start_xfsheal NAME [monitor options]: the repairer as root, the monitor as uid 990 with
# no capabilities at all. Sets REP and MON.
start_xfsheal() {
    _name=$1; shift
    rm -f /run/xfs-heal/$_name.sock
    $BIN/xfs-heal listen /run/xfs-heal/$_name.sock -- $BIN/xfs-heal-repairer /mnt/$_name 2>/tmp/$_name.rep &
    REP=$!
    wait_for /tmp/$_name.rep "serving " 20 || { say "repairer did not start:"; cat /tmp/$_name.rep; return 1; }
    start_monitor "$_name" "$@"
}
start_monitor() {
    _name=$1; shift
    setpriv --reuid=$MONITOR_UID --regid=$MONITOR_UID --clear-groups --inh-caps=-all --bounding-set=-all \
        $BIN/xfs-heal-monitor --connect /run/xfs-heal/$_name.sock --repair "$@" /mnt/$_name >/tmp/$_name.mon 2>&1 &
    MON=$!
    # "connected", not "monitoring started": a restarted monitor never sees RUNNING again.
    wait_for /tmp/$_name.mon "connected to the repairer" 20 || { say "monitor did not start:"; cat /tmp/$_name.mon; return 1; }
}
start_healer() {
    $HEALER --repair /mnt/$1 >/tmp/$1.healer 2>&1 &
    HEALER_PID=$!
    wait_for /tmp/$1.healer "monitoring started" 20 || { say "xfs_healer did not start:"; cat /tmp/$1.healer; return 1; }
}

# The repairer's audit lines for one target.
audited() { grep -c "target=\"$2\" verdict=issued" /tmp/$1.rep 2>/dev/null || true; }

# umount_now MNT: unmounts within 10 s; prints "ok" or the failure.
umount_now() {
    if _err=$(timeout 10 umount "$1" 2>&1); then echo ok; else echo "failed: $_err"; fi
}

repair_clean() { xfs_repair -n "$@" >/dev/null 2>&1; }

show_logs() { # NAME
    for _f in /tmp/$1.rep /tmp/$1.mon /tmp/$1.healer; do
        [ -f "$_f" ] && { echo "--- $_f"; tail -n 40 "$_f" | cut -c1-220; }
    done
    return 0
}

# cleanup NAME: nothing of a scenario may outlive it (daemons, mounts, loop devices, images).
cleanup() {
    for _p in $REP $MON $HEALER_PID; do kill -9 $_p 2>/dev/null; done
    REP= MON= HEALER_PID=
    pkill -9 -f "/mnt/$1\$" 2>/dev/null
    while grep -q " /mnt/$1 " /proc/mounts; do umount -l /mnt/$1 2>/dev/null || break; done
    [ -n "$RTDEV" ] && losetup -d $RTDEV 2>/dev/null
    RTDEV=
    rm -f /tmp/$1*.img /tmp/$1*.clone /tmp/$1*.rt
}

# settle FILE: waits (up to 15 s) until FILE stops growing for a second: a repair still in
# flight holds the filesystem open, and an unmount then would rightly get EBUSY.
settle() {
    _n=15
    while [ $_n -gt 0 ]; do
        _a=$(stat -c %s "$1" 2>/dev/null); sleep 1; _b=$(stat -c %s "$1" 2>/dev/null)
        [ "$_a" = "$_b" ] && return 0
        _n=$((_n - 1))
    done
}
daemon_log() { if [ "$2" = xfs-heal ]; then echo /tmp/$1.mon; else echo /tmp/$1.healer; fi; }
