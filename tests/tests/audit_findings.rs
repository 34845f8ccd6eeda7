//! The external audit's findings against the repairer, each replayed as the attack against
//! the real binary (ARCHITECTURE.md, "Threat model"). Every test here failed before its fix.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xfs_heal_protocol::*;
use xfs_heal_tests::*;

/// `xfs-heal listen ... SOCK -- xfs-heal-repairer --monitor-uid UID [args] MOUNTPOINT`
/// ([`listen_args`]), as strings.
fn by_hand(sock: &std::path::Path, uid: u32, args: &[&str], mountpoint: &std::path::Path) -> Vec<String> {
    let mut all = vec![binary("xfs-heal").to_str().unwrap().to_owned()];
    all.extend(listen_args(sock, uid, args, mountpoint).iter().map(|a| a.to_str().unwrap().to_owned()));
    all
}

/// Starts a repairer by hand, which must exit by itself within 20 s (one that serves is
/// killed and reported as such); returns (exit code, stderr).
fn start_fails(
    sock: &std::path::Path,
    uid: u32,
    args: &[&str],
    mountpoint: &std::path::Path,
) -> (Option<i32>, String) {
    run_fails(&by_hand(sock, uid, args, mountpoint).iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `command`, which must exit by itself within 20 s; returns (exit code, stderr).
fn run_fails(command: &[&str]) -> (Option<i32>, String) {
    let scratch = Scratch::new("start-fails");
    let log = scratch.path("stderr");
    let mut child = Command::new(command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the repairer started serving:\n{}", std::fs::read_to_string(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.code(), std::fs::read_to_string(&log).unwrap().trim().to_owned())
}

/// Reads what `pipe` has within 20 s (an empty string when nothing came).
fn read_within(pipe: &std::process::ChildStderr, buf: &mut [u8]) -> usize {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(pipe.as_fd(), nix::poll::PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)) {
        Ok(1) => nix::unistd::read(pipe, buf).unwrap(),
        _ => 0,
    }
}

fn agf(id: u64) -> RepairRequest {
    RepairRequest {
        id: RequestId(id),
        target: RepairTarget::Ag { agno: AgNumber::try_from(0).unwrap(), kind: AgScrub::Agf },
    }
}

fn frame(request: RepairRequest) -> Vec<u8> {
    codec::encode(&MonitorToRepairer::Repair(request)).unwrap()
}

// --- 1 and 6: the socket `xfs-heal listen` binds ------------------------------------------------------------

#[test]
fn listen_refuses_a_directory_anyone_but_root_can_write() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("listen-dir");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let events = data("sample.v0");
    for (name, mode, owner) in [("sticky", 0o1777, 0), ("group", 0o775, 0), ("nobody", 0o755, 65534)] {
        let dir = scratch.path(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&dir, Some(owner), None).unwrap();
        let sock = dir.join("r.sock");
        let (code, err) =
            start_fails(&sock, 65534, &["--events-from", events.to_str().unwrap()], &fs.mountpoint);
        assert_eq!(code, Some(1), "{name}: {err}");
        assert!(
            err.contains(&format!("xfs-heal listen: {}: its directory must belong to root and be writable by root alone (it has owner uid {owner}, mode {mode:o})", sock.display())),
            "{name}: {err}"
        );
        assert!(!sock.exists(), "{name}: nothing is created there");
    }
}

#[test]
fn the_socket_is_roots_with_the_monitor_group_and_mode_0660() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("listen-owner");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let r = Repairer::start_with_uid(
        &scratch,
        &fs.mountpoint,
        65534,
        &["--events-from", data("sample.v0").to_str().unwrap()],
    );
    let meta = std::fs::symlink_metadata(&r.socket).unwrap();
    let nogroup = nix::unistd::User::from_uid(65534.into()).unwrap().unwrap().gid.as_raw();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (0, nogroup, 0o660));
    // So the monitor's uid cannot open it to everyone.
    let chmod = Command::new("chmod")
        .args(["0666", r.socket.to_str().unwrap()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!chmod.status.success());
    assert_eq!(std::fs::symlink_metadata(&r.socket).unwrap().mode() & 0o7777, 0o660);
}

#[test]
fn nothing_after_the_bind_changes_owner_or_mode_through_a_path_that_follows_links() {
    // The race needs a path-following chmod or chown after the bind; under a filter that
    // kills exactly those, the repairer must still bind, set the socket's group and serve.
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("listen-nofollow");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let sock = scratch.path("r.sock");
    let log = scratch.path("log");
    let events = data("sample.v0");
    let mut child = Command::new(binary("xfs-heal-sandbox-probe"))
        .arg("no-path-following")
        .args(by_hand(&sock, 65534, &["--events-from", events.to_str().unwrap()], &fs.mountpoint))
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if std::fs::read_to_string(&log).unwrap().contains("serving ") || Instant::now() > deadline {
            break child.try_wait().unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, None, "the repairer died: {}", std::fs::read_to_string(&log).unwrap());
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    let nogroup = nix::unistd::User::from_uid(65534.into()).unwrap().unwrap().gid.as_raw();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (0, nogroup, 0o660));
}

