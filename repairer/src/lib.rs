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
pub mod workers;

use xfs_heal_protocol::journal::{Drops, Entry};

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
pub static DROPS: Drops = Drops::new();

/// Logs `message` at `priority`; under the journal, with the fields `fields` adds.
///
/// Both outputs are non-blocking (step 1): a reader that falls behind costs log lines, never
/// an answer to the monitor. A dropped line is counted; the count is written before the next
/// line that gets through, and shown in systemd's STATUS=.
pub fn log_entry(priority: Priority, message: &str, fields: impl FnOnce(Entry) -> Entry) {
    if let Some((line, n)) = DROPS.take_warning() {
        if !emit(Priority::Warning, &line, |e| Drops::fields(e, n)) {
            DROPS.restore(n);
        }
    }
    if !emit(priority, message, fields) {
        DROPS.dropped();
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
