//! One table per health domain: each sick-mask bit the kernel defines, once, with the name
//! reports use (xfs_healer's), the names the pre-7.0 JSON format used, and what repairs it.
//! The mask types (`event.rs`), the repair plan (`policy.rs`), the JSON decoder and the
//! sweep list (`engine.rs`) all read these rows; nothing else lists the bits.

use xfs_heal_protocol::{uapi, AgScrub, FsScrub, InodeScrub, RtGroupScrub};

/// What a sick bit asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix<K> {
    /// One `XFS_IOC_SCRUB_METADATA` call of this kind.
    Scrub(K),
    /// No scrub type rebuilds it: only a full check can.
    FullCheck,
}

/// One sick-mask bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<K: 'static> {
    pub bit: u32,
    /// The structure's name in reports, as xfs_healer prints it.
    pub name: &'static str,
    /// The JSON format's domain for this bit, and the names it used for it (the kernel also
    /// emitted "zapped" variants the old schema omitted).
    pub json_domain: &'static str,
    pub json_names: &'static [&'static str],
    pub fix: Fix<K>,
    /// Part of the engine's sweep of filesystem and group metadata.
    pub swept: bool,
}

const fn row<K: Copy>(
    bit: u32,
    name: &'static str,
    json_domain: &'static str,
    json_names: &'static [&'static str],
    fix: Fix<K>,
) -> Row<K> {
    let swept = matches!(fix, Fix::Scrub(_));
    Row { bit, name, json_domain, json_names, fix, swept }
}

impl<K: Copy> Row<K> {
    const fn unswept(self) -> Self {
        Self { swept: false, ..self }
    }

    /// The scrub kind, if this row is part of a sweep.
    pub const fn sweep_kind(&self) -> Option<K> {
        match self.fix {
            Fix::Scrub(k) if self.swept => Some(k),
            _ => None,
        }
    }
}

use Fix::{FullCheck, Scrub};

/// Whole-filesystem structures (`XFS_FSOP_GEOM_SICK_*`). The legacy realtime bitmap and
/// summary were a domain of their own ("realtime") in the JSON format.
pub const FS: &[Row<FsScrub>] = &[
    row(uapi::XFS_FSOP_GEOM_SICK_COUNTERS, "fscounters", "fs", &["fscounters"], Scrub(FsScrub::FsCounters)),
    row(uapi::XFS_FSOP_GEOM_SICK_UQUOTA, "usrquota", "fs", &["usrquota"], Scrub(FsScrub::UserQuota)),
    row(uapi::XFS_FSOP_GEOM_SICK_GQUOTA, "grpquota", "fs", &["grpquota"], Scrub(FsScrub::GroupQuota)),
    row(uapi::XFS_FSOP_GEOM_SICK_PQUOTA, "prjquota", "fs", &["prjquota"], Scrub(FsScrub::ProjectQuota)),
    // The legacy realtime section's bitmap and summary: repaired when reported, not swept.
    row(uapi::XFS_FSOP_GEOM_SICK_RT_BITMAP, "bitmap", "realtime", &["bitmap"], Scrub(FsScrub::RtBitmap))
        .unswept(),
    row(uapi::XFS_FSOP_GEOM_SICK_RT_SUMMARY, "summary", "realtime", &["summary"], Scrub(FsScrub::RtSummary))
        .unswept(),
    row(uapi::XFS_FSOP_GEOM_SICK_QUOTACHECK, "quotacheck", "fs", &["quotacheck"], Scrub(FsScrub::QuotaCheck)),
    row(uapi::XFS_FSOP_GEOM_SICK_NLINKS, "nlinks", "fs", &["nlinks"], Scrub(FsScrub::NLinks)),
    row(uapi::XFS_FSOP_GEOM_SICK_METADIR, "metadir", "fs", &["metadir"], FullCheck),
    row(uapi::XFS_FSOP_GEOM_SICK_METAPATH, "metapath", "fs", &["metapath"], FullCheck),
];

