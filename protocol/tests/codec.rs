//! Wire-format tests: golden bytes pin the encoding; property tests show that every message
//! round-trips and that no byte string makes the decoder panic or over-allocate.

use proptest::prelude::*;
use xfs_heal_protocol::codec::{self, CodecError, MAX_PAYLOAD};
use xfs_heal_protocol::defects::{DefectId, DefectSet};
use xfs_heal_protocol::*;

fn ag_request() -> MonitorToRepairer {
    MonitorToRepairer::Repair(RepairRequest {
        id: RequestId(7),
        target: RepairTarget::Ag { agno: AgNumber::try_from(3).unwrap(), kind: AgScrub::Inobt },
    })
}

#[rustfmt::skip]
const AG_REQUEST_FRAME: &[u8] = &[
    26, 0, 0, 0,              // payload length
    3, 0,                     // protocol version
    0, 0, 0, 0,               // MonitorToRepairer::Repair
    7, 0, 0, 0, 0, 0, 0, 0,   // id
    1, 0, 0, 0,               // RepairTarget::Ag
    3, 0, 0, 0,               // agno
    7, 0, 0, 0,               // XFS_SCRUB_TYPE_INOBT
];

#[test]
fn golden_repair_request() {
    assert_eq!(codec::encode(&ag_request()).unwrap(), AG_REQUEST_FRAME);
    let (msg, used) = codec::decode_frame::<MonitorToRepairer>(AG_REQUEST_FRAME).unwrap();
    assert_eq!((msg, used), (ag_request(), AG_REQUEST_FRAME.len()));
}

#[test]
fn golden_inode_request() {
    let msg = MonitorToRepairer::Repair(RepairRequest {
        id: RequestId(0x0102),
        target: RepairTarget::Inode {
            ino: InodeNumber::try_from(0xa0080).unwrap(),
            gen: 0x51e9_6b42,
            kind: InodeScrub::Directory,
        },
    });
    #[rustfmt::skip]
    let want: &[u8] = &[
        34, 0, 0, 0, 3, 0,
        0, 0, 0, 0,
        2, 1, 0, 0, 0, 0, 0, 0,
        3, 0, 0, 0,                       // RepairTarget::Inode
        0x80, 0, 0x0a, 0, 0, 0, 0, 0,     // ino
        0x42, 0x6b, 0xe9, 0x51,           // gen
        15, 0, 0, 0,                      // XFS_SCRUB_TYPE_DIR
    ];
    assert_eq!(codec::encode(&msg).unwrap(), want);
}

#[test]
fn golden_reply() {
    let msg = RepairerToMonitor::Reply(RepairReply {
        id: RequestId(9),
        oflags: ScrubOutFlags::try_from(0x80).unwrap(),
        outcome: RepairOutcome::KernelError(Errno::EOPNOTSUPP),
    });
    #[rustfmt::skip]
    let want: &[u8] = &[
        26, 0, 0, 0, 3, 0,
        1, 0, 0, 0,                 // RepairerToMonitor::Reply
        9, 0, 0, 0, 0, 0, 0, 0,     // id
        0x80, 0, 0, 0,              // oflags
        4, 0, 0, 0,                 // RepairOutcome::KernelError
        95, 0, 0, 0,                // EOPNOTSUPP
    ];
    assert_eq!(codec::encode(&msg).unwrap(), want);
}

fn sample_hello() -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        mountpoint: MountPath::try_from("/mnt".to_string()).unwrap(),
        identity: FsIdentity {
            mount_id: 0x1_0000_0042,
            root: FsHandle::new(1, &[0x80, 0, 0, 0, 7, 0, 0, 0]).unwrap(),
        },
        uuid: [0xab; 16],
        geometry: Geometry::new(4, 0, 0x8_0000).unwrap(),
        online_repair: OnlineRepair::Unsupported(Errno::EOPNOTSUPP),
        autofsck: Autofsck::Repair,
        event_source: EventSource::KernelMonitor,
        guards: DefectSet::try_from(1).unwrap(),
        names: names::Naming::On,
    }
}

