//! A minimal client for tests that must connect as another user: connects to the socket in
//! argv[1] and prints `served` (Hello and one fd received) or `refused`.
#![forbid(unsafe_code)]

use xfs_heal_tests::{Client, Greeting};

fn main() {
    let socket = std::env::args_os().nth(1).expect("usage: xfs-heal-raw-client SOCKET");
    match Client::connect(std::path::Path::new(&socket)) {
        Greeting::Served(_) => println!("served"),
        Greeting::Refused => println!("refused"),
    }
}
