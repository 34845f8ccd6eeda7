//! Every unsafe call of the repairer, one per block, each with its reason.
//!
//! The structs passed to the kernel come from `xfs_heal_protocol::uapi`, whose layouts are
//! pinned by tests; the ioctl request numbers are computed there from the same structs.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use xfs_heal_protocol::uapi::*;

/// `AT_HANDLE_MNT_ID_UNIQUE` (Linux 6.12): report the 64-bit unique mount ID.
const AT_HANDLE_MNT_ID_UNIQUE: libc::c_int = 0x001;
/// Room for the file handle bytes; XFS needs at most 16.
const HANDLE_ROOM: usize = 128;
const HANDLE_ROOM_C: libc::c_uint = 128;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    (ret >= 0).then_some(ret).ok_or_else(io::Error::last_os_error)
}

/// Closes every fd from `first` up, so nothing inherited leaks into the sealed process.
pub fn close_fds_from(first: RawFd) -> io::Result<()> {
    let first = libc::c_uint::try_from(first).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: close_range takes plain integers; closing fds this process owns cannot violate
    // memory safety because no Rust object owns an fd >= `first` at this point of startup.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    (ret == 0).then_some(()).ok_or_else(io::Error::last_os_error)
}

/// The `count` fds systemd passed from `first` on (LISTEN_FDS, after `host::listen_fds_plan`
/// checked LISTEN_PID), owned. Adopts them once per process: a second call gets none.
pub fn adopt_listen_fds(first: RawFd, count: usize) -> Vec<OwnedFd> {
    static ADOPTED: std::sync::Once = std::sync::Once::new();
    let mut fds = Vec::new();
    ADOPTED.call_once(|| {
        // SAFETY: systemd opened these for this process, and nothing has adopted them yet:
        // this runs once.
        fds = (first..).take(count).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
    });
    fds
}

/// One malloc arena for every thread: glibc maps a new arena with mprotect, which the
/// sealed process may not call. Set before the workers start; musl has one arena already.
#[cfg(target_env = "gnu")]
pub fn one_malloc_arena() -> io::Result<()> {
    // SAFETY: mallopt takes two integers and changes only the allocator's tuning.
    let set = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } == 1;
    set.then_some(()).ok_or_else(|| io::Error::other("mallopt(M_ARENA_MAX, 1) refused"))
}

/// `accept4(2)` returning an owned, non-blocking, close-on-exec connection.
pub fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    use nix::sys::socket::{accept4, SockFlag};
    let fd = accept4(listener.as_raw_fd(), SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC)?;
    // SAFETY: `fd` was just returned by accept4 and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// sendmsg(2) of `bytes` with a copy of `fd` attached (SCM_RIGHTS), never raising SIGPIPE:
/// the Hello to a monitor, the health fd to systemd's fd store. Returns the bytes sent.
pub fn send_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<usize> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let (fds, iov) = ([fd.as_raw_fd()], [io::IoSlice::new(bytes)]);
    let cmsg = [ControlMessage::ScmRights(&fds)];
    Ok(sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)?)
}

