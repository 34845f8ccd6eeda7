//! Names for reports (issue #13 part 1), without I/O: the XFS handle of an inode the kernel
//! reported, the records `XFS_IOC_GETPARENTS_BY_HANDLE` writes, the walk from an inode up its
//! first parent pointers to the root, the path that walk yields, and that path rendered for
//! a log line with control characters escaped. The repairer supplies the one ioctl; the
//! monitor asks with the inode's number and generation from the kernel's own event.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::escape::escape;
use crate::throttle::{Bucket, Rate};
use crate::uapi::{
    XfsFid, XfsGetparents, XfsGetparentsByHandle, XfsHandle, GETPARENTS_REC_NAME_AT,
    XFS_GETPARENTS_OFLAG_ROOT, XFS_HANDLE_SIZE,
};
use crate::{Errno, Geometry, InodeNumber, InvalidValue, RequestId};

/// The longest name of a directory entry.
pub const NAME_MAX: usize = 255;
/// Directories deeper than this end the walk (ELOOP): a cycle, or a tree no one can read.
pub const MAX_DEPTH: usize = 256;
/// The longest path a lookup returns (ENAMETOOLONG beyond).
pub const PATH_MAX: usize = 4096;
/// Room for one batch of records: a record with the longest name is 32 + 256 bytes, so any
/// batch holds at least the first parent.
pub const RECORDS_BUF: usize = 600;

/// The fsid XFS puts in its handles, from the superblock UUID as the kernel derives it
/// (two native-endian words: time-mid and clock-seq, then time-low).
pub fn handle_fsid(uuid: &[u8; 16]) -> [u32; 2] {
    let be16 = |i: usize| u32::from(u16::from_be_bytes([uuid[i], uuid[i + 1]]));
    [(be16(8) << 16) | be16(4), u32::from_be_bytes([uuid[0], uuid[1], uuid[2], uuid[3]])]
}

/// The handle of inode `ino`, generation `gen`, on the filesystem with this UUID. The kernel
/// answers a wrong generation with ESTALE.
pub fn inode_handle(uuid: &[u8; 16], ino: InodeNumber, gen: u32) -> XfsHandle {
    // fid_len counts the fid's bytes after itself.
    let fid = XfsFid { fid_len: 14, fid_pad: 0, fid_gen: gen, fid_ino: ino.get() };
    XfsHandle { ha_fsid: handle_fsid(uuid), ha_fid: fid }
}

/// The first record of a batch the kernel wrote: the parent's handle and the entry's name.
/// `None` when there is no whole, well-formed record (no parent: the inode is unlinked).
pub fn first_parent(records: &[u8]) -> Option<(XfsHandle, &[u8])> {
    let u16_at = |at: usize| records.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let u32_at = |at: usize| records.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    let u64_at = |at: usize| records.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
    let reclen = usize::try_from(u32_at(XFS_HANDLE_SIZE)?).ok()?;
    let record = records.get(..reclen)?;
    let name_and_rest = record.get(GETPARENTS_REC_NAME_AT..)?;
    let name = &name_and_rest[..name_and_rest.iter().position(|b| *b == 0)?];
    if !valid_name(name) {
        return None;
    }
    let fid =
        XfsFid { fid_len: u16_at(8)?, fid_pad: u16_at(10)?, fid_gen: u32_at(12)?, fid_ino: u64_at(16)? };
    Some((XfsHandle { ha_fsid: [u32_at(0)?, u32_at(4)?], ha_fid: fid }, name))
}

fn valid_name(name: &[u8]) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name != b"."
        && name != b".."
        && !name.contains(&b'/')
        && !name.contains(&0)
}

/// Walks from the inode `start` names up the first parent pointer of each directory to the
/// root. `parents` makes the one call: it fills the buffer with a batch of the records of the
/// inode a handle names and returns the output flags and the bytes written.
pub fn walk(
    start: XfsHandle,
    mut parents: impl FnMut(&XfsHandle, &mut [u8]) -> Result<(u16, usize), Errno>,
) -> Result<FsPath, Errno> {
    let mut buf = [0u8; RECORDS_BUF];
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut at = start;
    let mut total = 0;
    while names.len() <= MAX_DEPTH {
        let (oflags, used) = parents(&at, &mut buf)?;
        if oflags & XFS_GETPARENTS_OFLAG_ROOT != 0 {
            names.reverse();
            return FsPath::try_from(names).map_err(|_| Errno::ENAMETOOLONG);
        }
        let (parent, name) = first_parent(&buf[..used.min(RECORDS_BUF)]).ok_or(Errno::ENOENT)?;
        total += name.len() + 1;
        if total > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        names.push(name.to_vec());
        at = parent;
    }
    Err(Errno::ELOOP)
}

