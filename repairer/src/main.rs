//! xfs-heal-repairer: the sealed privileged half. Not yet implemented (issue #3); this
//! skeleton refuses to run so nobody mistakes it for a working repairer.

fn main() -> std::process::ExitCode {
    eprintln!(
        "xfs-heal-repairer {}: not implemented yet (protocol version {})",
        env!("CARGO_PKG_VERSION"),
        xfs_heal_protocol::PROTOCOL_VERSION
    );
    std::process::ExitCode::FAILURE
}
