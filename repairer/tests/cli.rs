//! The command line's refusals, before any startup step runs: a wrong invocation is a usage
//! error (exit 2) that says what is allowed, never a half-started privileged process.
//!
//! Living in the repairer's own package also makes `cargo test -p xfs-heal-repairer` build
//! the binary, which the root integration tests in `tests/` then run (the mutation script
//! relies on that).

use std::process::{Command, Output};

fn repairer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xfs-heal-repairer")).args(args).output().expect("run the repairer")
}

#[test]
fn version_names_the_binary_and_the_package_version() {
    for flag in ["-V", "--version"] {
        let out = repairer(&[flag]);
        assert!(out.status.success(), "{flag}: {out:?}");
        let expected = format!("xfs-heal-repairer {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}

#[test]
fn an_unknown_defect_key_is_refused_with_the_known_ones_listed() {
    let out = repairer(&["--assume-fixed", "every-defect", "/"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'every-defect'"), "{stderr}");
    assert!(stderr.contains("inode-repair-rtgroup-rmap-null"), "{stderr}");
}

#[test]
fn the_mount_point_is_required() {
    let out = repairer(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("<MOUNTPOINT>"), "{out:?}");
}
