//! Which repairs a SICK event asks for, read from `domains`' table of each sick-mask bit.
//!
//! Bits with no scrub type (fs METADIR and METAPATH, AG INODES) cannot be spot-repaired; the
//! plan says so and the caller escalates to a full check. Only SICK events are planned:
//! CORRUPT was found by xfs_scrub, which handles it; HEALTHY needs nothing.

use xfs_heal_protocol::{AgNumber, InodeNumber, RepairTarget, RtGroupNumber};

use crate::domains::{self, Fix, Row};

use crate::event::{EventKind, HealthEvent, HealthStatus, MetadataObject};

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
    rows: &[Row<K>],
    mask: u32,
    domain: &'static str,
    plan: &mut RepairPlan,
    mut target: impl FnMut(K) -> Option<RepairTarget>,
) {
    for row in rows.iter().filter(|r| mask & r.bit != 0) {
        let structure = row.name;
        match row.fix {
            Fix::FullCheck => plan.needs_full_check.push(Unrepairable {
                domain,
                structure,
                why: "no online repair exists for this structure",
            }),
            Fix::Scrub(kind) => match target(kind) {
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
    let mut plan = RepairPlan::default();
    match object {
        MetadataObject::Fs { mask } => {
            walk(domains::FS, mask.bits(), "fs", &mut plan, |kind| Some(RepairTarget::Fs { kind }));
        }
        MetadataObject::Ag { agno, mask } => {
            let agno = AgNumber::try_from(agno).ok();
            walk(domains::AG, mask.bits(), "ag", &mut plan, |kind| {
                agno.map(|agno| RepairTarget::Ag { agno, kind })
            });
        }
        MetadataObject::RtGroup { rgno, mask } => {
            let rgno = RtGroupNumber::try_from(rgno).ok();
            walk(domains::RTGROUP, mask.bits(), "rtgroup", &mut plan, |kind| {
                rgno.map(|rgno| RepairTarget::RtGroup { rgno, kind })
            });
        }
        MetadataObject::Inode { ino, gen, mask } => {
            let ino = InodeNumber::try_from(ino).ok();
            walk(domains::INODE, mask.bits(), "inode", &mut plan, |kind| {
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
    use xfs_heal_protocol::{uapi, AgScrub};

    fn sick(object: MetadataObject) -> HealthEvent {
        HealthEvent { time_ns: 1, kind: EventKind::Metadata { status: HealthStatus::Sick, object } }
    }

    #[test]
    fn every_single_bit_plans_one_repair_or_one_full_check() {
        for i in 0..domains::FS.len() {
            let mask = FsMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::Fs { mask })).unwrap();
            assert_eq!(p.targets.len() + p.needs_full_check.len(), 1);
        }
        for i in 0..domains::AG.len() {
            let mask = AgMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::Ag { agno: 1, mask })).unwrap();
            assert_eq!(p.targets.len() + p.needs_full_check.len(), 1);
        }
        for i in 0..domains::RTGROUP.len() {
            let mask = RtGroupMask::new(1 << i).unwrap();
            let p = plan(&sick(MetadataObject::RtGroup { rgno: 1, mask })).unwrap();
            assert_eq!(p.targets.len(), 1);
        }
        for i in 0..domains::INODE.len() {
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
