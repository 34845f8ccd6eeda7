//! The wire format: length-prefixed, versioned, size-capped bincode frames.
//!
//! ```text
//! frame   = length:u32le  payload            (length = payload size, 2..=MAX_PAYLOAD)
//! payload = version:u16le bincode(message)   (bincode 2, fixed-width little-endian ints)
//! ```
//!
//! The length is checked against [`MAX_PAYLOAD`] before anything is allocated, so a forged
//! length costs the reader nothing. The version is checked before the body is decoded. The
//! body must be consumed exactly: trailing bytes are an error. No function here panics on
//! any input; every failure is a [`CodecError`].

use core::fmt;
use serde::{de::DeserializeOwned, Serialize};

use crate::message::{MonitorToRepairer, RepairerToMonitor};

/// The protocol version this build speaks. Bump on any change to the encoded form.
pub const PROTOCOL_VERSION: u16 = 3;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX: usize = 4;
/// Bytes of the version field at the start of every payload.
pub const VERSION_FIELD: usize = 2;
/// Largest payload accepted: a `Hello` with a PATH_MAX mount path fits with room to spare.
pub const MAX_PAYLOAD: usize = 8 * 1024;
/// Largest frame on the wire.
pub const MAX_FRAME: usize = LENGTH_PREFIX + MAX_PAYLOAD;

/// Everything that can go wrong encoding or decoding a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The length prefix announces more than [`MAX_PAYLOAD`] bytes.
    FrameTooLarge { length: u64 },
    /// The length prefix announces fewer bytes than a version field.
    FrameTooShort { length: u64 },
    /// The buffer ends before the frame does (`needed` more bytes).
    Incomplete { needed: usize },
    /// The peer speaks another protocol version.
    UnsupportedVersion { got: u16, want: u16 },
    /// The body does not decode as a message (bad variant, illegal value, truncated).
    Malformed(String),
    /// The body decoded but bytes were left over.
    TrailingBytes { count: usize },
    /// Encoding failed or produced an oversized payload.
    Encode(String),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FrameTooLarge { length } => {
                write!(f, "frame of {length} bytes exceeds the {MAX_PAYLOAD}-byte limit")
            }
            Self::FrameTooShort { length } => {
                write!(f, "frame of {length} bytes is too short to hold a version")
            }
            Self::Incomplete { needed } => write!(f, "truncated frame: {needed} more bytes needed"),
            Self::UnsupportedVersion { got, want } => {
                write!(f, "protocol version {got} is not supported (this side speaks {want})")
            }
            Self::Malformed(why) => write!(f, "malformed message: {why}"),
            Self::TrailingBytes { count } => write!(f, "{count} trailing bytes after the message"),
            Self::Encode(why) => write!(f, "cannot encode message: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::MonitorToRepairer {}
    impl Sealed for super::RepairerToMonitor {}
}

/// The two message directions, and nothing else, can be framed.
pub trait Message: Serialize + DeserializeOwned + sealed::Sealed {}
impl Message for MonitorToRepairer {}
impl Message for RepairerToMonitor {}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<MAX_PAYLOAD>()
}

/// Encodes one message as a complete frame.
pub fn encode<M: Message>(message: &M) -> Result<Vec<u8>, CodecError> {
    let body =
        bincode::serde::encode_to_vec(message, config()).map_err(|e| CodecError::Encode(e.to_string()))?;
    let payload_len = VERSION_FIELD + body.len();
    if payload_len > MAX_PAYLOAD {
        return Err(CodecError::Encode(format!(
            "{payload_len}-byte payload exceeds the {MAX_PAYLOAD}-byte limit"
        )));
    }
    let length = u32::try_from(payload_len).map_err(|e| CodecError::Encode(e.to_string()))?;
    let mut frame = Vec::with_capacity(LENGTH_PREFIX + payload_len);
    frame.extend_from_slice(&length.to_le_bytes());
    frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Validates a length prefix and returns the payload size that follows it.
pub fn payload_length(prefix: [u8; LENGTH_PREFIX]) -> Result<usize, CodecError> {
    let length = u32::from_le_bytes(prefix);
    let length_u64 = u64::from(length);
    let length = usize::try_from(length).map_err(|_| CodecError::FrameTooLarge { length: length_u64 })?;
    if length > MAX_PAYLOAD {
        return Err(CodecError::FrameTooLarge { length: length_u64 });
    }
    if length < VERSION_FIELD {
        return Err(CodecError::FrameTooShort { length: length_u64 });
    }
    Ok(length)
}

/// Decodes one payload (the bytes after the length prefix), which must be exactly one message.
pub fn decode_payload<M: Message>(payload: &[u8]) -> Result<M, CodecError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(CodecError::FrameTooLarge { length: payload.len() as u64 });
    }
    let (version, body) = payload
        .split_first_chunk::<VERSION_FIELD>()
        .ok_or(CodecError::FrameTooShort { length: payload.len() as u64 })?;
    let version = u16::from_le_bytes(*version);
    if version != PROTOCOL_VERSION {
        return Err(CodecError::UnsupportedVersion { got: version, want: PROTOCOL_VERSION });
    }
    let (message, used) = bincode::serde::decode_from_slice::<M, _>(body, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes { count: body.len() - used });
    }
    Ok(message)
}

