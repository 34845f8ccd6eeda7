//! What the privileged repairer decodes from an untrusted monitor: any bytes must give a
//! message or an error, never a panic; anything accepted must re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::codec;
use xfs_heal_protocol::MonitorToRepairer;

fuzz_target!(|data: &[u8]| {
    if let Ok((msg, used)) = codec::decode_frame::<MonitorToRepairer>(data) {
        assert_eq!(codec::encode(&msg).expect("re-encode"), &data[..used]);
    }
});
