//! The man pages the package ships are rendered from the same clap definitions as `--help`:
//! every option `--help` lists appears in the page, in section 8.

use std::process::Command;

use xfs_heal_tests::*;

#[test]
fn man_pages_document_every_option() {
    let scratch = Scratch::new("man");
    let dir = scratch.path("man");
    let out = Command::new(binary("xfs-heal-man")).arg(&dir).output().expect("xfs-heal-man");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pages = [
        ("xfs-heal-monitor", vec![]),
        ("xfs-heal-repairer", vec![]),
        ("xfs-heal", vec![]),
        ("xfs-heal-status", vec!["status"]),
        ("xfs-heal-supported", vec!["supported"]),
        ("xfs-heal-listen", vec!["listen"]),
        ("xfs-heal-metrics-link", vec!["metrics-link"]),
        ("xfs-heal-metrics-unlink", vec!["metrics-unlink"]),
    ];
    for (daemon, command) in pages {
        let page = std::fs::read_to_string(dir.join(format!("{daemon}.8"))).unwrap();
        assert!(page.contains(&format!(".TH {daemon} 8 ")), "{page}");
        let program = if command.is_empty() { daemon } else { "xfs-heal" };
        let help = Command::new(binary(program)).args(&command).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let options: Vec<&str> = help
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([',', '.', ')']))
            .collect();
        assert!(options.len() >= if command.is_empty() { 2 } else { 1 }, "{help}");
        for option in options {
            // roff escapes the dashes: --listen is written \-\-listen.
            let escaped = option.replace('-', "\\-");
            assert!(page.contains(&escaped), "{daemon}.8 lacks {option}");
        }
        assert!(page.contains("Exit status"), "{daemon}.8 has no exit status");
    }
}
