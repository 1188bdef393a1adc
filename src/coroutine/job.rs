//! The typed part of a task: the closure to run and the slot for its result.
//!
//! A task is one allocation, `Task<JobCell<F, T>>`, unsized to `Task` (that
//! is, `Task<dyn Job>`) for the scheduler and for its `JoinHandle`, which
//! finds its typed `Packet<T>` by downcasting `Job::packet`. Spawning
//! therefore costs a single allocation (usually a recycled block:
//! `task/alloc.rs`), and the closure, the task header and the result share
//! their cache lines.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};

use super::join::{cancelled, Packet};
use crate::runtime::park::Cancelled;
use crate::task::Job;

/// The closure and its result slot.
pub(crate) struct JobCell<F, T> {
    /// Taken by `run` or `discard`, by the task's holder (see `Task::stage`).
    f: UnsafeCell<Option<F>>,
    packet: Packet<T>,
}

// SAFETY: `f` is only touched by the task's current holder (one thread at a
// time, handed over through the run queues), and `F: Send`; the packet is
// synchronised by its own protocol.
unsafe impl<F: Send, T: Send> Sync for JobCell<F, T> {}

impl<F, T> JobCell<F, T> {
    pub(crate) fn new(f: F) -> JobCell<F, T> {
        JobCell {
            f: UnsafeCell::new(Some(f)),
            packet: Packet::new(),
        }
    }

    fn take(&self) -> Option<F> {
        // SAFETY: called by the task's holder only (`Job` contract).
        unsafe { (*self.f.get()).take() }
    }
}

impl<F, T> Job for JobCell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(&self) {
        let Some(f) = self.take() else { return };
        let mut result = match panic::catch_unwind(AssertUnwindSafe(f)) {
            // Cancelled by the shutdown (`runtime/park.rs`): report it.
            Err(payload) if payload.is::<Cancelled>() || crate::runtime::park::cancelled() => {
                drop(payload);
                Err(cancelled())
            }
            result => result,
        };
        // Its coroutine-locals go before the joiner hears of the end
        // (`locals.rs`, step 3); a destructor's panic is the coroutine's.
        if let Some(payload) = super::locals::drop_values() {
            if result.is_ok() {
                result = Err(payload);
            }
        }
        #[cfg(feature = "tracing")]
        crate::task::spans::clear_leftovers();
        // Counted before the joiner can see it finish, so that
        // `weft::metrics` after a join is exact.
        crate::runtime::count_finished();
        self.packet.complete(result);
    }

    fn discard(&self) {
        if let Some(f) = self.take() {
            drop(f);
            self.packet.complete(Err(cancelled()));
        }
    }

    fn packet(&self) -> &dyn Any {
        &self.packet
    }
}
