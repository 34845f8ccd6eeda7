//! `xfs-heal metrics-link` and `metrics-unlink`: root's part in showing one mount's metrics
//! to node_exporter, run by the monitor unit before it starts and after it stops.
//!
//! Every monitor runs as the one `xfs-heal` user, so no directory it can write may be shared:
//! each writes in a directory of its own ([`metrics::instance_dir`], the unit's
//! `StateDirectory=`), the only one its Landlock rule and its unit let it write. What
//! node_exporter reads is a symbolic link per mount in its textfile directory, made here, by
//! root, so the monitors need no write access to that directory at all (it keeps its owner's
//! mode and no ACL of ours).
//!
//! Both verbs take the mount point (`%f`, as `xfs-heal supported` does) and name everything
//! from its instance name (`systemd-escape --path`), so no argument can name another place;
//! they work relative to directories opened once without following a symbolic link, and
//! nothing here follows one. A missing textfile directory (no
//! node_exporter installed) is not an error: there is nothing to link into.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, readlinkat, renameat, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};
use xfs_heal_protocol::{fstab, metrics};

/// What went wrong, naming the step.
#[derive(Debug, thiserror::Error)]
pub enum TextfileError {
    #[error("{0:?} is not an absolute, normalized mount point whose unit name fits a file name")]
    MountPoint(PathBuf),
    #[error("open {}: {source}", .path.display())]
    OpenDir { path: PathBuf, source: Errno },
    #[error("{step} {name}: {source}")]
    Call { step: &'static str, name: String, source: Errno },
}

/// What was done, for the one line the verb prints.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Linked {
        link: PathBuf,
        target: PathBuf,
    },
    /// The link was there and pointed at our file already.
    AlreadyLinked {
        link: PathBuf,
    },
    /// After a stop: what went (the link, if ours was there; the file, if the filesystem is
    /// no longer mounted and the monitor had not removed it).
    Removed {
        link: Option<PathBuf>,
        file: Option<PathBuf>,
        unmounted: bool,
    },
    /// The filesystem is still mounted and the file is still there (the monitor did not end
    /// cleanly): both stay, so the file goes stale and the alert says the monitor is down.
    Kept {
        link: PathBuf,
    },
    NoTextfileDir {
        dir: PathBuf,
    },
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Linked { link, target } => write!(f, "linked {} -> {}", link.display(), target.display()),
            Self::AlreadyLinked { link } => write!(f, "{} is linked already", link.display()),
            Self::Removed { link, file, unmounted } => {
                let why = if *unmounted { "the filesystem is unmounted" } else { "its monitor ended cleanly" };
                let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
                let gone: Vec<String> = [shown(file), shown(link)].into_iter().flatten().collect();
                match gone.is_empty() {
                    true => write!(f, "nothing of ours left to remove ({why})"),
                    false => write!(f, "removed {} ({why})", gone.join(" and ")),
                }
            }
            Self::Kept { link } => write!(
                f,
                "kept {}: the filesystem is still mounted and the metrics file is still there (the monitor did not end cleanly), so it goes stale",
                link.display()
            ),
            Self::NoTextfileDir { dir } => {
                write!(f, "{}: no such directory (node_exporter not installed?); nothing to link", dir.display())
            }
        }
    }
}

/// Where one instance's file and link are.
struct Paths {
    /// The link's name in the textfile directory, and the monitor's file's name.
    name: String,
    /// The link's target: the file in the instance's own directory.
    target: PathBuf,
    instance: String,
}

fn paths(state_dir: &Path, mountpoint: &Path) -> Result<Paths, TextfileError> {
    let instance = mountpoint.to_str().and_then(fstab::escape_path).filter(|i| metrics::is_instance(i));
    let instance = instance.ok_or_else(|| TextfileError::MountPoint(mountpoint.to_owned()))?;
    let name = metrics::file_name(&instance);
    Ok(Paths { target: state_dir.join(&instance).join(&name), name, instance })
}

