//! The real repairer binary on a real loop-mounted XFS, over its real socket.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use xfs_heal_protocol::uapi::HEALTH_EVENT_V0_SIZE;
use xfs_heal_protocol::*;
use xfs_heal_tests::*;

/// A scratch dir, an XFS mount in it, a V0 events file, and a repairer serving them.
struct Setup {
    scratch: Scratch,
    fs: XfsMount,
    repairer: Repairer,
}

fn setup(tag: &str) -> Option<Setup> {
    if !require_root() {
        return None;
    }
    let scratch = Scratch::new(tag);
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::copy(data("sample.v0"), scratch.path("events.v0")).unwrap();
    let events = scratch.path("events.v0");
    let repairer = Repairer::start(&scratch, &fs.mountpoint, &["--events-from", events.to_str().unwrap()]);
    Some(Setup { scratch, fs, repairer })
}

fn ag(agno: u32, kind: AgScrub) -> RepairTarget {
    RepairTarget::Ag { agno: AgNumber::try_from(agno).unwrap(), kind }
}

fn request(id: u64, target: RepairTarget) -> RepairRequest {
    RepairRequest { id: RequestId(id), target }
}

/// What this host's kernel answers to a repair call, asked directly.
fn kernel_answer(fs: &XfsMount, target: &RepairTarget) -> RepairOutcome {
    let dir = std::fs::File::open(&fs.mountpoint).unwrap();
    let mut sm = target.to_scrub_metadata();
    match xfs_heal_repairer::sys::scrub_metadata(dir.as_fd(), &mut sm) {
        Ok(()) => RepairOutcome::classify(ScrubOutFlags::from_kernel(sm.sm_flags)),
        Err(e) => RepairOutcome::KernelError(Errno::try_from(e.raw_os_error().unwrap()).unwrap()),
    }
}

#[test]
fn hello_describes_the_filesystem_and_the_fd_is_the_event_stream() {
    let Some(s) = setup("hello") else { return };
    let c = Client::served(&s.repairer.socket);
    let h = &c.hello;
    assert_eq!(h.protocol_version, PROTOCOL_VERSION);
    assert_eq!(h.mountpoint.as_str(), s.fs.mountpoint.to_str().unwrap());
    assert_eq!(h.event_source, EventSource::File);
    assert_eq!(h.geometry.agcount(), 4, "mkfs.xfs makes 4 AGs on 320 MiB");
    assert_eq!(h.geometry.rgcount(), 0);
    // This host's mkfs.xfs makes no rmapbt: no known kernel defect applies.
    assert_eq!(h.guards, xfs_heal_protocol::defects::DefectSet::NONE);
    let uuid: String = h.uuid.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(uuid, s.fs.uuid().replace('-', ""));
    assert!(h.identity.mount_id > 0);
    // The handle is the mount root's: what name_to_handle_at gives for the directory now.
    // The mount is the repairer's own copy in its namespace (step 2), so its ID is not ours.
    let dir = std::fs::File::open(&s.fs.mountpoint).unwrap();
    let now = xfs_heal_repairer::mount::identity(&dir.into()).unwrap();
    assert_eq!(now.root, h.identity.root);
    assert_ne!(
        now.mount_id, h.identity.mount_id,
        "step 2 serves a copy in a namespace of its own: {now} vs {}",
        h.identity
    );
    // The host kernel cannot repair; the probe's errno is reported, not hidden.
    assert!(matches!(h.online_repair, OnlineRepair::Unsupported(_)), "{:?}", h.online_repair);
    // The fd reads the events file from the start.
    assert_eq!(c.read_health(HEALTH_EVENT_V0_SIZE), std::fs::read(data("sample.v0")).unwrap()[..64]);
}

