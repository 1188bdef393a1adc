//! `WaitGroup`: waiting until a set of tasks is done.

use std::fmt;
use std::ptr;
use std::sync::Arc;

use super::queue::{Context, Outcome, WaitList};
use crate::loom::{AtomicUsize, Lock, Ordering};

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
    inner: Arc<Inner>,
}

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
        WaitGroup {
            inner: Arc::new(Inner {
                count: AtomicUsize::new(1),
                waiters: Lock::new(WaitList::new()),
            }),
        }
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
        let inner = self.inner.clone();
        drop(self);
        let cx = Context::new();
        loop {
            {
                let mut waiters = inner.waiters.lock();
                // Checked under the lock: a last drop after this check
                // takes the lock after us and finds our entry.
                if inner.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                cx.reset();
                waiters.register(&cx, 0, ptr::null_mut());
            }
            match cx.wait(None) {
                Outcome::Selected(_) => return,
                Outcome::TimedOut | Outcome::Cancelled => {
                    inner.waiters.lock().unregister(&cx);
                    // Unwinds, or (unwinding already) waits on.
                    crate::loom::checkpoint();
                }
            }
        }
    }
}

impl Inner {
    /// Drops one handle; the last one wakes the waiters.
    fn release(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut waiters = self.waiters.lock();
            while let Some(claim) = waiters.claim() {
                claim.complete();
            }
        }
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl Clone for WaitGroup {
    fn clone(&self) -> Self {
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        WaitGroup {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        self.inner.release();
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.count.load(Ordering::Relaxed))
            .finish()
    }
}
