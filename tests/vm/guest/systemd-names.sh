# Scenario U10, sourced by systemd-scenarios.sh: names in reports, under systemd with the
# package installed, for xfs-heal and for xfs_healer, each on its own identical fresh
# filesystem (mkfs 7.2's defaults: parent pointers). A 4-block file /dir/file sits over a
# dm-error range; a buffered read, a direct read, a direct write and a buffered write with
# fsync must each give one line naming the file, as fstests' xfs_healer test expects:
#   /mnt/NAME/dir/file pos N len N: KIND: Input/output error
# Then a corrupt directory /a/b/c is read: its sick report and its repair name it too.

u10_inst() { echo "mnt-$1"; }
# u10_mount_served DAEMON NAME: /dev/mapper/NAME mounted at /mnt/NAME, served by DAEMON (ours
# enabled before the mount, so xfs_healer_start leaves it alone; xfs_healer@ started).
u10_mount_served() {
    [ $1 = xfs-heal ] && systemctl enable "xfs-heal-monitor@$(u10_inst $2).service" >/dev/null 2>&1
    mount /dev/mapper/$2 /mnt/$2
    if [ $1 = xfs-heal ]; then
        wait_unit "xfs-heal-monitor@$(u10_inst $2).service"; wait_unit "xfs-heal-repairer@$(u10_inst $2).service"
    else
        systemctl start "xfs_healer@$(u10_inst $2).service"; wait_unit "xfs_healer@$(u10_inst $2).service"
    fi
    sleep 1
}
# u10_lines DAEMON NAME KIND: the lines naming /dir/file for one kind of failed I/O.
u10_lines() { daemon_journal "$1" "$2" | grep -c -E "^/mnt/$2/dir/file pos [0-9]+ len [0-9]+: $3: Input/output error\$"; }

scenario U10 "systemd: reports name files and directories by path (parent pointers), as xfs_healer's do"
# xfsprogs' mount watcher would start xfs_healer@ on the image while it is populated.
systemctl stop xfs_healer_start.service
for d in xfs-heal xfs_healer; do
    n=u10x; [ $d = xfs_healer ] && n=u10h
    dm_error_image $n dir/file 4
    u10_mount_served $d $n
    say "u10 $n: $(xfs_info /mnt/$n | grep -o 'parent=[01]')"
    t0=$(now)
    xfs_io -c 'pread 0 16k' /mnt/$n/dir/file >/dev/null 2>&1
    xfs_io -d -c 'pread 0 16k' /mnt/$n/dir/file >/dev/null 2>&1
    xfs_io -d -c 'pwrite 0 16k' /mnt/$n/dir/file >/dev/null 2>&1
    xfs_io -c 'pwrite 0 16k' -c fsync /mnt/$n/dir/file >/dev/null 2>&1
    _k=60
    while [ $_k -gt 0 ] && [ "$(u10_lines $d $n directio_write)$(u10_lines $d $n buffered_write)" = 00 ]; do
        sleep 0.25; _k=$((_k - 1))
    done
    sleep 2
    br=$(u10_lines $d $n buffered_read); dr=$(u10_lines $d $n directio_read)
    dw=$(u10_lines $d $n directio_write); bw=$(u10_lines $d $n buffered_write)
    ls /mnt/$n/a/b/c >/dev/null 2>&1
    wait_entries /mnt/$n/a/b/c && entries=50 || entries=$(dir_entries /mnt/$n/a/b/c)
    t1=$(now)
    sleep 1
    journal=$(daemon_journal $d $n)
    dir_named=$(echo "$journal" | grep -c -E "^/mnt/$n/a/b/c directory: (sick|corrupt)")
    repair_named=$(echo "$journal" | grep -c -E "^/mnt/$n/a/b/c directory: Repairs successful")
    # Every report about an inode names it: none falls back to its number.
    unnamed=$(echo "$journal" | grep -c -E "ino [0-9]+ gen 0x[0-9a-f]+")
    echo "$journal" | grep -E "dir/file|a/b/c|ino [0-9]+ gen" | head -n 12 | cut -c1-200
    if [ $d = xfs-heal ]; then
        # The journal field, and the repairer's audit of each name it gave out.
        path_field=$(journalctl --no-pager -o cat "XFS_HEAL_PATH=/mnt/$n/dir/file" | wc -l)
        audits=$(journalctl --no-pager -o cat -u "xfs-heal-repairer@$(u10_inst $n).service" | grep -c -E 'target="name of ino [0-9]+ gen 0x[0-9a-f]+" verdict=issued result="(dir/file|a/b/c)"')
        journalctl --no-pager -o cat -u "xfs-heal-repairer@$(u10_inst $n).service" | grep -E 'name of|serving' | head -n 4 | cut -c1-200
    else
        path_field=-; audits=-
    fi
    umount /mnt/$n; um=$?
    [ $d = xfs-heal ] && systemctl disable "xfs-heal-monitor@$(u10_inst $n).service" >/dev/null 2>&1
    [ $d = xfs_healer ] && systemctl stop "xfs_healer@$(u10_inst $n).service"
    # The device mended: xfs_repair -n reads the whole filesystem.
    dm_mend $n
    xfs_repair -n /dev/mapper/$n > /tmp/$n.repair 2>&1 && clean=yes || { clean=no; tail -n 8 /tmp/$n.repair; }
    dm_teardown $n
    say "u10 $d: named lines buffered_read $br, directio_read $dr, directio_write $dw, buffered_write $bw; lines naming an inode by number $unnamed; directory sick named $dir_named, repair named $repair_named; entries $entries; XFS_HEAL_PATH entries $path_field; audited lookups $audits; umount $um; xfs_repair -n clean $clean"
    if [ "$br" -ge 1 ] && [ "$dr" -ge 1 ] && [ "$dw" -ge 1 ] && [ "$bw" -ge 1 ] && [ "$unnamed" = 0 ] \
       && [ "$dir_named" -ge 1 ] && [ "$repair_named" -ge 1 ] && [ "$entries" = 50 ] && [ $um = 0 ] && [ $clean = yes ] \
       && { [ $d = xfs_healer ] || { [ "$path_field" -ge 4 ] && [ "$audits" -ge 2 ]; }; }; then
        result U10 $d PASS "$(elapsed "$t0" "$t1")" "four failed I/O kinds, each named '/mnt/$n/dir/file pos N len N: KIND: Input/output error' ($br/$dr/$dw/$bw lines); the corrupt directory's sick report and its repair named /mnt/$n/a/b/c; xfs_repair -n clean"
    else
        [ $d = xfs-heal ] && diagnose
        result U10 $d FAIL - "lines $br/$dr/$dw/$bw, unnamed $unnamed, dir $dir_named, repair $repair_named, entries $entries, XFS_HEAL_PATH $path_field, audits $audits, umount $um, clean $clean"
    fi
