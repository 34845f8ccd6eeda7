//! The one typed form of a health event, whichever format it arrived in.
//!
//! Masks are validated newtypes: they hold only bits the ABI defines for their domain and are
//! never empty (the kernel does not queue an event whose mask is empty). Every variant can
//! be encoded back to its exact V0 record ([`HealthEvent::to_v0_bytes`]), which the tests use
//! to build streams and to prove the decoder loses nothing.

use xfs_heal_protocol::uapi::{self, event_offsets as off};
use xfs_heal_protocol::Scope;

/// Declares a validated bit-mask type with a name per defined bit: from a list of
/// `(bit, name)` pairs, or (`rows`) from one of `domains`' tables.
macro_rules! mask_type {
    ($(#[$doc:meta])* $name:ident, $all:expr, [$(($bit:expr, $label:literal)),+ $(,)?]) => {
        mask_type!(@type $(#[$doc])* $name, $all, $name::BITS.iter().copied());
        impl $name {
            /// Every defined bit with the name xfs_healer prints for it, in bit order.
            pub const BITS: &'static [(u32, &'static str)] = &[$(($bit, $label)),+];
        }
    };
    ($(#[$doc:meta])* $name:ident, rows $rows:expr) => {
        mask_type!(@type $(#[$doc])* $name, crate::domains::all_bits($rows), $rows.iter().map(|r| (r.bit, r.name)));
    };
    (@type $(#[$doc:meta])* $name:ident, $all:expr, $defined:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(u32);

        impl $name {
            /// The union of the defined bits.
            pub const ALL: u32 = $all;

            /// Accepts a non-empty mask of defined bits; otherwise returns the offending bits
            /// (or 0 for an empty mask).
            pub const fn new(bits: u32) -> Result<Self, u32> {
                if bits == 0 {
                    Err(0)
                } else if bits & !Self::ALL != 0 {
                    Err(bits & !Self::ALL)
                } else {
                    Ok(Self(bits))
                }
            }
            pub const fn bits(self) -> u32 {
                self.0
            }
            /// The set bits, lowest first, with their names.
            pub fn iter(self) -> impl Iterator<Item = (u32, &'static str)> {
                $defined.filter(move |(bit, _)| self.0 & bit != 0)
            }
            /// The names of the set bits, lowest first.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                self.iter().map(|(_, name)| name)
            }
        }
    };
}

mask_type!(
    /// Whole-filesystem structures (`XFS_FSOP_GEOM_SICK_*`).
    FsMask, rows crate::domains::FS
);
mask_type!(
    /// Allocation-group structures (`XFS_AG_GEOM_SICK_*`).
    AgMask, rows crate::domains::AG
);
mask_type!(
    /// Realtime-group structures (`XFS_RTGROUP_GEOM_SICK_*`).
    RtGroupMask, rows crate::domains::RTGROUP
);
mask_type!(
    /// Inode structures (`XFS_BS_SICK_*`).
    InodeMask, rows crate::domains::INODE
);

mask_type!(
    /// Why the filesystem shut down (`XFS_HEALTH_SHUTDOWN_*`), in xfs_healer's words.
    ShutdownReasons, uapi::XFS_HEALTH_SHUTDOWN_ALL, [
    (uapi::XFS_HEALTH_SHUTDOWN_META_IO_ERROR, "metadata I/O error"),
    (uapi::XFS_HEALTH_SHUTDOWN_LOG_IO_ERROR, "log I/O error"),
    (uapi::XFS_HEALTH_SHUTDOWN_FORCE_UMOUNT, "forced unmount"),
    (uapi::XFS_HEALTH_SHUTDOWN_CORRUPT_INCORE, "in-memory state corruption"),
    (uapi::XFS_HEALTH_SHUTDOWN_CORRUPT_ONDISK, "ondisk metadata corruption"),
    (uapi::XFS_HEALTH_SHUTDOWN_DEVICE_REMOVED, "device removed"),
]);

/// The three health verdicts on metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Corruption hit during normal operation (`xfs_*_mark_sick`): the repair trigger.
    Sick,
    /// Corruption found by an online-fsck scan (`xfs_*_mark_corrupt`).
    Corrupt,
    /// Scrub found it fine, or a repair fixed it.
    Healthy,
}

impl HealthStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sick => "sick",
            Self::Corrupt => "corrupt",
            Self::Healthy => "healthy",
        }
    }
    const fn v0_type(self) -> u32 {
        match self {
            Self::Sick => uapi::XFS_HEALTH_MONITOR_TYPE_SICK,
            Self::Corrupt => uapi::XFS_HEALTH_MONITOR_TYPE_CORRUPT,
            Self::Healthy => uapi::XFS_HEALTH_MONITOR_TYPE_HEALTHY,
        }
    }
}

