//! The XFS kernel ABI that xfs-heal speaks, as plain data.
//!
//! Source: `xfs_fs.h` from Debian's `xfslibs-dev` 7.2.0 (Linux 7.0+ ABI). Layouts are
//! x86_64/LP64; every size and
//! offset below is pinned by the layout tests at the end of this file, so a transcription
//! error fails the build's tests rather than corrupting an ioctl argument.
//!
//! Nothing here performs a system call: the structs are handed to the `sys` modules of the
//! two binaries, which hold the only unsafe code. Records read from the kernel are decoded
//! field by field from bytes (see `monitor::event`), using the offsets exported here.

use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------------------------
// ioctl request encoding (asm-generic/ioctl.h): dir:2 | size:14 | type:8 | nr:8.

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;
const IOC_SIZEMASK: usize = (1 << 14) - 1;

/// The ioctl "type" byte of every XFS ioctl.
pub const XFS_IOC_MAGIC: u8 = b'X';

const fn ioc(dir: u32, nr: u8, size: usize) -> u32 {
    // A struct too large for the 14-bit size field would silently alias another request.
    assert!(size <= IOC_SIZEMASK, "ioctl argument too large for its encoding");
    #[allow(clippy::cast_possible_truncation)] // checked just above
    let size = size as u32;
    (dir << IOC_DIRSHIFT)
        | (size << IOC_SIZESHIFT)
        | ((XFS_IOC_MAGIC as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
}
const fn iow<T>(nr: u8) -> u32 {
    ioc(IOC_WRITE, nr, size_of::<T>())
}
const fn ior<T>(nr: u8) -> u32 {
    ioc(IOC_READ, nr, size_of::<T>())
}
const fn iowr<T>(nr: u8) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, size_of::<T>())
}

/// `_IOWR('X', 60, struct xfs_scrub_metadata)`: scrub, and with `IFLAG_REPAIR` repair, one structure.
pub const XFS_IOC_SCRUB_METADATA: u32 = iowr::<XfsScrubMetadata>(60);
/// `_IOW('X', 68, struct xfs_health_monitor)`: on the fs root, open a monitor; on a monitor fd, reconfigure.
pub const XFS_IOC_HEALTH_MONITOR: u32 = iow::<XfsHealthMonitor>(68);
/// `_IOW('X', 69, struct xfs_health_file_on_monitored_fs)`: is this fd on the monitored superblock?
pub const XFS_IOC_HEALTH_FD_ON_MONITORED_FS: u32 = iow::<XfsHealthFileOnMonitoredFs>(69);
/// `_IOR('X', 126, struct xfs_fsop_geom)`: filesystem geometry, v5.
pub const XFS_IOC_FSGEOMETRY: u32 = ior::<XfsFsopGeom>(126);

// ---------------------------------------------------------------------------------------------
// Health monitor (Linux 7.0+).

/// Report every health transition, not only new sickness and real fixes.
pub const XFS_HEALTH_MONITOR_VERBOSE: u64 = 1 << 0;
/// All flags the kernel accepts in `xfs_health_monitor.flags`.
pub const XFS_HEALTH_MONITOR_ALL: u64 = XFS_HEALTH_MONITOR_VERBOSE;
/// The only record format the shipped kernel knows: 64-byte binary records.
pub const XFS_HEALTH_MONITOR_FMT_V0: u8 = 0;

/// `struct xfs_health_monitor`: the argument of `XFS_IOC_HEALTH_MONITOR`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitor {
    pub flags: u64,
    pub format: u8,
    /// Must be zero.
    pub pad: [u8; 23],
}

impl XfsHealthMonitor {
    /// A V0 monitor request, verbose or not.
    pub const fn v0(verbose: bool) -> Self {
        Self {
            flags: if verbose { XFS_HEALTH_MONITOR_VERBOSE } else { 0 },
            format: XFS_HEALTH_MONITOR_FMT_V0,
            pad: [0; 23],
        }
    }
}