/// Allocation-group structures (`XFS_AG_GEOM_SICK_*`).
pub const AG: &[Row<AgScrub>] = &[
    row(uapi::XFS_AG_GEOM_SICK_SB, "super", "perag", &["super"], Scrub(AgScrub::Super)),
    row(uapi::XFS_AG_GEOM_SICK_AGF, "agf", "perag", &["agf"], Scrub(AgScrub::Agf)),
    row(uapi::XFS_AG_GEOM_SICK_AGFL, "agfl", "perag", &["agfl"], Scrub(AgScrub::Agfl)),
    row(uapi::XFS_AG_GEOM_SICK_AGI, "agi", "perag", &["agi"], Scrub(AgScrub::Agi)),
    row(uapi::XFS_AG_GEOM_SICK_BNOBT, "bnobt", "perag", &["bnobt"], Scrub(AgScrub::Bnobt)),
    row(uapi::XFS_AG_GEOM_SICK_CNTBT, "cntbt", "perag", &["cntbt"], Scrub(AgScrub::Cntbt)),
    row(uapi::XFS_AG_GEOM_SICK_INOBT, "inobt", "perag", &["inobt"], Scrub(AgScrub::Inobt)),
    row(uapi::XFS_AG_GEOM_SICK_FINOBT, "finobt", "perag", &["finobt"], Scrub(AgScrub::Finobt)),
    row(uapi::XFS_AG_GEOM_SICK_RMAPBT, "rmapbt", "perag", &["rmapbt"], Scrub(AgScrub::Rmapbt)),
    row(uapi::XFS_AG_GEOM_SICK_REFCNTBT, "refcountbt", "perag", &["refcountbt"], Scrub(AgScrub::Refcountbt)),
    // "A reclaimed inode in this AG was bad": indirect evidence, no structure to rebuild.
    row(uapi::XFS_AG_GEOM_SICK_INODES, "inodes", "perag", &["inodes"], FullCheck),
];

/// Realtime-group structures (`XFS_RTGROUP_GEOM_SICK_*`).
pub const RTGROUP: &[Row<RtGroupScrub>] = &[
    row(uapi::XFS_RTGROUP_GEOM_SICK_SUPER, "super", "rtgroup", &["super"], Scrub(RtGroupScrub::Super)),
    row(uapi::XFS_RTGROUP_GEOM_SICK_BITMAP, "bitmap", "rtgroup", &["bitmap"], Scrub(RtGroupScrub::Bitmap)),
    row(
        uapi::XFS_RTGROUP_GEOM_SICK_SUMMARY,
        "summary",
        "rtgroup",
        &["summary"],
        Scrub(RtGroupScrub::Summary),
    ),
    row(uapi::XFS_RTGROUP_GEOM_SICK_RMAPBT, "rmapbt", "rtgroup", &["rmapbt"], Scrub(RtGroupScrub::Rmapbt)),
    row(
        uapi::XFS_RTGROUP_GEOM_SICK_REFCNTBT,
        "refcountbt",
        "rtgroup",
        &["refcountbt"],
        Scrub(RtGroupScrub::Refcountbt),
    ),
];

/// Inode structures (`XFS_BS_SICK_*`).
pub const INODE: &[Row<InodeScrub>] = &[
    row(uapi::XFS_BS_SICK_INODE, "core", "inode", &["core"], Scrub(InodeScrub::Core)),
    row(
        uapi::XFS_BS_SICK_BMBTD,
        "datafork",
        "inode",
        &["bmapbtd", "bmapbtd_zapped"],
        Scrub(InodeScrub::DataFork),
    ),
    row(
        uapi::XFS_BS_SICK_BMBTA,
        "attrfork",
        "inode",
        &["bmapbta", "bmapbta_zapped"],
        Scrub(InodeScrub::AttrFork),
    ),
    row(uapi::XFS_BS_SICK_BMBTC, "cowfork", "inode", &["bmapbtc"], Scrub(InodeScrub::CowFork)),
    row(
        uapi::XFS_BS_SICK_DIR,
        "directory",
        "inode",
        &["directory", "directory_zapped"],
        Scrub(InodeScrub::Directory),
    ),
    row(uapi::XFS_BS_SICK_XATTR, "xattr", "inode", &["xattr"], Scrub(InodeScrub::Xattr)),
    row(
        uapi::XFS_BS_SICK_SYMLINK,
        "symlink",
        "inode",
        &["symlink", "symlink_zapped"],
        Scrub(InodeScrub::Symlink),
    ),
    row(uapi::XFS_BS_SICK_PARENT, "parent", "inode", &["parent"], Scrub(InodeScrub::Parent)),
    row(uapi::XFS_BS_SICK_DIRTREE, "dirtree", "inode", &["dirtree"], Scrub(InodeScrub::DirTree)),
];

