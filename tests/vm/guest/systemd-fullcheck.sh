# Scenario U8, sourced by systemd-scenarios.sh: escalation to the full online check, under
# systemd, for xfs-heal and for xfs_healer, each on its own identical fresh filesystem.
#  a. A directory block and a file's xattr node both trashed offline: the spot repair of the
#     directory fails (the scan for its parent pointers meets the broken xattrs), so the
#     daemon starts upstream's xfs_scrub@ for the mount, which repairs both.
#  b. Events lost: the daemon is frozen (SIGSTOP) while 700 direct-read errors on a file over
#     a dm-error range fill the kernel's queue (about 585 records), then a corrupt
#     directory is read once: its only sick report is lost. After SIGCONT, the next event
#     surfaces the loss; the daemon starts xfs_scrub@, which repairs the directory though
#     nobody reads it again (proved by xfs_repair -n on the unmounted filesystem).

# u8_inst NAME: the systemd instance of /mnt/NAME.
u8_inst() { echo "mnt-$1"; }
# u8_wait_scrub NAME SECONDS: waits until xfs_scrub@ for /mnt/NAME has run to its end once.
# Read from the journal: a finished unit nothing references is unloaded, and systemctl show
# then knows nothing of its run.
u8_scrub_ended() {
    journalctl --no-pager -o cat -u "xfs_scrub@$(u8_inst "$1").service" \
        | grep -E ': (Deactivated successfully|Failed with result)' | tail -n 1
}
u8_wait_scrub() {
    _until=$(awk -v t="$(now)" -v s="$2" 'BEGIN { printf "%d", t + s }')
    while [ "$(awk -v t="$(now)" 'BEGIN { printf "%d", t }')" -lt "$_until" ]; do
        [ -n "$(u8_scrub_ended "$1")" ] && return 0
        sleep 0.5
    done
    return 1
}
# On a failure: what systemd says of the check, and its journal.
u8_scrub_diagnose() {
    systemctl --no-pager status "xfs_scrub@$(u8_inst "$1").service" 2>&1 | grep -v '^ *$' | head -n 12
    journalctl --no-pager -o short-monotonic -u "xfs_scrub@$(u8_inst "$1").service" | tail -n 25 | cut -c1-200
}
u8_scrub_runs() { journalctl --no-pager -o cat -u "xfs_scrub@$(u8_inst "$1").service" | grep -c '^Starting '; }
u8_scrub_result() { u8_scrub_ended "$1" | sed 's/^xfs_scrub@[^:]*: //'; }

# u8a_image NAME: /a/b/c (50 entries) and /x/f (100 xattrs, node format), both trashed.
u8a_image() {
    mkfs_img "$1"; mount_img "$1"
    mkdir -p /mnt/$1/a/b/c /mnt/$1/x
    _i=1; while [ $_i -le 50 ]; do : > /mnt/$1/a/b/c/f$_i; _i=$((_i + 1)); done
    : > /mnt/$1/x/f
    _i=1; while [ $_i -le 100 ]; do setfattr -n user.attr$_i -v "value-$_i-padding-padding" /mnt/$1/x/f; _i=$((_i + 1)); done
    umount /mnt/$1
    xfs_db -x -c 'path /a/b/c' -c 'dblock 0' -c 'fuzz -d bhdr.hdr.magic ones' \
        -c 'path /x/f' -c 'ablock 0' -c 'fuzz -d hdr.info.hdr.magic ones' /tmp/$1.img >/dev/null 2>&1
}
u8_attrs() { getfattr -d /mnt/$1/x/f 2>/dev/null | grep -c '^user\.attr'; }

# 700 direct reads of every other 4 KiB block of /bad: 700 records that cannot merge.
u8b_flood() {
    _cmds=; _i=0
    while [ $_i -lt 700 ]; do _cmds="$_cmds -c 'pread $((_i * 8192)) 4096'"; _i=$((_i + 1)); done
    eval "xfs_io -d $_cmds /mnt/$1/bad" >/dev/null 2>&1
}

# u8_start DAEMON NAME: the daemon serving /mnt/NAME (mounted already for xfs_healer; xfs-heal
# is enabled before the mount, so xfs_healer_start leaves the mount to it).
u8_start() {
    if [ "$1" = xfs-heal ]; then
        wait_unit "xfs-heal-monitor@$(u8_inst "$2").service"
    else
        systemctl start "xfs_healer@$(u8_inst "$2").service"
        wait_unit "xfs_healer@$(u8_inst "$2").service"
    fi
    sleep 1
}