/// `struct xfs_health_file_on_monitored_fs`: the argument of `XFS_IOC_HEALTH_FD_ON_MONITORED_FS`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthFileOnMonitoredFs {
    pub fd: i32,
    /// Must be zero.
    pub flags: u32,
}

// Event domains (`xfs_health_monitor_event.domain`).
pub const XFS_HEALTH_MONITOR_DOMAIN_MOUNT: u32 = 0;
pub const XFS_HEALTH_MONITOR_DOMAIN_FS: u32 = 1;
pub const XFS_HEALTH_MONITOR_DOMAIN_AG: u32 = 2;
pub const XFS_HEALTH_MONITOR_DOMAIN_INODE: u32 = 3;
pub const XFS_HEALTH_MONITOR_DOMAIN_RTGROUP: u32 = 4;
pub const XFS_HEALTH_MONITOR_DOMAIN_DATADEV: u32 = 5;
pub const XFS_HEALTH_MONITOR_DOMAIN_RTDEV: u32 = 6;
pub const XFS_HEALTH_MONITOR_DOMAIN_LOGDEV: u32 = 7;
pub const XFS_HEALTH_MONITOR_DOMAIN_FILERANGE: u32 = 8;

// Event types (`xfs_health_monitor_event.type`).
pub const XFS_HEALTH_MONITOR_TYPE_RUNNING: u32 = 0;
pub const XFS_HEALTH_MONITOR_TYPE_LOST: u32 = 1;
pub const XFS_HEALTH_MONITOR_TYPE_UNMOUNT: u32 = 2;
pub const XFS_HEALTH_MONITOR_TYPE_SICK: u32 = 3;
pub const XFS_HEALTH_MONITOR_TYPE_CORRUPT: u32 = 4;
pub const XFS_HEALTH_MONITOR_TYPE_HEALTHY: u32 = 5;
pub const XFS_HEALTH_MONITOR_TYPE_SHUTDOWN: u32 = 6;
pub const XFS_HEALTH_MONITOR_TYPE_MEDIA_ERROR: u32 = 7;
pub const XFS_HEALTH_MONITOR_TYPE_BUFREAD: u32 = 8;
pub const XFS_HEALTH_MONITOR_TYPE_BUFWRITE: u32 = 9;
pub const XFS_HEALTH_MONITOR_TYPE_DIOREAD: u32 = 10;
pub const XFS_HEALTH_MONITOR_TYPE_DIOWRITE: u32 = 11;
pub const XFS_HEALTH_MONITOR_TYPE_DATALOST: u32 = 12;

// Shutdown reasons (`e.shutdown.reasons`).
pub const XFS_HEALTH_SHUTDOWN_META_IO_ERROR: u32 = 1 << 0;
pub const XFS_HEALTH_SHUTDOWN_LOG_IO_ERROR: u32 = 1 << 1;
pub const XFS_HEALTH_SHUTDOWN_FORCE_UMOUNT: u32 = 1 << 2;
pub const XFS_HEALTH_SHUTDOWN_CORRUPT_INCORE: u32 = 1 << 3;
pub const XFS_HEALTH_SHUTDOWN_CORRUPT_ONDISK: u32 = 1 << 4;
pub const XFS_HEALTH_SHUTDOWN_DEVICE_REMOVED: u32 = 1 << 5;
pub const XFS_HEALTH_SHUTDOWN_ALL: u32 = (1 << 6) - 1;

/// `e.lost`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorLost {
    pub count: u64,
}
/// `e.fs`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorFs {
    pub mask: u32,
}
/// `e.group`: an AG or a realtime group.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorGroup {
    pub mask: u32,
    pub gno: u32,
}
/// `e.inode`. Note the field order differs from `e.filerange`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorInode {
    pub mask: u32,
    pub gen: u32,
    pub ino: u64,
}
/// `e.shutdown`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorShutdown {
    pub reasons: u32,
}
/// `e.media`: a range of a device, in 512-byte sectors.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorMedia {
    pub daddr: u64,
    pub bbcount: u64,
}
/// `e.filerange`: a byte range of a file that saw an I/O error.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHealthMonitorFilerange {
    pub pos: u64,
    pub len: u64,
    pub ino: u64,
    pub gen: u32,
    /// Positive errno; may be zero for DATALOST.
    pub error: u32,
}

