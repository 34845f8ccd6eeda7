//! A minimal client for tests that must connect as another user: connects to the socket in
//! argv[1] (argv[2] times, default once) and prints `served` or `refused` for one connection
//! (Hello and one fd received, or not), or `served N refused M` for several.
#![forbid(unsafe_code)]

use xfs_heal_tests::{Client, Greeting};

fn main() {
    let socket = std::env::args_os().nth(1).expect("usage: xfs-heal-raw-client SOCKET [TIMES]");
    let times: usize = std::env::args().nth(2).map_or(1, |n| n.parse().expect("TIMES"));
    let (mut served, mut refused) = (0, 0);
    for _ in 0..times {
        match Client::connect(std::path::Path::new(&socket)) {
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
