//! `JoinHandle` and the one-shot result slot it waits on.
//!
//! # Protocol
//!
//! `Packet::state` holds two bits, `COMPLETE` and `WAITER`:
//!
//! 1. The coroutine's wrapper writes the result, then sets `COMPLETE` with
//!    release. If `WAITER` was already set, it takes the waiter and unparks it.
//! 2. `join` checks `COMPLETE` (acquire); if set, it takes the result.
//!    Otherwise it stores its `Unparker`, then sets `WAITER` with a CAS from
//!    0. If the CAS fails, `COMPLETE` won the race and the result is there.
//! 3. With `WAITER` set, `join` parks until it sees `COMPLETE`. The unpark in
//!    step 1 happens after `COMPLETE` is visible, and a park token is never
//!    lost (`runtime/park.rs`), so the joiner cannot sleep through it.
//!
//! The waiter slot is written only before `WAITER` is set (by the joiner) and
//! read only after (by the completer): the CAS hands it over.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

use super::Coroutine;
use crate::runtime::park::{self, Unparker};
use crate::task::{Kind, WaitFor};

const COMPLETE: u8 = 1;
const WAITER: u8 = 2;

/// The result slot shared by a coroutine and its `JoinHandle`.
pub(crate) struct Packet<T> {
    /// `COMPLETE | WAITER`, see the module docs.
    state: AtomicU8,
    /// Written once by the completer before `COMPLETE`; read by the joiner
    /// after.
    result: UnsafeCell<Option<thread::Result<T>>>,
    /// Written by the joiner before `WAITER`; taken by the completer after.
    waiter: UnsafeCell<Option<Unparker>>,
}

// SAFETY: the cells are handed over by the `state` protocol above, so no two
// threads touch one at once; `T: Send` is enough to move the result across.
unsafe impl<T: Send> Send for Packet<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    pub(crate) fn new() -> Packet<T> {
        Packet {
            state: AtomicU8::new(0),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Step 1: publishes the result and wakes the joiner. Called once.
    pub(crate) fn complete(&self, result: thread::Result<T>) {
        // SAFETY: only the completer writes `result`, once, before COMPLETE.
        unsafe { *self.result.get() = Some(result) };
        let prev = self.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & WAITER != 0 {
            // SAFETY: WAITER is set, so the joiner is done with the slot.
            if let Some(w) = unsafe { (*self.waiter.get()).take() } {
                w.unpark();
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Steps 2 and 3. A cancelled coroutine gets `Err` (through an unwind
    /// from `checkpoint` when `checkpoints` is set: the public `join`; or
    /// directly: weft's own hooks, which must not unwind).
    pub(crate) fn wait(&self, checkpoints: bool, why: WaitFor) -> thread::Result<T> {
        if !self.is_complete() {
            // SAFETY: WAITER is not set, so nobody else touches the slot.
            unsafe { *self.waiter.get() = Some(park::current()) };
            if self
                .state
                .compare_exchange(0, WAITER, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // A cancelled coroutine stops here, also when the result
                // arrived while it was parked: shutdown resumes it to end it.
                let stop = || park::cancelled() && (!checkpoints || park::checkpoint());
                while !self.is_complete() {
                    if stop() {
                        return Err(cancelled());
                    }
                    park::park_for(why);
                    if stop() {
                        return Err(cancelled());
                    }
                }
            }
        }
        // SAFETY: COMPLETE is set (acquire), so the completer is done with it,
        // and `join` takes the handle by value, so this runs once.
        unsafe { (*self.result.get()).take() }.expect("coroutine result taken twice")
    }
}

/// The payload a join returns when the coroutine was dropped before it could
/// finish: its runtime shut down.
pub(crate) fn cancelled() -> Box<dyn Any + Send> {
    Box::new("weft: coroutine cancelled: its runtime shut down before it finished")
}

/// An owned permission to join a coroutine (wait for it to finish).
///
/// Dropping the handle detaches the coroutine: it keeps running and its
/// result is dropped.
///
/// ```
/// let h = weft::go(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    coroutine: Coroutine,
    result: PhantomData<fn() -> T>,
}

impl<T: 'static> JoinHandle<T> {
    /// A handle for `coroutine`, whose job must produce a `T`.
    pub(crate) fn new(coroutine: Coroutine) -> JoinHandle<T> {
        let handle = JoinHandle {
            coroutine,
            result: PhantomData,
        };
        debug_assert!(handle.coroutine.task().job.packet().is::<Packet<T>>());
        handle
    }

    fn packet(&self) -> &Packet<T> {
        self.coroutine
            .task()
            .job
            .packet()
            .downcast_ref()
            .expect("JoinHandle of a coroutine with another result type")
    }

    /// Waits for the coroutine to finish and returns its result, or the panic
    /// payload if it panicked.
    ///
    /// Inside a coroutine this parks the caller; on a plain thread it blocks
    /// the thread.
    ///
    /// ```
    /// let h = weft::go(|| panic!("boom"));
    /// assert!(h.join().is_err());
    /// ```
    pub fn join(self) -> thread::Result<T> {
        self.packet()
            .wait(true, WaitFor::at(Kind::Join, self.coroutine.task_ref()))
    }

    /// `join` for weft's hooks: never unwinds.
    pub(crate) fn join_quietly(self) -> thread::Result<T> {
        self.packet()
            .wait(false, WaitFor::at(Kind::Join, self.coroutine.task_ref()))
    }

    /// Whether the coroutine has finished. Never blocks.
    ///
    /// ```
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let h = weft::go(move || rx.recv().ok());
    /// assert!(!h.is_finished());
    /// tx.send(()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet().is_complete()
    }

    /// The coroutine this handle joins.
    ///
    /// ```
    /// let h = weft::Builder::new().name("parser").spawn(|| ()).unwrap();
    /// assert_eq!(h.coroutine().name(), Some("parser"));
    /// ```
    pub fn coroutine(&self) -> &Coroutine {
        &self.coroutine
    }
}

impl<T: 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("coroutine", &self.coroutine)
            .field("finished", &self.is_finished())
            .finish()
    }
}