/// A file's place below the mount point: its directory entries' names, root first. Each is
/// a valid entry name (no `/`, no NUL, not `.` or `..`), checked when decoded too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Vec<u8>>", into = "Vec<Vec<u8>>")]
pub struct FsPath(Vec<Vec<u8>>);

impl TryFrom<Vec<Vec<u8>>> for FsPath {
    type Error = InvalidValue;
    fn try_from(names: Vec<Vec<u8>>) -> Result<Self, InvalidValue> {
        if names.len() > MAX_DEPTH || names.iter().map(|n| n.len() + 1).sum::<usize>() > PATH_MAX {
            return Err(InvalidValue::FsPath("too deep or too long"));
        }
        if !names.iter().all(|n| valid_name(n)) {
            return Err(InvalidValue::FsPath("a name that is not a directory entry's"));
        }
        Ok(Self(names))
    }
}

impl From<FsPath> for Vec<Vec<u8>> {
    fn from(p: FsPath) -> Self {
        p.0
    }
}

/// Below the mount point, names escaped: `dir/file` (empty for the root directory).
impl fmt::Display for FsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(&escape(name))?;
        }
        Ok(())
    }
}

/// Failed lookups: 32 at once, then one every 100 ms. A wrong generation fails, so finding
/// an inode's generation by guessing would take years; a burst of freed inodes does not
/// trip it.
pub const FAILED_LOOKUPS: Rate = Rate { burst: 32, every_ns: 100_000_000 };

/// Whether the repairer names inodes, as its Hello tells the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Naming {
    /// `--resolve-names` was not given.
    Off,
    /// Asked for, but the filesystem has no parent pointers.
    NoParentPointers,
    On,
}

impl Naming {
    /// What the repairer offers: names only when asked to and the filesystem can give them.
    pub fn new(resolve_names: bool, geometry: &Geometry) -> Self {
        match (resolve_names, geometry.has_parent_pointers()) {
            (false, _) => Self::Off,
            (true, false) => Self::NoParentPointers,
            (true, true) => Self::On,
        }
    }
}

/// The repairer's side of lookups: the policy, the filesystem's UUID (every handle is built
/// from it, so no lookup reaches another filesystem) and the failed-lookup limit.
#[derive(Debug, Clone)]
pub struct Lookups {
    naming: Naming,
    uuid: [u8; 16],
    failures: Bucket,
}

impl Lookups {
    pub const fn new(naming: Naming, uuid: [u8; 16], now_ns: u64) -> Self {
        Self { naming, uuid, failures: Bucket::full(FAILED_LOOKUPS, now_ns) }
    }

    /// Answers one request: refused when names are off, the filesystem has no parent
    /// pointers, failures are over their limit, or `verify` (the repairer's re-verification
    /// of the mount, giving the fd to ask on) fails; otherwise the walk, with `parents`
    /// making each call on that fd. A failed walk draws from the limit. Also returns the
    /// audit line's result: the path given out, the errno, or the reason for the refusal.
    pub fn answer<F>(
        &mut self,
        now_ns: u64,
        request: LookupRequest,
        verify: impl FnOnce() -> Result<F, String>,
        mut parents: impl FnMut(&F, &XfsHandle, &mut [u8]) -> Result<(u16, usize), Errno>,
    ) -> (LookupReply, String) {
        let reply = |outcome| LookupReply { id: request.id, outcome };
        let refusal = match self.naming {
            Naming::Off => Some(LookupRefusal::Disabled),
            Naming::NoParentPointers => Some(LookupRefusal::NoParentPointers),
            Naming::On => self.failures.check(now_ns).err().map(|_| LookupRefusal::RateLimited),
        };
        if let Some(refusal) = refusal {
            return (reply(LookupOutcome::Refused(refusal)), refusal.to_string());
        }
        let fd = match verify() {
            Ok(fd) => fd,
            Err(why) => {
                let stale = LookupOutcome::Refused(LookupRefusal::StaleFilesystem);
                return (reply(stale), format!("ESTALE: {why}"));
            }
        };
        let start = inode_handle(&self.uuid, request.ino, request.gen);
        match walk(start, |handle, buf| parents(&fd, handle, buf)) {
            Ok(path) => {
                let shown = path.to_string();
                (reply(LookupOutcome::Found(path)), shown)
            }
            Err(errno) => {
                let _ = self.failures.take(now_ns);
                (reply(LookupOutcome::Failed(errno)), errno.to_string())
            }
        }
    }
}