done
# U7, next, expects xfsprogs' mount watcher running.
systemctl start xfs_healer_start.service

scenario U13 "systemd: a hostile file name cannot add a field to an audit line or hide in a report"
# Audit finding 5: the name escaper left '"' alone, so a file named as below added fields to
# the repairer's plain-text audit line, and format characters (U+202E) passed into lines as
# they were. The file over the dm-error range sits in a directory named so; a read names it.
systemctl stop xfs_healer_start.service
hostile=$(printf 'q" verdict=refused peer_uid=0 x="y\342\200\256')
shown='q\x22 verdict=refused peer_uid=0 x=\x22y\xe2\x80\xae'
rlo=$(printf '\342\200\256')
for d in xfs-heal xfs_healer; do
    n=u13x; [ $d = xfs_healer ] && n=u13h
    dm_error_image $n dir/file 4
    mount /dev/mapper/$n /mnt/$n && mv /mnt/$n/dir "/mnt/$n/$hostile" && umount /mnt/$n
    u10_mount_served $d $n
    t0=$(now)
    xfs_io -d -c 'pread 0 16k' "/mnt/$n/$hostile/file" >/dev/null 2>&1
    _k=40; while [ $_k -gt 0 ] && ! daemon_journal $d $n | grep -q 'directio_read'; do sleep 0.25; _k=$((_k - 1)); done
    sleep 1
    t1=$(now)
    journal=$(daemon_journal $d $n)
    raw=$(echo "$journal" | grep -c "$rlo")
    named=$(echo "$journal" | grep -cF "/mnt/$n/$shown/file pos ")
    echo "$journal" | grep 'directio_read' | head -n 2 | cut -c1-200
    if [ $d = xfs-heal ]; then
        audit=$(journalctl --no-pager -o cat -u "xfs-heal-repairer@$(u10_inst $n).service" | grep 'name of ino')
        echo "$audit" | head -n 2 | cut -c1-220
        raw=$((raw + $(echo "$audit" | grep -c "$rlo")))
        # The line as a log parser reads it: one verdict, issued; the name in result="...".
        verdicts=$(echo "$audit" | head -n 1 | sed 's/"[^"]*"/""/g' | grep -o ' verdict=[a-z]*' | tr '\n' ' ')
        in_result=$(echo "$audit" | grep -cF "verdict=issued result=\"$shown/file\"")
        fields=$(journalctl --no-pager -o verbose -u "xfs-heal-repairer@$(u10_inst $n).service" XFS_HEAL_KIND=audit XFS_HEAL_SCOPE=lookup | grep -c '^ *XFS_HEAL_VERDICT=issued$')
    else
        verdicts=-; in_result=-; fields=-
    fi
    umount /mnt/$n
    [ $d = xfs-heal ] && systemctl disable "xfs-heal-monitor@$(u10_inst $n).service" >/dev/null 2>&1
    [ $d = xfs_healer ] && systemctl stop "xfs_healer@$(u10_inst $n).service"
    dm_teardown $n
    say "u13 $d: reports naming the escaped path $named, raw U+202E in the journal $raw; audit verdict fields '$verdicts', the name inside result=\"\": $in_result, structured verdicts $fields"
    if [ "$named" -ge 1 ] && [ "$raw" = 0 ] && { [ $d = xfs_healer ] || { [ "$verdicts" = " verdict=issued " ] && [ "$in_result" -ge 1 ] && [ "$fields" -ge 1 ]; }; }; then
        result U13 $d PASS "$(elapsed "$t0" "$t1")" "the name shows as '$shown': no raw format character, no field of its own in the audit line"
    else
        result U13 $d FAIL - "named $named, raw U+202E $raw, audit verdicts '$verdicts', in result $in_result, structured $fields"
    fi
done
systemctl start xfs_healer_start.service
