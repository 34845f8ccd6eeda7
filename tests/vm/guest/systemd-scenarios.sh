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
umount /mnt/data; um=$?
sleep 2
states=$(systemctl is-active xfs-heal-repairer@mnt-data.service xfs-heal-monitor@mnt-data.service xfs-heal-repairer@mnt-data.socket | tr '\n' ' ')
echo "$journal" | grep -v "cannot be resolved" | tail -n 12
say "repairer caps $rep_caps, monitor caps $mon_caps; status: $status; after umount: $states"
if [ $activated = yes ] && [ $whole = yes ] && [ "$rep_caps" = "0000000000200000/0000000000200000/0000000000200000" ] \
   && [ "$mon_caps" = "0000000000000000/0000000000000000/0000000000000000" ] && [ "$audit" -ge 1 ] && [ "$monitor_line" -ge 1 ] \
   && [ $um = 0 ] && [ "$states" = "inactive inactive inactive " ]; then
    result U1 xfs-heal PASS - "activated by the socket; repaired; journal has both units; repairer CAP_SYS_ADMIN only, monitor none; umount stopped all three units"
else
    result U1 xfs-heal FAIL - "activated $activated, whole $whole, repairer caps $rep_caps, monitor caps $mon_caps, audit $audit, monitor lines $monitor_line, umount $um, after: $states"
fi
echo ALL-DONE
echo "status 0" > /dev/hvc1
systemctl poweroff --no-block
