//! `WaitGroup`: waiting until a set of tasks is done.

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use crate::loom::{AtomicUsize, Lock, Ordering};
use crate::task::{Kind, WaitFor};

/// Waits until every clone of it is dropped (crossbeam's `WaitGroup`, Go's
/// `sync.WaitGroup`): hand a clone to each task, drop it when the task is
/// done, and [`wait`](WaitGroup::wait) on the original.
///
/// ```
/// use weft::sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// for _ in 0..100 {
///     let wg = wg.clone();
///     weft::go(move || {
///         // ... work ...
///         drop(wg);
///     });
/// }
/// wg.wait(); // parks until all 100 clones are dropped
/// ```
pub struct WaitGroup {
    /// An `Arc<Inner>` in raw form. The handles do not count in the `Arc`
    /// one by one: together they own one strong reference, which the
    /// handle that takes `count` to zero gives up. So a clone or a drop is
    /// one atomic operation, on `count`, instead of two.
    inner: NonNull<Inner>,
}

// SAFETY: a handle is a share of an `Arc<Inner>`, and `Inner` is
// `Send + Sync` (atomics, and a wait list under its lock).
unsafe impl Send for WaitGroup {}
// SAFETY: as above; `&WaitGroup` only allows `clone` and `Debug`.
unsafe impl Sync for WaitGroup {}

struct Inner {
    /// Live `WaitGroup` handles. Cloning and dropping only touch this; the
    /// handle that takes it to zero then wakes the waiters, under `waiters`'
    /// lock, which a waiter holds while it checks the count and registers.
    count: AtomicUsize,
    waiters: Lock<WaitList>,
}

impl WaitGroup {
    /// A wait group with one handle, this one.
    ///
    /// ```
    /// let wg = weft::sync::WaitGroup::new();
    /// wg.wait(); // no other handle: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        let inner = Arc::new(Inner {
            count: AtomicUsize::new(1),
            waiters: Lock::new(WaitList::new()),
        });
        let inner = Arc::into_raw(inner).cast_mut();
        WaitGroup {
            inner: NonNull::new(inner).expect("an `Arc` is not at address zero"),
        }
    }

    fn inner(&self) -> &Inner {
        // SAFETY: while a handle lives, `count` is above zero and the
        // handles' strong reference keeps `Inner` alive.
        unsafe { self.inner.as_ref() }
    }

    /// Drops this handle and waits until every other one is dropped.
    ///
    /// ```
    /// let wg = weft::sync::WaitGroup::new();
    /// let wg2 = wg.clone();
    /// std::thread::spawn(move || drop(wg2));
    /// wg.wait();
    /// ```
    pub fn wait(self) {
        // A reference of our own: dropping the last handle below gives up
        // the handles' one.
        // SAFETY: `self` keeps the handles' strong reference alive, so the
        // count is above zero while we add ours.
        let inner = unsafe {
            Arc::increment_strong_count(self.inner.as_ptr());
            Arc::from_raw(self.inner.as_ptr())
        };
        drop(self);
        let cx = Context::new(WaitFor::new(Kind::WaitGroup, 0));
        loop {
            {
                let mut waiters = inner.waiters.lock();
                // Checked under the lock: a last drop after this check
                // takes the lock after us and finds our entry.
                if inner.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                cx.reset();
                // SAFETY: `cx` stays in this frame, unlinked again before
                // it goes or registers anew: by the last drop's claim, or
                // by the `unregister` below. `release` reads no packet.
                unsafe { waiters.register(&cx, 0, ptr::null_mut()) };
            }
            match cx.wait(None) {
                Outcome::Selected(_) => return,
                Outcome::TimedOut | Outcome::Cancelled => {
                    inner.waiters.lock().unregister(&cx);
                    // Unwinds, or (unwinding already) waits on.
                    waiter::checkpoint();
                }
            }
        }
    }
}

impl Inner {
    /// Drops one handle; the last one wakes the waiters and returns true.
    fn release(&self) -> bool {
        if self.count.fetch_sub(1, Ordering::AcqRel) != 1 {
            return false;
        }
        let mut waiters = self.waiters.lock();
        while let Some(claim) = waiters.claim() {
            claim.complete();
        }
        true
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl Clone for WaitGroup {
    fn clone(&self) -> Self {
        self.inner().count.fetch_add(1, Ordering::Relaxed);
        WaitGroup { inner: self.inner }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        if self.inner().release() {
            // SAFETY: the last handle gives up the handles' strong
            // reference, taken from `Arc::into_raw` in `new`.
            drop(unsafe { Arc::from_raw(self.inner.as_ptr()) });
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner().count.load(Ordering::Relaxed))
            .finish()
    }
}
