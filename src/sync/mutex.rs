//! `Mutex`: a lock whose waiters park.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr;

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use crate::loom::{AtomicUsize, Lock, Ordering};
use crate::task::Owner;
use crate::task::{Kind, WaitFor};

/// Held by a guard.
const LOCKED: usize = 1;
/// Waiters are queued: an unlock must hand the lock to the oldest.
const QUEUED: usize = 2;

/// A mutual-exclusion lock for coroutines and threads.
///
/// `lock` parks a coroutine that has to wait (its worker runs others) and
/// blocks a plain thread. A guard may be held across any park: I/O,
/// [`sleep`](crate::sleep), a channel operation. A `std::sync::Mutex` works
/// in a coroutine too, but a waiter for it blocks in the kernel: its worker
/// goes on only by handing itself to a spare thread (ARCHITECTURE.md, "A
/// blocking call: taking over a worker"), one OS thread per such waiter.
/// This one parks the waiter instead, at the cost of a switch.
///
/// There is no poisoning: a panic while holding the guard unlocks it.
/// Waiters get the lock in arrival order: an unlock hands it to the oldest
/// waiter directly.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use weft::sync::Mutex;
///
/// let count = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..10)
///     .map(|_| {
///         let count = count.clone();
///         weft::go(move || {
///             let mut n = count.lock();
///             weft::sleep(Duration::from_millis(1)); // parks, lock held
///             *n += 1;
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*count.lock(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    /// `LOCKED | QUEUED` bits. `QUEUED` is changed only under `waiters`.
    state: AtomicUsize,
    /// The holder, for dumps (`task/owner.rs`).
    owner: Owner,
    waiters: Lock<WaitList>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one guard at a time, so it may move
// and be shared between threads when `T` may move (as `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]; unlocks it on drop.
///
/// ```
/// let m = weft::sync::Mutex::new(vec![1]);
/// m.lock().push(2);
/// assert_eq!(*m.lock(), [1, 2]);
/// ```
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Send and Sync exactly when `&mut T` is.
    _marker: PhantomData<&'a mut T>,
}

impl<T> Mutex<T> {
    const_unless_loom! {
        /// A new, unlocked mutex.
        ///
        /// ```
        /// static NAMES: weft::sync::Mutex<Vec<String>> = weft::sync::Mutex::new(Vec::new());
        /// NAMES.lock().push("a".into());
        /// ```
        pub fn new(value: T) -> Mutex<T> {
            Mutex {
                state: AtomicUsize::new(0),
                owner: Owner::new(),
                waiters: Lock::new(WaitList::new()),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the mutex, returning the value.
    ///
    /// ```
    /// assert_eq!(weft::sync::Mutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting (parked, in a coroutine) while another holds it.
    ///
    /// The lock is not reentrant: locking it again while holding it waits
    /// for ever.
    ///
    /// ```
    /// let m = weft::sync::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        } else {
            self.owner.set_here();
        }
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// Locks if that needs no waiting.
    ///
    /// ```
    /// let m = weft::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| {
                self.owner.set_here();
                MutexGuard {
                    mutex: self,
                    _marker: PhantomData,
                }
            })
    }

    /// A mutable reference, without locking: `&mut self` proves no guard
    /// exists.
    ///
    /// ```
    /// let mut m = weft::sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[cold]
    fn lock_contended(&self) {
        let cx = Context::new(WaitFor::at(Kind::Mutex, &self.owner));
        // Counted among the runtime's lock waiters (the deadlock watch).
        let _waiting = waiter::lock_wait();
        loop {
            let mut waiters = self.waiters.lock();
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                // Free after all: take it. Else mark the queue, then wait.
                let (next, acquires) = if state & LOCKED == 0 {
                    (state | LOCKED, true)
                } else {
                    (state | QUEUED, false)
                };
                match self.state.compare_exchange_weak(
                    state,
                    next,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) if acquires => {
                        self.owner.set_here();
                        return;
                    }
                    Ok(_) => break,
                    Err(actual) => state = actual,
                }
            }
            // SAFETY: `cx` stays in this frame, unlinked again before it
            // goes or registers anew: by the unlocker's claim, or by the
            // `unregister` below. A mutex's claimants read no packet.
            unsafe { waiters.register(&cx, 0, ptr::null_mut()) };
            drop(waiters);
            match cx.wait(None) {
                // The unlocker handed the lock over.
                Outcome::Selected(_) => return,
                Outcome::TimedOut | Outcome::Cancelled => {
                    let mut waiters = self.waiters.lock();
                    waiters.unregister(&cx);
                    if waiters.is_empty() {
                        self.state.fetch_and(!QUEUED, Ordering::Relaxed);
                    }
                    drop(waiters);
                    // Unwinds; a coroutine unwinding already tries again
                    // (and is abandoned if it keeps on).
                    waiter::checkpoint();
                    cx.reset();
                }
            }
        }
    }

    #[inline]
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_contended();
        }
    }

    #[cold]
    fn unlock_contended(&self) {
        let mut waiters = self.waiters.lock();
        match waiters.claim() {
            Some(claim) => {
                // The lock stays LOCKED and passes to the claimed waiter;
                // its wake-up (Release) publishes our writes to it.
                if waiters.is_empty() {
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                self.owner.set(claim.waiter_addr());
                claim.complete();
            }
            // Only stale entries (waiters that gave up) were left.
            None => self.state.store(0, Ordering::Release),
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, by this guard alone.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds (for `Condvar`).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
