# Scenarios under systemd as PID 1, with the xfs-heal package installed by dpkg at the
# start. Run by vmtest.service.
exec > /dev/hvc0 2>&1
cd /opt/xfs-heal && . ./lib.sh
# After scenario U7's soft-reboot, this unit runs again: carry on where it left off.
if [ -e /var/lib/vmtest/resume ]; then exec /bin/sh /opt/xfs-heal/systemd-resume.sh; fi
say "systemd $(systemctl --version | awk 'NR==1 {print $2}') is PID 1 ($(cat /proc/1/comm))"
modprobe loop; modprobe xfs
# node_exporter as an operator runs it: its package's unit, its default textfile directory.
systemctl enable --now prometheus-node-exporter.service >/dev/null 2>&1
wait_unit() { _n=200; while [ $_n -gt 0 ]; do [ "$(systemctl is-active "$1")" = active ] && return 0; sleep 0.05; _n=$((_n - 1)); done; return 1; }
wait_entries() { _n=400; while [ $_n -gt 0 ] && [ "$(dir_entries "$1")" != 50 ]; do sleep 0.05; _n=$((_n - 1)); done; [ "$(dir_entries "$1")" = 50 ]; }
mainpid() { systemctl show -p MainPID --value "$1"; }
# /tmp/data.img with one corrupt directory, prepared at /mnt/prep: mounting it at /mnt/data
# and unmounting it again at once would start and stop the enabled pair around the real mount.
corrupt_data_image() { corrupt_dir_image prep; mv /tmp/prep.img /tmp/data.img; }
# Waits until the pair has stopped after an unmount, so the next mount starts it afresh.
wait_stopped() { wait_settled_down xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.service; }
# daemon_unit DAEMON NAME: the unit serving /mnt/NAME, xfs-heal's monitor or xfs_healer@;
# daemon_journal DAEMON NAME: its journal.
daemon_unit() { if [ "$1" = xfs-heal ]; then echo "xfs-heal-monitor@mnt-$2.service"; else echo "xfs_healer@mnt-$2.service"; fi; }
daemon_journal() { journalctl --no-pager -o cat -u "$(daemon_unit "$1" "$2")"; }
# dm_error_image NAME FILE BLOCKS: /dev/mapper/NAME over a loop device, with /FILE (BLOCKS
# blocks of 4 KiB) over a dm-error range once set up, and /a/b/c (50 entries) trashed.
# Sets DM_LOOP and DM_DIR_INO (the directory's inode).
dm_error_image() {
    rm -f /tmp/$1.img; truncate -s 512M /tmp/$1.img
    DM_LOOP=$(losetup -f --show /tmp/$1.img)
    _sz=$(blockdev --getsz "$DM_LOOP")
    echo "0 $_sz linear $DM_LOOP 0" | DM_DISABLE_UDEV=1 dmsetup create "$1" --noudevsync
    mkfs.xfs -q -f /dev/mapper/$1
    mkdir -p /mnt/$1; mount /dev/mapper/$1 /mnt/$1
    mkdir -p /mnt/$1/a/b/c "$(dirname "/mnt/$1/$2")"
    _i=1; while [ $_i -le 50 ]; do : > /mnt/$1/a/b/c/f$_i; _i=$((_i + 1)); done
    DM_DIR_INO=$(stat -c %i /mnt/$1/a/b/c)
    dd if=/dev/urandom of=/mnt/$1/$2 bs=4k count=$3 conv=fsync status=none
    # "0: [0..16383]: 96..16479": the file's sectors on the device.
    _ext=$(xfs_bmap /mnt/$1/$2 | awk 'NR == 2 { print $3 }')
    umount /mnt/$1
    xfs_db -x -c 'path /a/b/c' -c 'dblock 0' -c 'fuzz -d bhdr.hdr.magic ones' /dev/mapper/$1 >/dev/null 2>&1
    _start=${_ext%..*}; _end=${_ext#*..}; _len=$((_end - _start + 1)); _rest=$((_end + 1))
    printf '0 %s linear %s 0\n%s %s error\n%s %s linear %s %s\n' "$_start" "$DM_LOOP" "$_start" "$_len" \
        "$_rest" "$((_sz - _rest))" "$DM_LOOP" "$_rest" > /tmp/$1.table
    dm_load "$1"
    say "$1: /$2 at sectors $_ext, now an error target: $(dmsetup table "$1" | tr '\n' ';')"
}
dm_load() {
    DM_DISABLE_UDEV=1 dmsetup suspend --noudevsync "$1"
    DM_DISABLE_UDEV=1 dmsetup load --noudevsync "$1" /tmp/$1.table
    DM_DISABLE_UDEV=1 dmsetup resume --noudevsync "$1"
}
# The device mended (all linear again): xfs_repair -n then reads the whole filesystem, not
# the dm-error range under the file's data.
dm_mend() { echo "0 $(blockdev --getsz "$DM_LOOP") linear $DM_LOOP 0" > /tmp/$1.table; dm_load "$1"; }
dm_teardown() {
    umount /mnt/$1 2>/dev/null
    DM_DISABLE_UDEV=1 dmsetup remove --noudevsync "$1" 2>/dev/null
    [ -n "$DM_LOOP" ] && losetup -d "$DM_LOOP" 2>/dev/null
    DM_LOOP=
    rm -f /tmp/$1.img /tmp/$1.table
}
# On a failure: what systemd thinks of the pair and the mount, and the recent journal.
diagnose() {
    systemctl --no-pager status mnt-data.mount xfs-heal-repairer@mnt-data.socket \
        xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service 2>&1 | grep -v '^ *$' | tail -n 40
    journalctl --no-pager -o short-monotonic -n 40 | cut -c1-200
}

scenario U0 "package: dpkg -i installs binaries, units, user, man pages"
t0=$(now)
dpkg -i /opt/xfs-heal/xfs-heal.deb; dpkg_rc=$?
installed=$(dpkg-query -W -f '${Status} ${Version}' xfs-heal 2>&1)
files=$(for f in /usr/libexec/xfs-heal/xfs-heal-repairer /usr/libexec/xfs-heal/xfs-heal-monitor \
    /usr/lib/systemd/system/xfs-heal-repairer@.socket /usr/lib/systemd/system/xfs-heal-repairer@.service \
    /usr/lib/systemd/system/xfs-heal-monitor@.service /usr/lib/systemd/system/xfs-heal.slice \
    /usr/lib/systemd/system/xfs-heal-full-check@.socket /usr/lib/systemd/system/xfs-heal-full-check@.path \
    /usr/lib/systemd/system/xfs_scrub@.service.d/xfs-heal.conf /usr/libexec/xfs-heal/full-check-notify \
    /usr/lib/sysusers.d/xfs-heal.conf /usr/lib/tmpfiles.d/xfs-heal.conf \
    /usr/share/man/man8/xfs-heal-repairer.8.gz /usr/share/man/man8/xfs-heal-monitor.8.gz \
    /usr/sbin/xfs-heal /usr/share/man/man8/xfs-heal.8.gz /usr/share/man/man8/xfs-heal-listen.8.gz \
    /usr/share/man/man8/xfs-heal-supported.8.gz /usr/share/man/man8/xfs-heal-status.8.gz \
    /usr/share/man/man8/xfs-heal-metrics-link.8.gz /usr/share/man/man8/xfs-heal-metrics-unlink.8.gz \
    /usr/share/xfs-heal/prometheus/xfs-heal.rules.yml; do
    [ -e "$f" ] || echo "missing:$f"; done)
user=$(getent passwd xfs-heal | cut -d: -f1,7)
rundir=$(stat -c '%U %a' /run/xfs-heal 2>&1)
# node_exporter's textfile directory as its package made it: no ACL of ours (ls's "+"), no
# group write; the monitors' own directories live beneath /var/lib/xfs-heal/metrics.
textfile=$(ls -ld /var/lib/prometheus/node-exporter 2>&1 | cut -d' ' -f1,3)
statedir=$(stat -c '%U %a' /var/lib/xfs-heal/metrics 2>&1)
units=$(systemctl list-unit-files 'xfs-heal*' --no-legend | awk '{print $1}' | tr '\n' ' ')
# Verified by the systemd that runs them: not a word about our units or the drop-in
# (xfsprogs' own units draw warnings from systemd 262; those are not ours to judge).
# --man=no: the guest has no man-db; the pages' presence is checked above, their content on the host.
systemd-analyze verify --man=no xfs-heal-repairer@mnt-data.socket xfs-heal-repairer@mnt-data.service \
    xfs-heal-monitor@mnt-data.service xfs-heal.slice xfs_healer@mnt-data.service \
    xfs-heal-full-check@mnt-data.socket xfs-heal-full-check@mnt-data.path xfs_scrub@mnt-data.service > /tmp/verify.txt 2>&1
cat /tmp/verify.txt
# Nothing is mounted at /mnt/data yet: that the mount unit is missing is expected.
verify=$(grep 'xfs-heal' /tmp/verify.txt | grep -v ': Unit mnt-data.mount not found.$' | head -n 5)
t1=$(now)
say "systemd-analyze verify: ${verify:-silent}"
say "dpkg -i: $dpkg_rc; $installed; user $user; /run/xfs-heal $rundir; textfile dir $textfile; metrics dir $statedir; unit files: $units ${files:-all files present}"
if [ $dpkg_rc = 0 ] && [ "$installed" = "install ok installed 0.1.0-1" ] && [ -z "$files" ] && [ -z "$verify" ] \
   && [ "$user" = "xfs-heal:/usr/sbin/nologin" ] && [ "$rundir" = "root 755" ] && [ "$statedir" = "root 755" ] \
   && echo "$textfile" | grep -Eq '^d....-.... ' \
   && echo "$units" | grep -q 'xfs-heal-monitor@.service' && echo "$units" | grep -q 'xfs-heal-repairer@.socket'; then
    result U0 xfs-heal PASS "$(elapsed "$t0" "$t1")" "installed by dpkg: binaries, units, alert rules, sysusers/tmpfiles applied by postinst (our metrics directory root's; node_exporter's textfile directory left as its package made it), man pages; systemd-analyze verify silent"
else
    result U0 xfs-heal FAIL - "verify '$verify', dpkg $dpkg_rc, $installed, user '$user', run dir '$rundir', textfile dir '$textfile', metrics dir '$statedir', units '$units' $files"
fi
# A run of U8, U9 or U10 alone (XFS_HEAL_VM_SCENARIOS=U8, ...): the package is installed;
# nothing else.
selected=$(cat /opt/xfs-heal/selected)
if [ "$selected" = U8 ] || [ "$selected" = U9 ] || [ "$selected" = U10 ]; then
    [ "$selected" = U8 ] && . ./systemd-fullcheck.sh
    [ "$selected" = U9 ] && . ./systemd-moved.sh
    [ "$selected" = U10 ] && . ./systemd-names.sh
    echo ALL-DONE
    echo "status 0" > /dev/hvc1
    systemctl poweroff --no-block
    exit 0
fi
scenario U1 "systemd: enable the monitor for a mount; socket-activated repairer repairs"
corrupt_data_image; mount_img data
# As the README says: enable (xfs_healer@ stands down here from now on), stop xfs_healer@,
# which xfsprogs' xfs_healer_start started for the new mount, then start.
wait_unit xfs_healer@mnt-data.service && healer_was=active || healer_was=inactive
systemctl enable xfs-heal-monitor@mnt-data.service >/dev/null 2>&1
systemctl stop xfs_healer@mnt-data.service
systemctl start xfs-heal-monitor@mnt-data.service
say "xfs_healer_start $(systemctl is-enabled xfs_healer_start.service 2>&1)/$(systemctl is-active xfs_healer_start.service 2>&1); xfs_healer@mnt-data before: $healer_was"
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
# What xfs_healer_start does on each new mount: it must be skipped and leave ours alone.
rep_pid=$(mainpid xfs-heal-repairer@mnt-data.service)
cursor=$(journalctl -n 0 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
systemctl restart xfs_healer@mnt-data.service 2>/dev/null
sleep 1
healer_now=$(systemctl is-active xfs_healer@mnt-data.service)
rep_same=no; [ "$(mainpid xfs-heal-repairer@mnt-data.service)" = "$rep_pid" ] && rep_same=yes
healer_starts=$(journalctl --no-pager -o cat -u xfs_healer@mnt-data.service --after-cursor "$cursor" | grep -c '^Starting')
say "xfs_healer@mnt-data restarted as xfs_healer_start would: now $healer_now, started $healer_starts times; our repairer untouched: $rep_same"
# Issue #15: the repair is in the metrics file node_exporter reads, and in xfs-heal status,
# which reads the same file (written at most a second after the change).
prom=/var/lib/prometheus/node-exporter/xfs-heal@mnt-data.prom
repaired_re='^xfs_heal_repairs_total{mountpoint="/mnt/data",.*outcome="repaired"} [1-9][0-9]*$'
i=0; while [ $i -lt 50 ] && ! grep -q "$repaired_re" $prom 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
prom_repaired=$(grep -c "$repaired_re" $prom 2>/dev/null)
# A link root made (metrics-link) to the file in the monitor's own directory.
prom_mode="$(stat -c '%U' $prom 2>&1) -> $(readlink $prom 2>&1): $(stat -L -c '%U %a' $prom 2>&1)"
# node_exporter, running as its package set it up, serves it.
served=$(curl -s --max-time 10 http://127.0.0.1:9100/metrics | grep -c '^xfs_heal_up{device="[^"]*",mountpoint="/mnt/data"} 1$')
# The kernel's own lost counter, read from the health fd's fdinfo inside the sandbox.
prom_klost=$(grep -c '^xfs_heal_kernel_events_lost_total{mountpoint="/mnt/data",device="[^"]*"} 0$' $prom 2>/dev/null)
status_row=$(xfs-heal status | grep '^/mnt/data ')
status_json=$(xfs-heal status --format json | tr -d ' \n')
xfs-heal status
umount /mnt/data; um=$?
sleep 2
prom_after=present; [ -e $prom ] || [ -L $prom ] || prom_after=removed
[ -e /var/lib/xfs-heal/metrics/mnt-data/xfs-heal@mnt-data.prom ] && prom_after="$prom_after, file present"
states=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.socket | tr '\n' ' ')
echo "$journal" | grep -v "cannot be resolved" | tail -n 12
say "repairer caps $rep_caps, monitor caps $mon_caps; status: $status; after umount: $states"
say "journal entries for ino $ino: monitor repair_result/repaired $mon_fields, repairer audit/issued/repaired $rep_fields, sick at warning or above $sick_prio"
say "metrics: repaired in $prom: $prom_repaired ($prom_mode), served by node_exporter: $served, kernel lost counter $prom_klost, after umount: $prom_after; status: $status_row"
metrics_ok=no
if echo "$status_row" | grep -Eq '^/mnt/data +/dev/[a-z0-9]+ +ok +[0-9]+ +[1-9][0-9]*/0 +.* active$' \
   && echo "$status_json" | grep -Eq '"repairs_ok":[1-9][0-9]*,"repairs_failed":0' \
   && [ "$prom_repaired" = 1 ] && [ "$prom_klost" = 1 ] && [ "$prom_after" = removed ] && [ "$served" = 1 ] \
   && [ "$prom_mode" = "root -> /var/lib/xfs-heal/metrics/mnt-data/xfs-heal@mnt-data.prom: xfs-heal 644" ]; then
    metrics_ok=yes
fi
if [ $activated = yes ] && [ $whole = yes ] && [ "$rep_caps" = "0000000000200000/0000000000200000/0000000000200000" ] \
   && [ "$mon_caps" = "0000000000000000/0000000000000000/0000000000000000" ] && [ "$audit" -ge 1 ] && [ "$monitor_line" -ge 1 ] \
   && [ $um = 0 ] && [ "$states" = "inactive inactive inactive " ] \
   && [ "$mon_fields" -ge 1 ] && [ "$rep_fields" -ge 1 ] && [ "$sick_prio" -ge 1 ] \
   && [ "$healer_now" = inactive ] && [ "$healer_starts" = 0 ] && [ $rep_same = yes ] && [ $metrics_ok = yes ]; then
    result U1 xfs-heal PASS - "activated by the socket; repaired; journal has both units, with structured fields; repairer CAP_SYS_ADMIN only, monitor none; xfs_healer@ skipped for this mount; the repair in the .prom file (root's link to the monitor's own directory), served by node_exporter and in xfs-heal status; umount stopped all three units and removed file and link"
else
    diagnose
    result U1 xfs-heal FAIL - "metrics $metrics_ok ($prom_repaired, $prom_mode, served $served, klost $prom_klost, $prom_after, '$status_row'), activated $activated, whole $whole, repairer caps $rep_caps, monitor caps $mon_caps, audit $audit, monitor lines $monitor_line, fields $mon_fields/$rep_fields/$sick_prio, xfs_healer@ $healer_now (started $healer_starts), repairer untouched $rep_same, umount $um, after: $states"
fi

scenario U2 "systemd: repairer killed with events queued, the fd store gives it back; repairer stopped, the pair stops and starts clean"
# Two mounts, one corrupt directory each (a directory repair scans the filesystem and fails
# while another directory is corrupt, so one image with two would test the kernel instead).
t0=$(now); since=$(date '+%Y-%m-%d %H:%M:%S')
# kill_and_repair UNITS...: mounts a fresh image with one corrupt directory (the monitor
# instance is still enabled from U1, so mounting alone starts the pair), SIGKILLs the main
# process of each unit (or, for stop:UNIT, stops it and starts the pair again), then makes
# the kernel see the corruption.
# Sets REPAIRED, PIDS (repairer before/after), CLEAN.
kill_and_repair() {
    _t0=$(now)
    corrupt_data_image; mount_img data
    _t1=$(now)
    wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
    _t2=$(now)
    _before=$(mainpid xfs-heal-repairer@mnt-data.service)
    for _u in "$@"; do
        case $_u in
            stop:*)
                # A stop, not a restart: the monitor stops with the repairer (PartOf=) and
                # the fd store is released, so nothing holds the health fd; the operator
                # starts the pair again, and it opens a fresh one (no EEXIST).
                systemctl stop "${_u#stop:}"
                # systemctl waits for the repairer's job; the monitor's (PartOf=) ends with
                # its ExecStopPost=.
                wait_settled_down xfs-heal-monitor@mnt-data.service
                STOPPED="monitor $(systemctl is-active xfs-heal-monitor@mnt-data.service), store $(systemctl show -p NFileDescriptorStore --value "${_u#stop:}")"
                systemctl start xfs-heal-monitor@mnt-data.service
                wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service ;;
            *) kill -9 "$(mainpid "$_u")" ;;
        esac
    done
    _t3=$(now)
    ls /mnt/data/a/b/c >/dev/null 2>&1
    wait_entries /mnt/data/a/b/c && REPAIRED=yes || REPAIRED=no
    say "$*: image+mount $(elapsed $_t0 $_t1) s, pair up $(elapsed $_t1 $_t2) s, killed $(elapsed $_t2 $_t3) s, repaired $(elapsed $_t3 "$(now)") s"
    PIDS="$_before->$(mainpid xfs-heal-repairer@mnt-data.service)"
    sleep 1
    umount /mnt/data || REPAIRED="$REPAIRED, umount failed"
    wait_stopped
    xfs_repair -n /tmp/data.img > /tmp/data.repair 2>&1 && CLEAN=yes || { CLEAN=no; tail -n 15 /tmp/data.repair; }
}
# 1. Only the repairer dies: the monitor reads the event and keeps the request until the
#    restarted repairer (same health fd, taken back from the store) answers.
kill_and_repair xfs-heal-repairer@mnt-data.service
first="$REPAIRED clean $CLEAN pids $PIDS"
# 2. Both die: the event waits in the kernel, on the fd only systemd's store holds now.
kill_and_repair xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service
second="$REPAIRED clean $CLEAN pids $PIDS"
# 3. An operator stops the repairer (a stop, not a restart), then starts the pair again.
STOPPED=-
kill_and_repair stop:xfs-heal-repairer@mnt-data.service
third="$REPAIRED clean $CLEAN pids $PIDS, after the stop: $STOPPED"
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
say "repairer only: $first; both: $second; stopped: $third; took back $took_back, EEXIST $eexist, lost $lost, SIGSYS $sigsys; after umount: $states"
case "$first/$second/$third" in
    "yes clean yes pids "*"/yes clean yes pids "*"/yes clean yes pids "*", after the stop: monitor inactive, store 0") ok=yes ;;
    *) ok=no ;;