/// The textfile directory, opened without following a link; `None` when it is not there.
fn open_textfile_dir(dir: &Path) -> Result<Option<OwnedFd>, TextfileError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match open(dir, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(source) => Err(TextfileError::OpenDir { path: dir.to_owned(), source }),
    }
}

/// Whether the entry `name` of `dir` is a symbolic link to `target`.
fn is_our_link(dir: &OwnedFd, name: &str, target: &Path) -> bool {
    let is_link = fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK);
    is_link && readlinkat(dir.as_fd(), name).is_ok_and(|t| Path::new(&t) == target)
}

/// `metrics-link`: makes `TEXTFILE_DIR/xfs-heal@INSTANCE.prom` a link to the instance's file,
/// replacing whatever had that name (a file an older version wrote there, a stale link) in
/// one rename. If the monitor has not written its file yet, an empty one is made first
/// (root's; the monitor's first write replaces it), so node_exporter never meets a dangling
/// link.
pub fn link(textfile_dir: &Path, state_dir: &Path, mountpoint: &Path) -> Result<Done, TextfileError> {
    let p = paths(state_dir, mountpoint)?;
    let Some(dir) = open_textfile_dir(textfile_dir)? else {
        return Ok(Done::NoTextfileDir { dir: textfile_dir.to_owned() });
    };
    let link = textfile_dir.join(&p.name);
    if is_our_link(&dir, &p.name, &p.target) {
        return Ok(Done::AlreadyLinked { link });
    }
    let call = |step, source| TextfileError::Call { step, name: p.name.clone(), source };
    ensure_target(state_dir, &p.instance, &p.name).map_err(|e| call("create the empty metrics file", e))?;
    let temp = format!(".{}.link", p.name);
    match unlinkat(dir.as_fd(), temp.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(call("remove the old temporary link", e)),
    }
    symlinkat(p.target.as_path(), dir.as_fd(), temp.as_str()).map_err(|e| call("symlink", e))?;
    renameat(dir.as_fd(), temp.as_str(), dir.as_fd(), p.name.as_str()).map_err(|e| call("rename", e))?;
    Ok(Done::Linked { link, target: p.target })
}

