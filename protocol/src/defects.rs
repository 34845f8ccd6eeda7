//! Known kernel defects that an online repair can trigger, kept as one reviewed table like
//! the repairer's seccomp table: which kernels, which filesystems, which repair, why, and
//! what to do instead.
//!
//! A self-healing daemon that crashes the kernel is worse than none. Both sides use this
//! table: the repairer works out at startup which entries apply to its kernel and its
//! filesystem ([`DefectSet::applicable`]), refuses the repairs they forbid, and tells the
//! monitor in `Hello`; the monitor then does not ask for them and reports why, once per
//! target. An operator who knows their kernel is fixed waives an entry by its key
//! (`--assume-fixed KEY` on the repairer), and the repairer logs that at startup.
//!
//! Kernel releases: an entry applies from the first affected release on, up to (not
//! including) the first fixed one, if any is known. A release string that does not start
//! with `MAJOR.MINOR` (an unknown or oddly named vendor kernel) is taken to be affected:
//! a vendor kernel may carry the defect in a backport whatever its number says, and a
//! wrong "affected" costs a repair, a wrong "fixed" may cost the machine.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::uapi::{XFS_FSOP_GEOM_FLAGS_METADIR, XFS_FSOP_GEOM_FLAGS_RMAPBT};
use crate::{Geometry, InodeScrub, RepairTarget};

/// A kernel release as `(major, minor, patch)`.
pub type Release = (u32, u32, u32);

/// Parses the start of `uname -r` ("7.3.4+deb13-cloud-amd64" → (7, 3, 4); a missing patch
/// level is 0). `None` when it does not start with `MAJOR.MINOR`.
pub fn parse_release(release: &str) -> Option<Release> {
    let mut parts = release.splitn(3, '.');
    let number = |s: Option<&str>| -> Option<u32> {
        let s = s?;
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    Some((major, minor, number(parts.next()).unwrap_or(0)))
}

/// The filesystems an entry applies to, in terms of the feature flags `XFS_IOC_FSGEOMETRY`
/// reports (`XFS_FSOP_GEOM_FLAGS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Every one of these bits is set...
    pub all_of: u32,
    /// ...and none of these.
    pub none_of: u32,
}

impl Trigger {
    pub const fn matches(&self, geometry: &Geometry) -> bool {
        geometry.features() & self.all_of == self.all_of && geometry.features() & self.none_of == 0
    }
}

/// One known defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defect {
    pub id: DefectId,
    /// The name operators and reports use (`--assume-fixed KEY`, `XFS_HEAL_DEFECT=`).
    pub key: &'static str,
    /// The first release known to have it.
    pub since: Release,
    /// The first release known to be fixed, if any.
    pub fixed_in: Option<Release>,
    pub trigger: Trigger,
    /// The one repair it forbids.
    pub forbids: InodeScrub,
    /// What happens if the repair is made anyway.
    pub reason: &'static str,
    /// What the operator should do instead.
    pub instead: &'static str,
}

impl Defect {
    /// Does this entry apply to `release` (from `uname -r`) and this filesystem?
    pub fn applies(&self, release: &str, geometry: &Geometry) -> bool {
        let affected = match parse_release(release) {
            None => true,
            Some(r) => r >= self.since && self.fixed_in.is_none_or(|fixed| r < fixed),
        };
        affected && self.trigger.matches(geometry)
    }

    pub fn forbids(&self, target: &RepairTarget) -> bool {
        matches!(target, RepairTarget::Inode { kind, .. } if *kind == self.forbids)
    }

    /// The repairer's reason for refusing, in its audit line.
    pub fn refusal(&self) -> String {
        format!("known kernel defect {}: {}", self.key, self.reason)
    }
}