#[test]
fn golden_hello() {
    let frame = codec::encode(&RepairerToMonitor::Hello(sample_hello())).unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[101u8, 0, 0, 0, 3, 0][..],
        &[0, 0, 0, 0],                          // RepairerToMonitor::Hello
        &[3, 0],                                // protocol_version
        &[4, 0, 0, 0, 0, 0, 0, 0], b"/mnt",     // mountpoint: u64 length + bytes
        &[0x42, 0, 0, 0, 1, 0, 0, 0],           // identity.mount_id
        &[1, 0, 0, 0, 8],                       // root handle: type, length
        &[0x80, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xab; 16],                            // uuid
        &[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0],  // geometry: agcount, rgcount, features
        &[1, 0, 0, 0, 95, 0, 0, 0],             // OnlineRepair::Unsupported(EOPNOTSUPP)
        &[4, 0, 0, 0],                          // Autofsck::Repair
        &[0, 0, 0, 0],                          // EventSource::KernelMonitor
        &[1, 0, 0, 0],                          // guards: the rtgroup rmap defect
        &[2, 0, 0, 0],                          // names: Naming::On
    ]
    .concat();
    assert_eq!(frame, want);
}

#[test]
fn a_hello_naming_an_unknown_defect_is_refused() {
    let mut frame = codec::encode(&RepairerToMonitor::Hello(sample_hello())).unwrap();
    let guards = frame.len() - 8;
    frame[guards] = 2;
    assert!(codec::decode_frame::<RepairerToMonitor>(&frame).is_err());
    frame[guards] = 1;
    assert!(codec::decode_frame::<RepairerToMonitor>(&frame).is_ok());
}

#[test]
fn golden_defect_refusal() {
    let msg = RepairerToMonitor::Reply(RepairReply {
        id: RequestId(9),
        oflags: ScrubOutFlags::NONE,
        outcome: RepairOutcome::Refused(Refusal::KnownKernelDefect(DefectId::RtgroupRmapNullCursor)),
    });
    let frame = codec::encode(&msg).unwrap();
    #[rustfmt::skip]
    let want: &[u8] = &[
        30, 0, 0, 0, 3, 0,
        1, 0, 0, 0,                 // RepairerToMonitor::Reply
        9, 0, 0, 0, 0, 0, 0, 0,     // id
        0, 0, 0, 0,                 // oflags
        5, 0, 0, 0,                 // RepairOutcome::Refused
        2, 0, 0, 0,                 // Refusal::KnownKernelDefect
        0, 0, 0, 0,                 // DefectId::RtgroupRmapNullCursor
    ];
    assert_eq!(frame, want);
    assert_eq!(codec::decode_frame::<RepairerToMonitor>(&frame), Ok((msg, frame.len())));
}

#[test]
fn forged_length_is_refused_before_allocating() {
    let frame = [0xff, 0xff, 0xff, 0xff, 1, 0];
    assert_eq!(
        codec::decode_frame::<MonitorToRepairer>(&frame),
        Err(CodecError::FrameTooLarge { length: 0xffff_ffff })
    );
    let just_over = u32::try_from(MAX_PAYLOAD + 1).unwrap().to_le_bytes();
    assert!(matches!(codec::payload_length(just_over), Err(CodecError::FrameTooLarge { .. })));
    assert!(matches!(codec::payload_length([1, 0, 0, 0]), Err(CodecError::FrameTooShort { .. })));
}

#[test]
fn truncated_frames_ask_for_more() {
    for cut in 0..AG_REQUEST_FRAME.len() {
        assert!(matches!(
            codec::decode_frame::<MonitorToRepairer>(&AG_REQUEST_FRAME[..cut]),
            Err(CodecError::Incomplete { .. })
        ));
    }
}

#[test]
fn truncated_payload_is_malformed() {
    // The length prefix is honest about a payload that is cut short inside the body.
    let mut frame = AG_REQUEST_FRAME[..AG_REQUEST_FRAME.len() - 4].to_vec();
    frame[0] -= 4;
    assert!(matches!(codec::decode_frame::<MonitorToRepairer>(&frame), Err(CodecError::Malformed(_))));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut frame = AG_REQUEST_FRAME.to_vec();
    frame.push(0);
    frame[0] += 1;
    assert_eq!(codec::decode_frame::<MonitorToRepairer>(&frame), Err(CodecError::TrailingBytes { count: 1 }));
}

#[test]
fn other_versions_are_refused() {
    let mut frame = AG_REQUEST_FRAME.to_vec();
    frame[4] = 1;
    assert_eq!(
        codec::decode_frame::<MonitorToRepairer>(&frame),
        Err(CodecError::UnsupportedVersion { got: 1, want: PROTOCOL_VERSION })
    );
}

