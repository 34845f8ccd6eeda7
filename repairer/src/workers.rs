//! The threads that issue repairs, so that repairs of independent targets run at once
//! (ARCHITECTURE.md, "Parallel repairs"). They are started before the sandbox closes and
//! the seccomp filter covers them all (TSYNC); each waits for a job, makes the one ioctl,
//! writes the audit line and hands the reply back to the serving loop, which alone reads
//! and writes the connection. The loop checks, screens and re-verifies every request
//! before a worker sees it, and gives out no more jobs than there are workers.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{mpsc, Arc, Barrier, Mutex};

use nix::fcntl::OFlag;
use xfs_heal_protocol::journal::{Audited, Verdict};
use xfs_heal_protocol::{RepairReply, RepairRequest};

use crate::mount::errno_of;
use crate::serve::audit;
use crate::sys;

/// A worker's stack: it runs one ioctl and formats one audit line.
const STACK_BYTES: usize = 64 * 1024;

/// A request the loop has accepted, on the filesystem it has just re-verified.
#[derive(Debug)]
pub struct Job {
    pub request: RepairRequest,
    /// The re-verified mount: the repair reaches the filesystem this fd is on, however long
    /// the job waited.
    pub fd: OwnedFd,
    pub peer: nix::sys::socket::UnixCredentials,
    /// The connection that asked: a reply to one since closed is audited, not sent.
    pub connection: u64,
}

/// The workers' queue and what comes back from it.
#[derive(Debug)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
    replies: mpsc::Receiver<(u64, RepairReply)>,
    /// Readable when a reply is waiting: the loop polls it beside its sockets.
    pub wake: OwnedFd,
    pub count: NonZeroUsize,
}

impl Workers {
    /// Starts `count` workers; from here on the process has `count + 1` threads.
    pub fn start(count: NonZeroUsize) -> std::io::Result<Self> {
        #[cfg(target_env = "gnu")]
        sys::one_malloc_arena()?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (done, replies) = mpsc::channel();
        let (wake, woken) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        let (queue, woken) = (Arc::new(Mutex::new(queue)), Arc::new(woken));
        // A thread's own start-up makes syscalls seccomp forbids: all are done past this.
        let started = Arc::new(Barrier::new(count.get() + 1));
        for n in 0..count.get() {
            let (queue, done, woken) = (Arc::clone(&queue), done.clone(), Arc::clone(&woken));
            let started = Arc::clone(&started);
            let work = move || {
                started.wait();
                loop {
                    // The lock is held only while waiting for a job, never during the repair.
                    let job = queue.lock().map_err(drop).and_then(|q| q.recv().map_err(drop));
                    // The loop has exited: a thread's own exit would call madvise, not allowed.
                    let Ok(job) = job else {
                        std::thread::park();
                        continue;
                    };
                    if done.send((job.connection, issue(job))).is_ok() {
                        // Full only if the loop has a wake-up pending anyway.
                        let _ = nix::unistd::write(woken.as_fd(), &[1]);
                    }
                }
            };
            std::thread::Builder::new().name(format!("repair-{n}")).stack_size(STACK_BYTES).spawn(work)?;
        }
        started.wait();
        Ok(Self { jobs, replies, wake, count })
    }

    /// Hands `job` to the next free worker.
    pub fn give(&self, job: Job) {
        drop(self.jobs.send(job));
    }

    /// The replies that came back since the last call, each with its connection.
    pub fn take_replies(&self) -> Vec<(u64, RepairReply)> {
        let mut drain = [0u8; 64];
        while matches!(nix::unistd::read(self.wake.as_fd(), &mut drain), Ok(n) if n > 0) {}
        self.replies.try_iter().collect()
    }
}

/// The repair itself, and its audit line.
fn issue(job: Job) -> RepairReply {
    let Job { request: RepairRequest { id, target }, fd, peer, .. } = job;
    let mut sm = target.to_scrub_metadata();
    let result = sys::scrub_metadata(fd.as_fd(), &mut sm).map(|()| sm.sm_flags).map_err(|e| errno_of(&e));
    let reply = RepairReply::issued(id, result);
    audit(peer, id.0, Audited::Repair(&target), Verdict::Issued, reply.outcome.name(), &reply.audit_result());
    reply
}
