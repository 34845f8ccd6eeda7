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

use xfs_heal_protocol::journal::Entry;

/// One log line: a journal entry when stderr is the journal (see `systemd::connect_journal`),
/// else one line on stderr, written with a single write(2) so concurrent writers never
/// interleave.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log_entry($crate::Priority::Info, &format!($($arg)*), |entry| entry)
    };
}

pub use xfs_heal_protocol::journal::Priority;

/// Logs `message` at `priority`; under the journal, with the fields `fields` adds.
pub fn log_entry(priority: Priority, message: &str, fields: impl FnOnce(Entry) -> Entry) {
    if !systemd::journal_send(|| fields(Entry::new("xfs-heal-repairer", priority, message))) {
        use std::io::Write;
        // Nowhere to report a failure to report; the process carries on.
        let _ = std::io::stderr().lock().write_all(format!("xfs-heal-repairer: {message}\n").as_bytes());
    }
}
