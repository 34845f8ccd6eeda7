//! The two real binaries over a real socket on a real loop-mounted XFS. The repairer's
//! `--events-from` supplies V0 records the test writes; repairs reach this host's kernel,
//! which cannot repair (it answers with an errno), so failures and escalation are real too.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::Duration;

use xfs_heal_monitor::event::*;
use xfs_heal_protocol::*;
use xfs_heal_tests::*;

fn md(status: HealthStatus, object: MetadataObject, t: u64) -> HealthEvent {
    HealthEvent { time_ns: t, kind: EventKind::Metadata { status, object } }
}
fn sick_inode(mask: u32, t: u64) -> HealthEvent {
    md(HealthStatus::Sick, MetadataObject::Inode { ino: 131, gen: 7, mask: InodeMask::new(mask).unwrap() }, t)
}
fn ev(kind: EventKind, t: u64) -> HealthEvent {
    HealthEvent { time_ns: t, kind }
}

/// What this host's kernel answers to a repair of `target`, as the monitor prints it.
fn kernel_sentence(mountpoint: &std::path::Path, target: &RepairTarget) -> String {
    let dir = std::fs::File::open(mountpoint).unwrap();
    let mut sm = target.to_scrub_metadata();
    match xfs_heal_repairer::sys::scrub_metadata(dir.as_fd(), &mut sm) {
        Ok(()) => RepairOutcome::classify(ScrubOutFlags::from_kernel(sm.sm_flags)).sentence(),
        Err(e) => RepairOutcome::KernelError(Errno::try_from(e.raw_os_error().unwrap()).unwrap()).sentence(),
    }
}

