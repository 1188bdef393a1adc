//! `Semaphore`: a count of permits whose waiters park.

use std::fmt;
use std::ptr;

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use crate::loom::Lock;
use crate::task::{Kind, WaitFor};

/// A counting semaphore: at most `permits` holders at a time.
///
/// [`acquire`](Semaphore::acquire) parks a coroutine (blocks a thread)
/// until a permit is free and returns a guard that gives the permit back on
/// drop. A released permit goes straight to the oldest waiter.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(2)); // at most two at once
/// let handles: Vec<_> = (0..8)
///     .map(|_| {
///         let sem = sem.clone();
///         weft::go(move || {
///             let _permit = sem.acquire();
///             weft::sleep(std::time::Duration::from_millis(1));
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: Lock<State>,
}

struct State {
    /// Free permits; never above zero while a waiter is queued.
    permits: usize,
    waiters: WaitList,
}

/// A permit of a [`Semaphore`]; given back on drop.
///
/// ```
/// let sem = weft::sync::Semaphore::new(1);
/// let permit = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(permit);
/// assert!(sem.try_acquire().is_some());
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    const_unless_loom! {
        /// A semaphore with `permits` free permits.
        ///
        /// ```
        /// assert_eq!(weft::sync::Semaphore::new(3).available_permits(), 3);
        /// ```
        pub fn new(permits: usize) -> Semaphore {
            Semaphore {
                state: Lock::new(State {
                    permits,
                    waiters: WaitList::new(),
                }),
            }
        }
    }

    /// Takes a permit, waiting for one to be free.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// let _p = sem.acquire();
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        let cx = Context::new(WaitFor::new(Kind::Semaphore, 0));
        loop {
            let mut st = self.state.lock();
            if st.permits > 0 {
                st.permits -= 1;
                return SemaphorePermit { sem: self };
            }
            // SAFETY: `cx` stays in this frame, unlinked again before it
            // goes or registers anew: by a releaser's claim, or by the
            // `unregister` below. `add_permits` reads no packet.
            unsafe { st.waiters.register(&cx, 0, ptr::null_mut()) };
            drop(st);
            match cx.wait(None) {
                // A releaser handed its permit over.
                Outcome::Selected(_) => return SemaphorePermit { sem: self },
                Outcome::TimedOut | Outcome::Cancelled => {
                    self.state.lock().waiters.unregister(&cx);
                    waiter::checkpoint();
                    cx.reset();
                }
            }
        }
    }

    /// Takes a permit if one is free now.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(0);
    /// assert!(sem.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut st = self.state.lock();
        if st.permits == 0 {
            return None;
        }
        st.permits -= 1;
        Some(SemaphorePermit { sem: self })
    }

    /// The number of free permits right now.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(2);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }

    /// Adds `n` permits (to waiters first).
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut st = self.state.lock();
        for given in 0..n {
            match st.waiters.claim() {
                Some(claim) => claim.complete(),
                None => {
                    st.permits += n - given;
                    return;
                }
            }
        }
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good: it is not given back.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SemaphorePermit { .. }")
    }
}
