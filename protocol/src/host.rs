//! What the host tells a daemon at startup, parsed without I/O: `/proc/self/mountinfo` lines
//! and systemd's `LISTEN_FDS`/`LISTEN_FDNAMES` (sd_listen_fds(3)). The repairer reads the
//! text and the environment; the decisions are made here, where they are tested.

use std::path::Path;

use crate::defects::{DefectId, DefectSet};
use crate::{Autofsck, EventSource, FsIdentity, Geometry, Hello, InvalidValue, MountPath, OnlineRepair};

/// The name the health fd has in systemd's fd store (`FDNAME=`), and in `LISTEN_FDNAMES`
/// when systemd hands it back.
pub const HEALTH_FD_NAME: &str = "health";
/// The name `xfs-heal listen --events-from` gives the capture it opened for the repairer to
/// hand the monitor in place of the kernel's health fd (tests and replays).
pub const EVENTS_FD_NAME: &str = "events";
/// More passed fds than this is a misconfigured unit, not something to adopt.
pub const MAX_PASSED_FDS: usize = 8;

/// Which of the passed fds (numbered from 0 for fd 3) is which, by their names in
/// `LISTEN_FDNAMES`: the socket unit's listener, the health fd systemd kept in its fd
/// store, and a capture `xfs-heal listen --events-from` opened. Any others are closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenFds {
    pub count: usize,
    pub listener: Option<usize>,
    pub health: Option<usize>,
    pub events: Option<usize>,
}
/// Why the fds systemd says it passed cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenFdsError {
    /// `LISTEN_FDS` is not a count from 1 to [`MAX_PASSED_FDS`].
    Count(String),
    /// Several fds and no `LISTEN_FDNAMES` to tell them apart.
    Unnamed(usize),
    /// `LISTEN_FDNAMES` names another number of fds.
    Names { fds: usize, names: usize },
    /// More than one fd is neither the health fd nor unnamed otherwise: two listeners.
    TwoListeners,
    /// More than one health fd, where the unit keeps one (`FileDescriptorStoreMax=1`).
    TwoHealthFds,
    /// More than one capture named `events`.
    TwoCaptures,
}

impl core::fmt::Display for ListenFdsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Count(fds) => write!(f, "LISTEN_FDS={fds:?}: expected 1 to {MAX_PASSED_FDS} fds"),
            Self::Unnamed(n) => write!(f, "LISTEN_FDS={n} without LISTEN_FDNAMES: cannot tell the fds apart"),
            Self::Names { fds, names } => write!(f, "LISTEN_FDS={fds} but LISTEN_FDNAMES has {names} names"),
            Self::TwoListeners => write!(f, "systemd passed more than one listening socket"),
            Self::TwoHealthFds => write!(f, "systemd passed more than one stored health fd"),
            Self::TwoCaptures => write!(f, "more than one fd named {EVENTS_FD_NAME:?} was passed"),
        }
    }
}

impl std::error::Error for ListenFdsError {}

/// The role of each passed fd, from the environment; none when nothing was passed to
/// process `me`.
pub fn listen_fds_plan(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<ListenFds, ListenFdsError> {
    let names = listen_fd_names(pid, fds, names, me)?;
    let mut plan = ListenFds { count: names.len(), ..ListenFds::default() };
    for (i, name) in names.into_iter().enumerate() {
        let (slot, twice) = match name {
            HEALTH_FD_NAME => (&mut plan.health, ListenFdsError::TwoHealthFds),
            EVENTS_FD_NAME => (&mut plan.events, ListenFdsError::TwoCaptures),
            _ => (&mut plan.listener, ListenFdsError::TwoListeners),
        };
        if slot.replace(i).is_some() {
            return Err(twice);
        }
    }
    Ok(plan)
}

/// The name of each passed fd (from fd 3 up; empty for a lone unnamed one), from the
/// environment; none when nothing was passed to process `me`.
pub fn listen_fd_names<'a>(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&'a str>,
    me: u32,
) -> Result<Vec<&'a str>, ListenFdsError> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(Vec::new());
    };
    if pid.parse::<u32>().ok() != Some(me) {
        // Meant for another process (e.g. our parent); not ours to take.
        return Ok(Vec::new());
    }
    let count = fds
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PASSED_FDS).contains(n))
        .ok_or_else(|| ListenFdsError::Count(fds.to_owned()))?;
    let names: Vec<&str> = match names {
        Some(names) => names.split(':').collect(),
        // Without names (e.g. systemd-socket-activate without --fdname) only a lone socket
        // is unambiguous.
        None if count == 1 => vec![""],
        None => return Err(ListenFdsError::Unnamed(count)),
    };
    if names.len() != count {
        return Err(ListenFdsError::Names { fds: count, names: names.len() });
    }
    Ok(names)
}

