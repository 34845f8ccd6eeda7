//! Which repairs a SICK event asks for: one table per domain, mapping each sick-mask bit to
//! the scrub type that rebuilds it (reference §3.6, as shipped in xfs_healer 7.2.0).
//!
//! Bits with no scrub type (fs METADIR and METAPATH, AG INODES) cannot be spot-repaired; the
//! plan says so and the caller escalates to a full check. Only SICK events are planned:
//! CORRUPT was found by xfs_scrub, which handles it; HEALTHY needs nothing.

use xfs_heal_protocol::{
    uapi, AgNumber, AgScrub, FsScrub, InodeNumber, InodeScrub, RepairTarget, RtGroupNumber, RtGroupScrub,
};

use crate::event::{EventKind, HealthEvent, HealthStatus, MetadataObject};

/// FS-domain bit → whole-filesystem scrub type.
pub const FS_TABLE: &[(u32, Option<FsScrub>)] = &[
    (uapi::XFS_FSOP_GEOM_SICK_COUNTERS, Some(FsScrub::FsCounters)),
    (uapi::XFS_FSOP_GEOM_SICK_UQUOTA, Some(FsScrub::UserQuota)),
    (uapi::XFS_FSOP_GEOM_SICK_GQUOTA, Some(FsScrub::GroupQuota)),
    (uapi::XFS_FSOP_GEOM_SICK_PQUOTA, Some(FsScrub::ProjectQuota)),
    (uapi::XFS_FSOP_GEOM_SICK_RT_BITMAP, Some(FsScrub::RtBitmap)),
    (uapi::XFS_FSOP_GEOM_SICK_RT_SUMMARY, Some(FsScrub::RtSummary)),
    (uapi::XFS_FSOP_GEOM_SICK_QUOTACHECK, Some(FsScrub::QuotaCheck)),
    (uapi::XFS_FSOP_GEOM_SICK_NLINKS, Some(FsScrub::NLinks)),
    (uapi::XFS_FSOP_GEOM_SICK_METADIR, None),
    (uapi::XFS_FSOP_GEOM_SICK_METAPATH, None),
];

/// AG-domain bit → per-AG scrub type.
pub const AG_TABLE: &[(u32, Option<AgScrub>)] = &[
    (uapi::XFS_AG_GEOM_SICK_SB, Some(AgScrub::Super)),
    (uapi::XFS_AG_GEOM_SICK_AGF, Some(AgScrub::Agf)),
    (uapi::XFS_AG_GEOM_SICK_AGFL, Some(AgScrub::Agfl)),
    (uapi::XFS_AG_GEOM_SICK_AGI, Some(AgScrub::Agi)),
    (uapi::XFS_AG_GEOM_SICK_BNOBT, Some(AgScrub::Bnobt)),
    (uapi::XFS_AG_GEOM_SICK_CNTBT, Some(AgScrub::Cntbt)),
    (uapi::XFS_AG_GEOM_SICK_INOBT, Some(AgScrub::Inobt)),
    (uapi::XFS_AG_GEOM_SICK_FINOBT, Some(AgScrub::Finobt)),
    (uapi::XFS_AG_GEOM_SICK_RMAPBT, Some(AgScrub::Rmapbt)),
    (uapi::XFS_AG_GEOM_SICK_REFCNTBT, Some(AgScrub::Refcountbt)),
    // "A reclaimed inode in this AG was bad": indirect evidence, no structure to rebuild.
    (uapi::XFS_AG_GEOM_SICK_INODES, None),
];

/// RTGROUP-domain bit → per-rtgroup scrub type.
pub const RTGROUP_TABLE: &[(u32, Option<RtGroupScrub>)] = &[
    (uapi::XFS_RTGROUP_GEOM_SICK_SUPER, Some(RtGroupScrub::Super)),
    (uapi::XFS_RTGROUP_GEOM_SICK_BITMAP, Some(RtGroupScrub::Bitmap)),
    (uapi::XFS_RTGROUP_GEOM_SICK_SUMMARY, Some(RtGroupScrub::Summary)),
    (uapi::XFS_RTGROUP_GEOM_SICK_RMAPBT, Some(RtGroupScrub::Rmapbt)),
    (uapi::XFS_RTGROUP_GEOM_SICK_REFCNTBT, Some(RtGroupScrub::Refcountbt)),
];

