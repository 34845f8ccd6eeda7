//! xfs-heal-monitor: the unprivileged half of xfs-heal.
//!
//! The monitor holds no capability and no filesystem access but one directory, where it
//! writes its metrics ([`metrics`]). It decodes the kernel's health events ([`decode`]),
//! reports them ([`report`]), decides what to repair ([`policy`]) and asks the repairer to do
//! it.
#![deny(unsafe_code)]

pub mod cli;
pub mod client;
pub mod decode;
pub mod domains;
pub mod engine;
pub mod error;
pub mod event;
pub mod fullcheck;
pub mod journal;
pub mod live;
pub mod metrics;
pub mod names;
pub mod policy;
pub mod replay;
pub mod report;
pub mod sandbox;
pub mod sys;

pub use event::HealthEvent;
