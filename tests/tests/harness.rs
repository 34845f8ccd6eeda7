//! The test harness itself: a test that needs root must fail in CI when it cannot run, not
//! pass by skipping.

use std::process::Command;

use xfs_heal_tests::*;

/// Stands for every root-only test: it runs only when `require_root` says it may.
#[test]
fn needs_root_probe() {
    if !require_root() {
        return;
    }
    assert!(nix::unistd::geteuid().is_root());
}

#[test]
fn a_root_only_test_fails_in_ci_without_root_and_skips_elsewhere() {
    if !require_root() {
        return;
    }
    let run = |ci: bool| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "needs_root_probe", "--nocapture"])
            .env_remove("CI");
        if ci {
            cmd.env("CI", "true");
        }
        let out = cmd.output().expect("setpriv");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (passed, err) = run(true);
    assert!(!passed, "in CI a root-only test run without root must fail: {err}");
    assert!(err.contains("CI must run the integration tests as root"), "{err}");
    let (passed, err) = run(false);
    assert!(passed, "outside CI it is skipped: {err}");
    assert!(err.contains("skipped: needs root"), "{err}");
}
