//! A worker's counters, for `weft::metrics` and the watchdog.
//!
//! Each counter has one writer, the thread that holds the worker, which
//! adds with a relaxed load and store: no read-modify-write, so counting
//! costs what incrementing a plain integer does. Readers on other threads
//! load them relaxed and sum over workers; a sum is a snapshot of values
//! read at slightly different moments. (The take-over count, which the
//! monitor writes, is kept the same way in `takeover.rs`.)

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with one writer (module docs).
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds one. Only by the counter's writer.
    #[inline(always)]
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    /// Adds `n`. Only by the counter's writer.
    #[inline(always)]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets a gauge. Only by the counter's writer.
    #[inline(always)]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

/// Set in `WorkerStats::running` by the monitor once it has seen that id
/// there (`watchdog.rs`, hog watch): the worker's next resume, or its
/// sleep, overwrites it.
pub(crate) const SEEN: u64 = 1 << 63;

/// One worker's counters, in its `Remote` (`shared.rs`).
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    /// The id of the coroutine the worker resumed last; 0 once it sleeps,
    /// or after `Worker::set_running(None)`. Back in its loop after a
    /// resume the id stays (one store less per switch). Written by the
    /// worker's holder; the monitor sets `SEEN` in it with a CAS, which
    /// fails if the worker stored meanwhile (`watchdog.rs`).
    pub(crate) running: AtomicU64,
    /// Coroutines spawned from this worker's coroutines.
    pub(crate) spawned: Counter,
    /// Coroutines that finished on this worker (returned, panicked, were
    /// cancelled, or were dropped unrun).
    pub(crate) finished: Counter,
    /// Fresh coroutines taken from other workers' queues.
    pub(crate) steals: Counter,
    /// Looks at the poller (a busy poll, a poll while spinning, a sleep).
    pub(crate) polls: Counter,
    /// Coroutines in the worker's ready queue: a gauge, set at each
    /// fairness round and before each sleep.
    pub(crate) queued: Counter,
}