/// The union `e` of `struct xfs_health_monitor_event`. Which member is valid depends on the
/// record's domain and type; the decoder never reads the union, it reads bytes at the
/// member offsets, so no member is ever interpreted under the wrong type.
#[repr(C)]
#[derive(Clone, Copy)]
pub union XfsHealthMonitorEventUnion {
    pub lost: XfsHealthMonitorLost,
    pub fs: XfsHealthMonitorFs,
    pub group: XfsHealthMonitorGroup,
    pub inode: XfsHealthMonitorInode,
    pub shutdown: XfsHealthMonitorShutdown,
    pub media: XfsHealthMonitorMedia,
    pub filerange: XfsHealthMonitorFilerange,
}

impl core::fmt::Debug for XfsHealthMonitorEventUnion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("XfsHealthMonitorEventUnion { .. }")
    }
}

/// `struct xfs_health_monitor_event`: one 64-byte V0 record as `read()` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct XfsHealthMonitorEvent {
    pub domain: u32,
    pub type_: u32,
    /// Nanoseconds since the Unix epoch (coarse realtime clock, at enqueue).
    pub time_ns: u64,
    pub e: XfsHealthMonitorEventUnion,
    /// Must be zero.
    pub pad: [u64; 2],
}

/// Size of one V0 record.
pub const HEALTH_EVENT_V0_SIZE: usize = size_of::<XfsHealthMonitorEvent>();

/// Byte offsets inside a V0 record, for decoders that read fields straight from bytes.
pub mod event_offsets {
    use super::*;
    pub const DOMAIN: usize = offset_of!(XfsHealthMonitorEvent, domain);
    pub const TYPE: usize = offset_of!(XfsHealthMonitorEvent, type_);
    pub const TIME_NS: usize = offset_of!(XfsHealthMonitorEvent, time_ns);
    pub const UNION: usize = offset_of!(XfsHealthMonitorEvent, e);
    pub const UNION_SIZE: usize = size_of::<XfsHealthMonitorEventUnion>();
    pub const PAD: usize = offset_of!(XfsHealthMonitorEvent, pad);

    pub const LOST_COUNT: usize = UNION + offset_of!(XfsHealthMonitorLost, count);
    pub const FS_MASK: usize = UNION + offset_of!(XfsHealthMonitorFs, mask);
    pub const GROUP_MASK: usize = UNION + offset_of!(XfsHealthMonitorGroup, mask);
    pub const GROUP_GNO: usize = UNION + offset_of!(XfsHealthMonitorGroup, gno);
    pub const INODE_MASK: usize = UNION + offset_of!(XfsHealthMonitorInode, mask);
    pub const INODE_GEN: usize = UNION + offset_of!(XfsHealthMonitorInode, gen);
    pub const INODE_INO: usize = UNION + offset_of!(XfsHealthMonitorInode, ino);
    pub const SHUTDOWN_REASONS: usize = UNION + offset_of!(XfsHealthMonitorShutdown, reasons);
    pub const MEDIA_DADDR: usize = UNION + offset_of!(XfsHealthMonitorMedia, daddr);
    pub const MEDIA_BBCOUNT: usize = UNION + offset_of!(XfsHealthMonitorMedia, bbcount);
    pub const FILERANGE_POS: usize = UNION + offset_of!(XfsHealthMonitorFilerange, pos);
    pub const FILERANGE_LEN: usize = UNION + offset_of!(XfsHealthMonitorFilerange, len);
    pub const FILERANGE_INO: usize = UNION + offset_of!(XfsHealthMonitorFilerange, ino);
    pub const FILERANGE_GEN: usize = UNION + offset_of!(XfsHealthMonitorFilerange, gen);
    pub const FILERANGE_ERROR: usize = UNION + offset_of!(XfsHealthMonitorFilerange, error);
}

