//! A minimal peer for tests that must act as another user.
//!
//! `xfs-heal-raw-client SOCKET [TIMES]`: connects (TIMES times, default once) and prints
//! `served` or `refused` for one connection (Hello and one fd received, or not), or
//! `served N refused M` for several.
//! `xfs-heal-raw-client --guess SOCKET INO COUNT`: plays a monitor guessing generations: COUNT
//! directory repairs of inode INO, generations 1 to COUNT, one after the other; prints how
//! many were answered with which outcome, and in how many seconds.
//! `xfs-heal-raw-client --forge SOCKET MOUNTPOINT EVENTS`: plays a repairer: binds SOCKET
//! (mode 0666), accepts one connection and sends a Hello for MOUNTPOINT with a pipe that
//! carries the bytes of EVENTS, then waits a few seconds.
#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::AsRawFd;

use xfs_heal_tests::{Client, Greeting};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--forge") {
        return forge(&args[2], &args[3], &args[4]);
    }
    if args.get(1).map(String::as_str) == Some("--guess") {
        return guess(&args[2], args[3].parse().expect("INO"), args[4].parse().expect("COUNT"));
    }
    let socket = args.get(1).expect("usage: xfs-heal-raw-client SOCKET [TIMES]");
    let times: usize = args.get(2).map_or(1, |n| n.parse().expect("TIMES"));
    let (mut served, mut refused) = (0, 0);
    for _ in 0..times {
        match Client::connect(std::path::Path::new(socket)) {
            Greeting::Served(_) => served += 1,
            Greeting::Refused => refused += 1,
        }
    }
    match (times, served) {
        (1, 1) => println!("served"),
        (1, _) => println!("refused"),
        _ => println!("served {served} refused {refused}"),
    }
}

fn forge(socket: &str, mountpoint: &str, events: &str) {
    use xfs_heal_protocol::*;
    let listener = std::os::unix::net::UnixListener::bind(socket).expect("bind");
    std::fs::set_permissions(socket, std::os::unix::fs::PermissionsExt::from_mode(0o666)).expect("chmod");
    let (conn, _) = listener.accept().expect("accept");
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        mountpoint: MountPath::try_from(mountpoint.to_string()).expect("mount path"),
        identity: FsIdentity { mount_id: 1, root: FsHandle::new(1, &[1, 2, 3, 4]).expect("handle") },
        uuid: [0; 16],
        geometry: Geometry::new(4, 0, 0).expect("geometry"),
        online_repair: OnlineRepair::Supported,
        autofsck: Autofsck::Repair,
        event_source: EventSource::File,
        guards: xfs_heal_protocol::defects::DefectSet::NONE,
        names: xfs_heal_protocol::names::Naming::Off,
    };
    let frame = codec::encode(&RepairerToMonitor::Hello(hello)).expect("encode");
    let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
    std::fs::File::from(write_end).write_all(&std::fs::read(events).expect("events")).expect("fill the pipe");
    let fds = [read_end.as_raw_fd()];
    // A monitor that refuses us hangs up first: that is the test passing, not a failure here.
    let _ = nix::sys::socket::sendmsg::<()>(
        conn.as_raw_fd(),
        &[std::io::IoSlice::new(&frame)],
        &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
        nix::sys::socket::MsgFlags::empty(),
        None,
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
}

fn guess(socket: &str, ino: u64, count: u32) {
    use xfs_heal_protocol::*;
    let mut c = Client::served(std::path::Path::new(socket));
    let start = std::time::Instant::now();
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for gen in 1..=count {
        let target = RepairTarget::Inode {
            ino: InodeNumber::try_from(ino).expect("ino"),
            gen,
            kind: InodeScrub::Directory,
        };
        let reply = c.request(RepairRequest { id: RequestId(u64::from(gen)), target });
        *outcomes.entry(format!("{:?}", reply.outcome)).or_default() += 1;
    }
    println!("answered {count} in {:.2} s: {outcomes:?}", start.elapsed().as_secs_f64());
}
