//! A worker as a domain that its threads take turns holding (the protocol
//! is `takeover.rs`'s): the `Domain` value, what a spare thread runs, and a
//! coroutine's blocking call, while which another thread of the worker may
//! take it over (steps 1, 2 and 4, from the caller's side).

use std::sync::Arc;

use super::park;
use super::shared::Shared;
use super::takeover::Hold;
use super::worker::Worker;
use super::{current_task, current_worker};
use crate::sys;
use crate::task::{Call, Task, WaitFor};

/// A worker's `Worker`, shared by the worker's threads.
///
/// `Worker` is full of `Cell`s and `RefCell`s: it is not `Sync`, and it is
/// touched only by the thread that holds the worker. That thread changes
/// only at the hand-overs of the protocol (`takeover.rs`), each a release
/// by the former holder (or the monitor's CAS, after the holder's release
/// in step 1) and an acquire by the next, so every access to `Worker`
/// happens-before the next holder's first.
pub(crate) struct Domain(Worker);

// SAFETY: see above: one thread at a time uses the `Worker`, and the
// hand-overs order their accesses. Its `!Send` parts (the `TaskRef`s of
// bound tasks, the deque's owner half) never leave the worker's threads.
unsafe impl Send for Domain {}
// SAFETY: as above.
unsafe impl Sync for Domain {}

impl Domain {
    /// The domain of `worker`, made on the worker's first thread, which
    /// holds it (seat 0). Notes the thread's CPU clock, and leaves the
    /// worker's take-over state what a spare thread runs: this domain's
    /// loop.
    pub(crate) fn start(worker: Worker) -> Arc<Domain> {
        let domain = Arc::new(Domain(worker));
        let takeover = &domain.0.remote().takeover;
        takeover.note_first_thread();
        let spare = domain.clone();
        takeover.set_spare_main(Arc::new(move || {
            // The overflow handler and the panic hook are the process's,
            // installed by the worker's first thread (`builder.rs`) before
            // any coroutine of it could block: a spare thread needs only
            // its own alternate stack.
            crate::stack::ensure_altstack();
            spare.0.run();
        }));
        domain
    }

    /// The worker state, for the thread that holds it.
    pub(crate) fn local(&self) -> &Worker {
        &self.0
    }
}

/// A blocking call in progress on a thread that holds its worker (steps 1
/// and 2), made by [`BlockingCall::enter`].
#[must_use = "a blocking call must be left"]
pub(crate) struct BlockingCall {
    local: &'static Worker,
    task: &'static Task,
    word: Hold,
}

impl BlockingCall {
    /// Step 1, for a call about to wait in the kernel, named `call` in a
    /// dump. `None` where there is nothing to take over: on plain threads
    /// (and on runtime threads outside coroutines: the scheduler's own
    /// poller wait).
    #[inline]
    pub(crate) fn enter(call: &'static Call) -> Option<BlockingCall> {
        let task = current_task()?;
        if task.is_blocked() {
            // A signal handler that interrupted this coroutine's blocking
            // call makes a call of its own: it runs plainly, on the thread
            // the handler runs on. Step 1 again would overwrite the word of
            // the call in progress, and the worker may already be taken
            // over (this thread no longer holds it).
            return None;
        }
        let local = current_worker()?;
        Some(Self::enter_in(local, task, call))
    }

    #[inline(never)]
    fn enter_in(local: &'static Worker, task: &'static Task, call: &'static Call) -> BlockingCall {
        if local.in_hand_off() {
            // `takeover.rs`, "Hand-offs".
            pin_yield(local);
        }
        // Before the word: whoever holds the worker next sees the task
        // blocked, and leaves it to this thread. Before the table too: a
        // signal handler that interrupts what follows makes its calls
        // plainly (`enter`), never entering the table while it is borrowed
        // (`takeover.rs`, "Signal handlers").
        task.set_blocked(true);
        // In the worker's table, with what it waits for, so that whoever
        // holds the worker meanwhile can report it (`probe.rs`).
        local.track_blocked(task);
        task.set_wait(WaitFor::blocking(call), local.shared.clock.now());
        let word = local.remote().takeover.enter_call();
        local.shared.monitor.watch();
        BlockingCall { local, task, word }
    }

    /// Step 2 (or 4): returns once this thread holds the worker again.
    #[inline]
    pub(crate) fn leave(self) {
        if !self.local.remote().takeover.leave_call(self.word) {
            self.come_back();
            // The holders meanwhile ran other coroutines (`worker.rs`,
            // "Which worker a thread runs").
            self.local.set_running(Some(self.task));
        }
        self.task.set_blocked(false);
    }

    /// Step 4: the worker was taken; wait to be given it back.
    #[cold]
    fn come_back(&self) {
        let remote = self.local.remote();
        if let Some(returning) = remote.takeover.queue_return(self.word) {
            // The holder looks for a returning seat at its switch points;
            // one asleep in its poller must wake up to do so.
            Shared::wake_worker(remote);
            returning.wait();
        }
    }
}

/// Yields the running coroutine, a hand-off's, so that this thread resumes
/// it next, before any switch point: it leaves its partner's resume without
/// leaving its thread (`takeover.rs`, "Hand-offs").
#[cold]
fn pin_yield(local: &Worker) {
    local.pin_next();
    park::yield_now();
}

/// Runs `call`, a raw system call (`sys::raw::syscall6`'s answer), as a
/// blocking call named `name` in a dump: the worker may be taken over while
/// it waits. Returns the libc-style result, with `errno` set only after
/// this thread holds the worker again (`takeover.rs`, soundness, point 3).
#[inline]
pub(crate) fn blocking_syscall(
    name: &'static Call,
    call: impl FnOnce() -> libc::c_long,
) -> libc::c_long {
    sys::raw::cvt_raw(blocking_call(name, call))
}

/// Runs `call` as a blocking call (named `name` in a dump) and returns its
/// answer. `call` must not touch a thread-local while it waits
/// (`takeover.rs`, soundness, point 3): a raw system call, or one of libc's
/// pthread waits, which report through their return value
/// (`hook/pthread.rs`).
#[inline]
pub(crate) fn blocking_call<R>(name: &'static Call, call: impl FnOnce() -> R) -> R {
    match BlockingCall::enter(name) {
        None => call(),
        Some(blocking) => {
            let r = call();
            blocking.leave();
            r
        }
    }
}
