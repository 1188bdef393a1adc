//! Park and unpark: the one blocking primitive everything else builds on
//! (join, sleep, I/O readiness, channels and locks).
//!
//! A *waiter* is the current coroutine or, on a plain thread, the thread.
//! A park (`park_for`, `park_with` and their deadline forms) blocks it
//! until some `Unparker::unpark()`; both follow the token semantics of
//! `std::thread::park`: an unpark that comes first makes the next park
//! return at once, and a park may return spuriously, so callers loop on
//! their own condition.
//!
//! # Protocol for a coroutine
//!
//! A started coroutine only ever runs on its bound worker, and only the
//! thread that holds that worker (`takeover.rs`) resumes it. So the park
//! state lives in two plain flags that only that thread touches
//! (`Task::parked`, `Task::token`), and wake-ups from other threads reach it
//! through its worker's inbox. ("On its worker" below means "on the thread
//! that holds its worker".) A park and unpark on one worker, the common
//! case for channel partners and locks, take no atomic read-modify-write at
//! all, not even on the task's reference count.
//!
//! 1. `park`: if `token` is set, clear it and return (a wake-up was
//!    pending). Otherwise set `parked` and suspend with `Suspend::Park`. The
//!    worker leaves the strong count of the task's run-queue entry with
//!    `parked` (it forgets its `TaskRef`) and goes on to its next task.
//! 2. An unpark on the task's own worker (a partner coroutine, the
//!    worker's timers or poller): if `parked` is set, clear it and queue the
//!    task in the worker's `next` slot with the count `parked` held;
//!    otherwise (running or already queued) set `token`.
//! 3. An unpark from any other thread pushes the task, with a strong count
//!    of its own, to the worker's inbox and, after a fence, wakes the worker
//!    if it sleeps (`shared.rs`, idle protocol, step 4).
//! 4. The worker drains its inbox between coroutines and wakes each task
//!    as in step 2. A task that was parked then holds two counts, the
//!    inbox's and the one `parked` held: the inbox's goes to the run queue,
//!    and the other is released later (when the next batch arrives, at the
//!    worker's periodic maintenance, or before it sleeps), off the path
//!    that resumes the task: its cache line is still on the waker's core,
//!    and an atomic decrement would wait for it.
//! 5. Resumed inside `park`, the coroutine returns; callers re-check their
//!    condition, since a wake-up may be spurious.
//!
//! Step 1 has a shortcut, the *hand-off* (`Worker::hand_off`): a coroutine
//! about to suspend parked while its worker's `next` slot holds a woken
//! task resumes that task itself, one level deep. If the task wakes it
//! (step 2 puts it in `next`), it takes its entry back out and returns at
//! once; the count that entry held is the one the worker still holds for
//! it. Otherwise (not woken, or queued further back) it suspends as usual.
//! A channel ping-pong then costs two stack switches per round trip instead
//! of four, and never passes through the worker's loop.
//!
//! No wake-up is lost: a local unpark either queues a parked task or leaves
//! `token` for its next park (steps 1 and 2 run on one thread, so they
//! cannot interleave), and a remote one is an inbox entry that the worker
//! drains before it sleeps, which then acts as a local unpark; the inbox's
//! push and pop order what the waker wrote before the wake-up with the
//! task's re-check. No task is queued twice: only a wake that clears
//! `parked` queues it, and only a suspending coroutine sets it. Remote
//! wake-ups are not folded, but each answers one registration of the task
//! (a claimed wait, a finished join), so the inbox stays bounded; one that
//! finds the task running or finished leaves a token. The worker's table of
//! suspended tasks holds a count of its own until the task finishes, so none
//! of these hand-overs can free a task.
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
//! 3. weft's Rust-side suspension points (`sleep`, `yield_now`, `join`,
//!    channels and locks) call `checkpoint`, which starts an unwind
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

use std::thread::{self, Thread};
use std::time::Instant;

use super::shared::Shared;
pub(crate) use super::unparker::Unparker;
use super::worker::Worker;
use super::{current_task, current_worker};
use crate::task::{Suspend, Task, TaskRef, WaitFor};

