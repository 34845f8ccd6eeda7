//! `xfs-heal status` showing whatever a metrics file says: the text table and the JSON never
//! carry a control or format character (but the table's own newlines), every line of the
//! table stays bounded, and the JSON parses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_ctl::status::{render_json, render_text, summarise, Status, MAX_CELL_CHARS};
use xfs_heal_protocol::escape::must_escape;
use xfs_heal_protocol::metrics::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(samples) = parse(text) else { return };
    let Ok(mount) = summarise(&samples, u64::from(data.first().copied().unwrap_or(0)) * 4) else { return };
    let status = Status { mounts: vec![mount.clone(), mount], unreadable: vec![] };
    let table = render_text(&status, std::time::SystemTime::now());
    for line in table.lines() {
        assert!(line.chars().all(|c| c == '\\' || !must_escape(c)), "{line:?}");
        assert!(line.chars().count() <= 7 * (MAX_CELL_CHARS + 2), "{line:?}");
    }
    assert_eq!(table.lines().count(), 3);
    let json = render_json(&status);
    assert!(!json.chars().any(|c| c != '\n' && (c.is_control() || xfs_heal_protocol::escape::is_format(c))), "{json:?}");
    serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
});