scenario U8 "systemd: spot repair fails, or events are lost: one full online check (xfs_scrub@) repairs what is left"
# xfs_healer_start would start xfs_healer@ on the images mounted to be populated (and keep
# them busy at their unmount): it rests during U8, and each run starts its own daemon.
systemctl stop xfs_healer_start.service
for d in xfs-heal xfs_healer; do
    # --- a. two failures -------------------------------------------------------------------
    n=u8a; [ $d = xfs_healer ] && n=u8h
    u8a_image $n
    [ $d = xfs-heal ] && systemctl enable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
    mount_img $n
    u8_start $d $n
    t0=$(now)
    ls /mnt/$n/a/b/c >/dev/null 2>&1; getfattr -d /mnt/$n/x/f >/dev/null 2>&1
    u8_wait_scrub $n 120 && ran=yes || ran=no
    t1=$(now)
    sleep 2
    entries=$(dir_entries /mnt/$n/a/b/c); attrs=$(u8_attrs $n)
    runs=$(u8_scrub_runs $n); scrub_result=$(u8_scrub_result $n)
    journal=$(daemon_journal $d $n)
    if [ $d = xfs-heal ]; then
        asked=$(echo "$journal" | grep -c 'full online check requested because')
        notified=$(echo "$journal" | grep -c "full online check finished (xfs_scrub@$(u8_inst $n).service): exit status 0: no problems left.")
        started=$(echo "$journal" | grep -c "full online check started (xfs_scrub@$(u8_inst $n).service).")
    else
        asked=$(echo "$journal" | grep -c 'Full repairs in progress.'); notified=1; started=1
    fi
    echo "$journal" | grep -E 'directory|xattr|full online|Full repairs|sweep' | tail -n 8 | cut -c1-200
    umount /mnt/$n; um=$?
    xfs_repair -n /tmp/$n.img > /tmp/$n.repair 2>&1 && clean=yes || { clean=no; tail -n 15 /tmp/$n.repair; }
    [ $d = xfs-heal ] && systemctl disable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
    say "u8a $d: scrub ran $ran ($runs runs, $scrub_result), asked $asked, started/finished notices $started/$notified, entries $entries, attrs $attrs, umount $um, xfs_repair -n clean $clean"
    # xfs-heal asks once; xfs_healer announces each failure's request (starting a running
    # check is harmless), so it is held to one run, not one request.
    requests=$asked
    [ $d = xfs_healer ] && [ "$asked" -ge 1 ] && asked=1
    if [ $ran = yes ] && [ "$runs" = 1 ] && [ "$asked" = 1 ] && [ "$started" = 1 ] && [ "$notified" = 1 ] \
       && [ "$entries" = 50 ] && [ "$attrs" = 100 ] && [ $um = 0 ] && [ $clean = yes ]; then
        ok_a=yes; note_a="dir+xattr: $requests full-check request(s), one xfs_scrub@ run, both read back in $(elapsed "$t0" "$t1") s"
    else
        u8_scrub_diagnose $n
        ok_a=no; note_a="dir+xattr: scrub ran $ran ($runs, $scrub_result), asked $asked, notices $started/$notified, entries $entries, attrs $attrs, clean $clean"
    fi
    rm -f /tmp/$n.img

    # --- b. lost events --------------------------------------------------------------------
    n=u8l; [ $d = xfs_healer ] && n=u8m
    dm_error_image $n bad 2048
    [ $d = xfs-heal ] && systemctl enable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
    mount /dev/mapper/$n /mnt/$n
    u8_start $d $n
    pid=$(mainpid "$(daemon_unit $d $n)")
    kill -STOP "$pid"
    u8b_flood $n
    ls /mnt/$n/a/b/c >/dev/null 2>&1
    kill -CONT "$pid"
    t0=$(now)
    # Once the daemon has drained the queue, the next event makes the kernel surface the
    # loss: one more error every 2 s until the daemon reports it (30 s at most).
    _k=15
    while [ $_k -gt 0 ] && ! daemon_journal $d $n | grep -q 'events lost'; do
        sleep 2; xfs_io -d -c 'pread 0 4096' /mnt/$n/bad >/dev/null 2>&1; _k=$((_k - 1))
    done
    u8_wait_scrub $n 120 && ran=yes || ran=no
    t1=$(now)
    sleep 2
    runs=$(u8_scrub_runs $n); scrub_result=$(u8_scrub_result $n)
    journal=$(daemon_journal $d $n)
    lost=$(echo "$journal" | grep -c 'events lost')
    if [ $d = xfs-heal ]; then
        asked=$(echo "$journal" | grep -c 'full online check requested because the kernel dropped')
        notified=$(echo "$journal" | grep -c "full online check finished (xfs_scrub@$(u8_inst $n).service): exit status 0")
        ioerrs=$(echo "$journal" | grep -c 'directio_read: Input/output error')
    else
        asked=$(echo "$journal" | grep -c 'Full repairs in progress.'); notified=1
        ioerrs=$(echo "$journal" | grep -c 'directio_read')
    fi
    # The directory's reports, if any reached the daemon, came only once the check had started
    # (the check's own reads of it): before that, its one report was among the lost events.
    first_dir=$(echo "$journal" | grep -n -E "(ino $DM_DIR_INO gen |/a/b/c )" | head -n 1 | cut -d: -f1)
    check_started=$(echo "$journal" | grep -n -E 'full online check started|Full repairs in progress' | head -n 1 | cut -d: -f1)
    dir_first_after=no; [ -n "$check_started" ] && [ "${first_dir:-999999}" -gt "$check_started" ] && dir_first_after=yes
    echo "$journal" | grep -v -E 'directio|buffered_read' | tail -n 12 | cut -c1-200
    umount /mnt/$n; um=$?
    dm_mend $n
    xfs_repair -n /dev/mapper/$n > /tmp/$n.repair 2>&1 && clean=yes || { clean=no; tail -n 15 /tmp/$n.repair; }
    [ $d = xfs-heal ] && systemctl disable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
    dm_teardown $n
    say "u8b $d: directory reports only after the check started: $dir_first_after; direct-read error lines $ioerrs, lost reports $lost, scrub ran $ran ($runs runs, $scrub_result), asked $asked, finished notice $notified, umount $um, xfs_repair -n clean $clean"
    [ $d = xfs_healer ] && [ "$asked" -ge 1 ] && asked=1
    if [ $ran = yes ] && [ "$runs" = 1 ] && [ "$asked" = 1 ] && [ "$notified" = 1 ] && [ "$lost" -ge 1 ] \
       && [ $dir_first_after = yes ] && [ $um = 0 ] && [ $clean = yes ]; then
        ok_b=yes; note_b="lost events: one xfs_scrub@ run repaired the directory whose report was lost ($(elapsed "$t0" "$t1") s)"
    else
        u8_scrub_diagnose $n
        ok_b=no; note_b="lost events: lost $lost, directory first reported after the check started $dir_first_after, scrub ran $ran ($runs, $scrub_result), asked $asked, notice $notified, clean $clean"
    fi

    if [ $ok_a = yes ] && [ $ok_b = yes ]; then
        result U8 $d PASS - "$note_a; $note_b"
    else
        [ $d = xfs-heal ] && diagnose
        result U8 $d FAIL - "$note_a; $note_b"
    fi