/// INODE-domain bit → per-inode scrub type.
pub const INODE_TABLE: &[(u32, Option<InodeScrub>)] = &[
    (uapi::XFS_BS_SICK_INODE, Some(InodeScrub::Core)),
    (uapi::XFS_BS_SICK_BMBTD, Some(InodeScrub::DataFork)),
    (uapi::XFS_BS_SICK_BMBTA, Some(InodeScrub::AttrFork)),
    (uapi::XFS_BS_SICK_BMBTC, Some(InodeScrub::CowFork)),
    (uapi::XFS_BS_SICK_DIR, Some(InodeScrub::Directory)),
    (uapi::XFS_BS_SICK_XATTR, Some(InodeScrub::Xattr)),
    (uapi::XFS_BS_SICK_SYMLINK, Some(InodeScrub::Symlink)),
    (uapi::XFS_BS_SICK_PARENT, Some(InodeScrub::Parent)),
    (uapi::XFS_BS_SICK_DIRTREE, Some(InodeScrub::DirTree)),
];

/// What a SICK event asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairPlan {
    /// One repair per mapped bit, lowest bit first (xfs_healer's order).
    pub targets: Vec<RepairTarget>,
    /// Bits that no scrub type can fix, or whose object number cannot be addressed: these
    /// need a full check of the filesystem.
    pub needs_full_check: Vec<Unrepairable>,
}

/// A sick structure that no single repair call can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrepairable {
    pub domain: &'static str,
    pub structure: &'static str,
    pub why: &'static str,
}

