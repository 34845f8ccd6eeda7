//! `xfs-heal listen`: what systemd's socket unit does for the repairer, for running one by
//! hand. Bind the socket safely, open the capture if asked, place both where socket
//! activation puts its fds (from fd 3, named in `LISTEN_FDNAMES`) and exec the command, so
//! the repairer finds them as it would under systemd and itself follows no path.

use std::convert::Infallible;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{open, openat2, AtFlags, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, umask, Mode, SFlag};
use nix::sys::statfs::fstatfs;
use nix::unistd::{fchdir, fchownat, unlinkat, Gid, Group, Uid, UnlinkatFlags};
use xfs_heal_protocol::host::{self, EVENTS_FD_NAME};

use crate::sys;

/// The first fd socket activation passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;
/// The name the listener gets in `LISTEN_FDNAMES`.
const LISTENER_FD_NAME: &str = "listener";

/// Why `xfs-heal listen` could not start the command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--group {0}: no such group")]
    NoGroup(String),
    #[error("{}: {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },
    #[error("--events-from {}: {source}", path.display())]
    EventsFrom { path: PathBuf, source: io::Error },
    #[error("placing the fds from fd 3: {0}")]
    Place(#[source] io::Error),
    #[error("cannot run {}: {source}", command.to_string_lossy())]
    Exec { command: OsString, source: io::Error },
}

/// Binds `socket`, opens `events_from`, and replaces this process with `command`. Returns
/// only on failure.
pub fn run(group: &str, events_from: Option<&Path>, socket: &Path, command: &[OsString]) -> Error {
    match setup(group, events_from, socket, command) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn setup(
    group: &str,
    events_from: Option<&Path>,
    socket: &Path,
    command: &[OsString],
) -> Result<Infallible, Error> {
    let gid = group_id(group)?;
    let listener = bind(socket, gid).map_err(|source| Error::Bind { path: socket.to_owned(), source })?;
    let mut fds = vec![(OwnedFd::from(listener), LISTENER_FD_NAME)];
    if let Some(path) = events_from {
        let events =
            open_capture(path).map_err(|source| Error::EventsFrom { path: path.to_owned(), source })?;
        fds.push((events, EVENTS_FD_NAME));
    }
    let names: Vec<&str> = fds.iter().map(|(_, name)| *name).collect();
    sys::place_from(LISTEN_FDS_START, fds.into_iter().map(|(fd, _)| fd).collect()).map_err(Error::Place)?;
    let (program, args) = command.split_first().expect("clap requires a command");
    // exec keeps the pid, so LISTEN_PID names the command's process.
    let err = Command::new(program)
        .args(args)
        .env("LISTEN_PID", std::process::id().to_string())
        .env("LISTEN_FDS", names.len().to_string())
        .env("LISTEN_FDNAMES", names.join(":"))
        .exec();
    Err(Error::Exec { command: program.clone(), source: err })
}

/// A group name, or a numeric gid (which needs no entry in the group database).
fn group_id(group: &str) -> Result<Gid, Error> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    let found = Group::from_name(group).ok().flatten();
    found.map(|g| g.gid).ok_or_else(|| Error::NoGroup(group.to_owned()))
}

/// Binds `path` as root, group `group`, mode 0660, so that nothing after the bind follows a
/// path: the parent directory is opened once and must be root's and writable by root alone;
/// the socket is created (mode from the umask), replaced and given its group relative to
/// that open directory, never through a name someone else could swap.
pub fn bind(path: &Path, group: Gid) -> io::Result<UnixListener> {
    let name = path.file_name().ok_or_else(|| io::Error::other("names no file"))?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let st = fstat(&dir)?;
    host::check_socket_dir(st.st_uid, st.st_mode).map_err(io::Error::other)?;
    let found = match fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st.st_mode),
        Err(nix::Error::ENOENT) => None,
        Err(e) => return Err(e.into()),
    };
    let replace = host::check_socket_slot(found).map_err(io::Error::other)?;
    // connect(2) and bind(2) take a path: make it relative to the checked directory, then
    // return.
    let cwd = open(".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    fchdir(&dir)?;
    let bound = replace_then_bind(&dir, name, replace);
    fchdir(&cwd)?;
    let listener = bound?;
    fchownat(&dir, name, Some(Uid::from_raw(0)), Some(group), AtFlags::AT_SYMLINK_NOFOLLOW)?;
    Ok(listener)
}

/// In the socket's directory (the current one): an old socket at `name` is replaced only if
/// nothing listens on it any more, so a running repairer is never cut off from its monitor;
/// then the new one is bound, mode 0660 from the umask.
fn replace_then_bind(dir: &OwnedFd, name: &std::ffi::OsStr, replace: bool) -> io::Result<UnixListener> {
    if replace {
        use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
        let probe = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // Non-blocking: a full backlog answers EAGAIN at once, and is as live as an accept.
        match connect(std::os::fd::AsRawFd::as_raw_fd(&probe), &UnixAddr::new(name)?) {
            Ok(()) | Err(nix::Error::EAGAIN | nix::Error::EINPROGRESS) => return Err(io::Error::other(
                "a live socket: something accepts connections there (a running repairer?); not replacing it",
            )),
            Err(nix::Error::ECONNREFUSED | nix::Error::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::Error::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let old_umask = umask(Mode::from_bits_truncate(0o117));
    let bound = UnixListener::bind(name);
    umask(old_umask);
    bound
}

/// The capture for the monitor to read: no symlink anywhere in the path, and only a
/// root-owned file or FIFO nobody else can write (`host::check_capture`); a file only if it
/// can be a capture (`host::check_capture_contents`: no file of a pseudo filesystem, whole
/// 64-byte records, a health record first), so no root-owned secret reaches the monitor.
pub fn open_capture(path: &Path) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    let fd = openat2(AT_FDCWD, path, how).map_err(|e| match e {
        nix::Error::ELOOP => io::Error::other("a symlink in the path; give the file itself"),
        e => e.into(),
    })?;
    let st = fstat(&fd)?;
    host::check_capture(st.st_mode, st.st_uid, st.st_nlink).map_err(io::Error::other)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG {
        let magic = fstatfs(&fd)?.filesystem_type().0;
        let mut first = [0u8; 64];
        let n = nix::sys::uio::pread(&fd, &mut first, 0)?;
        let size = u64::try_from(st.st_size).unwrap_or(0);
        #[allow(clippy::cast_sign_loss)]
        let magic = magic as u64;
        host::check_capture_contents(magic, size, &first[..n]).map_err(io::Error::other)?;
    }
    Ok(fd)
}
