//! The full online check: upstream's `xfs_scrub@INSTANCE.service`, started by systemd for
//! the monitor, and the notices its hooks send back. No I/O.
//!
//! The monitor asks by writing one line into a FIFO that systemd created and handed to it
//! (`xfs-heal-full-check@.socket`); a path unit watching that FIFO starts the check. The
//! hooks xfs-heal adds to `xfs_scrub@.service` write [`Notice`] lines into a second FIFO of
//! the same socket unit: `started` before the check, `finished RESULT CODE STATUS` after it
//! (systemd's `$SERVICE_RESULT`, `$EXIT_CODE`, `$EXIT_STATUS`). Only root can write either
//! FIFO, but the lines are still parsed as input from outside the monitor: bounded, ASCII,
//! every field checked.

use crate::fstab::escape_path;

/// The name of the socket unit's two FIFOs in `LISTEN_FDNAMES` (`FileDescriptorName=`).
pub const FD_NAME: &str = "full-check";

/// Longest notice line accepted, newline excluded; longer ones are refused whole.
pub const MAX_NOTICE_LEN: usize = 128;

/// What the request FIFO receives: the line's content is for the operator reading the FIFO
/// by hand; the write itself is the trigger.
pub const REQUEST_LINE: &[u8] = b"full check requested by xfs-heal-monitor\n";

/// The unit systemd runs for `mountpoint`'s full check.
pub fn unit_name(mountpoint: &str) -> Option<String> {
    escape_path(mountpoint).map(|i| format!("xfs_scrub@{i}.service"))
}

/// One line from the hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The check is starting.
    Started,
    /// The check is over.
    Finished(Outcome),
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// xfs_scrub exited with `status`: the sum of [`ScrubStatus`]'s bits.
    Exited(ScrubStatus),
    /// It did not exit by itself: killed by a signal, timed out, or failed to start
    /// (systemd's result, code and status words, each checked to be a short plain token).
    Other { result: Token, code: Token, status: Token },
}

/// xfs_scrub's exit status, as documented in xfs_scrub(8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubStatus(u8);

impl ScrubStatus {
    pub const ERRORS_LEFT: u8 = 1;
    pub const OPTIMIZATIONS: u8 = 2;
    pub const OPERATIONAL: u8 = 4;
    pub const USAGE: u8 = 8;

    /// Any value the sum of the four bits can take.
    pub fn new(status: u8) -> Option<Self> {
        (status < 16).then_some(Self(status))
    }
    pub const fn get(self) -> u8 {
        self.0
    }
    /// Nothing left to do: no errors left, no operational or usage error.
    pub const fn is_clean(self) -> bool {
        self.0 & (Self::ERRORS_LEFT | Self::OPERATIONAL | Self::USAGE) == 0
    }
    /// What it means, for the report.
    pub fn sentence(self) -> String {
        if self.0 == 0 {
            return "no problems left".into();
        }
        let parts: Vec<&str> = [
            (
                Self::ERRORS_LEFT,
                "errors remain unrepaired (it repairs only where the autofsck property says repair), so offline repair (xfs_repair) may be required",
            ),
            (Self::OPTIMIZATIONS, "optimizations are possible"),
            (Self::OPERATIONAL, "it hit an operational error (see its journal)"),
            (Self::USAGE, "it was called wrongly"),
        ]
        .iter()
        .filter(|(bit, _)| self.0 & bit != 0)
        .map(|(_, s)| *s)
        .collect();
        parts.join("; ")
    }
}

/// A word from systemd's environment: 1 to 32 of `[a-z0-9-]`, so it is safe in any report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(word: &str) -> Option<Self> {
        let ok = (1..=32).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| Self(word.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a notice line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeError {
    TooLong { len: usize },
    NotAscii,
    Unknown,
}

impl std::fmt::Display for NoticeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong { len } => {
                write!(f, "a full-check notice of {len} bytes (at most {MAX_NOTICE_LEN})")
            }
            Self::NotAscii => f.write_str("a full-check notice that is not printable ASCII"),
            Self::Unknown => {
                f.write_str("a full-check notice that is neither 'started' nor 'finished RESULT CODE STATUS'")
            }
        }
    }
}

