//! `/etc/fstab` as the generator reads it: which XFS filesystems xfs-heal protects once
//! `xfs-heal.target` is enabled, and the unit names systemd gives their mount points. No I/O.

use crate::host::{unescape, unescape_bytes};

/// The mount option that leaves one fstab entry out (`x-` options are ignored by mount(8)
/// and systemd alike).
pub const EXCLUDE_OPTION: &str = "x-xfs-heal=off";

/// The longest name a unit file, or the `.wants` directory the generator makes, may have.
const NAME_MAX: usize = 255;

/// One XFS filesystem in fstab, usable as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its line in fstab, from 1.
    pub line: usize,
    /// The mount point, unescaped.
    pub mountpoint: String,
    /// Its unit instance name ([`escape_path`]), short enough for every name made from it.
    pub instance: String,
    /// Carries [`EXCLUDE_OPTION`].
    pub excluded: bool,
}

/// Why an XFS line of fstab cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Its mount point is not UTF-8 once unescaped.
    NotUtf8,
    /// Its mount point holds a NUL (`\000`), which no path can.
    Nul,
    /// Not a mount point systemd can name: relative, or with a `..` component.
    NotNameable,
    /// Its unit names would be longer than a file name may be.
    NameTooLong,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotUtf8 => "its mount point is not UTF-8",
            Self::Nul => "its mount point holds a NUL (\\000)",
            Self::NotNameable => "not a mount point systemd can name (relative, or with ..)",
            Self::NameTooLong => "its mount point is too long for a unit name",
        })
    }
}

/// An XFS line left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    pub why: Unusable,
}

/// The XFS entries of `fstab`, in order, read as bytes line by line: one line that cannot
/// be used is left out (and returned, with its number), never the whole file. Comments,
/// blank lines, other types and lines with fewer than three fields are skipped silently,
/// whatever bytes they hold.
pub fn xfs_entries(fstab: &[u8]) -> (Vec<Entry>, Vec<Rejected>) {
    let (mut entries, mut rejected) = (Vec::new(), Vec::new());
    for (i, line) in fstab.split(|b| *b == b'\n').enumerate() {
        let mut fields = line.split(u8::is_ascii_whitespace).filter(|f| !f.is_empty());
        let Some(_source) = fields.next().filter(|f| !f.starts_with(b"#")) else { continue };
        let (Some(mountpoint), Some(b"xfs")) = (fields.next(), fields.next()) else { continue };
        let options = fields.next().unwrap_or(b"defaults");
        let excluded = options.split(|b| *b == b',').any(|o| o == EXCLUDE_OPTION.as_bytes());
        match usable(mountpoint) {
            Ok((mountpoint, instance)) => entries.push(Entry { line: i + 1, mountpoint, instance, excluded }),
            Err(why) => rejected.push(Rejected { line: i + 1, why }),
        }
    }
    (entries, rejected)
}

/// An fstab mount point field, unescaped, and its instance name.
fn usable(field: &[u8]) -> Result<(String, String), Unusable> {
    let path = String::from_utf8(unescape_bytes(field)).map_err(|_| Unusable::NotUtf8)?;
    if path.contains('\0') {
        return Err(Unusable::Nul);
    }
    let instance = escape_path(&path).ok_or(Unusable::NotNameable)?;
    // The longest name made from it: `xfs-heal-monitor@INSTANCE.service`.
    if format!("xfs-heal-monitor@{instance}.service").len() > NAME_MAX {
        return Err(Unusable::NameTooLong);
    }
    Ok((path, instance))
}

/// The mount points of `/proc/self/mountinfo`, unescaped.
pub fn mounted(mountinfo: &str) -> Vec<String> {
    mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).map(unescape).collect()
}

