# Scenarios under systemd after scenario U7's soft-reboot (systemd-scenarios.sh ends with
# it): U7's checks, then the package purge, which must come last.
exec > /dev/hvc0 2>&1
cd /opt/xfs-heal && . ./lib.sh
say "systemd is PID 1 again after the soft-reboot ($(cat /proc/1/comm)); resuming"
wait_unit() { _n=400; while [ $_n -gt 0 ]; do [ "$(systemctl is-active "$1")" = active ] && return 0; sleep 0.05; _n=$((_n - 1)); done; return 1; }
mainpid() { systemctl show -p MainPID --value "$1"; }
t0=$(cat /var/lib/vmtest/resume); rm -f /var/lib/vmtest/resume
now_state=$(cat /var/lib/vmtest/now_state)

# --- U7, after the reboot --------------------------------------------------------------------
for n in fa fb; do wait_unit xfs-heal-monitor@mnt-$n.service; wait_unit xfs-heal-repairer@mnt-$n.service; done
sleep 1
mounted=$(for n in fa fb fc; do mountpoint -q /mnt/$n && printf '%s ' $n; done)
pairs=$(for n in fa fb fc; do printf '%s:%s/%s ' $n "$(systemctl is-active xfs-heal-monitor@mnt-$n.service)" "$(systemctl is-active xfs-heal-repairer@mnt-$n.service)"; done)
healers=$(for n in fa fb fc; do printf '%s:%s ' $n "$(systemctl is-active xfs_healer@mnt-$n.service)"; done)
target=$(systemctl is-active xfs-heal.target)
gen=$(ls /run/systemd/generator/*.mount.wants 2>/dev/null | grep -c 'xfs-heal-monitor@')

# --- U11, measured while fa and fb are still mounted after the reboot (reported after U7) ----
# Audit findings 1 and 3: two mounts' monitors after a soft-reboot (tmpfiles ran again at
# the boot, after the install's run) each write their own metrics, node_exporter serves both,
# and neither monitor, in its own namespace and as the uid they share, can write the other's
# directory or node_exporter's.
u11_t0=$(now)
u11_files=""; u11_links=""; u11_served=""
for n in fa fb; do
    f=/var/lib/xfs-heal/metrics/mnt-$n/xfs-heal@mnt-$n.prom
    _i=0; while [ $_i -lt 100 ] && ! grep -q "^xfs_heal_up{mountpoint=\"/mnt/$n\"" $f 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
    age=$(( $(date +%s) - $(stat -c %Y $f 2>/dev/null || echo 0) ))
    u11_files="$u11_files$n:$(stat -c '%U %a' $f 2>&1),$(grep -c '^xfs_heal_up{' $f 2>/dev/null),fresh:$([ $age -le 120 ] && echo yes || echo no) "
    u11_links="$u11_links$n:$(stat -c %U /var/lib/prometheus/node-exporter/xfs-heal@mnt-$n.prom 2>&1)->$(readlink /var/lib/prometheus/node-exporter/xfs-heal@mnt-$n.prom) "
done
scrape=$(curl -s --max-time 10 http://127.0.0.1:9100/metrics)
for n in fa fb; do
    u11_served="$u11_served$n:$(echo "$scrape" | grep -c "^xfs_heal_up{device=\"[^\"]*\",mountpoint=\"/mnt/$n\"} 1\$") "
done
u11_scrape_error=$(echo "$scrape" | sed -n 's/^node_textfile_scrape_error //p')
u11_textfile=$(ls -ld /var/lib/prometheus/node-exporter | cut -d' ' -f1)
# From inside fb's monitor's mount namespace, as the xfs-heal user: its own directory is
# writable, fa's and node_exporter's are not.
fb_pid=$(mainpid xfs-heal-monitor@mnt-fb.service)
try_write() {
    nsenter -t "$fb_pid" -m setpriv --reuid xfs-heal --regid xfs-heal --clear-groups \
        sh -c ": > '$1' && rm -f '$1' && echo written" 2>&1 | sed 's/.*: //' | tail -n 1
}
u11_own=$(try_write /var/lib/xfs-heal/metrics/mnt-fb/probe.prom)
u11_other=$(try_write /var/lib/xfs-heal/metrics/mnt-fa/forged.prom)
u11_rename=$(nsenter -t "$fb_pid" -m setpriv --reuid xfs-heal --regid xfs-heal --clear-groups \
    mv /var/lib/xfs-heal/metrics/mnt-fa/xfs-heal@mnt-fa.prom /var/lib/xfs-heal/metrics/mnt-fa/x 2>&1 | sed 's/.*: //')
u11_textfile_write=$(try_write /var/lib/prometheus/node-exporter/apt.prom)
u11_t1=$(now)
# A later mount of a covered filesystem gets its pair again.
umount /mnt/fa
wait_settled_down xfs-heal-monitor@mnt-fa.service
after_umount=$(systemctl is-active xfs-heal-monitor@mnt-fa.service)
mount /mnt/fa
wait_unit xfs-heal-monitor@mnt-fa.service; wait_unit xfs-heal-repairer@mnt-fa.service
remount=$(systemctl is-active xfs-heal-monitor@mnt-fa.service)/$(systemctl is-active xfs-heal-repairer@mnt-fa.service)
# A corruption on the remounted one is repaired (the pair serves, not just runs).
umount /mnt/fa
mkdir -p /mnt/prep
mount -o loop /var/lib/vmtest/fa.img /mnt/prep && mkdir -p /mnt/prep/a/b/c && { i=1; while [ $i -le 50 ]; do : > /mnt/prep/a/b/c/f$i; i=$((i + 1)); done; } && umount /mnt/prep
xfs_db -x -c 'path /a/b/c' -c 'dblock 0' -c 'fuzz -d bhdr.hdr.magic ones' /var/lib/vmtest/fa.img >/dev/null 2>&1
mount /mnt/fa
wait_unit xfs-heal-monitor@mnt-fa.service; wait_unit xfs-heal-repairer@mnt-fa.service
ls /mnt/fa/a/b/c >/dev/null 2>&1
i=0; while [ $i -lt 400 ] && [ "$(ls /mnt/fa/a/b/c 2>/dev/null | wc -l)" != 50 ]; do sleep 0.05; i=$((i + 1)); done
repaired=$(ls /mnt/fa/a/b/c 2>/dev/null | wc -l)
for n in fa fb fc; do umount /mnt/$n; done
t1=$(now)
say "after the reboot: mounted $mounted; pairs $pairs; xfs_healer@ $healers; xfs-heal.target $target; generator links $gen"
say "after umount of fa: $after_umount; mounted again: $remount; directory corrupted offline, read back with $repaired of 50 entries"
case "$now_state" in
    "xfs_healer@ before active, after inactive; pair active/active; fa mounted/active" | \
    "xfs_healer@ before active, after inactive; pair active/active; fa unmounted/inactive") handed=yes ;;
    *) handed=no ;;
esac
if [ $handed = yes ] \
   && [ "$mounted" = "fa fb fc " ] && [ "$pairs" = "fa:active/active fb:active/active fc:inactive/inactive " ] \
   && [ "$healers" = "fa:inactive fb:inactive fc:active " ] && [ "$target" = active ] && [ "$gen" = 2 ] \
   && [ "$after_umount" = inactive ] && [ "$remount" = active/active ] && [ "$repaired" = 50 ]; then
    result U7 xfs-heal PASS "$(elapsed "$t0" "$t1")" "the README's commands hand a mounted fstab XFS over from xfs_healer@ at once; after a soft-reboot both fstab XFS have a pair, the excluded one has xfs_healer@ instead; a later mount gets its pair back and repairs"
else
    journalctl --no-pager -o short-monotonic -n 40 | cut -c1-200
    result U7 xfs-heal FAIL - "before the reboot: $now_state; mounted '$mounted', pairs '$pairs', xfs_healer@ '$healers', target $target, links $gen, after umount $after_umount, remount $remount, repaired $repaired"
fi
result U7 xfs_healer N/A - "xfs_healer_start covers every XFS mount (no fstab switch, no exclusion); the excluded one runs it above"

scenario U11 "metrics of two mounts after a soft-reboot: both written, both served, neither reachable from the other"
# After U7's unmounts (once their stops, ExecStopPost= included, are over): nothing of either
# mount is left behind.
wait_settled_down xfs-heal-monitor@mnt-fa.service xfs-heal-monitor@mnt-fb.service
u11_leftovers=$(ls -d /var/lib/xfs-heal/metrics/mnt-f[ab]/xfs-heal@* /var/lib/prometheus/node-exporter/xfs-heal@mnt-f[ab].prom 2>/dev/null)
u11_left=$(echo "$u11_leftovers" | grep -c 'xfs-heal@')
if [ "$u11_left" != 0 ]; then
    echo "$u11_leftovers"
    journalctl --no-pager -o short-monotonic -u xfs-heal-monitor@mnt-fa.service -u xfs-heal-monitor@mnt-fb.service | tail -n 20 | cut -c1-200
fi
say "files $u11_files; links $u11_links; served by node_exporter $u11_served(scrape error $u11_scrape_error); textfile dir $u11_textfile"
say "from fb's monitor's namespace as xfs-heal: own dir '$u11_own', fa's dir '$u11_other', rename fa's file '$u11_rename', node_exporter's dir '$u11_textfile_write'; after the unmounts: $u11_left files or links left"
want_links="fa:root->/var/lib/xfs-heal/metrics/mnt-fa/xfs-heal@mnt-fa.prom fb:root->/var/lib/xfs-heal/metrics/mnt-fb/xfs-heal@mnt-fb.prom "
if [ "$u11_files" = "fa:xfs-heal 644,1,fresh:yes fb:xfs-heal 644,1,fresh:yes " ] && [ "$u11_links" = "$want_links" ] \
   && [ "$u11_served" = "fa:1 fb:1 " ] && [ "$u11_scrape_error" = 0 ] && ! echo "$u11_textfile" | grep -q '+' \
   && [ "$u11_own" = written ] && [ "$u11_other" = "Read-only file system" ] && [ "$u11_rename" = "Read-only file system" ] \
   && [ "$u11_textfile_write" = "Read-only file system" ] && [ "$u11_left" = 0 ]; then
    result U11 xfs-heal PASS "$(elapsed "$u11_t0" "$u11_t1")" "after the soft-reboot both monitors write their own file (tmpfiles ran at install and boot), node_exporter serves both through root's links; from one monitor's namespace the other's directory is read-only and node_exporter's not writable; the unmounts left nothing"
else
    result U11 xfs-heal FAIL - "files '$u11_files', links '$u11_links', served '$u11_served', scrape error '$u11_scrape_error', textfile '$u11_textfile', own '$u11_own', other '$u11_other', rename '$u11_rename', textfile write '$u11_textfile_write', left $u11_left"
fi
result U11 xfs_healer N/A - "xfs_healer writes no metrics"

scenario U4 "package purge: dpkg -P stops the running pair and removes the enablement"
t0=$(now)
mkfs_img data; mount_img data
wait_unit xfs-heal-monitor@mnt-data.service; wait_unit xfs-heal-repairer@mnt-data.service
links_before=$(find /etc/systemd/system -name 'xfs-heal-*@*' | wc -l)
running=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service | tr '\n' ' ')
dpkg -P xfs-heal >/dev/null; dpkg_rc=$?
states=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.socket | tr '\n' ' ')
links_after=$(find /etc/systemd/system -name 'xfs-heal-*@*' | wc -l)
left=$(ls -d /usr/libexec/xfs-heal /usr/lib/systemd/system/xfs-heal* /var/lib/xfs-heal /var/lib/prometheus/node-exporter/xfs-heal@* 2>/dev/null | wc -l)
umount /mnt/data; um=$?
t1=$(now)
say "before: $running; dpkg -P: $dpkg_rc; units: $states; enablement links $links_before -> $links_after; files left $left; umount $um"
if echo " $states" | grep -q ' active '; then stopped=no; else stopped=yes; fi
if [ "$running" = "active active " ] && [ $dpkg_rc = 0 ] && [ $stopped = yes ] && [ "$links_before" -ge 1 ] && [ "$links_after" = 0 ] && [ "$left" = 0 ] && [ $um = 0 ]; then
    result U4 xfs-heal PASS "$(elapsed "$t0" "$t1")" "purge stopped the pair, removed files and the per-mount enablement; the mount was untouched"
else
    result U4 xfs-heal FAIL - "before: $running, dpkg $dpkg_rc, units $states, links $links_before -> $links_after, files left $left, umount $um"
fi

echo ALL-DONE
echo "status 0" > /dev/hvc1
systemctl poweroff --no-block
