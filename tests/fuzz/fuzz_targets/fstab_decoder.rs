//! /etc/fstab as the generator reads it, bytes line by line: whatever it holds, every entry
//! is one safe instance name that fits a unit's file name, and no NUL reaches it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::fstab::xfs_entries;

fuzz_target!(|data: &[u8]| {
    let (entries, rejected) = xfs_entries(data);
    for e in &entries {
        assert!(!e.instance.is_empty() && !e.instance.contains(['/', '\0']), "{e:?}");
        assert!(format!("xfs-heal-monitor@{}.service", e.instance).len() <= 255, "{e:?}");
        assert!(!e.mountpoint.contains('\0'));
    }
    let lines = data.split(|b| *b == b'\n').count();
    assert!(entries.iter().map(|e| e.line).chain(rejected.iter().map(|r| r.line)).all(|l| l >= 1 && l <= lines));
});
