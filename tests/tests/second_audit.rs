//! The second external audit's findings, each replayed as the attack against the real
//! binaries (ARCHITECTURE.md, "Threat model"). Every test here failed before its fix.

use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use xfs_heal_protocol::throttle::{self, Limits};
use xfs_heal_protocol::*;
use xfs_heal_tests::*;

// --- 2: connections, and the lines they cause -----------------------------------------------

/// Before: every connection wrote "connected" and "disconnected" (20,000 cycles in under a
/// second wrote 40,000 lines) and got a Hello with a health fd. After: connection lines have
/// their own limit and a summary, a connection over the admission limit is closed with no
/// Hello, and audit lines still get through.
#[test]
fn a_connect_loop_of_the_served_uid_writes_bounded_lines_and_leaves_audit_lines_alone() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("connect-loop");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let mut r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    let before = r.log_text().lines().count();
    let start = Instant::now();
    let mut cycles = 0u64;
    while cycles < 20_000 && start.elapsed() < Duration::from_secs(3) {
        // Connect and hang up at once, reading nothing: the repairer sees a new peer each time.
        drop(UnixStream::connect(&r.socket).expect("connect"));
        cycles += 1;
    }
    // A request after the loop: its audit line must be written.
    let mut c = Client::served(&r.socket);
    let target = RepairTarget::Ag { agno: AgNumber::try_from(0).unwrap(), kind: AgScrub::Agf };
    assert_eq!(c.request(RepairRequest { id: RequestId(77), target }).id, RequestId(77));
    let audit = r.wait_for_log("request=77 ");
    assert!(audit.contains("verdict=issued"), "{audit}");
    let secs = start.elapsed().as_secs().max(1);
    let text = r.log_text();
    let written = text.lines().count() - before;
    eprintln!("{cycles} connect/disconnect cycles in {secs} s: {written} lines written");
    assert!(cycles > 1_000, "the loop ran: {cycles}");
    let bound = usize::try_from(Limits::max_lines_in(secs)).unwrap();
    assert!(written <= bound, "{written} lines for {cycles} connections; the limits allow {bound}:\n{text}");
    let connected = r.count("connected; handed over the health fd");
    let most = usize::try_from(throttle::CONNECTION_LINES.burst).unwrap() + usize::try_from(secs).unwrap();
    assert!(connected <= most, "{connected} 'connected' lines, at most {most}");
    // The connections over the limit were closed unanswered: no Hello, no fd in flight.
    let greeted_most = u64::from(throttle::ADMISSIONS.burst) + 4 * secs + 2;
    assert!(cycles > greeted_most, "the loop outran the admission limit");
    drop(c);
    drop(fs);
}

/// Before: every connection got a Hello with a health fd, which stays in flight, charged to
/// root beyond root's own limit (CAP_SYS_ADMIN), for as long as the peer holds the connection
/// unread. After: connections held open in a burst get their Hello and fd only within the
/// admission limit; the rest are closed with nothing sent.
#[test]
fn connections_held_unread_carry_no_more_health_fds_than_the_admission_limit() {
    use std::os::fd::AsRawFd;
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("inflight");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    let start = Instant::now();
    let held: Vec<UnixStream> = (0..100).map(|_| UnixStream::connect(&r.socket).expect("connect")).collect();
    // Every connection answered (a Hello, or the close) before any is read.
    std::thread::sleep(Duration::from_millis(500));
    let secs = start.elapsed().as_secs() + 1;
    let mut with_fd = 0u64;
    for stream in &held {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; codec::MAX_FRAME];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 2]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let flags = nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC;
        let msg =
            nix::sys::socket::recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), flags).unwrap();
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                with_fd += 1;
                for fd in fds {
                    let _ = nix::unistd::close(fd);
                }
            }
        }
    }
    let most = u64::from(throttle::ADMISSIONS.burst) + 4 * secs;
    eprintln!("100 connections held unread: {with_fd} carried a health fd (the limit allows {most})");
    assert!(with_fd >= 1, "the first is greeted");
    assert!(with_fd <= most, "{with_fd} health fds in flight; the limit allows {most}");
}

// --- 4: `xfs-heal status` and one hostile file ----------------------------------------------