impl Notice {
    /// Parses one line, newline excluded.
    pub fn parse(line: &[u8]) -> Result<Self, NoticeError> {
        if line.len() > MAX_NOTICE_LEN {
            return Err(NoticeError::TooLong { len: line.len() });
        }
        if !line.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Err(NoticeError::NotAscii);
        }
        let text = std::str::from_utf8(line).map_err(|_| NoticeError::NotAscii)?;
        let words: Vec<&str> = text.split(' ').collect();
        match words.as_slice() {
            ["started"] => Ok(Self::Started),
            ["finished", result, code, status] => {
                let result = Token::new(result).ok_or(NoticeError::Unknown)?;
                // xfs_scrub's own status, exactly as systemd writes a number; anything else
                // (a signal, systemd's 2xx codes for a failed start) is kept as words.
                let scrub = status.parse::<u8>().ok().and_then(ScrubStatus::new);
                if let Some(s) = scrub.filter(|s| *code == "exited" && *status == s.get().to_string()) {
                    return Ok(Self::Finished(Outcome::Exited(s)));
                }
                let code = Token::new(code).ok_or(NoticeError::Unknown)?;
                let status = Token::new(&status.to_ascii_lowercase()).ok_or(NoticeError::Unknown)?;
                Ok(Self::Finished(Outcome::Other { result, code, status }))
            }
            _ => Err(NoticeError::Unknown),
        }
    }
}

impl Outcome {
    /// Did the check leave the filesystem with nothing to do?
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Exited(s) if s.is_clean())
    }
    /// What happened, for the report.
    pub fn sentence(&self) -> String {
        match self {
            Self::Exited(s) => format!("exit status {}: {}", s.get(), s.sentence()),
            Self::Other { result, code, status } => format!(
                "did not complete (result {}, {} {})",
                result.as_str(),
                code.as_str(),
                status.as_str()
            ),
        }
    }
    /// Its name in JSON (`outcome`) and the journal (`XFS_HEAL_OUTCOME=`).
    pub fn key(&self) -> &'static str {
        match self {
            Self::Exited(s) if s.get() == 0 => "clean",
            Self::Exited(s) if s.is_clean() => "clean_optimizable",
            Self::Exited(s) if s.get() & ScrubStatus::ERRORS_LEFT != 0 => "errors_left",
            Self::Exited(_) => "check_error",
            Self::Other { .. } => "did_not_complete",
        }
    }
}

/// Splits a FIFO's bytes into notice lines, holding a partial line until its newline. A line
/// longer than [`MAX_NOTICE_LEN`] is refused once and skipped to its end, so the buffer
/// never holds more than that.
#[derive(Debug, Default)]
pub struct NoticeReader {
    partial: Vec<u8>,
    /// The current line overflowed; skipping to its newline.
    skipping: bool,
}

