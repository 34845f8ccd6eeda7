//! The full online check's trigger, on real FIFOs passed the way systemd passes them
//! (`LISTEN_FDS` from fd 3, `LISTEN_FDNAMES`, `LISTEN_PID`): the real monitor, connected
//! to the real repairer on a loop-mounted XFS, writes the request FIFO (seen by inotify, the
//! mechanism of systemd's path unit) and reports the notices the hooks write; and the real
//! hook script writes those notices. Starting xfs_scrub@ itself needs systemd as PID 1: VM
//! scenario U8.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use xfs_heal_monitor::event::*;
use xfs_heal_protocol::fullcheck;
use xfs_heal_tests::*;

fn ev(kind: EventKind, t: u64) -> HealthEvent {
    HealthEvent { time_ns: t, kind }
}

/// The monitor as systemd starts it with `Sockets=`: `fds` from fd 3, their names, and
/// LISTEN_PID set to the monitor's own pid (by the shell that execs it).
fn monitor_with_fds(
    scratch: &Scratch,
    socket: &Path,
    mountpoint: &Path,
    fds: Vec<OwnedFd>,
    names: &str,
) -> Monitor {
    let out = scratch.path("monitor.out");
    let err = scratch.path("monitor.err");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$0\" \"$@\""])
        .arg(binary("xfs-heal-monitor"))
        .args(["--user", MONITOR_USER, "--repair", "--connect"])
        .arg(socket)
        .arg(mountpoint)
        .env("LISTEN_FDS", fds.len().to_string())
        .env("LISTEN_FDNAMES", names)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    xfs_heal_tests::sys::pass_fds_from_3(&mut cmd, fds);
    Monitor { child: cmd.spawn().unwrap(), out, err }
}

/// Waits (up to 20 s) for a modification of the watched FIFO: what makes systemd's
/// `PathModified=` start the unit.
fn wait_modified(inotify: &Inotify) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match inotify.read_events() {
            Ok(events) if events.iter().any(|e| e.mask.contains(AddWatchFlags::IN_MODIFY)) => return true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

#[test]
fn lost_events_ask_for_the_full_check_through_the_passed_fifo_and_its_notices_are_reported() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("fullcheck");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let events = scratch.path("events.fifo");
    let mut writer = fifo(&events, false);
    let repairer = Repairer::start_with_uid(
        &scratch,
        &fs.mountpoint,
        MONITOR_UID,
        &["--events-from", events.to_str().unwrap()],
    );

    let request_path = scratch.path("request.fifo");
    let mut request = fifo(&request_path, true);
    let mut notices = fifo(&scratch.path("notices.fifo"), true);
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
    inotify.add_watch(&request_path, AddWatchFlags::IN_MODIFY).unwrap();
    let fds = vec![OwnedFd::from(request.try_clone().unwrap()), OwnedFd::from(notices.try_clone().unwrap())];
    let mut m = monitor_with_fds(&scratch, &repairer.socket, &fs.mountpoint, fds, "full-check:full-check");
    m.wait_for("escalations start the full online check (xfs_scrub@) through systemd", 20);

    let t = now_ns();
    writer.write_all(&v0(&[ev(EventKind::Running, t), ev(EventKind::Lost { count: 5 }, t + 1)])).unwrap();
    assert!(wait_modified(&inotify), "the request FIFO was never written:\n{}", m.output());
    let unit = fullcheck::unit_name(fs.mountpoint.to_str().unwrap()).unwrap();
    let line = m.wait_for("full online check requested", 20);
    assert_eq!(
        line,
        format!(
            "{} full online check requested because the kernel dropped 5 events: {unit} checks every structure, files and directories included, and repairs what the autofsck property allows.",
            fs.mountpoint.display()
        )
        .replacen(' ', ": ", 1)
    );
    // The monitor read its line back: the FIFO is empty, so systemd sees nothing pending.
    let mut left = [0u8; 64];
    assert!(request.read(&mut left).is_err(), "the request FIFO still holds data");

    // The hooks' notices, and one line that is not a notice.
    notices.write_all(b"started\nfinished exit-code exited 1\nfinished\x07 now\n").unwrap();
    m.wait_for(&format!("full online check started ({unit})."), 20);
    m.wait_for(&format!(
        "full online check finished ({unit}): exit status 1: errors remain unrepaired (it repairs only where the autofsck property says repair), so offline repair (xfs_repair) may be required."
    ), 20);
    m.wait_for("ignored a full-check notice that is not printable ASCII", 20);

    // Asked once: a second loss within the interval asks nothing, and nothing was swept.
    writer.write_all(&v0(&[ev(EventKind::Lost { count: 2 }, now_ns())])).unwrap();
    drop(writer);
    assert!(m.wait_exit(60).success(), "{}", m.stderr());
    assert_eq!(m.count("full online check requested"), 1, "{}", m.output());
    assert_eq!(m.count("sweep of filesystem"), 0, "{}", m.output());
    assert!(!repairer.log_text().contains("verdict=issued"), "no repair was sent: {}", repairer.log_text());
    m.wait_for("0 sweeps, 1 full checks", 1);
}

