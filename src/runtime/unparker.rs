//! Who a wake-up is for: a parked coroutine or a blocked plain thread.
//!
//! The timers and the poller keep these and hand back the ones that are
//! due; waking one (`Unparker::unpark`) is the park protocol's step 2 or 3,
//! in `park.rs`.

use std::thread::Thread;

use crate::task::{Task, TaskRef};

/// Wakes one parked waiter.
pub(crate) enum Unparker {
    /// A coroutine.
    Task(TaskRef),
    /// A plain thread.
    Thread(Thread),
}

impl Unparker {
    /// Whether this wakes `task`.
    pub(crate) fn is_task(&self, task: &Task) -> bool {
        matches!(self, Unparker::Task(t) if std::ptr::addr_eq(TaskRef::as_ptr(t), task))
    }

    /// Starts loading what `unpark` will read first (a cache hint).
    pub(crate) fn prefetch(&self) {
        if let Unparker::Task(t) = self {
            crate::sys::prefetch(TaskRef::as_ptr(t).cast());
        }
    }
}
