//! A fault hook for the crash tests of the multi-step changes (issue 33): armed by a test, it
//! stops (or fails) the store's writes from the N-th one on, so that a test can leave a change
//! exactly as a process killed between two of its steps leaves it, then check that the next
//! request or the sweeper finishes it. Disarmed it costs one atomic load per write; nothing in a
//! function arms it (only tests hold the store to call [`WriteFaults::stop_after`]).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::StoreError;

/// What an armed hook does to the writes it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The write is never sent and never answers: the task stops there, as a process killed
    /// before its next write (nothing after it runs).
    Stop,
    /// The write is not sent and fails as an unreachable DynamoDB would (503).
    Fail,
    /// The write waits until [`WriteFaults::heal`], then is sent: a process paused between two
    /// steps (while others run whole changes), then resumed.
    Pause,
}

/// The hook: off until a test arms it.
#[derive(Debug, Default)]
pub struct WriteFaults {
    /// 0: off; 1: stop; 2: fail; 3: pause.
    mode: AtomicU8,
    /// Writes still let through before the fault.
    allowed: AtomicU64,
    /// Writes the fault caught.
    caught: AtomicU64,
}

impl WriteFaults {
    /// Lets `writes` more writes through, then applies `fault` to every later one (until
    /// [`WriteFaults::heal`]).
    pub fn arm(&self, writes: u64, fault: WriteFault) {
        self.allowed.store(writes, Ordering::SeqCst);
        self.caught.store(0, Ordering::SeqCst);
        let mode = match fault {
            WriteFault::Stop => 1,
            WriteFault::Fail => 2,
            WriteFault::Pause => 3,
        };
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// [`WriteFaults::arm`] with [`WriteFault::Stop`].
    pub fn stop_after(&self, writes: u64) {
        self.arm(writes, WriteFault::Stop);
    }

    /// Off again (writes stopped before stay stopped: their process is "dead").
    pub fn heal(&self) {
        self.mode.store(0, Ordering::SeqCst);
    }

    /// How many writes the fault caught since it was armed.
    pub fn caught(&self) -> u64 {
        self.caught.load(Ordering::SeqCst)
    }

    /// Called before each write of a multi-step change.
    pub(super) async fn gate(&self) -> Result<(), StoreError> {
        let mode = self.mode.load(Ordering::SeqCst);
        if mode == 0 {
            return Ok(());
        }
        let passed = self.allowed.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if passed {
            return Ok(());
        }
        self.caught.fetch_add(1, Ordering::SeqCst);
        if mode == 1 {
            std::future::pending::<()>().await;
        }
        if mode == 3 {
            while self.mode.load(Ordering::SeqCst) == 3 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            return Ok(());
        }
        Err(StoreError::Unavailable("a write failed by the test's fault hook".into()))
    }
}
