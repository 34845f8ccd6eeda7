//! Reports: xfs_healer's wording for every event kind, and every `--format json` line
//! validates against the shipped schema.

mod common;

use common::*;
use proptest::prelude::*;
use xfs_heal_monitor::decode::json::{JsonError, JsonProblem};
use xfs_heal_monitor::decode::v0::decode_all;
use xfs_heal_monitor::event::*;
use xfs_heal_monitor::policy::{self, Unrepairable};
use xfs_heal_monitor::report::{EscalationCause, Report, StopReason, REPORT_SCHEMA};
use xfs_heal_protocol::fullcheck::{Notice, NoticeError, Outcome, ScrubStatus};
use xfs_heal_protocol::*;

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&serde_json::from_str(REPORT_SCHEMA).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, report: Report) {
    let value = report.json("/mnt/data");
    if let Err(e) = v.validate(&value) {
        panic!("{value} fails the report schema: {e} at {}", e.instance_path());
    }
    assert_eq!(value["message"], report.text("/mnt/data"));
}

#[test]
fn event_lines_use_xfs_healer_wording() {
    let lines: Vec<String> = one_of_each().iter().map(|e| Report::Event(*e).text("/mnt")).collect();
    let expect = [
        "/mnt: monitoring started",
        "/mnt: 585 events lost",
        "/mnt: filesystem shut down due to metadata I/O error, log I/O error, forced unmount, in-memory state corruption, ondisk metadata corruption, device removed",
        "/mnt: filesystem unmounted",
        "/mnt fscounters, usrquota, grpquota, prjquota, bitmap, summary, quotacheck, nlinks, metadir, metapath: sick",
        "/mnt agno 0x3 super, agf, agfl, agi, bnobt, cntbt, inobt, finobt, rmapbt, refcountbt, inodes: sick",
        "/mnt rgno 0x1 super, bitmap, summary, rmapbt, refcountbt: sick",
        "/mnt ino 655488 gen 0x51e96b42 core, datafork, attrfork, cowfork, directory, xattr, symlink, parent, dirtree: sick",
    ];
    assert_eq!(&lines[..8], expect);
    assert!(lines.contains(&"/mnt ino 655488 gen 0x51e96b42 core, datafork, attrfork, cowfork, directory, xattr, symlink, parent, dirtree: corrupt".into()));
    assert!(lines.contains(&"/mnt agno 0x3 super, agf, agfl, agi, bnobt, cntbt, inobt, finobt, rmapbt, refcountbt, inodes: healthy".into()));
    for l in [
        "/mnt datadev daddr 0x1000 bbcount 0x8: media error",
        "/mnt rtdev daddr 0x1000 bbcount 0x8: media error",
        "/mnt logdev daddr 0x1000 bbcount 0x8: media error",
        "/mnt ino 131 gen 0x9 pos 4096 len 8192: buffered_read: Input/output error",
        "/mnt ino 131 gen 0x9 pos 4096 len 8192: directio_write: Input/output error",
        "/mnt ino 131 gen 0x9 pos 4096 len 8192: media failed",
    ] {
        assert!(lines.contains(&l.to_string()), "missing {l:?} in {lines:#?}");
    }
}

#[test]
fn repair_lines_use_xfs_healer_sentences() {
    let target = RepairTarget::Inode {
        ino: InodeNumber::try_from(655_488).unwrap(),
        gen: 0x51e9_6b42,
        kind: InodeScrub::Directory,
    };
    let line = |outcome: RepairOutcome| Report::RepairResult { target, outcome }.text("/mnt");
    assert_eq!(
        line(RepairOutcome::Repaired),
        "/mnt ino 655488 gen 0x51e96b42 directory: Repairs successful."
    );
    assert_eq!(
        line(RepairOutcome::NoRepairNeeded),
        "/mnt ino 655488 gen 0x51e96b42 directory: No modification needed."
    );
    assert_eq!(
        line(RepairOutcome::OfflineRepairRecommended),
        "/mnt ino 655488 gen 0x51e96b42 directory: Seems correct but cross-referencing failed; offline repair recommended."
    );
    assert_eq!(
        line(RepairOutcome::Failed),
        "/mnt ino 655488 gen 0x51e96b42 directory: Repair unsuccessful; offline repair required."
    );
    assert_eq!(
        line(RepairOutcome::KernelError(Errno::EOPNOTSUPP)),
        "/mnt ino 655488 gen 0x51e96b42 directory: Operation not supported (os error 95)"
    );
    assert_eq!(
        line(RepairOutcome::Refused(Refusal::StaleFilesystem)),
        "/mnt ino 655488 gen 0x51e96b42 directory: refused: Stale file handle (os error 116)"
    );
    let ag = RepairTarget::Ag { agno: AgNumber::try_from(1).unwrap(), kind: AgScrub::Bnobt };
    assert_eq!(
        Report::RepairRequested { target: ag, dry_run: true }.text("/mnt"),
        "/mnt agno 0x1 bnobt: would request repair (scrub type 5)"
    );
}

