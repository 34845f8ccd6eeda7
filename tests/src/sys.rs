//! The test helpers' only unsafe code.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of an fd received with SCM_RIGHTS.
pub fn adopt_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `fd` in this process for this recvmsg call alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Makes raw syscall `nr` with harmless arguments: -1 where an fd goes, `arg1` and `arg2`
/// next.
pub fn raw_syscall(nr: i64, arg0: i64, arg1: i64, arg2: i64) -> i64 {
    // SAFETY: every argument is an integer; pointer arguments are 0 or -1 with zero lengths,
    // so the kernel rejects them (EBADF, EFAULT, EINVAL) before touching memory.
    unsafe { libc::syscall(nr, arg0, arg1, arg2, 0, 0, 0) }
}

/// Makes `cmd`'s child receive `fds` as fds 3, 4, ... (how systemd passes LISTEN_FDS).
pub fn pass_fds_from_3(cmd: &mut std::process::Command, fds: Vec<OwnedFd>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let targets: Vec<RawFd> = (3..).take(raw.len()).collect();
    // Runs in the forked child before exec: only async-signal-safe calls, no allocation.
    let place = move || {
        let _keep_open_until_spawned = &fds;
        // First move every source above every target, so no dup2 overwrites a later source.
        let mut moved = [0 as RawFd; 16];
        for (slot, fd) in moved.iter_mut().zip(&raw) {
            // SAFETY: fcntl(F_DUPFD) on an fd the parent keeps open only creates a new fd.
            *slot = unsafe { libc::fcntl(*fd, libc::F_DUPFD, 100) };
            if *slot < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        for (fd, target) in moved.iter().zip(&targets) {
            // SAFETY: dup2 between plain fd numbers; the child owns no Rust object on `target`.
            if unsafe { libc::dup2(*fd, *target) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: `place` makes only async-signal-safe calls (fcntl, dup2) and does not allocate.
    unsafe {
        cmd.pre_exec(place);
    }
}

/// Sets extended attribute `name` (e.g. "trusted.xfs:autofsck", the fs property) on `path`.
pub fn set_xattr(path: &std::path::Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let name = std::ffi::CString::new(name)?;
    // SAFETY: both strings are NUL-terminated and live across the call; the value pointer
    // and length describe one borrowed slice.
    let ret = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