/// The instance name systemd gives the unit of mount point `path` (`systemd-escape --path`):
/// `/` is `-`, `/mnt/data` is `mnt-data`; duplicate and trailing slashes and `.` components
/// are dropped; a byte outside `[A-Za-z0-9:_.]`, and a leading `.`, becomes `\xNN`. `None`
/// for what systemd refuses too: a relative path, or one with a `..` component.
pub fn escape_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return None;
    }
    if parts.is_empty() {
        return Some("-".into());
    }
    let mut out = String::new();
    for (i, byte) in parts.join("/").bytes().enumerate() {
        match byte {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_xfs_entries_are_taken_and_the_exclusion_is_read() {
        let fstab = "\
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=1 / xfs defaults 0 1
LABEL=data /mnt/data xfs noatime,x-xfs-heal=off 0 2

/dev/sdb1 /mnt/with\\040space xfs defaults 0 2
/dev/sdc1 /srv ext4 defaults 0 2
/dev/sdd1 /mnt/x-xfs-heal=off xfs x-xfs-heal=offline
tmpfs /tmp tmpfs
/dev/sde1
  #UUID=2 /mnt/commented xfs defaults
/dev/sdf1 /mnt/bare xfs
";
        let (entries, rejected) = xfs_entries(fstab.as_bytes());
        let got: Vec<(usize, &str, &str, bool)> = entries
            .iter()
            .map(|e| (e.line, e.mountpoint.as_str(), e.instance.as_str(), e.excluded))
            .collect();
        assert_eq!(
            got,
            [
                (2, "/", "-", false),
                (3, "/mnt/data", "mnt-data", true),
                (5, "/mnt/with space", "mnt-with\\x20space", false),
                (7, "/mnt/x-xfs-heal=off", "mnt-x\\x2dxfs\\x2dheal\\x3doff", false),
                (11, "/mnt/bare", "mnt-bare", false),
            ]
        );
        assert!(rejected.is_empty());
    }

    #[test]
    fn a_line_that_cannot_be_used_is_left_out_alone_and_named() {
        let mut fstab = b"UUID=1 / xfs defaults 0 1\n".to_vec();
        // A comment and another type with bytes that are not UTF-8: nothing to say.
        fstab.extend_from_slice(b"# caf\xe9\n/dev/x /mnt/\xff ext4 defaults\n");
        fstab.extend_from_slice(b"/dev/a /mnt/\xfe xfs defaults\n");
        fstab.extend_from_slice(b"/dev/b /mnt/a\\000b xfs defaults\n");
        fstab.extend_from_slice(b"/dev/c /mnt/\\377 xfs defaults\n");
        fstab.extend_from_slice(b"/dev/d mnt/relative xfs defaults\n");
        fstab.extend_from_slice(format!("/dev/e /{} xfs defaults\n", "n".repeat(240)).as_bytes());
        fstab.extend_from_slice(format!("/dev/f /{} xfs defaults\n", "n".repeat(230)).as_bytes());
        fstab.extend_from_slice(b"/dev/g /mnt/last xfs defaults");
        let (entries, rejected) = xfs_entries(&fstab);
        let lines: Vec<usize> = entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 9, 10], "the rest of the file is still read");
        assert!(entries.iter().all(|e| !e.instance.contains('\0') && !e.mountpoint.contains('\0')));
        assert_eq!(
            rejected,
            [
                Rejected { line: 4, why: Unusable::NotUtf8 },
                Rejected { line: 5, why: Unusable::Nul },
                Rejected { line: 6, why: Unusable::NotUtf8 },
                Rejected { line: 7, why: Unusable::NotNameable },
                Rejected { line: 8, why: Unusable::NameTooLong },
            ]
        );
        let longest = format!("xfs-heal-monitor@{}.service", entries[1].instance);
        assert!(longest.len() <= NAME_MAX, "{}", longest.len());
    }

    proptest::proptest! {
        /// Whatever bytes fstab holds, reading it never panics, every entry's instance is one
        /// safe path component that fits a file name, and a NUL never reaches it.
        #[test]
        fn any_bytes_give_usable_entries_only(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let (entries, _) = xfs_entries(&bytes);
            for e in entries {
                proptest::prop_assert!(!e.instance.is_empty() && !e.instance.contains(['/', '\0']));
                let unit = format!("xfs-heal-monitor@{}.service", e.instance);
                proptest::prop_assert!(unit.len() <= NAME_MAX, "{}", unit);
            }
        }
    }

    #[test]
    fn mount_points_escape_as_systemd_escapes_them() {
        for (path, unit) in [
            ("/", "-"),
            ("//", "-"),
            ("/mnt/data", "mnt-data"),
            ("/mnt//data/", "mnt-data"),
            ("/mnt/./data", "mnt-data"),
            ("/mnt/my-data", "mnt-my\\x2ddata"),
            ("/mnt/with space", "mnt-with\\x20space"),
            ("/.hidden/x", "\\x2ehidden-x"),
            ("/a/.b", "a-.b"),
            ("/srv/ü", "srv-\\xc3\\xbc"),
            ("/a:b_c.d", "a:b_c.d"),
        ] {
            assert_eq!(escape_path(path).as_deref(), Some(unit), "{path}");
        }
        assert_eq!(escape_path("mnt/data"), None);
        assert_eq!(escape_path("/mnt/../etc"), None);
    }

    #[test]
    fn mounted_reads_mount_points_from_mountinfo() {
        let mountinfo =
            "22 1 8:1 / / rw - xfs /dev/sda1 rw\n92 22 7:1 / /mnt/with\\040space rw - xfs /dev/loop1 rw\n";
        assert_eq!(mounted(mountinfo), ["/", "/mnt/with space"]);
    }
}
