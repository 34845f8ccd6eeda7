//! Writes the man pages of both daemons and of `xfs-heal` (one page for it, one for each of
//! its commands, as `xfs-heal-listen`), rendered from their clap definitions (the same ones
//! `--help` prints), into a directory: `xfs-heal-man target/man`. Run by
//! `systemd/package.sh` before building the .deb.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: xfs-heal-man OUTPUT_DIR");
        return ExitCode::from(2);
    };
    let mut ctl = xfs_heal_ctl::cli::Cli::command();
    ctl.build();
    let commands = ctl.get_subcommands().filter(|c| c.get_name() != "help");
    // Built, each command's display name is "xfs-heal-COMMAND", which names its page.
    let commands: Vec<_> = commands.cloned().collect();
    let mut pages = vec![xfs_heal_monitor::cli::Cli::command(), xfs_heal_repairer::cli::Cli::command(), ctl];
    pages.extend(commands);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("xfs-heal-man: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for command in pages {
        // Section 8: daemons an administrator runs, as xfs_healer(8).
        let man = clap_mangen::Man::new(command.clone())
            .section("8")
            .manual("xfs-heal")
            .source(concat!("xfs-heal ", env!("CARGO_PKG_VERSION")));
        let path = dir.join(format!("{}.8", command.get_display_name().unwrap_or(command.get_name())));
        let mut page = Vec::new();
        if let Err(e) = man.render(&mut page).and_then(|()| std::fs::write(&path, page)) {
            eprintln!("xfs-heal-man: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