#[test]
fn a_symlink_raced_over_the_socket_never_changes_its_target() {
    // The attack: swap the freshly bound socket for a symlink to a root file before the
    // repairer sets owner and mode. Here root races (the directory is root's alone, as the
    // repairer now demands), for a bounded number of starts; the target must never change.
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("listen-race");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let victim = scratch.path("victim");
    std::fs::write(&victim, b"root's").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sock = scratch.path("r.sock");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = {
        let (stop, sock, victim, link) = (stop.clone(), sock.clone(), victim.clone(), scratch.path("link"));
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::os::unix::fs::symlink(&victim, &link);
                if std::fs::symlink_metadata(&sock).is_ok() && std::fs::rename(&link, &sock).is_ok() {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let events = data("sample.v0");
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut starts = 0;
    while Instant::now() < deadline && starts < 300 {
        let mut child =
            repairer_command(&sock, 65534, &["--events-from", events.to_str().unwrap()], &fs.mountpoint)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let _ = child.kill();
        let _ = child.wait();
        starts += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    let meta = std::fs::metadata(&victim).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (0, 0, 0o644),
        "after {starts} starts, {swaps} swaps"
    );
    assert!(swaps > 0, "the racer never got in");
}

// --- 3: xfs-heal listen --events-from --------------------------------------------------------------------------

#[test]
fn events_from_refuses_links_and_files_others_control() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("events-from");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    // A directory the monitor's uid owns, as in the audit.
    let theirs = scratch.path("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let secret = scratch.path("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret, theirs.join("events")).unwrap();
    std::os::unix::fs::symlink(&scratch.0, theirs.join("dirlink")).unwrap();
    let owned = theirs.join("owned");
    std::fs::write(&owned, data_bytes()).unwrap();
    std::os::unix::fs::chown(&owned, Some(65534), Some(65534)).unwrap();
    let open = scratch.path("open");
    std::fs::write(&open, data_bytes()).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let linked = theirs.join("hardlink");
    std::fs::hard_link(&secret, &linked).unwrap();
    let sock = scratch.path("r.sock");
    let cases = [
        (theirs.join("events"), "a symlink in the path; give the file itself"),
        (theirs.join("dirlink/secret"), "a symlink in the path; give the file itself"),
        (
            owned.clone(),
            "must belong to root and be writable by root alone (it has owner uid 65534, mode 644)",
        ),
        (open.clone(), "must belong to root and be writable by root alone (it has owner uid 0, mode 666)"),
        (linked.clone(), "a regular file with 2 hard links; only a file with one is used"),
        (scratch.0.clone(), "not a regular file or FIFO"),
    ];
    for (path, why) in cases {
        let (code, err) =
            start_fails(&sock, 65534, &["--events-from", path.to_str().unwrap()], &fs.mountpoint);
        assert_eq!(code, Some(1), "{}: {err}", path.display());
        assert_eq!(err, format!("xfs-heal listen: --events-from {}: {why}", path.display()));
    }
}

fn data_bytes() -> Vec<u8> {
    std::fs::read(data("sample.v0")).unwrap()
}

// --- 2: throttling and a log nobody reads ---------------------------------------------------

#[test]
fn a_flood_of_requests_is_served_at_the_rate_limit() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("flood");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    let mut c = Client::served(&r.socket);
    // 5,000 requests written as fast as the socket takes them, from another thread.
    let mut writer = c.stream.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        use std::io::Write;
        for id in 0..5_000 {
            if writer.write_all(&frame(agf(id))).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut replies = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        match c.read_message() {
            Some(RepairerToMonitor::Reply(_)) => replies += 1,
            other => panic!("{other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("flood: {replies} repair ioctls answered in {secs:.2} s ({:.0}/s)", replies as f64 / secs);
    let limit = throttle::REQUESTS;
    let most = f64::from(limit.burst) + secs * 1e9 / limit.every_ns as f64 + 1.0;
    assert!((replies as f64) <= most, "{replies} replies in {secs:.2} s; the limit allows {most:.0}");
    assert!(replies >= u64::from(limit.burst), "{replies}");
    drop(c);
    drop(flood);
    // Whole-filesystem scrubs have their own, tighter bucket.
    let mut c = Client::served(&r.socket);
    let counters =
        |id| RepairRequest { id: RequestId(id), target: RepairTarget::Fs { kind: FsScrub::FsCounters } };
    for id in 0..20 {
        c.send_raw(&frame(counters(id)));
    }
    let start = Instant::now();
    let mut replies = 0u64;
    while replies < 20 {
        c.read_message().expect("reply");
        replies += 1;
        if replies == u64::from(throttle::WHOLE_FS_REQUESTS.burst) + 1 {
            // The one after the burst waited for its token.
            assert!(start.elapsed() >= Duration::from_nanos(throttle::WHOLE_FS_REQUESTS.every_ns / 2));
            break;
        }
    }
    let text = r.log_text();
    assert!(!text.contains("rate limit:"), "the summary comes a minute after the first held request");
}

#[test]
fn refused_connections_are_logged_ten_a_minute_then_counted() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("refusals");
    let mut fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let mut r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    std::fs::set_permissions(&r.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = Command::new(binary("xfs-heal-raw-client"))
        .arg(&r.socket)
        .arg("500")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "served 0 refused 500");
    // Served, then the filesystem goes: the repairer exits and writes the summary first.
    let c = Client::served(&r.socket);
    fs.unmount().unwrap();
    drop(c);
    assert!(r.wait_exit().success());
    assert_eq!(
        r.count("refused connection from pid"),
        usize::try_from(throttle::REFUSAL_LINES.burst).unwrap(),
        "{}",
        r.log_text()
    );
    let summary = r.wait_for_log("more connections in the last minute");
    assert!(summary.contains("refused 490 more connections"), "{summary}");
}

#[test]
fn a_log_nobody_reads_never_stops_the_answers() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("stuck-log");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let sock = scratch.path("r.sock");
    let events = data("sample.v0");
    let mut child = repairer_command(&sock, 0, &["--events-from", events.to_str().unwrap()], &fs.mountpoint)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Read up to "serving", then never again while requests flow: the pipe fills up.
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("serving ") {
        let mut b = [0u8; 256];
        let n = read_within(&stderr, &mut b);
        assert!(n > 0, "exited: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&b[..n]);
    }
    let mut c = Client::served(&sock);
    // Audit lines are about 150 bytes: 1,500 requests are well over a 64 KiB pipe.
    for id in 0..1_500 {
        let reply = c.request(agf(id));
        assert_eq!(reply.id, RequestId(id));
    }
    // Drain what got through, then one more request: its line says how many were dropped.
    let mut drained = vec![0u8; 1 << 20];
    let n = read_within(&stderr, &mut drained);
    assert!(n >= 60_000, "{n}");
    c.request(agf(9_999));
    let mut tail = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tail.contains("request=9999") && Instant::now() < deadline {
        let mut b = [0u8; 4096];
        let n = read_within(&stderr, &mut b);
        tail.push_str(&String::from_utf8_lossy(&b[..n]));
    }
    let line =
        tail.lines().find(|l| l.contains("log lines were dropped")).unwrap_or_else(|| panic!("{tail}"));
    let dropped: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(dropped > 500, "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

// --- 7: the connection slot -----------------------------------------------------------------

#[test]
fn a_stalled_partial_frame_is_dropped_and_a_silent_peer_is_replaced() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("slot");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let mut r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    // Two bytes of a frame, then nothing: dropped after the partial-frame timeout.
    let mut stalled = Client::served(&r.socket);
    stalled.send_raw(&[0x1e, 0x00]);
    let line = r.wait_for_log("of a frame and nothing more");
    assert!(line.contains("sent 2 bytes of a frame and nothing more for 5 s"), "{line}");
    assert!(stalled.read_message().is_none());
    // A peer that connects and says nothing holds the slot only until the next one comes.
    let mut silent = Client::served(&r.socket);
    let mut next = Client::served(&r.socket);
    assert!(silent.read_message().is_none(), "the older connection is closed");
    r.wait_for_log("replaces monitor pid");
    assert_eq!(next.request(agf(1)).id, RequestId(1));
}

// --- 5 and 9: the monitor's trust in its peer, and its own privileges ------------------------

/// A forged repairer at `socket` (killed on drop): a Hello for `mount` and a pipe carrying a
/// real capture that ends in a shutdown; served as `uid` when given.
struct Forger(std::process::Child);

impl Forger {
    fn start(socket: &std::path::Path, mount: &str, uid: Option<u32>) -> Self {
        let mut cmd = Command::new(binary("xfs-heal-raw-client"));
        cmd.args(["--forge", socket.to_str().unwrap(), mount, data("sample.v0").to_str().unwrap()]);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let forger = Self(cmd.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        forger
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_monitor_refuses_a_repairer_that_is_not_root() {
    if !require_root() {
        return;
    }
    // The audit's attack: another uid serves a forged Hello and a pipe of records (here a
    // real capture that ends in a shutdown) at the path the monitor connects to.
    let scratch = Scratch::new("forged-peer");
    std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = scratch.path("fake.sock");
    let _forger = Forger::start(&socket, "/mnt", Some(65534));
    let mut m = Monitor::start(&scratch, &socket, "/mnt".as_ref(), &["--repair"]);
    assert_eq!(m.wait_exit(20).code(), Some(1));
    let err = m.stderr();
    assert!(
        err.contains("the socket is served by pid")
            && err.contains("uid 65534, not by root: not a repairer; refused"),
        "{err}"
    );
    assert!(!m.output().contains("shut down"), "{}", m.output());
}

#[test]
fn the_monitor_refuses_a_hello_for_another_mount() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("wrong-mount");
    let socket = scratch.path("fake.sock");
    let _forger = Forger::start(&socket, "/mnt/other", None);
    let mut m = Monitor::start(&scratch, &socket, "/mnt/data".as_ref(), &["--repair"]);
    assert_eq!(m.wait_exit(20).code(), Some(1));
    let err = m.stderr();
    assert!(err.contains("the repairer serves /mnt/other, not this monitor's mount; refused"), "{err}");
    assert!(!m.output().contains("shut down"));
}

/// A listener that accepts and never says anything.
fn silent_listener(socket: &std::path::Path) -> std::thread::JoinHandle<()> {
    let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::thread::spawn(move || {
        let (_conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(8));
    })
}

#[test]
fn a_silent_listener_times_out_and_the_root_started_monitor_holds_nothing_meanwhile() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("silent");
    let socket = scratch.path("fake.sock");
    let listener = silent_listener(&socket);
    // Started as root, it switches to the test user and drops every capability before it
    // connects: while it waits for the Hello, /proc shows what it holds.
    let mut m = Monitor::start(&scratch, &socket, "/mnt".as_ref(), &["--repair"]);
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.child.id())).unwrap();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    };
    for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(field(cap), "0000000000000000", "{cap} of the root-started monitor");
    }
    assert_eq!(field("Uid:"), MONITOR_UID.to_string());
    assert_eq!(field("Gid:"), MONITOR_UID.to_string());
    assert_eq!(m.wait_exit(20).code(), Some(1));
    assert!(m.stderr().contains("no Hello within 5 s of connecting; refused"), "{}", m.stderr());
    assert!(
        m.output().contains("started as root: now nobody (uid 65534, gid 65534), with no capability"),
        "{}",
        m.output()
    );
    listener.join().unwrap();
}