#[test]
fn a_request_reaches_the_kernel_and_its_answer_comes_back() {
    let Some(mut s) = setup("kernel") else { return };
    let target = ag(1, AgScrub::Inobt);
    let expected = kernel_answer(&s.fs, &target);
    let mut c = Client::served(&s.repairer.socket);
    let reply = c.request(request(41, target));
    assert_eq!(reply.id, RequestId(41));
    assert_eq!(reply.outcome, expected);
    let line = s.repairer.wait_for_log("request=41");
    assert!(line.contains("target=\"agno 0x1 inobt\" verdict=issued"), "{line}");
    assert!(line.contains("uid=0 request=41"), "{line}");
    // Every scope reaches the kernel the same way.
    let ino =
        RepairTarget::Inode { ino: InodeNumber::try_from(128).unwrap(), gen: 0, kind: InodeScrub::Directory };
    assert_eq!(c.request(request(42, ino)).outcome, kernel_answer(&s.fs, &ino));
    let fs = RepairTarget::Fs { kind: FsScrub::FsCounters };
    assert_eq!(c.request(request(43, fs)).outcome, kernel_answer(&s.fs, &fs));
    assert_eq!(s.repairer.count("verdict=issued"), 3);
}

/// This host's mkfs.xfs makes no parent pointers and its kernel has no GETPARENTS ioctl: the
/// names path itself runs in the VM (U10). Here: what the repairer says and does when names
/// cannot be given, traced.
#[test]
fn a_lookup_without_names_is_refused_audited_and_never_reaches_the_kernel() {
    use xfs_heal_protocol::names::{LookupOutcome, LookupRefusal, LookupRequest, Naming};
    if !require_root() {
        return;
    }
    for (flag, naming, refusal) in [
        (None, Naming::Off, LookupRefusal::Disabled),
        (Some("--resolve-names"), Naming::NoParentPointers, LookupRefusal::NoParentPointers),
    ] {
        let scratch = Scratch::new("lookup");
        let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
        std::fs::copy(data("sample.v0"), scratch.path("events.v0")).unwrap();
        let events = scratch.path("events.v0");
        let mut args = vec!["--events-from", events.to_str().unwrap()];
        args.extend(flag);
        let mut repairer = Repairer::start_traced(&scratch, &fs.mountpoint, &args);
        let mut c = Client::served(&repairer.socket);
        assert_eq!(c.hello.names, naming);
        let ask = LookupRequest { id: RequestId(7), ino: InodeNumber::try_from(128).unwrap(), gen: 0 };
        let reply = c.lookup(ask);
        assert_eq!((reply.id, reply.outcome), (RequestId(7), LookupOutcome::Refused(refusal)));
        let line = repairer.wait_for_log("request=7 ");
        assert!(line.contains("target=\"name of ino 128 gen 0x0\" verdict=refused"), "{line}");
        assert!(line.contains(&format!("result=\"{refusal}\"")), "{line}");
        assert_eq!(repairer.getparents_ioctls(), 0, "no lookup reached the kernel");
        // The connection goes on: a repair request after it is answered as ever.
        let target = ag(0, AgScrub::Agf);
        assert_eq!(c.request(request(8, target)).id, RequestId(8));
    }
}

