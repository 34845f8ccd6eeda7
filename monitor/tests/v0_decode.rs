//! The V0 decoder against the real kernel's bytes, every event kind, every class of
//! malformed record, arbitrary read sizes, and arbitrary bytes.

mod common;

use common::*;
use proptest::prelude::*;
use xfs_heal_monitor::decode::v0::{decode_all, decode_record, Problem, V0Decoder};
use xfs_heal_monitor::event::*;

fn events(bytes: &[u8]) -> Vec<HealthEvent> {
    let (results, end) = decode_all(bytes);
    end.expect("no trailing partial record");
    results.into_iter().map(|r| r.expect("valid record")).collect()
}

#[test]
fn real_capture_decodes_as_documented() {
    let evs = events(&capture("linux-7.3.4-dir-symlink-repair-verbose.v0"));
    assert_eq!(evs.len(), 20);
    assert_eq!(evs[0].kind, EventKind::Running);
    let dir =
        MetadataObject::Inode { ino: 1_179_776, gen: 1_710_800_615, mask: InodeMask::new(0x10).unwrap() };
    let symlink =
        MetadataObject::Inode { ino: 1_572_993, gen: 1_608_423_591, mask: InodeMask::new(0x40).unwrap() };
    let md = |status, object| EventKind::Metadata { status, object };
    use HealthStatus::*;
    let want = [
        md(Sick, dir),
        md(Sick, symlink),
        md(Sick, dir),
        md(Corrupt, dir),
        md(Healthy, dir),
        md(Sick, symlink),
        md(Corrupt, symlink),
        md(Healthy, symlink),
        md(Healthy, MetadataObject::Fs { mask: FsMask::new(1).unwrap() }),
    ];
    let got: Vec<EventKind> = evs[1..10].iter().map(|e| e.kind).collect();
    assert_eq!(got, want);
    let ag_masks: Vec<u32> = evs[10..18]
        .iter()
        .map(|e| match e.kind {
            EventKind::Metadata { status: Healthy, object: MetadataObject::Ag { agno: 1, mask } } => {
                mask.bits()
            }
            other => panic!("expected AG 1 healthy, got {other:?}"),
        })
        .collect();
    assert_eq!(ag_masks, [0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100]);
    assert_eq!(evs[18].kind, EventKind::Shutdown { reasons: ShutdownReasons::new(0x6).unwrap() });
    assert_eq!(evs[19].kind, EventKind::Unmount);
    // Records carry the kernel's clock; it never runs backwards within one capture.
    assert!(evs.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
}

#[test]
fn the_record_quoted_in_vm_testing_decodes() {
    let mut rec = [0u8; 64];
    rec[..32].copy_from_slice(&[
        0x03, 0, 0, 0, 0x03, 0, 0, 0, 0x58, 0x20, 0x42, 0x79, 0x99, 0xd6, 0xea, 0x18, 0x10, 0, 0, 0, 0x42,
        0x6b, 0xe9, 0x51, 0x80, 0, 0x0a, 0, 0, 0, 0, 0,
    ]);
    let e = decode_record(&rec).unwrap();
    assert_eq!(
        e.kind,
        EventKind::Metadata {
            status: HealthStatus::Sick,
            object: MetadataObject::Inode {
                ino: 0xa0080,
                gen: 0x51e9_6b42,
                mask: InodeMask::new(0x10).unwrap()
            }
        }
    );
}

#[test]
fn the_demo_sample_is_a_real_repair_story() {
    // tests/data/sample.v0 is captured by the VM suite from Linux 7.3.4: a directory goes sick,
    // is repaired, and the filesystem is shut down and unmounted.
    let evs = events(&capture("sample.v0"));
    assert_eq!(evs.first().map(|e| e.kind), Some(EventKind::Running));
    assert_eq!(evs.last().map(|e| e.kind), Some(EventKind::Unmount));
    let dir = |status| {
        evs.iter().any(|e| {
            matches!(e.kind, EventKind::Metadata { status: s, object: MetadataObject::Inode { mask, .. } }
                if s == status && mask.bits() == 0x10)
        })
    };
    assert!(dir(HealthStatus::Sick) && dir(HealthStatus::Healthy), "{evs:?}");
    assert!(evs.iter().any(|e| matches!(e.kind, EventKind::Shutdown { .. })));
}

#[test]
fn every_kind_round_trips() {
    for e in one_of_each() {
        assert_eq!(decode_record(&e.to_v0_bytes()), Ok(e), "{e:?}");
    }
}

#[test]
fn half_records_are_reassembled() {
    let bytes = capture("linux-7.3.4-dir-symlink-repair-verbose.v0");
    let whole = events(&bytes);
    for piece in [1, 7, 32, 63, 65, 100] {
        let mut d = V0Decoder::new();
        let mut got = Vec::new();
        for chunk in bytes.chunks(piece) {
            d.feed(chunk, |r| got.push(r.unwrap()));
        }
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(got, whole, "read size {piece}");
    }
}

#[test]
fn truncated_stream_is_reported() {
    let bytes = capture("linux-7.3.4-dir-symlink-repair-verbose.v0");
    let (results, end) = decode_all(&bytes[..64 * 3 + 32]);
    assert_eq!(results.len(), 3);
    let t = end.unwrap_err();
    assert_eq!((t.stream_offset, t.have), (192, 32));
    assert_eq!(t.to_string(), "stream ended inside the record at byte 192: 32 of 64 bytes");
}

/// A valid AG record to damage.
fn ag_sick() -> [u8; 64] {
    HealthEvent {
        time_ns: 5,
        kind: EventKind::Metadata {
            status: HealthStatus::Sick,
            object: MetadataObject::Ag { agno: 2, mask: AgMask::new(0x40).unwrap() },
        },
    }
    .to_v0_bytes()
}

fn put(rec: &mut [u8; 64], at: usize, v: u32) {
    rec[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

/// A way to break a record.
type Damage = Box<dyn Fn(&mut [u8; 64])>;

#[test]
fn each_malformed_class_is_named_with_offset_and_value() {
    let cases: Vec<(Damage, usize, u64, Problem, &str)> = vec![
        (
            Box::new(|r| put(r, 0, 9)),
            0,
            9,
            Problem::UnknownDomain,
            "domain (record offset 0) = 0x9: unknown domain",
        ),
        (
            Box::new(|r| put(r, 4, 13)),
            4,
            13,
            Problem::UnknownType,
            "type (record offset 4) = 0xd: unknown event type",
        ),
        (
            Box::new(|r| put(r, 4, 7)),
            4,
            7,
            Problem::TypeNotInDomain { domain: 2 },
            "type (record offset 4) = 0x7: event type cannot occur in domain ag",
        ),
        (
            Box::new(|r| put(r, 16, 0x840)),
            16,
            0x840,
            Problem::UndefinedBits { defined: 0x7ff },
            "group.mask (record offset 16) = 0x840: bits outside the defined set 0x7ff",
        ),
        (
            Box::new(|r| put(r, 16, 0)),
            16,
            0,
            Problem::EmptyMask,
            "group.mask (record offset 16) = 0x0: empty mask",
        ),
        (
            Box::new(|r| r[24] = 1),
            24,
            1,
            Problem::NonZeroPadding,
            "unused union bytes (record offset 24) = 0x1: non-zero padding",
        ),
        (
            Box::new(|r| r[63] = 0xff),
            63,
            0xff,
            Problem::NonZeroPadding,
            "pad (record offset 63) = 0xff: non-zero padding",
        ),
        (
            Box::new(|r| {
                put(r, 0, 0);
                put(r, 4, 1);
                put(r, 16, 0);
                put(r, 20, 0);
            }),
            16,
            0,
            Problem::ZeroLostCount,
            "lost.count (record offset 16) = 0x0: lost-event record with a count of zero",
        ),
        (
            Box::new(|r| {
                put(r, 0, 0);
                put(r, 4, 6);
                put(r, 16, 0x40);
                put(r, 20, 0);
            }),
            16,
            0x40,
            Problem::UndefinedBits { defined: 0x3f },
            "shutdown.reasons (record offset 16) = 0x40: bits outside the defined set 0x3f",
        ),
        (
            Box::new(|r| {
                *r = HealthEvent {
                    time_ns: 0,
                    kind: EventKind::FileIo {
                        kind: FileIoKind::DirectRead,
                        ino: 5,
                        gen: 1,
                        pos: 0,
                        len: 1,
                        error: 0,
                    },
                }
                .to_v0_bytes();
                put(r, 44, 5000);
            }),
            44,
            5000,
            Problem::ErrnoOutOfRange,
            "filerange.error (record offset 44) = 0x1388: not an errno (1..=4095, or 0)",
        ),
    ];
    for (damage, field_offset, value, problem, text) in cases {
        let mut bad = ag_sick();
        damage(&mut bad);
        // The damaged record sits between two good ones; both good ones still decode.
        let mut stream = ag_sick().to_vec();
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&ag_sick());
        let (results, end) = decode_all(&stream);
        assert!(end.is_ok());
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[2].is_ok(), "decoding must carry on past {text}");
        let err = results[1].as_ref().unwrap_err();
        assert_eq!(err.stream_offset, 64);
        assert_eq!(
            (err.error.field_offset, err.error.value, err.error.problem),
            (field_offset, value, problem)
        );
        assert_eq!(err.to_string(), format!("invalid V0 record at stream byte 64: {text}"));
    }
}

#[test]
fn mount_domain_rejects_metadata_types() {
    let mut r = [0u8; 64];
    put(&mut r, 4, 3); // SICK in the MOUNT domain
    assert_eq!(decode_record(&r).unwrap_err().problem, Problem::TypeNotInDomain { domain: 0 });
    put(&mut r, 0, 8);
    put(&mut r, 4, 3); // SICK in the FILERANGE domain
    assert_eq!(decode_record(&r).unwrap_err().problem, Problem::TypeNotInDomain { domain: 8 });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_events_round_trip(e in any_event()) {
        prop_assert_eq!(decode_record(&e.to_v0_bytes()), Ok(e));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let (results, end) = decode_all(&bytes);
        prop_assert_eq!(results.len(), bytes.len() / 64);
        prop_assert_eq!(end.is_err(), bytes.len() % 64 != 0);
    }

    #[test]
    fn arbitrary_records_decode_or_name_a_field(rec in prop::array::uniform32(any::<u8>()), tail in prop::array::uniform32(any::<u8>())) {
        let mut r = [0u8; 64];
        r[..32].copy_from_slice(&rec);
        r[32..].copy_from_slice(&tail);
        match decode_record(&r) {
            // Anything accepted re-encodes to exactly the bytes it came from.
            Ok(e) => prop_assert_eq!(e.to_v0_bytes(), r),
            Err(e) => prop_assert!(e.field_offset < 64),
        }
    }

    #[test]
    fn any_split_gives_the_same_events(
        evs in prop::collection::vec(any_event(), 1..20),
        cuts in prop::collection::vec(1usize..200, 1..30),
    ) {
        let bytes: Vec<u8> = evs.iter().flat_map(|e| e.to_v0_bytes()).collect();
        let mut d = V0Decoder::new();
        let mut got = Vec::new();
        let mut rest = &bytes[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() { break; }
            let n = (*cut).min(rest.len());
            d.feed(&rest[..n], |r| got.push(r.unwrap()));
            rest = &rest[n..];
        }
        prop_assert_eq!(d.finish(), Ok(()));
        prop_assert_eq!(got, evs);
    }
}