#[test]
fn illegal_values_are_refused() {
    let patch = |at: usize, bytes: &[u8]| {
        let mut f = AG_REQUEST_FRAME.to_vec();
        f[at..at + bytes.len()].copy_from_slice(bytes);
        codec::decode_frame::<MonitorToRepairer>(&f)
    };
    // An inode scrub type (DIR, 15) in an AG-scope request.
    assert!(
        matches!(patch(26, &[15, 0, 0, 0]), Err(CodecError::Malformed(m)) if m.contains("scrub type 15"))
    );
    // The null AG.
    assert!(matches!(patch(22, &[0xff; 4]), Err(CodecError::Malformed(m)) if m.contains("null AG")));
    // An unknown scope variant.
    assert!(matches!(patch(18, &[9, 0, 0, 0]), Err(CodecError::Malformed(_))));
    // An unknown message variant.
    assert!(matches!(patch(6, &[2, 0, 0, 0]), Err(CodecError::Malformed(_))));
}

#[test]
fn golden_lookup_and_its_answer() {
    let ask = MonitorToRepairer::Lookup(names::LookupRequest {
        id: RequestId(5),
        ino: InodeNumber::try_from(131).unwrap(),
        gen: 0x51e9_6b42,
    });
    #[rustfmt::skip]
    let want: &[u8] = &[
        26, 0, 0, 0, 3, 0,
        1, 0, 0, 0,                       // MonitorToRepairer::Lookup
        5, 0, 0, 0, 0, 0, 0, 0,           // id
        131, 0, 0, 0, 0, 0, 0, 0,         // ino
        0x42, 0x6b, 0xe9, 0x51,           // gen
    ];
    assert_eq!(codec::encode(&ask).unwrap(), want);
    let path = names::FsPath::try_from(vec![b"d".to_vec(), b"f".to_vec()]).unwrap();
    let answer = RepairerToMonitor::Named(names::LookupReply {
        id: RequestId(5),
        outcome: names::LookupOutcome::Found(path),
    });
    #[rustfmt::skip]
    let want: &[u8] = &[
        44, 0, 0, 0, 3, 0,
        2, 0, 0, 0,                       // RepairerToMonitor::Named
        5, 0, 0, 0, 0, 0, 0, 0,           // id
        0, 0, 0, 0,                       // LookupOutcome::Found
        2, 0, 0, 0, 0, 0, 0, 0,           // two names
        1, 0, 0, 0, 0, 0, 0, 0, b'd',
        1, 0, 0, 0, 0, 0, 0, 0, b'f',
    ];
    let frame = codec::encode(&answer).unwrap();
    assert_eq!(frame, want);
    // A name with a slash (or NUL, or "..") does not decode: the path cannot climb or lie.
    for bad in [b'/', 0, b'.'] {
        let mut forged = frame.clone();
        let at = forged.len() - 1;
        forged[at] = bad;
        if bad == b'.' {
            // "." alone is not an entry name.
            assert!(codec::decode_frame::<RepairerToMonitor>(&forged).is_err());
        } else {
            assert!(codec::decode_frame::<RepairerToMonitor>(&forged).is_err(), "{bad}");
        }
    }
}

#[test]
fn longest_mount_path_fits_in_a_frame() {
    let mut hello = sample_hello();
    hello.mountpoint = MountPath::try_from(format!("/{}", "a".repeat(4094))).unwrap();
    assert!(codec::encode(&RepairerToMonitor::Hello(hello)).is_ok());
}

fn any_target() -> impl Strategy<Value = RepairTarget> {
    prop_oneof![
        prop::sample::select(FsScrub::ALL).prop_map(|kind| RepairTarget::Fs { kind }),
        (0..u32::MAX, prop::sample::select(AgScrub::ALL))
            .prop_map(|(n, kind)| RepairTarget::Ag { agno: AgNumber::try_from(n).unwrap(), kind }),
        (0..u32::MAX, prop::sample::select(RtGroupScrub::ALL)).prop_map(|(n, kind)| {
            RepairTarget::RtGroup { rgno: RtGroupNumber::try_from(n).unwrap(), kind }
        }),
        (1..u64::MAX, any::<u32>(), prop::sample::select(InodeScrub::ALL)).prop_map(|(ino, gen, kind)| {
            RepairTarget::Inode { ino: InodeNumber::try_from(ino).unwrap(), gen, kind }
        }),
    ]
}

