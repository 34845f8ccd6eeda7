//! JSON-format health events (the pre-7.0 patch series), from untrusted text.
//!
//! Framing follows the kernel's printer: one key per line, an object ends at a line holding
//! only `}`; NUL bytes also separate lines, as the seed daemon accepted. A single-line object
//! (`{...}` on one line) is accepted too. Each object is parsed, validated against the
//! project's schema (`monitor/schema/xfs_healthmon.schema.json`, draft 2020-12) and only then
//! mapped to the same [`HealthEvent`] the V0 decoder produces. Objects are capped at
//! [`MAX_OBJECT_BYTES`]; an oversized one is reported and skipped, never buffered.

use core::fmt;
use std::sync::OnceLock;

use serde_json::Value;
use xfs_heal_protocol::uapi;

use crate::domains::{self, Row};
use crate::event::*;

/// Largest JSON object accepted. Real events are a few hundred bytes.
pub const MAX_OBJECT_BYTES: usize = 16 * 1024;

/// The schema every JSON event must satisfy.
pub const EVENT_SCHEMA: &str = include_str!("../../schema/xfs_healthmon.schema.json");

/// Why one JSON object was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonProblem {
    TooLarge,
    Syntax(String),
    Schema(String),
    /// Valid against the schema but not representable (e.g. an undefined mask bit).
    Unmappable(String),
}

impl fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "object exceeds {MAX_OBJECT_BYTES} bytes; skipped"),
            Self::Syntax(e) => write!(f, "not JSON: {e}"),
            Self::Schema(e) => write!(f, "fails the event schema: {e}"),
            Self::Unmappable(e) => write!(f, "cannot be represented: {e}"),
        }
    }
}

/// A rejected JSON object and its position (0-based) among the objects in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub object_index: u64,
    pub problem: JsonProblem,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON event #{}: {}", self.object_index, self.problem)
    }
}

impl std::error::Error for JsonError {}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(EVENT_SCHEMA).expect("embedded event schema is JSON");
        jsonschema::draft202012::new(&schema).expect("embedded event schema is a valid 2020-12 schema")
    })
}

/// Splits a stream into objects and decodes each one.
#[derive(Debug, Default)]
pub struct JsonDecoder {
    line: Vec<u8>,
    object: Vec<u8>,
    oversized: bool,
    objects: u64,
}

impl JsonDecoder {
    pub fn new() -> Self {
        // Compile the schema now, not in the middle of the first event.
        let _ = validator();
        Self::default()
    }

    /// Feeds bytes; each completed object's result goes to `sink` in stream order.
    pub fn feed<F>(&mut self, bytes: &[u8], mut sink: F)
    where
        F: FnMut(Result<HealthEvent, JsonError>),
    {
        for piece in bytes.split_inclusive(|&b| b == b'\n' || b == 0) {
            let ends_line = matches!(piece.last(), Some(b'\n' | 0));
            let body = if ends_line { &piece[..piece.len() - 1] } else { piece };
            if self.line.len() + body.len() > MAX_OBJECT_BYTES {
                self.oversized = true;
                self.line.clear();
            } else {
                self.line.extend_from_slice(body);
            }
            if ends_line {
                self.end_line(&mut sink);
            }
        }
    }

    /// At end of stream: a final unterminated object is decoded as if it were complete.
    pub fn finish<F>(&mut self, mut sink: F)
    where
        F: FnMut(Result<HealthEvent, JsonError>),
    {
        if !self.line.is_empty() {
            self.end_line(&mut sink);
        }
        if !self.object.is_empty() || self.oversized {
            self.emit(&mut sink);
        }
    }

    fn end_line<F: FnMut(Result<HealthEvent, JsonError>)>(&mut self, sink: &mut F) {
        let line = std::mem::take(&mut self.line);
        let trimmed = line.trim_ascii();
        let starts_object = self.object.is_empty() && !self.oversized;
        if starts_object && trimmed.is_empty() {
            return;
        }
        if self.object.len() + line.len() + 1 > MAX_OBJECT_BYTES {
            self.oversized = true;
            self.object.clear();
        } else if !self.oversized {
            self.object.extend_from_slice(&line);
            self.object.push(b'\n');
        }
        let closes =
            trimmed == b"}" || (starts_object && trimmed.starts_with(b"{") && trimmed.ends_with(b"}"));
        if closes {
            self.emit(sink);
        }
        self.line = line;
        self.line.clear();
    }

    fn emit<F: FnMut(Result<HealthEvent, JsonError>)>(&mut self, sink: &mut F) {
        let object_index = self.objects;
        self.objects += 1;
        let result = if std::mem::take(&mut self.oversized) {
            Err(JsonProblem::TooLarge)
        } else {
            decode_object(&self.object)
        };
        self.object.clear();
        sink(result.map_err(|problem| JsonError { object_index, problem }));
    }
}

/// Parses, validates and maps one object.
pub fn decode_object(text: &[u8]) -> Result<HealthEvent, JsonProblem> {
    let value: Value = serde_json::from_slice(text).map_err(|e| JsonProblem::Syntax(e.to_string()))?;
    if let Err(e) = validator().validate(&value) {
        return Err(JsonProblem::Schema(format!("{e} (at {})", e.instance_path())));
    }
    map_event(&value).map_err(JsonProblem::Unmappable)
}

fn u64_field(v: &Value, key: &str) -> Result<u64, String> {
    v.get(key).and_then(Value::as_u64).ok_or_else(|| format!("'{key}' is missing or not an unsigned integer"))
}

fn u32_field(v: &Value, key: &str) -> Result<u32, String> {
    u32::try_from(u64_field(v, key)?).map_err(|_| format!("'{key}' does not fit in 32 bits"))
}

