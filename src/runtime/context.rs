//! What the current thread is doing.
//!
//! Each of a worker's threads sets the thread-local `WORKER` for its whole
//! life; a plain thread has it null. The running coroutine is not a
//! thread-local but the worker's own (`Local::running`), written by the
//! worker around each resume.
//!
//! Why not a thread-local: a coroutine may resume on another thread of its
//! worker (`takeover.rs`), and the compiler may keep a thread-local's
//! address in a register across a suspension point, as if the thread could
//! not change within a function. A coroutine that parks in a loop (the
//! hand-off in `park.rs` writes the running coroutine there) could then
//! read and write the *first* thread's slot after it moved, and leave that
//! thread believing a coroutine runs on it while its scheduler loop runs,
//! so that its own poller wait would count as a coroutine's blocking call.
//! `WORKER` is safe from this: all threads of a worker hold the same value
//! in it, for life, so an old thread's slot gives the right answer.
//! `Local::running` is one slot per worker, whichever thread reads it, and
//! only the thread that holds the worker touches it (`takeover.rs`,
//! soundness, point 2).

use std::cell::Cell;
use std::ptr;

use super::worker::Local;
use crate::coroutine::Task;

thread_local! {
    /// The worker this thread runs, for the thread's life. Written by the
    /// worker's main function only.
    static WORKER: Cell<*const Local> = const { Cell::new(ptr::null()) };
}

/// The worker state of this thread, if it is a worker.
///
/// The reference is valid for as long as the calling code runs on this
/// thread: `Local` lives in the worker's `Domain`, which each of its
/// threads keeps alive until it ends.
#[inline]
pub(crate) fn current_worker() -> Option<&'static Local> {
    let p = WORKER.with(Cell::get);
    if !p.is_null() && super::fork::outside_weft() {
        return None; // a forked child's copy of a worker thread (`fork.rs`)
    }
    // SAFETY: see above; the pointer is cleared before `Local` is dropped.
    unsafe { p.as_ref() }
}

/// The coroutine running on this thread, if any.
///
/// The reference stays valid while that coroutine runs or is suspended: its
/// worker holds the task while it runs, and keeps every task that has
/// suspended in its task table until it finishes.
#[inline]
pub(crate) fn current_task() -> Option<&'static Task> {
    // In a forked child `current_worker` answers none, and so does this.
    let p = current_worker()?.running()?;
    // SAFETY: see above; callers are the coroutine itself, which cannot
    // outlive its own task.
    Some(unsafe { p.as_ref() })
}

/// Sets this thread's worker for the scope of the returned guard.
pub(super) fn enter_worker(local: &Local) -> WorkerGuard {
    WORKER.with(|c| c.set(local));
    WorkerGuard(())
}

/// Clears `WORKER` when the worker's main function returns.
pub(super) struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|c| c.set(ptr::null()));
    }
}