impl Unparker {
    /// Steps 2 and 3 for a coroutine; `Thread::unpark` for a thread.
    pub(crate) fn unpark(self) {
        match self {
            Unparker::Task(task) => unpark_task(task),
            Unparker::Thread(t) => t.unpark(),
        }
    }
}

/// Steps 2 and 3 for a task the caller owns.
fn unpark_task(task: TaskRef) {
    match own_worker(&task) {
        Some(w) => {
            if task.wake_here() {
                // SAFETY: the count `parked` held is ours now (step 2), and
                // `task` holds another, so this release frees nothing.
                unsafe { TaskRef::decrement(TaskRef::as_ptr(&task)) };
                w.push_woken(task);
            }
        }
        None => Shared::push_remote(task),
    }
}

/// Steps 2 and 3 for a task the caller borrows rather than owns, in two
/// halves. This one needs the borrow: on the task's own worker it does the
/// whole wake-up (the task cannot run before the caller returns to the
/// scheduler); elsewhere it takes a strong count for the inbox. The other
/// half, [`Wake::finish`], needs no borrow, so a waker can let the waiter
/// go (and the task finish) in between: how a `Waiter` is woken
/// (`sync/waiter.rs`; `sync/queue.rs`, step 4).
#[cfg_attr(weft_loom, allow(dead_code))]
#[inline(always)]
pub(crate) fn prepare_unpark_ref(task: &Task) -> Wake {
    match own_worker(task) {
        Some(w) => {
            if task.wake_here() {
                // SAFETY: every task is made by `TaskRef::new`, and the
                // count `parked` held is ours now.
                w.push_woken(unsafe { TaskRef::from_raw(task) });
            }
            Wake::Done
        }
        // SAFETY: as above; the caller's borrow keeps the count above zero
        // while we add one for the inbox.
        None => Wake::Inbox(unsafe {
            TaskRef::increment(task);
            TaskRef::from_raw(task)
        }),
    }
}

/// The second half of waking a `Waiter` (`sync/waiter.rs`): a wake-up
/// prepared by [`prepare_unpark_ref`] (or for a thread), owning what it
/// still needs.
#[cfg_attr(weft_loom, allow(dead_code))]
pub(crate) enum Wake {
    /// Nothing left to do.
    Done,
    /// Push the task to its worker's inbox (step 3).
    Inbox(TaskRef),
    /// Unpark a plain thread.
    Thread(Thread),
}

impl Wake {
    /// Completes the wake-up.
    #[cfg_attr(weft_loom, allow(dead_code))]
    #[inline]
    pub(crate) fn finish(self) {
        match self {
            Wake::Done => {}
            Wake::Inbox(task) => Shared::push_remote(task),
            Wake::Thread(t) => t.unpark(),
        }
    }
}

/// The task's bound worker, if the caller runs on it.
#[inline]
fn own_worker(task: &Task) -> Option<&'static Worker> {
    Shared::of(task)
        .local_worker()
        .filter(|w| w.index == task.worker())
}

/// An `Unparker` for the caller.
pub(crate) fn current() -> Unparker {
    match current_ref() {
        Some(task) => Unparker::Task(task),
        None => Unparker::Thread(thread::current()),
    }
}