esac
if [ $ok = yes ] && [ "$took_back" = 2 ] && [ "$eexist" = 0 ] && [ "$lost" = 0 ] && [ "$sigsys" = 0 ] \
   && [ "$states" = "inactive inactive inactive " ]; then
    result U2 xfs-heal PASS "$(elapsed "$t0" "$t1")" "repairer killed; repairer+monitor killed: each time with an event pending, repaired via the stored health fd; repairer stopped: the monitor stopped with it, the fd store was released, and the pair started again with a fresh health fd and repaired; no EEXIST, nothing lost"
else
    diagnose
    result U2 xfs-heal FAIL - "repairer only: $first; both: $second; stopped: $third; took back $took_back, EEXIST $eexist, lost $lost, SIGSYS $sigsys, after: $states"
fi

scenario U3 "package upgrade: dpkg -i again restarts the running pair; a corruption is still repaired"
t0=$(now); since=$(date '+%Y-%m-%d %H:%M:%S')
corrupt_data_image; mount_img data
wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
before="$(mainpid xfs-heal-repairer@mnt-data.service)/$(mainpid xfs-heal-monitor@mnt-data.service)"
_t1=$(now)
dpkg -i /opt/xfs-heal/xfs-heal.deb >/dev/null; dpkg_rc=$?
_t2=$(now)
wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
after="$(mainpid xfs-heal-repairer@mnt-data.service)/$(mainpid xfs-heal-monitor@mnt-data.service)"
_t3=$(now)
ls /mnt/data/a/b/c >/dev/null 2>&1
wait_entries /mnt/data/a/b/c && repaired=yes || repaired=no
t1=$(now)
say "image, mount, pair up $(elapsed $t0 $_t1) s; dpkg -i $(elapsed $_t1 $_t2) s; pair up again $(elapsed $_t2 $_t3) s; repaired $(elapsed $_t3 $t1) s"
sleep 1
journal=$(journalctl --no-pager -o cat -u xfs-heal-repairer@mnt-data.service -u xfs-heal-monitor@mnt-data.service --since "$since")
took_back=$(echo "$journal" | grep -c "took back the health monitor kept in systemd's fd store")
eexist=$(echo "$journal" | grep -c "already attached")
umount /mnt/data; um=$?; wait_stopped
repair_clean /tmp/data.img && clean=yes || clean=no
say "dpkg -i (upgrade): $dpkg_rc; repairer/monitor pids $before -> $after; took back $took_back, EEXIST $eexist; repaired $repaired, clean $clean, umount $um"
if [ $dpkg_rc = 0 ] && [ "${before%/*}" != "${after%/*}" ] && [ "${before#*/}" != "${after#*/}" ] && [ "$took_back" = 1 ] \
   && [ "$eexist" = 0 ] && [ $repaired = yes ] && [ $clean = yes ] && [ $um = 0 ]; then
    result U3 xfs-heal PASS "$(elapsed "$t0" "$t1")" "postinst restarted both daemons; the repairer took the health fd back; then repaired"