// ---------------------------------------------------------------------------------------------
// Sick masks, per domain.

// FS domain (`XFS_FSOP_GEOM_SICK_*`).
pub const XFS_FSOP_GEOM_SICK_COUNTERS: u32 = 1 << 0;
pub const XFS_FSOP_GEOM_SICK_UQUOTA: u32 = 1 << 1;
pub const XFS_FSOP_GEOM_SICK_GQUOTA: u32 = 1 << 2;
pub const XFS_FSOP_GEOM_SICK_PQUOTA: u32 = 1 << 3;
pub const XFS_FSOP_GEOM_SICK_RT_BITMAP: u32 = 1 << 4;
pub const XFS_FSOP_GEOM_SICK_RT_SUMMARY: u32 = 1 << 5;
pub const XFS_FSOP_GEOM_SICK_QUOTACHECK: u32 = 1 << 6;
pub const XFS_FSOP_GEOM_SICK_NLINKS: u32 = 1 << 7;
pub const XFS_FSOP_GEOM_SICK_METADIR: u32 = 1 << 8;
pub const XFS_FSOP_GEOM_SICK_METAPATH: u32 = 1 << 9;
pub const XFS_FSOP_GEOM_SICK_ALL: u32 = (1 << 10) - 1;

// AG domain (`XFS_AG_GEOM_SICK_*`).
pub const XFS_AG_GEOM_SICK_SB: u32 = 1 << 0;
pub const XFS_AG_GEOM_SICK_AGF: u32 = 1 << 1;
pub const XFS_AG_GEOM_SICK_AGFL: u32 = 1 << 2;
pub const XFS_AG_GEOM_SICK_AGI: u32 = 1 << 3;
pub const XFS_AG_GEOM_SICK_BNOBT: u32 = 1 << 4;
pub const XFS_AG_GEOM_SICK_CNTBT: u32 = 1 << 5;
pub const XFS_AG_GEOM_SICK_INOBT: u32 = 1 << 6;
pub const XFS_AG_GEOM_SICK_FINOBT: u32 = 1 << 7;
pub const XFS_AG_GEOM_SICK_RMAPBT: u32 = 1 << 8;
pub const XFS_AG_GEOM_SICK_REFCNTBT: u32 = 1 << 9;
pub const XFS_AG_GEOM_SICK_INODES: u32 = 1 << 10;
pub const XFS_AG_GEOM_SICK_ALL: u32 = (1 << 11) - 1;

// Realtime group domain (`XFS_RTGROUP_GEOM_SICK_*`).
pub const XFS_RTGROUP_GEOM_SICK_SUPER: u32 = 1 << 0;
pub const XFS_RTGROUP_GEOM_SICK_BITMAP: u32 = 1 << 1;
pub const XFS_RTGROUP_GEOM_SICK_SUMMARY: u32 = 1 << 2;
pub const XFS_RTGROUP_GEOM_SICK_RMAPBT: u32 = 1 << 3;
pub const XFS_RTGROUP_GEOM_SICK_REFCNTBT: u32 = 1 << 4;
pub const XFS_RTGROUP_GEOM_SICK_ALL: u32 = (1 << 5) - 1;

// Inode domain (`XFS_BS_SICK_*`).
pub const XFS_BS_SICK_INODE: u32 = 1 << 0;
pub const XFS_BS_SICK_BMBTD: u32 = 1 << 1;
pub const XFS_BS_SICK_BMBTA: u32 = 1 << 2;
pub const XFS_BS_SICK_BMBTC: u32 = 1 << 3;
pub const XFS_BS_SICK_DIR: u32 = 1 << 4;
pub const XFS_BS_SICK_XATTR: u32 = 1 << 5;
pub const XFS_BS_SICK_SYMLINK: u32 = 1 << 6;
pub const XFS_BS_SICK_PARENT: u32 = 1 << 7;
pub const XFS_BS_SICK_DIRTREE: u32 = 1 << 8;
pub const XFS_BS_SICK_ALL: u32 = (1 << 9) - 1;

