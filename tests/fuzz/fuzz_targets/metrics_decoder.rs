//! What `xfs-heal status` reads from the metrics directory, where a monitor (or anyone who
//! can write there) put it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::metrics::{parse, render, Sample, EVENTS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(samples) = parse(text) {
        // Whatever is accepted renders and reads back the same.
        for s in samples.iter().filter(|s| s.labels.contains_key("mountpoint") && s.labels.contains_key("device")) {
            let again = render(
                &s.labels["mountpoint"],
                &s.labels["device"],
                &[Sample { family: EVENTS, label: Some("sick".into()), value: 1.0 }],
            );
            let back = parse(&again).expect("its own rendering");
            assert_eq!(back[0].labels["mountpoint"], s.labels["mountpoint"]);
        }
    }
});
