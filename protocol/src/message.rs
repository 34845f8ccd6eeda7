//! The messages exchanged over the repairer's socket.
//!
//! Direction is in the type: the monitor sends [`MonitorToRepairer`], the repairer sends
//! [`RepairerToMonitor`]. Everything the repairer receives is untrusted (the monitor may be
//! compromised), so every field is a validated type and the repairer re-checks the ranges
//! that depend on the live filesystem.

use core::fmt;
use serde::{Deserialize, Serialize};

use crate::defects::{DefectId, DefectSet};
use crate::scrub::{Geometry, InvalidValue, OutOfRange, RepairTarget};
use crate::uapi::*;

/// Longest file handle accepted. XFS encodes its root in 8, 12 or 16 bytes.
pub const MAX_HANDLE_BYTES: usize = 16;

/// The mount root's file handle as `name_to_handle_at(2)` returns it: a handle type chosen by
/// the filesystem and up to [`MAX_HANDLE_BYTES`] opaque bytes (for XFS: inode and generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawHandle", into = "RawHandle")]
pub struct FsHandle {
    handle_type: i32,
    len: u8,
    bytes: [u8; MAX_HANDLE_BYTES],
}

#[derive(Serialize, Deserialize)]
struct RawHandle {
    handle_type: i32,
    len: u8,
    bytes: [u8; MAX_HANDLE_BYTES],
}

impl FsHandle {
    /// Accepts a non-empty handle of a positive type.
    pub fn new(handle_type: i32, bytes: &[u8]) -> Result<Self, InvalidValue> {
        if handle_type <= 0 {
            return Err(InvalidValue::Handle("handle type is not positive"));
        }
        if bytes.is_empty() || bytes.len() > MAX_HANDLE_BYTES {
            return Err(InvalidValue::Handle("handle length is not 1..=16 bytes"));
        }
        let mut buf = [0; MAX_HANDLE_BYTES];
        buf[..bytes.len()].copy_from_slice(bytes);
        let len = u8::try_from(bytes.len()).map_err(|_| InvalidValue::Handle("too long"))?;
        Ok(Self { handle_type, len, bytes: buf })
    }
    pub const fn handle_type(&self) -> i32 {
        self.handle_type
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl TryFrom<RawHandle> for FsHandle {
    type Error = InvalidValue;
    fn try_from(raw: RawHandle) -> Result<Self, InvalidValue> {
        let len = usize::from(raw.len);
        if len > MAX_HANDLE_BYTES
            || raw.bytes[len.min(MAX_HANDLE_BYTES)..] != [0; MAX_HANDLE_BYTES][len.min(MAX_HANDLE_BYTES)..]
        {
            return Err(InvalidValue::Handle("bytes beyond the handle length are not zero"));
        }
        Self::new(raw.handle_type, &raw.bytes[..len])
    }
}

impl From<FsHandle> for RawHandle {
    fn from(h: FsHandle) -> Self {
        Self { handle_type: h.handle_type, len: h.len, bytes: h.bytes }
    }
}

impl fmt::Display for FsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}:", self.handle_type)?;
        for b in self.bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Which filesystem, mounted where: the identity the repairer re-checks before every repair.
///
/// `mount_id` is the kernel's 64-bit unique mount ID (`AT_HANDLE_MNT_ID_UNIQUE`), never reused
/// while the system runs: another filesystem at the same path, a `-o nouuid` clone of this
/// one, or this one unmounted and mounted again all get a different ID. It names the
/// repairer's copy of the mount in its own namespace (startup step 2): each start of the
/// repairer has another, so only the root handle compares across starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FsIdentity {
    pub mount_id: u64,
    pub root: FsHandle,
}

impl fmt::Display for FsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mount {} root {}", self.mount_id, self.root)
    }
}

/// Longest mount path accepted (PATH_MAX minus the terminating NUL).
pub const MAX_MOUNT_PATH: usize = 4095;

/// An absolute path without NUL bytes, at most [`MAX_MOUNT_PATH`] bytes long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MountPath(String);

impl MountPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MountPath {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        if !s.starts_with('/') {
            return Err(InvalidValue::MountPath("not absolute"));
        }
        if s.len() > MAX_MOUNT_PATH {
            return Err(InvalidValue::MountPath("longer than PATH_MAX"));
        }
        if s.contains('\0') {
            return Err(InvalidValue::MountPath("contains a NUL byte"));
        }
        Ok(Self(s))
    }
}

impl From<MountPath> for String {
    fn from(p: MountPath) -> String {
        p.0
    }
}

impl fmt::Display for MountPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `trusted.xfs:autofsck` filesystem property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Autofsck {
    /// The property is not set (or could not be read).
    Unset,
    None,
    Check,
    Optimize,
    Repair,
    /// Set to a value this version does not know; treated like `Unset`.
    Unrecognized,
}

