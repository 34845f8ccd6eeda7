# Scenarios under systemd as PID 1 with the shipped units installed as a package would
# (binaries in /usr/libexec/xfs-heal, units, sysusers.d, tmpfiles.d). Run by vmtest.service.
exec > /dev/hvc0 2>&1
cd /opt/xfs-heal && . ./lib.sh
say "systemd $(systemctl --version | awk 'NR==1 {print $2}') is PID 1 ($(cat /proc/1/comm))"
modprobe loop; modprobe xfs
scenario U1 "systemd: enable the monitor for a mount; socket-activated repairer repairs"
corrupt_dir_image data; mount_img data
systemctl daemon-reload
systemctl enable --now xfs-heal-monitor@mnt-data.service >/dev/null 2>&1
wait_unit() { _n=200; while [ $_n -gt 0 ]; do [ "$(systemctl is-active "$1")" = active ] && return 0; sleep 0.05; _n=$((_n - 1)); done; return 1; }
wait_unit xfs-heal-monitor@mnt-data.service
ls /mnt/data/a/b/c >/dev/null 2>&1
wait_unit xfs-heal-repairer@mnt-data.service && activated=yes || activated=no
i=0; while [ $i -lt 400 ] && [ "$(dir_entries /mnt/data/a/b/c)" != 50 ]; do sleep 0.05; i=$((i + 1)); done
whole=no; [ "$(dir_entries /mnt/data/a/b/c)" = 50 ] && whole=yes
caps() { grep "^$2:" /proc/$(systemctl show -p MainPID --value "$1")/status | awk '{print $2}'; }
rep_caps="$(caps xfs-heal-repairer@mnt-data.service CapEff)/$(caps xfs-heal-repairer@mnt-data.service CapPrm)/$(caps xfs-heal-repairer@mnt-data.service CapBnd)"
mon_caps="$(caps xfs-heal-monitor@mnt-data.service CapEff)/$(caps xfs-heal-monitor@mnt-data.service CapPrm)/$(caps xfs-heal-monitor@mnt-data.service CapBnd)"
sleep 1
journal=$(journalctl --no-pager -o cat -u xfs-heal-repairer@mnt-data.service -u xfs-heal-monitor@mnt-data.service)
audit=$(echo "$journal" | grep -c 'verdict=issued result="Repairs successful.')
monitor_line=$(echo "$journal" | grep -c 'directory: Repairs successful.')
status=$(systemctl show -p StatusText --value xfs-heal-repairer@mnt-data.service)
# Structured fields: the same inode, by the same field name, from both units.
ino=$(stat -c %i /mnt/data/a/b/c)
mon_fields=$(journalctl --no-pager -o cat -u xfs-heal-monitor@mnt-data.service XFS_HEAL_INO=$ino XFS_HEAL_KIND=repair_result XFS_HEAL_OUTCOME=repaired XFS_HEAL_STRUCTURE=directory | wc -l)
rep_fields=$(journalctl --no-pager -o cat -u xfs-heal-repairer@mnt-data.service XFS_HEAL_INO=$ino XFS_HEAL_KIND=audit XFS_HEAL_VERDICT=issued XFS_HEAL_OUTCOME=repaired | wc -l)
sick_prio=$(journalctl --no-pager -o cat -p warning -u xfs-heal-monitor@mnt-data.service XFS_HEAL_INO=$ino XFS_HEAL_TYPE=sick | wc -l)
journalctl --no-pager -o verbose -u xfs-heal-repairer@mnt-data.service XFS_HEAL_KIND=audit | grep -E '^ +(MESSAGE|PRIORITY|XFS_HEAL_)' | head -n 16
umount /mnt/data; um=$?
sleep 2
states=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.socket | tr '\n' ' ')
echo "$journal" | grep -v "cannot be resolved" | tail -n 12
say "repairer caps $rep_caps, monitor caps $mon_caps; status: $status; after umount: $states"
say "journal entries for ino $ino: monitor repair_result/repaired $mon_fields, repairer audit/issued/repaired $rep_fields, sick at warning or above $sick_prio"
if [ $activated = yes ] && [ $whole = yes ] && [ "$rep_caps" = "0000000000200000/0000000000200000/0000000000200000" ] \
   && [ "$mon_caps" = "0000000000000000/0000000000000000/0000000000000000" ] && [ "$audit" -ge 1 ] && [ "$monitor_line" -ge 1 ] \
   && [ $um = 0 ] && [ "$states" = "inactive inactive inactive " ] \
   && [ "$mon_fields" -ge 1 ] && [ "$rep_fields" -ge 1 ] && [ "$sick_prio" -ge 1 ]; then
    result U1 xfs-heal PASS - "activated by the socket; repaired; journal has both units, with structured fields; repairer CAP_SYS_ADMIN only, monitor none; umount stopped all three units"