/// Without the trigger (not under systemd), or with fds that are not the socket unit's two
/// FIFOs, the monitor says so and sweeps, as it always did.
#[test]
fn without_a_usable_trigger_the_monitor_says_so_and_sweeps() {
    if !require_root() {
        return;
    }
    for (tag, names) in
        [("plain", None), ("wrongname", Some("full-check:other")), ("notfifo", Some("full-check:full-check"))]
    {
        let scratch = Scratch::new(&format!("nofullcheck-{tag}"));
        let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
        let t = now_ns();
        std::fs::write(
            scratch.path("events.v0"),
            v0(&[ev(EventKind::Running, t), ev(EventKind::Lost { count: 5 }, t + 1)]),
        )
        .unwrap();
        let events = scratch.path("events.v0");
        let repairer = Repairer::start_with_uid(
            &scratch,
            &fs.mountpoint,
            MONITOR_UID,
            &["--events-from", events.to_str().unwrap()],
        );
        let mut m = match names {
            None => Monitor::start(&scratch, &repairer.socket, &fs.mountpoint, &["--repair"]),
            Some(names) => {
                let first = OwnedFd::from(fifo(&scratch.path("request.fifo"), true));
                let second = if tag == "notfifo" {
                    OwnedFd::from(std::fs::File::create(scratch.path("plain-file")).unwrap())
                } else {
                    OwnedFd::from(fifo(&scratch.path("notices.fifo"), true))
                };
                monitor_with_fds(&scratch, &repairer.socket, &fs.mountpoint, vec![first, second], names)
            }
        };
        assert!(m.wait_exit(60).success(), "{}", m.stderr());
        let out = m.output();
        let expected_why = match tag {
            "plain" => "no full online check trigger (not started by systemd's xfs-heal units)",
            "wrongname" => "full online check unavailable: LISTEN_FDNAMES is full-check:other, not two fds named full-check",
            _ => "full online check unavailable: passed fd 4 is not a FIFO",
        };
        assert!(out.contains(expected_why), "{tag}: {out}");
        assert!(
            out.contains("sweep of filesystem and group metadata started (")
                && out.contains("no full online check can be started here"),
            "{tag}: {out}"
        );
        assert_eq!(m.count("full online check requested"), 0, "{tag}: {out}");
        drop(repairer);
    }
}

/// The hook the xfs_scrub@ drop-in runs as root: one line into the mount's notices FIFO;
/// nothing where there is no FIFO, a symlink or a plain file instead.
#[test]
fn the_hook_writes_one_notice_into_the_fifo_and_nothing_anywhere_else() {
    if !require_root() {
        return;
    }
    let hook = repo_root().join("systemd/full-check-notify");
    // A mount point nobody has: its FIFO name cannot collide with a real one.
    let mountpoint = format!("/xfs-heal-test-{}/m nt", std::process::id());
    let escaped = xfs_heal_protocol::fstab::escape_path(&mountpoint).unwrap();
    std::fs::create_dir_all("/run/xfs-heal").unwrap();
    let path = std::path::PathBuf::from(format!("/run/xfs-heal/{escaped}.full-check-notices"));
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(&hook).args(args).envs(env.iter().copied()).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let finished = [("SERVICE_RESULT", "exit-code"), ("EXIT_CODE", "exited"), ("EXIT_STATUS", "1")];

    // No FIFO: no xfs-heal monitor serves that mount; nothing to do, and nothing created.
    assert_eq!(run(&["started", &mountpoint], &[]).0, Some(0));
    assert!(!path.exists());

    let mut f = fifo(&path, true);
    let cleanup = scopeguard(&path);
    assert_eq!(run(&["started", &mountpoint], &[]).0, Some(0));
    assert_eq!(run(&["finished", &mountpoint], &finished).0, Some(0));
    let mut got = [0u8; 256];
    let n = f.read(&mut got).unwrap();
    assert_eq!(&got[..n], b"started\nfinished exit-code exited 1\n");
    // What the hook wrote is what the monitor accepts.
    let mut parsed = Vec::new();
    fullcheck::NoticeReader::new().feed(&got[..n], |r| parsed.push(r.unwrap()));
    assert_eq!(parsed.len(), 2);
    drop(f);
    std::fs::remove_file(&path).unwrap();

    // A plain file or a symlink where the FIFO should be: left exactly as it was.
    std::fs::write(&path, b"keep").unwrap();
    assert_eq!(run(&["finished", &mountpoint], &finished).0, Some(0));
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    std::fs::remove_file(&path).unwrap();
    let target = Scratch::new("hook-target");
    let victim = target.path("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    assert_eq!(run(&["finished", &mountpoint], &finished).0, Some(0));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    std::fs::remove_file(&path).unwrap();

    // Called wrongly: says how, exit 2.
    let (code, err) = run(&["done", &mountpoint], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("usage: full-check-notify started|finished MOUNTPOINT"), "{err}");
    assert_eq!(run(&["started"], &[]).0, Some(2));
    drop(cleanup);
}

/// Removes `path` however the test ends.
fn scopeguard(path: &Path) -> impl Drop + '_ {
    struct Remove<'a>(&'a Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    Remove(path)
}
