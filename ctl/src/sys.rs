//! The unsafe calls of `xfs-heal`: placing fds at fixed numbers for `xfs-heal listen`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg};

/// Leaves `fds` open at `first`, `first + 1`, ..., inheritable across exec, for the command
/// `xfs-heal listen` runs, and closes the originals.
pub fn place_from(first: RawFd, fds: Vec<OwnedFd>) -> io::Result<()> {
    // Copies above the target range first, so that placing one never closes another.
    let above = first + RawFd::try_from(fds.len()).unwrap_or(RawFd::MAX - first);
    let mut high = Vec::new();
    for fd in &fds {
        let copy = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(above))?;
        // SAFETY: fcntl has just made `copy`; nothing else in this process knows it.
        high.push(unsafe { OwnedFd::from_raw_fd(copy) });
    }
    drop(fds);
    for (target, fd) in (first..).zip(&high) {
        // SAFETY: every fd this process owns is now above the target range (the originals
        // are closed), so nothing owns `target`; whatever an invoker left open there would
        // otherwise leak into the command, and is replaced.
        let placed = unsafe { nix::unistd::dup2_raw(fd.as_fd(), target) }?;
        // Left open on purpose: the command takes it over.
        let _ = placed.into_raw_fd();
    }
    Ok(())
}
