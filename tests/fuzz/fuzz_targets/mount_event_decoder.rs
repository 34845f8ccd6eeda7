//! What a repairer's mount-namespace watch reads (fanotify mount events), walked for its mount.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::host::mount_moved;

fuzz_target!(|data: &[u8]| {
    let id = data.get(..8).map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap()));
    let _ = mount_moved(data.get(8..).unwrap_or_default(), id);
});