else
    diagnose
    result U3 xfs-heal FAIL - "dpkg $dpkg_rc, pids $before -> $after, took back $took_back, EEXIST $eexist, repaired $repaired, clean $clean, umount $um"
fi

scenario U5 "systemd: each monitor reaches its own mount's repairer only"
# All monitors run as xfs-heal. A compromised one must not connect to another mount's
# repairer (and take its health fd): its unit shows it only its own socket, and the other
# monitor is not dumpable, so its /proc/PID/root is closed too.
t0=$(now)
mkfs_img data; mount_img data
mkfs_img other; mount_img other
systemctl enable xfs-heal-monitor@mnt-other.service >/dev/null 2>&1
systemctl stop xfs_healer@mnt-other.service 2>/dev/null
systemctl start xfs-heal-monitor@mnt-other.service
wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
wait_unit xfs-heal-monitor@mnt-other.service; wait_unit xfs-heal-repairer@mnt-other.service
sock=$(stat -c '%U:%G %a' /run/xfs-heal/mnt-other.sock 2>&1)
a=$(mainpid xfs-heal-monitor@mnt-data.service); b=$(mainpid xfs-heal-monitor@mnt-other.service)
seen=$(nsenter -t "$a" -m ls /run/xfs-heal 2>&1 | tr '\n' ' ')
# As monitor A would, from inside its mount namespace, as its user.
as_a() {
    nsenter -t "$a" -m setpriv --reuid=xfs-heal --regid=xfs-heal --clear-groups --inh-caps=-all \
        /usr/libexec/xfs-heal/xfs-heal-monitor --connect "$1" /mnt/other 2>&1 | tail -n 1
}
direct=$(as_a /run/xfs-heal/mnt-other.sock)
viaproc=$(as_a /proc/$b/root/run/xfs-heal/mnt-other.sock)
replaced=$(journalctl --no-pager -o cat -u xfs-heal-repairer@mnt-other.service | grep -c 'replaces monitor pid')
b_still=no; [ "$(mainpid xfs-heal-monitor@mnt-other.service)" = "$b" ] && b_still=yes
umount /mnt/other; umount /mnt/data; um=$?
systemctl disable xfs-heal-monitor@mnt-other.service >/dev/null 2>&1
wait_stopped
t1=$(now)
say "socket $sock; A sees: $seen; A -> B's socket: $direct; A -> via /proc/$b/root: $viaproc; B's repairer replaced its monitor $replaced times"
if [ "$sock" = "root:xfs-heal 660" ] && [ "$seen" = "mnt-data.sock " ] \
   && echo "$direct" | grep -q 'cannot connect: ENOENT' && echo "$viaproc" | grep -Eq 'cannot connect: (EACCES|ENOENT)' \
   && [ "$replaced" = 0 ] && [ $b_still = yes ] && [ $um = 0 ]; then
    result U5 xfs-heal PASS "$(elapsed "$t0" "$t1")" "socket root:xfs-heal 0660; a monitor sees only its own socket; another mount's is unreachable, directly and through /proc"