/// The repairer's startup lines: each entry that applies to `release` and `geometry`, and
/// whether `guards` refuses its repairs or the operator waived it.
pub fn startup_lines(release: &str, geometry: &Geometry, guards: DefectSet) -> Vec<String> {
    DEFECTS
        .iter()
        .filter(|d| d.applies(release, geometry))
        .map(|d| {
            let what = if guards.contains(d.id) { "refusing" } else { "WAIVED by --assume-fixed: issuing" };
            format!(
                "known kernel defect {} applies (Linux {release}, this filesystem): {what} inode {} repairs",
                d.key,
                d.forbids.name()
            )
        })
        .collect()
}

/// The entries' identities; each is one bit of a [`DefectSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DefectId {
    RtgroupRmapNullCursor = 0,
}

/// The table. Review each entry against the kernel source before adding or changing it.
pub const DEFECTS: &[Defect] = &[Defect {
    id: DefectId::RtgroupRmapNullCursor,
    key: "inode-repair-rtgroup-rmap-null",
    // Inode-core repair learned to count realtime rmaps when the realtime rmap btree was
    // merged (6.14): on any filesystem with rmapbt it walks every in-memory realtime group
    // and queries that group's rmap cursor. The cursor is only made when the filesystem has
    // a realtime rmap btree, i.e. rtgroups (metadir), a realtime section and rmapbt. A
    // filesystem without metadir always has one in-memory realtime group (the kernel counts
    // the legacy realtime section as group 0, device or not), so with rmapbt and without
    // metadir the walk finds group 0, its cursor is NULL, and the query dereferences it
    // (seen on 7.3.4: xrep_dinode_count_rtgroup_rmaps -> xfs_rmap_query_all ->
    // xfs_btree_query_all, Oops at 0x28; the repairing process dies in the ioctl and the
    // unmount hangs). With metadir, groups exist only with a realtime section, and then the
    // realtime rmap btree does too. mkfs.xfs 7.2's defaults (rmapbt=1, metadir=0) make
    // exactly the affected kind.
    since: (6, 14, 0),
    fixed_in: None,
    trigger: Trigger { all_of: XFS_FSOP_GEOM_FLAGS_RMAPBT, none_of: XFS_FSOP_GEOM_FLAGS_METADIR },
    forbids: InodeScrub::Core,
    reason: "inode-core repair on a filesystem with rmapbt but without metadir dereferences a NULL realtime rmap cursor in this kernel (Oops; the unmount then hangs)",
    instead: "unmount it and run xfs_repair on the device",
}];

impl DefectId {
    pub fn entry(self) -> &'static Defect {
        DEFECTS.iter().find(|d| d.id == self).expect("every DefectId has a row in DEFECTS")
    }

    /// The entry named `key`, for `--assume-fixed`.
    pub fn from_key(key: &str) -> Option<Self> {
        DEFECTS.iter().find(|d| d.key == key).map(|d| d.id)
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl core::str::FromStr for DefectId {
    type Err = String;
    /// By key, for `--assume-fixed KEY`; the error lists the known keys.
    fn from_str(key: &str) -> Result<Self, String> {
        Self::from_key(key).ok_or_else(|| {
            let known: Vec<&str> = DEFECTS.iter().map(|d| d.key).collect();
            format!("no known kernel defect is called {key:?} (known: {})", known.join(", "))
        })
    }
}

impl fmt::Display for DefectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.entry().key)
    }
}

/// The defects guarded against on this kernel and filesystem: what the repairer refuses
/// and tells the monitor in `Hello`. Only bits of table entries can be held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct DefectSet(u32);

impl DefectSet {
    pub const NONE: Self = Self(0);

    /// The entries that apply to `release` and `geometry`, less those the operator waived.
    pub fn applicable(release: &str, geometry: &Geometry, waived: &[DefectId]) -> Self {
        Self(
            DEFECTS
                .iter()
                .filter(|d| d.applies(release, geometry) && !waived.contains(&d.id))
                .fold(0, |bits, d| bits | d.id.bit()),
        )
    }

    pub const fn contains(self, id: DefectId) -> bool {
        self.0 & id.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = &'static Defect> {
        DEFECTS.iter().filter(move |d| self.contains(d.id))
    }

