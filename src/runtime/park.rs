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
//! 1. `park` tries `NOTIFIED -> EMPTY` (if a load sees `NOTIFIED`). Success
//!    means a wake-up was pending: return without switching.
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
//! # Cancellation (runtime shutdown)
//!
//! A runtime that shuts down must end the coroutines still parked, on their
//! own worker, so that their destructors run. It cannot simply unwind them
//! from where they are parked: a coroutine parked in an I/O hook sits below
//! C-ABI frames (`recv` called by std or by a C library) that must not be
//! unwound through. So cancellation takes one ordinary resume:
//!
//! 1. The worker marks the task cancelled and resumes it, again after each
//!    time it yields, until it returns.
//! 2. From now on `park` returns at once. A hook that was waiting returns
//!    `ECANCELED` to its caller, like any failed system call, without
//!    unwinding; the error travels up as the caller's own error handling
//!    decides.
//! 3. weft's Rust-side suspension points (`sleep`, `yield_now`, `join`, and
//!    later channels and locks) call `checkpoint`, which starts an unwind
//!    (`Cancelled`) from Rust frames, where unwinding is allowed. The
//!    coroutine's entry catches it and reports the cancellation to the
//!    joiner. While the thread is already unwinding (a destructor that
//!    waits), `checkpoint` returns "cancelled" instead and the call returns
//!    at once.
//! 4. The coroutine returns; the worker reclaims its stack.
//! 5. A coroutine that keeps calling weft after `GIVE_UP` cancellations
//!    (a loop that ignores every error) suspends for good
//!    (`Suspend::Abandon`): the worker leaves it unfinished, leaks its stack
//!    and says so on stderr, rather than hang the shutdown.

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
    /// Whether this wakes `task`.
    pub(crate) fn is_task(&self, task: &Task) -> bool {
        matches!(self, Unparker::Task(t) if std::ptr::addr_eq(Arc::as_ptr(t), task))
    }

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

/// Step 4 for a task the caller borrows rather than owns: an `Arc` is
/// taken only when the task was parked and must be scheduled. The borrow
/// must last the whole call (the caller keeps the task from finishing).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn unpark_ref(task: &Task) {
    use crate::coroutine::{NOTIFIED, PARKED};
    if task.state().swap(NOTIFIED, Ordering::AcqRel) == PARKED {
        // SAFETY: every task lives in an `Arc` (made by `Builder::spawn`),
        // and the caller's borrow keeps its count above zero while we add
        // one for the run queue.
        let owned = unsafe {
            Arc::increment_strong_count(task);
            Arc::from_raw(task)
        };
        task.shared.schedule_bound(owned);
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

/// Whether the current coroutine is being cancelled by its runtime's shutdown.
#[inline]
pub(crate) fn cancelled() -> bool {
    current_task().is_some_and(Task::is_cancelled)
}

/// The unwind payload of a cancelled coroutine (step 3).
pub(crate) struct Cancelled;

/// Calls into weft a cancelled coroutine may make before it is abandoned.
const GIVE_UP: u32 = 10_000;

/// Step 3: a Rust-side suspension point. Returns false normally; in a
/// cancelled coroutine it unwinds, or returns true (return at once) if the
/// thread is already unwinding.
#[inline]
pub(crate) fn checkpoint() -> bool {
    match current_task() {
        Some(task) if task.is_cancelled() => cancelled_checkpoint(task),
        _ => false,
    }
}

#[cold]
fn cancelled_checkpoint(task: &Task) -> bool {
    if note_cancelled_call(task) || std::thread::panicking() {
        return true;
    }
    std::panic::resume_unwind(Box::new(Cancelled))
}

/// Counts a call by a cancelled coroutine; past `GIVE_UP` it never returns
/// (step 5). Returns true once it would give up.
pub(crate) fn note_cancelled_call(task: &Task) -> bool {
    if task.note_cancelled_call() > GIVE_UP {
        task.suspend(Suspend::Abandon); // the worker does not resume it again
        return true;
    }
    false
}

/// Blocks the caller until unparked (or spuriously).
#[inline]
pub(crate) fn park() {
    match current_task() {
        Some(task) => park_task(task),
        None => thread::park(),
    }
}

/// Park-protocol steps 1, 2 and 5. Returns at once in a cancelled task.
#[inline]
fn park_task(task: &Task) {
    use crate::coroutine::{EMPTY, NOTIFIED};
    if task.is_cancelled() {
        return;
    }
    let state = task.state();
    // A plain load first: the usual case has no token, and a failed CAS
    // costs as much as a successful one.
    if state.load(Ordering::Relaxed) == NOTIFIED
        && state
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