/// Before: a 65,536-character label aborted the command (exit 134) and hid every mount; two
/// +Inf counts wrapped to "ok". After: the table is drawn, the hostile cell cut short and
/// escaped, the file with +Inf unreadable, the good file shown.
#[test]
fn status_survives_hostile_files_and_shows_the_rest() {
    let scratch = Scratch::new("status-hostile");
    let dir = scratch.path("metrics");
    std::fs::create_dir(&dir).unwrap();
    let good = metrics::render(
        "/mnt/good",
        "/dev/good",
        &[metrics::Sample { family: metrics::UP, label: None, value: 1.0 }],
    );
    std::fs::write(dir.join("xfs-heal@mnt-good.prom"), &good).unwrap();
    let long = "x".repeat(65_536);
    let hostile = good.replace("/mnt/good", &format!("/mnt/{long}\\u202e"));
    std::fs::write(dir.join("xfs-heal@mnt-long.prom"), hostile.replace("\\u202e", "\u{202e}")).unwrap();
    let sick = good.replace("/mnt/good", "/mnt/inf")
        + "xfs_heal_sick_objects{mountpoint=\"/mnt/inf\",device=\"/dev/good\",domain=\"inode\"} +Inf\n"
        + "xfs_heal_sick_objects{mountpoint=\"/mnt/inf\",device=\"/dev/good\",domain=\"ag\"} +Inf\n";
    std::fs::write(dir.join("xfs-heal@mnt-inf.prom"), sick).unwrap();
    let out = Command::new(binary("xfs-heal"))
        .args(["status", "--metrics-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("/mnt/good"), "{text}");
    assert!(
        text.contains(&format!("/mnt/{}...", "x".repeat(xfs_heal_ctl::status::MAX_CELL_CHARS - 8))),
        "{text}"
    );
    assert!(!text.contains('\u{202e}'), "{text}");
    assert!(
        text.contains("xfs-heal@mnt-inf.prom: xfs_heal_sick_objects has a value no monitor writes"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("/mnt/inf")), "never shown as a mount: {text}");
}

// --- 1: no monitor may touch another mount's metrics ----------------------------------------

/// Runs the monitor's whole metrics sandbox for `own` (as `uid`) and one call relative to it.
fn sandboxed(uid: u32, own: &std::path::Path, op: &str, path: &str, to: Option<&str>) -> String {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(binary("xfs-heal-sandbox-probe"));
    cmd.args(["monitor-metrics-sandbox", own.to_str().unwrap(), op, path]).args(to);
    let out = cmd.uid(uid).gid(uid).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!said.is_empty(), "the probe died: {out:?}");
    said
}

/// Before: every monitor's Landlock rule covered node_exporter's whole directory, which the
/// xfs-heal group could write, so the monitor of a scratch filesystem could rename, remove or
/// forge the metrics of `/`, and create any name there (`apt.prom`). After: each monitor's
/// directory is its own, and its rule covers that one. Here the second mount's monitor, in
/// its real sandbox and as the uid every monitor shares, tries each attack on the first's.
#[test]
fn a_second_instances_monitor_cannot_touch_the_first_ones_metrics_or_make_any_other_name() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("metrics-isolation");
    let (state, textfile) = (scratch.path("state"), scratch.path("textfile"));
    let (a, b) = (state.join("mnt-a"), state.join("mnt-b"));
    for dir in [&a, &b] {
        std::fs::create_dir_all(dir).unwrap();
        std::os::unix::fs::chown(dir, Some(MONITOR_UID), Some(MONITOR_UID)).unwrap();
    }
    std::fs::create_dir(&textfile).unwrap();
    std::fs::write(a.join("xfs-heal@mnt-a.prom"), "xfs_heal_up 1\n").unwrap();
    std::os::unix::fs::chown(a.join("xfs-heal@mnt-a.prom"), Some(MONITOR_UID), Some(MONITOR_UID)).unwrap();
    let uid = MONITOR_UID;
    // Its own directory: what it needs works.
    assert_eq!(sandboxed(uid, &b, "create", ".xfs-heal@mnt-b.prom.tmp", None), "allowed");
    assert_eq!(
        sandboxed(uid, &b, "rename", ".xfs-heal@mnt-b.prom.tmp", Some("xfs-heal@mnt-b.prom")),
        "allowed"
    );
    assert_eq!(sandboxed(uid, &b, "remove", "xfs-heal@mnt-b.prom", None), "allowed");
    // The first mount's file: not renamed, removed, replaced or written beside.
    let theirs = "../mnt-a/xfs-heal@mnt-a.prom";
    for (op, path, to) in [
        ("rename", theirs, Some("stolen.prom")),
        ("rename", "../mnt-a/xfs-heal@mnt-a.prom", Some("../mnt-a/hidden")),
        ("remove", theirs, None),
        ("create", "../mnt-a/forged.prom", None),
        ("create", "../mnt-a/.xfs-heal@mnt-a.prom.tmp", None),
    ] {
        let said = sandboxed(uid, &b, op, path, to);
        assert!(said.starts_with("denied: EACCES"), "{op} {path}: {said}");
    }
    assert_eq!(std::fs::read(a.join("xfs-heal@mnt-a.prom")).unwrap(), b"xfs_heal_up 1\n");
    // Any name in node_exporter's directory, even where its mode would allow it (as root).
    for uid in [MONITOR_UID, 0] {
        let said = sandboxed(uid, &b, "create", "../../textfile/apt.prom", None);
        assert!(said.starts_with("denied: EACCES"), "as uid {uid}: {said}");
    }
    let left: Vec<_> = std::fs::read_dir(&textfile).unwrap().collect();
    assert!(left.is_empty());
}

