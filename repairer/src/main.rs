//! xfs-heal-repairer: the sealed privileged half of xfs-heal.
//!
//! The startup steps below are numbered as in ARCHITECTURE.md and run in that order; after
//! step 9 the process can make only the syscalls in `seccomp.rs`.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use landlock::RulesetStatus;
use nix::fcntl::{open, openat2, AtFlags, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, umask, Mode};
use nix::unistd::{fchdir, fchownat, unlinkat, Gid, Uid, UnlinkatFlags, User};
use xfs_heal_protocol::defects;
use xfs_heal_protocol::host;
use xfs_heal_protocol::names::{Lookups, Naming};
use xfs_heal_protocol::uapi::XfsHealthMonitor;
use xfs_heal_protocol::{codec, EventSource, RepairerToMonitor};
use xfs_heal_repairer::cli::Cli;
use xfs_heal_repairer::error::Error;
use xfs_heal_repairer::mount::{self, Mount};
use xfs_heal_repairer::serve::Server;
use xfs_heal_repairer::workers::Workers;
use xfs_heal_repairer::{log, sandbox, sys, systemd, Priority};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.supported {
        return supported(&cli);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{}: {e}", cli.mountpoint.display());
            xfs_heal_repairer::log_entry(Priority::Err, &message, |entry| {
                entry.field("kind", "startup_failed")
            });
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    // 1. Sanitize: take what we use from the environment and from systemd, close every other
    //    inherited fd, clear the environment.
    let passed = systemd::passed_fds()?;
    sys::close_fds_from(passed.first_unused).map_err(Error::Sanitize)?;
    xfs_heal_repairer::nonblocking_stderr().map_err(|e| Error::Sanitize(e.into()))?;
    // Opened after the close: close_fds_from would take their fds, and the numbers reused.
    systemd::connect_journal();
    let notifier = systemd::Notifier::from_env();
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    let (monitor_uid, monitor_gid) = monitor_user(cli)?;
    // Under systemd a move of the mount stops the service instead (BindsTo= the mount unit).
    let watch_moves = passed.listener.is_none();
    let listener = match (passed.listener, &cli.listen) {
        (Some(l), _) => l,
        (None, Some(path)) => bind(path, monitor_gid)?,
        (None, None) => return Err(Error::NoSocket),
    };

    // 2. Open the mount point; it must be the root of a mounted XFS filesystem. Run by hand,
    //    first watch this namespace for a move of the mount.
    let (root, moves) = mount::open_checked(&cli.mountpoint, watch_moves)?;

    // 3. Record identity, geometry, the autofsck property, whether repair works, and which
    //    known kernel defects its repairs must steer around.
    let recorded = mount::record(&root)?;
    let guards = recorded.guards(&cli.assume_fixed);
    for line in defects::startup_lines(&recorded.release, &recorded.geometry, guards) {
        log!("{line}");
    }

    // 4. Take back the health monitor systemd kept for us, or open it and hand systemd a
    //    copy to keep (or open the --events-from file).
    let (health, source) = open_events(cli, &root, passed.stored_health, &notifier)?;

    // 5. Close the mount fd: from here on the repairer never pins the mount.
    drop(root);

    // Read before Landlock hides the cgroup's CPU quota.
    let workers = parallel(cli);

    // 6. Keep CAP_SYS_ADMIN alone; set no_new_privs.
    sandbox::drop_capabilities()?;

    // 7. Landlock: no filesystem access but reopening the mount point.
    let status = sandbox::landlock(&cli.mountpoint)?;
    match (status.ruleset, cli.allow_partial_landlock) {
        (RulesetStatus::FullyEnforced, _) => {
            log!("landlock: fully enforced (ABI {:?})", sandbox::LANDLOCK_ABI)
        }
        (partly, true) => {
            log!("landlock: {partly:?} (--allow-partial-landlock); relying on seccomp for the rest")
        }
        (partly, false) => return Err(Error::LandlockNotEnforced(partly)),
    }

    let hello =
        recorded.hello(&cli.mountpoint, source, guards, cli.resolve_names).map_err(Error::HelloPath)?;
    let names = hello.names;
    let hello = codec::encode(&RepairerToMonitor::Hello(hello)).map_err(Error::HelloEncode)?;
    let server = Server {
        listener,
        monitor_uid,
        mount: Mount { path: cli.mountpoint.clone(), identity: recorded.identity },
        geometry: recorded.geometry,
        guards,
        health,
        health_is_kernels: source == EventSource::KernelMonitor,
        hello,
        moves,
        lookups: Lookups::new(names, recorded.uuid, 0),
        // 8. Start the repair workers: threads take the capabilities, no_new_privs and
        //    Landlock domain of the thread that starts them, and seccomp can start no more.
        workers: Workers::start(workers).map_err(Error::Workers)?,
    };

    // 9. seccomp, last, on every thread: from here on only the syscalls in seccomp.rs.
    sandbox::seccomp(names == Naming::On)?;

    // 10. Tell systemd we are ready.
    let status = recorded.serving_line(&cli.mountpoint, monitor_uid);
    log!("{status}");
    notifier.notify(&format!("READY=1\nSTATUS={status}"));

    server.run(&notifier).map_err(Error::Serve)
}