impl Autofsck {
    /// Parses the xattr's value as the kernel stores it (no terminating NUL; tolerate one).
    pub fn from_xattr_value(value: &[u8]) -> Self {
        let value = value.strip_suffix(b"\0").unwrap_or(value);
        match value {
            b"none" => Self::None,
            b"check" => Self::Check,
            b"optimize" => Self::Optimize,
            b"repair" => Self::Repair,
            _ => Self::Unrecognized,
        }
    }

    /// Why the daemon stands down on a filesystem by default (no `--repair`, no
    /// `--no-autofsck`), in xfs_healer's words, or `None` when it serves it: the property says
    /// `none`, or is unset (or unrecognised) on a filesystem without the reverse mappings or
    /// parent pointers that make reports useful. `--supported` and the monitor share this.
    pub const fn stands_down(self, geometry: &Geometry) -> Option<&'static str> {
        match self {
            Self::None => Some("Disabling daemon per autofsck directive."),
            Self::Unset | Self::Unrecognized if !(geometry.has_rmapbt() || geometry.has_parent_pointers()) => Some(
                "Disabling daemon: autofsck is not set and the filesystem has neither reverse mappings nor parent pointers.",
            ),
            _ => None,
        }
    }

    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Unset => "unset",
            Self::None => "none",
            Self::Check => "check",
            Self::Optimize => "optimize",
            Self::Repair => "repair",
            Self::Unrecognized => "unrecognized",
        }
    }
}

/// A positive errno value (1..=4095), as the kernel returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Errno(i32);

impl Errno {
    pub const ESTALE: Self = Self(116);
    pub const EINVAL: Self = Self(22);
    pub const EOPNOTSUPP: Self = Self(95);
    pub const ENOENT: Self = Self(2);
    pub const ELOOP: Self = Self(40);
    pub const ENAMETOOLONG: Self = Self(36);
    pub const EIO: Self = Self(5);

    pub const fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i32> for Errno {
    type Error = InvalidValue;
    fn try_from(v: i32) -> Result<Self, InvalidValue> {
        if (1..=4095).contains(&v) {
            Ok(Self(v))
        } else {
            Err(InvalidValue::Errno(v))
        }
    }
}

impl From<Errno> for i32 {
    fn from(e: Errno) -> i32 {
        e.0
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (os error {})", crate::strerror::words(self.0), self.0)
    }
}

/// Whether this kernel and filesystem can repair online (scrub PROBE with the repair flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnlineRepair {
    Supported,
    /// The probe failed with this errno (EOPNOTSUPP: kernel built without online repair).
    Unsupported(Errno),
}

impl fmt::Display for OnlineRepair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Supported => f.write_str("online repair supported"),
            Self::Unsupported(e) => write!(f, "online repair unavailable ({e})"),
        }
    }
}

/// Where the repairer's health fd comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventSource {
    /// `XFS_IOC_HEALTH_MONITOR` on the mount root: the real kernel queue.
    KernelMonitor,
    /// `--events-from`: a file or FIFO, for tests and for replaying captures.
    File,
}

/// The repairer's greeting: sent once per connection, together with the health fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u16,
    pub mountpoint: MountPath,
    pub identity: FsIdentity,
    /// The filesystem's UUID, from its geometry.
    pub uuid: [u8; 16],
    pub geometry: Geometry,
    pub online_repair: OnlineRepair,
    pub autofsck: Autofsck,
    pub event_source: EventSource,
    /// Known kernel defects guarded against on this kernel and filesystem: the repairer
    /// refuses the repairs they forbid, and the monitor does not ask for them.
    pub guards: DefectSet,
    /// Whether the repairer names inodes on request.
    pub names: crate::names::Naming,
}

/// Correlates a reply with its request; chosen by the monitor, echoed by the repairer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Please repair this one structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRequest {
    pub id: RequestId,
    pub target: RepairTarget,
}

/// Scrub output flags: only `XFS_SCRUB_OFLAG_*` bits can be held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ScrubOutFlags(u32);

impl ScrubOutFlags {
    pub const NONE: Self = Self(0);

    pub const fn bits(self) -> u32 {
        self.0
    }
    /// Keeps the output bits of what the kernel wrote back into `sm_flags`.
    pub const fn from_kernel(sm_flags: u32) -> Self {
        Self(sm_flags & XFS_SCRUB_FLAGS_OUT)
    }
    pub const fn contains(self, bits: u32) -> bool {
        self.0 & bits != 0
    }
}

impl TryFrom<u32> for ScrubOutFlags {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, InvalidValue> {
        if v & !XFS_SCRUB_FLAGS_OUT != 0 {
            Err(InvalidValue::OutFlags(v))
        } else {
            Ok(Self(v))
        }
    }
}

