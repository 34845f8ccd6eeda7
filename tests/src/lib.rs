//! Helpers shared by the integration tests in `tests/tests/`.
//!
//! These tests run the real binaries. Cargo only exposes a binary's path to tests of its own
//! package, so the binaries are found next to the test executable (`target/<profile>/`); the
//! test command builds them first (`cargo build --workspace --bins`).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    repo_root().join("tests").join("data").join(name)
}

/// The path of one of the workspace's binaries, built for the same profile as this test.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` before the integration tests",
        path.display()
    );
    path
}

/// Runs a binary to completion.
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(binary(name))
        .args(args)
        .output()
        .expect("spawn")
}

/// Standard output as lines.
pub fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