    /// The guarded defect that forbids repairing `target`, if any.
    pub fn forbidding(self, target: &RepairTarget) -> Option<&'static Defect> {
        self.iter().find(|d| d.forbids(target))
    }
}

impl TryFrom<u32> for DefectSet {
    type Error = crate::InvalidValue;
    fn try_from(bits: u32) -> Result<Self, Self::Error> {
        let known = DEFECTS.iter().fold(0, |all, d| all | d.id.bit());
        if bits & !known != 0 {
            return Err(crate::InvalidValue::DefectSet(bits));
        }
        Ok(Self(bits))
    }
}

impl From<DefectSet> for u32 {
    fn from(set: DefectSet) -> u32 {
        set.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::XFS_FSOP_GEOM_FLAGS_REFLINK;
    use crate::{AgNumber, AgScrub, InodeNumber};

    const METADIR_RMAP: u32 = XFS_FSOP_GEOM_FLAGS_METADIR | XFS_FSOP_GEOM_FLAGS_RMAPBT;

    fn geometry(rgcount: u32, features: u32) -> Geometry {
        Geometry::new(4, rgcount, features).unwrap()
    }

    fn inode(kind: InodeScrub) -> RepairTarget {
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 1, kind }
    }

    #[test]
    fn releases_parse_from_the_start_of_uname() {
        assert_eq!(parse_release("7.3.4+deb13-cloud-amd64"), Some((7, 3, 4)));
        assert_eq!(parse_release("6.18.44-fc-v782"), Some((6, 18, 44)));
        assert_eq!(parse_release("6.14"), Some((6, 14, 0)));
        assert_eq!(parse_release("6.14-rc1"), Some((6, 14, 0)));
        assert_eq!(parse_release("5.14.0-427.el9.x86_64"), Some((5, 14, 0)));
        assert_eq!(parse_release("vendor-kernel"), None);
        assert_eq!(parse_release("7"), None);
        assert_eq!(parse_release(""), None);
    }

    #[test]
    fn the_rtgroup_rmap_defect_applies_exactly_to_its_kernels_and_filesystems() {
        let d = DefectId::RtgroupRmapNullCursor.entry();
        // mkfs.xfs 7.2's defaults: rmapbt and reflink, no metadir, no realtime section.
        let default_72 = geometry(0, XFS_FSOP_GEOM_FLAGS_RMAPBT | XFS_FSOP_GEOM_FLAGS_REFLINK);
        assert!(d.applies("7.3.4+deb13-cloud-amd64", &default_72));
        assert!(d.applies("6.14.0", &default_72));
        assert!(!d.applies("6.13.12", &default_72), "inode repair did not read rt rmaps before 6.14");
        assert!(d.applies("a vendor kernel", &default_72), "unknown releases count as affected");
        // The legacy realtime group 0 exists with or without a realtime device.
        assert!(d.applies("7.3.4", &geometry(1, XFS_FSOP_GEOM_FLAGS_RMAPBT)));
        assert!(
            !d.applies("7.3.4", &geometry(1, METADIR_RMAP)),
            "metadir with a realtime section has the cursor"
        );
        assert!(!d.applies("7.3.4", &geometry(0, METADIR_RMAP)), "metadir without one has no group to walk");
        assert!(
            !d.applies("7.3.4", &geometry(0, XFS_FSOP_GEOM_FLAGS_REFLINK)),
            "no rmapbt: repair says EOPNOTSUPP"
        );
        let fixed = Defect { fixed_in: Some((7, 4, 0)), ..*d };
        assert!(fixed.applies("7.3.9", &default_72));
        assert!(!fixed.applies("7.4.0", &default_72));
    }

