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
    Unlinked {
        link: PathBuf,
    },
    /// The file is still there (the monitor did not end cleanly): the link stays, so the
    /// file goes stale and the alert says the monitor is down.
    Kept {
        link: PathBuf,
    },
    /// Nothing of ours at the link's name.
    NothingToUnlink {
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
            Self::Unlinked { link } => write!(f, "removed {}: its monitor ended cleanly", link.display()),
            Self::Kept { link } => write!(
                f,
                "kept {}: the metrics file is still there (the monitor did not end cleanly), so it goes stale",
                link.display()
            ),
            Self::NothingToUnlink { link } => write!(f, "{}: no link of ours there", link.display()),
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

/// `metrics-unlink`: removes the instance's link once its file is gone (the monitor removes
/// it when the filesystem is unmounted); keeps it while the file is there, so a monitor that
/// died shows as stale. Only a link of ours, to this instance's file, is ever removed.
pub fn unlink(textfile_dir: &Path, state_dir: &Path, mountpoint: &Path) -> Result<Done, TextfileError> {
    let p = paths(state_dir, mountpoint)?;
    let Some(dir) = open_textfile_dir(textfile_dir)? else {
        return Ok(Done::NoTextfileDir { dir: textfile_dir.to_owned() });
    };
    let link = textfile_dir.join(&p.name);
    if !is_our_link(&dir, &p.name, &p.target) {
        return Ok(Done::NothingToUnlink { link });
    }
    // Through the link's target path, not following a link at its last component: whether
    // the monitor's file is there.
    let flags = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    match fstatat(nix::fcntl::AT_FDCWD, p.target.as_path(), flags) {
        Err(Errno::ENOENT) => {}
        _ => return Ok(Done::Kept { link }),
    }
    unlinkat(dir.as_fd(), p.name.as_str(), UnlinkatFlags::NoRemoveDir)
        .map_err(|source| TextfileError::Call { step: "unlink", name: p.name.clone(), source })?;
    Ok(Done::Unlinked { link })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn link_then_unlink_follows_the_file() {
        let d = Dirs::new("cycle");
        let file = d.state().join("mnt-a/xfs-heal@mnt-a.prom");
        let link = d.textfile().join("xfs-heal@mnt-a.prom");
        // An older version's real file at the link's name is replaced.
        std::fs::write(&link, "old\n").unwrap();
        assert_eq!(link_(&d), Done::Linked { link: link.clone(), target: file.clone() });
        assert_eq!(std::fs::read_link(&link).unwrap(), file);
        assert_eq!(std::fs::read(&file).unwrap(), b"", "an empty file until the monitor writes");
        assert_eq!(link_(&d), Done::AlreadyLinked { link: link.clone() });
        // The monitor's file is there: the link stays (a crash goes stale).
        std::fs::write(&file, "xfs_heal_up 1\n").unwrap();
        assert_eq!(
            unlink(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::Kept { link: link.clone() }
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"xfs_heal_up 1\n", "never touched");
        // A clean end removed it: the link goes too.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            unlink(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::Unlinked { link: link.clone() }
        );
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert_eq!(
            unlink(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::NothingToUnlink { link: link.clone() }
        );
    }

    fn link_(d: &Dirs) -> Done {
        link(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap()
    }

    #[test]
    fn nothing_but_our_own_link_is_ever_removed_and_no_link_is_followed() {
        let d = Dirs::new("foreign");
        let link = d.textfile().join("xfs-heal@mnt-a.prom");
        // Someone else's file, and someone else's link, at our name: never removed.
        std::fs::write(&link, "theirs\n").unwrap();
        assert!(matches!(
            unlink(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::NothingToUnlink { .. }
        ));
        assert_eq!(std::fs::read(&link).unwrap(), b"theirs\n");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        assert!(matches!(
            unlink(&d.textfile(), &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::NothingToUnlink { .. }
        ));
        assert!(std::fs::symlink_metadata(&link).is_ok());
        // A link planted at the monitor's file name is not written through.
        std::fs::remove_file(&link).unwrap();
        let planted = d.state().join("mnt-a/xfs-heal@mnt-a.prom");
        let victim = d.0.join("victim");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(matches!(link_(&d), Done::Linked { .. }));
        assert!(!victim.exists(), "the planted link was not followed to create a file");
        // An instance dir that is a link is refused.
        std::fs::remove_dir_all(d.state().join("mnt-a")).unwrap();
        std::os::unix::fs::symlink(d.textfile(), d.state().join("mnt-a")).unwrap();
        std::fs::remove_file(&link).unwrap();
        assert!(super::link(&d.textfile(), &d.state(), Path::new("/mnt/a")).is_err());
    }

    #[test]
    fn hostile_mount_points_and_a_missing_textfile_directory() {
        let d = Dirs::new("names");
        let long = format!("/{}", "x".repeat(300));
        for bad in ["../etc", "mnt/a", "", "/mnt/../etc", long.as_str()] {
            let bad = Path::new(bad);
            let refused = |r: Result<Done, TextfileError>| matches!(r, Err(TextfileError::MountPoint(_)));
            assert!(refused(link(&d.textfile(), &d.state(), bad)), "{bad:?}");
            assert!(refused(unlink(&d.textfile(), &d.state(), bad)), "{bad:?}");
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
        assert_eq!(
            unlink(&none, &d.state(), Path::new("/mnt/a")).unwrap(),
            Done::NoTextfileDir { dir: none }
        );
    }
}
