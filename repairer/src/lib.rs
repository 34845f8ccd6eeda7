//! xfs-heal-repairer: the privileged half of xfs-heal. Read it in the order of
//! ARCHITECTURE.md: `main.rs`, `mount.rs`, `sandbox.rs`, `seccomp.rs`, `serve.rs`, `sys.rs`.
//!
//! It is a library only so that tests and the sandbox probe can reach the same code the
//! binary runs.

pub mod error;
pub mod mount;
pub mod sandbox;
pub mod seccomp;
pub mod serve;
pub mod sys;
pub mod systemd;

/// One log line on stderr (the journal, under systemd), written with a single write(2)
/// so lines from concurrent writers never interleave.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::write_log_line(format!("xfs-heal-repairer: {}\n", format_args!($($arg)*)))
    };
}

#[doc(hidden)]
pub fn write_log_line(line: String) {
    use std::io::Write;
    // Nowhere to report a failure to report; the process carries on.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