else
    result U1 xfs-heal FAIL - "activated $activated, whole $whole, repairer caps $rep_caps, monitor caps $mon_caps, audit $audit, monitor lines $monitor_line, fields $mon_fields/$rep_fields/$sick_prio, umount $um, after: $states"
fi

scenario U2 "systemd: repairer killed with events queued; restarted from the fd store"
# Two mounts, one corrupt directory each (a directory repair scans the filesystem and fails
# while another directory is corrupt, so one image with two would test the kernel instead).
t0=$(now); since=$(date '+%Y-%m-%d %H:%M:%S')
wait_entries() { _n=400; while [ $_n -gt 0 ] && [ "$(dir_entries "$1")" != 50 ]; do sleep 0.05; _n=$((_n - 1)); done; [ "$(dir_entries "$1")" = 50 ]; }
mainpid() { systemctl show -p MainPID --value "$1"; }
# kill_and_repair UNITS...: mounts a fresh image with one corrupt directory (the monitor
# instance is still enabled from U1, so mounting alone starts the pair), SIGKILLs the main
# process of each unit, then makes the kernel see the corruption while they are down.
# Sets REPAIRED, PIDS (repairer before/after), CLEAN.
kill_and_repair() {
    corrupt_dir_image data; mount_img data
    wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
    _before=$(mainpid xfs-heal-repairer@mnt-data.service)
    for _u in "$@"; do kill -9 "$(mainpid "$_u")"; done
    ls /mnt/data/a/b/c >/dev/null 2>&1
    wait_entries /mnt/data/a/b/c && REPAIRED=yes || REPAIRED=no
    PIDS="$_before->$(mainpid xfs-heal-repairer@mnt-data.service)"
    sleep 1
    umount /mnt/data || REPAIRED="$REPAIRED, umount failed"
    repair_clean /tmp/data.img && CLEAN=yes || CLEAN=no
}
# 1. Only the repairer dies: the monitor reads the event and keeps the request until the
#    restarted repairer (same health fd, taken back from the store) answers.
kill_and_repair xfs-heal-repairer@mnt-data.service
first="$REPAIRED clean $CLEAN pids $PIDS"
# 2. Both die: the event waits in the kernel, on the fd only systemd's store holds now.
kill_and_repair xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service
second="$REPAIRED clean $CLEAN pids $PIDS"
t1=$(now)
sleep 2
journal=$(journalctl --no-pager -o cat -u xfs-heal-repairer@mnt-data.service -u xfs-heal-monitor@mnt-data.service --since "$since")
took_back=$(echo "$journal" | grep -c "took back the health monitor kept in systemd's fd store")
eexist=$(echo "$journal" | grep -c "already attached")
lost=$(echo "$journal" | grep -c "events lost")
sigsys=$(echo "$journal" | grep -c "status=31/SYS")
states=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.socket | tr '\n' ' ')
echo "$journal" | grep -v "cannot be resolved" | grep -E "fd store|reconnect|Repairs|lost|attached|code=" | tail -n 16
dmesg | grep -E 'type=1326' | tail -n 3
say "repairer only: $first; both: $second; took back $took_back, EEXIST $eexist, lost $lost, SIGSYS $sigsys; after umount: $states"
case "$first/$second" in
    "yes clean yes pids "*"/yes clean yes pids "*) ok=yes ;;
    *) ok=no ;;
esac
if [ $ok = yes ] && [ "$took_back" = 2 ] && [ "$eexist" = 0 ] && [ "$lost" = 0 ] && [ "$sigsys" = 0 ] \
   && [ "$states" = "inactive inactive inactive " ]; then
    result U2 xfs-heal PASS "$(elapsed "$t0" "$t1")" "repairer killed, then repairer+monitor killed, events pending: both repaired via the stored health fd; no EEXIST, nothing lost"
else
    result U2 xfs-heal FAIL - "repairer only: $first; both: $second; took back $took_back, EEXIST $eexist, lost $lost, SIGSYS $sigsys, after: $states"
fi

echo ALL-DONE
echo "status 0" > /dev/hvc1
systemctl poweroff --no-block