/// Step 2's checks of mount `id` in mountinfo: [`check_mount_root`], then
/// [`check_unmount_reaches`].
pub fn check_mount(mountinfo: &str, id: u64, path: &Path) -> Result<(), String> {
    check_mount_root(mountinfo, id, path)?;
    check_unmount_reaches(mountinfo, id)
}

/// The ID mountinfo gives the mount an fd is on, from the text of `/proc/self/fdinfo/FD`.
pub fn fdinfo_mount_id(fdinfo: &str) -> Option<u64> {
    fdinfo.lines().find_map(|l| l.strip_prefix("mnt_id:")).and_then(|v| v.trim().parse().ok())
}

pub fn check_mount_root(mountinfo: &str, id: u64, path: &Path) -> Result<(), String> {
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').next().and_then(|f| f.parse::<u64>().ok()) == Some(id))
        .ok_or_else(|| format!("mount {id} is not in /proc/self/mountinfo"))?;
    let fields: Vec<&str> = line.split(' ').collect();
    let (root, mount_point) =
        (fields.get(3).copied().unwrap_or(""), unescape(fields.get(4).copied().unwrap_or("")));
    let fstype = line.split(" - ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or("");
    if fstype != "xfs" {
        return Err(format!("not an XFS mount point (the mount at {mount_point} is {fstype})"));
    }
    if Path::new(&mount_point) != path {
        return Err(format!("not the root of the filesystem: it lies inside the XFS mount at {mount_point}"));
    }
    if root != "/" {
        return Err(format!("not the root of the filesystem: it is a bind mount of {}", unescape(root)));
    }
    Ok(())
}

/// Step 2 runs in a mount namespace of its own, a propagation slave of the host's. The
/// host's unmount reaches the namespace's copy of mount `id` only if the mount it sits on
/// receives propagation (`master:N` in mountinfo): otherwise the copy would keep the
/// filesystem alive after the host unmounted it.
pub fn check_unmount_reaches(mountinfo: &str, id: u64) -> Result<(), String> {
    let field = |line: &str, n: usize| line.split(' ').nth(n).and_then(|f| f.parse::<u64>().ok());
    let line = |id| mountinfo.lines().find(|l| field(l, 0) == Some(id));
    let parent = line(id).and_then(|l| field(l, 1)).and_then(line);
    let tags = parent.and_then(|l| l.split(" - ").next()).unwrap_or("");
    if tags.split(' ').skip(6).any(|tag| tag.starts_with("master:")) {
        return Ok(());
    }
    Err("the mount it sits on is not shared, so the repairer's namespace would not see the host unmount it and would keep it alive; make it shared (mount --make-rshared /, as systemd does at boot)".into())
}

/// What the repairer has served, for systemd's `STATUS=` (`systemctl status`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub requests: u64,
    pub issued: u64,
}

impl Served {
    pub fn count(&mut self, issued: bool) {
        self.requests += 1;
        self.issued += u64::from(issued);
    }

    pub fn status(&self, mount: &Path, dropped_lines: u64) -> String {
        let Self { requests, issued } = *self;
        format!(
            "STATUS=serving {}: {requests} requests, {issued} repairs issued, {} refused; {dropped_lines} log lines dropped",
            mount.display(),
            requests - issued
        )
    }
}

/// What startup step 3 records about the served filesystem.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub identity: FsIdentity,
    pub uuid: [u8; 16],
    pub geometry: Geometry,
    pub autofsck: Autofsck,
    pub online_repair: OnlineRepair,
    /// `uname -r`: which known kernel defects apply.
    pub release: String,
}

impl Recorded {
    /// The known kernel defects guarded against here, less those waived.
    pub fn guards(&self, assume_fixed: &[DefectId]) -> DefectSet {
        DefectSet::applicable(&self.release, &self.geometry, assume_fixed)
    }

    /// The greeting each monitor gets; fails only for a mount path `MountPath` refuses.
    pub fn hello(
        &self,
        mount: &Path,
        event_source: EventSource,
        guards: DefectSet,
        resolve_names: bool,
    ) -> Result<Hello, InvalidValue> {
        let mountpoint = MountPath::try_from(mount.display().to_string())?;
        let Self { identity, uuid, geometry, autofsck, online_repair, .. } = self.clone();
        let protocol_version = crate::PROTOCOL_VERSION;
        Ok(Hello {
            protocol_version,
            mountpoint,
            identity,
            uuid,
            geometry,
            online_repair,
            autofsck,
            event_source,
            guards,
            names: crate::names::Naming::new(resolve_names, &geometry),
        })
    }