/// Which piece of metadata an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataObject {
    Fs { mask: FsMask },
    Ag { agno: u32, mask: AgMask },
    RtGroup { rgno: u32, mask: RtGroupMask },
    Inode { ino: u64, gen: u32, mask: InodeMask },
}

impl MetadataObject {
    /// The same keys as a repair target's scope, so events and repairs of one object match.
    pub const fn domain_name(&self) -> &'static str {
        let scope = match self {
            Self::Fs { .. } => Scope::Fs,
            Self::Ag { .. } => Scope::Ag,
            Self::RtGroup { .. } => Scope::RtGroup,
            Self::Inode { .. } => Scope::Inode,
        };
        scope.key()
    }
    /// The names of the structures in the mask, lowest bit first.
    pub fn structure_names(&self) -> Vec<&'static str> {
        match self {
            Self::Fs { mask } => mask.names().collect(),
            Self::Ag { mask, .. } => mask.names().collect(),
            Self::RtGroup { mask, .. } => mask.names().collect(),
            Self::Inode { mask, .. } => mask.names().collect(),
        }
    }
}

/// The device a media error was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Data,
    Rt,
    Log,
}

impl Device {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Data => "datadev",
            Self::Rt => "rtdev",
            Self::Log => "logdev",
        }
    }
    const fn v0_domain(self) -> u32 {
        match self {
            Self::Data => uapi::XFS_HEALTH_MONITOR_DOMAIN_DATADEV,
            Self::Rt => uapi::XFS_HEALTH_MONITOR_DOMAIN_RTDEV,
            Self::Log => uapi::XFS_HEALTH_MONITOR_DOMAIN_LOGDEV,
        }
    }
}

/// What kind of file I/O failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileIoKind {
    BufferedRead,
    BufferedWrite,
    DirectRead,
    DirectWrite,
    /// Out-of-band media loss mapped onto a file range.
    DataLost,
}

impl FileIoKind {
    /// The name xfs_healer prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BufferedRead => "buffered_read",
            Self::BufferedWrite => "buffered_write",
            Self::DirectRead => "directio_read",
            Self::DirectWrite => "directio_write",
            Self::DataLost => "media",
        }
    }
    const fn v0_type(self) -> u32 {
        match self {
            Self::BufferedRead => uapi::XFS_HEALTH_MONITOR_TYPE_BUFREAD,
            Self::BufferedWrite => uapi::XFS_HEALTH_MONITOR_TYPE_BUFWRITE,
            Self::DirectRead => uapi::XFS_HEALTH_MONITOR_TYPE_DIOREAD,
            Self::DirectWrite => uapi::XFS_HEALTH_MONITOR_TYPE_DIOWRITE,
            Self::DataLost => uapi::XFS_HEALTH_MONITOR_TYPE_DATALOST,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The monitor is attached; always the first record.
    Running,
    /// The kernel dropped `count` events because its queue was full.
    Lost {
        count: u64,
    },
    /// The filesystem was unmounted; nothing follows.
    Unmount,
    Shutdown {
        reasons: ShutdownReasons,
    },
    Metadata {
        status: HealthStatus,
        object: MetadataObject,
    },
    /// A device range (512-byte sectors) failed.
    Media {
        device: Device,
        daddr: u64,
        bbcount: u64,
    },
    /// A byte range of a file saw an I/O error; `error` is a positive errno or 0.
    FileIo {
        kind: FileIoKind,
        ino: u64,
        gen: u32,
        pos: u64,
        len: u64,
        error: u32,
    },
}

/// One health event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HealthEvent {
    /// Nanoseconds since the Unix epoch, when the kernel queued it.
    pub time_ns: u64,
    pub kind: EventKind,
}