/// A counted reference to the running coroutine.
pub(crate) fn current_ref() -> Option<TaskRef> {
    let task: *const Task = current_task()?;
    // SAFETY: the worker holds a reference to the running task (the one it
    // resumed it with), so the count is at least one while we add ours.
    unsafe {
        TaskRef::increment(task);
        Some(TaskRef::from_raw(task))
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

/// `weft::yield_now`: the running coroutine goes to the back of its
/// worker's ready queue; a plain thread yields to the OS.
#[inline]
pub(crate) fn yield_now() {
    match current_task() {
        Some(task) => {
            task.suspend(Suspend::Yield);
            if task.needs_attention() {
                yield_attention(task);
            }
        }
        None => std::thread::yield_now(),
    }
}

/// `yield_now` resumed in a coroutine its runtime is cancelling, or only to
/// capture its backtrace for a dump: kept out of line, and checked after
/// the switch rather than before it, so `yield_now` stays small enough to
/// inline (its switch then sits in the caller's loop, where return
/// prediction survives it).
#[cold]
#[inline(never)]
fn yield_attention(task: &Task) {
    if task.is_tracing() {
        task.trace_and_suspend();
    }
    if task.is_cancelled() {
        checkpoint();
    }
}

/// Blocks the caller until unparked (or spuriously), recording what a
/// coroutine waits for (`task/waiting.rs`).
#[inline]
pub(crate) fn park_for(why: WaitFor) {
    park_with(None::<fn() -> bool>, why);
}

/// `park`, but a coroutine that would suspend calls `spin` (if given)
/// first, if it may spin (`Worker::may_spin`: no task to hand off to,
/// nothing else to run, another worker awake): true means its wait ended
/// meanwhile without a wake-up (a claimant met it spinning), and it
/// returns at once. Plain threads never spin.
#[inline(always)]
pub(crate) fn park_with(spin: Option<impl FnOnce() -> bool>, why: WaitFor) {
    match current_task() {
        Some(task) => park_task(task, spin, why),
        None => thread::park(),
    }
}

/// Park-protocol steps 1 and 5. Returns at once in a cancelled task.
/// `why` is recorded for a dump, with the time (one store, of a load of
/// the coarse clock: no system clock is read here, see `clock.rs`).
#[inline(always)]
fn park_task(task: &Task, spin: Option<impl FnOnce() -> bool>, why: WaitFor) {
    if !task.is_cancelled() && task.prepare_park() {
        let Some(w) = current_worker() else {
            unreachable!("a coroutine off its worker");
        };
        task.set_wait(why, w.shared.clock.now());
        // Its spans leave the thread before another coroutine runs on it,
        // in a hand-off or after the suspension, and come back whichever
        // way it goes on (`task/spans.rs`).
        #[cfg(feature = "tracing")]
        let away = task.spans_leave();
        park_suspend(task, w, spin);
        #[cfg(feature = "tracing")]
        if away {
            task.spans_come_back();
        }
    }
}

/// Park-protocol step 1 once the task is marked parked: a hand-off, a spin
/// or a suspension.
#[inline(always)]
fn park_suspend(task: &Task, w: &Worker, spin: Option<impl FnOnce() -> bool>) {
    if w.hand_off(task) {
        return;
    }
    if spin.is_some_and(|spin| w.may_spin() && spin()) {
        // Not suspended, so `parked` holds no count (the worker still
        // holds the task), and no wake-up can have seen the flag: none
        // runs on this thread while the coroutine spins.
        task.unmark_parked();
        return;
    }
    task.suspend_bare(Suspend::Park);
    if task.is_tracing() {
        task.trace_and_suspend(); // a dump's backtrace (`inspect.rs`, point 4)
    }
}

/// Blocks the caller until unparked, `deadline` passes, or spuriously,
/// recording what a coroutine waits for.
pub(crate) fn park_deadline_for(deadline: Instant, why: WaitFor) {
    park_deadline_with(deadline, None::<fn() -> bool>, why);
}

/// `park_deadline_for` with a spin, as `park_with`.
pub(crate) fn park_deadline_with(
    deadline: Instant,
    spin: Option<impl FnOnce() -> bool>,
    why: WaitFor,
) {
    let Some((worker, me)) = current_worker().zip(current_task()) else {
        let now = Instant::now();
        if deadline > now {
            thread::park_timeout(deadline - now);
        }
        return;
    };
    let task = current_ref().expect("checked above");
    let key = worker.timers().insert(deadline, Unparker::Task(task));
    park_task(me, spin, why);
    worker.timers().cancel(key);
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use std::time::Duration;

    use crate::channel::bounded;
    use crate::{Coroutine, Runtime};

    /// Waits (boundedly) until only `handles` refer to each task: every
    /// reference a park, wake-up or queue entry took was given back.
    fn assert_released(handles: &[Coroutine]) {
        for _ in 0..1000 {
            if handles.iter().all(|c| c.task_refs() == 1) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let refs: Vec<usize> = handles.iter().map(Coroutine::task_refs).collect();
        panic!("task references left over: {refs:?}");
    }

    /// Local wake-ups (a partner on the same worker, the worker's timers)
    /// and remote ones (a plain thread, another worker) hand the run-queue
    /// reference on without leaking or double-freeing it.
    #[test]
    fn wake_ups_give_back_every_task_reference() {
        for workers in [1, 2] {
            let rt = Runtime::builder().workers(workers).build().unwrap();
            let (to_b, from_a) = bounded::<u32>(0);
            let (to_a, from_b) = bounded::<u32>(0);
            let b = rt.spawn(move || {
                for v in from_a.iter() {
                    to_a.send(v + 1).unwrap();
                    crate::sleep(Duration::from_micros(if v % 100 == 0 { 50 } else { 0 }));
                }
            });
            let a = rt.spawn(move || {
                for i in 0..2_000 {
                    to_b.send(i).unwrap();
                    assert_eq!(from_b.recv().unwrap(), i + 1);
                }
            });
            // A coroutine woken from a plain thread, through its inbox.
            let (tx, rx) = bounded::<u32>(0);
            let c = rt.spawn(move || rx.iter().sum::<u32>());
            for i in 0..2_000 {
                tx.send(i).unwrap();
            }
            drop(tx);
            let handles = [
                a.coroutine().clone(),
                b.coroutine().clone(),
                c.coroutine().clone(),
            ];
            a.join().unwrap();
            b.join().unwrap();
            assert_eq!(c.join().unwrap(), (0..2_000).sum::<u32>());
            assert_released(&handles);
        }
    }

    /// Partners bound to two different workers: most wake-ups meet a
    /// spinning waiter (`sync/queue.rs`, step 5), which takes no task
    /// reference and no inbox entry; the others go through the inbox. Every
    /// message arrives, in order, and every reference is given back.
    #[test]
    fn cross_worker_partners_lose_nothing_and_leak_nothing() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let rt = Runtime::builder().workers(2).build().unwrap();
        let arrived = Arc::new(AtomicUsize::new(0));
        // Each partner holds its worker until the other has started, so
        // they start, and stay, on different workers.
        let barrier = |arrived: &AtomicUsize| {
            arrived.fetch_add(1, Ordering::SeqCst);
            let start = std::time::Instant::now();
            while arrived.load(Ordering::SeqCst) < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "partner never started"
                );
                std::hint::spin_loop();
            }
            std::thread::current().id()
        };
        let (to_b, from_a) = bounded::<u32>(0);
        let (to_a, from_b) = bounded::<u32>(0);
        let b = {
            let arrived = arrived.clone();
            rt.spawn(move || {
                let me = barrier(&arrived);
                for v in from_a.iter() {
                    to_a.send(v + 1).unwrap();
                }
                me
            })
        };
        let a = rt.spawn(move || {
            let me = barrier(&arrived);
            let limit = Duration::from_secs(10); // a lost wake-up fails
            for i in 0..20_000 {
                to_b.send_timeout(i, limit).unwrap();
                assert_eq!(from_b.recv_timeout(limit).unwrap(), i + 1);
            }
            me
        });
        let handles = [a.coroutine().clone(), b.coroutine().clone()];
        let (ta, tb) = (a.join().unwrap(), b.join().unwrap());
        assert_ne!(ta, tb, "the partners shared a worker");
        assert_released(&handles);
    }

    /// A coroutine still parked when its runtime shuts down is unwound, and
    /// the reference its park kept is given back.
    #[test]
    fn shutdown_gives_back_a_parked_task_reference() {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let (tx, rx) = bounded::<()>(0);
        let (started_tx, started) = bounded::<()>(1);
        let h = rt.spawn(move || {
            started_tx.send(()).unwrap();
            rx.recv()
        });
        let handle = h.coroutine().clone();
        started.recv().unwrap();
        // Time to reach its park in `recv` (it does in microseconds).
        std::thread::sleep(Duration::from_millis(50));
        drop(rt);
        assert!(h.join().is_err(), "cancelled at shutdown");
        assert_released(&[handle]);
        drop(tx);
    }
}
