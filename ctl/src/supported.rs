//! `xfs-heal supported MOUNTPOINT`, the units' `ExecCondition=`: the repairer's startup steps
//! 2 to 4 without serving, then xfs_healer's exit codes (0 the service can run here, 1 it
//! cannot, 255 something is wrong).

use std::path::Path;

use xfs_heal_repairer::error::Error;
use xfs_heal_repairer::mount;

/// Why a filesystem is not served, or cannot be judged.
#[derive(Debug, thiserror::Error)]
pub enum Verdict {
    /// A repairer startup step failed.
    #[error(transparent)]
    Step(#[from] Error),
    #[error("step 3 (autofsck): {0}")]
    StandsDown(&'static str),
}

/// The exit code and the one-line verdict for `mountpoint`.
pub fn check(mountpoint: &Path) -> (u8, String) {
    match servable(mountpoint) {
        Ok(()) => (0, "supported".to_owned()),
        Err(
            e
            @ (Verdict::StandsDown(_) | Verdict::Step(Error::NotXfs { .. } | Error::NoHealthMonitor { .. })),
        ) => (1, format!("not served: {e}")),
        Err(e) => (255, format!("cannot tell whether it can be served: {e}")),
    }
}

fn servable(mountpoint: &Path) -> Result<(), Verdict> {
    let (root, _) = mount::open_checked(mountpoint, false)?;
    let recorded = mount::record(&root)?;
    if let Some(why) = recorded.autofsck.stands_down(&recorded.geometry) {
        return Err(Verdict::StandsDown(why));
    }
    match mount::open_health(&root, mountpoint) {
        // Taken: by the repairer serving it (or systemd's fd store holding it), as a rule.
        Ok(_) | Err(Error::MonitorAlreadyAttached { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
