//! xfs-heal-repairer: the sealed privileged half of xfs-heal.
//!
//! The startup steps below are numbered as in ARCHITECTURE.md and run in that order; after
//! step 8 the process can make only the syscalls in `seccomp.rs`.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use landlock::RulesetStatus;
use xfs_heal_protocol::uapi::XfsHealthMonitor;
use xfs_heal_protocol::{codec, EventSource, Hello, MountPath, RepairerToMonitor, PROTOCOL_VERSION};
use xfs_heal_repairer::cli::Cli;
use xfs_heal_repairer::error::Error;
use xfs_heal_repairer::mount::{self, Mount};
use xfs_heal_repairer::serve::Server;
use xfs_heal_repairer::{log, sandbox, sys, systemd, Priority};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    // Opened after the close: close_fds_from would take their fds, and the numbers reused.
    systemd::connect_journal();
    let notifier = systemd::Notifier::from_env();
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    let monitor_uid = match cli.monitor_uid {
        Some(uid) => uid,
        None => nix::unistd::User::from_name("xfs-heal")
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
            .ok_or(Error::NoMonitorUser)?,
    };
    let listener = match (passed.listener, &cli.listen) {
        (Some(l), _) => l,
        (None, Some(path)) => bind(path, monitor_uid)?,
        (None, None) => {
            return Err(Error::Activation("no socket from systemd (LISTEN_FDS) and no --listen PATH".into()))
        }
    };

    // 2. Open the mount point; it must be the root of a mounted XFS filesystem.
    let root = mount::open_checked(&cli.mountpoint)?;

    // 3. Record identity, geometry, the autofsck property and whether repair works.
    let recorded = mount::record(&root)?;

    // 4. Take back the health monitor systemd kept for us, or open it and hand systemd a
    //    copy to keep (or open the --events-from file).
    let (health, source) = open_events(cli, &root, passed.stored_health, &notifier)?;

    // 5. Close the mount fd: from here on the repairer never pins the mount.
    drop(root);

    // 6. Keep CAP_SYS_ADMIN alone; set no_new_privs.
    sandbox::drop_capabilities()?;

    // 7. Landlock: no filesystem access but reopening the mount point.
    let status = sandbox::landlock(&cli.mountpoint)?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => {
            log!("landlock: fully enforced (ABI {:?})", sandbox::LANDLOCK_ABI)
        }
        RulesetStatus::PartiallyEnforced => {
            log!("landlock: partially enforced: this kernel lacks part of ABI {:?}", sandbox::LANDLOCK_ABI)
        }
        RulesetStatus::NotEnforced => {
            log!("landlock: NOT enforced: this kernel has no Landlock; relying on seccomp")
        }
    }

    let mountpoint = MountPath::try_from(cli.mountpoint.display().to_string())
        .map_err(|e| Error::Geometry(e.to_string()))?;
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        mountpoint,
        identity: recorded.identity,
        uuid: recorded.uuid,
        geometry: recorded.geometry,
        online_repair: recorded.online_repair,
        autofsck: recorded.autofsck,
        event_source: source,
    };
    let hello =
        codec::encode(&RepairerToMonitor::Hello(hello)).map_err(|e| Error::Geometry(e.to_string()))?;
    let server = Server {
        listener,
        monitor_uid,
        mount: Mount { path: cli.mountpoint.clone(), identity: recorded.identity },
        geometry: recorded.geometry,
        health,
        kernel_monitor: source == EventSource::KernelMonitor,
        hello,
    };

    // 8. seccomp, last: from here on only the syscalls in seccomp.rs.
    sandbox::seccomp()?;

    // 9. Tell systemd we are ready.
    let status = format!(
        "serving {} ({}, {}, autofsck {}) to uid {monitor_uid}",
        cli.mountpoint.display(),
        recorded.identity,
        recorded.online_repair,
        recorded.autofsck.as_str()
    );
    log!("{status}");
    notifier.notify(&format!("READY=1\nSTATUS={status}"));

    server.run(&notifier).map_err(Error::Serve)
}

/// Binds `--listen PATH`: replaces a stale socket (never any other kind of file) and lets
/// only the served uid connect.
fn bind(path: &Path, uid: u32) -> Result<UnixListener, Error> {
    let err = |source| Error::Listen { path: path.to_owned(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(err(std::io::Error::other("exists and is not a socket; not replacing it")));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    std::os::unix::fs::chown(path, Some(uid), None).map_err(err)?;
    Ok(listener)
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
        if stored.is_some() {
            log!("--events-from: not using the health fd in systemd's fd store");
        }
        log!(
            "--events-from: handing the monitor {} instead of the kernel health monitor (test/replay mode)",
            events.display()
        );
        let file = std::fs::File::open(events)
            .map_err(|source| Error::EventsFrom { path: events.clone(), source })?;
        return Ok((file.into(), EventSource::File));
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
    let health = match sys::open_health_monitor(root.as_fd(), &XfsHealthMonitor::v0(false)) {
        Ok(fd) => fd,
        Err(e) => {
            return Err(match e.raw_os_error() {
                Some(libc::ENOTTY | libc::EOPNOTSUPP) => Error::NoHealthMonitor { path },
                Some(libc::EEXIST) => Error::MonitorAlreadyAttached { path },
                _ => Error::HealthMonitor { path, source: e },
            })
        }
    };
    if notifier.store_health_fd(health.as_fd()) {
        log!("handed a copy of the health monitor to systemd's fd store");
    }
    Ok((health, EventSource::KernelMonitor))
}