impl XfsGetparentsByHandle {
    /// The first batch of the parents of the inode `handle` names, written into `buf`. The
    /// buffer's address goes to the kernel: `buf` must outlive the call.
    pub fn first_batch(handle: XfsHandle, buf: &mut [u8]) -> Self {
        let gp_bufsize = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let gp_buffer = buf.as_mut_ptr() as u64;
        Self {
            gph_handle: handle,
            gph_request: XfsGetparents { gp_bufsize, gp_buffer, ..XfsGetparents::default() },
        }
    }

    /// The output flags and the bytes of records written, once the call returned.
    pub fn written(&self) -> (u16, usize) {
        let used = usize::try_from(self.gph_request.gp_bufsize).unwrap_or(0);
        (self.gph_request.gp_oflags, used)
    }
}

/// Please name this inode. `gen` comes from the kernel's event: a random 32-bit value on
/// XFS, without which the kernel answers ESTALE, so the request works like a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRequest {
    pub id: RequestId,
    pub ino: InodeNumber,
    pub gen: u32,
}

/// Why the repairer looked nothing up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LookupRefusal {
    /// Name resolution is off (`--resolve-names` not given).
    Disabled,
    /// The filesystem has no parent pointers.
    NoParentPointers,
    /// Too many lookups failed lately: a guess at generations is made too slow to pay.
    RateLimited,
    /// The mount point no longer holds the recorded filesystem.
    StaleFilesystem,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LookupOutcome {
    Found(FsPath),
    /// The walk failed: ESTALE for a wrong generation or a freed inode, ENOENT for an
    /// inode with no parent, ELOOP, ENAMETOOLONG, or the ioctl's own errno.
    Failed(Errno),
    Refused(LookupRefusal),
}

/// The answer to one [`LookupRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupReply {
    pub id: RequestId,
    pub outcome: LookupOutcome,
}

impl LookupReply {
    /// Whether the repairer looked nothing up.
    pub const fn refused(&self) -> bool {
        matches!(self.outcome, LookupOutcome::Refused(_))
    }
}

impl LookupOutcome {
    /// The outcome's name in audit records and journal fields.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Found(_) => "found",
            Self::Failed(_) => "failed",
            Self::Refused(_) => "refused",
        }
    }
}

