//! `--replay` / `--replay-json`: decode a capture, report every event and print the repairs
//! the monitor would request. A dry run: no socket, no privilege, no kernel feature needed.
//!
//! The capture drives the live monitor's own engine, with each record's timestamp as the
//! clock and every request answered at once as repaired: coalescing, echoes, escalation
//! and the tracking cap are the live rules, not a copy of them. What a capture cannot say
//! is the filesystem's geometry, so a sweep is announced rather than listed, and no
//! parent-pointer follow-up is planned.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

#[cfg(feature = "json-replay")]
use crate::decode::json::JsonDecoder;
use crate::decode::v0::{DecodeError, V0Decoder};

use xfs_heal_protocol::{Geometry, RepairOutcome, RepairReply, ScrubOutFlags};

use crate::engine::{Engine, Tuning};
use crate::event::HealthEvent;
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
    engine: Engine,
    /// The newest record's time: the clock for records that could not be decoded.
    now_ns: u64,
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
    #[cfg(feature = "json-replay")]
    fn result(&mut self, r: Result<HealthEvent, Report>) {
        match r {
            Ok(e) => self.event(&e),
            Err(invalid) => {
                self.summary.invalid += 1;
                self.say(invalid);
            }
        }
    }

    /// A V0 record that failed validation goes through the engine, as live: a damaged SICK
    /// record still says something is sick.
    fn invalid_v0(&mut self, error: DecodeError) {
        self.summary.invalid += 1;
        self.engine.on_invalid_record(error, self.now_ns);
        self.drain();
    }

    fn event(&mut self, event: &HealthEvent) {
        self.summary.events += 1;
        self.now_ns = event.time_ns;
        self.engine.on_event(event, event.time_ns);
        self.drain();
    }

    /// Answers what the engine would send, then says what it decided.
    fn drain(&mut self) {
        let now = self.now_ns;
        while let Some(request) = self.engine.next_request(now) {
            let reply =
                RepairReply { id: request.id, oflags: ScrubOutFlags::NONE, outcome: RepairOutcome::Repaired };
            self.engine.on_reply(reply, now);
        }
        for report in self.engine.take_reports() {
            match report {
                Report::RepairRequested { .. } => self.summary.repairs += 1,
                Report::NeedsFullCheck(..) => self.summary.full_checks += 1,
                _ => {}
            }
            self.say(report);
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
    // A capture holds no geometry. The engine reads it only to list a sweep and to plan
    // parent-pointer follow-ups, neither of which a dry run does: a one-AG stand-in.
    let geometry = Geometry::new(1, 0, 0).map_err(io::Error::other)?;
    let engine = Engine::new(Tuning::default(), geometry).dry_run();
    let mut p = Printer { out, mount, options, summary: Summary::default(), error: None, engine, now_ns: 0 };
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
            CaptureFormat::V0 => v0.feed(&buf[..n], |r| match r {
                Ok(event) => p.event(&event),
                Err(error) => p.invalid_v0(error),
            }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, HealthStatus, InodeMask, MetadataObject};

    const SEC: u64 = 1_000_000_000;

    fn replayed(events: &[(u64, u64)]) -> (Vec<String>, Summary) {
        let bytes: Vec<u8> = events
            .iter()
            .flat_map(|&(time_ns, ino)| {
                let object = MetadataObject::Inode { ino, gen: 7, mask: InodeMask::new(0x10).unwrap() };
                HealthEvent { time_ns, kind: EventKind::Metadata { status: HealthStatus::Sick, object } }
                    .to_v0_bytes()
            })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "xfs-heal-replay-unit-{}-{}",
            std::process::id(),
            events.len()
        ));
        std::fs::write(&path, bytes).unwrap();
        let mut out = Vec::new();
        let options = Options { format: Format::Text, quiet: false };
        let summary = replay(&path, CaptureFormat::V0, "/mnt", options, &mut out).unwrap();
        std::fs::remove_file(&path).unwrap();
        (String::from_utf8(out).unwrap().lines().map(str::to_owned).collect(), summary)
    }

    /// The replay applies the live engine's rules with the records' own clock: a second
    /// SICK report within the echo grace (2 s) is the first repair's echo; one after it is
    /// a new corruption, requested again. A private copy of the rules would not know.
    #[test]
    fn the_replay_follows_the_live_echo_rule_on_the_records_clock() {
        let t = 1_800_000_000 * SEC;
        let (lines, s) = replayed(&[(t, 131), (t + SEC, 131), (t + 10 * SEC, 131), (t + 10 * SEC, 132)]);
        assert_eq!(s.repairs, 3, "{lines:#?}");
        let requested = lines.iter().filter(|l| l.ends_with("would request repair (scrub type 15)")).count();
        assert_eq!(requested, 3);
        // The echo has no line of its own, as live.
        assert_eq!(lines.iter().filter(|l| l.starts_with("/mnt ino 131 ") && l.ends_with("sick")).count(), 2);
    }
}
