//! What the monitor reads from the full check's notices FIFO.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xfs_heal_protocol::fullcheck::{Notice, NoticeReader, MAX_NOTICE_LEN};

fuzz_target!(|data: &[u8]| {
    let mut reader = NoticeReader::new();
    reader.feed(data, |n| {
        if let Ok(Notice::Finished(o)) = n {
            // Whatever is accepted renders as one plain line.
            let s = o.sentence();
            assert!(s.len() < 4 * MAX_NOTICE_LEN && s.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        }
    });
});
