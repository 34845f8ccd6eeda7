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
pub const PROTOCOL_VERSION: u16 = 1;

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
