//! Helpers shared by the integration tests in `tests/tests/`.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    repo_root().join("tests").join("data").join(name)
}