#[test]
fn a_root_started_monitor_without_its_user_refuses_to_run() {
    let out = Command::new(binary("xfs-heal-monitor"))
        .args(["--user", "no-such-user-xfs-heal", "--connect", "/nonexistent.sock", "/mnt"])
        .output()
        .unwrap();
    if !nix::unistd::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI must run this as root");
        return;
    }
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("started as root, and there is no user \"no-such-user-xfs-heal\" to switch to: create it (the package does) or give --user"),
        "{err}"
    );
    let out = Command::new(binary("xfs-heal-monitor")).args(["--user", "root", "/mnt"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--user root is root: the monitor never runs as root")
    );
}

// --- 8: a kernel that cannot enforce Landlock ----------------------------------------------

#[test]
fn without_landlock_the_repairer_refuses_to_serve_unless_told() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("no-landlock");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let probe = binary("xfs-heal-sandbox-probe");
    let events = data("sample.v0");
    let args = |sock: &str, allow: bool| {
        let mut repairer = vec!["--events-from", events.to_str().unwrap()];
        if allow {
            repairer.push("--allow-partial-landlock");
        }
        let mut a = vec![probe.to_str().unwrap().to_owned(), "no-landlock".into()];
        a.extend(by_hand(&scratch.path(sock), 0, &repairer, &fs.mountpoint));
        a
    };
    let refused = args("a.sock", false);
    let (code, err) = run_fails(&refused.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(1));
    assert!(
        err.contains("step 7 (landlock): NotEnforced: this kernel cannot enforce the whole ruleset; refusing to serve (--allow-partial-landlock accepts it)"),
        "{err}"
    );
    // Told to, it serves with seccomp alone, and says so.
    let log = scratch.path("b.log");
    let mut child = Command::new(&args("b.sock", true)[0])
        .args(&args("b.sock", true)[1..])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains("serving ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("landlock: NotEnforced (--allow-partial-landlock); relying on seccomp for the rest"),
        "{text}"
    );
    assert!(text.contains("serving "), "{text}");
}