impl From<ScrubOutFlags> for u32 {
    fn from(f: ScrubOutFlags) -> u32 {
        f.0
    }
}

/// Why the repairer issued nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The target does not exist on this filesystem.
    OutOfRange(OutOfRange),
    /// The mount point no longer holds the filesystem the repairer was started for.
    StaleFilesystem,
    /// The repair would trigger a known defect of this kernel (`defects::DEFECTS`).
    KnownKernelDefect(DefectId),
}

impl Refusal {
    /// What refuses `target` before the filesystem is even looked at: a number beyond the
    /// recorded geometry, or a known defect of this kernel that its repair would trigger.
    /// With the refusal comes the audit line's reason.
    pub fn screen(target: &RepairTarget, geometry: &Geometry, guards: DefectSet) -> Option<(Self, String)> {
        if let Err(out_of_range) = target.check_geometry(geometry) {
            let why = out_of_range.to_string();
            return Some((Self::OutOfRange(out_of_range), why));
        }
        guards.forbidding(target).map(|d| (Self::KnownKernelDefect(d.id), d.refusal()))
    }

    /// The errno a C caller would have seen.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::OutOfRange(_) => Errno::EINVAL,
            Self::StaleFilesystem => Errno::ESTALE,
            Self::KnownKernelDefect(_) => Errno::EOPNOTSUPP,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange(o) => write!(f, "refused: {o}"),
            Self::StaleFilesystem => write!(f, "refused: {}", Errno::ESTALE),
            Self::KnownKernelDefect(id) => write!(f, "refused: known kernel defect {id}"),
        }
    }
}

/// What became of one repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepairOutcome {
    Repaired,
    NoRepairNeeded,
    /// Seems correct, but cross-referencing failed or disagreed: run xfs_repair offline.
    OfflineRepairRecommended,
    /// The kernel could not fix it.
    Failed,
    /// The ioctl itself failed.
    KernelError(Errno),
    /// The repairer did not issue the ioctl.
    Refused(Refusal),
}

impl RepairOutcome {
    /// Classifies a completed repair ioctl by its output flags, in xfs_healer's order
    /// (xfs_healer 7.1's rules): still corrupt or incomplete is a failure; cross-reference
    /// trouble means "offline repair recommended"; then "no modification needed"; else fixed.
    pub const fn classify(oflags: ScrubOutFlags) -> Self {
        if oflags.contains(XFS_SCRUB_OFLAG_CORRUPT | XFS_SCRUB_OFLAG_INCOMPLETE) {
            Self::Failed
        } else if oflags.contains(XFS_SCRUB_OFLAG_XFAIL | XFS_SCRUB_OFLAG_XCORRUPT) {
            Self::OfflineRepairRecommended
        } else if oflags.contains(XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED) {
            Self::NoRepairNeeded
        } else {
            Self::Repaired
        }
    }

    /// Did this leave the structure in need of more work?
    pub const fn is_failure(&self) -> bool {
        matches!(self, Self::Failed | Self::KernelError(_))
    }

    /// A stable one-word name for logs and structured fields.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Repaired => "repaired",
            Self::NoRepairNeeded => "no_repair_needed",
            Self::OfflineRepairRecommended => "offline_repair_recommended",
            Self::Failed => "failed",
            Self::KernelError(_) => "kernel_error",
            Self::Refused(_) => "refused",
        }
    }

    /// The sentence xfs_healer prints for this outcome.
    pub fn sentence(&self) -> String {
        match self {
            Self::Repaired => "Repairs successful.".into(),
            Self::NoRepairNeeded => "No modification needed.".into(),
            Self::OfflineRepairRecommended => {
                "Seems correct but cross-referencing failed; offline repair recommended.".into()
            }
            Self::Failed => "Repair unsuccessful; offline repair required.".into(),
            Self::KernelError(e) => format!("{e}"),
            Self::Refused(r) => format!("{r}"),
        }
    }
}

/// The answer to one [`RepairRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReply {
    pub id: RequestId,
    pub oflags: ScrubOutFlags,
    pub outcome: RepairOutcome,
}

impl RepairReply {
    /// The answer to a repair ioctl that was issued: the `sm_flags` it wrote back,
    /// classified, or the errno it failed with.
    pub fn issued(id: RequestId, result: Result<u32, Errno>) -> Self {
        let (oflags, outcome) = match result {
            Ok(sm_flags) => {
                let oflags = ScrubOutFlags::from_kernel(sm_flags);
                (oflags, RepairOutcome::classify(oflags))
            }
            Err(errno) => (ScrubOutFlags::NONE, RepairOutcome::KernelError(errno)),
        };
        Self { id, oflags, outcome }
    }