impl HealthEvent {
    /// The exact V0 record the kernel would have written for this event.
    pub fn to_v0_bytes(&self) -> [u8; uapi::HEALTH_EVENT_V0_SIZE] {
        let mut rec = [0u8; uapi::HEALTH_EVENT_V0_SIZE];
        let (domain, ty) = match self.kind {
            EventKind::Running => {
                (uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT, uapi::XFS_HEALTH_MONITOR_TYPE_RUNNING)
            }
            EventKind::Lost { .. } => {
                (uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT, uapi::XFS_HEALTH_MONITOR_TYPE_LOST)
            }
            EventKind::Unmount => {
                (uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT, uapi::XFS_HEALTH_MONITOR_TYPE_UNMOUNT)
            }
            EventKind::Shutdown { .. } => {
                (uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT, uapi::XFS_HEALTH_MONITOR_TYPE_SHUTDOWN)
            }
            EventKind::Metadata { status, object } => (
                match object {
                    MetadataObject::Fs { .. } => uapi::XFS_HEALTH_MONITOR_DOMAIN_FS,
                    MetadataObject::Ag { .. } => uapi::XFS_HEALTH_MONITOR_DOMAIN_AG,
                    MetadataObject::RtGroup { .. } => uapi::XFS_HEALTH_MONITOR_DOMAIN_RTGROUP,
                    MetadataObject::Inode { .. } => uapi::XFS_HEALTH_MONITOR_DOMAIN_INODE,
                },
                status.v0_type(),
            ),
            EventKind::Media { device, .. } => {
                (device.v0_domain(), uapi::XFS_HEALTH_MONITOR_TYPE_MEDIA_ERROR)
            }
            EventKind::FileIo { kind, .. } => (uapi::XFS_HEALTH_MONITOR_DOMAIN_FILERANGE, kind.v0_type()),
        };
        put32_into(&mut rec, off::DOMAIN, domain);
        put32_into(&mut rec, off::TYPE, ty);
        put64_into(&mut rec, off::TIME_NS, self.time_ns);
        match self.kind {
            EventKind::Running | EventKind::Unmount => {}
            EventKind::Lost { count } => put64_into(&mut rec, off::LOST_COUNT, count),
            EventKind::Shutdown { reasons } => put32_into(&mut rec, off::SHUTDOWN_REASONS, reasons.bits()),
            EventKind::Metadata { object, .. } => match object {
                MetadataObject::Fs { mask } => put32_into(&mut rec, off::FS_MASK, mask.bits()),
                MetadataObject::Ag { agno: gno, mask } => {
                    put32_into(&mut rec, off::GROUP_MASK, mask.bits());
                    put32_into(&mut rec, off::GROUP_GNO, gno);
                }
                MetadataObject::RtGroup { rgno: gno, mask } => {
                    put32_into(&mut rec, off::GROUP_MASK, mask.bits());
                    put32_into(&mut rec, off::GROUP_GNO, gno);
                }
                MetadataObject::Inode { ino, gen, mask } => {
                    put32_into(&mut rec, off::INODE_MASK, mask.bits());
                    put32_into(&mut rec, off::INODE_GEN, gen);
                    put64_into(&mut rec, off::INODE_INO, ino);
                }
            },
            EventKind::Media { daddr, bbcount, .. } => {
                put64_into(&mut rec, off::MEDIA_DADDR, daddr);
                put64_into(&mut rec, off::MEDIA_BBCOUNT, bbcount);
            }
            EventKind::FileIo { ino, gen, pos, len, error, .. } => {
                put64_into(&mut rec, off::FILERANGE_POS, pos);
                put64_into(&mut rec, off::FILERANGE_LEN, len);
                put64_into(&mut rec, off::FILERANGE_INO, ino);
                put32_into(&mut rec, off::FILERANGE_GEN, gen);
                put32_into(&mut rec, off::FILERANGE_ERROR, error);
            }
        }
        rec
    }
}

fn put32_into(rec: &mut [u8], at: usize, v: u32) {
    rec[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put64_into(rec: &mut [u8], at: usize, v: u64) {
    rec[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}
