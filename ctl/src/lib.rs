//! `xfs-heal`, the operator's command: everything an operator or a unit runs by hand, kept
//! out of the sealed repairer. `status` shows every protected mount from the metrics files;
//! `supported` is the units' `ExecCondition=`; `listen` starts a repairer by hand the way its
//! socket unit does; `metrics-link` and `metrics-unlink` show a mount's metrics file to
//! node_exporter around its monitor's run.

pub mod cli;
pub mod listen;
pub mod status;
pub mod supported;
mod sys;
pub mod textfile;
