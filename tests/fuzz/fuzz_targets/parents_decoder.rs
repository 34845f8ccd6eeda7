//! What XFS_IOC_GETPARENTS_BY_HANDLE writes, read for its first record; and the bytes of a
//! decoded path, escaped for a log line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::escape::escape;
use xfs_heal_protocol::names::first_parent;

fuzz_target!(|data: &[u8]| {
    if let Some((_, name)) = first_parent(data) {
        assert!(!name.is_empty() && !name.contains(&b'/') && !name.contains(&0));
    }
    assert!(!escape(data).chars().any(char::is_control));
});
