//! What can be repaired: validated newtypes and the closed set of repair targets.
//!
//! A [`RepairTarget`] can only hold a scrub type that is legal for its scope (an AG target
//! cannot carry an inode scrub type, and so on), an AG or realtime-group number that is not
//! the kernel's "null" value, and a non-zero inode number. Range checks that depend on the
//! live filesystem (AG count, rtgroup count) are [`RepairTarget::check_geometry`], which the
//! repairer runs again on every request.

use core::fmt;
use serde::{Deserialize, Serialize};

use crate::uapi::*;

/// A value that does not fit the type it was offered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidValue {
    ScrubTypeForScope { scope: Scope, scrub_type: u32 },
    NullAgNumber,
    NullRtGroupNumber,
    InodeNumber(u64),
    OutFlags(u32),
    Errno(i32),
    Handle(&'static str),
    MountPath(&'static str),
    FsPath(&'static str),
    AgCount,
    DefectSet(u32),
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ScrubTypeForScope { scope, scrub_type } => {
                write!(f, "scrub type {scrub_type} is not a repairable {scope} structure")
            }
            Self::NullAgNumber => f.write_str("AG number is the null AG (0xffffffff)"),
            Self::NullRtGroupNumber => f.write_str("rtgroup number is the null group (0xffffffff)"),
            Self::InodeNumber(ino) => write!(f, "inode number {ino:#x} is not a real inode"),
            Self::OutFlags(v) => write!(f, "scrub output flags {v:#x} include non-output bits"),
            Self::Errno(e) => write!(f, "errno {e} is outside 1..=4095"),
            Self::Handle(why) => write!(f, "invalid filesystem handle: {why}"),
            Self::MountPath(why) => write!(f, "invalid mount path: {why}"),
            Self::FsPath(why) => write!(f, "invalid path below the mount point: {why}"),
            Self::AgCount => f.write_str("AG count must be at least 1"),
            Self::DefectSet(v) => write!(f, "known-defect set {v:#x} names defects not in the table"),
        }
    }
}

impl std::error::Error for InvalidValue {}

/// The four scopes a scrub type can apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    Fs,
    Ag,
    RtGroup,
    Inode,
}

impl Scope {
    /// The scope's key in JSON reports and journal fields: fs, ag, rtgroup or inode.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Fs => "fs",
            Self::Ag => "ag",
            Self::RtGroup => "rtgroup",
            Self::Inode => "inode",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fs => "filesystem",
            Self::Ag => "AG",
            Self::RtGroup => "rtgroup",
            Self::Inode => "inode",
        })
    }
}