    /// The line logged and shown as systemd's `STATUS=` once the repairer is ready.
    pub fn serving_line(&self, mount: &Path, monitor_uid: u32) -> String {
        let (autofsck, repair) = (self.autofsck.as_str(), &self.online_repair);
        format!(
            "serving {} ({}, {repair}, autofsck {autofsck}) to uid {monitor_uid}",
            mount.display(),
            self.identity
        )
    }
}

/// The mount points of the mounts whose parent is mount `id`, from `/proc/self/mountinfo`
/// (unescaped): what step 2 detaches so that nothing but the filesystem itself lies beneath
/// the mount point. Their own submounts go with them.
pub fn child_mounts(mountinfo: &str, id: u64) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let own = fields.next()?.parse::<u64>().ok()?;
            let parent = fields.next()?.parse::<u64>().ok()?;
            let mount_point = fields.nth(2)?;
            (parent == id && own != id).then(|| unescape(mount_point))
        })
        .collect()
}

/// The source of the filesystem mounted at `path` (`/dev/sdb1`), from mountinfo: what
/// node_exporter's filesystem collector calls `device`. The last mount at `path` wins, as
/// it hides the ones below.
pub fn mount_source(mountinfo: &str, path: &Path) -> Option<String> {
    mountinfo
        .lines()
        .rev()
        .filter(|line| line.split(' ').nth(4).is_some_and(|m| Path::new(&unescape(m)) == path))
        .find_map(|line| line.split(" - ").nth(1)?.split(' ').nth(1).map(unescape))
}

/// mountinfo and fstab escape space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape(field: &str) -> String {
    String::from_utf8_lossy(&unescape_bytes(field.as_bytes())).into_owned()
}

