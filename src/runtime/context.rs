//! What the current thread is doing, in thread-locals.
//!
//! Each of a worker's threads sets `WORKER` for its whole life and `TASK`
//! around each resume. A plain thread has both null. A started coroutine
//! never leaves its worker, and a coroutine that resumes on another thread
//! of the worker (`takeover.rs`) finds that thread's `TASK` set to itself
//! by the resume, so these stay right across every suspension point inside
//! the coroutine.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use super::worker::Local;
use crate::coroutine::Task;

thread_local! {
    /// The worker this thread runs, for the thread's life. Written by the
    /// worker's main function only.
    static WORKER: Cell<*const Local> = const { Cell::new(ptr::null()) };
    /// The coroutine running right now. Written by the worker around resume.
    static TASK: Cell<Option<NonNull<Task>>> = const { Cell::new(None) };
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
    let p = TASK.with(Cell::get)?;
    if super::fork::outside_weft() {
        return None; // a forked child's copy of a coroutine (`fork.rs`)
    }
    // SAFETY: see above; callers are the coroutine itself, which cannot
    // outlive its own task.
    Some(unsafe { p.as_ref() })
}

/// Sets the running coroutine (`None` between coroutines).
#[inline]
pub(super) fn set_task(t: Option<&Task>) {
    TASK.with(|c| c.set(t.map(NonNull::from)));
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