// ---------------------------------------------------------------------------------------------
// Online scrub and repair.

pub const XFS_SCRUB_TYPE_PROBE: u32 = 0;
pub const XFS_SCRUB_TYPE_SB: u32 = 1;
pub const XFS_SCRUB_TYPE_AGF: u32 = 2;
pub const XFS_SCRUB_TYPE_AGFL: u32 = 3;
pub const XFS_SCRUB_TYPE_AGI: u32 = 4;
pub const XFS_SCRUB_TYPE_BNOBT: u32 = 5;
pub const XFS_SCRUB_TYPE_CNTBT: u32 = 6;
pub const XFS_SCRUB_TYPE_INOBT: u32 = 7;
pub const XFS_SCRUB_TYPE_FINOBT: u32 = 8;
pub const XFS_SCRUB_TYPE_RMAPBT: u32 = 9;
pub const XFS_SCRUB_TYPE_REFCNTBT: u32 = 10;
pub const XFS_SCRUB_TYPE_INODE: u32 = 11;
pub const XFS_SCRUB_TYPE_BMBTD: u32 = 12;
pub const XFS_SCRUB_TYPE_BMBTA: u32 = 13;
pub const XFS_SCRUB_TYPE_BMBTC: u32 = 14;
pub const XFS_SCRUB_TYPE_DIR: u32 = 15;
pub const XFS_SCRUB_TYPE_XATTR: u32 = 16;
pub const XFS_SCRUB_TYPE_SYMLINK: u32 = 17;
pub const XFS_SCRUB_TYPE_PARENT: u32 = 18;
pub const XFS_SCRUB_TYPE_RTBITMAP: u32 = 19;
pub const XFS_SCRUB_TYPE_RTSUM: u32 = 20;
pub const XFS_SCRUB_TYPE_UQUOTA: u32 = 21;
pub const XFS_SCRUB_TYPE_GQUOTA: u32 = 22;
pub const XFS_SCRUB_TYPE_PQUOTA: u32 = 23;
pub const XFS_SCRUB_TYPE_FSCOUNTERS: u32 = 24;
pub const XFS_SCRUB_TYPE_QUOTACHECK: u32 = 25;
pub const XFS_SCRUB_TYPE_NLINKS: u32 = 26;
pub const XFS_SCRUB_TYPE_HEALTHY: u32 = 27;
pub const XFS_SCRUB_TYPE_DIRTREE: u32 = 28;
pub const XFS_SCRUB_TYPE_METAPATH: u32 = 29;
pub const XFS_SCRUB_TYPE_RGSUPER: u32 = 30;
pub const XFS_SCRUB_TYPE_RTRMAPBT: u32 = 31;
pub const XFS_SCRUB_TYPE_RTREFCBT: u32 = 32;
pub const XFS_SCRUB_TYPE_NR: u32 = 33;

pub const XFS_SCRUB_IFLAG_REPAIR: u32 = 1 << 0;
pub const XFS_SCRUB_OFLAG_CORRUPT: u32 = 1 << 1;
pub const XFS_SCRUB_OFLAG_PREEN: u32 = 1 << 2;
pub const XFS_SCRUB_OFLAG_XFAIL: u32 = 1 << 3;
pub const XFS_SCRUB_OFLAG_XCORRUPT: u32 = 1 << 4;
pub const XFS_SCRUB_OFLAG_INCOMPLETE: u32 = 1 << 5;
pub const XFS_SCRUB_OFLAG_WARNING: u32 = 1 << 6;
pub const XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED: u32 = 1 << 7;
pub const XFS_SCRUB_IFLAG_FORCE_REBUILD: u32 = 1 << 8;
pub const XFS_SCRUB_FLAGS_IN: u32 = XFS_SCRUB_IFLAG_REPAIR | XFS_SCRUB_IFLAG_FORCE_REBUILD;
pub const XFS_SCRUB_FLAGS_OUT: u32 = 0xFE;