    /// The answer to a request the repairer did not issue.
    pub const fn refused(id: RequestId, refusal: Refusal) -> Self {
        Self { id, oflags: ScrubOutFlags::NONE, outcome: RepairOutcome::Refused(refusal) }
    }

    /// The result its audit line records.
    pub fn audit_result(&self) -> String {
        format!("{} oflags={:#x}", self.outcome.sentence(), self.oflags.bits())
    }
}

/// Everything the monitor may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorToRepairer {
    Repair(RepairRequest),
    /// The name of an inode the kernel reported (`--resolve-names`).
    Lookup(crate::names::LookupRequest),
}

/// Everything the repairer may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepairerToMonitor {
    Hello(Hello),
    Reply(RepairReply),
    Named(crate::names::LookupReply),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_xfs_healer() {
        let c = |f| RepairOutcome::classify(ScrubOutFlags::try_from(f).unwrap());
        assert_eq!(c(0), RepairOutcome::Repaired);
        assert_eq!(c(XFS_SCRUB_OFLAG_PREEN), RepairOutcome::Repaired);
        assert_eq!(c(XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED), RepairOutcome::NoRepairNeeded);
        assert_eq!(c(XFS_SCRUB_OFLAG_XFAIL), RepairOutcome::OfflineRepairRecommended);
        assert_eq!(
            c(XFS_SCRUB_OFLAG_XCORRUPT | XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED),
            RepairOutcome::OfflineRepairRecommended
        );
        assert_eq!(c(XFS_SCRUB_OFLAG_CORRUPT | XFS_SCRUB_OFLAG_XFAIL), RepairOutcome::Failed);
        assert_eq!(c(XFS_SCRUB_OFLAG_INCOMPLETE), RepairOutcome::Failed);
    }

    #[test]
    fn replies_carry_the_classified_flags_or_the_errno() {
        let id = RequestId(9);
        let fixed = RepairReply::issued(id, Ok(XFS_SCRUB_IFLAG_REPAIR | XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED));
        assert_eq!(fixed.oflags, ScrubOutFlags::from_kernel(XFS_SCRUB_OFLAG_NO_REPAIR_NEEDED));
        assert_eq!(fixed.outcome, RepairOutcome::NoRepairNeeded);
        assert_eq!(fixed.audit_result(), "No modification needed. oflags=0x80");
        let failed = RepairReply::issued(id, Ok(XFS_SCRUB_OFLAG_CORRUPT));
        assert_eq!(failed.outcome, RepairOutcome::Failed);
        let error = RepairReply::issued(id, Err(Errno::EINVAL));
        assert_eq!(
            (error.oflags, error.outcome.clone()),
            (ScrubOutFlags::NONE, RepairOutcome::KernelError(Errno::EINVAL))
        );
        let refused = RepairReply::refused(id, Refusal::StaleFilesystem);
        assert_eq!(refused.outcome, RepairOutcome::Refused(Refusal::StaleFilesystem));
        assert_eq!(refused.oflags, ScrubOutFlags::NONE);
    }

    #[test]
    fn out_flags_reject_input_bits() {
        assert!(ScrubOutFlags::try_from(XFS_SCRUB_IFLAG_REPAIR).is_err());
        assert!(ScrubOutFlags::try_from(1 << 31).is_err());
        assert_eq!(ScrubOutFlags::from_kernel(0x181).bits(), 0x80);
    }

    #[test]
    fn autofsck_values() {
        assert_eq!(Autofsck::from_xattr_value(b"repair"), Autofsck::Repair);
        assert_eq!(Autofsck::from_xattr_value(b"check\0"), Autofsck::Check);
        assert_eq!(Autofsck::from_xattr_value(b"Repair"), Autofsck::Unrecognized);
    }

    #[test]
    fn handles_and_paths_are_checked() {
        assert!(FsHandle::new(1, &[0x80, 0, 0, 0, 7, 0, 0, 0]).is_ok());
        assert!(FsHandle::new(0, &[1]).is_err());
        assert!(FsHandle::new(1, &[]).is_err());
        assert!(FsHandle::new(1, &[1; 17]).is_err());
        let raw = RawHandle { handle_type: 1, len: 2, bytes: [1; MAX_HANDLE_BYTES] };
        assert!(FsHandle::try_from(raw).is_err());
        let raw = RawHandle { handle_type: 1, len: 99, bytes: [0; MAX_HANDLE_BYTES] };
        assert!(FsHandle::try_from(raw).is_err());
        assert!(MountPath::try_from("relative".to_string()).is_err());
        assert!(MountPath::try_from("/a\0b".to_string()).is_err());
        assert!(MountPath::try_from("/".repeat(4096)).is_err());
        assert!(MountPath::try_from("/mnt/data".to_string()).is_ok());
        assert!(Errno::try_from(0).is_err());
        assert!(Errno::try_from(-5).is_err());
    }
}
