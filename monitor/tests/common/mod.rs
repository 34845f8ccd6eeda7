//! Builders shared by the monitor's integration tests.
#![allow(dead_code)]

use proptest::prelude::*;
use xfs_heal_monitor::event::*;

pub fn capture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One event of every kind the ABI defines.
pub fn one_of_each() -> Vec<HealthEvent> {
    let ev = |kind| HealthEvent { time_ns: 0x18ea_d76a_6b50_345f, kind };
    let md = |status, object| ev(EventKind::Metadata { status, object });
    let mut v = vec![
        ev(EventKind::Running),
        ev(EventKind::Lost { count: 585 }),
        ev(EventKind::Shutdown { reasons: ShutdownReasons::new(0x3f).unwrap() }),
        ev(EventKind::Unmount),
    ];
    for status in [HealthStatus::Sick, HealthStatus::Corrupt, HealthStatus::Healthy] {
        v.push(md(status, MetadataObject::Fs { mask: FsMask::new(0x3ff).unwrap() }));
        v.push(md(status, MetadataObject::Ag { agno: 3, mask: AgMask::new(0x7ff).unwrap() }));
        v.push(md(status, MetadataObject::RtGroup { rgno: 1, mask: RtGroupMask::new(0x1f).unwrap() }));
        v.push(md(
            status,
            MetadataObject::Inode { ino: 0xa0080, gen: 0x51e9_6b42, mask: InodeMask::new(0x1ff).unwrap() },
        ));
    }
    for device in [Device::Data, Device::Rt, Device::Log] {
        v.push(ev(EventKind::Media { device, daddr: 0x1000, bbcount: 8 }));
    }
    for kind in [
        FileIoKind::BufferedRead,
        FileIoKind::BufferedWrite,
        FileIoKind::DirectRead,
        FileIoKind::DirectWrite,
        FileIoKind::DataLost,
    ] {
        let error = if kind == FileIoKind::DataLost { 0 } else { 5 };
        v.push(ev(EventKind::FileIo { kind, ino: 131, gen: 9, pos: 4096, len: 8192, error }));
    }
    v
}

fn mask<T: std::fmt::Debug + Clone + 'static>(
    all: u32,
    new: fn(u32) -> Result<T, u32>,
) -> impl Strategy<Value = T> {
    (1..=all).prop_filter_map("defined bits only", move |m| new(m & all).ok())
}

/// Any event the ABI can express.
pub fn any_event() -> impl Strategy<Value = HealthEvent> {
    let status =
        prop_oneof![Just(HealthStatus::Sick), Just(HealthStatus::Corrupt), Just(HealthStatus::Healthy)];
    let object = prop_oneof![
        mask(FsMask::ALL, FsMask::new).prop_map(|mask| MetadataObject::Fs { mask }),
        (any::<u32>(), mask(AgMask::ALL, AgMask::new))
            .prop_map(|(agno, mask)| MetadataObject::Ag { agno, mask }),
        (any::<u32>(), mask(RtGroupMask::ALL, RtGroupMask::new))
            .prop_map(|(rgno, mask)| MetadataObject::RtGroup { rgno, mask }),
        (any::<u64>(), any::<u32>(), mask(InodeMask::ALL, InodeMask::new))
            .prop_map(|(ino, gen, mask)| MetadataObject::Inode { ino, gen, mask }),
    ];
    let device = prop_oneof![Just(Device::Data), Just(Device::Rt), Just(Device::Log)];
    let io = prop_oneof![
        Just(FileIoKind::BufferedRead),
        Just(FileIoKind::BufferedWrite),
        Just(FileIoKind::DirectRead),
        Just(FileIoKind::DirectWrite),
        Just(FileIoKind::DataLost)
    ];
    let kind = prop_oneof![
        Just(EventKind::Running),
        Just(EventKind::Unmount),
        (1..u64::MAX).prop_map(|count| EventKind::Lost { count }),
        mask(ShutdownReasons::ALL, ShutdownReasons::new).prop_map(|reasons| EventKind::Shutdown { reasons }),
        (status, object).prop_map(|(status, object)| EventKind::Metadata { status, object }),
        (device, any::<u64>(), any::<u64>())
            .prop_map(|(device, daddr, bbcount)| { EventKind::Media { device, daddr, bbcount } }),
        (io, any::<u64>(), any::<u32>(), any::<u64>(), any::<u64>(), 0u32..4096).prop_map(
            |(kind, ino, gen, pos, len, error)| EventKind::FileIo { kind, ino, gen, pos, len, error }
        ),
    ];
    (any::<u64>(), kind).prop_map(|(time_ns, kind)| HealthEvent { time_ns, kind })
}
