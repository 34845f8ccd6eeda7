//! `xfs-heal`, the operator's command: everything an operator or a unit runs by hand, kept
//! out of the sealed repairer. `status` shows every protected mount from the metrics files;
//! `supported` is the units' `ExecCondition=`; `listen` starts a repairer by hand the way its
//! socket unit does.

pub mod cli;
pub mod listen;
pub mod status;
pub mod supported;
mod sys;