/// `struct xfs_scrub_metadata`: the argument of `XFS_IOC_SCRUB_METADATA`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsScrubMetadata {
    pub sm_type: u32,
    pub sm_flags: u32,
    pub sm_ino: u64,
    pub sm_gen: u32,
    /// AG number or realtime group number, by scrub type.
    pub sm_agno: u32,
    /// Must be zero.
    pub sm_reserved: [u64; 5],
}

impl XfsScrubMetadata {
    /// The probe with the repair flag: succeeds only where online repair works.
    pub const PROBE_REPAIR: Self = Self {
        sm_type: XFS_SCRUB_TYPE_PROBE,
        sm_flags: XFS_SCRUB_IFLAG_REPAIR,
        sm_ino: 0,
        sm_gen: 0,
        sm_agno: 0,
        sm_reserved: [0; 5],
    };
}

// ---------------------------------------------------------------------------------------------
// Geometry and handles.

pub const XFS_FSOP_GEOM_FLAGS_RMAPBT: u32 = 1 << 19;
pub const XFS_FSOP_GEOM_FLAGS_REFLINK: u32 = 1 << 20;
pub const XFS_FSOP_GEOM_FLAGS_PARENT: u32 = 1 << 25;
pub const XFS_FSOP_GEOM_FLAGS_METADIR: u32 = 1 << 26;
pub const XFS_FSOP_GEOM_FLAGS_ZONED: u32 = 1 << 27;

/// `struct xfs_fsop_geom` (v5, 256 bytes). Only the fields xfs-heal reads are named; the tail
/// is kept as opaque reserved space so the size matches the kernel's.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsFsopGeom {
    pub blocksize: u32,
    pub rtextsize: u32,
    pub agblocks: u32,
    pub agcount: u32,
    pub logblocks: u32,
    pub sectsize: u32,
    pub inodesize: u32,
    pub imaxpct: u32,
    pub datablocks: u64,
    pub rtblocks: u64,
    pub rtextents: u64,
    pub logstart: u64,
    pub uuid: [u8; 16],
    pub sunit: u32,
    pub swidth: u32,
    pub version: i32,
    pub flags: u32,
    pub logsectsize: u32,
    pub rtsectsize: u32,
    pub dirblocksize: u32,
    pub logsunit: u32,
    pub sick: u32,
    pub checked: u32,
    pub rgextents: u32,
    pub rgcount: u32,
    pub reserved: [u64; 16],
}

impl XfsFsopGeom {
    /// An all-zero buffer for the kernel to fill.
    pub const fn zeroed() -> Self {
        Self {
            blocksize: 0,
            rtextsize: 0,
            agblocks: 0,
            agcount: 0,
            logblocks: 0,
            sectsize: 0,
            inodesize: 0,
            imaxpct: 0,
            datablocks: 0,
            rtblocks: 0,
            rtextents: 0,
            logstart: 0,
            uuid: [0; 16],
            sunit: 0,
            swidth: 0,
            version: 0,
            flags: 0,
            logsectsize: 0,
            rtsectsize: 0,
            dirblocksize: 0,
            logsunit: 0,
            sick: 0,
            checked: 0,
            rgextents: 0,
            rgcount: 0,
            reserved: [0; 16],
        }
    }
}

/// `struct xfs_fid` inside a handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsFid {
    /// Length of the rest of this struct: 14.
    pub fid_len: u16,
    pub fid_pad: u16,
    pub fid_gen: u32,
    pub fid_ino: u64,
}

/// `struct xfs_handle`: 24 bytes, fsid (from the superblock UUID) + file id.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsHandle {
    pub ha_fsid: [u32; 2],
    pub ha_fid: XfsFid,
}

/// Size of an XFS file handle.
pub const XFS_HANDLE_SIZE: usize = size_of::<XfsHandle>();

