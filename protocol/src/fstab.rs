//! `/etc/fstab` as the generator reads it: which XFS filesystems xfs-heal protects once
//! `xfs-heal.target` is enabled, and the unit names systemd gives their mount points. No I/O.

use crate::host::unescape;

/// The mount option that leaves one fstab entry out (`x-` options are ignored by mount(8)
/// and systemd alike).
pub const EXCLUDE_OPTION: &str = "x-xfs-heal=off";

/// One XFS filesystem in fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The mount point, unescaped.
    pub mountpoint: String,
    /// Carries [`EXCLUDE_OPTION`].
    pub excluded: bool,
}

/// The XFS entries of `fstab`, in order. Comments, blank lines, other types and lines with
/// fewer than three fields are skipped.
pub fn xfs_entries(fstab: &str) -> Vec<Entry> {
    fstab
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _source = fields.next().filter(|f| !f.starts_with('#'))?;
            let mountpoint = unescape(fields.next()?);
            let fstype = fields.next()?;
            let options = fields.next().unwrap_or("defaults");
            let excluded = options.split(',').any(|o| o == EXCLUDE_OPTION);
            (fstype == "xfs").then_some(Entry { mountpoint, excluded })
        })
        .collect()
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
        let entries = xfs_entries(fstab);
        let got: Vec<(&str, bool)> = entries.iter().map(|e| (e.mountpoint.as_str(), e.excluded)).collect();
        assert_eq!(
            got,
            [
                ("/", false),
                ("/mnt/data", true),
                ("/mnt/with space", false),
                ("/mnt/x-xfs-heal=off", false),
                ("/mnt/bare", false),
            ]
        );
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
