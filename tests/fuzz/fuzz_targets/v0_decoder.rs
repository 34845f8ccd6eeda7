//! V0 records from the kernel (or a capture): any bytes, split anywhere.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_monitor::decode::v0::V0Decoder;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut d = V0Decoder::new();
    let mut n = 0usize;
    d.feed(&data[..split], |r| {
        n += 1;
        if let Ok(e) = r {
            // Anything accepted re-encodes to a record that decodes the same.
            let again = xfs_heal_monitor::decode::v0::decode_record(&e.to_v0_bytes());
            assert_eq!(again, Ok(e));
        }
    });
    d.feed(&data[split..], |_| n += 1);
    assert_eq!(n, data.len() / 64);
    let _ = d.finish();
});