done
systemctl start xfs_healer_start.service

scenario U12 "systemd: a monitor that writes its full-check FIFO in a loop starts xfs_scrub@ at most twice in 20 minutes, restarts included"
# Audit finding 7: the bound on full checks lived in the monitor alone, and the path unit
# started xfs_scrub@ on every write. Here root writes the FIFO as a compromised monitor
# would (its fd is that FIFO): every 3 s, so each check has ended before the next write,
# then again after the monitor (and with it the path unit) is restarted.
systemctl stop xfs_healer_start.service
t0=$(now)
n=u12; fifo=/run/xfs-heal/$(u8_inst $n).full-check; path=xfs-heal-full-check@$(u8_inst $n).path
mkfs_img $n
systemctl enable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
mount_img $n
u8_start xfs-heal $n
writes=0
u12_write() {
    _i=0
    while [ $_i -lt "$1" ]; do
        printf 'check\n' > "$fifo" && writes=$((writes + 1))
        # Whatever it started has ended (xfs_scrub@ is a oneshot: "activating" while it runs).
        sleep 1
        _w=0; while [ $_w -lt 60 ] && ! settled_down "xfs_scrub@$(u8_inst $n).service"; do sleep 0.5; _w=$((_w + 1)); done
        sleep 2; _i=$((_i + 1))
    done
}
u12_write 4
runs_before=$(u8_scrub_runs $n)
path_result=$(systemctl show -p Result --value "$path")
systemctl restart "xfs-heal-monitor@$(u8_inst $n).service"
wait_unit "xfs-heal-monitor@$(u8_inst $n).service"
u12_write 3
runs_after=$(u8_scrub_runs $n)
path_after=$(systemctl show -p Result --value "$path")/$(systemctl is-active "$path")
limit_lines=$(journalctl --no-pager -o cat -u "$path" | grep -c 'Trigger limit hit')
t1=$(now)
umount /mnt/$n
systemctl disable "xfs-heal-monitor@$(u8_inst $n).service" >/dev/null 2>&1
systemctl start xfs_healer_start.service
say "u12: $writes writes; xfs_scrub@ started $runs_before times before the restart ($path: $path_result), $runs_after in all after it ($path_after); 'Trigger limit hit' $limit_lines times"
if [ "$writes" = 7 ] && [ "$runs_before" -ge 1 ] && [ "$runs_before" -le 2 ] && [ "$runs_after" = "$runs_before" ] \
   && [ "$path_result" = trigger-limit-hit ] && [ "$limit_lines" -ge 1 ]; then
    result U12 xfs-heal PASS "$(elapsed "$t0" "$t1")" "7 writes of the FIFO started xfs_scrub@ $runs_after times (TriggerLimitBurst=2 per 20 min); the path unit then refuses ('trigger-limit-hit'), and a restart of the monitor does not reset the count"
else
    result U12 xfs-heal FAIL - "writes $writes, starts $runs_before then $runs_after, path $path_result then $path_after, limit lines $limit_lines"
fi
result U12 xfs_healer N/A - "xfs_healer starts xfs_scrub@ itself, as root: no unprivileged side to bound"
