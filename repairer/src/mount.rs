//! The one filesystem this repairer serves: opened and checked once at startup, then
//! reopened and re-identified before every repair.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, AT_FDCWD};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, FsType};
use nix::sys::utsname::uname;
use xfs_heal_protocol::host::{self, Recorded};
use xfs_heal_protocol::uapi;
use xfs_heal_protocol::{Autofsck, Errno, FsHandle, FsIdentity, Geometry, OnlineRepair};

use crate::error::Error;
use crate::sys;

/// Opens the mount point as a directory, read-only. Reopened for each repair, so this is
/// also the only open the Landlock ruleset allows.
pub fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    // openat, whatever the C library: the seccomp table allows it alone, with these flags.
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::openat(AT_FDCWD, path, flags, Mode::empty())?)
}

/// The mount namespace the repairer started in, watched for a move of its mount there. Run
/// by hand, the repairer's own namespace (step 2) is a copy of it, where a move does not
/// arrive (the kernel moves a mount only from under a private parent): without the watch, the
/// copy would go on pinning the filesystem after the host unmounts it at its new place.
#[derive(Debug)]
pub struct MoveWatch {
    pub fd: OwnedFd,
    /// The mount's unique ID in the starting namespace.
    pub mount_id: u64,
}

/// Step 2: in a mount namespace of our own, open `path`, make sure it is the root of a
/// mounted XFS filesystem, and leave nothing else beneath it: the Landlock rule of step 7
/// covers whatever lies under the mount point, and must cover this filesystem alone. With
/// `watch_moves`, first watch the starting namespace for a move of the mount (`MoveWatch`).
///
/// The namespace is a slave of the host's, so the host's unmount still reaches it; the mount
/// point itself is made private, so nothing the host mounts on or beneath it later arrives.
pub fn open_checked(path: &Path, watch_moves: bool) -> Result<(OwnedFd, Option<MoveWatch>), Error> {
    let open_err = |source| Error::OpenMount { path: path.to_owned(), source };
    let isolate = |step, e: nix::Error| Error::Isolate { step, source: e.into() };
    let not_root = |detail| Error::NotMountRoot { path: path.to_owned(), detail };
    let none = None::<&str>;
    let watch = if watch_moves { Some(watch_for_move(path)?) } else { None };
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| isolate("unshare(CLONE_NEWNS)", e))?;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none).map_err(|e| isolate("slave", e))?;
    let fd = open_dir(path).map_err(open_err)?;
    let st = fstatfs(&fd).map_err(|e| open_err(e.into()))?;
    if st.filesystem_type() != FsType(uapi::XFS_SUPER_MAGIC.into()) {
        return Err(Error::NotXfs { path: path.to_owned() });
    }
    let fdinfo =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).map_err(open_err)?;
    let old_id = host::fdinfo_mount_id(&fdinfo).ok_or_else(|| not_root("no mnt_id in its fdinfo".into()))?;
    let mountinfo = || std::fs::read_to_string("/proc/self/mountinfo").map_err(open_err);
    let canonical = std::fs::canonicalize(path).map_err(open_err)?;
    host::check_mount(&mountinfo()?, old_id, &canonical).map_err(not_root)?;
    // Through the fd, not the path: the mount made private is the one just checked. Its
    // children are listed after that, when no more can arrive.
    let by_fd = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(none, by_fd.as_str(), none, MsFlags::MS_PRIVATE, none).map_err(|e| isolate("private", e))?;
    for child in host::child_mounts(&mountinfo()?, old_id) {
        umount2(child.as_str(), MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
            .map_err(|e| isolate("detach a mount beneath it", e))?;
    }
    Ok((fd, watch))
}

/// Before the unshare: the watch on this namespace and the mount's unique ID in it. A root
/// who swaps the mount between this open and step 2's can only make the watch miss the move
/// (the behaviour without it) or end this repairer early.
fn watch_for_move(path: &Path) -> Result<MoveWatch, Error> {
    use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};
    use xfs_heal_protocol::host::fanotify::{FAN_MARK_MNTNS, FAN_MNT_ATTACH, FAN_MNT_DETACH, FAN_REPORT_MNT};
    let fail = |e: nix::Error| Error::MoveWatch(e.into());
    let fd = open_dir(path).map_err(|source| Error::OpenMount { path: path.to_owned(), source })?;
    let ns = File::open("/proc/self/ns/mnt").map_err(Error::MoveWatch)?;
    // Mount events (FAN_REPORT_MNT) of the namespace itself: the mark names no path.
    let init = InitFlags::from_bits_retain(FAN_REPORT_MNT) | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK;
    let group = Fanotify::init(init, EventFFlags::O_RDONLY).map_err(fail)?;
    let (mark, mask) = (MarkFlags::from_bits_retain(FAN_MARK_MNTNS), FAN_MNT_ATTACH | FAN_MNT_DETACH);
    group
        .mark(MarkFlags::FAN_MARK_ADD | mark, MaskFlags::from_bits_retain(mask), &ns, None::<&Path>)
        .map_err(fail)?;
    let mount_id = sys::name_to_handle(fd.as_fd()).map_err(Error::MoveWatch)?.mount_id;
    Ok(MoveWatch { fd: group.into(), mount_id })
}

