//! V0 binary records (`struct xfs_health_monitor_event`, 64 bytes) from an untrusted byte
//! stream.
//!
//! [`V0Decoder`] accepts bytes in whatever pieces `read()` returned them (the kernel really
//! does return half a record to a 32-byte read) and reassembles whole records. Each record is
//! validated field by field: an unknown domain or type, a type that cannot occur in its
//! domain, a mask bit the ABI does not define, an empty mask, or a non-zero byte in padding
//! or in the unused part of the union is a [`DecodeError`] naming the byte offset and value,
//! and decoding carries on with the next record.

use core::fmt;

use xfs_heal_protocol::uapi::{self, event_offsets as off, HEALTH_EVENT_V0_SIZE};

use crate::event::*;

/// One V0 record.
pub type Record = [u8; HEALTH_EVENT_V0_SIZE];

/// What is wrong with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    UnknownDomain,
    UnknownType,
    /// A known type that this domain never carries (e.g. SICK in the MOUNT domain).
    TypeNotInDomain {
        domain: u32,
    },
    /// Bits outside the ones the ABI defines for this field.
    UndefinedBits {
        defined: u32,
    },
    /// A mask with no bit set: the kernel never queues one.
    EmptyMask,
    /// A LOST record that lost nothing.
    ZeroLostCount,
    /// A file I/O error code that is not an errno.
    ErrnoOutOfRange,
    /// Padding, or the part of the union the record's member does not use.
    NonZeroPadding,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownDomain => f.write_str("unknown domain"),
            Self::UnknownType => f.write_str("unknown event type"),
            Self::TypeNotInDomain { domain } => {
                write!(f, "event type cannot occur in domain {}", domain_name(*domain))
            }
            Self::UndefinedBits { defined } => {
                write!(f, "bits outside the defined set {defined:#x}")
            }
            Self::EmptyMask => f.write_str("empty mask"),
            Self::ZeroLostCount => f.write_str("lost-event record with a count of zero"),
            Self::ErrnoOutOfRange => f.write_str("not an errno (1..=4095, or 0)"),
            Self::NonZeroPadding => f.write_str("non-zero padding"),
        }
    }
}

/// A record that failed validation: where, what value, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordError {
    /// Byte offset of the offending field inside the record.
    pub field_offset: usize,
    pub field: &'static str,
    pub value: u64,
    pub problem: Problem,
    /// Domain and type as read, for callers that want to react to a damaged SICK record.
    pub domain: u32,
    pub event_type: u32,
}

/// A [`RecordError`] placed in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the record's first byte in the stream.
    pub stream_offset: u64,
    pub error: RecordError,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.error;
        write!(
            f,
            "invalid V0 record at stream byte {}: {} (record offset {}) = {:#x}: {}",
            self.stream_offset, e.field, e.field_offset, e.value, e.problem
        )
    }
}

impl std::error::Error for DecodeError {}

/// The stream ended inside a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedRecord {
    pub stream_offset: u64,
    pub have: usize,
}

impl fmt::Display for TruncatedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream ended inside the record at byte {}: {} of {HEALTH_EVENT_V0_SIZE} bytes",
            self.stream_offset, self.have
        )
    }
}

impl std::error::Error for TruncatedRecord {}

fn domain_name(domain: u32) -> &'static str {
    match domain {
        uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT => "mount",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_FS => "fs",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_AG => "ag",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_INODE => "inode",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_RTGROUP => "rtgroup",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_DATADEV => "datadev",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_RTDEV => "rtdev",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_LOGDEV => "logdev",
        uapi::XFS_HEALTH_MONITOR_DOMAIN_FILERANGE => "filerange",
        _ => "unknown",
    }
}

#[inline(always)]
fn u32_at(rec: &Record, at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&rec[at..at + 4]);
    u32::from_ne_bytes(b)
}

#[inline(always)]
fn u64_at(rec: &Record, at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&rec[at..at + 8]);
    u64::from_ne_bytes(b)
}

struct Ctx<'a> {
    rec: &'a Record,
    domain: u32,
    ty: u32,
}

impl Ctx<'_> {
    fn err(&self, field_offset: usize, field: &'static str, value: u64, problem: Problem) -> RecordError {
        RecordError { field_offset, field, value, problem, domain: self.domain, event_type: self.ty }
    }

    /// Turns a mask constructor's refusal into an error naming the field and its value.
    fn mask<T>(
        &self,
        at: usize,
        field: &'static str,
        result: Result<T, u32>,
        defined: u32,
    ) -> Result<T, RecordError> {
        result.map_err(|bad| match bad {
            0 => self.err(at, field, 0, Problem::EmptyMask),
            _ => self.err(at, field, u64::from(u32_at(self.rec, at)), Problem::UndefinedBits { defined }),
        })
    }
}