/// Declares one scope's repairable scrub types: the Rust variant, the kernel's
/// `XFS_SCRUB_TYPE_*` value (which is also the wire value) and the structure's name as
/// operators know it from xfs_healer.
macro_rules! scrub_kinds {
    ($(#[$doc:meta])* $name:ident, $scope:expr, { $($variant:ident = $ty:expr, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// Every kind of this scope, in kernel scrub-type order of declaration.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The kernel's `XFS_SCRUB_TYPE_*` value.
            pub const fn scrub_type(self) -> u32 {
                match self {
                    $(Self::$variant => $ty,)+
                }
            }

            /// The structure's name, as xfs_healer prints it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }

        impl TryFrom<u32> for $name {
            type Error = InvalidValue;
            fn try_from(scrub_type: u32) -> Result<Self, InvalidValue> {
                match scrub_type {
                    $(t if t == $ty => Ok(Self::$variant),)+
                    _ => Err(InvalidValue::ScrubTypeForScope { scope: $scope, scrub_type }),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(kind: $name) -> u32 {
                kind.scrub_type()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

scrub_kinds!(
    /// Whole-filesystem structures that online repair can rebuild.
    FsScrub, Scope::Fs, {
        FsCounters = XFS_SCRUB_TYPE_FSCOUNTERS, "fscounters";
        UserQuota = XFS_SCRUB_TYPE_UQUOTA, "usrquota";
        GroupQuota = XFS_SCRUB_TYPE_GQUOTA, "grpquota";
        ProjectQuota = XFS_SCRUB_TYPE_PQUOTA, "prjquota";
        // Pre-rtgroups filesystems: the one realtime bitmap/summary, addressed as group 0.
        RtBitmap = XFS_SCRUB_TYPE_RTBITMAP, "bitmap";
        RtSummary = XFS_SCRUB_TYPE_RTSUM, "summary";
        QuotaCheck = XFS_SCRUB_TYPE_QUOTACHECK, "quotacheck";
        NLinks = XFS_SCRUB_TYPE_NLINKS, "nlinks";
    }
);

scrub_kinds!(
    /// Per-allocation-group structures.
    AgScrub, Scope::Ag, {
        Super = XFS_SCRUB_TYPE_SB, "super";
        Agf = XFS_SCRUB_TYPE_AGF, "agf";
        Agfl = XFS_SCRUB_TYPE_AGFL, "agfl";
        Agi = XFS_SCRUB_TYPE_AGI, "agi";
        Bnobt = XFS_SCRUB_TYPE_BNOBT, "bnobt";
        Cntbt = XFS_SCRUB_TYPE_CNTBT, "cntbt";
        Inobt = XFS_SCRUB_TYPE_INOBT, "inobt";
        Finobt = XFS_SCRUB_TYPE_FINOBT, "finobt";
        Rmapbt = XFS_SCRUB_TYPE_RMAPBT, "rmapbt";
        Refcountbt = XFS_SCRUB_TYPE_REFCNTBT, "refcountbt";
    }
);

scrub_kinds!(
    /// Per-realtime-group structures.
    RtGroupScrub, Scope::RtGroup, {
        Super = XFS_SCRUB_TYPE_RGSUPER, "super";
        Bitmap = XFS_SCRUB_TYPE_RTBITMAP, "bitmap";
        Summary = XFS_SCRUB_TYPE_RTSUM, "summary";
        Rmapbt = XFS_SCRUB_TYPE_RTRMAPBT, "rmapbt";
        Refcountbt = XFS_SCRUB_TYPE_RTREFCBT, "refcountbt";
    }
);

scrub_kinds!(
    /// Per-inode structures.
    InodeScrub, Scope::Inode, {
        Core = XFS_SCRUB_TYPE_INODE, "core";
        DataFork = XFS_SCRUB_TYPE_BMBTD, "datafork";
        AttrFork = XFS_SCRUB_TYPE_BMBTA, "attrfork";
        CowFork = XFS_SCRUB_TYPE_BMBTC, "cowfork";
        Directory = XFS_SCRUB_TYPE_DIR, "directory";
        Xattr = XFS_SCRUB_TYPE_XATTR, "xattr";
        Symlink = XFS_SCRUB_TYPE_SYMLINK, "symlink";
        Parent = XFS_SCRUB_TYPE_PARENT, "parent";
        DirTree = XFS_SCRUB_TYPE_DIRTREE, "dirtree";
    }
);

/// An allocation group number; never `NULLAGNUMBER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct AgNumber(u32);

impl AgNumber {
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for AgNumber {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, InvalidValue> {
        if v == u32::MAX {
            Err(InvalidValue::NullAgNumber)
        } else {
            Ok(Self(v))
        }
    }
}

impl From<AgNumber> for u32 {
    fn from(v: AgNumber) -> u32 {
        v.0
    }
}

/// A realtime group number; never `NULLRGNUMBER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RtGroupNumber(u32);

impl RtGroupNumber {
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for RtGroupNumber {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, InvalidValue> {
        if v == u32::MAX {
            Err(InvalidValue::NullRtGroupNumber)
        } else {
            Ok(Self(v))
        }
    }
}

impl From<RtGroupNumber> for u32 {
    fn from(v: RtGroupNumber) -> u32 {
        v.0
    }
}

/// An inode number that names a real inode: not 0 (which the scrub ioctl would read as
/// "the inode of the fd", i.e. the mount root) and not `NULLFSINO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct InodeNumber(u64);

impl InodeNumber {
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for InodeNumber {
    type Error = InvalidValue;
    fn try_from(v: u64) -> Result<Self, InvalidValue> {
        if v == 0 || v == u64::MAX {
            Err(InvalidValue::InodeNumber(v))
        } else {
            Ok(Self(v))
        }
    }
}

impl From<InodeNumber> for u64 {
    fn from(v: InodeNumber) -> u64 {
        v.0
    }
}

/// One structure to repair: a scope, the object within it, and a scrub type legal there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RepairTarget {
    Fs { kind: FsScrub },
    Ag { agno: AgNumber, kind: AgScrub },
    RtGroup { rgno: RtGroupNumber, kind: RtGroupScrub },
    Inode { ino: InodeNumber, gen: u32, kind: InodeScrub },
}

/// Why a target does not fit the live filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutOfRange {
    AgNumber { agno: u32, agcount: u32 },
    RtGroupNumber { rgno: u32, rgcount: u32 },
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AgNumber { agno, agcount } => {
                write!(f, "AG {agno} does not exist (the filesystem has {agcount})")
            }
            Self::RtGroupNumber { rgno, rgcount } => {
                write!(f, "rtgroup {rgno} does not exist (the filesystem has {rgcount})")
            }
        }
    }
}

impl RepairTarget {
    /// Whether this repair must wait while `running` is in progress. Repairs run
    /// concurrently when independent; these wait:
    /// - a whole-filesystem structure (counters, quotacheck, nlinks: they walk every inode)
    ///   runs alone, and nothing starts beside it;
    /// - two structures of one AG, or of one rtgroup, run one after the other, so a group's
    ///   headers (queued first) are mended before the btrees that hang off them;
    /// - two structures of one inode, likewise: its core before its forks and parent
    ///   pointers.
    pub fn must_wait_for(&self, running: &RepairTarget) -> bool {
        match (self, running) {
            (Self::Fs { .. }, _) | (_, Self::Fs { .. }) => true,
            (Self::Ag { agno: a, .. }, Self::Ag { agno: b, .. }) => a == b,
            (Self::RtGroup { rgno: a, .. }, Self::RtGroup { rgno: b, .. }) => a == b,
            (Self::Inode { ino: a, .. }, Self::Inode { ino: b, .. }) => a == b,
            _ => false,
        }
    }

    pub const fn scope(&self) -> Scope {
        match self {
            Self::Fs { .. } => Scope::Fs,
            Self::Ag { .. } => Scope::Ag,
            Self::RtGroup { .. } => Scope::RtGroup,
            Self::Inode { .. } => Scope::Inode,
        }
    }

    /// The kernel's `XFS_SCRUB_TYPE_*` value.
    pub const fn scrub_type(&self) -> u32 {
        match self {
            Self::Fs { kind } => kind.scrub_type(),
            Self::Ag { kind, .. } => kind.scrub_type(),
            Self::RtGroup { kind, .. } => kind.scrub_type(),
            Self::Inode { kind, .. } => kind.scrub_type(),
        }
    }

    /// The structure's name, as xfs_healer prints it.
    pub const fn structure_name(&self) -> &'static str {
        match self {
            Self::Fs { kind } => kind.name(),
            Self::Ag { kind, .. } => kind.name(),
            Self::RtGroup { kind, .. } => kind.name(),
            Self::Inode { kind, .. } => kind.name(),
        }
    }

    /// Checks the numbers that depend on the live filesystem.
    pub fn check_geometry(&self, geometry: &Geometry) -> Result<(), OutOfRange> {
        match *self {
            Self::Ag { agno, .. } if agno.get() >= geometry.agcount() => {
                Err(OutOfRange::AgNumber { agno: agno.get(), agcount: geometry.agcount() })
            }
            Self::RtGroup { rgno, .. } if rgno.get() >= geometry.rgcount() => {
                Err(OutOfRange::RtGroupNumber { rgno: rgno.get(), rgcount: geometry.rgcount() })
            }
            _ => Ok(()),
        }
    }

    /// The exact ioctl argument that repairs this target: the repair flag and nothing else
    /// set on input, the fields the kernel requires to be zero for this scope left zero.
    pub const fn to_scrub_metadata(&self) -> XfsScrubMetadata {
        let (sm_ino, sm_gen, sm_agno) = match *self {
            Self::Fs { .. } => (0, 0, 0),
            Self::Ag { agno, .. } => (0, 0, agno.get()),
            Self::RtGroup { rgno, .. } => (0, 0, rgno.get()),
            Self::Inode { ino, gen, .. } => (ino.get(), gen, 0),
        };
        XfsScrubMetadata {
            sm_type: self.scrub_type(),
            sm_flags: XFS_SCRUB_IFLAG_REPAIR,
            sm_ino,
            sm_gen,
            sm_agno,
            sm_reserved: [0; 5],
        }
    }
}

impl fmt::Display for RepairTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fs { kind } => write!(f, "fs {kind}"),
            Self::Ag { agno, kind } => write!(f, "agno {:#x} {kind}", agno.get()),
            Self::RtGroup { rgno, kind } => write!(f, "rgno {:#x} {kind}", rgno.get()),
            Self::Inode { ino, gen, kind } => write!(f, "ino {} gen {gen:#x} {kind}", ino.get()),
        }
    }
}

/// The filesystem shape a request is validated against. `agcount` is never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawGeometry", into = "RawGeometry")]
pub struct Geometry {
    agcount: u32,
    rgcount: u32,
    features: u32,
}

#[derive(Serialize, Deserialize)]
struct RawGeometry {
    agcount: u32,
    rgcount: u32,
    features: u32,
}

impl Geometry {
    /// `features` are the kernel's `XFS_FSOP_GEOM_FLAGS_*` bits, kept verbatim.
    pub fn new(agcount: u32, rgcount: u32, features: u32) -> Result<Self, InvalidValue> {
        if agcount == 0 {
            return Err(InvalidValue::AgCount);
        }
        Ok(Self { agcount, rgcount, features })
    }

    /// From the kernel's `XFS_IOC_FSGEOMETRY` answer.
    pub fn from_fsop_geom(geom: &XfsFsopGeom) -> Result<Self, InvalidValue> {
        Self::new(geom.agcount, geom.rgcount, geom.flags)
    }

    pub const fn agcount(&self) -> u32 {
        self.agcount
    }
    pub const fn rgcount(&self) -> u32 {
        self.rgcount
    }
    pub const fn features(&self) -> u32 {
        self.features
    }
    pub const fn has_rmapbt(&self) -> bool {
        self.features & XFS_FSOP_GEOM_FLAGS_RMAPBT != 0
    }
    pub const fn has_parent_pointers(&self) -> bool {
        self.features & XFS_FSOP_GEOM_FLAGS_PARENT != 0
    }
    pub const fn has_reflink(&self) -> bool {
        self.features & XFS_FSOP_GEOM_FLAGS_REFLINK != 0
    }
}

impl TryFrom<RawGeometry> for Geometry {
    type Error = InvalidValue;
    fn try_from(raw: RawGeometry) -> Result<Self, InvalidValue> {
        Self::new(raw.agcount, raw.rgcount, raw.features)
    }
}

impl From<Geometry> for RawGeometry {
    fn from(g: Geometry) -> Self {
        Self { agcount: g.agcount, rgcount: g.rgcount, features: g.features }
    }
}

#[cfg(test)]
mod ordering_tests {
    use super::*;

    fn ag(n: u32, kind: AgScrub) -> RepairTarget {
        RepairTarget::Ag { agno: AgNumber::try_from(n).unwrap(), kind }
    }
    fn rg(n: u32) -> RepairTarget {
        RepairTarget::RtGroup { rgno: RtGroupNumber::try_from(n).unwrap(), kind: RtGroupScrub::ALL[0] }
    }
    fn inode(n: u64, kind: InodeScrub) -> RepairTarget {
        RepairTarget::Inode { ino: InodeNumber::try_from(n).unwrap(), gen: 1, kind }
    }

    #[test]
    fn independent_targets_run_together_and_related_ones_wait() {
        let fs = RepairTarget::Fs { kind: FsScrub::NLinks };
        let counters = RepairTarget::Fs { kind: FsScrub::FsCounters };
        let (agf1, bno1, agf2) = (ag(1, AgScrub::Agf), ag(1, AgScrub::Bnobt), ag(2, AgScrub::Agf));
        let (core, dir, other) = (
            inode(131, InodeScrub::Core),
            inode(131, InodeScrub::Directory),
            inode(132, InodeScrub::Directory),
        );
        // Whole-filesystem structures run alone, both ways.
        for t in [agf1, core, rg(0), counters] {
            assert!(fs.must_wait_for(&t) && t.must_wait_for(&fs), "{t}");
        }
        // One group, one inode: one at a time.
        assert!(bno1.must_wait_for(&agf1) && agf1.must_wait_for(&bno1));
        assert!(dir.must_wait_for(&core) && core.must_wait_for(&dir));
        assert!(rg(3).must_wait_for(&rg(3)));
        // Different groups, different inodes, different scopes: together.
        for (a, b) in [(agf1, agf2), (dir, other), (rg(0), rg(1)), (agf1, core), (rg(0), agf1), (rg(0), core)]
        {
            assert!(!a.must_wait_for(&b) && !b.must_wait_for(&a), "{a} / {b}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_feature_bits_read_right() {
        assert_eq!(
            [Scope::Fs, Scope::Ag, Scope::RtGroup, Scope::Inode].map(|s| s.to_string()),
            ["filesystem", "AG", "rtgroup", "inode"]
        );
        assert_eq!(
            OutOfRange::AgNumber { agno: 4, agcount: 4 }.to_string(),
            "AG 4 does not exist (the filesystem has 4)"
        );
        assert_eq!(
            OutOfRange::RtGroupNumber { rgno: 2, rgcount: 1 }.to_string(),
            "rtgroup 2 does not exist (the filesystem has 1)"
        );
        let ino = InodeNumber::try_from(131).unwrap();
        let targets = [
            (RepairTarget::Fs { kind: FsScrub::NLinks }, "fs nlinks"),
            (RepairTarget::Ag { agno: AgNumber::try_from(10).unwrap(), kind: AgScrub::Agf }, "agno 0xa agf"),
            (
                RepairTarget::RtGroup {
                    rgno: RtGroupNumber::try_from(2).unwrap(),
                    kind: RtGroupScrub::Super,
                },
                "rgno 0x2 super",
            ),
            (RepairTarget::Inode { ino, gen: 0x1f, kind: InodeScrub::Core }, "ino 131 gen 0x1f core"),
        ];
        for (t, text) in targets {
            assert_eq!(t.to_string(), text);
        }
        let g = |features| Geometry::new(1, 0, features).unwrap();
        for (bit, has) in [
            (XFS_FSOP_GEOM_FLAGS_RMAPBT, Geometry::has_rmapbt as fn(&Geometry) -> bool),
            (XFS_FSOP_GEOM_FLAGS_PARENT, Geometry::has_parent_pointers),
            (XFS_FSOP_GEOM_FLAGS_REFLINK, Geometry::has_reflink),
        ] {
            assert!(has(&g(bit)), "{bit:#x}");
            assert!(!has(&g(0)), "{bit:#x}");
            assert!(!has(&g(!bit)), "{bit:#x} alone");
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_kernel_number() {
        for k in FsScrub::ALL {
            assert_eq!(FsScrub::try_from(k.scrub_type()), Ok(*k));
        }
        for k in AgScrub::ALL {
            assert_eq!(AgScrub::try_from(k.scrub_type()), Ok(*k));
        }
        for k in RtGroupScrub::ALL {
            assert_eq!(RtGroupScrub::try_from(k.scrub_type()), Ok(*k));
        }
        for k in InodeScrub::ALL {
            assert_eq!(InodeScrub::try_from(k.scrub_type()), Ok(*k));
        }
    }

    #[test]
    fn scopes_do_not_share_illegal_types() {
        // Each scope accepts exactly its own list; the rest of 0..=NR+1 is refused.
        let count = |f: &dyn Fn(u32) -> bool| (0..=XFS_SCRUB_TYPE_NR + 1).filter(|t| f(*t)).count();
        assert_eq!(count(&|t| FsScrub::try_from(t).is_ok()), FsScrub::ALL.len());
        assert_eq!(count(&|t| AgScrub::try_from(t).is_ok()), AgScrub::ALL.len());
        assert_eq!(count(&|t| RtGroupScrub::try_from(t).is_ok()), RtGroupScrub::ALL.len());
        assert_eq!(count(&|t| InodeScrub::try_from(t).is_ok()), InodeScrub::ALL.len());
        for t in [XFS_SCRUB_TYPE_PROBE, XFS_SCRUB_TYPE_HEALTHY, XFS_SCRUB_TYPE_METAPATH] {
            assert!(FsScrub::try_from(t).is_err());
            assert!(AgScrub::try_from(t).is_err());
            assert!(RtGroupScrub::try_from(t).is_err());
            assert!(InodeScrub::try_from(t).is_err());
        }
        assert_eq!(
            AgScrub::try_from(XFS_SCRUB_TYPE_DIR),
            Err(InvalidValue::ScrubTypeForScope { scope: Scope::Ag, scrub_type: 15 })
        );
    }

    #[test]
    fn null_numbers_are_refused() {
        assert_eq!(AgNumber::try_from(u32::MAX), Err(InvalidValue::NullAgNumber));
        assert_eq!(RtGroupNumber::try_from(u32::MAX), Err(InvalidValue::NullRtGroupNumber));
        assert_eq!(InodeNumber::try_from(0), Err(InvalidValue::InodeNumber(0)));
        assert_eq!(InodeNumber::try_from(u64::MAX), Err(InvalidValue::InodeNumber(u64::MAX)));
        assert!(Geometry::new(0, 0, 0).is_err());
    }

    #[test]
    fn scrub_metadata_per_scope() {
        let ag = RepairTarget::Ag { agno: AgNumber::try_from(3).unwrap(), kind: AgScrub::Inobt };
        assert_eq!(
            ag.to_scrub_metadata(),
            XfsScrubMetadata {
                sm_type: 7,
                sm_flags: 1,
                sm_ino: 0,
                sm_gen: 0,
                sm_agno: 3,
                sm_reserved: [0; 5]
            }
        );
        let ino = RepairTarget::Inode {
            ino: InodeNumber::try_from(0xa0080).unwrap(),
            gen: 0x51e9_6b42,
            kind: InodeScrub::Directory,
        };
        let sm = ino.to_scrub_metadata();
        assert_eq!((sm.sm_type, sm.sm_ino, sm.sm_gen, sm.sm_agno), (15, 0xa0080, 0x51e9_6b42, 0));
        let rg =
            RepairTarget::RtGroup { rgno: RtGroupNumber::try_from(2).unwrap(), kind: RtGroupScrub::Bitmap };
        assert_eq!((rg.to_scrub_metadata().sm_type, rg.to_scrub_metadata().sm_agno), (19, 2));
        let fs = RepairTarget::Fs { kind: FsScrub::NLinks };
        assert_eq!(fs.to_scrub_metadata().sm_type, 26);
        assert_eq!(fs.to_scrub_metadata().sm_flags, XFS_SCRUB_IFLAG_REPAIR);
    }

    #[test]
    fn geometry_bounds() {
        let g = Geometry::new(4, 2, XFS_FSOP_GEOM_FLAGS_RMAPBT).unwrap();
        let ag = |n| RepairTarget::Ag { agno: AgNumber::try_from(n).unwrap(), kind: AgScrub::Agf };
        let rg = |n| RepairTarget::RtGroup {
            rgno: RtGroupNumber::try_from(n).unwrap(),
            kind: RtGroupScrub::Super,
        };
        assert!(ag(3).check_geometry(&g).is_ok());
        assert_eq!(ag(4).check_geometry(&g), Err(OutOfRange::AgNumber { agno: 4, agcount: 4 }));
        assert!(rg(1).check_geometry(&g).is_ok());
        assert!(rg(2).check_geometry(&g).is_err());
        assert!(g.has_rmapbt() && !g.has_parent_pointers());
    }
}
