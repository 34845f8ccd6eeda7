//! The JSON-format decoder: kernel framing, schema validation, mapping to the same events
//! as the V0 decoder, every rejection class, and arbitrary input.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use xfs_heal_monitor::decode::json::{decode_object, JsonDecoder, JsonError, JsonProblem, MAX_OBJECT_BYTES};
use xfs_heal_monitor::decode::v0::decode_all;
use xfs_heal_monitor::event::*;

fn decode_stream(bytes: &[u8]) -> Vec<Result<HealthEvent, JsonError>> {
    let mut d = JsonDecoder::new();
    let mut out = Vec::new();
    d.feed(bytes, |r| out.push(r));
    d.finish(|r| out.push(r));
    out
}

/// The JSON the pre-7.0 kernel would have printed for an event, one key per line; `None`
/// for what that format cannot express (DATALOST, errnos, rt bits mixed with other fs bits).
fn kernel_json(e: &HealthEvent) -> Option<String> {
    let mut o = serde_json::Map::new();
    let names = |object: &MetadataObject| -> Vec<&'static str> {
        let mut n = object.structure_names();
        if let MetadataObject::Inode { .. } = object {
            for name in &mut n {
                *name = match *name {
                    "datafork" => "bmapbtd",
                    "attrfork" => "bmapbta",
                    "cowfork" => "bmapbtc",
                    other => other,
                };
            }
        }
        n
    };
    let (domain, ty): (&str, &str) = match e.kind {
        EventKind::Running => ("mount", "running"),
        EventKind::Unmount => ("mount", "unmount"),
        EventKind::Lost { count } => {
            o.insert("count".into(), count.into());
            ("mount", "lost")
        }
        EventKind::Shutdown { reasons } => {
            const JSON: [&str; 6] = [
                "meta_ioerr",
                "log_ioerr",
                "force_umount",
                "corrupt_incore",
                "corrupt_ondisk",
                "device_removed",
            ];
            let r: Vec<&str> = (0..6).filter(|i| reasons.bits() & (1 << i) != 0).map(|i| JSON[i]).collect();
            o.insert("reasons".into(), r.into());
            ("mount", "shutdown")
        }
        EventKind::Metadata { status, object } => {
            let domain = match object {
                MetadataObject::Fs { mask } => {
                    let rt = mask.bits() & 0x30;
                    if rt != 0 && rt != mask.bits() {
                        return None;
                    }
                    if rt != 0 {
                        "realtime"
                    } else {
                        "fs"
                    }
                }
                MetadataObject::Ag { agno, .. } => {
                    if agno == u32::MAX {
                        return None;
                    }
                    o.insert("group".into(), agno.into());
                    "perag"
                }
                MetadataObject::RtGroup { rgno, .. } => {
                    if rgno == u32::MAX {
                        return None;
                    }
                    o.insert("group".into(), rgno.into());
                    "rtgroup"
                }
                MetadataObject::Inode { ino, gen, .. } => {
                    if ino == 0 {
                        return None;
                    }
                    o.insert("inumber".into(), ino.into());
                    o.insert("generation".into(), gen.into());
                    "inode"
                }
            };
            o.insert("structures".into(), names(&object).into());
            (domain, status.as_str())
        }
        EventKind::Media { device, daddr, bbcount } => {
            o.insert("daddr".into(), daddr.into());
            o.insert("bbcount".into(), bbcount.into());
            (device.as_str(), "media")
        }
        EventKind::FileIo { kind, ino, gen, pos, len, error } => {
            if error != 0 || kind == FileIoKind::DataLost || ino == 0 {
                return None;
            }
            o.insert("inumber".into(), ino.into());
            o.insert("generation".into(), gen.into());
            o.insert("pos".into(), pos.into());
            o.insert("length".into(), len.into());
            let ty = match kind {
                FileIoKind::BufferedRead => "readahead",
                FileIoKind::BufferedWrite => "writeback",
                FileIoKind::DirectRead => "directio_read",
                _ => "directio_write",
            };
            ("filerange", ty)
        }
    };
    let mut lines = vec![format!("\t\"domain\": \"{domain}\""), format!("\t\"type\": \"{ty}\"")];
    for (k, v) in o {
        lines.push(format!("\t\"{k}\": {v}"));
    }
    lines.push(format!("\t\"time_ns\": {}", e.time_ns));
    Some(format!("{{\n{}\n}}\n", lines.join(",\n")))
}

