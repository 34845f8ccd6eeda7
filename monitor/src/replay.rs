//! `--replay` / `--replay-json`: decode a capture, report every event and print the repairs
//! the monitor would request. A dry run: no socket, no privilege, no kernel feature needed.
//! As in live mode, a sick report for a target whose repair is under way (requested, not yet
//! reported healthy by the kernel) is that repair's echo, not a new request.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

#[cfg(feature = "json-replay")]
use crate::decode::json::JsonDecoder;
use crate::decode::v0::V0Decoder;
use std::collections::BTreeSet;

use xfs_heal_protocol::RepairTarget;

use crate::event::{EventKind, HealthEvent, HealthStatus};
use crate::policy;
use crate::report::{Format, Report};

/// Which decoder reads the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    V0,
    /// The pre-7.0 JSON format (built with the `json-replay` feature only).
    #[cfg(feature = "json-replay")]
    Json,
}

/// How the output should look.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub format: Format,
    pub quiet: bool,
}

/// What a replay saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub invalid: u64,
    pub truncated: bool,
    pub repairs: u64,
    pub full_checks: u64,
}

impl Summary {
    pub fn is_clean(&self) -> bool {
        self.invalid == 0 && !self.truncated
    }
}

struct Printer<'a, W: Write> {
    out: W,
    mount: &'a str,
    options: Options,
    summary: Summary,
    error: Option<io::Error>,
    /// Targets whose (imagined) repair is under way: requested, and not yet reported healthy
    /// by the kernel. Further sick reports for them are that repair's echo, as in live mode.
    in_repair: BTreeSet<RepairTarget>,
}

impl<W: Write> Printer<'_, W> {
    fn say(&mut self, report: Report) {
        if self.error.is_some() || (self.options.quiet && report.is_routine()) {
            return;
        }
        let line = report.render(self.mount, self.options.format);
        if let Err(e) = writeln!(self.out, "{line}") {
            self.error = Some(e);
        }
    }

    /// One decoder result: an event, or the report of why a record was invalid.
    fn result(&mut self, r: Result<HealthEvent, Report>) {
        match r {
            Ok(e) => self.event(&e),
            Err(invalid) => {
                self.summary.invalid += 1;
                self.say(invalid);
            }
        }
    }

    fn event(&mut self, event: &HealthEvent) {
        self.summary.events += 1;
        self.say(Report::Event(*event));
        if let EventKind::Metadata { status: HealthStatus::Healthy, .. } = event.kind {
            for target in policy::targets_of(event) {
                self.in_repair.remove(&target);
            }
        }
        if let (Some(plan), EventKind::Metadata { object, .. }) = (policy::plan(event), event.kind) {
            for target in plan.targets {
                if self.in_repair.insert(target) {
                    self.summary.repairs += 1;
                    self.say(Report::RepairRequested { target, dry_run: true });
                }
            }
            for unrepairable in plan.needs_full_check {
                self.summary.full_checks += 1;
                self.say(Report::NeedsFullCheck(unrepairable, object));
            }
        }
    }
}

/// Replays the capture at `path`, writing reports to `out`.
pub fn replay<W: Write>(
    path: &Path,
    capture: CaptureFormat,
    mount: &str,
    options: Options,
    out: W,
) -> io::Result<Summary> {
    let mut file = File::open(path)?;
    let mut p =
        Printer { out, mount, options, summary: Summary::default(), error: None, in_repair: BTreeSet::new() };
    let mut buf = vec![0u8; 64 * 1024];
    let mut v0 = V0Decoder::new();
    #[cfg(feature = "json-replay")]
    let mut json = JsonDecoder::new();
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match capture {
            CaptureFormat::V0 => v0.feed(&buf[..n], |r| p.result(r.map_err(Report::InvalidRecord))),
            #[cfg(feature = "json-replay")]
            CaptureFormat::Json => json.feed(&buf[..n], |r| p.result(r.map_err(Report::InvalidJson))),
        }
        if let Some(e) = p.error.take() {
            return Err(e);
        }
    }
    match capture {
        CaptureFormat::V0 => {
            if let Err(t) = v0.finish() {
                p.summary.truncated = true;
                p.say(Report::Truncated(t));
            }
        }
        #[cfg(feature = "json-replay")]
        CaptureFormat::Json => json.finish(|r| p.result(r.map_err(Report::InvalidJson))),
    }
    if let Some(e) = p.error.take() {
        return Err(e);
    }
    p.out.flush()?;
    Ok(p.summary)
}
