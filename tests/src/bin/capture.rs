//! Records a raw V0 event stream from the kernel health monitor, for test data and the
//! replay demo: `xfs-heal-capture MOUNTPOINT OUTFILE` (root; verbose monitor). It writes every
//! byte read, unchanged, until the unmount (EOF), flushing after each read.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::AsFd;

use xfs_heal_protocol::uapi::XfsHealthMonitor;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, mountpoint, out] = args.as_slice() else {
        eprintln!("usage: xfs-heal-capture MOUNTPOINT OUTFILE");
        return std::process::ExitCode::from(2);
    };
    let root = std::fs::File::open(mountpoint).expect("open mount point");
    let monitor = xfs_heal_repairer::sys::open_health_monitor(root.as_fd(), &XfsHealthMonitor::v0(true))
        .expect("XFS_IOC_HEALTH_MONITOR");
    drop(root);
    let mut monitor = std::fs::File::from(monitor);
    let mut file = std::fs::File::create(out).expect("create output");
    eprintln!("xfs-heal-capture: recording {mountpoint} to {out}");
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match monitor.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                file.write_all(&buf[..n]).expect("write");
                file.flush().expect("flush");
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    std::process::ExitCode::SUCCESS
}