/// A report about inode 131 named `path` by the repairer.
fn named(report: Report, path: &str) -> Report {
    Report::Named { report: Box::new(report), path: path.into() }
}

#[test]
fn named_reports_read_like_xfs_healer_and_carry_the_path() {
    let io = |kind| {
        Report::Event(HealthEvent {
            time_ns: 1,
            kind: EventKind::FileIo { kind, ino: 131, gen: 9, pos: 4096, len: 4096, error: 5 },
        })
    };
    // fstests' xfs_healer lines: path, range, kind, strerror.
    for (kind, name) in [
        (FileIoKind::BufferedRead, "buffered_read"),
        (FileIoKind::BufferedWrite, "buffered_write"),
        (FileIoKind::DirectRead, "directio_read"),
        (FileIoKind::DirectWrite, "directio_write"),
    ] {
        assert_eq!(
            named(io(kind), "dir/file").text("/mnt/data"),
            format!("/mnt/data/dir/file pos 4096 len 4096: {name}: Input/output error")
        );
    }
    let sick = Report::Event(HealthEvent {
        time_ns: 1,
        kind: EventKind::Metadata {
            status: HealthStatus::Sick,
            object: MetadataObject::Inode {
                ino: 131,
                gen: 9,
                mask: InodeMask::new(uapi::XFS_BS_SICK_DIR).unwrap(),
            },
        },
    });
    assert_eq!(named(sick.clone(), "dir").text("/mnt/data"), "/mnt/data/dir directory: sick");
    // The root directory is the mount point itself; a trailing slash is not doubled.
    assert_eq!(named(sick.clone(), "").text("/mnt/data/"), "/mnt/data/ directory: sick");
    assert_eq!(named(sick.clone(), "a").text("/"), "/a directory: sick");
    assert_eq!(named(sick, "").text("/"), "/ directory: sick");
    let target =
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 9, kind: InodeScrub::Directory };
    let result = named(Report::RepairResult { target, outcome: RepairOutcome::Repaired }, "dir");
    assert_eq!(result.text("/mnt/data"), "/mnt/data/dir directory: Repairs successful.");
    // JSON and journal fields: the same report, plus the path (escaped as in the line).
    let json = named(io(FileIoKind::BufferedRead), "d/f\\x0a").json("/mnt/data");
    assert_eq!(json["path"], "/mnt/data/d/f\\x0a");
    assert_eq!(json["ino"], 131);
    assert_eq!(json["kind"], "event");
    let entry = xfs_heal_monitor::journal::entry(
        &named(io(FileIoKind::BufferedRead), "d/f"),
        "/mnt/data",
        xfs_heal_monitor::report::Format::Text,
    );
    let fields = String::from_utf8(entry.into_bytes()).unwrap();
    assert!(fields.lines().any(|l| l == "XFS_HEAL_PATH=/mnt/data/d/f"), "{fields}");
    assert!(
        fields
            .lines()
            .any(|l| l == "MESSAGE=/mnt/data/d/f pos 4096 len 4096: buffered_read: Input/output error"),
        "{fields}"
    );
    // Priority and --quiet follow the report named.
    assert_eq!(named(io(FileIoKind::BufferedRead), "d").priority(), io(FileIoKind::BufferedRead).priority());
    assert!(named(io(FileIoKind::BufferedRead), "d").is_routine());
    assert_valid(&validator(), named(io(FileIoKind::BufferedRead), "d/f"));
    assert_valid(&validator(), result);
}

