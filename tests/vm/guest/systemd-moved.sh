# Scenario U9, sourced by systemd-scenarios.sh: `mount --move` under systemd, for xfs-heal
# and for xfs_healer, each on its own identical filesystem with one corrupt directory.
# The kernel moves a mount only from under a private parent, so each filesystem sits on a
# tmpfs at /mnt/u9, shared while the daemons start and made private before the move.
#  xfs-heal stops at the old place (both units are bound to the mount unit; the stop
#  releases the repairer's fd store) and the pair enabled for the new place starts there
#  and repairs; after the unmount there, nothing
#  pins the filesystem (the loop device detaches itself).
#  xfs_healer follows the move and repairs at the new place.

u9_attached() { losetup -j "/tmp/$1.img" | cut -d: -f1; }
# u9_wait_detached NAME: up to 10 s for the loop device of /tmp/NAME.img to go away.
u9_wait_detached() {
    _n=100; while [ $_n -gt 0 ] && [ -n "$(u9_attached "$1")" ]; do sleep 0.1; _n=$((_n - 1)); done
    [ -z "$(u9_attached "$1")" ]
}
u9_inactive() { settled_down "$1"; }
u9_wait_inactive() { wait_settled_down "$1"; }

scenario U9 "systemd: a moved mount (mount --move): xfs-heal stops at the old place, the pair for the new place takes over, nothing pins the filesystem"
mkdir -p /mnt/u9; mount -t tmpfs u9 /mnt/u9; mount --make-shared /mnt/u9
for d in xfs-heal xfs_healer; do
    # xfsprogs' mount watcher runs in a namespace of its own, where a move does not arrive
    # either: it would hold the filesystem at the old place. It rests while xfs-heal runs.
    if [ $d = xfs-heal ]; then systemctl stop xfs_healer_start.service; else systemctl start xfs_healer_start.service; fi
    n=u9x; [ $d = xfs_healer ] && n=u9h
    corrupt_dir_image $n; rm -rf /mnt/$n
    old=/mnt/u9/$n-old; new=/mnt/u9/$n-new; mkdir -p $old $new
    oi=$(systemd-escape -p $old); ni=$(systemd-escape -p $new)
    if [ $d = xfs-heal ]; then
        systemctl enable "xfs-heal-monitor@$oi.service" "xfs-heal-monitor@$ni.service" >/dev/null 2>&1
    fi
    mount -o loop /tmp/$n.img $old
    if [ $d = xfs-heal ]; then
        wait_unit "xfs-heal-monitor@$oi.service"; wait_unit "xfs-heal-repairer@$oi.service"
        before="$(systemctl is-active "xfs-heal-monitor@$oi.service")/$(systemctl is-active "xfs-heal-repairer@$oi.service")"
    else
        systemctl start "xfs_healer@$oi.service"; wait_unit "xfs_healer@$oi.service"
        before=$(systemctl is-active "xfs_healer@$oi.service")
    fi
    sleep 1
    t0=$(now)
    mount --make-private /mnt/u9
    mount --move $old $new; mv_rc=$?
    if [ $d = xfs-heal ]; then
        u9_wait_inactive "xfs-heal-monitor@$oi.service" && u9_wait_inactive "xfs-heal-repairer@$oi.service" \
            && stopped=yes || stopped=no
        # What systemd said of the old place's units.
        journalctl --no-pager -o cat | grep -F "$oi" | tail -n 6 | cut -c1-200
        bound=$(journalctl --no-pager -o cat | grep -F "$oi" | grep -c -E "Stopped xfs-heal-(monitor|repairer)@")
        # A stop releases the old repairer's fd store (FileDescriptorStorePreserve=restart):
        # the health fd it held still watches the moved filesystem, and while it stayed
        # there the pair at the new place met EEXIST.
        _n=100; while [ $_n -gt 0 ] && [ "$(systemctl show -p ActiveState --value "xfs-heal-repairer@$oi.service")" != inactive ]; do sleep 0.1; _n=$((_n - 1)); done
        store=$(systemctl show -p NFileDescriptorStore --value "xfs-heal-repairer@$oi.service")
        # The parent stays private after the move, and a pair refuses to start under a
        # private parent (the host's unmount would not reach its namespace): as an operator
        # would, share it again, then start the pair enabled for the new place, whose start
        # at the move was refused for that reason.
        refused=$(journalctl --no-pager -o cat -u "xfs-heal-monitor@$ni.service" | grep -c "the mount it sits on is not shared")
        mount --make-shared /mnt/u9
        systemctl reset-failed "xfs-heal-monitor@$ni.service" 2>/dev/null
        systemctl start "xfs-heal-monitor@$ni.service"
        wait_unit "xfs-heal-monitor@$ni.service"; wait_unit "xfs-heal-repairer@$ni.service"
        after="$(systemctl is-active "xfs-heal-monitor@$ni.service")/$(systemctl is-active "xfs-heal-repairer@$ni.service")"
        journalctl --no-pager -o cat -u "xfs-heal-repairer@$ni.service" | grep -v '^$' | tail -n 4 | cut -c1-250
        unit="xfs-heal-monitor@$ni.service"
    else
        stopped=no; bound=0; store=-
        after=$(systemctl is-active "xfs_healer@$oi.service")
        unit="xfs_healer@$oi.service"
    fi
    sleep 1
    ls $new/a/b/c >/dev/null 2>&1
    wait_entries $new/a/b/c && entries=50 || entries=$(dir_entries $new/a/b/c)
    t1=$(now)
    journalctl --no-pager -o cat -u "$unit" | grep -E 'directory|repair|Repair|moved|sick' | tail -n 5 | cut -c1-200
    mount --make-shared /mnt/u9
    umount $new; um=$?
    u9_wait_detached $n && detached=yes || detached="no ($(u9_attached $n))"
    if [ "$detached" != yes ]; then
        for p in /proc/[0-9]*; do
            grep -q "u9/$n-" "$p/mountinfo" 2>/dev/null && say "  still mounted in the namespace of pid ${p#/proc/} ($(cat "$p/comm" 2>/dev/null))"
        done
    fi
    if [ $d = xfs_healer ]; then
        # Namespaces where the move did not arrive (xfs_healer@'s, xfs_healer_start's) hold
        # the filesystem: stopping both lets the device go.
        systemctl stop "xfs_healer@$oi.service" xfs_healer_start.service
        u9_wait_detached $n && after_stop=yes || after_stop=no
    fi
    repair_clean /tmp/$n.img && clean=yes || clean=no
    say "u9 $d: before $before; move rc $mv_rc; old place stopped $stopped ("Stopped" lines $bound), its fd store holds $store fd; new place refused while the parent was private $refused time(s), then $after; entries $entries; umount $um; device detached $detached; xfs_repair -n clean $clean"
    if [ $d = xfs-heal ]; then
        systemctl disable "xfs-heal-monitor@$oi.service" "xfs-heal-monitor@$ni.service" >/dev/null 2>&1
        if [ "$before" = active/active ] && [ $mv_rc = 0 ] && [ $stopped = yes ] && [ "$store" = 0 ] \
           && [ "$after" = active/active ] && [ "$entries" = 50 ] && [ $um = 0 ] && [ "$detached" = yes ] && [ $clean = yes ]; then
            result U9 xfs-heal PASS "$(elapsed "$t0" "$t1")" "moved: the pair at the old place stopped (bound to the mount unit); its fd store released with it (no fd left to watch the moved filesystem); the pair enabled for the new place (its start refused $refused time(s) while the parent was private) started once it was shared again and repaired the directory; after umount there the device detached; xfs_repair -n clean"
        else
            diagnose
            result U9 xfs-heal FAIL - "before $before, move $mv_rc, stopped $stopped ($bound, store $store), new $after, entries $entries, umount $um, detached $detached, clean $clean"
        fi
    else
        if [ "$before" = active ] && [ $mv_rc = 0 ] && [ "$after" = active ] && [ "$entries" = 50 ] && [ $clean = yes ]; then
            result U9 xfs_healer PASS "$(elapsed "$t0" "$t1")" "follows the move and repairs at the new place; but after umount there the device detached: $detached (once xfs_healer@ and xfs_healer_start were stopped: $after_stop)"
        else
            result U9 xfs_healer FAIL - "before $before, move $mv_rc, after $after, entries $entries, umount $um, detached $detached (after stopping it: $after_stop), clean $clean"
        fi
    fi
    rm -f /tmp/$n.img
done
umount /mnt/u9
# U7, next, expects xfsprogs' mount watcher running, as U8 leaves it.
systemctl start xfs_healer_start.service
