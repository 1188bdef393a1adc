//! The concurrency primitives under weft's channels and locks, imported from
//! one place so that the same code runs on std normally and on
//! [loom](https://docs.rs/loom) under `RUSTFLAGS="--cfg weft_loom"`, where
//! every interleaving of a small model is explored (`sync/models.rs`).
//! This module only swaps std's types for loom's; what a waiter is and how
//! it parks lives with the wait queue (`sync/waiter.rs`).
//!
//! - `AtomicUsize`, `Ordering`: std's or loom's.
//! - `Lock<T>`: a short-critical-section lock. Normally a spin lock with
//!   backoff (its holders do a few list operations or stores, and never
//!   park or call user code); under loom, loom's `Mutex`.
//! - `spin_wait`, `spin_pause`: one step of a spin that waits for another
//!   thread. Normally a backoff or a CPU pause; under loom, a yield, so
//!   that loom runs the thread being waited for.

#[cfg(weft_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(weft_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(weft_loom))]
pub(crate) use self::std_impl::{spin_pause, spin_wait, Lock, LockGuard};

#[cfg(weft_loom)]
pub(crate) use self::loom_impl::{spin_pause, spin_wait, Lock, LockGuard};

#[cfg(not(weft_loom))]
mod std_impl {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicBool, Ordering};

    use crossbeam_utils::Backoff;

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

    /// One step of a short wait for another thread's store.
    #[inline]
    pub(crate) fn spin_wait(backoff: &Backoff) {
        backoff.snooze();
    }

    /// One pause of such a spin.
    #[inline]
    pub(crate) fn spin_pause() {
        std::hint::spin_loop();
    }
}

#[cfg(weft_loom)]
mod loom_impl {
    use crossbeam_utils::Backoff;
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

    /// Lets loom schedule the thread being waited for.
    pub(crate) fn spin_wait(_: &Backoff) {
        thread::yield_now()
    }

    /// As `spin_wait`.
    pub(crate) fn spin_pause() {
        thread::yield_now()
    }
}
