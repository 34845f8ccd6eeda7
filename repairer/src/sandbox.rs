//! Steps 6, 7 and 9: give up every privilege the serving loop does not need, in an order where
//! each step still has what it needs (dropping capabilities needs CAP_SETPCAP; Landlock and
//! seccomp need no_new_privs; seccomp comes last so its list need not allow the sandbox's
//! own syscalls).

use std::path::Path;

use caps::{CapSet, Capability, CapsHashSet};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, PathBeneath, PathFd, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};

use crate::error::Error;

/// The only capability the serving loop uses: XFS_IOC_SCRUB_METADATA checks it.
pub const KEPT_CAPABILITY: Capability = Capability::CAP_SYS_ADMIN;

/// Step 6: CAP_SYS_ADMIN alone in the bounding, permitted and effective sets; nothing
/// inheritable or ambient; no_new_privs, so nothing exec'd could regain more.
pub fn drop_capabilities() -> Result<(), Error> {
    let err = Error::Capabilities;
    let kept: CapsHashSet = [KEPT_CAPABILITY].into_iter().collect();
    if !caps::has_cap(None, CapSet::Permitted, KEPT_CAPABILITY).map_err(err)? {
        return Err(Error::NotPrivileged);
    }
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. Under
    // systemd (CapabilityBoundingSet=CAP_SYS_ADMIN) there is nothing left to drop, and no
    // CAP_SETPCAP to drop it with: only what is still there is dropped.
    for cap in caps::runtime::thread_all_supported() {
        if cap != KEPT_CAPABILITY && caps::has_cap(None, CapSet::Bounding, cap).map_err(err)? {
            caps::drop(None, CapSet::Bounding, cap).map_err(err)?;
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(err)?;
    caps::clear(None, CapSet::Inheritable).map_err(err)?;
    caps::set(None, CapSet::Effective, &kept).map_err(err)?;
    caps::set(None, CapSet::Permitted, &kept).map_err(err)?;
    nix::sys::prctl::set_no_new_privs().map_err(Error::NoNewPrivs)
}

/// The Landlock ABI this ruleset was written and tested against.
pub const LANDLOCK_ABI: ABI = ABI::V7;

/// Every filesystem access right the ruleset takes control of (all of them at this ABI).
pub fn handled_fs() -> BitFlags<AccessFs> {
    AccessFs::from_all(LANDLOCK_ABI)
}

/// What remains allowed beneath the mount point: listing it, i.e. opening it as a
/// directory, which is all a reopen for a repair needs. No file can be read or written.
pub fn allowed_beneath_mount() -> BitFlags<AccessFs> {
    AccessFs::ReadDir.into()
}

/// Step 7: deny all filesystem and TCP access except reopening the mount point; scope
/// abstract Unix sockets and signals to the sandbox. Best effort: an older kernel enforces
/// what it knows, and the returned status says how much that was.
pub fn landlock(mountpoint: &Path) -> Result<RestrictionStatus, Error> {
    let mount = PathFd::new(mountpoint).map_err(Error::LandlockPath)?;
    let (net, scopes) = (AccessNet::from_all(LANDLOCK_ABI), Scope::from_all(LANDLOCK_ABI));
    let ruleset = Ruleset::default().handle_access(handled_fs())?.handle_access(net)?.scope(scopes)?;
    let rule = PathBeneath::new(mount, allowed_beneath_mount());
    Ok(ruleset.create()?.add_rule(rule)?.restrict_self()?)
}

/// Step 8: load the allow-list of `seccomp.rs`; from here on any other syscall kills.
pub fn seccomp(names: bool) -> Result<(), Error> {
    let program = crate::seccomp::program(names).map_err(Error::SeccompCompile)?;
    seccompiler::apply_filter_all_threads(&program).map_err(Error::Seccomp)
}