/// Decodes and validates one record.
pub fn decode_record(rec: &Record) -> Result<HealthEvent, RecordError> {
    let domain = u32_at(rec, off::DOMAIN);
    let ty = u32_at(rec, off::TYPE);
    let cx = Ctx { rec, domain, ty };
    let err = |field_offset, field, value, problem| cx.err(field_offset, field, value, problem);
    let wrong_type = || {
        if ty <= uapi::XFS_HEALTH_MONITOR_TYPE_DATALOST {
            err(off::TYPE, "type", u64::from(ty), Problem::TypeNotInDomain { domain })
        } else {
            err(off::TYPE, "type", u64::from(ty), Problem::UnknownType)
        }
    };

    // Decode the domain/type pair and note how many union bytes the member uses.
    let (kind, used) = match domain {
        uapi::XFS_HEALTH_MONITOR_DOMAIN_MOUNT => match ty {
            uapi::XFS_HEALTH_MONITOR_TYPE_RUNNING => (EventKind::Running, 0),
            uapi::XFS_HEALTH_MONITOR_TYPE_UNMOUNT => (EventKind::Unmount, 0),
            uapi::XFS_HEALTH_MONITOR_TYPE_LOST => {
                let count = u64_at(rec, off::LOST_COUNT);
                if count == 0 {
                    return Err(err(off::LOST_COUNT, "lost.count", 0, Problem::ZeroLostCount));
                }
                (EventKind::Lost { count }, 8)
            }
            uapi::XFS_HEALTH_MONITOR_TYPE_SHUTDOWN => {
                let raw = u32_at(rec, off::SHUTDOWN_REASONS);
                let reasons = cx.mask(
                    off::SHUTDOWN_REASONS,
                    "shutdown.reasons",
                    ShutdownReasons::new(raw),
                    ShutdownReasons::ALL,
                )?;
                (EventKind::Shutdown { reasons }, 4)
            }
            _ => return Err(wrong_type()),
        },
        uapi::XFS_HEALTH_MONITOR_DOMAIN_FS
        | uapi::XFS_HEALTH_MONITOR_DOMAIN_AG
        | uapi::XFS_HEALTH_MONITOR_DOMAIN_INODE
        | uapi::XFS_HEALTH_MONITOR_DOMAIN_RTGROUP => {
            let status = match ty {
                uapi::XFS_HEALTH_MONITOR_TYPE_SICK => HealthStatus::Sick,
                uapi::XFS_HEALTH_MONITOR_TYPE_CORRUPT => HealthStatus::Corrupt,
                uapi::XFS_HEALTH_MONITOR_TYPE_HEALTHY => HealthStatus::Healthy,
                _ => return Err(wrong_type()),
            };
            let (object, used) = match domain {
                uapi::XFS_HEALTH_MONITOR_DOMAIN_FS => {
                    let m = u32_at(rec, off::FS_MASK);
                    let mask = cx.mask(off::FS_MASK, "fs.mask", FsMask::new(m), FsMask::ALL)?;
                    (MetadataObject::Fs { mask }, 4)
                }
                uapi::XFS_HEALTH_MONITOR_DOMAIN_AG => {
                    let m = u32_at(rec, off::GROUP_MASK);
                    let mask = cx.mask(off::GROUP_MASK, "group.mask", AgMask::new(m), AgMask::ALL)?;
                    (MetadataObject::Ag { agno: u32_at(rec, off::GROUP_GNO), mask }, 8)
                }
                uapi::XFS_HEALTH_MONITOR_DOMAIN_RTGROUP => {
                    let m = u32_at(rec, off::GROUP_MASK);
                    let mask =
                        cx.mask(off::GROUP_MASK, "group.mask", RtGroupMask::new(m), RtGroupMask::ALL)?;
                    (MetadataObject::RtGroup { rgno: u32_at(rec, off::GROUP_GNO), mask }, 8)
                }
                _ => {
                    let m = u32_at(rec, off::INODE_MASK);
                    let mask = cx.mask(off::INODE_MASK, "inode.mask", InodeMask::new(m), InodeMask::ALL)?;
                    let ino = u64_at(rec, off::INODE_INO);
                    (MetadataObject::Inode { ino, gen: u32_at(rec, off::INODE_GEN), mask }, 16)
                }
            };
            (EventKind::Metadata { status, object }, used)
        }
        uapi::XFS_HEALTH_MONITOR_DOMAIN_DATADEV
        | uapi::XFS_HEALTH_MONITOR_DOMAIN_RTDEV
        | uapi::XFS_HEALTH_MONITOR_DOMAIN_LOGDEV => {
            if ty != uapi::XFS_HEALTH_MONITOR_TYPE_MEDIA_ERROR {
                return Err(wrong_type());
            }
            let device = match domain {
                uapi::XFS_HEALTH_MONITOR_DOMAIN_DATADEV => Device::Data,
                uapi::XFS_HEALTH_MONITOR_DOMAIN_RTDEV => Device::Rt,
                _ => Device::Log,
            };
            let daddr = u64_at(rec, off::MEDIA_DADDR);
            let bbcount = u64_at(rec, off::MEDIA_BBCOUNT);
            (EventKind::Media { device, daddr, bbcount }, 16)
        }
        uapi::XFS_HEALTH_MONITOR_DOMAIN_FILERANGE => {
            let kind = match ty {
                uapi::XFS_HEALTH_MONITOR_TYPE_BUFREAD => FileIoKind::BufferedRead,
                uapi::XFS_HEALTH_MONITOR_TYPE_BUFWRITE => FileIoKind::BufferedWrite,
                uapi::XFS_HEALTH_MONITOR_TYPE_DIOREAD => FileIoKind::DirectRead,
                uapi::XFS_HEALTH_MONITOR_TYPE_DIOWRITE => FileIoKind::DirectWrite,
                uapi::XFS_HEALTH_MONITOR_TYPE_DATALOST => FileIoKind::DataLost,
                _ => return Err(wrong_type()),
            };
            let error = u32_at(rec, off::FILERANGE_ERROR);
            if error > 4095 {
                return Err(err(
                    off::FILERANGE_ERROR,
                    "filerange.error",
                    u64::from(error),
                    Problem::ErrnoOutOfRange,
                ));
            }
            let kind = EventKind::FileIo {
                kind,
                ino: u64_at(rec, off::FILERANGE_INO),
                gen: u32_at(rec, off::FILERANGE_GEN),
                pos: u64_at(rec, off::FILERANGE_POS),
                len: u64_at(rec, off::FILERANGE_LEN),
                error,
            };
            (kind, 32)
        }
        _ => return Err(err(off::DOMAIN, "domain", u64::from(domain), Problem::UnknownDomain)),
    };

    // Everything after the member's bytes must be zero: the unused union tail and `pad`.
    let tail = off::UNION + used;
    if let Some(i) = rec[tail..].iter().position(|&b| b != 0) {
        let at = tail + i;
        let field = if at >= off::PAD { "pad" } else { "unused union bytes" };
        return Err(err(at, field, u64::from(rec[at]), Problem::NonZeroPadding));
    }

    Ok(HealthEvent { time_ns: u64_at(rec, off::TIME_NS), kind })
}