impl NoticeReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; calls `each` for every complete line, in order.
    pub fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(Result<Notice, NoticeError>)) {
        for &b in bytes {
            if b == b'\n' {
                if !std::mem::take(&mut self.skipping) {
                    each(Notice::parse(&self.partial));
                }
                self.partial.clear();
            } else if !self.skipping {
                self.partial.push(b);
                if self.partial.len() > MAX_NOTICE_LEN {
                    each(Err(NoticeError::TooLong { len: self.partial.len() }));
                    self.partial.clear();
                    self.skipping = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Notice, NoticeError> {
        Notice::parse(s.as_bytes())
    }

    #[test]
    fn the_hooks_lines() {
        assert_eq!(parse("started"), Ok(Notice::Started));
        let clean = parse("finished success exited 0").unwrap();
        assert_eq!(clean, Notice::Finished(Outcome::Exited(ScrubStatus(0))));
        let Notice::Finished(o) = clean else { unreachable!() };
        assert!(o.is_clean());
        assert_eq!(o.key(), "clean");
        assert_eq!(o.sentence(), "exit status 0: no problems left");
        let Ok(Notice::Finished(o)) = parse("finished exit-code exited 3") else { panic!() };
        assert_eq!(o, Outcome::Exited(ScrubStatus(3)));
        assert!(!o.is_clean());
        assert_eq!(o.key(), "errors_left");
        assert_eq!(
            o.sentence(),
            "exit status 3: errors remain unrepaired (it repairs only where the autofsck property says repair), so offline repair (xfs_repair) may be required; optimizations are possible"
        );
        let Ok(Notice::Finished(o)) = parse("finished exit-code exited 2") else { panic!() };
        assert!(o.is_clean());
        assert_eq!(o.key(), "clean_optimizable");
        let Ok(Notice::Finished(o)) = parse("finished exit-code exited 4") else { panic!() };
        assert_eq!(o.key(), "check_error");
        assert!(!o.is_clean());
        // Killed: systemd says "killed TERM".
        let Ok(Notice::Finished(o)) = parse("finished signal killed TERM") else { panic!() };
        assert_eq!(o.key(), "did_not_complete");
        assert!(!o.is_clean());
        assert_eq!(o.sentence(), "did not complete (result signal, killed term)");
    }

    #[test]
    fn refuses_what_the_hooks_never_write() {
        for bad in [
            "",
            "start",
            "started now",
            "finished success exited",
            "finished success exited 0 extra",
            "finished Success exited 0",
            "finished success exited +1",
            "finished  success exited 0",
        ] {
            assert_eq!(parse(bad), Err(NoticeError::Unknown), "{bad:?}");
        }
        assert_eq!(Notice::parse(b"started\x1b[2J"), Err(NoticeError::NotAscii));
        assert_eq!(Notice::parse("finished é exited 0".as_bytes()), Err(NoticeError::NotAscii));
        let long = format!("finished {} exited 0", "a".repeat(MAX_NOTICE_LEN));
        assert_eq!(parse(&long), Err(NoticeError::TooLong { len: long.len() }));
        // Not xfs_scrub's status: systemd could not run it (203 = exec failed).
        let Ok(Notice::Finished(o)) = parse("finished exit-code exited 203") else { panic!() };
        assert_eq!(o.key(), "did_not_complete");
        let Ok(Notice::Finished(o)) = parse("finished exit-code exited 01") else { panic!() };
        assert_eq!(o.key(), "did_not_complete", "not a number systemd writes");
    }

    #[test]
    fn the_length_limit_is_exact_and_every_refusal_says_why() {
        let at_limit = "x".repeat(MAX_NOTICE_LEN);
        assert_eq!(parse(&at_limit), Err(NoticeError::Unknown), "128 bytes are read, and refused as unknown");
        let over = "x".repeat(MAX_NOTICE_LEN + 1);
        assert_eq!(parse(&over), Err(NoticeError::TooLong { len: MAX_NOTICE_LEN + 1 }));
        assert_eq!(
            NoticeError::TooLong { len: 200 }.to_string(),
            "a full-check notice of 200 bytes (at most 128)"
        );
        assert_eq!(NoticeError::NotAscii.to_string(), "a full-check notice that is not printable ASCII");
        assert_eq!(
            NoticeError::Unknown.to_string(),
            "a full-check notice that is neither 'started' nor 'finished RESULT CODE STATUS'"
        );
    }

    #[test]
    fn reader_splits_lines_and_skips_overlong_ones_whole() {
        let mut r = NoticeReader::new();
        let mut got = Vec::new();
        r.feed(b"star", |n| got.push(n));
        assert!(got.is_empty(), "a partial line waits for its newline");
        r.feed(b"ted\nfinished success exited 0\n", |n| got.push(n));
        assert_eq!(got, vec![Ok(Notice::Started), Ok(Notice::Finished(Outcome::Exited(ScrubStatus(0))))]);
        got.clear();
        let mut long = vec![b'x'; MAX_NOTICE_LEN * 3];
        long.extend_from_slice(b"\nstarted\n");
        r.feed(&long, |n| got.push(n));
        assert_eq!(got, vec![Err(NoticeError::TooLong { len: MAX_NOTICE_LEN + 1 }), Ok(Notice::Started)]);
        assert!(r.partial.is_empty());
    }

    #[test]
    fn unit_names_are_systemds() {
        assert_eq!(unit_name("/mnt/data").as_deref(), Some("xfs_scrub@mnt-data.service"));
        assert_eq!(unit_name("/").as_deref(), Some("xfs_scrub@-.service"));
        assert_eq!(unit_name("/mnt/my-data").as_deref(), Some("xfs_scrub@mnt-my\\x2ddata.service"));
        assert_eq!(unit_name("relative"), None);
    }

    proptest! {
        /// Whatever the bytes and however they are split, the reader never panics, never
        /// holds more than one line, and parses the same lines as a single feed.
        #[test]
        fn reader_is_split_independent(bytes in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            let cut = cut.min(bytes.len());
            let (mut a, mut b) = (NoticeReader::new(), NoticeReader::new());
            let (mut whole, mut split) = (Vec::new(), Vec::new());
            a.feed(&bytes, |n| whole.push(n));
            b.feed(&bytes[..cut], |n| split.push(n));
            prop_assert!(b.partial.len() <= MAX_NOTICE_LEN);
            b.feed(&bytes[cut..], |n| split.push(n));
            prop_assert_eq!(whole, split);
            prop_assert!(a.partial.len() <= MAX_NOTICE_LEN);
        }

        /// Every accepted notice renders to plain printable text.
        #[test]
        fn accepted_notices_render_plain(line in "[ -~]{0,140}") {
            if let Ok(Notice::Finished(o)) = Notice::parse(line.as_bytes()) {
                prop_assert!(o.sentence().bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            }
        }
    }
}
