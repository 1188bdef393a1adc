//! The concurrency primitives under weft's channels and locks, imported from
//! one place so that the same code runs on std and weft's runtime normally
//! and on [loom](https://docs.rs/loom) under `RUSTFLAGS="--cfg weft_loom"`, where
//! every interleaving of a small model is explored (`src/sync/models.rs`).
//!
//! - `AtomicUsize`, `Ordering`: std's or loom's.
//! - `Lock<T>`: a short-critical-section lock. Normally a spin lock with
//!   backoff (a critical section here is a few list operations and never
//!   parks or calls user code); under loom, loom's `Mutex`.
//! - `Parker`: the identity of a waiter that can be woken: the current
//!   coroutine or plain thread normally, a loom thread under loom.

#[cfg(weft_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(weft_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(weft_loom))]
pub(crate) use self::std_impl::{
    cancelled, checkpoint, lock_wait, park_deadline_with, park_with, spin_pause, spin_wait, Lock,
    LockGuard, Parker,
};

#[cfg(weft_loom)]
pub(crate) use self::loom_impl::{
    cancelled, checkpoint, lock_wait, park_deadline_with, park_with, spin_pause, spin_wait, Lock,
    LockGuard, Parker,
};

#[cfg(not(weft_loom))]
mod std_impl {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::{self, Thread};
    use std::time::Instant;

    use crossbeam_utils::Backoff;

    pub(crate) use crate::runtime::park::Wake;
    use crate::runtime::{current_task, park as rt};
    use crate::task::{Task, WaitFor};

    /// A spin lock for critical sections of a few instructions.
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out `&mut T` to one holder at a time (the
    // Acquire/Release pair on `locked` orders their accesses), so it is as
    // thread-safe as a `Mutex<T>`: `Send` and `Sync` when `T: Send`.
    unsafe impl<T: Send> Send for Lock<T> {}
    // SAFETY: see above.
    unsafe impl<T: Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Lock<T> {
            Lock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            LockGuard { lock: self }
        }

        #[cold]
        fn lock_contended(&self) {
            let backoff = Backoff::new();
            loop {
                // Spin on a plain load (no cache-line ping-pong), then
                // yield the thread: the holder may have been preempted.
                while self.locked.load(Ordering::Relaxed) {
                    backoff.snooze();
                }
                if self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }
    }

    /// Holds a [`Lock`]; unlocks on drop.
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: this guard is the lock's only holder.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: this guard is the lock's only holder.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            self.lock.locked.store(false, Ordering::Release);
        }
    }

    /// Wakes one waiter: the coroutine or thread that made it.
    pub(crate) enum Parker {
        /// A coroutine, by address: no reference count is taken. A waiter
        /// stays in its wait until its waker is done with the `Parker`
        /// (`sync/queue.rs`, step 4), and a waiting task is alive.
        Task(NonNull<Task>),
        Thread(Thread),
    }

    impl Parker {
        /// The caller's parker.
        #[inline]
        pub(crate) fn current() -> Parker {
            match current_task() {
                Some(task) => Parker::Task(NonNull::from(task)),
                None => Parker::Thread(thread::current()),
            }
        }

        /// Starts unparking the waiter: takes what the wake-up needs, so
        /// that the waiter may stop waiting (and drop this parker) before
        /// the returned [`Wake`] is finished.
        #[inline(always)]
        pub(crate) fn prepare_unpark(&self) -> Wake {
            match self {
                // SAFETY: the task is alive: see the field's comment.
                Parker::Task(task) => rt::prepare_unpark_ref(unsafe { task.as_ref() }),
                Parker::Thread(t) => Wake::Thread(t.clone()),
            }
        }
    }

    /// Parks the caller until unparked, or spuriously; `spin` first, if
    /// given and the caller may spin (true: do not park). See
    /// `runtime::park::park_with`.
    #[inline(always)]
    pub(crate) fn park_with(spin: Option<impl FnOnce() -> bool>, why: WaitFor) {
        rt::park_with(spin, why)
    }

    /// Parks the caller until unparked, `deadline`, or spuriously; `spin`
    /// as above.
    pub(crate) fn park_deadline_with(
        deadline: Instant,
        spin: Option<impl FnOnce() -> bool>,
        why: WaitFor,
    ) {
        rt::park_deadline_with(deadline, spin, why)
    }

    /// One step of a short wait for another thread's store.
    #[inline]
    pub(crate) fn spin_wait(backoff: &Backoff) {
        backoff.snooze();
    }

    /// Counts the calling coroutine among its runtime's lock waiters until
    /// the guard drops (`runtime/watchdog.rs`); `None` on a plain thread.
    pub(crate) fn lock_wait() -> Option<crate::runtime::LockWait> {
        crate::runtime::LockWait::begin()
    }

    /// One pause of such a spin.
    #[inline]
    pub(crate) fn spin_pause() {
        std::hint::spin_loop();
    }

    /// Whether the caller is a coroutine its runtime is cancelling.
    #[inline]
    pub(crate) fn cancelled() -> bool {
        rt::cancelled()
    }

    /// A cancellation point (`runtime/park.rs`, cancellation step 3):
    /// unwinds a cancelled coroutine, or returns true if it is unwinding
    /// already; returns false otherwise.
    #[inline]
    pub(crate) fn checkpoint() -> bool {
        rt::checkpoint()
    }
}

#[cfg(weft_loom)]
mod loom_impl {
    use std::time::Instant;

    use std::sync::Arc;

    use crossbeam_utils::Backoff;
    use loom::sync::{Condvar, Mutex};

    use crate::task::WaitFor;
    use loom::thread;

    /// loom's `Mutex`, with the spin lock's interface.
    pub(crate) struct Lock<T>(loom::sync::Mutex<T>);

    pub(crate) type LockGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    /// A park token per loom thread, kept under a loom `Mutex`. (loom's own
    /// `unpark` would also make runnable a thread that is blocked on a
    /// mutex, which no real thread does.)
    #[derive(Clone)]
    pub(crate) struct Parker(Arc<(Mutex<bool>, Condvar)>);

    loom::thread_local! {
        static CURRENT: Parker = Parker(Arc::new((Mutex::new(false), Condvar::new())));
    }

    impl Parker {
        pub(crate) fn current() -> Parker {
            CURRENT.with(Parker::clone)
        }

        /// As in the real runtime: what the wake-up needs, taken first.
        pub(crate) fn prepare_unpark(&self) -> Wake {
            Wake(self.clone())
        }
    }

    /// A prepared wake-up.
    pub(crate) struct Wake(Parker);

    impl Wake {
        pub(crate) fn finish(self) {
            *self.0 .0 .0.lock().unwrap() = true;
            self.0 .0 .1.notify_one();
        }
    }

    /// Models always spin (when given a spin) before they park, so that
    /// loom explores claims that meet a spinning waiter.
    pub(crate) fn park_with(spin: Option<impl FnOnce() -> bool>, _: WaitFor) {
        if spin.is_some_and(|spin| spin()) {
            return;
        }
        let me = Parker::current();
        let mut token = me.0 .0.lock().unwrap();
        while !*token {
            token = me.0 .1.wait(token).unwrap();
        }
        *token = false;
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
    pub(crate) fn lock_wait() {}

    /// Lets loom schedule the thread being waited for.
    pub(crate) fn spin_wait(_: &Backoff) {
        thread::yield_now()
    }

    pub(crate) fn spin_pause() {
        thread::yield_now()
    }

    /// Models have no runtime to cancel them.
    pub(crate) fn cancelled() -> bool {
        false
    }

    pub(crate) fn checkpoint() -> bool {
        false
    }
}
