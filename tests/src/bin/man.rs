//! Writes the man pages of both daemons, rendered from their clap definitions (the same
//! ones `--help` prints), into a directory: `xfs-heal-man target/man`. Run by
//! `systemd/package.sh` before building the .deb.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: xfs-heal-man OUTPUT_DIR");
        return ExitCode::from(2);
    };
    let pages = [xfs_heal_monitor::cli::Cli::command(), xfs_heal_repairer::cli::Cli::command()];
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
        let path = dir.join(format!("{}.8", command.get_name()));
        let mut page = Vec::new();
        if let Err(e) = man.render(&mut page).and_then(|()| std::fs::write(&path, page)) {
            eprintln!("xfs-heal-man: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