/// Reassembles and decodes records from a byte stream delivered in arbitrary pieces.
#[derive(Debug, Clone)]
pub struct V0Decoder {
    partial: Record,
    filled: usize,
    /// Stream offset of the next record's first byte.
    offset: u64,
}

impl Default for V0Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl V0Decoder {
    pub const fn new() -> Self {
        Self { partial: [0; HEALTH_EVENT_V0_SIZE], filled: 0, offset: 0 }
    }

    /// Decodes every complete record in `bytes` (after any partial one carried over),
    /// handing each result to `sink` in stream order. A trailing partial record is kept.
    pub fn feed<F>(&mut self, mut bytes: &[u8], mut sink: F)
    where
        F: FnMut(Result<HealthEvent, DecodeError>),
    {
        if self.filled > 0 {
            let take = (HEALTH_EVENT_V0_SIZE - self.filled).min(bytes.len());
            self.partial[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled < HEALTH_EVENT_V0_SIZE {
                return;
            }
            let rec = self.partial;
            self.filled = 0;
            sink(self.decode_next(&rec));
        }
        let mut chunks = bytes.chunks_exact(HEALTH_EVENT_V0_SIZE);
        for chunk in &mut chunks {
            let rec: &Record = chunk.try_into().unwrap_or(&[0; HEALTH_EVENT_V0_SIZE]);
            sink(self.decode_next(rec));
        }
        let rest = chunks.remainder();
        self.partial[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    fn decode_next(&mut self, rec: &Record) -> Result<HealthEvent, DecodeError> {
        let stream_offset = self.offset;
        self.offset += HEALTH_EVENT_V0_SIZE as u64;
        decode_record(rec).map_err(|error| DecodeError { stream_offset, error })
    }

    /// Call at end of stream: an incomplete record left over is an error.
    pub const fn finish(&self) -> Result<(), TruncatedRecord> {
        if self.filled == 0 {
            Ok(())
        } else {
            Err(TruncatedRecord { stream_offset: self.offset, have: self.filled })
        }
    }
}

/// Decodes a whole buffer; convenient for tests and small captures.
pub fn decode_all(bytes: &[u8]) -> (Vec<Result<HealthEvent, DecodeError>>, Result<(), TruncatedRecord>) {
    let mut decoder = V0Decoder::new();
    let mut out = Vec::with_capacity(bytes.len() / HEALTH_EVENT_V0_SIZE);
    decoder.feed(bytes, |r| out.push(r));
    (out, decoder.finish())
}
