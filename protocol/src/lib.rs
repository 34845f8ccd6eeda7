//! xfs-heal's shared vocabulary.
//!
//! - [`uapi`]: the XFS kernel ABI (ioctl numbers, `repr(C)` argument and record layouts, every
//!   constant), as plain data with layout tests.
//! - [`scrub`]: validated repair targets: a scrub type can only be held by the scope it is
//!   legal for, group numbers are never the null value, inode numbers are never zero.
//! - [`message`]: `Hello`, `RepairRequest`, `RepairReply` and the two direction enums.
//! - [`codec`]: the size-capped, versioned bincode framing.
//! - [`journal`]: journal entries with the structured fields both daemons log under systemd.
//! - [`host`]: mountinfo and systemd's LISTEN_FDS, parsed for the repairer's startup.
//! - [`defects`]: known kernel defects an online repair can trigger, and what they forbid.
//! - [`throttle`]: the repairer's rate limits on requests and log lines.
//! - [`fullcheck`]: the full online check's unit name and the notices of its hooks.
//! - [`fstab`]: the fstab entries the generator covers, and systemd's unit-name escaping.
//! - [`names`]: an inode's path from its parent pointers, for reports, and its escaping.
//!
//! This crate performs no I/O and forbids `unsafe_code`; it is linked into both the
//! privileged repairer and the unprivileged monitor, so both sides agree by construction.
#![forbid(unsafe_code)]

pub mod codec;
pub mod defects;
pub mod escape;
pub mod fstab;
pub mod fullcheck;
pub mod host;
pub mod journal;
pub mod message;
pub mod metrics;
pub mod names;
pub mod scrub;
pub mod strerror;
pub mod throttle;
pub mod uapi;

pub use codec::{CodecError, PROTOCOL_VERSION};
pub use message::*;
pub use scrub::*;
