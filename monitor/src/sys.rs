//! Every unsafe call of the monitor, one per block, each with its reason.
#![allow(unsafe_code)]

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use xfs_heal_protocol::uapi::{XfsHealthMonitor, XFS_IOC_HEALTH_MONITOR};

/// Why a Hello could not be accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ReceiveError {
    Closed,
    Io(nix::errno::Errno),
    /// The control data did not fit: something other than one fd was attached.
    ControlTruncated,
    /// Not exactly one SCM_RIGHTS message carrying exactly one fd.
    WrongFds(String),
}

impl std::fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("the repairer closed the connection before its Hello"),
            Self::Io(e) => write!(f, "cannot receive the Hello: {e}"),
            Self::ControlTruncated => f.write_str("the Hello's control data was truncated (MSG_CTRUNC)"),
            Self::WrongFds(why) => write!(f, "the Hello must carry exactly one fd: {why}"),
        }
    }
}

fn adopt(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was installed in this process by the kernel for this recvmsg call (with
    // MSG_CMSG_CLOEXEC) and is owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Receives the Hello frame's bytes into `buf` and the one fd that must come with it.
/// Every received fd is owned (and so closed) even when the shape is wrong.
pub fn receive_hello(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, OwnedFd), ReceiveError> {
    // Room for two fds, so that a second one is seen and refused rather than truncated away.
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(buf)];
    let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags).map_err(ReceiveError::Io)?;
    let mut rights: Vec<Vec<OwnedFd>> = Vec::new();
    let mut other = 0;
    for cmsg in msg.cmsgs().map_err(ReceiveError::Io)? {
        match cmsg {
            ControlMessageOwned::ScmRights(fds) => rights.push(fds.into_iter().map(adopt).collect()),
            _ => other += 1,
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(ReceiveError::ControlTruncated);
    }
    let bytes = msg.bytes;
    if bytes == 0 && rights.is_empty() {
        return Err(ReceiveError::Closed);
    }
    match (rights.len(), other) {
        (1, 0) if rights[0].len() == 1 => Ok((bytes, rights.remove(0).remove(0))),
        (n, o) => Err(ReceiveError::WrongFds(format!(
            "{n} SCM_RIGHTS messages carrying {} fds, {o} other control messages",
            rights.iter().map(Vec::len).sum::<usize>()
        ))),
    }
}

/// `XFS_IOC_HEALTH_MONITOR` on a monitor fd: switch verbose reporting (no privilege needed).
pub fn reconfigure_monitor(monitor: BorrowedFd<'_>, verbose: bool) -> std::io::Result<()> {
    let arg = XfsHealthMonitor::v0(verbose);
    // SAFETY: the request number encodes the 32-byte XfsHealthMonitor (pinned by the uapi
    // layout tests); the kernel only reads `arg`.
    let ret = unsafe {
        libc::ioctl(monitor.as_raw_fd(), XFS_IOC_HEALTH_MONITOR as _, &arg as *const XfsHealthMonitor)
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The (device, inode) of the object `fd` refers to: tells a re-sent health fd that is the
/// same queue from a new one. Calls the `fstat` syscall itself rather than through libc:
/// glibc 2.36 (Debian 12) implements fstat with newfstatat and glibc 2.41 (sid) with fstat,
/// and the seccomp table must name the one this binary makes wherever it runs.
pub fn fd_identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    fd_stat(fd).map(|st| (st.st_dev, st.st_ino))
}

/// Is `fd` a FIFO (what systemd's `ListenFIFO=` passes)?
pub fn is_fifo(fd: BorrowedFd<'_>) -> bool {
    fd_stat(fd).is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

fn fd_stat(fd: BorrowedFd<'_>) -> Option<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes at most one `struct stat` into `st`, which has room for it.
    let ret = unsafe { libc::syscall(libc::SYS_fstat, fd.as_raw_fd(), st.as_mut_ptr()) };
    if ret != 0 {
        return None;
    }
    // SAFETY: the syscall succeeded, so the kernel filled in the whole struct (and it was
    // zeroed before, so even padding is initialised).
    Some(unsafe { st.assume_init() })
}

/// The `count` fds systemd passed from fd 3 on (LISTEN_FDS, after `host::listen_fd_names`
/// checked LISTEN_PID), owned. Adopts them once per process: a second call gets none.
pub fn adopt_listen_fds(count: usize) -> Vec<OwnedFd> {
    static ADOPTED: std::sync::Once = std::sync::Once::new();
    let mut fds = Vec::new();
    ADOPTED.call_once(|| {
        // SAFETY: systemd opened these for this process, from fd 3 up, and nothing has
        // adopted them yet (the Once makes this the only time).
        fds = (3..).take(count).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
    });
    fds
}