/// The identity re-checked before every repair (see `FsIdentity`).
pub fn identity(fd: &OwnedFd) -> std::io::Result<FsIdentity> {
    let h = sys::name_to_handle(fd.as_fd())?;
    let root = FsHandle::new(h.handle_type, &h.bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(FsIdentity { mount_id: h.mount_id, root })
}

/// Step 3: identity, geometry, the autofsck property, and whether repair works.
pub fn record(fd: &OwnedFd) -> Result<Recorded, Error> {
    let identity = identity(fd).map_err(Error::Identity)?;
    let geom = sys::fs_geometry(fd.as_fd()).map_err(Error::GeometryIoctl)?;
    let geometry = Geometry::from_fsop_geom(&geom).map_err(Error::Geometry)?;
    let mut value = [0u8; 64];
    let autofsck = match sys::fgetxattr(fd.as_fd(), uapi::AUTOFSCK_XATTR_NAME, &mut value) {
        Ok(n) => Autofsck::from_xattr_value(&value[..n]),
        // Unset (ENODATA), unsupported, or too long to be a known value: all mean "unset".
        Err(_) => Autofsck::Unset,
    };
    let mut probe = uapi::XfsScrubMetadata::PROBE_REPAIR;
    let online_repair = match sys::scrub_metadata(fd.as_fd(), &mut probe) {
        Ok(()) => OnlineRepair::Supported,
        Err(e) => OnlineRepair::Unsupported(errno_of(&e)),
    };
    // Unreadable, it stays empty, which the defect table counts as an affected kernel.
    let release = uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Recorded { identity, uuid: geom.uuid, geometry, autofsck, online_repair, release })
}

/// The errno of an I/O error, as the protocol's validated type.
pub fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().and_then(|n| Errno::try_from(n).ok()).unwrap_or(Errno::EINVAL)
}

/// The kernel's health monitor on `root`, its refusals named.
pub fn open_health(root: &OwnedFd, path: &Path) -> Result<OwnedFd, Error> {
    sys::open_health_monitor(root.as_fd(), &uapi::XfsHealthMonitor::v0(false)).map_err(|e| {
        let path = path.to_owned();
        match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EOPNOTSUPP) => Error::NoHealthMonitor { path },
            Some(libc::EEXIST) => Error::MonitorAlreadyAttached { path },
            _ => Error::HealthMonitor { path, source: e },
        }
    })
}

/// Why a reopened mount point is not the filesystem the repairer was started for.
#[derive(Debug)]
pub struct Stale(pub String);

/// The filesystem as recorded at startup, to be found again at the same path.
#[derive(Debug)]
pub struct Mount {
    pub path: PathBuf,
    pub identity: FsIdentity,
}

impl Mount {
    /// Reopens the mount point and proves it is still the recorded filesystem: same unique
    /// mount ID, same root handle, and — when the repairer holds the kernel's health fd —
    /// the superblock that fd watches.
    pub fn reopen_verified(&self, kernel_health: Option<&OwnedFd>) -> Result<OwnedFd, Stale> {
        let fd =
            open_dir(&self.path).map_err(|e| Stale(format!("cannot reopen {}: {e}", self.path.display())))?;
        let now =
            identity(&fd).map_err(|e| Stale(format!("cannot identify {}: {e}", self.path.display())))?;
        if now != self.identity {
            return Err(Stale(format!("{} now holds {now}, not {}", self.path.display(), self.identity)));
        }
        if let Some(health) = kernel_health {
            sys::fd_on_monitored_fs(health.as_fd(), fd.as_fd()).map_err(|e| {
                Stale(format!("the health monitor does not watch {}: {e}", self.path.display()))
            })?;
        }
        Ok(fd)
    }
}