#[test]
fn another_filesystem_at_the_same_path_gets_estale_and_no_ioctl() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("estale");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::copy(data("sample.v0"), scratch.path("events.v0")).unwrap();
    let events = scratch.path("events.v0");
    // Traced: what reaches the kernel is counted by strace, not taken from the audit log.
    let repairer =
        Repairer::start_traced(&scratch, &fs.mountpoint, &["--events-from", events.to_str().unwrap()]);
    let mut s = Setup { scratch, fs, repairer };
    let probe = s.repairer.scrub_ioctls();
    assert_eq!(probe, 1, "the startup probe is the one scrub ioctl before any request");
    let mut c = Client::served(&s.repairer.socket);
    let target = ag(0, AgScrub::Agf);
    assert!(!matches!(c.request(request(1, target)).outcome, RepairOutcome::Refused(_)));
    assert_eq!(s.repairer.scrub_ioctls(), probe + 1, "the request reached the kernel");

    // A different XFS at the same path: the unmount must succeed at once (never pinned).
    let mountpoint = s.fs.mountpoint.clone();
    s.fs.unmount().expect("the repairer must not pin the mount");
    // ...and really release it: the repairer's namespace (step 2) keeps no copy alive, so
    // the loop device (autoclear) is detached with the last reference to the superblock.
    let attached = Command::new("losetup").arg("-j").arg(&s.fs.image).output().unwrap().stdout;
    assert!(attached.is_empty(), "still attached: {}", String::from_utf8_lossy(&attached));
    let other = XfsMount::create(s.scratch.path("b.img"), mountpoint.clone());
    let reply = c.request(request(2, target));
    assert_eq!(reply.outcome, RepairOutcome::Refused(Refusal::StaleFilesystem));
    let line = s.repairer.wait_for_log("request=2 ");
    assert!(line.contains("verdict=refused") && line.contains("ESTALE"), "{line}");
    assert_eq!(s.repairer.scrub_ioctls(), probe + 1, "no ioctl may reach the kernel for the other fs");
    drop(other);

    // A -o nouuid clone of the original image: same UUID, same handle; a different mount.
    let clone = s.scratch.path("clone.img");
    sh("cp", &["--sparse=always", s.fs.image.to_str().unwrap(), clone.to_str().unwrap()]);
    let _clone = XfsMount::mount(clone, mountpoint, &["nouuid"]);
    assert_eq!(c.request(request(3, target)).outcome, RepairOutcome::Refused(Refusal::StaleFilesystem));
    assert_eq!(s.repairer.scrub_ioctls(), probe + 1, "no ioctl may reach the kernel for the clone");
}

#[test]
fn out_of_range_targets_are_refused_with_a_reason() {
    let Some(mut s) = setup("range") else { return };
    let mut c = Client::served(&s.repairer.socket);
    let reply = c.request(request(5, ag(4, AgScrub::Agi)));
    assert_eq!(
        reply.outcome,
        RepairOutcome::Refused(Refusal::OutOfRange(OutOfRange::AgNumber { agno: 4, agcount: 4 }))
    );
    let rt = RepairTarget::RtGroup { rgno: RtGroupNumber::try_from(0).unwrap(), kind: RtGroupScrub::Bitmap };
    assert!(matches!(c.request(request(6, rt)).outcome, RepairOutcome::Refused(Refusal::OutOfRange(_))));
    let line = s.repairer.wait_for_log("request=5 ");
    assert!(
        line.contains("verdict=refused") && line.contains("AG 4 does not exist (the filesystem has 4)"),
        "{line}"
    );
    assert_eq!(s.repairer.count("verdict=issued"), 0);
}

#[test]
fn hostile_frames_close_the_connection_and_the_next_client_is_served() {
    let Some(mut s) = setup("hostile") else {
        return;
    };
    let good = codec::encode(&MonitorToRepairer::Repair(request(9, ag(0, AgScrub::Agf)))).unwrap();
    let mut trailing = good.clone();
    trailing.push(0);
    trailing[0] += 1;
    let mut wrong_version = good.clone();
    wrong_version[4] = 9;
    let mut illegal = good.clone();
    illegal[26] = 15; // XFS_SCRUB_TYPE_DIR in an AG-scope request
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("oversized", vec![0xff, 0xff, 0, 0, 1, 0], "exceeds the 8192-byte limit"),
        ("trailing", trailing, "1 trailing bytes after the message"),
        ("wrong version", wrong_version, "protocol version 9 is not supported"),
        ("illegal value", illegal, "scrub type 15 is not a repairable AG structure"),
        (
            "truncated",
            good[..good.len() - 3].to_vec(),
            "connection closed inside a frame (27 bytes of it received)",
        ),
    ];
    for (i, (what, bytes, reason)) in cases.into_iter().enumerate() {
        let mut bad = Client::served(&s.repairer.socket);
        bad.send_raw(&bytes);
        if what == "truncated" {
            drop(bad); // a peer that hangs up mid-frame
        } else {
            assert!(bad.read_message().is_none(), "{what}: the repairer must hang up");
        }
        s.repairer.wait_for_log(reason);
        assert_eq!(s.repairer.count(reason), 1, "{what}: the log must name the reason once");
        // The next client is served normally.
        let mut next = Client::served(&s.repairer.socket);
        let reply = next.request(request(100 + i as u64, ag(0, AgScrub::Agf)));
        assert_eq!(reply.id, RequestId(100 + i as u64), "{what}");
    }
    assert_eq!(s.repairer.count("verdict=issued"), 5);
}

