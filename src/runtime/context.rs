//! What the current thread is doing.
//!
//! Each of a worker's threads sets the thread-local `WORKER` for its whole
//! life; a plain thread has it null. The running coroutine is not a
//! thread-local but the worker's own (`Worker::running`), written by the
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
//! `Worker::running` is one slot per worker, whichever thread reads it, and
//! only the thread that holds the worker touches it (`takeover.rs`,
//! soundness, point 2).

use std::cell::Cell;
use std::ptr;

use super::worker::Worker;
use crate::task::Task;

thread_local! {
    /// The worker this thread runs, for the thread's life. Written by the
    /// worker's main function (`Worker::run`, through `enter_worker` and
    /// its guard) and, in a forked child, by the fork handler
    /// (`forget_worker_in_child`).
    static WORKER: Cell<*const Worker> = const { Cell::new(ptr::null()) };
}

/// The worker state of this thread, if it is a worker.
///
/// The reference is valid for as long as the calling code runs on this
/// thread: `Worker` lives in the worker's `Domain`, which each of its
/// threads keeps alive until it ends.
///
/// In a forked child it answers none: the fork handler cleared `WORKER`
/// (`forget_worker_in_child`).
#[inline]
pub(crate) fn current_worker() -> Option<&'static Worker> {
    let p = WORKER.with(Cell::get);
    // SAFETY: see above; the pointer is cleared before `Worker` is dropped.
    unsafe { p.as_ref() }
}

/// The fork handler's part (`fork.rs`, step 1), in a forked child, on its
/// only thread: this thread is no worker's any more, and its worker runs no
/// coroutine. Both writes matter:
///
/// 1. Clearing `WORKER` makes `current_worker` and `current_task` answer
///    none for every fresh look at the thread-local, which is every look a
///    hook makes (each call computes the thread-local's address anew).
/// 2. Clearing the worker's running slot covers a stale look: code inlined
///    into a coroutine that moved threads may read an earlier thread's
///    `WORKER` through an address it kept (module docs). That slot, in the
///    child's copy of memory, still names the worker, always this one (a
///    coroutine never leaves its worker), whose running slot is now empty:
///    `current_task` answers none there too, so the child's coroutine can
///    neither park nor yield into the parent's scheduler.
///
/// Async-signal-safe, as a fork handler must be: two plain stores, to a
/// `const` thread-local (no lazy set-up) and to the worker's memory, which
/// no other thread can touch: the child has no other thread.
pub(super) fn forget_worker_in_child() {
    let p = WORKER.with(Cell::get);
    // SAFETY: in the child, `Worker` is the copy of a live worker's state and
    // this is the only thread; see above.
    if let Some(local) = unsafe { p.as_ref() } {
        local.set_running(None);
    }
    WORKER.with(|c| c.set(ptr::null()));
}

/// The coroutine running on this thread, if any.
///
/// The reference stays valid while that coroutine runs or is suspended: its
/// worker holds the task while it runs, and keeps every task that has
/// suspended in its task table until it finishes.
#[inline]
pub(crate) fn current_task() -> Option<&'static Task> {
    // In a forked child this answers none (`forget_worker_in_child`).
    let p = current_worker()?.running()?;
    // SAFETY: see above; callers are the coroutine itself, which cannot
    // outlive its own task.
    Some(unsafe { p.as_ref() })
}

/// Sets this thread's worker for the scope of the returned guard.
pub(super) fn enter_worker(local: &Worker) -> WorkerGuard {
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
