//! Decoders for the two event formats. Both read untrusted bytes, never panic, report each
//! bad record with its position, and carry on with the next one.
#[cfg(feature = "json-replay")]
pub mod json;
pub mod v0;
