//! How the repairer starts: from systemd socket activation, and how it refuses to start on
//! the wrong thing, each time with a message naming the step and the cause.

use std::process::{Command, Stdio};

use xfs_heal_protocol::EventSource;
use xfs_heal_tests::*;

/// Runs `cmd` to its exit; returns (exit code, stderr).
fn fails(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).trim().to_owned())
}

/// Runs `xfs-heal listen --group 0 [--events-from ...] SOCK -- xfs-heal-repairer
/// --monitor-uid 0 [args] MOUNTPOINT` to its exit ([`repairer_command`]).
fn listen_fails(sock: &std::path::Path, args: &[&str], mountpoint: &str) -> (Option<i32>, String) {
    fails(&mut repairer_command(sock, 0, args, mountpoint.as_ref()))
}

#[test]
fn refuses_what_is_not_the_root_of_an_xfs_mount() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("startup");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    std::fs::create_dir(fs.mountpoint.join("sub")).unwrap();
    let sock = scratch.path("s.sock");
    let events = data("sample.v0");
    let events = events.to_str().unwrap();
    let run = |target: &str| listen_fails(&sock, &["--events-from", events], target);

    // Run without a socket, neither from systemd nor from `xfs-heal listen`: step 1 says so.
    let (code, err) =
        fails(Command::new(binary("xfs-heal-repairer")).args(["--monitor-uid", "0"]).arg(&fs.mountpoint));
    assert_eq!(code, Some(1));
    assert!(err.ends_with("step 1 (socket activation): no listening socket passed (LISTEN_FDS): start it from its socket unit, or by hand through `xfs-heal listen`"), "{err}");

    // Not XFS at all: the scratch directory lives on the host's root filesystem.
    let (code, err) = run(scratch.0.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(
        err.ends_with(&format!("step 2 (open mount): {}: not an XFS mount point", scratch.0.display())),
        "{err}"
    );

    // Inside the XFS, but not its mount point.
    let sub = fs.mountpoint.join("sub");
    let (code, err) = run(sub.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(err.contains("not the root of the filesystem: it lies inside the XFS mount at"), "{err}");

    // A bind mount of a subdirectory is a mount point, but not the filesystem's root.
    let bind = scratch.path("bind");
    std::fs::create_dir(&bind).unwrap();
    sh("mount", &["--bind", sub.to_str().unwrap(), bind.to_str().unwrap()]);
    let (code, err) = run(bind.to_str().unwrap());
    sh("umount", &[bind.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not the root of the filesystem: it is a bind mount of /sub"), "{err}");

    // Missing paths.
    let (code, err) = run("/nonexistent/mnt");
    assert_eq!(code, Some(1));
    assert!(err.contains("step 2 (open mount): /nonexistent/mnt: No such file or directory"), "{err}");
    let (code, err) =
        listen_fails(&sock, &["--events-from", "/nonexistent/events"], fs.mountpoint.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "xfs-heal listen: --events-from /nonexistent/events: No such file or directory (os error 2)"
    );

    // `xfs-heal listen` never replaces something that is not a socket.
    let precious = scratch.path("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    let (code, err) = listen_fails(&precious, &["--events-from", events], fs.mountpoint.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(err.contains("exists and is not a socket; not replacing it"), "{err}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
}

#[test]
fn says_so_when_the_kernel_has_no_health_monitor() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("nohm");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let sock = scratch.path("s.sock");
    let (code, err) = listen_fails(&sock, &[], fs.mountpoint.to_str().unwrap());
    let has_monitor = std::fs::read_to_string("/proc/version").unwrap_or_default();
    // This host runs a kernel older than 7.0 (see vm-testing.md); on one with the monitor
    // the repairer would serve instead, and this test would say so.
    assert_eq!(code, Some(1), "{has_monitor}");
    assert!(
        err.ends_with(&format!(
            "step 4 (health monitor): {}: this kernel has no XFS health monitor (Linux 7.0+ needed; xfs-heal listen --events-from FILE replays a capture instead)",
            fs.mountpoint.display()
        )),
        "{err}"
    );
}

#[test]
fn starts_from_systemd_socket_activation() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("activate");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let sock = scratch.path("activated.sock");
    let log = scratch.path("repairer.log");
    // systemd-socket-activate listens, and on the first connection runs the repairer with the
    // listening socket as fd 3 and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set. This host's
    // kernel has no health monitor, so a shell in between (exec keeps the pid LISTEN_PID
    // names) adds the capture as fd 4, named as `xfs-heal listen --events-from` names it.
    let add_capture = r#"exec 4< "$0"; export LISTEN_FDS=2 LISTEN_FDNAMES=repairer:events; exec "$@""#;
    let mut activator = Command::new("systemd-socket-activate")
        .args(["--listen", sock.to_str().unwrap(), "--fdname=repairer"])
        .args(["sh", "-c", add_capture])
        .arg(data("sample.v0"))
        .arg(binary("xfs-heal-repairer"))
        .args(["--monitor-uid", "0"])
        .arg(&fs.mountpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("systemd-socket-activate (package systemd)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sock.exists() {
        assert!(std::time::Instant::now() < deadline, "systemd-socket-activate did not listen");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains("serving"),
        "not started before the first connection"
    );
    let mut c = Client::served(&sock);
    assert_eq!(c.hello.event_source, EventSource::File);
    let reply = c.request(xfs_heal_protocol::RepairRequest {
        id: xfs_heal_protocol::RequestId(1),
        target: xfs_heal_protocol::RepairTarget::Fs { kind: xfs_heal_protocol::FsScrub::FsCounters },
    });
    assert_eq!(reply.id, xfs_heal_protocol::RequestId(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("serving "), "{text}");
    assert!(text.contains("verdict=issued"), "{text}");
    let _ = activator.kill();
    let _ = activator.wait();
}

#[test]
fn starts_with_the_bounding_set_systemd_gives_it() {
    // CapabilityBoundingSet=CAP_SYS_ADMIN: no CAP_SETPCAP, nothing else to drop.
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("bounding");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let events = data("sample.v0");
    let wrapper = ["setpriv", "--bounding-set=-all,+sys_admin", "--inh-caps=-all", "--"];
    let r = Repairer::start_wrapped(
        &scratch,
        &fs.mountpoint,
        &wrapper,
        0,
        &["--events-from", events.to_str().unwrap()],
    );
    let c = Client::served(&r.socket);
    assert_eq!(c.hello.protocol_version, xfs_heal_protocol::PROTOCOL_VERSION);
    let status = std::fs::read_to_string(format!("/proc/{}/status", r.child.id())).unwrap();
    let cap = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    };
    // CAP_SYS_ADMIN is bit 21, and it is all there is.
    for set in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(cap(set), "0000000000200000", "{set}");
    }
    assert_eq!(cap("CapAmb:"), "0000000000000000");
}

/// Runs the repairer the way systemd restarts it: `fds` at 3, 4, ... and LISTEN_PID set to
/// its own pid (a shell sets it and execs, keeping the pid). Returns (exit code, stderr).
fn start_with_passed_fds(
    fds: Vec<std::os::fd::OwnedFd>,
    names: Option<&str>,
    args: &[&str],
) -> (Option<i32>, String) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$@\"", "sh"]).arg(binary("xfs-heal-repairer")).args(args);
    cmd.env("LISTEN_FDS", fds.len().to_string()).env_remove("LISTEN_FDNAMES");
    if let Some(names) = names {
        cmd.env("LISTEN_FDNAMES", names);
    }
    xfs_heal_tests::sys::pass_fds_from_3(&mut cmd, fds);
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).trim().to_owned())
}