#[test]
fn control_characters_in_the_mount_path_cannot_forge_lines() {
    let e = HealthEvent { time_ns: 0, kind: EventKind::Running };
    let line = Report::Event(e).text("/mnt/evil\n/mnt: filesystem unmounted");
    assert!(!line.contains('\n'));
    assert_eq!(line, "/mnt/evil\\x0a/mnt: filesystem unmounted: monitoring started");
    // The one escaper: format characters and quotes too, and in JSON as in text.
    let line = Report::Event(e).text("/mnt/\u{202e}evil\"");
    assert_eq!(line, "/mnt/\\xe2\\x80\\xaeevil\\x22: monitoring started");
    let json = Report::Event(e).json("/mnt/\u{202e}evil\"");
    assert_eq!(json["mountpoint"], "/mnt/\\xe2\\x80\\xaeevil\\x22");
}

#[test]
fn every_report_kind_validates_against_the_schema() {
    let v = validator();
    for e in one_of_each() {
        assert_valid(&v, Report::Event(e));
        if let (Some(plan), EventKind::Metadata { object, .. }) = (policy::plan(&e), e.kind) {
            for target in plan.targets {
                assert_valid(&v, Report::RepairRequested { target, dry_run: true });
                assert_valid(&v, Report::RepairRequested { target, dry_run: false });
                assert_valid(&v, Report::RepairAbandoned { target, attempts: 3, window_secs: 600 });
                assert_valid(&v, Report::SickSuppressed { target, count: 57 });
                for outcome in [
                    RepairOutcome::Repaired,
                    RepairOutcome::NoRepairNeeded,
                    RepairOutcome::OfflineRepairRecommended,
                    RepairOutcome::Failed,
                    RepairOutcome::KernelError(Errno::EOPNOTSUPP),
                    RepairOutcome::Refused(Refusal::StaleFilesystem),
                ] {
                    assert_valid(&v, Report::RepairResult { target, outcome });
                }
            }
            for u in plan.needs_full_check {
                assert_valid(&v, Report::NeedsFullCheck(u, object));
            }
        }
    }
    let mut bad = [0u8; 64 * 2 + 10];
    bad[0] = 77;
    let (results, end) = decode_all(&bad);
    assert_valid(&v, Report::InvalidRecord(*results[0].as_ref().unwrap_err()));
    assert_valid(&v, Report::Truncated(end.unwrap_err()));
    let je = JsonError { object_index: 3, problem: JsonProblem::Syntax("eof".into()) };
    assert_valid(&v, Report::InvalidJson(je));
    assert_valid(&v, Report::Escalation { cause: EscalationCause::LostEvents { count: 3 }, structures: 41 });
    let dir =
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 7, kind: InodeScrub::Directory };
    for cause in [
        EscalationCause::UndecodableSick,
        EscalationCause::Unrepairable { domain: "fs", structure: "metadir" },
        EscalationCause::RepairFailed { target: dir },
        EscalationCause::TooManyTracked { cap: 16_384 },
        EscalationCause::TooManyQueued { cap: 4096 },
    ] {
        assert_valid(&v, Report::Escalation { cause, structures: 41 });
    }
    for reason in [StopReason::Shutdown, StopReason::Stale] {
        assert_valid(&v, Report::RepairsStopped { reason, dropped: 2 });
    }
    assert_valid(&v, Report::SickAbsorbed { target: dir, count: 5 });
    assert_valid(&v, Report::Untracked { count: 9, cap: 16_384 });
    assert_valid(&v, Report::DroppedAtEnd { count: 1 });
    assert_valid(&v, Report::UnknownReply { id: 77 });
    assert_valid(
        &v,
        Report::RunSummary(xfs_heal_monitor::engine::Stats { events: 3, sick: 2, ..Default::default() }),
    );
    let core =
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 7, kind: InodeScrub::Core };
    let defect = xfs_heal_protocol::defects::DefectId::RtgroupRmapNullCursor;
    assert_valid(&v, Report::RepairForbidden { target: core, defect });
    assert_valid(&v, Report::SweepFinished { attempted: 44, fixed: 40, failed: 4 });
    assert_valid(&v, Report::SweepFinished { attempted: 44, fixed: 44, failed: 0 });
    assert_valid(&v, Report::Status("connected".into()));
    assert_valid(&v, Report::FullCheckRequested { cause: EscalationCause::UndecodableSick });
    assert_valid(&v, Report::FullCheckUnavailable { why: "EAGAIN".into() });
    assert_valid(&v, Report::FullCheckStarted { requested: false });
    for line in ["finished success exited 0", "finished exit-code exited 6", "finished signal killed TERM"] {
        let Ok(Notice::Finished(outcome)) = Notice::parse(line.as_bytes()) else { panic!("{line}") };
        assert_valid(&v, Report::FullCheckFinished { outcome });
    }
    assert_valid(&v, Report::InvalidFullCheckNotice(NoticeError::NotAscii));
    let u = Unrepairable {
        domain: "fs",
        structure: "metadir",
        why: "no online repair exists for this structure",
    };
    assert_valid(&v, Report::NeedsFullCheck(u, MetadataObject::Fs { mask: FsMask::new(0x100).unwrap() }));
}

