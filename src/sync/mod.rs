//! Locks and coordination for coroutines and threads alike: Go's `sync`
//! package, with std's and crossbeam's API shapes.
//!
//! Every blocking call here parks the calling coroutine (its worker runs
//! other coroutines meanwhile) or, on a plain thread, blocks the thread, so
//! one lock can be shared between both. Prefer these to `std::sync`'s locks
//! in coroutines: a waiter for a `std::sync::Mutex` blocks in the kernel,
//! and its worker goes on only by handing itself to a spare OS thread for
//! as long as the wait lasts (ARCHITECTURE.md, "A blocking call: taking
//! over a worker"); a waiter here parks, and its worker runs others.
//!
//! ```
//! use std::sync::Arc;
//! use weft::sync::{Mutex, WaitGroup};
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let wg = WaitGroup::new();
//! for i in 1..=100 {
//!     let (total, wg) = (total.clone(), wg.clone());
//!     weft::go(move || {
//!         *total.lock() += i;
//!         drop(wg);
//!     });
//! }
//! wg.wait();
//! assert_eq!(*total.lock(), 5050);
//! ```
//!
//! All of them (and the channels) wait through one mechanism, described in
//! `src/sync/queue.rs`: a waiter queues an entry and parks; whoever frees
//! the resource hands it to the oldest entry and wakes it. Who a waiter is,
//! and how it parks and is woken, is in `src/sync/waiter.rs`.

/// Defines a `const fn`, but a plain `fn` under loom, whose atomics and
/// locks have no `const` constructors: for the locks' `new`, which may then
/// make a `static` on std and still build the loom models.
macro_rules! const_unless_loom {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block
    ) => {
        $(#[$attr])*
        #[cfg(not(weft_loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(weft_loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}

mod barrier;
mod condvar;
mod mutex;
pub(crate) mod queue;
mod rwlock;
mod semaphore;
pub(crate) mod waiter;
mod waitgroup;

#[cfg(all(test, weft_loom))]
mod models;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