/// ORs the named (or numbered) structures into a mask using a domain's name table.
/// The mask a `structures` array names, by `domains`' JSON names for `domain` (numbers are
/// taken as bits and validated by the mask type).
fn mask_of<K>(v: &Value, rows: &[Row<K>], domain: &str) -> Result<u32, String> {
    let items = v.get("structures").and_then(Value::as_array).ok_or("'structures' is missing")?;
    let mut mask = 0u32;
    for item in items {
        mask |= match item {
            Value::String(s) => domains::json_mask(rows, domain, [s.as_str()])
                .map_err(|s| format!("unknown structure '{s}'"))?,
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("structure number {n} is not a 32-bit mask bit"))?,
            other => return Err(format!("structure {other} is neither a name nor a number")),
        };
    }
    Ok(mask)
}

fn mask_error(domain: &str, bad: u32) -> String {
    if bad == 0 {
        format!("{domain} event with no structures")
    } else {
        format!("{domain} mask bits {bad:#x} are not defined")
    }
}

const SHUTDOWN_NAMES: &[(&str, u32)] = &[
    ("meta_ioerr", uapi::XFS_HEALTH_SHUTDOWN_META_IO_ERROR),
    ("log_ioerr", uapi::XFS_HEALTH_SHUTDOWN_LOG_IO_ERROR),
    ("force_umount", uapi::XFS_HEALTH_SHUTDOWN_FORCE_UMOUNT),
    ("corrupt_incore", uapi::XFS_HEALTH_SHUTDOWN_CORRUPT_INCORE),
    ("corrupt_ondisk", uapi::XFS_HEALTH_SHUTDOWN_CORRUPT_ONDISK),
    ("device_removed", uapi::XFS_HEALTH_SHUTDOWN_DEVICE_REMOVED),
];

fn map_event(v: &Value) -> Result<HealthEvent, String> {
    let domain = v.get("domain").and_then(Value::as_str).ok_or("'domain' is missing")?;
    let ty = v.get("type").and_then(Value::as_str).ok_or("'type' is missing")?;
    let time_ns = u64_field(v, "time_ns")?;
    let status = || match ty {
        "sick" => Ok(HealthStatus::Sick),
        "corrupt" => Ok(HealthStatus::Corrupt),
        "healthy" => Ok(HealthStatus::Healthy),
        _ => Err(format!("type '{ty}' is not a health status")),
    };
    let kind = match (domain, ty) {
        ("mount", "running") => EventKind::Running,
        ("mount", "unmount") => EventKind::Unmount,
        ("mount", "lost") => EventKind::Lost { count: u64_field(v, "count")? },
        ("mount", "shutdown") => {
            let items = v.get("reasons").and_then(Value::as_array).ok_or("'reasons' is missing")?;
            let mut bits = 0;
            for item in items {
                let name = item.as_str().unwrap_or_default();
                bits |= SHUTDOWN_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, b)| *b)
                    .ok_or_else(|| format!("unknown shutdown reason {item}"))?;
            }
            EventKind::Shutdown {
                reasons: ShutdownReasons::new(bits).map_err(|b| mask_error("shutdown", b))?,
            }
        }
        ("fs", _) => {
            let mask = FsMask::new(mask_of(v, domains::FS, "fs")?).map_err(|b| mask_error("fs", b))?;
            EventKind::Metadata { status: status()?, object: MetadataObject::Fs { mask } }
        }
        ("realtime", _) => {
            let mask =
                FsMask::new(mask_of(v, domains::FS, "realtime")?).map_err(|b| mask_error("realtime", b))?;
            EventKind::Metadata { status: status()?, object: MetadataObject::Fs { mask } }
        }
        ("perag", _) => {
            let mask = AgMask::new(mask_of(v, domains::AG, "perag")?).map_err(|b| mask_error("perag", b))?;
            let agno = u32_field(v, "group")?;
            EventKind::Metadata { status: status()?, object: MetadataObject::Ag { agno, mask } }
        }
        ("rtgroup", _) => {
            let mask = RtGroupMask::new(mask_of(v, domains::RTGROUP, "rtgroup")?)
                .map_err(|b| mask_error("rtgroup", b))?;
            let rgno = u32_field(v, "group")?;
            EventKind::Metadata { status: status()?, object: MetadataObject::RtGroup { rgno, mask } }
        }
        ("inode", _) => {
            let mask =
                InodeMask::new(mask_of(v, domains::INODE, "inode")?).map_err(|b| mask_error("inode", b))?;
            let ino = u64_field(v, "inumber")?;
            let gen = u32_field(v, "generation")?;
            EventKind::Metadata { status: status()?, object: MetadataObject::Inode { ino, gen, mask } }
        }
        ("datadev" | "rtdev" | "logdev", "media") => EventKind::Media {
            device: match domain {
                "datadev" => Device::Data,
                "rtdev" => Device::Rt,
                _ => Device::Log,
            },
            daddr: u64_field(v, "daddr")?,
            bbcount: u64_field(v, "bbcount")?,
        },
        ("filerange", _) => EventKind::FileIo {
            kind: match ty {
                "readahead" => FileIoKind::BufferedRead,
                "writeback" => FileIoKind::BufferedWrite,
                "directio_read" => FileIoKind::DirectRead,
                "directio_write" => FileIoKind::DirectWrite,
                _ => return Err(format!("unknown file range type '{ty}'")),
            },
            ino: u64_field(v, "inumber")?,
            gen: u32_field(v, "generation")?,
            pos: u64_field(v, "pos")?,
            len: u64_field(v, "length").or_else(|_| u64_field(v, "len"))?,
            // The JSON format never carried an errno.
            error: 0,
        },
        _ => return Err(format!("domain '{domain}' has no type '{ty}'")),
    };
    Ok(HealthEvent { time_ns, kind })
}