// --- 9: smaller points ----------------------------------------------------------------------

/// Before: `xfs-heal listen` unlinked whatever socket had its name, a running repairer's
/// included, which then served nobody. After: a socket something still accepts on is left
/// alone; only a dead one is replaced.
#[test]
fn listen_never_replaces_a_live_socket() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("live-socket");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let r =
        Repairer::start(&scratch, &fs.mountpoint, &["--events-from", data("sample.v0").to_str().unwrap()]);
    let out = Command::new(binary("xfs-heal"))
        .args(["listen", "--group", "0"])
        .arg(&r.socket)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("a live socket: something accepts connections there"), "{err}");
    // The running repairer is still reachable at its name.
    let _c = Client::served(&r.socket);
    // A dead socket (nothing listens) is still replaced, as before.
    let dead = scratch.path("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let out = Command::new(binary("xfs-heal"))
        .args(["listen", "--group", "0"])
        .arg(&dead)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Before: any root-owned file nobody else could write passed as a capture, `/etc/shadow`
/// and files of /sys and /proc included, handing root's secrets to the unprivileged monitor.
/// After: only what a capture can be.
#[test]
fn events_from_takes_only_what_a_capture_can_be() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("capture-contents");
    let sock = scratch.path("r.sock");
    let text = scratch.path("secret.key");
    std::fs::write(
        &text,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPQ1sb2d0p3N4cmV0LWtleS1ub3QtYS1jYXB0dXJl\n",
    )
    .unwrap();
    std::fs::set_permissions(&text, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut cases = vec![
        (text.clone(), "not a whole number of 64-byte health records"),
        (format!("/proc/{}/environ", std::process::id()).into(), "a file on proc, not a capture"),
    ];
    if std::path::Path::new("/etc/shadow").exists() {
        cases.push(("/etc/shadow".into(), ""));
    }
    let sysfs = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled");
    if sysfs.exists() {
        cases.push((sysfs.to_owned(), "a file on sysfs, not a capture"));
    }
    for (path, why) in cases {
        let out = Command::new(binary("xfs-heal"))
            .args(["listen", "--group", "0", "--events-from"])
            .arg(&path)
            .arg(&sock)
            .args(["--", "/bin/true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert!(err.starts_with(&format!("xfs-heal listen: --events-from {}: ", path.display())), "{err}");
        assert!(err.contains(why), "{}: {err}", path.display());
    }
    // A real capture still passes.
    let out = Command::new(binary("xfs-heal"))
        .args(["listen", "--group", "0", "--events-from"])
        .arg(data("sample.v0"))
        .arg(&sock)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Before: the monitor started as root cleared its supplementary groups, though its help
/// said it took `--user`'s. After: it takes exactly `--user`'s, as systemd's `User=` gives
/// them, and none of root's.
#[test]
fn a_root_started_monitor_takes_its_users_groups_and_no_others() {
    if !require_root() {
        return;
    }
    let (user, group) = ("xfs-heal-t-groups", "xfs-heal-t-extra");
    if Command::new("getent").args(["group", group]).output().is_ok_and(|o| !o.status.success()) {
        sh("groupadd", &["--system", group]);
    }
    if Command::new("getent").args(["passwd", user]).output().is_ok_and(|o| !o.status.success()) {
        sh("useradd", &["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", group, user]);
    }
    let gid_of = |name: &str| sh("getent", &["group", name]).split(':').nth(2).unwrap().trim().to_owned();
    let uid = sh("id", &["-u", user]).trim().to_owned();
    let primary = sh("id", &["-g", user]).trim().to_owned();
    let extra = gid_of(group);
    let scratch = Scratch::new("monitor-groups");
    // It drops privileges before it connects, then keeps retrying: long enough to look.
    let mut child = Command::new(binary("xfs-heal-monitor"))
        .args(["--user", user, "--no-metrics", "--connect"])
        .arg(scratch.path("nobody-listens.sock"))
        .arg("/mnt")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let (uids, groups) = loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let uids = field(&text, "Uid:").unwrap_or_default();
        if uids.starts_with(&format!("{uid} ")) || Instant::now() > deadline {
            break (uids, field(&text, "Groups:").unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(uids, format!("{uid} {uid} {uid} {uid}"));
    let mut got: Vec<&str> = groups.split_whitespace().collect();
    got.sort_unstable();
    let mut want = vec![primary.as_str(), extra.as_str()];
    want.sort_unstable();
    want.dedup();
    assert_eq!(got, want, "Groups: {groups}");
}