/// [`unescape`], to the bytes the field names (which need not be UTF-8).
pub(crate) fn unescape_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (b[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Whether a directory may hold the repairer's socket (`xfs-heal listen`): root's, and writable by
/// root alone. Anyone else who could write there could swap the socket for a link between
/// its creation and the calls that set its owner and mode.
pub fn check_socket_dir(owner: u32, mode: u32) -> Result<(), String> {
    if owner != 0 || mode & WRITABLE_BY_OTHERS != 0 {
        return Err(format!(
            "its directory must belong to root and be writable by root alone (it has owner uid {owner}, mode {:o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// What `xfs-heal listen PATH` may find at its name (`mode`, or nothing): nothing (bind there), or
/// an old socket (true: replace it); anything else is not replaced.
pub fn check_socket_slot(mode: Option<u32>) -> Result<bool, String> {
    match mode.map(|m| m & S_IFMT) {
        None => Ok(false),
        Some(S_IFSOCK) => Ok(true),
        Some(_) => Err("exists and is not a socket; not replacing it".into()),
    }
}

/// Whether a connecting peer is the monitor served: its uid must be `served`.
pub fn check_peer(pid: i32, uid: u32, served: u32) -> Result<(), String> {
    if uid != served {
        return Err(format!("refused connection from pid {pid} uid {uid}: only uid {served} is served"));
    }
    Ok(())
}

/// Whether a file may be handed to the monitor as its event source (`xfs-heal listen --events-from`): a
/// regular file with one link, or a FIFO; root's; writable by root alone. A link planted by
/// someone else, or a file someone else can rewrite, is refused: it is opened as root, and
/// the repairer gives the monitor a readable fd.
pub fn check_capture(mode: u32, owner: u32, links: u64) -> Result<(), String> {
    match mode & S_IFMT {
        S_IFREG if links == 1 => {}
        S_IFREG => {
            return Err(format!("a regular file with {links} hard links; only a file with one is used"))
        }
        S_IFIFO => {}
        _ => return Err("not a regular file or FIFO".into()),
    }
    if owner != 0 || mode & WRITABLE_BY_OTHERS != 0 {
        return Err(format!(
            "must belong to root and be writable by root alone (it has owner uid {owner}, mode {:o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Filesystems whose files are not data at rest: what `stat` says of them (a size of 0 or
/// 4096) is not what reading them gives, and they hold the kernel's and processes' secrets
/// (`/proc/PID/environ`, `/sys/...`). No capture lives on one. Their `statfs` magics.
const PSEUDO_FILESYSTEMS: &[(u64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x6367_7270, "cgroup2"),
    (0x0027_e0eb, "cgroup"),
    (0xcafe_4a11, "bpf"),
    (0x1cd1, "devpts"),
];

/// Whether a regular file's contents can be a capture of V0 health records (what `xfs-heal
/// listen --events-from` hands the unprivileged monitor, opened as root): not on a pseudo
/// filesystem, a whole number of 64-byte records, and a first record whose domain and type
/// the kernel defines. A root-owned secret (`/etc/shadow`, a key) fails one of these: it
/// must not reach the monitor because root could read it. `first` is the file's first bytes
/// (up to 64).
pub fn check_capture_contents(fs_magic: u64, size: u64, first: &[u8]) -> Result<(), String> {
    if let Some((_, name)) = PSEUDO_FILESYSTEMS.iter().find(|(magic, _)| *magic == fs_magic) {
        return Err(format!("a file on {name}, not a capture"));
    }
    use crate::uapi::{event_offsets as at, HEALTH_EVENT_V0_SIZE};
    let record = HEALTH_EVENT_V0_SIZE as u64;
    if size % record != 0 {
        return Err(format!("{size} bytes, not a whole number of {record}-byte health records"));
    }
    if size == 0 {
        return Ok(());
    }
    let word = |at: usize| first.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let (domain, kind) = (word(at::DOMAIN), word(at::TYPE));
    let known_domain = domain.is_some_and(|d| d <= crate::uapi::XFS_HEALTH_MONITOR_DOMAIN_FILERANGE);
    let known_type = kind.is_some_and(|t| t <= crate::uapi::XFS_HEALTH_MONITOR_TYPE_DATALOST);
    if !(known_domain && known_type) {
        return Err("its first record is not a health record (unknown domain or type)".into());
    }
    Ok(())
}

/// fanotify's mount events (Linux 6.15): the flags of the watch a repairer can keep on the
/// mount namespace it started in, and the records it reads (`fanotify(7)`).
pub mod fanotify {
    pub const FAN_REPORT_MNT: u32 = 0x0000_4000;
    pub const FAN_MARK_MNTNS: u32 = 0x0000_0110;
    pub const FAN_MNT_ATTACH: u64 = 0x0100_0000;
    pub const FAN_MNT_DETACH: u64 = 0x0200_0000;
    pub const FANOTIFY_METADATA_VERSION: u8 = 3;
    /// `struct fanotify_event_metadata`: event_len u32, vers u8, reserved u8,
    /// metadata_len u16, mask u64, fd i32, pid i32.
    pub const METADATA_LEN: usize = 24;
    pub const FAN_EVENT_INFO_TYPE_MNT: u8 = 7;
    /// `struct fanotify_event_info_mnt`: a 4-byte info header, padding, mnt_id u64 at 8.
    pub const INFO_MNT_LEN: usize = 16;
}

/// Was mount `mnt_id` moved to another place in the watched namespace (`mount --move`: one
/// event with both `FAN_MNT_ATTACH` and `FAN_MNT_DETACH`)? An unmount (`FAN_MNT_DETACH`
/// alone) is not a move: it reaches the repairer's own namespace by propagation. Reads the
/// records of one `read(2)` of the watch; anything malformed or truncated ends the walk and
/// counts as no.
pub fn mount_moved(buf: &[u8], mnt_id: u64) -> bool {
    use fanotify::*;
    let u16_at = |b: &[u8], at: usize| b.get(at..at + 2).map(|x| u16::from_ne_bytes([x[0], x[1]]));
    let u32_at =
        |b: &[u8], at: usize| b.get(at..at + 4).and_then(|x| x.try_into().ok()).map(u32::from_ne_bytes);
    let u64_at =
        |b: &[u8], at: usize| b.get(at..at + 8).and_then(|x| x.try_into().ok()).map(u64::from_ne_bytes);
    let mut rest = buf;
    while let Some(len) = u32_at(rest, 0).and_then(|l| usize::try_from(l).ok()) {
        let Some(event) = rest.get(..len).filter(|_| len >= METADATA_LEN) else { return false };
        let (Some(&vers), Some(meta), Some(mask)) = (event.get(4), u16_at(event, 6), u64_at(event, 8)) else {
            return false;
        };
        if vers != FANOTIFY_METADATA_VERSION || usize::from(meta) < METADATA_LEN {
            return false;
        }
        let mut info = event.get(usize::from(meta)..).unwrap_or_default();
        while let (Some(&kind), Some(info_len)) = (info.first(), u16_at(info, 2)) {
            let info_len = usize::from(info_len);
            if info_len < 4 || info_len > info.len() {
                return false;
            }
            let ours = kind == FAN_EVENT_INFO_TYPE_MNT
                && info_len >= INFO_MNT_LEN
                && u64_at(info, 8) == Some(mnt_id);
            if ours && mask & (FAN_MNT_ATTACH | FAN_MNT_DETACH) == FAN_MNT_ATTACH | FAN_MNT_DETACH {
                return true;
            }
            info = &info[info_len..];
        }
        rest = &rest[len..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_capture_can_be_is_handed_to_the_monitor() {
        let running = [0u8; 64];
        let xfs = 0x5846_5342;
        assert_eq!(check_capture_contents(xfs, 0, &[]), Ok(()), "an empty capture");
        assert_eq!(check_capture_contents(xfs, 576, &running), Ok(()));
        let mut sick = [0u8; 64];
        sick[..8].copy_from_slice(&[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(check_capture_contents(xfs, 64, &sick), Ok(()));
        // /etc/shadow: text, and rarely a multiple of 64 bytes; either refuses it.
        let shadow = b"root:$y$j9T$abcdefghijklmnop:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";
        assert!(check_capture_contents(xfs, 1088, shadow).unwrap_err().contains("not a health record"));
        assert!(check_capture_contents(xfs, 1000, shadow).unwrap_err().contains("not a whole number"));
        // sysfs and procfs say 4096 and 0 bytes whatever reading gives.
        assert_eq!(
            check_capture_contents(0x6265_6572, 4096, &running),
            Err("a file on sysfs, not a capture".into())
        );
        assert_eq!(check_capture_contents(0x9fa0, 0, &[]), Err("a file on proc, not a capture".into()));
        let mut far = [0u8; 64];
        far[4] = 13;
        assert!(check_capture_contents(xfs, 64, &far).is_err(), "a type the kernel does not define");
        far[4] = 12;
        assert!(check_capture_contents(xfs, 64, &far).is_ok(), "the last one it does");
        far[0] = 9;
        assert!(check_capture_contents(xfs, 64, &far).is_err(), "a domain it does not define");
        assert!(check_capture_contents(xfs, 64, &[0, 0]).is_err(), "a short read");
    }

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
90 22 7:0 / /mnt/data rw,relatime shared:40 - xfs /dev/loop0 rw,attr2
91 22 7:0 /sub /mnt/bind rw,relatime shared:40 - xfs /dev/loop0 rw,attr2
92 22 7:1 / /mnt/with\\040space rw - xfs /dev/loop1 rw
";

    #[test]
    fn an_unmount_reaches_the_namespace_only_through_a_slave_parent() {
        let info = "\
22 1 8:1 / / rw master:1 - ext4 /dev/sda1 rw
90 22 7:0 / /mnt/data rw - xfs /dev/loop0 rw
31 1 0:30 / /private rw - tmpfs t rw
91 31 7:1 / /private/data rw master:7 - xfs /dev/loop1 rw
";
        assert_eq!(check_unmount_reaches(info, 90), Ok(()));
        let err = check_unmount_reaches(info, 91).unwrap_err();
        assert!(err.starts_with("the mount it sits on is not shared"), "{err}");
        assert!(check_unmount_reaches(info, 5).is_err());
        // check_mount asks both questions: the root first, then the propagation.
        assert_eq!(check_mount(info, 90, Path::new("/mnt/data")), Ok(()));
        assert!(check_mount(info, 90, Path::new("/mnt/other")).unwrap_err().contains("inside the XFS"));
        assert!(check_mount(info, 91, Path::new("/private/data")).unwrap_err().contains("not shared"));
    }

    #[test]
    fn served_counts_render_as_one_status_line() {
        let mut s = Served::default();
        s.count(true);
        s.count(false);
        s.count(true);
        assert_eq!(
            s.status(Path::new("/mnt/data"), 4),
            "STATUS=serving /mnt/data: 3 requests, 2 repairs issued, 1 refused; 4 log lines dropped"
        );
    }

    #[test]
    fn child_mounts_are_the_direct_children_only() {
        let info = "\
22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw
90 22 7:0 / /mnt/data rw shared:40 - xfs /dev/loop0 rw
93 90 0:50 / /mnt/data/tmp rw - tmpfs t rw
94 93 0:51 / /mnt/data/tmp/deeper rw - tmpfs t rw
95 90 7:2 / /mnt/data/a\\040b rw - xfs /dev/loop2 rw
96 22 0:52 / /mnt/other rw - tmpfs t rw
";
        assert_eq!(child_mounts(info, 90), vec!["/mnt/data/tmp".to_owned(), "/mnt/data/a b".to_owned()]);
        assert_eq!(child_mounts(info, 93), vec!["/mnt/data/tmp/deeper".to_owned()]);
        assert!(child_mounts(info, 96).is_empty());
        assert!(child_mounts("garbage\n\n1 x y", 1).is_empty());
    }

    #[test]
    fn mount_root_checks() {
        assert_eq!(check_mount_root(MOUNTINFO, 90, Path::new("/mnt/data")), Ok(()));
        assert_eq!(check_mount_root(MOUNTINFO, 92, Path::new("/mnt/with space")), Ok(()));
        assert_eq!(
            check_mount_root(MOUNTINFO, 90, Path::new("/mnt/data/dir")),
            Err("not the root of the filesystem: it lies inside the XFS mount at /mnt/data".into())
        );
        assert_eq!(
            check_mount_root(MOUNTINFO, 91, Path::new("/mnt/bind")),
            Err("not the root of the filesystem: it is a bind mount of /sub".into())
        );
        assert_eq!(
            check_mount_root(MOUNTINFO, 22, Path::new("/")),
            Err("not an XFS mount point (the mount at / is ext4)".into())
        );
        assert!(check_mount_root(MOUNTINFO, 7, Path::new("/")).is_err());
    }

    #[test]
    fn names_the_device_mounted_last_at_a_path() {
        let text = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 7:0 / /mnt/my\\040data rw shared:5 - xfs /dev/loop0 rw
31 30 7:1 / /mnt/my\\040data rw shared:6 - xfs /dev/mapper/over rw
";
        assert_eq!(mount_source(text, Path::new("/mnt/my data")).as_deref(), Some("/dev/mapper/over"));
        assert_eq!(mount_source(text, Path::new("/")).as_deref(), Some("/dev/sda1"));
        assert_eq!(mount_source(text, Path::new("/mnt")), None);
    }

    fn plan_of(
        pid: Option<&str>,
        fds: Option<&str>,
        names: Option<&str>,
    ) -> Result<ListenFds, ListenFdsError> {
        listen_fds_plan(pid, fds, names, 42)
    }

    #[test]
    fn adopts_only_fds_passed_to_this_process() {
        let lone = ListenFds { count: 1, listener: Some(0), ..ListenFds::default() };
        assert_eq!(plan_of(None, None, None), Ok(ListenFds::default()));
        assert_eq!(plan_of(Some("41"), Some("1"), None), Ok(ListenFds::default()));
        assert_eq!(plan_of(Some("42"), Some("1"), None), Ok(lone));
        assert_eq!(plan_of(Some("42"), Some("1"), Some("repairer")), Ok(lone));
    }

    #[test]
    fn tells_the_socket_from_the_stored_health_fd_by_name() {
        // What systemd passes a restarted repairer: the socket unit's fd, then the store's.
        assert_eq!(
            plan_of(Some("42"), Some("2"), Some("repairer:health")),
            Ok(ListenFds { count: 2, listener: Some(0), health: Some(1), events: None })
        );
        assert_eq!(
            plan_of(Some("42"), Some("2"), Some("health:repairer")),
            Ok(ListenFds { count: 2, listener: Some(1), health: Some(0), events: None })
        );
        assert_eq!(
            plan_of(Some("42"), Some("1"), Some("health")),
            Ok(ListenFds { count: 1, health: Some(0), ..ListenFds::default() })
        );
        assert_eq!(plan_of(Some("42"), Some("2"), Some("a:b")), Err(ListenFdsError::TwoListeners));
        assert_eq!(
            plan_of(Some("42"), Some("3"), Some("health:a:health")),
            Err(ListenFdsError::TwoHealthFds)
        );
        // What `xfs-heal listen --events-from` passes: its socket, then the capture.
        assert_eq!(
            plan_of(Some("42"), Some("2"), Some("listener:events")),
            Ok(ListenFds { count: 2, listener: Some(0), health: None, events: Some(1) })
        );
        assert_eq!(plan_of(Some("42"), Some("3"), Some("events:l:events")), Err(ListenFdsError::TwoCaptures));
    }

    #[test]
    fn refuses_ambiguous_or_absurd_counts() {
        for (fds, names) in [("2", None), ("2", Some("repairer")), ("0", None), ("x", None), ("9", None)] {
            assert!(plan_of(Some("42"), Some(fds), names).is_err(), "{fds} {names:?}");
        }
        assert_eq!(plan_of(Some("42"), Some("2"), None), Err(ListenFdsError::Unnamed(2)));
        assert_eq!(
            plan_of(Some("42"), Some("2"), Some("repairer")).unwrap_err().to_string(),
            "LISTEN_FDS=2 but LISTEN_FDNAMES has 1 names"
        );
    }

    #[test]
    fn replaces_only_an_old_socket_and_serves_only_the_monitor_uid() {
        assert_eq!(check_socket_slot(None), Ok(false));
        assert_eq!(check_socket_slot(Some(0o140_660)), Ok(true));
        for mode in [0o100_644, 0o120_777, 0o040_755, 0o010_600] {
            assert!(check_socket_slot(Some(mode)).unwrap_err().contains("not a socket"), "{mode:o}");
        }
        assert_eq!(check_peer(7, 998, 998), Ok(()));
        assert_eq!(
            check_peer(7, 0, 998),
            Err("refused connection from pid 7 uid 0: only uid 998 is served".into())
        );
    }

    #[test]
    fn reads_the_mount_id_from_fdinfo() {
        let fdinfo = "pos:\t0\nflags:\t02100000\nmnt_id:\t90\nino:\t128\n";
        assert_eq!(fdinfo_mount_id(fdinfo), Some(90));
        assert_eq!(fdinfo_mount_id("pos:\t0\n"), None);
        assert_eq!(fdinfo_mount_id("mnt_id:\tx\n"), None);
    }

    #[test]
    fn only_a_root_only_directory_may_hold_the_socket() {
        assert_eq!(check_socket_dir(0, 0o040_755), Ok(()));
        assert_eq!(check_socket_dir(0, 0o040_700), Ok(()));
        for (owner, mode) in [(0, 0o041_777), (0, 0o040_775), (0, 0o040_757), (1000, 0o040_755)] {
            let err = check_socket_dir(owner, mode).unwrap_err();
            assert!(err.contains("writable by root alone"), "{err}");
        }
    }

    #[test]
    fn only_a_root_owned_file_or_fifo_is_a_capture() {
        assert_eq!(check_capture(0o100_644, 0, 1), Ok(()));
        assert_eq!(check_capture(0o010_600, 0, 1), Ok(()));
        assert_eq!(
            check_capture(0o100_644, 0, 2),
            Err("a regular file with 2 hard links; only a file with one is used".into())
        );
        assert_eq!(check_capture(0o040_755, 0, 1), Err("not a regular file or FIFO".into()));
        assert_eq!(check_capture(0o020_666, 0, 1), Err("not a regular file or FIFO".into()));
        assert_eq!(check_capture(0o120_777, 0, 1), Err("not a regular file or FIFO".into()));
        assert!(check_capture(0o100_644, 65534, 1).unwrap_err().contains("owner uid 65534"));
        assert!(check_capture(0o100_646, 0, 1).unwrap_err().contains("mode 646"));
        assert!(check_capture(0o010_620, 0, 1).unwrap_err().contains("mode 620"));
    }

    /// One fanotify mount event record as the kernel writes it.
    fn mount_event(mask: u64, mnt_id: u64) -> Vec<u8> {
        use super::fanotify::*;
        let mut e = Vec::new();
        e.extend_from_slice(&u32::try_from(METADATA_LEN + INFO_MNT_LEN).unwrap().to_ne_bytes());
        e.push(FANOTIFY_METADATA_VERSION);
        e.push(0);
        e.extend_from_slice(&u16::try_from(METADATA_LEN).unwrap().to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.extend_from_slice(&(-1i32).to_ne_bytes());
        e.extend_from_slice(&0i32.to_ne_bytes());
        e.push(FAN_EVENT_INFO_TYPE_MNT);
        e.push(0);
        e.extend_from_slice(&u16::try_from(INFO_MNT_LEN).unwrap().to_ne_bytes());
        e.extend_from_slice(&[0; 4]);
        e.extend_from_slice(&mnt_id.to_ne_bytes());
        e
    }

    #[test]
    fn fanotify_numbers_are_linux_uapi_values() {
        // linux/fanotify.h; a wrong one reads every real record as someone else's (the
        // repairer test that moves a real mount catches that too).
        use super::fanotify::*;
        assert_eq!((FAN_REPORT_MNT, FAN_MARK_MNTNS), (0x4000, 0x110));
        assert_eq!((FAN_MNT_ATTACH, FAN_MNT_DETACH), (0x0100_0000, 0x0200_0000));
        assert_eq!((FAN_EVENT_INFO_TYPE_MNT, FANOTIFY_METADATA_VERSION), (7, 3));
        assert_eq!((METADATA_LEN, INFO_MNT_LEN), (24, 16));
    }

    #[test]
    fn a_move_of_our_mount_is_seen_among_others() {
        use super::fanotify::*;
        let ours = 0x8000_0000_0001_2345;
        let moved = mount_event(FAN_MNT_ATTACH | FAN_MNT_DETACH, ours);
        let unmounted = mount_event(FAN_MNT_DETACH, ours);
        let other = mount_event(FAN_MNT_ATTACH | FAN_MNT_DETACH, ours + 1);
        let attached = mount_event(FAN_MNT_ATTACH, ours);
        assert!(mount_moved(&moved, ours));
        assert!(!mount_moved(&unmounted, ours), "an unmount is not a move");
        assert!(!mount_moved(&other, ours));
        assert!(!mount_moved(&attached, ours), "a mount arriving is not ours leaving");
        assert!(mount_moved(
            &[other.clone(), attached.clone(), unmounted.clone(), moved.clone()].concat(),
            ours
        ));
        assert!(!mount_moved(&[other, attached, unmounted].concat(), ours));
        // Truncated, another version, a zero length: no, and no panic.
        assert!(!mount_moved(&moved[..moved.len() - 1], ours));
        let mut v2 = moved.clone();
        v2[4] = 2;
        assert!(!mount_moved(&v2, ours));
        let mut short_info = moved.clone();
        short_info[METADATA_LEN + 2] = 3;
        assert!(!mount_moved(&short_info, ours), "an info header shorter than itself");
        assert!(!mount_moved(&[0; 24], ours));
        assert!(!mount_moved(&[], ours));
    }

    /// One event record with metadata of `meta` bytes (padded), then `infos`.
    fn raw_event(mask: u64, meta: usize, infos: &[Vec<u8>]) -> Vec<u8> {
        use super::fanotify::*;
        let len = meta + infos.iter().map(Vec::len).sum::<usize>();
        let mut e = Vec::new();
        e.extend_from_slice(&u32::try_from(len).unwrap().to_ne_bytes());
        e.extend_from_slice(&[FANOTIFY_METADATA_VERSION, 0]);
        e.extend_from_slice(&u16::try_from(meta).unwrap().to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.resize(meta.max(16), 0);
        e.truncate(meta);
        for info in infos {
            e.extend_from_slice(info);
        }
        e
    }

    fn info(kind: u8, len: usize, mnt_id: u64) -> Vec<u8> {
        let mut i = vec![kind, 0];
        i.extend_from_slice(&u16::try_from(len).unwrap().to_ne_bytes());
        i.resize(len, 0);
        if len >= 16 {
            i[8..16].copy_from_slice(&mnt_id.to_ne_bytes());
        }
        i
    }

    #[test]
    fn the_records_are_walked_by_their_own_lengths() {
        use super::fanotify::*;
        let ours = 77;
        let both = FAN_MNT_ATTACH | FAN_MNT_DETACH;
        let mnt = info(FAN_EVENT_INFO_TYPE_MNT, INFO_MNT_LEN, ours);
        assert!(mount_moved(&raw_event(both, METADATA_LEN, std::slice::from_ref(&mnt)), ours));
        // Longer metadata (a later version's fields): the infos start where it says.
        assert!(mount_moved(&raw_event(both, METADATA_LEN + 8, std::slice::from_ref(&mnt)), ours));
        // Metadata shorter than the header itself is malformed.
        let mut short = raw_event(both, METADATA_LEN, std::slice::from_ref(&mnt));
        short[6..8].copy_from_slice(&8u16.to_ne_bytes());
        assert!(!mount_moved(&short, ours));
        // Another info first, a bare 4-byte header, then ours.
        assert!(mount_moved(&raw_event(both, METADATA_LEN, &[info(1, 4, 0), mnt.clone()]), ours));
        // Ours first, then another: found before the rest is read.
        assert!(mount_moved(&raw_event(both, METADATA_LEN, &[mnt.clone(), info(1, 8, 0)]), ours));
        // An info shorter than its own header, or longer than what is left: malformed.
        assert!(!mount_moved(&raw_event(both, METADATA_LEN, &[info(1, 3, 0), mnt.clone()]), ours));
        let mut overlong = raw_event(both, METADATA_LEN, &[mnt]);
        overlong[METADATA_LEN + 2..METADATA_LEN + 4].copy_from_slice(&17u16.to_ne_bytes());
        assert!(!mount_moved(&overlong, ours));
    }

    proptest::proptest! {
        /// Whatever the bytes, the walk ends without a panic.
        #[test]
        fn mount_events_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), id: u64) {
            let _ = mount_moved(&bytes, id);
        }
    }
}
