//! `WaitGroup`: waiting until a set of tasks is done.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Arc;

use super::queue::{Context, Outcome, WaitList};
use crate::loom::Lock;

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
    inner: Arc<Lock<State>>,
}

struct State {
    /// Live `WaitGroup` handles.
    count: usize,
    waiters: WaitList,
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
            inner: Arc::new(Lock::new(State {
                count: 1,
                waiters: WaitList::new(),
            })),
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
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: the `Arc` moves out
        // once.
        let inner = unsafe { ptr::read(&this.inner) };
        let cx = Context::new();
        let mut st = inner.lock();
        st.count -= 1;
        if st.count == 0 {
            wake_all(&mut st.waiters);
            return;
        }
        st.waiters.register(&cx, 0, ptr::null_mut());
        drop(st);
        loop {
            match cx.wait(None) {
                Outcome::Selected(_) => return,
                Outcome::TimedOut | Outcome::Cancelled => {
                    let mut st = inner.lock();
                    st.waiters.unregister(&cx);
                    if st.count == 0 {
                        return;
                    }
                    drop(st);
                    // Unwinds, or (unwinding already) waits on.
                    crate::loom::checkpoint();
                    let mut st = inner.lock();
                    if st.count == 0 {
                        return;
                    }
                    cx.reset();
                    st.waiters.register(&cx, 0, ptr::null_mut());
                }
            }
        }
    }
}

fn wake_all(waiters: &mut WaitList) {
    while let Some(claim) = waiters.claim() {
        claim.complete();
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl Clone for WaitGroup {
    fn clone(&self) -> Self {
        self.inner.lock().count += 1;
        WaitGroup {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.count -= 1;
        if st.count == 0 {
            wake_all(&mut st.waiters);
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.lock().count)
            .finish()
    }
}