fn any_outcome() -> impl Strategy<Value = RepairOutcome> {
    prop_oneof![
        Just(RepairOutcome::Repaired),
        Just(RepairOutcome::NoRepairNeeded),
        Just(RepairOutcome::OfflineRepairRecommended),
        Just(RepairOutcome::Failed),
        (1..4096i32).prop_map(|e| RepairOutcome::KernelError(Errno::try_from(e).unwrap())),
        Just(RepairOutcome::Refused(Refusal::StaleFilesystem)),
        (any::<u32>(), any::<u32>()).prop_map(|(agno, agcount)| RepairOutcome::Refused(Refusal::OutOfRange(
            OutOfRange::AgNumber { agno, agcount }
        ))),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(id in any::<u64>(), target in any_target()) {
        let msg = MonitorToRepairer::Repair(RepairRequest { id: RequestId(id), target });
        let frame = codec::encode(&msg).unwrap();
        prop_assert_eq!(codec::decode_frame::<MonitorToRepairer>(&frame), Ok((msg, frame.len())));
    }

    #[test]
    fn replies_round_trip(id in any::<u64>(), oflags in 0u32..0x80, outcome in any_outcome()) {
        let msg = RepairerToMonitor::Reply(RepairReply {
            id: RequestId(id),
            oflags: ScrubOutFlags::try_from(oflags << 1).unwrap(),
            outcome,
        });
        let frame = codec::encode(&msg).unwrap();
        prop_assert_eq!(codec::decode_frame::<RepairerToMonitor>(&frame), Ok((msg, frame.len())));
    }

    #[test]
    fn hello_round_trips(path in "/[a-z/]{0,200}", agcount in 1u32.., rgcount in any::<u32>()) {
        let mut hello = sample_hello();
        hello.mountpoint = MountPath::try_from(path).unwrap();
        hello.geometry = Geometry::new(agcount, rgcount, 0).unwrap();
        let msg = RepairerToMonitor::Hello(hello);
        let frame = codec::encode(&msg).unwrap();
        prop_assert_eq!(codec::decode_frame::<RepairerToMonitor>(&frame), Ok((msg, frame.len())));
    }

    #[test]
    fn lookups_round_trip(id in any::<u64>(), ino in 1..u64::MAX, gen in any::<u32>(),
                          names in prop::collection::vec("[a-z\\x01\\n]{1,20}", 0..8), errno in 1..4096i32) {
        let ask = MonitorToRepairer::Lookup(names::LookupRequest {
            id: RequestId(id), ino: InodeNumber::try_from(ino).unwrap(), gen,
        });
        let frame = codec::encode(&ask).unwrap();
        prop_assert_eq!(codec::decode_frame::<MonitorToRepairer>(&frame), Ok((ask, frame.len())));
        let path = names::FsPath::try_from(names.into_iter().map(String::into_bytes).collect::<Vec<_>>()).unwrap();
        for outcome in [names::LookupOutcome::Found(path), names::LookupOutcome::Failed(Errno::try_from(errno).unwrap())] {
            let msg = RepairerToMonitor::Named(names::LookupReply { id: RequestId(id), outcome });
            let frame = codec::encode(&msg).unwrap();
            prop_assert_eq!(codec::decode_frame::<RepairerToMonitor>(&frame), Ok((msg, frame.len())));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode_frame::<MonitorToRepairer>(&bytes);
        let _ = codec::decode_frame::<RepairerToMonitor>(&bytes);
        let _ = codec::decode_payload::<MonitorToRepairer>(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..128)
    ) {
        let mut frame = u32::try_from(body.len() + 2).unwrap().to_le_bytes().to_vec();
        frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        frame.extend_from_slice(&body);
        if let Ok((MonitorToRepairer::Repair(req), used)) = codec::decode_frame::<MonitorToRepairer>(&frame) {
            // Anything that decodes is a legal target and re-encodes to the same bytes.
            prop_assert_eq!(used, frame.len());
            prop_assert_eq!(codec::encode(&MonitorToRepairer::Repair(req)).unwrap(), frame);
        }
    }

    #[test]
    fn mutated_golden_frames_never_panic(at in 0usize..32, byte in any::<u8>()) {
        let mut frame = AG_REQUEST_FRAME.to_vec();
        let at = at % frame.len();
        frame[at] = byte;
        let _ = codec::decode_frame::<MonitorToRepairer>(&frame);
    }
}