/// `--parallel`, or one worker per CPU this process may run on.
fn parallel(cli: &Cli) -> NonZeroUsize {
    let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    cli.parallel.and_then(|n| NonZeroUsize::new(n.into())).unwrap_or(cpus)
}

/// The uid served and the group given the `--listen` socket: `--monitor-uid` and its primary
/// group, or the `xfs-heal` user's.
fn monitor_user(cli: &Cli) -> Result<(u32, Gid), Error> {
    let user = match cli.monitor_uid {
        Some(uid) => User::from_uid(Uid::from_raw(uid)).ok().flatten().ok_or(Error::NoPasswdEntry(uid))?,
        None => User::from_name("xfs-heal").ok().flatten().ok_or(Error::NoXfsHealUser)?,
    };
    Ok((user.uid.as_raw(), user.gid))
}

/// Binds `--listen PATH` as root, group `group`, mode 0660, so that nothing after the bind
/// follows a path: the parent directory is opened once and must be root's and writable by
/// root alone; the socket is created (mode from the umask), replaced and given its group
/// relative to that open directory, never through a name someone else could swap.
fn bind(path: &Path, group: Gid) -> Result<UnixListener, Error> {
    let err = |source: std::io::Error| Error::Listen { path: path.to_owned(), source };
    let nix_err = |e: nix::Error| err(e.into());
    let name = path.file_name().ok_or_else(|| err(std::io::Error::other("names no file")))?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(nix_err)?;
    let st = fstat(&dir).map_err(nix_err)?;
    host::check_socket_dir(st.st_uid, st.st_mode).map_err(|why| err(std::io::Error::other(why)))?;
    let found = match fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st.st_mode),
        Err(nix::Error::ENOENT) => None,
        Err(e) => return Err(nix_err(e)),
    };
    if host::check_socket_slot(found).map_err(|why| err(std::io::Error::other(why)))? {
        unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).map_err(nix_err)?;
    }
    // bind(2) takes a path: make it relative to the checked directory, then return.
    let cwd =
        open(".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(nix_err)?;
    fchdir(&dir).map_err(nix_err)?;
    let old_umask = umask(Mode::from_bits_truncate(0o117));
    let bound = UnixListener::bind(name);
    umask(old_umask);
    fchdir(&cwd).map_err(nix_err)?;
    let listener = bound.map_err(err)?;
    fchownat(&dir, name, Some(Uid::from_raw(0)), Some(group), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(nix_err)?;
    Ok(listener)
}

/// `--events-from PATH`, opened as root for the monitor to read: no symlink anywhere in the
/// path, and only a root-owned file or FIFO nobody else can write (`host::check_capture`).
fn open_capture(path: &Path) -> Result<OwnedFd, Error> {
    let err = |source: std::io::Error| Error::EventsFrom { path: path.to_owned(), source };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    let fd = openat2(AT_FDCWD, path, how).map_err(|e| match e {
        nix::Error::ELOOP => err(std::io::Error::other("a symlink in the path; give the file itself")),
        e => err(e.into()),
    })?;
    let st = fstat(&fd).map_err(|e| err(e.into()))?;
    host::check_capture(st.st_mode, st.st_uid, st.st_nlink).map_err(|why| err(std::io::Error::other(why)))?;
    Ok(fd)
}

/// Step 4: the kernel's monitor on the mount root, or the file given by --events-from.
///
/// The kernel allows one monitor per filesystem and the monitor process holds a duplicate of
/// ours, so a restarted repairer cannot open a new one (EEXIST). systemd's fd store keeps the
/// first one across restarts; it is used again only if it still watches this filesystem.
fn open_events(
    cli: &Cli,
    root: &OwnedFd,
    stored: Option<OwnedFd>,
    notifier: &systemd::Notifier,
) -> Result<(OwnedFd, EventSource), Error> {
    let path = cli.mountpoint.clone();
    if let Some(events) = &cli.events_from {
        // Test/replay mode. A health fd in systemd's fd store, if any, is left unused.
        log!("--events-from: handing the monitor {} instead of the kernel health monitor", events.display());
        return Ok((open_capture(events)?, EventSource::File));
    }
    if let Some(stored) = stored {
        match sys::fd_on_monitored_fs(stored.as_fd(), root.as_fd()) {
            Ok(()) => {
                log!("took back the health monitor kept in systemd's fd store; events queued meanwhile are still on it");
                return Ok((stored, EventSource::KernelMonitor));
            }
            Err(e) => {
                log!("the fd in systemd's fd store does not watch {} ({e}); discarding it", path.display());
                notifier.forget_stored_health_fd();
            }
        }
    }
    let health = open_kernel_health(root, &path)?;
    if notifier.store_health_fd(health.as_fd()) {
        log!("handed a copy of the health monitor to systemd's fd store");
    }
    Ok((health, EventSource::KernelMonitor))
}

/// The kernel's health monitor on `root`, its refusals named.
fn open_kernel_health(root: &OwnedFd, path: &Path) -> Result<OwnedFd, Error> {
    sys::open_health_monitor(root.as_fd(), &XfsHealthMonitor::v0(false)).map_err(|e| {
        let path = path.to_owned();
        match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EOPNOTSUPP) => Error::NoHealthMonitor { path },
            Some(libc::EEXIST) => Error::MonitorAlreadyAttached { path },
            _ => Error::HealthMonitor { path, source: e },
        }
    })
}