/// Decodes the first frame of `buf`; returns the message and the bytes it took.
pub fn decode_frame<M: Message>(buf: &[u8]) -> Result<(M, usize), CodecError> {
    let (prefix, rest) = buf
        .split_first_chunk::<LENGTH_PREFIX>()
        .ok_or_else(|| CodecError::Incomplete { needed: LENGTH_PREFIX - buf.len() })?;
    let length = payload_length(*prefix)?;
    let payload = rest.get(..length).ok_or_else(|| CodecError::Incomplete { needed: length - rest.len() })?;
    Ok((decode_payload(payload)?, LENGTH_PREFIX + length))
}

/// Reassembles frames from a byte stream, and notices a peer that stops in the middle of one.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    partial_since_ns: Option<u64>,
}

/// Why a stream of frames cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A malformed frame: nothing after it can be trusted to start a frame.
    Frame(CodecError),
    /// Part of a frame arrived and nothing more for too long.
    Stalled { bytes: usize, secs: u64 },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "rejected frame: {e}"),
            Self::Stalled { bytes, secs } => {
                write!(f, "sent {bytes} bytes of a frame and nothing more for {secs} s")
            }
        }
    }
}

/// Why the repairer ended a monitor's connection (logged; the next monitor is served).
#[derive(Debug)]
pub enum Disconnect {
    Closed,
    /// Closed with this many bytes of a frame received.
    ClosedInFrame(usize),
    Read(std::io::Error),
    Stream(StreamError),
    Encode(CodecError),
    /// Its socket buffer is full: it does not read its replies.
    NotReading,
    Write(std::io::Error),
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed"),
            Self::ClosedInFrame(n) => {
                write!(f, "connection closed inside a frame ({n} bytes of it received)")
            }
            Self::Read(e) => write!(f, "read failed: {e}"),
            Self::Stream(e) => e.fmt(f),
            Self::Encode(e) => write!(f, "cannot encode the reply: {e}"),
            Self::NotReading => f.write_str("monitor is not reading its replies"),
            Self::Write(e) => write!(f, "cannot send reply: {e}"),
        }
    }
}

impl Disconnect {
    /// Judges one write(2) of a `len`-byte reply frame: written short, or it would have
    /// blocked, means the monitor does not read its replies.
    pub fn after_write(len: usize, written: std::io::Result<usize>) -> Result<(), Self> {
        match written {
            Ok(n) if n == len => Ok(()),
            Ok(_) => Err(Self::NotReading),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(Self::NotReading),
            Err(e) => Err(Self::Write(e)),
        }
    }
}

impl std::error::Error for Disconnect {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(e) | Self::Write(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Closed | Self::ClosedInFrame(_) | Self::Stream(_) | Self::NotReading => None,
        }
    }
}