/// The monitor's file, made empty if it is not there yet: through its directory, opened
/// without following a link, and never through a link at the file's name.
fn ensure_target(state_dir: &Path, instance: &str, name: &str) -> Result<(), Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let own = open(&state_dir.join(instance), flags, Mode::empty())?;
    let create = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match openat(own.as_fd(), name, create, Mode::from_bits_truncate(0o644)) {
        Ok(_) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `metrics-unlink`, after the monitor's stop. While the filesystem is still mounted at
/// `mountpoint` (per `mountinfo`), the monitor's file is left as it is: a monitor that died
/// leaves it to go stale, so the alert says the mount is unprotected; only once the monitor
/// removed it (a clean end) does the link go. Once the filesystem is no longer mounted there,
/// the file goes too: systemd stops the monitor as soon as the mount leaves the table, often
/// before the kernel's unmount record reaches it, and a file left then would raise the alert
/// about a filesystem unmounted on purpose. Only a link of ours, to this instance's file, and
/// that file, are ever removed.
pub fn unlink(
    textfile_dir: &Path,
    state_dir: &Path,
    mountpoint: &Path,
    mountinfo: &str,
) -> Result<Done, TextfileError> {
    let p = paths(state_dir, mountpoint)?;
    let mounted =
        fstab::mounted(mountinfo).iter().any(|m| fstab::escape_path(m).as_ref() == Some(&p.instance));
    let call = |step, source| TextfileError::Call { step, name: p.name.clone(), source };
    let file = p.target.clone();
    let file_removed = if mounted {
        // Is the monitor's file there (not following a link at its name)?
        let flags = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
        if fstatat(nix::fcntl::AT_FDCWD, p.target.as_path(), flags) != Err(Errno::ENOENT) {
            return Ok(Done::Kept { link: textfile_dir.join(&p.name) });
        }
        false
    } else {
        remove_target(state_dir, &p.instance, &p.name).map_err(|e| call("remove the metrics file", e))?
    };
    let link = match open_textfile_dir(textfile_dir)? {
        Some(dir) if is_our_link(&dir, &p.name, &p.target) => {
            unlinkat(dir.as_fd(), p.name.as_str(), UnlinkatFlags::NoRemoveDir)
                .map_err(|e| call("unlink", e))?;
            Some(textfile_dir.join(&p.name))
        }
        _ => None,
    };
    Ok(Done::Removed { link, file: file_removed.then_some(file), unmounted: !mounted })
}

/// Removes the monitor's file through its directory (opened without following a link);
/// whether there was one.
fn remove_target(state_dir: &Path, instance: &str, name: &str) -> Result<bool, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let own = match open(&state_dir.join(instance), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    match unlinkat(own.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mountinfo line with /mnt/a mounted, and one without.
    const MOUNTED: &str = "36 25 0:32 / /mnt/a rw,relatime shared:1 - xfs /dev/loop0 rw\n";
    const UNMOUNTED: &str = "36 25 0:32 / /mnt/b rw,relatime shared:1 - xfs /dev/loop0 rw\n";

    struct Dirs(PathBuf);

    impl Dirs {
        fn new(tag: &str) -> Self {
            let root = std::env::temp_dir().join(format!("xfs-heal-textfile-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("textfile")).unwrap();
            std::fs::create_dir_all(root.join("state/mnt-a")).unwrap();
            Self(root)
        }
        fn textfile(&self) -> PathBuf {
            self.0.join("textfile")
        }
        fn state(&self) -> PathBuf {
            self.0.join("state")
        }
        fn file(&self) -> PathBuf {
            self.state().join("mnt-a/xfs-heal@mnt-a.prom")
        }
        fn link_path(&self) -> PathBuf {
            self.textfile().join("xfs-heal@mnt-a.prom")
        }
        fn link(&self) -> Done {
            link(&self.textfile(), &self.state(), Path::new("/mnt/a")).unwrap()
        }
        fn unlink(&self, mountinfo: &str) -> Done {
            unlink(&self.textfile(), &self.state(), Path::new("/mnt/a"), mountinfo).unwrap()
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn link_then_unlink_follows_the_file_while_mounted() {
        let d = Dirs::new("cycle");
        let (file, link) = (d.file(), d.link_path());
        // An older version's real file at the link's name is replaced.
        std::fs::write(&link, "old\n").unwrap();
        assert_eq!(d.link(), Done::Linked { link: link.clone(), target: file.clone() });
        assert_eq!(std::fs::read_link(&link).unwrap(), file);
        assert_eq!(std::fs::read(&file).unwrap(), b"", "an empty file until the monitor writes");
        assert_eq!(d.link(), Done::AlreadyLinked { link: link.clone() });
        // Still mounted and the monitor's file is there: both stay (a crash goes stale).
        std::fs::write(&file, "xfs_heal_up 1\n").unwrap();
        assert_eq!(d.unlink(MOUNTED), Done::Kept { link: link.clone() });
        assert_eq!(std::fs::read(&file).unwrap(), b"xfs_heal_up 1\n", "never touched");
        // A clean end removed it: the link goes too.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            d.unlink(MOUNTED),
            Done::Removed { link: Some(link.clone()), file: None, unmounted: false }
        );
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert_eq!(d.unlink(MOUNTED), Done::Removed { link: None, file: None, unmounted: false });
    }

    #[test]
    fn once_unmounted_the_file_goes_with_the_link() {
        let d = Dirs::new("unmounted");
        assert!(matches!(d.link(), Done::Linked { .. }));
        // The monitor was stopped before it read the kernel's unmount record: its file stays.
        std::fs::write(d.file(), "xfs_heal_up 1\n").unwrap();
        let done = d.unlink(UNMOUNTED);
        assert_eq!(done, Done::Removed { link: Some(d.link_path()), file: Some(d.file()), unmounted: true });
        assert!(done.to_string().contains("(the filesystem is unmounted)"), "{done}");
        assert!(
            std::fs::symlink_metadata(d.file()).is_err() && std::fs::symlink_metadata(d.link_path()).is_err()
        );
        // Without node_exporter's directory the file still goes: status reads it.
        std::fs::write(d.file(), "xfs_heal_up 1\n").unwrap();
        let none = d.0.join("no-node-exporter");
        let done = unlink(&none, &d.state(), Path::new("/mnt/a"), UNMOUNTED).unwrap();
        assert_eq!(done, Done::Removed { link: None, file: Some(d.file()), unmounted: true });
    }

    #[test]
    fn nothing_but_our_own_link_and_file_is_ever_removed_and_no_link_is_followed() {
        let d = Dirs::new("foreign");
        let link = d.link_path();
        // Someone else's file, and someone else's link, at our name: never removed.
        std::fs::write(&link, "theirs\n").unwrap();
        assert_eq!(d.unlink(UNMOUNTED), Done::Removed { link: None, file: None, unmounted: true });
        assert_eq!(std::fs::read(&link).unwrap(), b"theirs\n");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        assert_eq!(d.unlink(UNMOUNTED), Done::Removed { link: None, file: None, unmounted: true });
        assert!(std::fs::symlink_metadata(&link).is_ok());
        // A link planted at the monitor's file name is not written through, and removing it
        // removes the link, not its target.
        std::fs::remove_file(&link).unwrap();
        let victim = d.0.join("victim");
        std::os::unix::fs::symlink(&victim, d.file()).unwrap();
        assert!(matches!(d.link(), Done::Linked { .. }));
        assert!(!victim.exists(), "the planted link was not followed to create a file");
        std::fs::write(&victim, "kept\n").unwrap();
        assert!(matches!(d.unlink(UNMOUNTED), Done::Removed { .. }));
        assert_eq!(std::fs::read(&victim).unwrap(), b"kept\n");
        // An instance directory that is a link is refused, both ways.
        std::fs::remove_dir_all(d.state().join("mnt-a")).unwrap();
        std::os::unix::fs::symlink(d.textfile(), d.state().join("mnt-a")).unwrap();
        let _ = std::fs::remove_file(&link);
        assert!(link_err(&d));
        std::fs::write(d.textfile().join("xfs-heal@mnt-a.prom"), "someone's\n").unwrap();
        assert!(unlink(&d.textfile(), &d.state(), Path::new("/mnt/a"), UNMOUNTED).is_err());
        assert_eq!(std::fs::read(d.textfile().join("xfs-heal@mnt-a.prom")).unwrap(), b"someone's\n");
    }

    fn link_err(d: &Dirs) -> bool {
        link(&d.textfile(), &d.state(), Path::new("/mnt/a")).is_err()
    }

    #[test]
    fn hostile_mount_points_and_a_missing_textfile_directory() {
        let d = Dirs::new("names");
        let long = format!("/{}", "x".repeat(300));
        for bad in ["../etc", "mnt/a", "", "/mnt/../etc", long.as_str()] {
            let bad = Path::new(bad);
            let refused = |r: Result<Done, TextfileError>| matches!(r, Err(TextfileError::MountPoint(_)));
            assert!(refused(link(&d.textfile(), &d.state(), bad)), "{bad:?}");
            assert!(refused(unlink(&d.textfile(), &d.state(), bad, UNMOUNTED)), "{bad:?}");
        }
        // A path that needs escaping names its escaped instance, and nothing else.
        std::fs::create_dir(d.state().join("mnt-a\\x2db")).unwrap();
        let done = link(&d.textfile(), &d.state(), Path::new("/mnt/a-b/")).unwrap();
        let want = Done::Linked {
            link: d.textfile().join("xfs-heal@mnt-a\\x2db.prom"),
            target: d.state().join("mnt-a\\x2db/xfs-heal@mnt-a\\x2db.prom"),
        };
        assert_eq!(done, want);
        let none = d.0.join("no-node-exporter");
        assert_eq!(
            link(&none, &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::NoTextfileDir { dir: none.clone() }
        );
    }
}
