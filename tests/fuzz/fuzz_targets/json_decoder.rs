//! JSON-format events: framing, parsing, schema validation and mapping on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_monitor::decode::json::JsonDecoder;

fuzz_target!(|data: &[u8]| {
    let mut d = JsonDecoder::new();
    d.feed(data, |_| {});
    d.finish(|_| {});
});
