//! xfs-heal-monitor: reads XFS health events, reports them, and asks the repairer to fix
//! what is sick. See ARCHITECTURE.md for the startup steps.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use clap::Parser;
use landlock::RulesetStatus;
use xfs_heal_monitor::cli::Cli;
use xfs_heal_monitor::client::{self, Connection};
use xfs_heal_monitor::engine::{Engine, Tuning};
use xfs_heal_monitor::error::Error;
use xfs_heal_monitor::fullcheck::Trigger;
use xfs_heal_monitor::journal::Journal;
use xfs_heal_monitor::live::{self, Live, Output};
use xfs_heal_monitor::metrics::{Metrics, TextFile};
use xfs_heal_monitor::names::Namer;
use xfs_heal_monitor::replay::{self, CaptureFormat, Options};
use xfs_heal_monitor::report::Report;
use xfs_heal_monitor::{sandbox, sys};
use xfs_heal_protocol::host;
use xfs_heal_protocol::names::Naming;
use xfs_heal_protocol::{Autofsck, EventSource, Hello, OnlineRepair};

fn main() -> ExitCode {
    // 1. Parse arguments; a replay is a dry run that needs nothing else.
    let cli = Cli::parse();
    if let Some(path) = &cli.replay_json {
        #[cfg(feature = "json-replay")]
        return run_replay(&cli, path, CaptureFormat::Json);
        #[cfg(not(feature = "json-replay"))]
        {
            complain(&format!(
                "--replay-json {}: this build has no JSON replay (cargo build -p xfs-heal-monitor --features json-replay)",
                path.display()
            ));
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &cli.replay {
        return run_replay(&cli, path, CaptureFormat::V0);
    }
    let Some(mountpoint) = cli.mountpoint.clone() else { return ExitCode::from(2) };
    let label = mountpoint.display().to_string();
    let fail = |e: Error| {
        complain(&format!("{label}: {e}"));
        ExitCode::FAILURE
    };
    let journal = Journal::for_stdout().unwrap_or_else(|e| {
        complain(&format!("stdout is the journal but its socket refused us ({e}); reporting plain lines"));
        None
    });
    let mut output = Output {
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        label: label.clone(),
        format: cli.format,
        quiet: cli.quiet,
        journal,
        metrics: None,
    };

    // 2. No capability, whoever started us, before the first byte is read; then connect to
    //    the repairer, 3. and accept its Hello with exactly one fd.
    match sandbox::drop_privileges(&cli.user) {
        Ok(None) => {}
        Ok(Some(user)) => {
            output.say(&Report::Status(format!("started as root: now {user}, with no capability")))
        }
        Err(e) => return fail(e),
    }
    let socket = cli.connect.clone().unwrap_or_else(|| client::default_socket(&mountpoint));
    let (conn, hello, health) = match connect_with_retry(&socket, &mountpoint) {
        Ok(c) => c,
        Err(source) => return fail(Error::Connect { socket, source }),
    };
    output.say(&Report::Status(format!(
        "connected to the repairer: {} via {} ({} AGs, {} rtgroups, autofsck {}, events from {}; {})",
        hello.identity,
        socket.display(),
        hello.geometry.agcount(),
        hello.geometry.rgcount(),
        hello.autofsck.as_str(),
        match hello.event_source {
            EventSource::KernelMonitor => "the kernel health monitor",
            EventSource::File => "a file (test/replay mode)",
        },
        match hello.names {
            Naming::On => "files named by path",
            Naming::NoParentPointers => "files by inode number: the filesystem has no parent pointers",
            Naming::Off => "files by inode number: the repairer does not resolve names",
        }
    )));
    let repair = match decide_repair(&cli, &hello) {
        Decision::Repair(why) => {
            output.say(&Report::Status(why));
            true
        }
        Decision::ReportOnly(why) => {
            output.say(&Report::Status(why));
            false
        }
        Decision::Disable(why) => {
            output.say(&Report::Status(why));
            return ExitCode::SUCCESS;
        }
    };
    if let Err(e) = live::set_nonblocking(&health) {
        return fail(Error::NonBlocking(e));
    }
    if cli.everything {
        match hello.event_source {
            EventSource::KernelMonitor => {
                if let Err(e) = sys::reconfigure_monitor(health.as_fd(), true) {
                    return fail(Error::Everything(e));
                }
            }
            EventSource::File => {
                output.say(&Report::Status("--everything needs the kernel health monitor; ignored".into()))
            }
        }
    }

    //    Take the full online check's trigger, if systemd passed it (only worth having when
    //    repairing: the check is an escalation of repairs).
    let full_check = match Trigger::from_systemd() {
        Ok(t) if repair => t,
        Ok(_) => None,
        Err(e) => {
            output.say(&Report::Status(format!("full online check unavailable: {e}")));
            None
        }
    };
    if repair {
        output.say(&Report::Status(match &full_check {
            Some(_) => "escalations start the full online check (xfs_scrub@) through systemd".into(),
            None => "no full online check trigger (not started by systemd's xfs-heal units): escalations sweep group metadata only".into(),
        }));
    }

    // The CPUs this process may use (affinity, cgroup quota) are read before the sandbox.
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let parallel = cli.parallel.map_or(cpus, usize::from);

    //    The metrics directory, and the fdinfo of the health fd (the kernel's lost-event
    //    counter), are opened now: the sandbox leaves no other way to them.
    let metrics_dir = cli.metrics_dir.clone().unwrap_or_else(|| {
        xfs_heal_protocol::metrics::instance_dir(&client::systemd_escape_path(&mountpoint.to_string_lossy()))
            .into()
    });
    let textfile = if cli.no_metrics {
        None
    } else {
        match open_metrics(&metrics_dir, &mountpoint, &health) {
            Ok(file) => {
                output.say(&Report::Status(format!("metrics: {} in {}", file.name(), metrics_dir.display())));
                output.metrics = Some(Metrics::new());
                Some(file)
            }
            Err(e) => {
                output.say(&Report::Status(format!(
                    "metrics: cannot open {}: {e}; running without metrics (--no-metrics silences this)",
                    metrics_dir.display()
                )));
                None
            }
        }
    };
    let metrics_fds = textfile.as_ref().map(TextFile::fds);

    // 4. Enter the sandbox before reading the first event.
    match sandbox::landlock(textfile.as_ref().map(TextFile::dir)) {
        Ok(s) if s.ruleset == RulesetStatus::FullyEnforced => {}
        Ok(s) => output.say(&Report::Status(format!("landlock: {:?}; relying on seccomp", s.ruleset))),
        Err(e) => return fail(e),
    }
    if let Err(e) = sandbox::seccomp(metrics_fds) {
        return fail(e);
    }

    // 5. Read, decode, report, repair; 6. end on EOF or UNMOUNT.
    let tuning =
        // Twice --parallel: one repair running on each of the repairer's workers and one
        // waiting behind it in the socket, so a worker that finishes starts the next at once
        // instead of waiting for this process's turn on a CPU the repairs keep busy. The
        // repairer still runs at most its workers' count; every request sent is independent
        // of the others (`must_wait_for`), whichever runs first.
        Tuning { repair, sweep_on_lost: !cli.everything, max_in_flight: parallel.saturating_mul(2), ..Tuning::default() };
    let mut engine = Engine::new(tuning, hello.geometry).with_guards(hello.guards);
    if full_check.is_some() {
        engine = engine.with_full_check();
    }
    let names = Namer::new(hello.names == Naming::On);
    let live = Live {
        socket,
        mountpoint,
        conn: Some(conn),
        health,
        hello,
        engine,
        output,
        everything: cli.everything,
        full_check,
        names,
        textfile,
    };
    drop(live.run());
    ExitCode::SUCCESS
}

fn run_replay(cli: &Cli, path: &std::path::Path, capture: CaptureFormat) -> ExitCode {
    let label = cli.mountpoint.as_deref().unwrap_or(path).display().to_string();
    let options = Options { format: cli.format, quiet: cli.quiet };
    match replay::replay(path, capture, &label, options, std::io::stdout().lock()) {
        Ok(s) => {
            complain(&format!(
                "replayed {}: {} events, {} invalid{}, {} repairs would be requested, {} structures need a full check",
                path.display(),
                s.events,
                s.invalid,
                if s.truncated { ", stream truncated" } else { "" },
                s.repairs,
                s.full_checks
            ));
            if s.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            complain(&format!("cannot replay {}: {e}", path.display()));
            ExitCode::FAILURE
        }
    }
}

/// The metrics directory (`O_PATH`: only a place to create, rename and remove in), the
/// fdinfo of the health fd, and the mount's device as mountinfo names it.
fn open_metrics(
    dir: &std::path::Path,
    mountpoint: &std::path::Path,
    health: &OwnedFd,
) -> nix::Result<TextFile> {
    use nix::fcntl::{open, OFlag};
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let dir = open(dir, flags, nix::sys::stat::Mode::empty())?;
    // The file is for node_exporter to read, whatever umask the monitor was given (its unit
    // says 0077): it makes no other file.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let fdinfo = std::fs::File::open(format!("/proc/self/fdinfo/{}", health.as_raw_fd())).ok();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let device = host::mount_source(&mountinfo, mountpoint).unwrap_or_default();
    let path = mountpoint.to_string_lossy();
    Ok(TextFile::new(dir, &client::systemd_escape_path(&path), &path, &device, fdinfo))
}

/// One line on stderr. Unlike eprintln!, a closed or full stderr is not a panic.
fn complain(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "xfs-heal-monitor: {msg}");
}

/// The repairer may still be starting (or restarting): retry for a while, then give up.
fn connect_with_retry(
    socket: &std::path::Path,
    mountpoint: &std::path::Path,
) -> Result<(Connection, Hello, OwnedFd), client::ClientError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut wait = Duration::from_millis(50);
    loop {
        match Connection::open(socket, mountpoint) {
            Ok(c) => return Ok(c),
            Err(client::ClientError::Connect(_)) if Instant::now() + wait < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}

enum Decision {
    Repair(String),
    ReportOnly(String),
    Disable(String),
}

/// xfs_healer's rules: --repair always repairs; otherwise the autofsck
/// property decides, unless --no-autofsck says only to report.
fn decide_repair(cli: &Cli, hello: &Hello) -> Decision {
    let supported = matches!(hello.online_repair, OnlineRepair::Supported);
    let unsupported_note = match hello.online_repair {
        OnlineRepair::Supported => String::new(),
        OnlineRepair::Unsupported(e) => format!(" (the kernel's repair probe failed: {e})"),
    };
    if cli.repair {
        return Decision::Repair(if supported {
            "Repairing every sick structure (--repair).".into()
        } else {
            format!("Repairing every sick structure (--repair); online repair looks unavailable{unsupported_note}, so expect errors.")
        });
    }
    if cli.no_autofsck {
        return Decision::ReportOnly("Only logging errors (--no-autofsck).".into());
    }
    if let Some(why) = hello.autofsck.stands_down(&hello.geometry) {
        return Decision::Disable(why.into());
    }
    match hello.autofsck {
        Autofsck::Repair if supported => {
            Decision::Repair("Automatically repairing per autofsck directive.".into())
        }
        Autofsck::Repair => Decision::ReportOnly(format!(
            "autofsck says repair, but online repair is unavailable{unsupported_note}; will report only."
        )),
        Autofsck::Check | Autofsck::Optimize => {
            Decision::ReportOnly("Only logging errors per autofsck directive.".into())
        }
        // `none`, and unset without back references, stood down above.
        Autofsck::None | Autofsck::Unset | Autofsck::Unrecognized => {
            Decision::ReportOnly("Only logging errors: autofsck is not set.".into())
        }
    }
}