impl FrameReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the peer.
    /// Takes the result of one read(2) of the connection: bytes are buffered; end of file
    /// is the peer gone (inside a frame or between frames); a read that would block or was
    /// interrupted brought nothing.
    pub fn received(&mut self, read: std::io::Result<&[u8]>) -> Result<(), Disconnect> {
        use std::io::ErrorKind::{Interrupted, WouldBlock};
        match read {
            Ok([]) if self.buffered() == 0 => Err(Disconnect::Closed),
            Ok([]) => Err(Disconnect::ClosedInFrame(self.buffered())),
            Ok(bytes) => {
                self.push(bytes);
                Ok(())
            }
            Err(e) if matches!(e.kind(), WouldBlock | Interrupted) => Ok(()),
            Err(e) => Err(Disconnect::Read(e)),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received that do not yet make a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, if one is buffered. A partial frame that has waited
    /// `stall_ns` for the rest is an error, as is any malformed frame.
    pub fn next<M: Message>(&mut self, now_ns: u64, stall_ns: u64) -> Result<Option<M>, StreamError> {
        match decode_frame::<M>(&self.buf) {
            Ok((message, used)) => {
                self.buf.drain(..used);
                self.partial_since_ns = None;
                Ok(Some(message))
            }
            Err(CodecError::Incomplete { .. }) if self.buf.is_empty() => {
                self.partial_since_ns = None;
                Ok(None)
            }
            Err(CodecError::Incomplete { .. }) => {
                let since = *self.partial_since_ns.get_or_insert(now_ns);
                if now_ns.saturating_sub(since) >= stall_ns {
                    return Err(StreamError::Stalled {
                        bytes: self.buf.len(),
                        secs: stall_ns / 1_000_000_000,
                    });
                }
                Ok(None)
            }
            Err(e) => Err(StreamError::Frame(e)),
        }
    }

    /// When a partial frame now buffered times out, if one is.
    pub fn stall_deadline(&self, stall_ns: u64) -> Option<u64> {
        self.partial_since_ns.map(|t| t.saturating_add(stall_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgNumber, AgScrub, RepairRequest, RepairTarget, RequestId};

    /// A message of any size, to reach the limits no real message reaches.
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Blob(Vec<u8>);
    impl sealed::Sealed for Blob {}
    impl Message for Blob {}

    #[test]
    fn the_payload_limit_is_exact_on_both_sides() {
        assert_eq!(MAX_FRAME, 8196);
        // Payload: version (2) + vec length (8) + bytes.
        let fits = encode(&Blob(vec![7; MAX_PAYLOAD - 10])).unwrap();
        assert_eq!(fits.len(), MAX_FRAME);
        assert_eq!(decode_frame::<Blob>(&fits), Ok((Blob(vec![7; MAX_PAYLOAD - 10]), MAX_FRAME)));
        assert!(matches!(encode(&Blob(vec![7; MAX_PAYLOAD - 9])), Err(CodecError::Encode(_))));
        let limit = u32::try_from(MAX_PAYLOAD).unwrap();
        assert_eq!(payload_length(limit.to_le_bytes()), Ok(MAX_PAYLOAD));
        assert_eq!(
            payload_length((limit + 1).to_le_bytes()),
            Err(CodecError::FrameTooLarge { length: 8193 })
        );
        assert_eq!(payload_length(2u32.to_le_bytes()), Ok(2));
        assert_eq!(payload_length(1u32.to_le_bytes()), Err(CodecError::FrameTooShort { length: 1 }));
        let mut over = fits[LENGTH_PREFIX..].to_vec();
        assert!(decode_payload::<Blob>(&over).is_ok());
        over.push(0);
        assert_eq!(decode_payload::<Blob>(&over), Err(CodecError::FrameTooLarge { length: 8193 }));
    }

    #[test]
    fn errors_say_how_much_and_what() {
        let payload = &request(1)[LENGTH_PREFIX..];
        let mut two_extra = payload.to_vec();
        two_extra.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode_payload::<MonitorToRepairer>(&two_extra),
            Err(CodecError::TrailingBytes { count: 2 })
        );
        assert_eq!(decode_frame::<MonitorToRepairer>(&[26]), Err(CodecError::Incomplete { needed: 3 }));
        assert_eq!(
            decode_frame::<MonitorToRepairer>(&request(1)[..10]),
            Err(CodecError::Incomplete { needed: 20 })
        );
        let lines = [
            (CodecError::FrameTooLarge { length: 9000 }, "frame of 9000 bytes exceeds the 8192-byte limit"),
            (CodecError::FrameTooShort { length: 1 }, "frame of 1 bytes is too short to hold a version"),
            (CodecError::Incomplete { needed: 3 }, "truncated frame: 3 more bytes needed"),
            (
                CodecError::UnsupportedVersion { got: 1, want: 2 },
                "protocol version 1 is not supported (this side speaks 2)",
            ),
            (CodecError::Malformed("x".into()), "malformed message: x"),
            (CodecError::TrailingBytes { count: 2 }, "2 trailing bytes after the message"),
            (CodecError::Encode("y".into()), "cannot encode message: y"),
        ];
        for (e, line) in lines {
            assert_eq!(e.to_string(), line);
        }
    }

    #[test]
    fn reads_and_writes_are_judged_for_the_connection() {
        use std::io::{Error, ErrorKind};
        let mut r = FrameReader::new();
        assert!(matches!(r.received(Ok(&[])), Err(Disconnect::Closed)));
        assert!(r.received(Err(Error::from(ErrorKind::WouldBlock))).is_ok());
        assert!(r.received(Err(Error::from(ErrorKind::Interrupted))).is_ok());
        assert!(matches!(r.received(Err(Error::from_raw_os_error(104))), Err(Disconnect::Read(_))));
        r.received(Ok(&[1, 2, 3])).unwrap();
        assert_eq!(r.buffered(), 3);
        assert!(matches!(r.received(Ok(&[])), Err(Disconnect::ClosedInFrame(3))));
        assert!(Disconnect::after_write(10, Ok(10)).is_ok());
        assert!(matches!(Disconnect::after_write(10, Ok(4)), Err(Disconnect::NotReading)));
        let blocked = Error::from(ErrorKind::WouldBlock);
        assert!(matches!(Disconnect::after_write(10, Err(blocked)), Err(Disconnect::NotReading)));
        let broken = Error::from_raw_os_error(32);
        assert!(matches!(Disconnect::after_write(10, Err(broken)), Err(Disconnect::Write(_))));
    }

    #[test]
    fn an_empty_reader_is_not_a_partial_frame() {
        let mut r = FrameReader::new();
        assert_eq!(r.next::<MonitorToRepairer>(100, 0), Ok(None));
        assert_eq!(r.stall_deadline(50), None);
        r.push(&request(1)[..5]);
        assert_eq!(r.buffered(), 5);
    }

    fn request(id: u64) -> Vec<u8> {
        let target = RepairTarget::Ag { agno: AgNumber::try_from(1).unwrap(), kind: AgScrub::Agi };
        encode(&MonitorToRepairer::Repair(RepairRequest { id: RequestId(id), target })).unwrap()
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let bytes: Vec<u8> = [request(1), request(2)].concat();
        for cut in 0..bytes.len() {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                r.push(part);
                while let Some(MonitorToRepairer::Repair(req)) = r.next::<MonitorToRepairer>(0, 10).unwrap() {
                    got.push(req.id.0);
                }
            }
            assert_eq!(got, [1, 2], "cut at {cut}");
            assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn a_partial_frame_times_out_from_when_it_was_first_seen() {
        let mut r = FrameReader::new();
        r.push(&request(1)[..2]);
        assert_eq!(r.next::<MonitorToRepairer>(100, 50), Ok(None));
        assert_eq!(r.stall_deadline(50), Some(150));
        assert_eq!(r.next::<MonitorToRepairer>(149, 50), Ok(None));
        assert_eq!(r.next::<MonitorToRepairer>(150, 50), Err(StreamError::Stalled { bytes: 2, secs: 0 }));
        // The rest arriving in time resets the clock.
        let mut r = FrameReader::new();
        r.push(&request(1)[..2]);
        assert_eq!(r.next::<MonitorToRepairer>(100, 50), Ok(None));
        r.push(&request(1)[2..]);
        assert!(matches!(r.next::<MonitorToRepairer>(149, 50), Ok(Some(_))));
        assert_eq!(r.stall_deadline(50), None);
        assert_eq!(
            StreamError::Stalled { bytes: 2, secs: 5 }.to_string(),
            "sent 2 bytes of a frame and nothing more for 5 s"
        );
    }

    #[test]
    fn a_malformed_frame_is_an_error() {
        let mut r = FrameReader::new();
        r.push(&[0xff, 0xff, 0, 0, 1, 0]);
        assert!(matches!(
            r.next::<MonitorToRepairer>(0, 10),
            Err(StreamError::Frame(CodecError::FrameTooLarge { .. }))
        ));
    }
}