/// The targets of the repairer's audit lines, in order.
fn audited(r: &Repairer) -> Vec<String> {
    r.log_text()
        .lines()
        .filter(|l| l.contains("audit:"))
        .filter_map(|l| l.split("target=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect()
}

struct Pair {
    scratch: Scratch,
    fs: XfsMount,
    repairer: Repairer,
}

fn pair(tag: &str, events: &[u8]) -> Option<Pair> {
    if !require_root() {
        return None;
    }
    let scratch = Scratch::new(tag);
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::write(scratch.path("events.v0"), events).unwrap();
    let ev = scratch.path("events.v0");
    let repairer = Repairer::start_with_uid(
        &scratch,
        &fs.mountpoint,
        MONITOR_UID,
        &["--events-from", ev.to_str().unwrap()],
    );
    Some(Pair { scratch, fs, repairer })
}

#[test]
fn every_scope_asks_for_exactly_the_repairs_the_policy_table_names() {
    let t = now_ns();
    let events = v0(&[
        ev(EventKind::Running, t),
        sick_inode(uapi::XFS_BS_SICK_DIR | uapi::XFS_BS_SICK_XATTR, t + 1),
        md(HealthStatus::Sick, MetadataObject::Ag { agno: 1, mask: AgMask::new(0x2 | 0x40).unwrap() }, t + 2),
        md(
            HealthStatus::Sick,
            MetadataObject::RtGroup { rgno: 0, mask: RtGroupMask::new(0x1).unwrap() },
            t + 3,
        ),
        md(HealthStatus::Sick, MetadataObject::Fs { mask: FsMask::new(0x1 | 0x80).unwrap() }, t + 4),
    ]);
    let Some(mut p) = pair("scopes", &events) else { return };
    let mut m = Monitor::start(&p.scratch, &p.repairer.socket, &p.fs.mountpoint, &["--repair"]);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    let want = [
        "ino 131 gen 0x7 directory",
        "ino 131 gen 0x7 xattr",
        "agno 0x1 agf",
        "agno 0x1 inobt",
        "rgno 0x0 super",
        "fs fscounters",
        "fs nlinks",
    ];
    let got = audited(&p.repairer);
    // Independent targets may interleave (--parallel, default: the CPUs); one inode's
    // structures, one AG's, and the whole-filesystem ones keep their event and bit order.
    let mut sorted = got[..7].to_vec();
    sorted.sort();
    let mut want_sorted = want.map(String::from).to_vec();
    want_sorted.sort();
    assert_eq!(sorted, want_sorted, "spot repairs, each once: {got:?}");
    for prefix in ["ino 131 ", "agno 0x1 ", "fs "] {
        let of = |v: &[String]| v.iter().filter(|t| t.starts_with(prefix)).cloned().collect::<Vec<_>>();
        assert_eq!(of(&got[..7]), of(&want.map(String::from)), "{prefix}in order: {got:?}");
    }
    // The whole-filesystem structures ran alone: after everything before them.
    assert!(got[5].starts_with("fs ") && got[6].starts_with("fs "), "{got:?}");
    // This fs has no realtime groups: the repairer refuses, the monitor reports why.
    p.repairer.wait_for_log("target=\"rgno 0x0 super\" verdict=refused");
    let out = m.output();
    assert!(
        out.contains("rgno 0x0 super: refused: rtgroup 0 does not exist (the filesystem has 0)"),
        "{out}"
    );
    // Everything else reached the kernel, and the kernel's own answer came back.
    let ag = RepairTarget::Ag { agno: AgNumber::try_from(1).unwrap(), kind: AgScrub::Agf };
    let line = format!("agno 0x1 agf: {}", kernel_sentence(&p.fs.mountpoint, &ag));
    assert!(out.contains(&line), "missing {line:?} in\n{out}");
    // The first failure escalated, once, to a sweep of the fs and AG structures. Which
    // failure came back first depends on the workers: the directory's or the AG's.
    let started = "sweep of filesystem and group metadata started (42 structures) because repair of ";
    assert_eq!(m.count(started), 1, "{out}");
    let first = out.lines().find(|l| l.contains(started)).unwrap_or_default();
    assert!(
        ["ino 131 gen 0x7 directory failed", "agno 0x1 agf failed"].iter().any(|w| first.contains(w)),
        "{first}"
    );
    assert!(first.contains("failed; files and directories are not part of it"), "{first}");
    assert_eq!(m.count("sweep of filesystem and group metadata finished:"), 1);
    assert!(got.len() > 7 + 4 * 8, "the sweep covers every AG: {got:?}");
}

#[test]
fn a_storm_of_100000_identical_sick_records_is_one_repair() {
    let t = now_ns();
    let mut events = vec![ev(EventKind::Running, t)];
    events.extend((0..100_000).map(|i| sick_inode(uapi::XFS_BS_SICK_DIR, t + i)));
    let Some(p) = pair("storm", &v0(&events)) else { return };
    let mut m = Monitor::start(&p.scratch, &p.repairer.socket, &p.fs.mountpoint, &["--repair"]);
    assert!(m.wait_exit(120).success(), "{}", m.stderr());
    let got = audited(&p.repairer);
    assert_eq!(got.iter().filter(|t| *t == "ino 131 gen 0x7 directory").count(), 1, "{got:?}");
    assert_eq!(m.count("ino 131 gen 0x7 directory: sick"), 1, "one line for the storm, not 100000");
    // This host's kernel fails the repair: reports read before its answer were absorbed by
    // it, those after it count against the failing target. None of them got its own line.
    let out = m.output();
    let summary =
        out.lines().find(|l| l.contains("100001 events, 100000 sick reports")).expect("summary line");
    let number = |word: &str| -> u64 {
        let before = summary.split(&format!(" {word}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(number("absorbed,") + number("suppressed,"), 99_999, "{summary}");
}

#[test]
fn a_killed_repairer_is_replaced_and_nothing_is_lost_or_read_twice() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("restart");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let fifo = scratch.path("events.fifo");
    // The test is the writer; read-write, so opening never waits for a reader.
    let mut writer = xfs_heal_tests::fifo(&fifo, false);
    let args = ["--events-from", fifo.to_str().unwrap()];
    let mut repairer = Repairer::start_with_uid(&scratch, &fs.mountpoint, MONITOR_UID, &args);
    let mut m = Monitor::start(&scratch, &repairer.socket, &fs.mountpoint, &["--repair"]);
    let t = now_ns();
    let ag =
        |agno, t| md(HealthStatus::Sick, MetadataObject::Ag { agno, mask: AgMask::new(0x2).unwrap() }, t);
    writer.write_all(&v0(&[ev(EventKind::Running, t), ag(0, t + 1)])).unwrap();
    repairer.wait_for_log("target=\"agno 0x0 agf\"");

    // Kill it; events keep coming while it is gone.
    repairer.child.kill().unwrap();
    repairer.child.wait().unwrap();
    writer.write_all(&v0(&[ag(1, now_ns())])).unwrap();
    m.wait_for("lost the repairer connection", 20);
    std::thread::sleep(Duration::from_millis(300));
    let log1 = repairer.log_text();
    drop(repairer);
    let mut repairer = Repairer::start_with_uid(&scratch, &fs.mountpoint, MONITOR_UID, &args);
    m.wait_for("reconnected to the repairer; kept reading the same event queue", 20);
    repairer.wait_for_log("target=\"agno 0x1 agf\"");
    writer.write_all(&v0(&[ag(2, now_ns())])).unwrap();
    repairer.wait_for_log("target=\"agno 0x2 agf\"");
    drop(writer); // EOF: the monitor finishes its queue and exits
    assert!(m.wait_exit(60).success(), "{}", m.stderr());

    // Every event was reported exactly once; every spot repair reached a repairer.
    for agno in 0..3 {
        assert_eq!(m.count(&format!("agno {agno:#x} agf: sick")), 1, "{}", m.output());
    }
    assert_eq!(m.count("monitoring started"), 1);
    assert!(log1.contains("agno 0x0 agf"));
    let log2 = repairer.log_text();
    assert!(log2.contains("target=\"agno 0x1 agf\"") && log2.contains("target=\"agno 0x2 agf\""), "{log2}");
}

#[test]
fn a_repair_that_keeps_failing_is_retried_a_few_times_and_escalated_once() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("failing");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let fifo = scratch.path("events.fifo");
    let mut writer = xfs_heal_tests::fifo(&fifo, false);
    let repairer = Repairer::start_with_uid(
        &scratch,
        &fs.mountpoint,
        MONITOR_UID,
        &["--events-from", fifo.to_str().unwrap()],
    );
    let mut m = Monitor::start(&scratch, &repairer.socket, &fs.mountpoint, &["--repair"]);
    writer.write_all(&v0(&[ev(EventKind::Running, now_ns())])).unwrap();
    // Eight seconds of a sick report every 50 ms, as an application hitting a directory the
    // kernel cannot repair would produce; every repair is answered with an error.
    let start = std::time::Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(8) {
        writer.write_all(&v0(&[sick_inode(uapi::XFS_BS_SICK_DIR, now_ns())])).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(writer);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    let attempts = audited(&repairer).iter().filter(|t| *t == "ino 131 gen 0x7 directory").count();
    // The first attempt, then one after the 5 s backoff: a handful, not one per report.
    assert!((1..=3).contains(&attempts), "{attempts} attempts for {sent} sick reports");
    assert_eq!(m.count("sweep of filesystem and group metadata started"), 1, "{}", m.output());
    let summary = m.wait_for("more sick reports while its repairs were failing", 1);
    assert!(
        summary.starts_with(&format!("{} ino 131 gen 0x7 directory: ", fs.mountpoint.display())),
        "{summary}"
    );
    let printed = m.count("ino 131 gen 0x7 directory: sick");
    assert!(printed <= attempts, "{printed} sick lines for {attempts} attempts");
}

#[test]
fn unmount_lost_and_malformed_records() {
    let t = now_ns();
    let mut bad = sick_inode(uapi::XFS_BS_SICK_DIR, t + 2).to_v0_bytes();
    bad[17] = 0x80; // undefined inode mask bit 0x8000 in a SICK record
    let mut stream = v0(&[ev(EventKind::Running, t), ev(EventKind::Lost { count: 7 }, t + 1)]);
    stream.extend_from_slice(&bad);
    stream.extend(v0(&[
        ev(EventKind::Unmount, t + 3),
        // Nothing after the unmount record is read.
        sick_inode(uapi::XFS_BS_SICK_XATTR, t + 4),
    ]));
    let Some(p) = pair("ends", &stream) else { return };
    let mut m = Monitor::start(&p.scratch, &p.repairer.socket, &p.fs.mountpoint, &["--repair"]);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    let out = m.output();
    let mp = p.fs.mountpoint.display();
    assert!(out.contains(&format!("{mp}: 7 events lost")), "{out}");
    assert!(
        out.contains(&format!("{mp}: sweep of filesystem and group metadata started (42 structures) because the kernel dropped 7 events; files and directories are not part of it, and no full online check can be started here (that needs systemd's xfs-heal-full-check@ units): run xfs_scrub -n {mp} to check them.")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{mp}: invalid V0 record at stream byte 128: inode.mask (record offset 16) = 0x8010: bits outside the defined set 0x1ff"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{mp}: filesystem unmounted")));
    assert!(!out.contains("xattr"), "records after the unmount record must not be read:\n{out}");
    assert_eq!(
        m.count("sweep of filesystem and group metadata started"),
        1,
        "one sweep for the lost events and the damaged record"
    );
}

#[test]
fn json_output_validates_against_the_shipped_schema() {
    let t = now_ns();
    let events = v0(&[
        ev(EventKind::Running, t),
        sick_inode(uapi::XFS_BS_SICK_DIR, t + 1),
        ev(EventKind::Lost { count: 2 }, t + 2),
    ]);
    let Some(p) = pair("json", &events) else { return };
    let mut m =
        Monitor::start(&p.scratch, &p.repairer.socket, &p.fs.mountpoint, &["--repair", "--format", "json"]);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    let schema: serde_json::Value = serde_json::from_str(xfs_heal_monitor::report::REPORT_SCHEMA).unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let out = m.output();
    let kinds: Vec<String> = out
        .lines()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert!(v.is_valid(&value), "{l}");
            value["kind"].as_str().unwrap().to_owned()
        })
        .collect();
    for k in ["status", "event", "repair_requested", "repair_result", "escalation"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} line in\n{out}");
    }
}

