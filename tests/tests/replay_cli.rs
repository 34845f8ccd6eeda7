//! `xfs-heal-monitor --replay` as a user runs it: the real binary on the shipped captures.

use xfs_heal_tests::*;

#[test]
fn demo_sample_reports_and_plans_repairs() {
    let sample = data("sample.v0");
    let records = std::fs::metadata(&sample).unwrap().len() / 64;
    let out = run("xfs-heal-monitor", &["--replay", sample.to_str().unwrap(), "/mnt/data"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert_eq!(lines[0], "/mnt/data: monitoring started");
    let sick = lines.iter().position(|l| l.ends_with(" directory: sick")).expect("a sick directory");
    assert!(lines[sick].starts_with("/mnt/data ino "));
    assert!(lines[sick + 1].ends_with(" directory: would request repair (scrub type 15)"), "{lines:#?}");
    // The repair's own sick echoes are not new requests.
    assert_eq!(lines.iter().filter(|l| l.contains("would request repair")).count(), 1, "{lines:#?}");
    assert!(lines.iter().any(|l| l.ends_with(" directory: healthy")));
    assert!(lines.iter().any(|l| l.starts_with("/mnt/data: filesystem shut down due to ")));
    assert_eq!(lines.last().unwrap(), "/mnt/data: filesystem unmounted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{records} events, 0 invalid")), "{stderr}");
}

#[test]
fn json_output_validates_line_by_line() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("monitor/schema/report.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    for capture in ["sample.v0", "linux-7.3.4-dir-symlink-repair-verbose.v0"] {
        let path = data(capture);
        let out = run("xfs-heal-monitor", &["--replay", path.to_str().unwrap(), "--format", "json", "/mnt"]);
        assert!(out.status.success());
        let lines = stdout_lines(&out);
        assert!(lines.len() > 8, "{capture}: {} lines", lines.len());
        for line in lines {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(v.is_valid(&value), "{line}");
        }
    }
}

#[test]
fn json_capture_replays_like_the_binary_one() {
    let v0 = run(
        "xfs-heal-monitor",
        &["--replay", data("linux-7.3.4-dir-symlink-repair-verbose.v0").to_str().unwrap(), "/mnt"],
    );
    let js = run(
        "xfs-heal-monitor",
        &["--replay-json", data("linux-7.3.4-dir-symlink-repair-verbose.json").to_str().unwrap(), "/mnt"],
    );
    assert!(v0.status.success() && js.status.success());
    assert_eq!(stdout_lines(&v0), stdout_lines(&js));
}

#[test]
fn quiet_keeps_mount_events_only() {
    let out = run("xfs-heal-monitor", &["--replay", data("sample.v0").to_str().unwrap(), "--quiet", "/mnt"]);
    assert_eq!(
        stdout_lines(&out),
        [
            "/mnt: monitoring started",
            "/mnt: filesystem shut down due to log I/O error, forced unmount",
            "/mnt: repairs stopped: the filesystem has shut down; 0 waiting repairs dropped",
            "/mnt: filesystem unmounted"
        ]
    );
}

#[test]
fn damaged_capture_is_reported_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("xfs-heal-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = std::fs::read(data("linux-7.3.4-dir-symlink-repair-verbose.v0")).unwrap();
    bytes[64 + 17] = 0x80; // record 1's inode mask gains the undefined bit 0x8000
    bytes.truncate(bytes.len() - 10);
    let path = dir.join("damaged.v0");
    std::fs::write(&path, &bytes).unwrap();
    let out = run("xfs-heal-monitor", &["--replay", path.to_str().unwrap(), "/mnt"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stdout_lines(&out);
    assert_eq!(
        lines[1],
        "/mnt: invalid V0 record at stream byte 64: inode.mask (record offset 16) = 0x8010: bits outside the defined set 0x1ff"
    );
    assert_eq!(lines.last().unwrap(), "/mnt: stream ended inside the record at byte 1216: 54 of 64 bytes");
    // Everything between was still decoded and reported.
    assert!(lines.contains(&"/mnt ino 1572993 gen 0x5fde98a7 symlink: sick".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_capture_is_a_clear_error() {
    let out = run("xfs-heal-monitor", &["--replay", "/nonexistent/capture.v0"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "xfs-heal-monitor: cannot replay /nonexistent/capture.v0: No such file or directory (os error 2)"
    );
}

#[test]
fn usage_errors_are_refused() {
    let out = run("xfs-heal-monitor", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<MOUNTPOINT>"));
    let out = run("xfs-heal-monitor", &["--replay", "a", "--repair", "/mnt"]);
    assert_eq!(out.status.code(), Some(2));
}
