//! Helpers shared by the integration tests in `tests/tests/`.
//!
//! These tests run the real binaries. Cargo only exposes a binary's path to tests of its own
//! package, so the binaries are found next to the test executable (`target/<profile>/`); the
//! test command builds them first (`cargo build --workspace --bins`).
//!
//! Nothing here is a mock: [`XfsMount`] is a real XFS image, loop-mounted; [`Repairer`] is
//! the real binary with its log captured; [`Client`] speaks the wire protocol over the real
//! socket and receives the real fd.
#![deny(unsafe_code)]

pub mod sys;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use xfs_heal_protocol::codec::{self, CodecError};
use xfs_heal_protocol::{Hello, MonitorToRepairer, RepairReply, RepairRequest, RepairerToMonitor};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    repo_root().join("tests").join("data").join(name)
}

/// The path of one of the workspace's binaries, built for the same profile as this test.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // Tests run from target/<profile>/deps/, tool binaries from target/<profile>/.
    let mut dir = exe.parent().expect("target/<profile>");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target/<profile>");
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` before the integration tests",
        path.display()
    );
    path
}

/// Runs a binary to completion.
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(binary(name)).args(args).output().expect("spawn")
}

/// Standard output as lines.
pub fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Runs a command that must succeed; returns its stdout.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// These tests need root (loop mounts, CAP_SYS_ADMIN). Outside CI they are skipped with a
/// message when not root; in CI (`CI` set) a test that cannot run fails.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must run the integration tests as root");
    eprintln!("skipped: needs root");
    false
}

/// A fresh scratch directory, removed on drop.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xfs-heal-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real XFS filesystem in a sparse image file, loop-mounted; unmounted on drop.
#[derive(Debug)]
pub struct XfsMount {
    pub image: PathBuf,
    pub mountpoint: PathBuf,
}

impl XfsMount {
    /// Makes a 320 MiB XFS image and mounts it at `mountpoint` (created if missing).
    pub fn create(image: PathBuf, mountpoint: PathBuf) -> Self {
        Self::create_with(image, mountpoint, &[])
    }

    /// The same, with more mkfs.xfs options (e.g. `-m rmapbt=1`).
    pub fn create_with(image: PathBuf, mountpoint: PathBuf, mkfs: &[&str]) -> Self {
        std::fs::File::create(&image).and_then(|f| f.set_len(320 << 20)).expect("image");
        let mut args = vec!["-q", "-f"];
        args.extend_from_slice(mkfs);
        args.push(image.to_str().unwrap());
        sh("mkfs.xfs", &args);
        Self::mount(image, mountpoint, &[])
    }

    /// Mounts an existing image.
    pub fn mount(image: PathBuf, mountpoint: PathBuf, options: &[&str]) -> Self {
        std::fs::create_dir_all(&mountpoint).expect("mountpoint");
        let mut args = vec!["-o".to_string(), "loop".to_string()];
        for o in options {
            args.push("-o".into());
            args.push((*o).into());
        }
        args.push(image.to_str().unwrap().into());
        args.push(mountpoint.to_str().unwrap().into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sh("mount", &args);
        Self { image, mountpoint }
    }

    /// The filesystem's UUID as blkid reads it from the device.
    pub fn uuid(&self) -> String {
        let dev = sh("findmnt", &["-n", "-o", "SOURCE", self.mountpoint.to_str().unwrap()]);
        sh("blkid", &["-p", "-o", "value", "-s", "UUID", dev.trim()]).trim().to_owned()
    }

    /// Unmounts now; `Err` carries umount's complaint (e.g. "target is busy").
    pub fn unmount(&mut self) -> Result<(), String> {
        let out = Command::new("umount").arg(&self.mountpoint).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            self.mountpoint = PathBuf::new();
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for XfsMount {
    fn drop(&mut self) {
        if !self.mountpoint.as_os_str().is_empty() {
            let _ = Command::new("umount").arg("-l").arg(&self.mountpoint).status();
        }
    }
}

/// A running repairer whose stderr goes to a file the test can read at any time.
#[derive(Debug)]
pub struct Repairer {
    pub child: Child,
    pub log: PathBuf,
    pub socket: PathBuf,
}

impl Repairer {
    /// The process's peak and current resident set size, in KiB (VmHWM, VmRSS).
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// Starts `xfs-heal listen --group 0 SOCKET -- xfs-heal-repairer --monitor-uid 0 [extra]
    /// MOUNTPOINT`, as an operator runs it by hand, and waits until it serves (or exits).
    /// `--events-from PATH` in `extra` goes to `xfs-heal listen`, the rest to the repairer.
    pub fn start(scratch: &Scratch, mountpoint: &Path, extra: &[&str]) -> Self {
        Self::start_with_uid(scratch, mountpoint, 0, extra)
    }

    /// The same, serving `uid` (the socket's group is the gid of the same number).
    pub fn start_with_uid(scratch: &Scratch, mountpoint: &Path, uid: u32, extra: &[&str]) -> Self {
        Self::start_wrapped(scratch, mountpoint, &[], uid, extra)
    }

    /// The same, run through `wrapper` (e.g. setpriv with a reduced bounding set).
    pub fn start_wrapped(
        scratch: &Scratch,
        mountpoint: &Path,
        wrapper: &[&str],
        uid: u32,
        extra: &[&str],
    ) -> Self {
        let log = scratch.path("repairer.log");
        let socket = scratch.path("repairer.sock");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary("xfs-heal"));
                c
            }
            None => Command::new(binary("xfs-heal")),
        };
        cmd.args(listen_args(&socket, uid, extra, mountpoint));
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(std::fs::File::create(&log).expect("log file"));
        let child = cmd.spawn().expect("spawn repairer");
        let mut r = Self { child, log, socket };
        r.wait_for_log("serving ");
        r
    }

    /// The same, under `strace`, so a test can count the ioctls that reached the kernel
    /// ([`Repairer::scrub_ioctls`]) rather than trust the repairer's own audit lines.
    pub fn start_traced(scratch: &Scratch, mountpoint: &Path, extra: &[&str]) -> Self {
        let trace = scratch.path("repairer.strace");
        let trace = trace.to_str().expect("path");
        Self::start_wrapped(
            scratch,
            mountpoint,
            &["strace", "-f", "-qq", "-e", "trace=ioctl", "-o", trace],
            0,
            extra,
        )
    }

    /// `XFS_IOC_SCRUB_METADATA` calls the kernel received from a [`Repairer::start_traced`]
    /// repairer so far (the startup probe included).
    /// Name lookups (`XFS_IOC_GETPARENTS_BY_HANDLE`, 'X' 63) that reached the kernel.
    pub fn getparents_ioctls(&self) -> usize {
        let trace = self.log.with_file_name("repairer.strace");
        let text = std::fs::read_to_string(trace).unwrap_or_default();
        text.lines().filter(|l| l.contains("ioctl(") && l.contains("0x58, 0x3f, 0x40)")).count()
    }

    pub fn scrub_ioctls(&self) -> usize {
        let trace = self.log.with_file_name("repairer.strace");
        let text = std::fs::read_to_string(trace).unwrap_or_default();
        // strace spells the request _IOC(_IOC_READ|_IOC_WRITE, 0x58, 0x3c, 0x40): 'X', 60, 64 bytes.
        text.lines().filter(|l| l.contains("ioctl(") && l.contains("0x58, 0x3c, 0x40)")).count()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 20 s) for a log line containing `needle`; panics with the log if the
    /// process exits or time runs out first.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.log_text();
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("repairer exited ({status}) before logging {needle:?}:\n{text}");
            }
            assert!(Instant::now() < deadline, "no {needle:?} in the repairer log:\n{text}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many log lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log_text().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits for the process to exit by itself (up to 20 s).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "repairer did not exit:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether something accepts on the Unix socket at `path` (a non-blocking connect: a full
/// backlog counts as accepting).
pub fn still_accepts(path: &Path) -> bool {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let Ok(probe) =
        socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None)
    else {
        return false;
    };
    let Ok(addr) = UnixAddr::new(path) else { return false };
    matches!(connect(probe.as_raw_fd(), &addr), Ok(()) | Err(nix::Error::EAGAIN | nix::Error::EINPROGRESS))
}

impl Drop for Repairer {
    fn drop(&mut self) {
        // Under a wrapper (strace, prlimit, env) the repairer is the wrapper's child: killed
        // first, or a traced one is detached and outlives the test, holding its loop mount.
        let id = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap_or_default();
        let children: Vec<i32> = children.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        for pid in &children {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Not ours to reap, and a traced one killed may linger in its exit stop with its fds
        // open: wait until nothing accepts on its socket any more, so a test that starts the
        // next repairer there does not find this one still listening (`xfs-heal listen` never
        // replaces a live socket).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !children.is_empty() && still_accepts(&self.socket) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A monitor-side connection made the way the protocol prescribes.
#[derive(Debug)]
pub struct Client {
    pub stream: UnixStream,
    pub hello: Hello,
    pub health: OwnedFd,
    /// Bytes read past the last whole message: replies to requests in flight together
    /// may arrive in one read.
    pending: Vec<u8>,
}

/// What a connection attempt got.
#[derive(Debug)]
pub enum Greeting {
    Served(Box<Client>),
    /// The repairer closed the connection without a Hello.
    Refused,
}

impl Client {
    /// Connects and receives `Hello` with exactly one fd.
    pub fn connect(socket: &Path) -> Greeting {
        let stream = UnixStream::connect(socket).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut buf = vec![0u8; codec::MAX_FRAME];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 2]);
        let (n, fds) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg =
                recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
                    .expect("recvmsg");
            assert!(!msg.flags.contains(MsgFlags::MSG_CTRUNC), "control message truncated");
            let mut fds = Vec::new();
            for c in msg.cmsgs().expect("cmsgs") {
                if let ControlMessageOwned::ScmRights(v) = c {
                    fds.extend(v.into_iter().map(sys::adopt_received_fd));
                }
            }
            (msg.bytes, fds)
        };
        if n == 0 {
            assert!(fds.is_empty());
            return Greeting::Refused;
        }
        assert_eq!(fds.len(), 1, "exactly one fd comes with Hello");
        let (msg, used) = codec::decode_frame::<RepairerToMonitor>(&buf[..n]).expect("Hello frame");
        assert_eq!(used, n, "Hello arrives alone");
        let RepairerToMonitor::Hello(hello) = msg else { panic!("first message is not Hello: {msg:?}") };
        let health = fds.into_iter().next().expect("one fd");
        Greeting::Served(Box::new(Self { stream, hello, health, pending: Vec::new() }))
    }

    /// Connects and expects to be served (a newer connection replaces the repairer's current
    /// one). Retries for a few seconds while the repairer refuses, so a test sees a refusal
    /// that lasts, not one caught mid-restart.
    pub fn served(socket: &Path) -> Self {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match Self::connect(socket) {
                Greeting::Served(c) => return *c,
                Greeting::Refused if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Greeting::Refused => panic!("the repairer at {} refused the connection", socket.display()),
            }
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends one request and waits for its reply.
    pub fn request(&mut self, request: RepairRequest) -> RepairReply {
        let frame = codec::encode(&MonitorToRepairer::Repair(request)).expect("encode");
        self.send_raw(&frame);
        match self.read_message() {
            Some(RepairerToMonitor::Reply(r)) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    /// Asks for the name of an inode and waits for the answer.
    pub fn lookup(
        &mut self,
        request: xfs_heal_protocol::names::LookupRequest,
    ) -> xfs_heal_protocol::names::LookupReply {
        let frame = codec::encode(&MonitorToRepairer::Lookup(request)).expect("encode");
        self.send_raw(&frame);
        match self.read_message() {
            Some(RepairerToMonitor::Named(r)) => r,
            other => panic!("expected names, got {other:?}"),
        }
    }

    /// Reads one message; `None` if the repairer closed the connection.
    pub fn read_message(&mut self) -> Option<RepairerToMonitor> {
        let buf = &mut self.pending;
        let mut chunk = [0u8; 4096];
        loop {
            match codec::decode_frame::<RepairerToMonitor>(buf) {
                Ok((m, used)) => {
                    buf.drain(..used);
                    return Some(m);
                }
                Err(CodecError::Incomplete { .. }) => {}
                Err(e) => panic!("bad frame from the repairer: {e}"),
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Reads `n` bytes from the health fd.
    pub fn read_health(&self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let got = nix::unistd::read(&self.health, &mut buf).expect("read health fd");
        buf.truncate(got);
        buf
    }
}

/// The user a monitor started as root by these tests switches to, and its uid.
pub const MONITOR_USER: &str = "nobody";
pub const MONITOR_UID: u32 = 65534;

/// A running monitor whose stdout and stderr go to files.
#[derive(Debug)]
pub struct Monitor {
    pub child: Child,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Monitor {
    /// Starts `xfs-heal-monitor --connect SOCKET [args] MOUNTPOINT` as root, which makes it
    /// switch to [`MONITOR_USER`] (`--user`) before it connects: serve [`MONITOR_UID`].
    pub fn start(scratch: &Scratch, socket: &Path, mountpoint: &Path, args: &[&str]) -> Self {
        let mut with_user = vec!["--user", MONITOR_USER];
        with_user.extend_from_slice(args);
        Self::start_as(scratch, socket, mountpoint, &with_user, None)
    }

    /// The same, as another uid.
    pub fn start_as(
        scratch: &Scratch,
        socket: &Path,
        mountpoint: &Path,
        args: &[&str],
        uid: Option<u32>,
    ) -> Self {
        Self::start_wrapped(scratch, socket, mountpoint, args, uid, &[])
    }

    /// The same, run through `wrapper` (a program and its arguments, before the monitor's).
    pub fn start_wrapped(
        scratch: &Scratch,
        socket: &Path,
        mountpoint: &Path,
        args: &[&str],
        uid: Option<u32>,
        wrapper: &[&str],
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let out = scratch.path("monitor.out");
        let err = scratch.path("monitor.err");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary("xfs-heal-monitor"));
                c
            }
            None => Command::new(binary("xfs-heal-monitor")),
        };
        cmd.arg("--connect").arg(socket).args(args);
        // Metrics go to a directory of the test's (the monitor's user's), never the host's.
        if !args.iter().any(|a| *a == "--no-metrics" || *a == "--metrics-dir") {
            let dir = scratch.path("metrics");
            if !dir.exists() {
                std::fs::create_dir(&dir).expect("metrics dir");
                let owner = uid.unwrap_or(MONITOR_UID);
                std::os::unix::fs::chown(&dir, Some(owner), Some(owner)).expect("chown metrics dir");
            }
            cmd.arg("--metrics-dir").arg(dir);
        }
        cmd.arg(mountpoint);
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"));
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        Self { child: cmd.spawn().expect("spawn monitor"), out, err }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.output().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits (up to `secs`) for a line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.output().lines().find(|l| l.contains(needle)) {
                return l.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = std::fs::read_to_string(&self.err).unwrap_or_default();
                panic!("monitor exited ({status}) before printing {needle:?}:\n{}\n{err}", self.output());
            }
            assert!(Instant::now() < deadline, "no {needle:?} from the monitor:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the monitor to exit by itself (up to `secs`).
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "monitor did not exit:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Now, in the kernel's event clock (ns since the epoch).
pub fn now_ns() -> u64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    u64::try_from(d.as_nanos()).expect("fits")
}

/// V0 records for events, as the kernel writes them.
pub fn v0(events: &[xfs_heal_monitor::HealthEvent]) -> Vec<u8> {
    events.iter().flat_map(xfs_heal_monitor::HealthEvent::to_v0_bytes).collect()
}

/// A new FIFO at `path` (root's, mode 0600), opened read-write as systemd's `ListenFIFO=`
/// opens one: opening never waits for a peer, and the holder can write and read it.
/// `nonblocking` as systemd does; blocking for a test that writes events into it.
pub fn fifo(path: &Path, nonblocking: bool) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let flags = if nonblocking { libc::O_NONBLOCK } else { 0 };
    std::fs::OpenOptions::new().read(true).write(true).custom_flags(flags).open(path).expect("open FIFO")
}

/// `--events-from PATH` (an option of `xfs-heal listen`) apart from the repairer's options.
pub fn split_events_from<'a>(args: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut launcher, mut repairer) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(&arg) = it.next() {
        if arg == "--events-from" {
            launcher.push(arg);
            launcher.extend(it.next());
        } else {
            repairer.push(arg);
        }
    }
    (launcher, repairer)
}

/// What follows `xfs-heal` to start a repairer by hand: `listen --group UID
/// [--events-from PATH] SOCKET -- xfs-heal-repairer --monitor-uid UID [ARGS] MOUNTPOINT`,
/// `--events-from` taken out of `args` for the launcher.
pub fn listen_args(socket: &Path, uid: u32, args: &[&str], mountpoint: &Path) -> Vec<std::ffi::OsString> {
    let (launcher, repairer) = split_events_from(args);
    let mut all: Vec<std::ffi::OsString> = vec!["listen".into(), "--group".into(), uid.to_string().into()];
    all.extend(launcher.iter().map(Into::into));
    all.extend([socket.into(), "--".into(), binary("xfs-heal-repairer").into()]);
    all.extend(["--monitor-uid".into(), uid.to_string().into()]);
    all.extend(repairer.iter().map(Into::into));
    all.push(mountpoint.into());
    all
}

/// The command that starts a repairer by hand ([`listen_args`]).
pub fn repairer_command(socket: &Path, uid: u32, args: &[&str], mountpoint: &Path) -> Command {
    let mut cmd = Command::new(binary("xfs-heal"));
    cmd.args(listen_args(socket, uid, args, mountpoint));
    cmd
}
