//! What the monitor decodes from the repairer: Hello and replies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::codec;
use xfs_heal_protocol::RepairerToMonitor;

fuzz_target!(|data: &[u8]| {
    if let Ok((msg, used)) = codec::decode_frame::<RepairerToMonitor>(data) {
        assert_eq!(codec::encode(&msg).expect("re-encode"), &data[..used]);
    }
});