fn walk<K: Copy>(
    table: &[(u32, Option<K>)],
    mask: u32,
    names: &[(u32, &'static str)],
    domain: &'static str,
    plan: &mut RepairPlan,
    mut target: impl FnMut(K) -> Option<RepairTarget>,
) {
    for &(bit, kind) in table {
        if mask & bit == 0 {
            continue;
        }
        let structure = names.iter().find(|(b, _)| *b == bit).map_or("?", |(_, n)| n);
        match kind {
            None => plan.needs_full_check.push(Unrepairable {
                domain,
                structure,
                why: "no online repair exists for this structure",
            }),
            Some(kind) => match target(kind) {
                Some(t) => plan.targets.push(t),
                None => plan.needs_full_check.push(Unrepairable {
                    domain,
                    structure,
                    why: "the event names an object that cannot be addressed",
                }),
            },
        }
    }
}

/// The repairs for one event; `None` unless it is a SICK metadata event.
pub fn plan(event: &HealthEvent) -> Option<RepairPlan> {
    match event.kind {
        EventKind::Metadata { status: HealthStatus::Sick, object } => Some(plan_object(object)),
        _ => None,
    }
}

/// The repair targets a metadata event of any status names (empty for other events): what
/// a HEALTHY report says is now fine.
pub fn targets_of(event: &HealthEvent) -> Vec<RepairTarget> {
    match event.kind {
        EventKind::Metadata { object, .. } => plan_object(object).targets,
        _ => Vec::new(),
    }
}

fn plan_object(object: MetadataObject) -> RepairPlan {
    use crate::event::{AgMask, FsMask, InodeMask, RtGroupMask};
    let mut plan = RepairPlan::default();
    match object {
        MetadataObject::Fs { mask } => {
            walk(FS_TABLE, mask.bits(), FsMask::BITS, "fs", &mut plan, |kind| {
                Some(RepairTarget::Fs { kind })
            });
        }
        MetadataObject::Ag { agno, mask } => {
            let agno = AgNumber::try_from(agno).ok();
            walk(AG_TABLE, mask.bits(), AgMask::BITS, "ag", &mut plan, |kind| {
                agno.map(|agno| RepairTarget::Ag { agno, kind })
            });
        }
        MetadataObject::RtGroup { rgno, mask } => {
            let rgno = RtGroupNumber::try_from(rgno).ok();
            walk(RTGROUP_TABLE, mask.bits(), RtGroupMask::BITS, "rtgroup", &mut plan, |kind| {
                rgno.map(|rgno| RepairTarget::RtGroup { rgno, kind })
            });
        }
        MetadataObject::Inode { ino, gen, mask } => {
            let ino = InodeNumber::try_from(ino).ok();
            walk(INODE_TABLE, mask.bits(), InodeMask::BITS, "inode", &mut plan, |kind| {
                ino.map(|ino| RepairTarget::Inode { ino, gen, kind })
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;

    fn sick(object: MetadataObject) -> HealthEvent {
        HealthEvent { time_ns: 1, kind: EventKind::Metadata { status: HealthStatus::Sick, object } }
    }

    /// Every defined bit of every domain has exactly one table row, in bit order, and maps
    /// to the scrub type the reference gives (or to none where the reference says so).
    #[test]
    fn tables_walk_every_defined_bit() {
        fn check<K: Copy>(table: &[(u32, Option<K>)], all: u32, ty: impl Fn(K) -> u32, want: &[Option<u32>]) {
            let bits: Vec<u32> = table.iter().map(|(b, _)| *b).collect();
            let expected: Vec<u32> = (0..32).map(|i| 1u32 << i).filter(|b| all & b != 0).collect();
            assert_eq!(bits, expected, "table rows must be the defined bits, in order");
            let got: Vec<Option<u32>> = table.iter().map(|(_, k)| k.map(&ty)).collect();
            assert_eq!(got, want);
        }
        check(
            FS_TABLE,
            uapi::XFS_FSOP_GEOM_SICK_ALL,
            FsScrub::scrub_type,
            &[Some(24), Some(21), Some(22), Some(23), Some(19), Some(20), Some(25), Some(26), None, None],
        );
        check(
            AG_TABLE,
            uapi::XFS_AG_GEOM_SICK_ALL,
            AgScrub::scrub_type,
            &[
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(8),
                Some(9),
                Some(10),
                None,
            ],
        );
        check(
            RTGROUP_TABLE,
            uapi::XFS_RTGROUP_GEOM_SICK_ALL,
            RtGroupScrub::scrub_type,
            &[Some(30), Some(19), Some(20), Some(31), Some(32)],
        );
        check(
            INODE_TABLE,
            uapi::XFS_BS_SICK_ALL,
            InodeScrub::scrub_type,
            &[Some(11), Some(12), Some(13), Some(14), Some(15), Some(16), Some(17), Some(18), Some(28)],
        );
    }

    #[test]
    fn every_single_bit_plans_one_repair_or_one_full_check() {
        for i in 0..FsMask::BITS.len() {
            let mask = FsMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::Fs { mask })).unwrap();
            assert_eq!(p.targets.len() + p.needs_full_check.len(), 1);
        }
        for i in 0..AgMask::BITS.len() {
            let mask = AgMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::Ag { agno: 1, mask })).unwrap();
            assert_eq!(p.targets.len() + p.needs_full_check.len(), 1);
        }
        for i in 0..RtGroupMask::BITS.len() {
            let mask = RtGroupMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::RtGroup { rgno: 1, mask })).unwrap();
            assert_eq!(p.targets.len(), 1);
        }
        for i in 0..InodeMask::BITS.len() {
            let mask = InodeMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::Inode { ino: 131, gen: 7, mask })).unwrap();
            assert_eq!(p.targets.len(), 1);
        }
    }

    #[test]
    fn multi_bit_event_plans_in_bit_order_and_flags_unmapped_bits() {
        let mask = AgMask::new(
            uapi::XFS_AG_GEOM_SICK_INODES | uapi::XFS_AG_GEOM_SICK_AGI | uapi::XFS_AG_GEOM_SICK_SB,
        )
        .unwrap();
        let p = plan(&sick(MetadataObject::Ag { agno: 2, mask })).unwrap();
        let agno = AgNumber::try_from(2).unwrap();
        assert_eq!(
            p.targets,
            vec![
                RepairTarget::Ag { agno, kind: AgScrub::Super },
                RepairTarget::Ag { agno, kind: AgScrub::Agi },
            ]
        );
        assert_eq!(p.needs_full_check.len(), 1);
        assert_eq!(p.needs_full_check[0].structure, "inodes");
    }

    #[test]
    fn only_sick_metadata_is_planned() {
        let mask = InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap();
        for status in [HealthStatus::Corrupt, HealthStatus::Healthy] {
            let e = HealthEvent {
                time_ns: 0,
                kind: EventKind::Metadata { status, object: MetadataObject::Inode { ino: 5, gen: 0, mask } },
            };
            assert_eq!(plan(&e), None);
        }
        assert_eq!(plan(&HealthEvent { time_ns: 0, kind: EventKind::Running }), None);
    }

    #[test]
    fn unaddressable_objects_need_a_full_check() {
        let mask = InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap();
        let p = plan(&sick(MetadataObject::Inode { ino: 0, gen: 0, mask })).unwrap();
        assert!(p.targets.is_empty());
        assert_eq!(p.needs_full_check.len(), 1);
        let mask = AgMask::new(uapi::XFS_AG_GEOM_SICK_AGF).unwrap();
        let p = plan(&sick(MetadataObject::Ag { agno: u32::MAX, mask })).unwrap();
        assert!(p.targets.is_empty());
    }
}
