//! `Condvar`: waiting for a condition under a [`Mutex`](super::Mutex).

use std::fmt;
use std::ptr;
use std::time::{Duration, Instant};

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use super::MutexGuard;
use crate::loom::Lock;
use crate::task::{Kind, WaitFor};

/// A condition variable for [`Mutex`](super::Mutex): a coroutine waiting on
/// it parks, a thread blocks.
///
/// Wake-ups between the check of a condition and the wait are not lost: the
/// waiter is queued before the mutex is unlocked. As with every condition
/// variable, check the condition in a loop (or use [`Condvar::wait_while`]).
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// weft::go(move || {
///     *pair2.0.lock() = true;
///     pair2.1.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let mut ready = ready.lock();
/// while !*ready {
///     ready = cv.wait(ready);
/// }
/// ```
pub struct Condvar {
    waiters: Lock<WaitList>,
}

/// Whether a [`Condvar::wait_timeout`] returned because of its timeout.
///
/// ```
/// use std::time::Duration;
/// let m = weft::sync::Mutex::new(());
/// let cv = weft::sync::Condvar::new();
/// let (_g, res): (_, weft::sync::WaitTimeoutResult) = cv.wait_timeout(m.lock(), Duration::ZERO);
/// assert!(res.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait timed out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = weft::sync::Mutex::new(());
    /// let cv = weft::sync::Condvar::new();
    /// let (_g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(1));
    /// assert!(res.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    const_unless_loom! {
        /// A condition variable with no waiters.
        ///
        /// ```
        /// let cv = weft::sync::Condvar::new();
        /// cv.notify_all(); // nobody waits: nothing happens
        /// ```
        pub fn new() -> Condvar {
            Condvar {
                waiters: Lock::new(WaitList::new()),
            }
        }
    }

    /// Unlocks `guard`'s mutex, waits for a notification, and locks it
    /// again. May return without a notification (spuriously).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use weft::sync::{Condvar, Mutex};
    /// let state = Arc::new((Mutex::new(0), Condvar::new()));
    /// let s = state.clone();
    /// weft::go(move || {
    ///     *s.0.lock() = 1;
    ///     s.1.notify_all();
    /// });
    /// let mut n = state.0.lock();
    /// while *n == 0 {
    ///     n = state.1.wait(n);
    /// }
    /// assert_eq!(*n, 1);
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until(guard, None).0
    }

    /// Waits while `condition` holds.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use weft::sync::{Condvar, Mutex};
    /// let state = Arc::new((Mutex::new(3), Condvar::new()));
    /// for _ in 0..3 {
    ///     let s = state.clone();
    ///     weft::go(move || {
    ///         *s.0.lock() -= 1;
    ///         s.1.notify_all();
    ///     });
    /// }
    /// let left = state.1.wait_while(state.0.lock(), |n| *n > 0);
    /// assert_eq!(*left, 0);
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`Condvar::wait`], giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = weft::sync::Mutex::new(());
    /// let cv = weft::sync::Condvar::new();
    /// let (_guard, res) = cv.wait_timeout(m.lock(), Duration::from_millis(5));
    /// assert!(res.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let (guard, timed_out) = self.wait_until(guard, Instant::now().checked_add(timeout));
        (guard, WaitTimeoutResult(timed_out))
    }

    /// Wakes one waiter, the oldest, if any.
    ///
    /// ```
    /// weft::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        if let Some(claim) = self.waiters.lock().claim() {
            claim.complete();
        }
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// weft::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let mut waiters = self.waiters.lock();
        while let Some(claim) = waiters.claim() {
            claim.complete();
        }
    }

    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        let mutex = guard.mutex();
        let cx = Context::new(WaitFor::new(Kind::Condvar, 0));
        // Queued before the unlock: a notify after it finds us.
        // SAFETY: `cx` stays in this frame, unlinked before it goes: by a
        // notifier's claim, or by the `unregister` below. Notifiers read
        // no packet.
        unsafe { self.waiters.lock().register(&cx, 0, ptr::null_mut()) };
        drop(guard);
        let outcome = cx.wait(deadline);
        if !matches!(outcome, Outcome::Selected(_)) {
            self.waiters.lock().unregister(&cx);
        }
        let guard = mutex.lock();
        if matches!(outcome, Outcome::Cancelled) {
            // Unwinds (dropping the guard), unless unwinding already.
            waiter::checkpoint();
        }
        (guard, matches!(outcome, Outcome::TimedOut))
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