/// `struct xfs_getparents`: one batch of an inode's parent pointers, written by the kernel
/// into `gp_buffer` as `xfs_getparents_rec` records.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XfsGetparents {
    /// Opaque; zero for the first batch.
    pub gp_cursor: [u32; 4],
    pub gp_iflags: u16,
    /// `XFS_GETPARENTS_OFLAG_*`.
    pub gp_oflags: u16,
    /// The buffer's size going in; the bytes of records written coming out.
    pub gp_bufsize: u32,
    pub gp_reserved: u64,
    /// The user address of the record buffer.
    pub gp_buffer: u64,
}

/// The inode asked about is the root directory: it has no parent.
pub const XFS_GETPARENTS_OFLAG_ROOT: u16 = 1 << 0;
/// No more parents after this batch.
pub const XFS_GETPARENTS_OFLAG_DONE: u16 = 1 << 1;

/// `struct xfs_getparents_by_handle`: the inode named by a handle, and the request.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfsGetparentsByHandle {
    pub gph_handle: XfsHandle,
    pub gph_request: XfsGetparents,
}

/// `XFS_IOC_GETPARENTS_BY_HANDLE`: the parents of the inode a handle names. CAP_SYS_ADMIN.
pub const XFS_IOC_GETPARENTS_BY_HANDLE: u32 = iowr::<XfsGetparentsByHandle>(63);

/// `struct xfs_getparents_rec`: the parent's handle, the record's length (to the next
/// record), 4 reserved bytes, then the entry's NUL-terminated name at this offset.
pub const GETPARENTS_REC_NAME_AT: usize = XFS_HANDLE_SIZE + 8;

/// The extended attribute holding the autofsck filesystem property.
/// The filesystem type statfs reports for XFS ("XFSB"); nix names it only for glibc.
pub const XFS_SUPER_MAGIC: u32 = 0x5846_5342;