    #[test]
    fn only_inode_core_repairs_are_forbidden() {
        let set = DefectSet::applicable("7.3.4", &geometry(0, XFS_FSOP_GEOM_FLAGS_RMAPBT), &[]);
        assert!(set.contains(DefectId::RtgroupRmapNullCursor));
        assert_eq!(
            set.forbidding(&inode(InodeScrub::Core)).map(|d| d.id),
            Some(DefectId::RtgroupRmapNullCursor)
        );
        for kind in InodeScrub::ALL.iter().filter(|k| **k != InodeScrub::Core) {
            assert_eq!(set.forbidding(&inode(*kind)), None, "{kind:?}");
        }
        let agno = AgNumber::try_from(0).unwrap();
        assert_eq!(set.forbidding(&RepairTarget::Ag { agno, kind: AgScrub::Inobt }), None);
        assert_eq!(DefectSet::NONE.forbidding(&inode(InodeScrub::Core)), None);
    }

    #[test]
    fn screening_refuses_out_of_range_numbers_before_defects() {
        use crate::Refusal;
        let g = geometry(0, XFS_FSOP_GEOM_FLAGS_RMAPBT);
        let set = DefectSet::applicable("7.3.4", &g, &[]);
        let (refusal, why) = Refusal::screen(&inode(InodeScrub::Core), &g, set).unwrap();
        assert_eq!(refusal, Refusal::KnownKernelDefect(DefectId::RtgroupRmapNullCursor));
        assert_eq!(why, DefectId::RtgroupRmapNullCursor.entry().refusal());
        assert_eq!(Refusal::screen(&inode(InodeScrub::Core), &g, DefectSet::NONE), None);
        assert_eq!(Refusal::screen(&inode(InodeScrub::DataFork), &g, set), None);
        let beyond = RepairTarget::Ag { agno: AgNumber::try_from(4).unwrap(), kind: AgScrub::Inobt };
        let (refusal, why) = Refusal::screen(&beyond, &g, set).unwrap();
        assert!(matches!(refusal, Refusal::OutOfRange(_)), "{refusal:?}");
        assert_eq!(why, beyond.check_geometry(&g).unwrap_err().to_string());
        let inside = RepairTarget::Ag { agno: AgNumber::try_from(3).unwrap(), kind: AgScrub::Inobt };
        assert_eq!(Refusal::screen(&inside, &g, set), None);
    }

    #[test]
    fn startup_lines_say_refused_or_waived() {
        let g = geometry(0, XFS_FSOP_GEOM_FLAGS_RMAPBT);
        let guarded = DefectSet::applicable("7.3.4", &g, &[]);
        assert_eq!(
            startup_lines("7.3.4", &g, guarded),
            ["known kernel defect inode-repair-rtgroup-rmap-null applies (Linux 7.3.4, this filesystem): refusing inode core repairs"]
        );
        assert!(startup_lines("7.3.4", &g, DefectSet::NONE)[0].contains("WAIVED by --assume-fixed: issuing"));
        assert!(startup_lines("6.13.1", &g, DefectSet::NONE).is_empty());
        let e = "nope".parse::<DefectId>().unwrap_err();
        assert_eq!(e, "no known kernel defect is called \"nope\" (known: inode-repair-rtgroup-rmap-null)");
    }

    #[test]
    fn a_waived_entry_is_not_guarded() {
        let id = DefectId::from_key("inode-repair-rtgroup-rmap-null").unwrap();
        let set = DefectSet::applicable("7.3.4", &geometry(0, XFS_FSOP_GEOM_FLAGS_RMAPBT), &[id]);
        assert_eq!(set, DefectSet::NONE);
        assert_eq!(DefectId::from_key("no-such-defect"), None);
    }

    #[test]
    fn every_id_has_one_row_and_keys_are_unique() {
        for (i, d) in DEFECTS.iter().enumerate() {
            assert_eq!(d.id.entry(), d);
            assert!(DEFECTS[i + 1..].iter().all(|o| o.key != d.key && o.id != d.id));
            assert!(d.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
    }

    #[test]
    fn a_set_holds_only_table_bits() {
        assert_eq!(DefectSet::try_from(1), Ok(DefectSet(1)));
        assert!(DefectSet::try_from(2).is_err());
        assert!(DefectSet::try_from(u32::MAX).is_err());
    }
}