#[test]
fn the_monitor_runs_without_privilege() {
    let t = now_ns();
    let events = v0(&[ev(EventKind::Running, t), sick_inode(uapi::XFS_BS_SICK_DIR, t + 1)]);
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("nobody");
    std::fs::set_permissions(&scratch.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::write(scratch.path("events.v0"), events).unwrap();
    let evp = scratch.path("events.v0");
    // The repairer serves uid 65534 only; the socket is chowned to it.
    let mut repairer =
        Repairer::start_with_uid(&scratch, &fs.mountpoint, 65534, &["--events-from", evp.to_str().unwrap()]);
    // As its unit runs it: no root, and the calls of systemd's @privileged group kill it.
    let probe = binary("xfs-heal-sandbox-probe");
    let wrapper = [probe.to_str().unwrap(), "unprivileged-unit"];
    let mut m = Monitor::start_wrapped(
        &scratch,
        &repairer.socket,
        &fs.mountpoint,
        &["--repair"],
        Some(65534),
        &wrapper,
    );
    assert!(m.wait_exit(60).success(), "{}\n{}", m.output(), m.stderr());
    let line = repairer.wait_for_log("target=\"ino 131 gen 0x7 directory\"");
    assert!(line.contains("uid=65534"), "{line}");
    assert!(m.output().contains("ino 131 gen 0x7 directory: sick"));
}

/// A stand-in repairer that sends one Hello with `fds` attached, then hangs up.
fn fake_repairer(socket: &std::path::Path, fds: usize) -> std::thread::JoinHandle<()> {
    use std::os::fd::AsRawFd;
    let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
    std::fs::set_permissions(socket, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            mountpoint: MountPath::try_from("/mnt".to_string()).unwrap(),
            identity: FsIdentity { mount_id: 1, root: FsHandle::new(1, &[1, 2, 3, 4]).unwrap() },
            uuid: [0; 16],
            geometry: Geometry::new(4, 0, 0).unwrap(),
            online_repair: OnlineRepair::Supported,
            autofsck: Autofsck::Repair,
            event_source: EventSource::File,
            guards: xfs_heal_protocol::defects::DefectSet::NONE,
            names: xfs_heal_protocol::names::Naming::Off,
        };
        let frame = codec::encode(&RepairerToMonitor::Hello(hello)).unwrap();
        let files: Vec<std::fs::File> = (0..fds).map(|_| std::fs::File::open("/dev/null").unwrap()).collect();
        let raw: Vec<i32> = files.iter().map(AsRawFd::as_raw_fd).collect();
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
        let cmsgs: &[nix::sys::socket::ControlMessage] = if fds == 0 { &[] } else { &cmsg };
        nix::sys::socket::sendmsg::<()>(
            conn.as_raw_fd(),
            &[std::io::IoSlice::new(&frame)],
            cmsgs,
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(500));
    })
}

#[test]
fn a_hello_without_exactly_one_fd_is_refused() {
    for (fds, why) in
        [(0, "0 SCM_RIGHTS messages carrying 0 fds"), (2, "1 SCM_RIGHTS messages carrying 2 fds")]
    {
        let scratch = Scratch::new("fds");
        let socket = scratch.path("fake.sock");
        let fake = fake_repairer(&socket, fds);
        let mut m = Monitor::start(&scratch, &socket, "/mnt".as_ref(), &["--repair"]);
        assert_eq!(m.wait_exit(20).code(), Some(1));
        let err = m.stderr();
        assert!(err.contains(&format!("the Hello must carry exactly one fd: {why}")), "{fds} fds: {err}");
        fake.join().unwrap();
    }
}
