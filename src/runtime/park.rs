//! Park and unpark: the one blocking primitive everything else builds on
//! (join, sleep, and later I/O readiness, channels and locks).
//!
//! A *waiter* is the current coroutine or, on a plain thread, the thread.
//! `park()` blocks it until some `Unparker::unpark()`; both follow the
//! token semantics of `std::thread::park`: an unpark that comes first makes
//! the next park return at once, and a park may return spuriously, so
//! callers loop on their own condition.
//!
//! # Protocol for a coroutine (`Task::state`: EMPTY, NOTIFIED, PARKED)
//!
//! 1. `park` tries `NOTIFIED -> EMPTY`. Success means a wake-up was pending:
//!    return without switching.
//! 2. Otherwise the coroutine suspends with `Suspend::Park`. It is not yet
//!    marked parked: its stack is still in use until the switch completes.
//! 3. Back on the worker's stack, the worker tries `EMPTY -> PARKED`.
//!    - Success: the task is parked. The worker drops it from its hands
//!      (it stays alive in the worker's task table).
//!    - Failure: the state is `NOTIFIED`, so an unpark arrived during steps
//!      2-3. The worker puts the task straight back on its ready queue.
//! 4. `unpark` swaps the state to `NOTIFIED`. If it swapped out `PARKED`, it
//!    alone moves the task to a run queue of its bound worker: the local
//!    `next` slot when called on that worker, else the worker's inbox plus a
//!    write to its eventfd if it sleeps. Otherwise the task is running or
//!    queued and steps 1 or 3 will see the token.
//! 5. Resumed inside `park`, the coroutine stores `EMPTY`, consuming the
//!    token, and returns.
//!
//! No wake-up is lost: every unpark leaves `NOTIFIED` behind, and the only
//! way to sleep is the CAS in step 3, which fails on `NOTIFIED`. No task is
//! scheduled twice: only the one swap that observes `PARKED` schedules, and
//! `PARKED` is entered only after the coroutine's stack is free.
//!
//! # Shutdown
//!
//! While a worker unwinds a coroutine at runtime shutdown, the task is marked
//! cancelled and `park` returns at once: a destructor that waits cannot
//! suspend a coroutine that is being torn down.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use super::{current_task, current_worker};
use crate::coroutine::{Suspend, Task};

/// Wakes one parked waiter.
pub(crate) enum Unparker {
    /// A coroutine.
    Task(Arc<Task>),
    /// A plain thread.
    Thread(Thread),
}

impl Unparker {
    /// Step 4 for a coroutine; `Thread::unpark` for a thread.
    pub(crate) fn unpark(self) {
        match self {
            Unparker::Task(task) => unpark_task(task),
            Unparker::Thread(t) => t.unpark(),
        }
    }
}

fn unpark_task(task: Arc<Task>) {
    use crate::coroutine::{NOTIFIED, PARKED};
    if task.state().swap(NOTIFIED, Ordering::AcqRel) == PARKED {
        let shared = task.shared.clone();
        shared.schedule_bound(task);
    }
}

/// An `Unparker` for the caller.
pub(crate) fn current() -> Unparker {
    match current_arc() {
        Some(task) => Unparker::Task(task),
        None => Unparker::Thread(thread::current()),
    }
}

/// The running coroutine's `Arc`.
pub(crate) fn current_arc() -> Option<Arc<Task>> {
    let task: *const Task = current_task()?;
    // SAFETY: the worker holds an `Arc` to the running task (its task table
    // entry), so the count is at least one while we add ours.
    unsafe {
        Arc::increment_strong_count(task);
        Some(Arc::from_raw(task))
    }
}

/// Whether the current coroutine is being unwound by its runtime's shutdown.
pub(crate) fn cancelled() -> bool {
    current_task().is_some_and(Task::is_cancelled)
}

/// Blocks the caller until unparked (or spuriously).
pub(crate) fn park() {
    match current_task() {
        Some(task) => park_task(task),
        None => thread::park(),
    }
}

/// Steps 1, 2 and 5.
fn park_task(task: &Task) {
    use crate::coroutine::{EMPTY, NOTIFIED};
    if task.is_cancelled() {
        return;
    }
    let state = task.state();
    if state
        .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    task.suspend(Suspend::Park);
    state.store(EMPTY, Ordering::Release);
}

/// Blocks the caller until unparked, `deadline` passes, or spuriously.
pub(crate) fn park_deadline(deadline: Instant) {
    let Some(worker) = current_worker().filter(|_| current_task().is_some()) else {
        let now = Instant::now();
        if deadline > now {
            thread::park_timeout(deadline - now);
        }
        return;
    };
    let task = current_arc().expect("checked above");
    let key = worker.timers().insert(deadline, Unparker::Task(task));
    park();
    worker.timers().cancel(key);
}
