//! Waiting for a file descriptor to be freed.
//!
//! An accept loop that hits `EMFILE` retries at once, and would spin at
//! 100% CPU until some connection closes. A coroutine's `accept4` on a
//! listener that blocks (`hook/socket.rs`) therefore waits here, up to a
//! bound, for the next `close` before it reports `EMFILE` or `ENFILE`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::runtime::park::{self, Unparker};
use crate::task::{Kind, WaitFor};

/// Whoever waits for an fd to be freed. Pushed by `wait_for_free_fd`, taken
/// by `fd_freed`.
static WAITERS: Mutex<Vec<Unparker>> = Mutex::new(Vec::new());
/// Whether `WAITERS` may be non-empty: keeps `close` from locking.
static ANY: AtomicBool = AtomicBool::new(false);

/// Parks the caller until some fd is closed, or `max` passes.
///
/// A `close` between the caller's failed `accept` and its entry here (or
/// its `ANY` store) wakes nobody: the caller then waits out `max` before
/// it tries again. Closing that window would cost every `close` an atomic
/// read-modify-write; the bound `max` keeps it a delay, never a hang.
pub(crate) fn wait_for_free_fd(max: Duration) {
    let deadline = Instant::now() + max;
    WAITERS.lock().unwrap().push(park::current());
    ANY.store(true, Ordering::SeqCst);
    park::park_deadline_for(deadline, WaitFor::new(Kind::FreeFd, 0));
    // Spurious or timed out: the entry may still be there; leave it, it is
    // dropped at the next close (an extra unpark is harmless).
}

/// Called by `close`: wakes everyone waiting for an fd. Never called in a
/// forked child, where the lock may be held for good (`runtime/fork.rs`).
#[inline]
pub(crate) fn fd_freed() {
    if ANY.load(Ordering::Relaxed) && ANY.swap(false, Ordering::SeqCst) {
        let waiters = std::mem::take(&mut *WAITERS.lock().unwrap());
        for w in waiters {
            w.unpark();
        }
    }
}