/// `--supported`, the units' `ExecCondition=`: steps 2 to 4 without serving, then
/// xfs_healer's exit codes: 0 the service can run here, 1 it cannot (not XFS, no health
/// monitor in this kernel, autofsck says stand down), 255 something is wrong.
fn supported(cli: &Cli) -> ExitCode {
    let check = || -> Result<(), Error> {
        let (root, _) = mount::open_checked(&cli.mountpoint, false)?;
        let recorded = mount::record(&root)?;
        if let Some(why) = recorded.autofsck.stands_down(&recorded.geometry) {
            return Err(Error::StandsDown(why));
        }
        match open_kernel_health(&root, &cli.mountpoint) {
            // Taken: by the repairer serving it (or systemd's fd store holding it), as a rule.
            Ok(_) | Err(Error::MonitorAlreadyAttached { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    };
    let (code, verdict) = match check() {
        Ok(()) => (0, "supported".to_owned()),
        Err(e @ (Error::NotXfs { .. } | Error::NoHealthMonitor { .. } | Error::StandsDown(_))) => {
            (1, format!("not served: {e}"))
        }
        Err(e) => (255, format!("cannot tell whether it can be served: {e}")),
    };
    log!("{}: --supported: {verdict}", cli.mountpoint.display());
    ExitCode::from(code)
}