#[test]
fn a_forbidden_repair_and_a_sweep_say_what_they_do_and_do_not_do() {
    let core =
        RepairTarget::Inode { ino: InodeNumber::try_from(131).unwrap(), gen: 7, kind: InodeScrub::Core };
    let defect = xfs_heal_protocol::defects::DefectId::RtgroupRmapNullCursor;
    let r = Report::RepairForbidden { target: core, defect };
    assert_eq!(
        r.text("/mnt"),
        "/mnt ino 131 gen 0x7 core: not repairing online: known kernel defect inode-repair-rtgroup-rmap-null: \
         inode-core repair on a filesystem with rmapbt but without metadir dereferences a NULL realtime \
         rmap cursor in this kernel (Oops; the unmount then hangs); instead, unmount it and run xfs_repair on \
         the device."
    );
    let j = r.json("/mnt");
    assert_eq!(
        (j["kind"].as_str(), j["defect"].as_str()),
        (Some("repair_forbidden"), Some("inode-repair-rtgroup-rmap-null"))
    );
    assert_eq!(j["target"]["ino"], 131);
    let e = Report::Escalation { cause: EscalationCause::LostEvents { count: 7 }, structures: 41 };
    assert_eq!(e.json("/mnt")["cause"], "lost_events");
    assert_eq!(
        e.text("/mnt"),
        "/mnt: sweep of filesystem and group metadata started (41 structures) because the kernel dropped 7 events; \
         files and directories are not part of it, and no full online check can be started here (that needs \
         systemd's xfs-heal-full-check@ units): run xfs_scrub -n /mnt to check them."
    );
    // Under systemd, the escalation is the full check, and its lines name the unit.
    let cause = EscalationCause::LostEvents { count: 7 };
    assert_eq!(
        Report::FullCheckRequested { cause }.text("/mnt/my-data"),
        "/mnt/my-data: full online check requested because the kernel dropped 7 events: \
         xfs_scrub@mnt-my\\x2ddata.service checks every structure, files and directories included, and repairs what the autofsck property allows."
    );
    let outcome = Outcome::Exited(ScrubStatus::new(1).unwrap());
    let finished = Report::FullCheckFinished { outcome };
    assert_eq!(
        finished.text("/mnt"),
        "/mnt: full online check finished (xfs_scrub@mnt.service): exit status 1: errors remain unrepaired (it \
         repairs only where the autofsck property says repair), so offline repair (xfs_repair) may be required."
    );
    assert_eq!(finished.priority(), xfs_heal_protocol::journal::Priority::Err);
    let j = finished.json("/mnt");
    assert_eq!((j["outcome"].as_str(), j["exit_status"].as_u64()), (Some("errors_left"), Some(1)));
    assert!(Report::SweepFinished { attempted: 41, fixed: 41, failed: 0 }
        .text("/mnt")
        .contains("files and directories were not checked: run xfs_scrub -n /mnt to check them."));
}

#[test]
fn schema_rejects_what_the_monitor_never_emits() {
    let v = validator();
    let e = HealthEvent { time_ns: 1, kind: EventKind::Lost { count: 4 } };
    let mut good = Report::Event(e).json("/mnt");
    assert!(v.is_valid(&good));
    good.as_object_mut().unwrap().remove("count");
    assert!(!v.is_valid(&good), "a lost event without a count must fail the schema");
    let mut bad_kind = Report::Event(e).json("/mnt");
    bad_kind["kind"] = "gossip".into();
    assert!(!v.is_valid(&bad_kind));
}

proptest! {
    #[test]
    fn any_event_report_validates(e in any_event()) {
        let v = validator();
        let value = Report::Event(e).json("/mnt");
        prop_assert!(v.is_valid(&value), "{}", value);
        prop_assert!(!Report::Event(e).text("/mnt").contains('\n'));
    }
}
