//! The command line's answers that need no filesystem: `-V`/`--version`.

use std::process::Command;

#[test]
fn version_names_the_binary_and_the_package_version() {
    for flag in ["-V", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_xfs-heal-monitor")).arg(flag).output().expect("run");
        assert!(out.status.success(), "{flag}: {out:?}");
        let expected = format!("xfs-heal-monitor {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}
