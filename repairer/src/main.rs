//! xfs-heal-repairer: the sealed privileged half of xfs-heal.
//!
//! The startup steps below are numbered as in ARCHITECTURE.md and run in that order; after
//! step 9 the process can make only the syscalls in `seccomp.rs`.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;

use clap::Parser;
use landlock::RulesetStatus;
use nix::unistd::User;
use xfs_heal_protocol::defects;
use xfs_heal_protocol::host::EVENTS_FD_NAME;
use xfs_heal_protocol::names::{Lookups, Naming};
use xfs_heal_protocol::{codec, EventSource, RepairerToMonitor};
use xfs_heal_repairer::cli::Cli;
use xfs_heal_repairer::error::Error;
use xfs_heal_repairer::mount::{self, Mount};
use xfs_heal_repairer::serve::Server;
use xfs_heal_repairer::workers::Workers;
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
    xfs_heal_repairer::nonblocking_stderr().map_err(|e| Error::Sanitize(e.into()))?;
    // Opened after the close: close_fds_from would take their fds, and the numbers reused.
    systemd::connect_journal();
    let notifier = systemd::Notifier::from_env();
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    // The only peer uid served: --monitor-uid, or the xfs-heal user's.
    let monitor_uid = match cli.monitor_uid {
        Some(uid) => uid,
        None => User::from_name("xfs-heal").ok().flatten().ok_or(Error::NoXfsHealUser)?.uid.as_raw(),
    };
    // Under systemd (Type=notify) a move of the mount stops the service instead (BindsTo=
    // the mount unit); run by hand, nothing would.
    let watch_moves = !notifier.connected();
    let listener = passed.listener.ok_or(Error::NoSocket)?;

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
    //    copy to keep (or take the capture `xfs-heal listen --events-from` passed).
    let (health, source) = open_events(cli, &root, passed.stored_health, passed.events, &notifier)?;

    // 5. Close the mount fd: from here on the repairer never pins the mount.
    drop(root);

    // --parallel, or one worker per CPU this process may run on: read before Landlock
    // hides the cgroup's CPU quota.
    let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let workers = cli.parallel.and_then(|n| NonZeroUsize::new(n.into())).unwrap_or(cpus);

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

/// Step 4: the kernel's monitor on the mount root, or the capture passed as `events`.
///
/// The kernel allows one monitor per filesystem and the monitor process holds a duplicate of
/// ours, so a restarted repairer cannot open a new one (EEXIST). systemd's fd store keeps the
/// first one across restarts; it is used again only if it still watches this filesystem.
fn open_events(
    cli: &Cli,
    root: &OwnedFd,
    stored: Option<OwnedFd>,
    events: Option<OwnedFd>,
    notifier: &systemd::Notifier,
) -> Result<(OwnedFd, EventSource), Error> {
    let path = cli.mountpoint.clone();
    if let Some(events) = events {
        // Test/replay mode. A health fd in systemd's fd store, if any, is left unused.
        log!("handing the monitor the capture passed as {EVENTS_FD_NAME:?} instead of the kernel health monitor");
        return Ok((events, EventSource::File));
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
    let health = mount::open_health(root, &path)?;
    if notifier.store_health_fd(health.as_fd()) {
        log!("handed a copy of the health monitor to systemd's fd store");
    }
    Ok((health, EventSource::KernelMonitor))
}