else
    diagnose
    result U5 xfs-heal FAIL - "socket '$sock', A sees '$seen', direct '$direct', via /proc '$viaproc', replaced $replaced, B unchanged $b_still, umount $um"
fi

scenario U6 "systemd: units skipped, not failed, where they cannot serve (xfs-heal supported as ExecCondition=)"
t0=$(now)
# A filesystem it serves (the pair runs: the repairer holds the health monitor, EEXIST).
mkfs_img data; mount_img data
wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
served=$(xfs-heal supported /mnt/data 2>&1); served_rc=$?
umount /mnt/data; wait_stopped
# Not XFS: a tmpfs.
mkdir -p /mnt/scratch; mount -t tmpfs scratch /mnt/scratch
systemctl start xfs-heal-monitor@mnt-scratch.service; tmpfs_start=$?
sleep 0.5
skipped() { journalctl --no-pager -o cat -u "$1" | grep -c "Skipped due to 'exec-condition'"; }
tmpfs_state="$(systemctl is-failed xfs-heal-monitor@mnt-scratch.service)/skipped $(skipped xfs-heal-monitor@mnt-scratch.service)/repairer $(systemctl is-active xfs-heal-repairer@mnt-scratch.service)"
tmpfs_line=$(journalctl --no-pager -o cat -u xfs-heal-monitor@mnt-scratch.service | grep 'xfs-heal supported' | tail -n 1)
healer_tmpfs=$(/usr/libexec/xfsprogs/xfs_healer --supported /mnt/scratch >/dev/null 2>&1; echo $?)
systemctl stop xfs-heal-repairer@mnt-scratch.socket; umount /mnt/scratch
# XFS whose autofsck property says none: both daemons' units stand down.
mkfs_img other; mount_img other
xfs_property /mnt/other set autofsck=none >/dev/null
# xfs_healer_start starts xfs_healer@ on the new mount: let that finish, then stop it.
_n=100; while [ $_n -gt 0 ] && [ "$(systemctl is-active xfs_healer@mnt-other.service)" = activating ]; do sleep 0.1; _n=$((_n - 1)); done
systemctl stop xfs_healer@mnt-other.service 2>/dev/null
systemctl start xfs-heal-monitor@mnt-other.service; none_start=$?
sleep 0.5
none_state="$(systemctl is-failed xfs-heal-monitor@mnt-other.service)/skipped $(skipped xfs-heal-monitor@mnt-other.service)/repairer $(systemctl is-active xfs-heal-repairer@mnt-other.service)"
none_line=$(journalctl --no-pager -o cat -u xfs-heal-monitor@mnt-other.service | grep 'xfs-heal supported' | tail -n 1)
# Upstream's unit, judged by its own condition: our socket (left listening by the skipped
# monitor: it activates nothing) would make the drop-in skip it first, so it goes.
systemctl stop xfs-heal-repairer@mnt-other.socket
systemctl start xfs_healer@mnt-other.service
# (xfs_healer_start may try it too after our socket went: skipped at least once.)
healer_skips=$(skipped xfs_healer@mnt-other.service)
healer_none="$(systemctl is-failed xfs_healer@mnt-other.service)/skipped $healer_skips"
umount /mnt/other
t1=$(now)
say "served: rc $served_rc: $served"
say "tmpfs: start $tmpfs_start, $tmpfs_state: $tmpfs_line; xfs_healer --supported there: $healer_tmpfs"
say "autofsck=none: start $none_start, $none_state: $none_line; xfs_healer@: $healer_none"
if [ $served_rc = 0 ] && echo "$served" | grep -q '^xfs-heal supported /mnt/data: supported$' \
   && [ $tmpfs_start = 0 ] && [ "$tmpfs_state" = "inactive/skipped 1/repairer inactive" ] \
   && echo "$tmpfs_line" | grep -q 'not served: step 2 (open mount): /mnt/scratch: not an XFS mount point' \
   && [ $none_start = 0 ] && [ "$none_state" = "inactive/skipped 1/repairer inactive" ] \
   && echo "$none_line" | grep -q 'not served: step 3 (autofsck): Disabling daemon per autofsck directive.'; then
    result U6 xfs-heal PASS "$(elapsed "$t0" "$t1")" "exit 0 where served; tmpfs and autofsck=none: skipped by ExecCondition=, not failed, the reason in one line each; the repairer never started"