/// Reads an extended attribute into `buf`; returns its length.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `name` is NUL-terminated and `buf` is valid for writes of `buf.len()` bytes.
    let n = unsafe { libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `XFS_IOC_FSGEOMETRY`: the filesystem's shape.
pub fn fs_geometry(fd: BorrowedFd<'_>) -> io::Result<XfsFsopGeom> {
    let mut geom = XfsFsopGeom::zeroed();
    // SAFETY: the request number encodes size_of::<XfsFsopGeom>() (pinned at 256 bytes by the
    // uapi layout tests) and `geom` is a valid, writable value of that type.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), XFS_IOC_FSGEOMETRY as _, &mut geom) })?;
    Ok(geom)
}

/// `XFS_IOC_SCRUB_METADATA`: the one repair call. The kernel writes output flags back.
pub fn scrub_metadata(fd: BorrowedFd<'_>, sm: &mut XfsScrubMetadata) -> io::Result<()> {
    // SAFETY: the request number encodes the 64-byte XfsScrubMetadata (pinned by layout
    // tests); `sm` is valid for reads and writes of that size.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), XFS_IOC_SCRUB_METADATA as _, sm as *mut XfsScrubMetadata) })
        .map(drop)
}

/// `XFS_IOC_GETPARENTS_BY_HANDLE`: the first batch of parent records of the inode `h` names,
/// into `buf`. Returns the output flags and the bytes written.
pub fn getparents(fd: BorrowedFd<'_>, h: &XfsHandle, buf: &mut [u8]) -> io::Result<(u16, usize)> {
    let mut arg = XfsGetparentsByHandle::first_batch(*h, buf);
    // SAFETY: the request number encodes the 64-byte struct (pinned by layout tests); the
    // kernel writes at most gp_bufsize bytes at gp_buffer, which is `buf`, alive and
    // exclusively borrowed for the whole call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), XFS_IOC_GETPARENTS_BY_HANDLE as _, &raw mut arg) })?;
    Ok(arg.written())
}

/// `XFS_IOC_HEALTH_MONITOR` on the filesystem root: a new monitor fd.
pub fn open_health_monitor(root: BorrowedFd<'_>, arg: &XfsHealthMonitor) -> io::Result<OwnedFd> {
    // SAFETY: the request number encodes the 32-byte XfsHealthMonitor and the kernel only
    // reads `arg`; the return value is a new fd or -1.
    let fd = check(unsafe {
        libc::ioctl(root.as_raw_fd(), XFS_IOC_HEALTH_MONITOR as _, arg as *const XfsHealthMonitor)
    })?;
    // SAFETY: the kernel just created `fd` for this process; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `XFS_IOC_HEALTH_FD_ON_MONITORED_FS`: is `fd` on the superblock `monitor` watches?
pub fn fd_on_monitored_fs(monitor: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let arg = XfsHealthFileOnMonitoredFs { fd: fd.as_raw_fd(), flags: 0 };
    // SAFETY: the request number encodes the 8-byte struct; the kernel only reads `arg`.
    check(unsafe {
        libc::ioctl(
            monitor.as_raw_fd(),
            XFS_IOC_HEALTH_FD_ON_MONITORED_FS as _,
            &arg as *const XfsHealthFileOnMonitoredFs,
        )
    })
    .map(drop)
}

/// The kernel's handle for the file `fd` refers to, and its mount's ID.
#[derive(Debug)]
pub struct NamedHandle {
    pub handle_type: i32,
    pub bytes: Vec<u8>,
    pub mount_id: u64,
}

#[repr(C)]
struct FileHandle {
    handle_bytes: libc::c_uint,
    handle_type: libc::c_int,
    f_handle: [u8; HANDLE_ROOM],
}

/// `name_to_handle_at(fd, "", AT_EMPTY_PATH | AT_HANDLE_MNT_ID_UNIQUE)`: the handle and the
/// 64-bit unique mount ID, which the kernel never reuses while the system runs.
pub fn name_to_handle(fd: BorrowedFd<'_>) -> io::Result<NamedHandle> {
    let mut fh = FileHandle { handle_bytes: HANDLE_ROOM_C, handle_type: 0, f_handle: [0; HANDLE_ROOM] };
    let mut mount_id: u64 = 0;
    // SAFETY: `fh` starts with the kernel's `struct file_handle` header and has room for
    // `handle_bytes` bytes after it; `mount_id` is the 8 writable bytes the unique form
    // writes; the empty path is a NUL-terminated string.
    check(unsafe {
        libc::name_to_handle_at(
            fd.as_raw_fd(),
            c"".as_ptr(),
            (&mut fh as *mut FileHandle).cast(),
            (&mut mount_id as *mut u64).cast(),
            libc::AT_EMPTY_PATH | AT_HANDLE_MNT_ID_UNIQUE,
        )
    })?;
    let len = usize::try_from(fh.handle_bytes).unwrap_or(HANDLE_ROOM).min(HANDLE_ROOM);
    Ok(NamedHandle { handle_type: fh.handle_type, bytes: fh.f_handle[..len].to_vec(), mount_id })
}