#[test]
fn never_uses_a_stored_fd_that_is_not_the_monitor_of_this_filesystem() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("fdstore");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let listener = |name: &str| std::os::unix::net::UnixListener::bind(scratch.path(name)).unwrap();
    // The fd store handed back a plain file under the name "health": the repairer must check
    // it with XFS_IOC_HEALTH_FD_ON_MONITORED_FS, discard it, and open its own monitor (which
    // this host's kernel lacks, so step 4 then fails and says why).
    let bogus = std::fs::File::open(data("sample.v0")).unwrap();
    let (code, err) = start_with_passed_fds(
        vec![listener("a.sock").into(), bogus.into()],
        Some("repairer:health"),
        &["--monitor-uid", "0", fs.mountpoint.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("the fd in systemd's fd store does not watch {}", fs.mountpoint.display())),
        "{err}"
    );
    assert!(err.contains("discarding it"), "{err}");
    assert!(err.ends_with("this kernel has no XFS health monitor (Linux 7.0+ needed; xfs-heal listen --events-from FILE replays a capture instead)"), "{err}");
    assert!(!err.contains("took back"), "{err}");

    // Two fds without names cannot be told apart: refused at step 1, before anything is opened.
    let bogus = std::fs::File::open(data("sample.v0")).unwrap();
    let (code, err) = start_with_passed_fds(
        vec![listener("b.sock").into(), bogus.into()],
        None,
        &["--monitor-uid", "0", fs.mountpoint.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.ends_with(
            "step 1 (socket activation): LISTEN_FDS=2 without LISTEN_FDNAMES: cannot tell the fds apart"
        ),
        "{err}"
    );

    // A passed fd that is not a listening socket, under the socket's name: refused at step 1.
    let bogus = std::fs::File::open(data("sample.v0")).unwrap();
    let (code, err) = start_with_passed_fds(
        vec![bogus.into()],
        Some("repairer"),
        &["--monitor-uid", "0", fs.mountpoint.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.ends_with("step 1 (socket activation): fd 3 is not a listening Unix stream socket"), "{err}");
}

/// Step 2's namespace keeps a copy of the mount. On a mount that receives no propagation
/// (its parent is private) the host's unmount would not reach that copy, and the filesystem
/// would stay alive after it was "unmounted": the repairer refuses to start there, saying
/// what to change, instead of pinning it.
#[test]
fn refuses_a_mount_whose_unmount_would_not_reach_its_namespace() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("private-parent");
    let parent = scratch.path("private");
    std::fs::create_dir(&parent).unwrap();
    let p = parent.to_str().unwrap();
    assert!(Command::new("mount").args(["-t", "tmpfs", "parent", p]).status().unwrap().success());
    assert!(Command::new("mount").args(["--make-private", p]).status().unwrap().success());
    let fs = XfsMount::create(scratch.path("a.img"), parent.join("mnt"));
    let sock = scratch.path("s.sock");
    let events = data("sample.v0");
    let (code, err) =
        listen_fails(&sock, &["--events-from", events.to_str().unwrap()], fs.mountpoint.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(err.contains("the mount it sits on is not shared"), "{err}");
    assert!(err.contains("mount --make-rshared /"), "{err}");
    drop(fs);
    assert!(Command::new("umount").arg(p).status().unwrap().success());
}

/// `xfs-heal supported`, the units' `ExecCondition=`, with xfs_healer's exit codes: 1 where the
/// service cannot serve (not XFS, the autofsck property stands it down, no health monitor in
/// this kernel), 255 on an error, and each verdict in one line naming the reason. (0, "could
/// serve", needs a kernel with the health monitor: the VM suite's systemd boot checks it.)
#[test]
fn supported_says_whether_the_service_could_serve_with_xfs_healers_exit_codes() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("supported");
    let plain = XfsMount::create_with(scratch.path("plain.img"), scratch.path("plain"), &["-m", "rmapbt=0"]);
    let rmap = XfsMount::create_with(scratch.path("rmap.img"), scratch.path("rmap"), &["-m", "rmapbt=1"]);
    let supported = |path: &std::path::Path| {
        let (code, err) = fails(Command::new(binary("xfs-heal")).arg("supported").arg(path));
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with(&format!("xfs-heal supported {}: ", path.display())), "{err}");
        (code, err)
    };
    let autofsck = |fs: &XfsMount, value: &str| {
        xfs_heal_tests::sys::set_xattr(&fs.mountpoint, "trusted.xfs:autofsck", value.as_bytes()).unwrap();
    };
    let no_monitor = "not served: step 4 (health monitor)";
    let (code, err) = supported(&plain.mountpoint);
    assert_eq!(code, Some(1));
    assert!(err.ends_with("not served: step 3 (autofsck): Disabling daemon: autofsck is not set and the filesystem has neither reverse mappings nor parent pointers."), "{err}");
    let (code, err) = supported(&rmap.mountpoint);
    assert_eq!(code, Some(1));
    assert!(err.contains(no_monitor) && err.contains("this kernel has no XFS health monitor"), "{err}");
    autofsck(&rmap, "none");
    let (code, err) = supported(&rmap.mountpoint);
    assert_eq!(code, Some(1));
    assert!(
        err.ends_with("not served: step 3 (autofsck): Disabling daemon per autofsck directive."),
        "{err}"
    );
    autofsck(&plain, "repair");
    let (code, err) = supported(&plain.mountpoint);
    assert_eq!(code, Some(1));
    assert!(err.contains(no_monitor), "autofsck=repair serves it, the kernel cannot: {err}");

    let (code, err) = supported(&scratch.0);
    assert_eq!(code, Some(1));
    assert!(
        err.ends_with(
            "not served: step 2 (open mount): {}: not an XFS mount point"
                .replace("{}", &scratch.0.display().to_string())
                .as_str()
        ),
        "{err}"
    );
    std::fs::create_dir(plain.mountpoint.join("sub")).unwrap();
    let (code, err) = supported(&plain.mountpoint.join("sub"));
    assert_eq!(code, Some(255));
    assert!(err.contains("cannot tell whether it can be served: step 2 (open mount)"), "{err}");
    let (code, err) = supported(std::path::Path::new("/nonexistent/mnt"));
    assert_eq!(code, Some(255));
    assert!(err.contains("No such file or directory"), "{err}");
}