impl fmt::Display for LookupRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disabled => "name resolution is off (--resolve-names)",
            Self::NoParentPointers => "the filesystem has no parent pointers",
            Self::RateLimited => "too many lookups failed lately (rate limit)",
            Self::StaleFilesystem => "the mount point no longer holds this filesystem",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::XFS_GETPARENTS_OFLAG_DONE;

    const UUID: [u8; 16] =
        [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];

    fn ino(n: u64) -> InodeNumber {
        InodeNumber::try_from(n).unwrap()
    }

    fn record(parent: &XfsHandle, name: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&parent.ha_fsid[0].to_ne_bytes());
        r.extend_from_slice(&parent.ha_fsid[1].to_ne_bytes());
        r.extend_from_slice(&parent.ha_fid.fid_len.to_ne_bytes());
        r.extend_from_slice(&parent.ha_fid.fid_pad.to_ne_bytes());
        r.extend_from_slice(&parent.ha_fid.fid_gen.to_ne_bytes());
        r.extend_from_slice(&parent.ha_fid.fid_ino.to_ne_bytes());
        let reclen = (GETPARENTS_REC_NAME_AT + name.len() + 1).next_multiple_of(8);
        r.extend_from_slice(&u32::try_from(reclen).unwrap().to_ne_bytes());
        r.extend_from_slice(&[0; 4]);
        r.extend_from_slice(name);
        r.resize(reclen, 0);
        r
    }

    #[test]
    fn the_handle_fsid_is_the_kernels_fixed_fsid() {
        // time-mid 0x9abc, clock-seq 0x1122, time-low 0x12345678.
        assert_eq!(handle_fsid(&UUID), [0x1122_9abc, 0x1234_5678]);
        let h = inode_handle(&UUID, ino(133), 0xdead_beef);
        assert_eq!(
            (h.ha_fid.fid_len, h.ha_fid.fid_pad, h.ha_fid.fid_gen, h.ha_fid.fid_ino),
            (14, 0, 0xdead_beef, 133)
        );
    }

    #[test]
    fn the_first_record_gives_the_parent_and_the_name() {
        let dir = inode_handle(&UUID, ino(128), 7);
        let mut batch = record(&dir, b"file");
        batch.extend(record(&inode_handle(&UUID, ino(99), 1), b"hardlink"));
        assert_eq!(first_parent(&batch), Some((dir, &b"file"[..])));
        assert_eq!(first_parent(&[]), None);
        assert_eq!(first_parent(&batch[..20]), None, "cut inside the header");
        let whole = record(&dir, b"file");
        assert_eq!(first_parent(&whole[..whole.len() - 1]), None, "cut inside the record");
        for bad in [&b"."[..], b"..", b"a/b", b""] {
            assert_eq!(first_parent(&record(&dir, bad)), None, "{bad:?}");
        }
        let mut no_nul = record(&dir, b"abcdefgh");
        no_nul.truncate(GETPARENTS_REC_NAME_AT + 8);
        let len = u32::try_from(no_nul.len()).unwrap().to_ne_bytes();
        no_nul[XFS_HANDLE_SIZE..XFS_HANDLE_SIZE + 4].copy_from_slice(&len);
        assert_eq!(first_parent(&no_nul), None, "a name without its NUL");
    }

    /// A little tree: 128 is the root; /a (130) /a/b (131) /a/b/f (140).
    fn tree(at: &XfsHandle, buf: &mut [u8]) -> Result<(u16, usize), Errno> {
        let parent_of = |i: u64| match i {
            128 => None,
            130 => Some((128, &b"a"[..])),
            131 => Some((130, &b"b"[..])),
            140 => Some((131, &b"f\nline"[..])),
            _ => Some((i, &b"loop"[..])),
        };
        match parent_of(at.ha_fid.fid_ino) {
            None => Ok((XFS_GETPARENTS_OFLAG_ROOT | XFS_GETPARENTS_OFLAG_DONE, 0)),
            Some((p, name)) => {
                let r = record(&inode_handle(&UUID, ino(p), 1), name);
                buf[..r.len()].copy_from_slice(&r);
                Ok((XFS_GETPARENTS_OFLAG_DONE, r.len()))
            }
        }
    }

    fn ask(ino_: u64, gen: u32) -> LookupRequest {
        LookupRequest { id: RequestId(1), ino: ino(ino_), gen }
    }

    /// The repairer's fd stands in as a unit value here; `calls` counts the ioctls.
    fn answer(l: &mut Lookups, now: u64, r: LookupRequest, calls: &mut u32) -> (LookupOutcome, String) {
        let (reply, audit) = l.answer(
            now,
            r,
            || Ok(()),
            |(), h, buf| {
                *calls += 1;
                assert_eq!(h.ha_fsid, handle_fsid(&UUID), "every handle is on the recorded filesystem");
                // A wrong generation of the reported inode is refused, as the kernel does.
                if h.ha_fid.fid_ino == 140 && h.ha_fid.fid_gen != 9 {
                    return Err(Errno::ESTALE);
                }
                tree(h, buf)
            },
        );
        (reply.outcome, audit)
    }

    #[test]
    fn a_lookup_is_answered_only_when_names_are_on() {
        let mut calls = 0;
        for (naming, refusal) in [
            (Naming::Off, LookupRefusal::Disabled),
            (Naming::NoParentPointers, LookupRefusal::NoParentPointers),
        ] {
            let mut l = Lookups::new(naming, UUID, 0);
            let (outcome, audit) = answer(&mut l, 0, ask(140, 9), &mut calls);
            assert_eq!(outcome, LookupOutcome::Refused(refusal));
            assert_eq!(audit, refusal.to_string());
        }
        assert_eq!(calls, 0, "no ioctl when refused");
        let mut l = Lookups::new(Naming::On, UUID, 0);
        let (outcome, audit) = answer(&mut l, 0, ask(140, 9), &mut calls);
        assert!(matches!(outcome, LookupOutcome::Found(_)));
        assert_eq!(audit, "a/b/f\\x0aline");
        assert_eq!(calls, 4);
    }

    #[test]
    fn a_stale_mount_is_refused_before_any_ioctl() {
        let mut l = Lookups::new(Naming::On, UUID, 0);
        let (reply, audit) = l.answer(
            0,
            ask(140, 9),
            || Err::<(), _>("another filesystem".to_owned()),
            |(), _, _| unreachable!(),
        );
        assert_eq!(reply.outcome, LookupOutcome::Refused(LookupRefusal::StaleFilesystem));
        assert!(reply.refused());
        assert_eq!(audit, "ESTALE: another filesystem");
    }

    #[test]
    fn guessing_generations_is_rate_limited_and_successes_cost_nothing() {
        let mut l = Lookups::new(Naming::On, UUID, 0);
        let mut calls = 0;
        for _ in 0..10 {
            assert!(matches!(answer(&mut l, 0, ask(140, 9), &mut calls).0, LookupOutcome::Found(_)));
        }
        for gen in 0..FAILED_LOOKUPS.burst {
            let (outcome, audit) = answer(&mut l, 0, ask(140, 100 + gen), &mut calls);
            assert_eq!(outcome, LookupOutcome::Failed(Errno::ESTALE));
            assert_eq!(audit, Errno::ESTALE.to_string());
        }
        let before = calls;
        let (outcome, _) = answer(&mut l, 0, ask(140, 9), &mut calls);
        assert_eq!(outcome, LookupOutcome::Refused(LookupRefusal::RateLimited), "even a right guess waits");
        assert_eq!(calls, before);
        // One failure's worth of time later, one more lookup.
        assert!(matches!(
            answer(&mut l, FAILED_LOOKUPS.every_ns, ask(140, 9), &mut calls).0,
            LookupOutcome::Found(_)
        ));
    }

    #[test]
    fn the_ioctl_argument_points_at_the_buffer() {
        let mut buf = [0u8; RECORDS_BUF];
        let handle = inode_handle(&UUID, ino(131), 5);
        let mut arg = XfsGetparentsByHandle::first_batch(handle, &mut buf);
        assert_eq!(arg.gph_handle, handle);
        assert_eq!(arg.gph_request.gp_buffer, buf.as_ptr() as u64);
        assert_eq!(arg.gph_request.gp_bufsize, u32::try_from(RECORDS_BUF).unwrap());
        assert_eq!((arg.gph_request.gp_cursor, arg.gph_request.gp_iflags), ([0; 4], 0));
        arg.gph_request.gp_bufsize = 40;
        arg.gph_request.gp_oflags = XFS_GETPARENTS_OFLAG_DONE;
        assert_eq!(arg.written(), (XFS_GETPARENTS_OFLAG_DONE, 40));
    }

    #[test]
    fn outcomes_are_named_for_the_audit_and_only_a_refusal_is_one() {
        let found = LookupOutcome::Found(FsPath::try_from(vec![b"a".to_vec()]).unwrap());
        let failed = LookupOutcome::Failed(Errno::ESTALE);
        let refused = LookupOutcome::Refused(LookupRefusal::RateLimited);
        let names: Vec<(&str, bool)> = [found, failed, refused]
            .into_iter()
            .map(|outcome| (outcome.name(), LookupReply { id: RequestId(1), outcome }.refused()))
            .collect();
        assert_eq!(names, [("found", false), ("failed", false), ("refused", true)]);
    }

    #[test]
    fn naming_needs_the_flag_and_parent_pointers() {
        let with = Geometry::new(1, 0, crate::uapi::XFS_FSOP_GEOM_FLAGS_PARENT).unwrap();
        let without = Geometry::new(1, 0, 0).unwrap();
        assert_eq!(Naming::new(false, &with), Naming::Off);
        assert_eq!(Naming::new(true, &without), Naming::NoParentPointers);
        assert_eq!(Naming::new(true, &with), Naming::On);
    }

    #[test]
    fn the_walk_climbs_to_the_root_and_the_path_renders_escaped() {
        let path = walk(inode_handle(&UUID, ino(140), 9), tree).unwrap();
        assert_eq!(path, FsPath::try_from(vec![b"a".to_vec(), b"b".to_vec(), b"f\nline".to_vec()]).unwrap());
        assert_eq!(path.to_string(), "a/b/f\\x0aline");
        // The root directory: no names (the report shows the mount point itself).
        assert_eq!(walk(inode_handle(&UUID, ino(128), 0), tree).unwrap().to_string(), "");
        assert_eq!(walk(inode_handle(&UUID, ino(500), 0), tree), Err(Errno::ELOOP));
        let unlinked = |_: &XfsHandle, _: &mut [u8]| Ok((XFS_GETPARENTS_OFLAG_DONE, 0));
        assert_eq!(walk(inode_handle(&UUID, ino(140), 0), unlinked), Err(Errno::ENOENT));
        let stale = |_: &XfsHandle, _: &mut [u8]| Err(Errno::ESTALE);
        assert_eq!(walk(inode_handle(&UUID, ino(140), 0), stale), Err(Errno::ESTALE));
        // A kernel that claims more bytes than the buffer holds is read no further.
        let liar = |_: &XfsHandle, _: &mut [u8]| Ok((0, usize::MAX));
        assert_eq!(walk(inode_handle(&UUID, ino(140), 0), liar), Err(Errno::ENOENT));
    }

    #[test]
    fn a_path_longer_than_path_max_is_refused() {
        let long = vec![b'x'; NAME_MAX];
        let deep = |at: &XfsHandle, buf: &mut [u8]| {
            let r = record(&inode_handle(&UUID, ino(at.ha_fid.fid_ino + 1), 1), &long);
            buf[..r.len()].copy_from_slice(&r);
            Ok((0, r.len()))
        };
        assert_eq!(walk(inode_handle(&UUID, ino(200), 0), deep), Err(Errno::ENAMETOOLONG));
        // Exactly PATH_MAX (16 names of 255 bytes and their slashes) is fine; one byte-name
        // more is not, and the walk stops there without asking further.
        let chain = |extra: bool| {
            let calls = std::cell::Cell::new(0u64);
            let result = walk(inode_handle(&UUID, ino(1000), 0), |at: &XfsHandle, buf: &mut [u8]| {
                calls.set(calls.get() + 1);
                let level = at.ha_fid.fid_ino - 1000;
                let name: &[u8] = if extra && level == 0 { b"x" } else { &long };
                if level == 16 + u64::from(extra) {
                    return Ok((XFS_GETPARENTS_OFLAG_ROOT, 0));
                }
                let r = record(&inode_handle(&UUID, ino(at.ha_fid.fid_ino + 1), 1), name);
                buf[..r.len()].copy_from_slice(&r);
                Ok((0, r.len()))
            });
            (result.map(|p| Vec::from(p).len()), calls.get())
        };
        assert_eq!(chain(false), (Ok(16), 17));
        assert_eq!(chain(true), (Err(Errno::ENAMETOOLONG), 17));
        assert!(FsPath::try_from(vec![long.clone(); 16]).is_ok());
        let mut one_more = vec![long.clone(); 16];
        one_more.push(b"x".to_vec());
        assert!(FsPath::try_from(one_more).is_err(), "4098 bytes with the slashes");
        assert!(FsPath::try_from(vec![b"d".to_vec(); MAX_DEPTH]).is_ok());
        assert!(FsPath::try_from(vec![b"d".to_vec(); MAX_DEPTH + 1]).is_err());
        assert!(FsPath::try_from(vec![long; 17]).is_err());
        assert!(FsPath::try_from(vec![b"a/b".to_vec()]).is_err());
        assert!(FsPath::try_from(vec![b"..".to_vec()]).is_err());
    }

    #[test]
    fn paths_cross_the_wire_whole_and_are_checked_on_arrival() {
        let path = FsPath::try_from(vec![b"dir".to_vec(), b"f\x01".to_vec()]).unwrap();
        let reply = LookupReply { id: RequestId(3), outcome: LookupOutcome::Found(path) };
        let bytes = bincode::serde::encode_to_vec(&reply, bincode::config::standard()).unwrap();
        let (back, _): (LookupReply, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, reply);
        // A hostile peer's "path" with a slash in a name is refused while decoding.
        let forged =
            bincode::serde::encode_to_vec(vec![b"a/b".to_vec()], bincode::config::standard()).unwrap();
        let decoded: Result<(FsPath, usize), _> =
            bincode::serde::decode_from_slice(&forged, bincode::config::standard());
        assert!(decoded.is_err());
    }

    proptest::proptest! {
        /// Whatever the kernel wrote, reading the first record never panics, and a name it
        /// returns is a valid entry name.
        #[test]
        fn records_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            if let Some((_, name)) = first_parent(&bytes) {
                proptest::prop_assert!(valid_name(name));
            }
        }
    }
}
