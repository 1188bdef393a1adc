//! The waiter of a wait queue (`queue.rs`): who it is, so that a claimant
//! can wake it, and what it asks of the runtime while it waits (to park,
//! whether it is cancelled, to be counted as a lock waiter).
//!
//! Three types wake a parked coroutine or thread, each for one job:
//!
//! - `runtime::park::Unparker` owns a counted task reference or a thread
//!   handle, so it stays valid however long it is kept. Timers, the I/O
//!   poller and joins keep one for each waiter.
//! - [`Waiter`] (here) is the uncounted identity of a waiter: the address
//!   of its task, or its thread. It sits in the waiter's wait-queue
//!   `Context`, on the waiter's own stack, and a claimant reads it while
//!   the waiter is held in its wait (queue protocol, step 4). Taking no
//!   count keeps a wait and its wake-up on one worker free of atomic
//!   read-modify-writes on the task (`runtime/park.rs`).
//! - `runtime::park::Wake` is the second half of waking a [`Waiter`]:
//!   [`Waiter::prepare_wake`] takes what the wake-up still needs (a count
//!   of the task, for a waiter on another worker) while the waiter is held,
//!   and the `Wake` finishes the wake-up after the waiter may have left.
//!
//! Everything here comes in two variants, side by side below: one on
//! weft's runtime, and one under loom (`RUSTFLAGS="--cfg weft_loom"`),
//! where every waiter is a loom thread with a park token of its own, its
//! `Wake` is this file's, and no runtime cancels or counts anything.

#[cfg(weft_loom)]
pub(crate) use self::model::{
    cancelled, checkpoint, lock_wait, park_deadline_with, park_with, Waiter,
};
#[cfg(not(weft_loom))]
pub(crate) use self::rt::{
    cancelled, checkpoint, lock_wait, park_deadline_with, park_with, Waiter,
};

/// On weft's runtime: a waiter is the current coroutine or plain thread.
#[cfg(not(weft_loom))]
mod rt {
    use std::ptr::NonNull;
    use std::thread::{self, Thread};
    use std::time::Instant;

    use crate::runtime::park::{self, Wake};
    use crate::runtime::{current_task, LockWait};
    use crate::task::{Task, WaitFor};

    /// Who waits: the identity a claimant wakes.
    pub(crate) enum Waiter {
        /// A coroutine, by address: no reference count is taken. A waiter
        /// stays in its wait until its claimant is done with the `Waiter`
        /// (`queue.rs`, step 4), and a waiting task is alive.
        Task(NonNull<Task>),
        /// A plain thread.
        Thread(Thread),
    }

    impl Waiter {
        /// The caller.
        #[inline]
        pub(crate) fn current() -> Waiter {
            match current_task() {
                Some(task) => Waiter::Task(NonNull::from(task)),
                None => Waiter::Thread(thread::current()),
            }
        }

        /// The first half of waking the waiter: takes what the wake-up
        /// needs, so that the waiter may stop waiting (and drop this
        /// `Waiter`) before the returned [`Wake`] is finished.
        #[inline(always)]
        pub(crate) fn prepare_wake(&self) -> Wake {
            match self {
                // SAFETY: the task is alive: see the field's comment.
                Waiter::Task(task) => park::prepare_unpark_ref(unsafe { task.as_ref() }),
                Waiter::Thread(t) => Wake::Thread(t.clone()),
            }
        }
    }

    /// Parks the caller until woken, or spuriously; `spin` first, if given
    /// and the caller may spin (true: do not park). See
    /// `runtime::park::park_with`.
    #[inline(always)]
    pub(crate) fn park_with(spin: Option<impl FnOnce() -> bool>, why: WaitFor) {
        park::park_with(spin, why)
    }

    /// Parks the caller until woken, `deadline`, or spuriously; `spin` as
    /// above.
    pub(crate) fn park_deadline_with(
        deadline: Instant,
        spin: Option<impl FnOnce() -> bool>,
        why: WaitFor,
    ) {
        park::park_deadline_with(deadline, spin, why)
    }

    /// Counts the calling coroutine among its runtime's lock waiters until
    /// the guard drops (`runtime/watchdog.rs`); `None` on a plain thread.
    pub(crate) fn lock_wait() -> Option<LockWait> {
        LockWait::begin()
    }

    /// Whether the caller is a coroutine its runtime is cancelling.
    #[inline]
    pub(crate) fn cancelled() -> bool {
        park::cancelled()
    }

    /// A cancellation point (`runtime/park.rs`, cancellation step 3):
    /// unwinds a cancelled coroutine, or returns true if it is unwinding
    /// already; returns false otherwise.
    #[inline]
    pub(crate) fn checkpoint() -> bool {
        park::checkpoint()
    }
}

/// Under loom: a waiter is a loom thread.
#[cfg(weft_loom)]
mod model {
    use std::sync::Arc;
    use std::time::Instant;

    use loom::sync::{Condvar, Mutex};

    use crate::task::WaitFor;

    /// A loom thread's park token, kept under a loom `Mutex`. (loom's own
    /// `unpark` would also make runnable a thread that is blocked on a
    /// mutex, which no real thread does.)
    #[derive(Clone)]
    pub(crate) struct Waiter(Arc<(Mutex<bool>, Condvar)>);

    loom::thread_local! {
        static CURRENT: Waiter = Waiter(Arc::new((Mutex::new(false), Condvar::new())));
    }

    impl Waiter {
        pub(crate) fn current() -> Waiter {
            CURRENT.with(Waiter::clone)
        }

        /// As on the runtime: what the wake-up needs, taken first.
        pub(crate) fn prepare_wake(&self) -> Wake {
            Wake(self.clone())
        }
    }

    /// A prepared wake-up.
    pub(crate) struct Wake(Waiter);

    impl Wake {
        pub(crate) fn finish(self) {
            let (token, cv) = &*(self.0).0;
            *token.lock().unwrap() = true;
            cv.notify_one();
        }
    }

    /// Models always spin (when given a spin) before they park, so that
    /// loom explores claims that meet a spinning waiter.
    pub(crate) fn park_with(spin: Option<impl FnOnce() -> bool>, _: WaitFor) {
        if spin.is_some_and(|spin| spin()) {
            return;
        }
        let me = Waiter::current();
        let (token, cv) = &*me.0;
        let mut set = token.lock().unwrap();
        while !*set {
            set = cv.wait(set).unwrap();
        }
        *set = false;
    }

    /// loom has no clock: models never time out.
    pub(crate) fn park_deadline_with(
        _: Instant,
        spin: Option<impl FnOnce() -> bool>,
        why: WaitFor,
    ) {
        park_with(spin, why)
    }

    /// Models have no runtime whose lock waiters to count.
    pub(crate) fn lock_wait() -> Option<LockWait> {
        None
    }

    /// Never made: stands for the runtime's count of a lock waiter.
    pub(crate) struct LockWait;

    /// Models have no runtime to cancel them.
    pub(crate) fn cancelled() -> bool {
        false
    }

    /// As `cancelled`.
    pub(crate) fn checkpoint() -> bool {
        false
    }
}