pub const AUTOFSCK_XATTR_NAME: &std::ffi::CStr = c"trusted.xfs:autofsck";

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::align_of;

    #[test]
    fn ioctl_numbers_match_the_reference() {
        assert_eq!(XFS_IOC_HEALTH_MONITOR, 0x4020_5844);
        assert_eq!(XFS_IOC_HEALTH_FD_ON_MONITORED_FS, 0x4008_5845);
        assert_eq!(XFS_IOC_SCRUB_METADATA, 0xC040_583C);
        assert_eq!(XFS_IOC_FSGEOMETRY, 0x8100_587E);
    }

    #[test]
    fn health_monitor_layout() {
        assert_eq!(size_of::<XfsHealthMonitor>(), 32);
        assert_eq!(align_of::<XfsHealthMonitor>(), 8);
        assert_eq!(offset_of!(XfsHealthMonitor, flags), 0);
        assert_eq!(offset_of!(XfsHealthMonitor, format), 8);
        assert_eq!(offset_of!(XfsHealthMonitor, pad), 9);
    }

    #[test]
    fn file_on_monitored_fs_layout() {
        assert_eq!(size_of::<XfsHealthFileOnMonitoredFs>(), 8);
        assert_eq!(offset_of!(XfsHealthFileOnMonitoredFs, fd), 0);
        assert_eq!(offset_of!(XfsHealthFileOnMonitoredFs, flags), 4);
    }

    #[test]
    fn event_record_layout() {
        assert_eq!(HEALTH_EVENT_V0_SIZE, 64);
        assert_eq!(align_of::<XfsHealthMonitorEvent>(), 8);
        assert_eq!(event_offsets::DOMAIN, 0);
        assert_eq!(event_offsets::TYPE, 4);
        assert_eq!(event_offsets::TIME_NS, 8);
        assert_eq!(event_offsets::UNION, 16);
        assert_eq!(event_offsets::UNION_SIZE, 32);
        assert_eq!(event_offsets::PAD, 48);
        assert_eq!(size_of::<[u64; 2]>(), 16);
    }

    #[test]
    fn event_union_member_layouts() {
        assert_eq!(size_of::<XfsHealthMonitorLost>(), 8);
        assert_eq!(size_of::<XfsHealthMonitorFs>(), 4);
        assert_eq!(size_of::<XfsHealthMonitorGroup>(), 8);
        assert_eq!(size_of::<XfsHealthMonitorInode>(), 16);
        assert_eq!(size_of::<XfsHealthMonitorShutdown>(), 4);
        assert_eq!(size_of::<XfsHealthMonitorMedia>(), 16);
        assert_eq!(size_of::<XfsHealthMonitorFilerange>(), 32);

        use event_offsets::*;
        assert_eq!(LOST_COUNT, 16);
        assert_eq!(FS_MASK, 16);
        assert_eq!((GROUP_MASK, GROUP_GNO), (16, 20));
        assert_eq!((INODE_MASK, INODE_GEN, INODE_INO), (16, 20, 24));
        assert_eq!(SHUTDOWN_REASONS, 16);
        assert_eq!((MEDIA_DADDR, MEDIA_BBCOUNT), (16, 24));
        assert_eq!(
            (FILERANGE_POS, FILERANGE_LEN, FILERANGE_INO, FILERANGE_GEN, FILERANGE_ERROR),
            (16, 24, 32, 40, 44)
        );
    }

    #[test]
    fn scrub_metadata_layout() {
        assert_eq!(size_of::<XfsScrubMetadata>(), 64);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_type), 0);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_flags), 4);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_ino), 8);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_gen), 16);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_agno), 20);
        assert_eq!(offset_of!(XfsScrubMetadata, sm_reserved), 24);
    }

    #[test]
    fn geometry_layout() {
        assert_eq!(size_of::<XfsFsopGeom>(), 256);
        assert_eq!(size_of::<XfsHandle>(), 24);
        assert_eq!(offset_of!(XfsHandle, ha_fid) + offset_of!(XfsFid, fid_ino), 16);
        assert_eq!(size_of::<XfsGetparents>(), 40);
        assert_eq!(offset_of!(XfsGetparents, gp_oflags), 18);
        assert_eq!(offset_of!(XfsGetparents, gp_bufsize), 20);
        assert_eq!(offset_of!(XfsGetparents, gp_buffer), 32);
        assert_eq!(size_of::<XfsGetparentsByHandle>(), 64);
        assert_eq!(offset_of!(XfsGetparentsByHandle, gph_request), 24);
        assert_eq!(XFS_IOC_GETPARENTS_BY_HANDLE, 0xC040_583F);
        assert_eq!(GETPARENTS_REC_NAME_AT, 32);
        assert_eq!(offset_of!(XfsFsopGeom, agcount), 12);
        assert_eq!(offset_of!(XfsFsopGeom, datablocks), 32);
        assert_eq!(offset_of!(XfsFsopGeom, uuid), 64);
        assert_eq!(offset_of!(XfsFsopGeom, flags), 92);
        assert_eq!(offset_of!(XfsFsopGeom, sick), 112);
        assert_eq!(offset_of!(XfsFsopGeom, checked), 116);
        assert_eq!(offset_of!(XfsFsopGeom, rgextents), 120);
        assert_eq!(offset_of!(XfsFsopGeom, rgcount), 124);
    }

    #[test]
    fn handle_layouts() {
        assert_eq!(XFS_HANDLE_SIZE, 24);
        assert_eq!(offset_of!(XfsHandle, ha_fid), 8);
        assert_eq!(size_of::<XfsFid>(), 16);
        assert_eq!(offset_of!(XfsFid, fid_gen), 4);
        assert_eq!(offset_of!(XfsFid, fid_ino), 8);
    }

    #[test]
    fn masks_cover_exactly_the_defined_bits() {
        assert_eq!(XFS_FSOP_GEOM_SICK_ALL, 0x3FF);
        assert_eq!(XFS_AG_GEOM_SICK_ALL, 0x7FF);
        assert_eq!(XFS_RTGROUP_GEOM_SICK_ALL, 0x1F);
        assert_eq!(XFS_BS_SICK_ALL, 0x1FF);
        assert_eq!(XFS_HEALTH_SHUTDOWN_ALL, 0x3F);
        assert_eq!(XFS_SCRUB_FLAGS_IN, 0x101);
    }
}