/// Issue #14: the repair workers are started after the privileges are dropped and Landlock
/// is on, and before seccomp, which covers them (TSYNC): every thread of the serving
/// repairer has CAP_SYS_ADMIN alone, no_new_privs, and the one filter. `--parallel 3` is
/// three workers beside the serving thread; without it, one per CPU.
#[test]
fn every_repair_worker_is_sealed_like_the_serving_thread() {
    if !require_root() {
        return;
    }
    let scratch = Scratch::new("workers");
    let fs = XfsMount::create(scratch.path("a.img"), scratch.path("mnt"));
    let events = data("sample.v0");
    let cpus = std::thread::available_parallelism().unwrap().get();
    for (parallel, workers) in [(Some("3"), 3), (None, cpus)] {
        let mut args = vec!["--events-from", events.to_str().unwrap()];
        args.extend(parallel.iter().flat_map(|n| ["--parallel", n]));
        let r = Repairer::start(&scratch, &fs.mountpoint, &args);
        let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{}/task", r.child.id()))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(tasks.len(), workers + 1, "{parallel:?}: {tasks:?}");
        let mut names = Vec::new();
        for task in &tasks {
            let status = std::fs::read_to_string(task.join("status")).unwrap();
            let field = |name: &str| {
                let line = status.lines().find(|l| l.starts_with(name)).unwrap();
                line.split_whitespace().nth(1).unwrap().to_owned()
            };
            names.push(field("Name:"));
            // CAP_SYS_ADMIN is bit 21, and it is all there is.
            for set in ["CapEff:", "CapPrm:", "CapBnd:"] {
                assert_eq!(field(set), "0000000000200000", "{}: {set}", task.display());
            }
            for set in ["CapInh:", "CapAmb:"] {
                assert_eq!(field(set), "0000000000000000", "{}: {set}", task.display());
            }
            assert_eq!(field("NoNewPrivs:"), "1", "{}", task.display());
            assert_eq!(field("Seccomp:"), "2", "{}: not in filter mode", task.display());
            assert_eq!(field("Seccomp_filters:"), "1", "{}", task.display());
        }
        names.sort();
        let mut expected: Vec<String> = (0..workers).map(|n| format!("repair-{n}")).collect();
        expected.insert(0, "xfs-heal-repair".to_owned());
        expected.sort();
        assert_eq!(names, expected);
        // And they serve: a request is answered and audited.
        let mut c = Client::served(&r.socket);
        let target = xfs_heal_protocol::RepairTarget::Fs { kind: xfs_heal_protocol::FsScrub::FsCounters };
        let reply =
            c.request(xfs_heal_protocol::RepairRequest { id: xfs_heal_protocol::RequestId(7), target });
        assert_eq!(reply.id, xfs_heal_protocol::RequestId(7));
    }
}