/// The union of a table's bits.
pub const fn all_bits<K>(rows: &[Row<K>]) -> u32 {
    let mut all = 0;
    let mut i = 0;
    while i < rows.len() {
        all |= rows[i].bit;
        i += 1;
    }
    all
}

/// The mask a JSON object's `structures` names in `domain`, or the first unknown name.
pub fn json_mask<'a, K>(
    rows: &[Row<K>],
    domain: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<u32, &'a str> {
    names.into_iter().try_fold(0, |mask, name| {
        rows.iter()
            .find(|r| r.json_domain == domain && r.json_names.contains(&name))
            .map(|r| mask | r.bit)
            .ok_or(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bit the kernel defines for a domain has exactly one row, in bit order, with
    /// a name of its own; and each row's scrub type is the one the reference gives.
    #[test]
    fn every_kernel_bit_appears_exactly_once() {
        fn check<K: Copy>(rows: &[Row<K>], kernel_all: u32, ty: impl Fn(K) -> u32, want: &[Option<u32>]) {
            let bits: Vec<u32> = rows.iter().map(|r| r.bit).collect();
            let expected: Vec<u32> = (0..32).map(|i| 1u32 << i).filter(|b| kernel_all & b != 0).collect();
            assert_eq!(bits, expected, "one row per defined bit, in order");
            assert_eq!(all_bits(rows), kernel_all);
            for (i, r) in rows.iter().enumerate() {
                assert!(rows[i + 1..].iter().all(|o| o.name != r.name), "{} named twice", r.name);
                assert!(!r.json_names.is_empty());
            }
            let got: Vec<Option<u32>> = rows
                .iter()
                .map(|r| match r.fix {
                    Scrub(k) => Some(ty(k)),
                    FullCheck => None,
                })
                .collect();
            assert_eq!(got, want);
        }
        check(
            FS,
            uapi::XFS_FSOP_GEOM_SICK_ALL,
            FsScrub::scrub_type,
            &[Some(24), Some(21), Some(22), Some(23), Some(19), Some(20), Some(25), Some(26), None, None],
        );
        let ag: Vec<Option<u32>> = (1..=10).map(Some).chain([None]).collect();
        check(AG, uapi::XFS_AG_GEOM_SICK_ALL, AgScrub::scrub_type, &ag);
        check(
            RTGROUP,
            uapi::XFS_RTGROUP_GEOM_SICK_ALL,
            RtGroupScrub::scrub_type,
            &[Some(30), Some(19), Some(20), Some(31), Some(32)],
        );
        check(
            INODE,
            uapi::XFS_BS_SICK_ALL,
            InodeScrub::scrub_type,
            &[Some(11), Some(12), Some(13), Some(14), Some(15), Some(16), Some(17), Some(18), Some(28)],
        );
    }

    /// A row's report name is its scrub kind's own name (protocol's, which the repairer's
    /// audit lines use), so the two can never disagree.
    #[test]
    fn report_names_are_the_scrub_kinds_names() {
        fn check<K: Copy>(rows: &[Row<K>], kind_name: impl Fn(K) -> &'static str) {
            for r in rows {
                if let Scrub(k) = r.fix {
                    assert_eq!(r.name, kind_name(k));
                }
            }
        }
        check(FS, FsScrub::name);
        check(AG, AgScrub::name);
        check(RTGROUP, RtGroupScrub::name);
        check(INODE, InodeScrub::name);
    }

    #[test]
    fn json_names_map_to_bits_within_their_domain() {
        assert_eq!(
            json_mask(INODE, "inode", ["core", "directory_zapped"]),
            Ok(uapi::XFS_BS_SICK_INODE | uapi::XFS_BS_SICK_DIR)
        );
        assert_eq!(json_mask(FS, "realtime", ["bitmap"]), Ok(uapi::XFS_FSOP_GEOM_SICK_RT_BITMAP));
        assert_eq!(json_mask(FS, "fs", ["bitmap"]), Err("bitmap"), "bitmap is a realtime-domain name");
        assert_eq!(json_mask(AG, "perag", ["agf", "nope"]), Err("nope"));
    }
}
