//! The test helpers' only unsafe code.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of an fd received with SCM_RIGHTS.
pub fn adopt_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `fd` in this process for this recvmsg call alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Makes raw syscall `nr` with harmless arguments: -1 where an fd goes, `arg1` second.
pub fn raw_syscall(nr: i64, arg0: i64, arg1: i64) -> i64 {
    // SAFETY: every argument is an integer; pointer arguments are 0 or -1 with zero lengths,
    // so the kernel rejects them (EBADF, EFAULT, EINVAL) before touching memory.
    unsafe { libc::syscall(nr, arg0, arg1, 0, 0, 0, 0) }
}