else
    diagnose
    result U6 xfs-heal FAIL - "served rc $served_rc '$served'; tmpfs $tmpfs_start $tmpfs_state '$tmpfs_line'; none $none_start $none_state '$none_line'"
fi
if [ "$(systemctl is-failed xfs_healer@mnt-other.service)" = inactive ] && [ "$healer_skips" -ge 1 ]; then
    result U6 xfs_healer PASS - "autofsck=none: skipped by its ExecCondition; --supported on a tmpfs exits $healer_tmpfs (an error, where ours says 1)"
else
    result U6 xfs_healer FAIL - "autofsck=none: $healer_none; tmpfs --supported $healer_tmpfs"
fi

. ./systemd-fullcheck.sh
. ./systemd-moved.sh
. ./systemd-names.sh

scenario U7 "systemd: xfs-heal.target covers every XFS filesystem in /etc/fstab, one excluded, after a (soft) reboot"
# Two XFS filesystems in fstab and one with x-xfs-heal=off; the switch is enabled, then
# systemd reboots its userspace (soft-reboot: the same kernel and RAM root, so the images
# and the installed package survive; generators and fstab mounts run as at any boot). This
# script starts again after it and goes on in systemd-resume.sh.
# The images live on the RAM root itself: /tmp is a tmpfs that the reboot unmounts.
mkdir -p /var/lib/vmtest
for n in fa fb fc; do
    truncate -s 512M /var/lib/vmtest/$n.img; mkfs.xfs -q -f /var/lib/vmtest/$n.img; mkdir -p /mnt/$n