#[test]
fn json_capture_maps_to_the_same_events_as_the_v0_capture() {
    let (v0, end) = decode_all(&capture("linux-7.3.4-dir-symlink-repair-verbose.v0"));
    end.unwrap();
    let v0: Vec<HealthEvent> = v0.into_iter().map(Result::unwrap).collect();
    let json: Vec<HealthEvent> = decode_stream(&capture("linux-7.3.4-dir-symlink-repair-verbose.json"))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(json, v0);
}

#[test]
fn every_expressible_kind_round_trips() {
    let mut n = 0;
    for e in one_of_each() {
        if let Some(text) = kernel_json(&e) {
            n += 1;
            assert_eq!(decode_stream(text.as_bytes()), vec![Ok(e)], "{text}");
        }
    }
    assert_eq!(n, 16, "kinds the JSON format can express");
}

#[test]
fn framing_variants() {
    // NUL separators, CRLF-free single-line objects, blank lines and a missing final newline.
    let stream = b"\n{\"domain\":\"mount\",\"type\":\"running\",\"time_ns\":1}\n\0{\n\"domain\": \"mount\",\n\"type\": \"unmount\",\n\"time_ns\": 2\n}";
    let got: Vec<EventKind> = decode_stream(stream).into_iter().map(|r| r.unwrap().kind).collect();
    assert_eq!(got, [EventKind::Running, EventKind::Unmount]);
}

#[test]
fn legacy_spellings_are_accepted() {
    let zapped = json!({"domain": "inode", "type": "sick", "inumber": 5, "generation": 1,
                        "structures": ["directory_zapped", "core"], "time_ns": 3});
    let e = decode_object(zapped.to_string().as_bytes()).unwrap();
    assert!(
        matches!(e.kind, EventKind::Metadata { object: MetadataObject::Inode { mask, .. }, .. } if mask.bits() == 0x11)
    );

    let len = json!({"domain": "filerange", "type": "writeback", "inumber": 5, "generation": 1, "pos": 0, "len": 512, "time_ns": 3});
    assert!(matches!(
        decode_object(len.to_string().as_bytes()).unwrap().kind,
        EventKind::FileIo { len: 512, error: 0, .. }
    ));

    let rt = json!({"domain": "realtime", "type": "sick", "structures": ["bitmap"], "time_ns": 3});
    assert!(matches!(
        decode_object(rt.to_string().as_bytes()).unwrap().kind,
        EventKind::Metadata { object: MetadataObject::Fs { mask }, .. } if mask.bits() == 0x10
    ));

    let extra = json!({"domain": "mount", "type": "running", "time_ns": 3, "future_key": [1, 2]});
    assert!(decode_object(extra.to_string().as_bytes()).is_ok());

    // A known bit spelled as its value folds in like its name.
    let numbered = json!({"domain": "perag", "type": "sick", "group": 1, "structures": [64], "time_ns": 3});
    assert!(matches!(
        decode_object(numbered.to_string().as_bytes()).unwrap().kind,
        EventKind::Metadata { object: MetadataObject::Ag { agno: 1, mask }, .. } if mask.bits() == 0x40
    ));
}