#[test]
fn one_monitor_at_a_time_the_newest_wins() {
    let Some(mut s) = setup("second") else { return };
    let mut first = Client::served(&s.repairer.socket);
    let mut second = Client::served(&s.repairer.socket);
    let line = s.repairer.wait_for_log("replaces monitor pid");
    let me = std::process::id();
    assert!(line.contains(&format!("monitor pid {me} replaces monitor pid {me}")), "{line}");
    assert!(first.read_message().is_none(), "the first connection is closed");
    assert_eq!(second.request(request(1, ag(0, AgScrub::Agf))).id, RequestId(1));
}

#[test]
fn a_peer_with_another_uid_is_refused() {
    let Some(mut s) = setup("uid") else { return };
    // The socket file is root's and the monitor group's (0660); to test SO_PEERCRED itself,
    // open it up.
    std::fs::set_permissions(&s.repairer.socket, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .unwrap();
    std::fs::set_permissions(&s.scratch.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(binary("xfs-heal-raw-client"))
        .arg(&s.repairer.socket)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run client as nobody");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "refused",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = s.repairer.wait_for_log("refused connection");
    assert!(line.contains("uid 65534: only uid 0 is served"), "{line}");
    assert!(matches!(Client::connect(&s.repairer.socket), Greeting::Served(_)));
}

#[test]
fn the_repairer_exits_cleanly_once_its_filesystem_is_gone() {
    let Some(mut s) = setup("gone") else { return };
    let c = Client::served(&s.repairer.socket);
    s.fs.unmount().expect("unmount while the repairer runs");
    drop(c);
    let status = s.repairer.wait_exit();
    assert!(status.success(), "{status}:\n{}", s.repairer.log_text());
    assert!(s.repairer.log_text().contains("the filesystem is gone"));
}

#[test]
fn a_stopped_and_continued_repairer_keeps_serving() {
    // SIGSTOP/SIGCONT (or a debugger) makes the kernel resume the interrupted poll through
    // restart_syscall; the sealed repairer must survive it.
    let Some(mut s) = setup("stopcont") else { return };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(s.repairer.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let mut c = Client::served(&s.repairer.socket);
    assert_eq!(c.request(request(1, ag(0, AgScrub::Agf))).id, RequestId(1));
    assert!(s.repairer.child.try_wait().unwrap().is_none(), "{}", s.repairer.log_text());
    // A peer that hangs up between frames: said as such, not as a cut frame.
    drop(Client::served(&s.repairer.socket));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !s.repairer.log_text().lines().any(|l| l.ends_with(" disconnected: connection closed")) {
        assert!(std::time::Instant::now() < deadline, "{}", s.repairer.log_text());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn readiness_and_counters_reach_systemd() {
    // The datagram protocol of sd_notify(3), with the test in systemd's place.
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("notify");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let notify = std::os::unix::net::UnixDatagram::bind(scratch.path("notify.sock")).unwrap();
    notify.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let socket = scratch.path("r.sock");
    let events = data("sample.v0");
    let mut child =
        repairer_command(&socket, 0, &["--events-from", events.to_str().unwrap()], &fs.mountpoint)
            .env("NOTIFY_SOCKET", scratch.path("notify.sock"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let mut buf = [0u8; 1024];
    let n = notify.recv(&mut buf).expect("READY=1 from the repairer");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\nSTATUS=serving "), "{ready}");
    let mut c = Client::served(&socket);
    c.request(request(1, ag(0, AgScrub::Agf)));
    c.request(request(2, ag(9, AgScrub::Agf)));
    c.request(request(3, ag(1, AgScrub::Agf)));
    let mut last = String::new();
    while !last.contains("3 requests") {
        let n = notify.recv(&mut buf).expect("STATUS= after each request");
        last = String::from_utf8_lossy(&buf[..n]).into_owned();
    }
    assert!(last.ends_with(": 3 requests, 2 repairs issued, 1 refused; 0 log lines dropped"), "{last}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 11: inode-core repair on a filesystem with rmapbt and without metadir dereferences
/// a NULL pointer in kernels from 6.14 on (this host's included). A hostile monitor asking
/// for it directly is refused, with an audit line naming the defect; other repairs of the
/// same inode still reach the kernel; `--assume-fixed` waives the guard, and says so.
#[test]
fn a_repair_a_known_kernel_defect_forbids_is_refused_and_audited() {
    use std::os::unix::fs::MetadataExt;
    use xfs_heal_protocol::defects::{DefectId, DefectSet};
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("defect");
    let fs = XfsMount::create_with(scratch.path("a.img"), scratch.path("mnt"), &["-m", "rmapbt=1"]);
    std::fs::write(fs.mountpoint.join("f"), b"hello").unwrap();
    let ino = InodeNumber::try_from(std::fs::metadata(fs.mountpoint.join("f")).unwrap().ino()).unwrap();
    std::fs::copy(data("sample.v0"), scratch.path("events.v0")).unwrap();
    let events = scratch.path("events.v0");
    let events = ["--events-from", events.to_str().unwrap()];
    let key = "inode-repair-rtgroup-rmap-null";
    let core = RepairTarget::Inode { ino, gen: 0, kind: InodeScrub::Core };
    let data_fork = RepairTarget::Inode { ino, gen: 0, kind: InodeScrub::DataFork };

    let mut repairer = Repairer::start_traced(&scratch, &fs.mountpoint, &events);
    let probe = repairer.scrub_ioctls();
    let line = repairer.wait_for_log(&format!("known kernel defect {key} applies"));
    assert!(line.contains("refusing inode core repairs"), "{line}");
    let mut c = Client::served(&repairer.socket);
    assert_eq!(c.hello.guards, DefectSet::try_from(1).unwrap());
    let reply = c.request(request(5, core));
    assert_eq!(
        reply.outcome,
        RepairOutcome::Refused(Refusal::KnownKernelDefect(DefectId::RtgroupRmapNullCursor))
    );
    assert_eq!(repairer.scrub_ioctls(), probe, "the forbidden repair never reached the kernel");
    let audit = repairer.wait_for_log("request=5");
    assert!(audit.contains("verdict=refused"), "{audit}");
    assert!(
        audit.contains(&format!(
            "known kernel defect {key}: inode-core repair on a filesystem with rmapbt but without metadir"
        )),
        "{audit}"
    );
    let reply = c.request(request(6, data_fork));
    assert!(!matches!(reply.outcome, RepairOutcome::Refused(_)), "{reply:?}");
    assert!(repairer.wait_for_log("request=6").contains("verdict=issued"));
    assert_eq!(repairer.scrub_ioctls(), probe + 1, "the data fork repair did");
    drop(c);
    drop(repairer);

    let mut waived =
        Repairer::start(&scratch, &fs.mountpoint, &[&events[..], &["--assume-fixed", key]].concat());
    let line = waived.wait_for_log(&format!("known kernel defect {key} applies"));
    assert!(line.contains("WAIVED by --assume-fixed: issuing inode core repairs"), "{line}");
    let mut c = Client::served(&waived.socket);
    assert_eq!(c.hello.guards, DefectSet::NONE);
    let reply = c.request(request(7, core));
    assert!(!matches!(reply.outcome, RepairOutcome::Refused(_)), "{reply:?}");
    assert!(waived.wait_for_log("request=7").contains("verdict=issued"));
}

#[test]
fn an_unknown_defect_key_is_refused_at_startup() {
    let out = Command::new(binary("xfs-heal-repairer"))
        .args(["--assume-fixed", "no-such-defect", "/mnt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'no-such-defect' for '--assume-fixed <KEY>'"), "{err}");
    assert!(err.contains("[possible values: inode-repair-rtgroup-rmap-null]"), "{err}");
}

/// A listener that keeps failing (here: no fd left to accept with, EMFILE) ends the repairer
/// with the reason, for systemd to restart it with a clean slate; it does not spin on a
/// socket that stays readable.
#[test]
fn a_failing_listener_ends_the_repairer_with_the_reason() {
    let Some(mut s) = setup("emfile") else { return };
    let pid = s.repairer.child.id().to_string();
    // No fd number left: the next accept(2) fails with EMFILE.
    sh("prlimit", &["--pid", &pid, "--nofile=3:3"]);
    let _client = std::os::unix::net::UnixStream::connect(&s.repairer.socket).unwrap();
    let status = s.repairer.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", s.repairer.log_text());
    // In the C library's words (musl's, in the static build), as the repairer prints them.
    let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
    let expected = format!("{}: serving: {emfile}", s.fs.mountpoint.display());
    assert!(s.repairer.log_text().lines().any(|l| l.ends_with(&expected)), "{}", s.repairer.log_text());
}

/// Idle, the serving loop sleeps in poll(2) until something happens: no timeout is armed
/// when no request is held, no frame is half-read and no summary is due (a loop that woke
/// without cause would burn a core on every host it serves). Run by hand it also watches the
/// host's mount events (a moved mount); other tests mounting meanwhile wake it, so each of
/// those wakeups must have drained real events from the watch, not found it empty.
#[test]
fn an_idle_repairer_sleeps() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("idle");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let trace = scratch.path("poll.strace");
    let strace =
        ["strace", "-qq", "-e", "trace=poll,ppoll,read,fanotify_init,execve", "-o", trace.to_str().unwrap()];
    let events = data("sample.v0");
    let r = Repairer::start_wrapped(
        &scratch,
        &fs.mountpoint,
        &strace,
        0,
        &["--events-from", events.to_str().unwrap()],
    );
    // One mount event of our own, so that the watch has something to wake the loop with.
    let elsewhere = scratch.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let e = elsewhere.to_str().unwrap();
    assert!(Command::new("mount").args(["-t", "tmpfs", "elsewhere", e]).status().unwrap().success());
    assert!(Command::new("umount").arg(e).status().unwrap().success());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    // From `xfs-heal listen`'s exec of the repairer on (the same process).
    let text = text.rsplit_once("\nexecve(").map_or(text.as_str(), |(_, after)| after).to_owned();
    let watch = text
        .lines()
        .find_map(|l| l.strip_prefix("fanotify_init(").and_then(|l| l.rsplit("= ").next()))
        .expect("the move watch is opened");
    let polls: Vec<&str> =
        text.lines().filter(|l| l.starts_with("poll(") || l.starts_with("ppoll(")).collect();
    // The Rust runtime's check of fds 0-2 at startup; then the serving loop's.
    let serving = &polls[1..];
    let woken_by_watch = serving
        .iter()
        .filter(|l| l.contains("revents=POLLIN}") && l.contains(&format!("{{fd={watch}, revents")))
        .count();
    let drained = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!("read({watch}, "))
                && !l.ends_with("= -1 EAGAIN (Resource temporarily unavailable)")
        })
        .count();
    assert!(serving.iter().all(|l| l.contains("], 3, -1")), "a timeout was armed:\n{text}");
    assert!(
        serving.len() - woken_by_watch <= 1,
        "{} wakeups without cause:\n{text}",
        serving.len() - woken_by_watch
    );
    assert!(woken_by_watch >= 1, "the mount event did not wake the loop:\n{text}");
    assert_eq!(woken_by_watch, drained, "a watch wakeup that found nothing to read:\n{text}");
    drop(r);
}

/// `mount --move` (issue #13 part 5): the kernel moves a mount only from under a private
/// parent, so the move never reaches the repairer's own namespace, whose copy at the old
/// place would keep the filesystem alive after the host unmounts it at the new one. Run by
/// hand, the repairer watches the namespace it started in and exits when its mount moves,
/// saying what to do. Another mount moving beside it changes nothing.
#[test]
fn a_moved_mount_ends_the_repairer_and_nothing_pins_the_filesystem() {
    if !require_root() {
        return;
    }
    let mount = |args: &[&str]| {
        let out = Command::new("mount").args(args).output().unwrap();
        assert!(out.status.success(), "mount {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let scratch = Scratch::new("moved");
    // A tmpfs parent, shared while the repairer starts (as under an rshared /), made private
    // before the moves, as the kernel requires.
    let parent = scratch.path("parent");
    std::fs::create_dir(&parent).unwrap();
    let p = parent.to_str().unwrap();
    mount(&["-t", "tmpfs", "parent", p]);
    /// Whatever happens, nothing stays mounted under the scratch dir.
    struct Unmount<'a>(&'a str);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").args(["-R", "-l", self.0]).status();
        }
    }
    let _cleanup = Unmount(p);
    mount(&["--make-shared", p]);
    let mut fs = XfsMount::create(scratch.path("a.img"), parent.join("a"));
    let bystander = parent.join("x");
    std::fs::create_dir(&bystander).unwrap();
    mount(&["-t", "tmpfs", "bystander", bystander.to_str().unwrap()]);
    let events = data("sample.v0");
    let mut repairer =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", events.to_str().unwrap()]);
    mount(&["--make-private", p]);

    std::fs::create_dir(parent.join("y")).unwrap();
    mount(&["--move", bystander.to_str().unwrap(), parent.join("y").to_str().unwrap()]);
    let mut c = Client::served(&repairer.socket);
    let reply = c.request(request(1, ag(0, AgScrub::Agf)));
    assert!(!matches!(reply.outcome, RepairOutcome::Refused(_)), "another mount's move: {reply:?}");
    assert!(repairer.child.try_wait().unwrap().is_none(), "{}", repairer.log_text());

    let moved_to = parent.join("b");
    std::fs::create_dir(&moved_to).unwrap();
    mount(&["--move", fs.mountpoint.to_str().unwrap(), moved_to.to_str().unwrap()]);
    fs.mountpoint = moved_to.clone();
    let status = repairer.wait_exit();
    assert!(status.success(), "{status}:\n{}", repairer.log_text());
    let line = repairer.wait_for_log("was moved");
    assert!(
        line.contains(&format!("{} was moved to another place (mount --move)", parent.join("a").display())),
        "{line}"
    );
    assert!(line.contains("start xfs-heal for the new one"), "{line}");
    drop(c);

    // Unmounted at its new place, the filesystem is gone: the loop device detaches itself
    // once nothing holds the superblock (mount -o loop sets autoclear).
    fs.unmount().expect("unmount at the new place");
    let image = fs.image.to_str().unwrap().to_owned();
    let attached = || sh("losetup", &["-j", &image]);
    for _ in 0..100 {
        if attached().trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(attached().trim(), "", "the loop device is still attached: something pins the filesystem");
}

/// Issue #14: requests sent together, more of them than there are workers, are each
/// answered once (in any order), each by one audited call; the connection is read again as
/// workers come free.
#[test]
fn pipelined_requests_are_each_answered_once() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("pipelined");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let events = data("sample.v0");
    let r = Repairer::start(
        &scratch,
        &fs.mountpoint,
        &["--parallel", "2", "--events-from", events.to_str().unwrap()],
    );
    let mut c = Client::served(&r.socket);
    let ids: Vec<u64> = (100..116).collect();
    let mut frames = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let agno = AgNumber::try_from(u32::try_from(i % 4).unwrap()).unwrap();
        let target = RepairTarget::Ag { agno, kind: AgScrub::Bnobt };
        frames.extend(
            codec::encode(&MonitorToRepairer::Repair(RepairRequest { id: RequestId(*id), target })).unwrap(),
        );
    }
    c.send_raw(&frames);
    let mut answered: Vec<u64> = (0..ids.len())
        .map(|_| match c.read_message() {
            Some(RepairerToMonitor::Reply(reply)) => reply.id.0,
            other => panic!("expected a reply, got {other:?}"),
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, ids);
    assert_eq!(r.count("verdict=issued"), ids.len());
}
