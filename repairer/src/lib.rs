//! xfs-heal-repairer: the privileged half of xfs-heal. Read it in the order of
//! ARCHITECTURE.md: `main.rs`, `mount.rs`, `sandbox.rs`, `seccomp.rs`, `serve.rs`, `sys.rs`.
//!
//! It is a library only so that tests and the sandbox probe can reach the same code the
//! binary runs.

pub mod cli;
pub mod error;
pub mod mount;
pub mod sandbox;
pub mod seccomp;
pub mod serve;
pub mod sys;
pub mod systemd;

use std::sync::atomic::{AtomicU64, Ordering};

use xfs_heal_protocol::journal::Entry;

/// One log line: a journal entry when stderr is the journal (see `systemd::connect_journal`),
/// else one line on stderr, written with a single write(2) so concurrent writers never
/// interleave. Never blocks: see [`log_entry`].
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log_entry($crate::Priority::Info, &format!($($arg)*), |entry| entry)
    };
}

pub use xfs_heal_protocol::journal::Priority;

/// Log lines that could not be written since startup, because the reader fell behind.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Logs `message` at `priority`; under the journal, with the fields `fields` adds.
///
/// Both outputs are non-blocking (step 1): a reader that falls behind costs log lines, never
/// an answer to the monitor. A dropped line is counted; the count is written before the next
/// line that gets through, and shown in systemd's STATUS=.
pub fn log_entry(priority: Priority, message: &str, fields: impl FnOnce(Entry) -> Entry) {
    static UNREPORTED: AtomicU64 = AtomicU64::new(0);
    let unreported = UNREPORTED.swap(0, Ordering::Relaxed);
    if unreported > 0 {
        let line = format!("{unreported} log lines were dropped: the log was not read fast enough");
        if !emit(Priority::Warning, &line, |e| e.field("kind", "log_dropped").field("dropped", unreported)) {
            UNREPORTED.fetch_add(unreported, Ordering::Relaxed);
        }
    }
    if !emit(priority, message, fields) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        UNREPORTED.fetch_add(1, Ordering::Relaxed);
    }
}

fn emit(priority: Priority, message: &str, fields: impl FnOnce(Entry) -> Entry) -> bool {
    systemd::journal_send(|| fields(Entry::new("xfs-heal-repairer", priority, message)))
        || nix::unistd::write(std::io::stderr(), format!("xfs-heal-repairer: {message}\n").as_bytes()).is_ok()
}

/// Step 1: makes stderr non-blocking without changing an open file description that other
/// processes may share: a pipe, FIFO or terminal is reopened as a description of our own. A
/// socket cannot be reopened (under systemd it is the journal stream, ours alone) and is
/// switched over; a regular file never blocks.
pub fn nonblocking_stderr() -> nix::Result<()> {
    use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    match open("/proc/self/fd/2", flags, nix::sys::stat::Mode::empty()) {
        Ok(own) => nix::unistd::dup2_stderr(own),
        Err(_) => {
            let flags = OFlag::from_bits_truncate(fcntl(std::io::stderr(), FcntlArg::F_GETFL)?);
            fcntl(std::io::stderr(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
        }
    }
}