#[test]
fn each_rejection_class_says_why() {
    let schema = |v: serde_json::Value, needle: &str| match decode_object(v.to_string().as_bytes()) {
        Err(JsonProblem::Schema(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
        other => panic!("expected a schema error for {v}, got {other:?}"),
    };
    schema(json!({"domain": "mount", "type": "running"}), "time_ns");
    schema(json!({"domain": "moon", "type": "running", "time_ns": 1}), "moon");
    schema(json!({"domain": "perag", "type": "sick", "structures": ["agf"], "time_ns": 1}), "");
    schema(
        json!({"domain": "perag", "type": "sick", "group": 1, "structures": ["dirtree"], "time_ns": 1}),
        "",
    );
    schema(json!({"domain": "mount", "type": "lost", "count": 0, "time_ns": 1}), "");
    schema(
        json!({"domain": "inode", "type": "sick", "inumber": -1, "generation": 1, "structures": ["core"], "time_ns": 1}),
        "",
    );
    schema(json!({"domain": "fs", "type": "sick", "structures": [], "time_ns": 1}), "");
    let too_big = br#"{"domain": "mount", "type": "running", "time_ns": 18446744073709551616}"#;
    assert!(decode_object(too_big).is_err(), "a time beyond u64 must not be accepted");
    schema(json!({"domain": "mount", "type": "running", "time_ns": 1.5}), "");
    schema(json!([1, 2, 3]), "");

    assert!(matches!(decode_object(b"{\"domain\": \"mount\",}"), Err(JsonProblem::Syntax(_))));
    let undefined_bit =
        json!({"domain": "perag", "type": "sick", "group": 1, "structures": [4096], "time_ns": 1});
    assert_eq!(
        decode_object(undefined_bit.to_string().as_bytes()),
        Err(JsonProblem::Unmappable("perag mask bits 0x1000 are not defined".into()))
    );
}

#[test]
fn bad_objects_do_not_stop_the_stream() {
    let stream = b"{\"domain\":\"mount\",\"type\":\"running\",\"time_ns\":1}\n{\"domain\":\"fs\"}\n{ nope }\n{\"domain\":\"mount\",\"type\":\"unmount\",\"time_ns\":2}\n";
    let got = decode_stream(stream);
    assert_eq!(got.len(), 4);
    assert!(got[0].is_ok() && got[3].is_ok());
    assert_eq!(got[1].as_ref().unwrap_err().object_index, 1);
    assert!(matches!(got[1], Err(JsonError { problem: JsonProblem::Schema(_), .. })));
    assert!(matches!(got[2], Err(JsonError { problem: JsonProblem::Syntax(_), .. })));
    assert_eq!(got[1].as_ref().unwrap_err().to_string().split(':').next(), Some("invalid JSON event #1"));
}

#[test]
fn oversized_objects_are_skipped_without_buffering() {
    let mut stream = b"{\n\"pad\": \"".to_vec();
    stream.extend(std::iter::repeat_n(b'x', MAX_OBJECT_BYTES * 4));
    stream.extend_from_slice(
        b"\",\n\"more\": 1\n}\n{\"domain\":\"mount\",\"type\":\"running\",\"time_ns\":1}\n",
    );
    let got = decode_stream(&stream);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_ref().unwrap_err().problem, JsonProblem::TooLarge);
    assert!(got[1].is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn expressible_events_round_trip(e in any_event()) {
        if let Some(text) = kernel_json(&e) {
            prop_assert_eq!(decode_stream(text.as_bytes()), vec![Ok(e)]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_stream(&bytes);
    }

    #[test]
    fn arbitrary_json_values_never_panic(keys in prop::collection::vec(("[a-z_]{1,12}", any::<i64>()), 0..8),
                                         domain in "[a-z]{0,10}", ty in "[a-z_]{0,14}") {
        let mut o = serde_json::Map::new();
        o.insert("domain".into(), domain.into());
        o.insert("type".into(), ty.into());
        for (k, v) in keys { o.insert(k, v.into()); }
        let _ = decode_object(serde_json::Value::Object(o).to_string().as_bytes());
    }

    #[test]
    fn any_split_gives_the_same_events(evs in prop::collection::vec(any_event(), 1..10), cut in 1usize..50) {
        let text: String = evs.iter().filter_map(kernel_json).collect();
        let whole = decode_stream(text.as_bytes());
        let mut d = JsonDecoder::new();
        let mut got = Vec::new();
        for chunk in text.as_bytes().chunks(cut) {
            d.feed(chunk, |r| got.push(r));
        }
        d.finish(|r| got.push(r));
        prop_assert_eq!(got, whole);
    }
}
