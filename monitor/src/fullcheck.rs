//! The full online check's trigger, as systemd hands it over: the two FIFOs of
//! `xfs-heal-full-check@.socket` (`ListenFIFO=`, root's, mode 0600, named `full-check` in
//! `LISTEN_FDNAMES`), passed because the monitor's unit lists that socket in `Sockets=`.
//!
//! - The first is the request FIFO: a path unit watches it (`PathModified=`) and starts
//!   `xfs_scrub@INSTANCE.service` when it is written. The monitor writes one line, then
//!   reads it back, so the FIFO stays empty and systemd does not take the line for a
//!   connection to activate the monitor with.
//! - The second carries the notices of xfs-heal's hooks in `xfs_scrub@.service`.
//!
//! The monitor can reach neither path (its unit hides `/run/xfs-heal` but for its own
//! socket, and Landlock denies every file): only these fds. No new syscall is needed: the
//! FIFOs are read and written like the health fd.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use xfs_heal_protocol::fullcheck::{Notice, NoticeError, NoticeReader, FD_NAME, REQUEST_LINE};
use xfs_heal_protocol::host;

use crate::sys;

/// The two FIFOs.
#[derive(Debug)]
pub struct Trigger {
    request: OwnedFd,
    notices: OwnedFd,
    reader: NoticeReader,
}

/// Why the fds systemd passed are not a trigger. The monitor carries on without one.
#[derive(Debug)]
pub enum TriggerError {
    ListenFds(host::ListenFdsError),
    /// Other names or another number of fds than the socket unit passes.
    Names(String),
    /// A passed fd is not a FIFO.
    NotFifo(usize),
    NonBlocking(nix::Error),
}

impl std::fmt::Display for TriggerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ListenFds(e) => write!(f, "{e}"),
            Self::Names(names) => {
                write!(f, "LISTEN_FDNAMES is {names}, not two fds named {FD_NAME} (its socket unit's FIFOs)")
            }
            Self::NotFifo(i) => write!(f, "passed fd {} is not a FIFO", i + 3),
            Self::NonBlocking(e) => write!(f, "cannot make the FIFOs non-blocking: {e}"),
        }
    }
}

impl Trigger {
    /// The trigger systemd passed, if any. Adopts (and so closes, on error) every passed fd.
    pub fn from_systemd() -> Result<Option<Self>, TriggerError> {
        let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
        let names =
            host::listen_fd_names(pid.as_deref(), fds.as_deref(), names.as_deref(), std::process::id())
                .map_err(TriggerError::ListenFds)?;
        let owned = sys::adopt_listen_fds(names.len());
        if names.is_empty() {
            return Ok(None);
        }
        if names != [FD_NAME, FD_NAME] {
            return Err(TriggerError::Names(names.join(":")));
        }
        if let Some(i) = owned.iter().position(|fd| !sys::is_fifo(fd.as_fd())) {
            return Err(TriggerError::NotFifo(i));
        }
        let mut owned = owned.into_iter();
        let (Some(request), Some(notices)) = (owned.next(), owned.next()) else {
            return Err(TriggerError::Names(names.join(":")));
        };
        for fd in [&request, &notices] {
            crate::live::set_nonblocking(fd).map_err(TriggerError::NonBlocking)?;
        }
        Ok(Some(Self::new(request, notices)))
    }

    /// A trigger on two FIFOs opened by someone else (tests).
    pub fn new(request: OwnedFd, notices: OwnedFd) -> Self {
        Self { request, notices, reader: NoticeReader::new() }
    }

    /// The fd to poll for notices.
    pub fn notices_fd(&self) -> BorrowedFd<'_> {
        self.notices.as_fd()
    }

    /// Asks for the check: one write (the path unit's trigger), then the line read back.
    pub fn request(&self) -> Result<(), Errno> {
        let n = nix::unistd::write(&self.request, REQUEST_LINE)?;
        let mut buf = [0u8; 512];
        // Empty it again, whatever was left in it: nothing else reads this FIFO.
        while let Ok(1..) = nix::unistd::read(self.request.as_fd(), &mut buf) {}
        if n == REQUEST_LINE.len() {
            Ok(())
        } else {
            Err(Errno::EAGAIN)
        }
    }

    /// Reads what the hooks wrote; `each` gets every complete line. Err when the FIFO failed.
    pub fn read_notices(&mut self, mut each: impl FnMut(Result<Notice, NoticeError>)) -> Result<(), Errno> {
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(self.notices.as_fd(), &mut buf) {
                // Never EOF while we hold a read-write fd; treat it as drained.
                Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
                Ok(n) => self.reader.feed(&buf[..n], &mut each),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
