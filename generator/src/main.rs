//! xfs-heal-generator: a systemd generator (systemd.generator(7)). Once `xfs-heal.target` is
//! enabled, every XFS filesystem in /etc/fstab gets its monitor (and so its repairer) each
//! time it is mounted, at boot or later, unless its options carry `x-xfs-heal=off`.
//!
//! It writes, in the directory systemd gives it (`/run/systemd/generator`), the links that
//! `systemctl enable xfs-heal-monitor@INSTANCE.service` would write in /etc:
//! `INSTANCE.mount.wants/xfs-heal-monitor@INSTANCE.service`; and for the filesystems mounted
//! when it runs (a `daemon-reload` after enabling), `xfs-heal.target.wants/` too, so that
//! starting the target covers them at once (after their xfs_healer@ lets go of the health
//! monitor, as the README shows). Nothing else: it runs as root at boot, reads two
//! files and makes symlinks. `XFS_HEAL_GENERATOR_ROOT` reads another root's /etc (tests).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xfs_heal_protocol::escape::escape_str;
use xfs_heal_protocol::fstab;

const TEMPLATE: &str = "/usr/lib/systemd/system/xfs-heal-monitor@.service";
const TARGET: &str = "xfs-heal.target";

fn main() -> ExitCode {
    let Some(normal_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("xfs-heal-generator: usage: xfs-heal-generator NORMAL_DIR [EARLY_DIR LATE_DIR]");
        return ExitCode::FAILURE;
    };
    let root = std::env::var_os("XFS_HEAL_GENERATOR_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    if !enabled(&root) {
        return ExitCode::SUCCESS;
    }
    // Bytes, line by line: one line that cannot be used is left out, with its number, never
    // the whole file (every mount would then fall back to xfs_healer).
    let fstab_bytes = match std::fs::read(root.join("etc/fstab")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            eprintln!("xfs-heal-generator: /etc/fstab: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mounted = fstab::mounted(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let (entries, rejected) = fstab::xfs_entries(&fstab_bytes);
    for r in rejected {
        eprintln!("xfs-heal-generator: /etc/fstab line {}: left out: {}", r.line, r.why);
    }
    let mut ok = true;
    for entry in entries {
        let shown = escape_str(&entry.mountpoint);
        if entry.excluded {
            eprintln!("xfs-heal-generator: {shown}: left out ({})", fstab::EXCLUDE_OPTION);
            continue;
        }
        let unit = format!("xfs-heal-monitor@{}.service", entry.instance);
        let mut wanted_by = vec![format!("{}.mount.wants", entry.instance)];
        if mounted.contains(&entry.mountpoint) {
            wanted_by.push(format!("{TARGET}.wants"));
        }
        for dir in wanted_by {
            if let Err(e) = link(&normal_dir.join(dir), &unit) {
                eprintln!("xfs-heal-generator: {shown} (/etc/fstab line {}): {e}", entry.line);
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `xfs-heal.target` is enabled: some `*.wants/` directory of /etc/systemd/system links it.
fn enabled(root: &Path) -> bool {
    let Ok(dirs) = std::fs::read_dir(root.join("etc/systemd/system")) else { return false };
    dirs.flatten()
        .filter(|d| d.file_name().to_string_lossy().ends_with(".wants"))
        .any(|d| d.path().join(TARGET).exists())
}

/// `dir/unit` -> the template, as `systemctl enable` makes it. An existing link is kept. A
/// directory made here for a link that then fails is removed again: nothing half-made.
fn link(dir: &Path, unit: &str) -> std::io::Result<()> {
    let made = !dir.exists();
    std::fs::create_dir_all(dir)?;
    match std::os::unix::fs::symlink(TEMPLATE, dir.join(unit)) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            if made {
                let _ = std::fs::remove_dir(dir);
            }
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}