done
cat >> /etc/fstab <<'FSTAB'
/var/lib/vmtest/fa.img /mnt/fa xfs loop,nofail 0 0
/var/lib/vmtest/fb.img /mnt/fb xfs loop,nofail 0 0
/var/lib/vmtest/fc.img /mnt/fc xfs loop,nofail,x-xfs-heal=off 0 0
FSTAB
# fb is mounted already, and xfsprogs' xfs_healer_start gives it xfs_healer@ first: the
# README's commands, as written, must hand it over to a pair now. (systemd may mount fa
# itself once the reload makes it an fstab mount unit: then it has its pair too.)
mount /mnt/fb
_n=200; while [ $_n -gt 0 ] && [ "$(systemctl is-active xfs_healer@mnt-fb.service)" != active ]; do sleep 0.05; _n=$((_n - 1)); done
healer_before=$(systemctl is-active xfs_healer@mnt-fb.service)
systemctl enable xfs-heal.target 2>&1
for w in /run/systemd/generator/xfs-heal.target.wants/*; do
    [ -e "$w" ] && systemctl stop "xfs_healer@${w##*@}"
done
systemctl start xfs-heal.target
wait_unit xfs-heal-monitor@mnt-fb.service; wait_unit xfs-heal-repairer@mnt-fb.service
sleep 1
now_state="xfs_healer@ before $healer_before, after $(systemctl is-active xfs_healer@mnt-fb.service); pair $(systemctl is-active xfs-heal-monitor@mnt-fb.service)/$(systemctl is-active xfs-heal-repairer@mnt-fb.service); fa $(mountpoint -q /mnt/fa && echo mounted || echo unmounted)/$(systemctl is-active xfs-heal-monitor@mnt-fa.service)"
say "xfs-heal.target $(systemctl is-enabled xfs-heal.target); mounted before: $now_state; soft-reboot"
echo "$now_state" > /var/lib/vmtest/now_state
now > /var/lib/vmtest/resume
systemctl soft-reboot
exit 0
