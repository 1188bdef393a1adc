//! The monitor: one thread per runtime that takes over workers whose holder
//! stays blocked in the kernel (`takeover.rs`, step 3).
//!
//! While some worker's holder is in a blocking call, the monitor looks at
//! every worker once per `TICK`; a worker found blocking with the same hold
//! word at two looks in a row has been blocked for at least a tick, and is
//! taken over. Once no worker has been blocking for `LINGER` ticks, the
//! monitor sleeps on a futex until a thread enters a blocking call: an idle
//! runtime, or one whose coroutines never block, costs it no CPU.
//!
//! # Sleep and wake (no lost wake-up)
//!
//! 1. The monitor reads `wakes`, stores `sleeping = true` (SeqCst), and
//!    looks at every hold word once more (SeqCst). Only if none is blocking
//!    does it wait on `wakes`, for the value it read.
//! 2. A thread entering a blocking call swaps its hold word (SeqCst), then
//!    reads `sleeping` (SeqCst): if set, it clears it, bumps `wakes` and
//!    wakes the futex.
//!
//! The four SeqCst accesses make one of the two see the other: either the
//! monitor's re-check sees the blocking word, or the entering thread sees
//! `sleeping` and its bump makes the futex wait return.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::shared::Shared;
use super::takeover;
use crate::sys;

/// How long a blocking call lasts, at least, before its worker is taken
/// over (between one and two ticks).
const TICK: Duration = Duration::from_micros(50);

/// Ticks without a blocking worker before the monitor sleeps.
const LINGER: u32 = 40;

/// The monitor's shared state, in `Shared`.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    /// The monitor sleeps, or is about to (step 1). Cleared by whoever
    /// wakes it.
    sleeping: AtomicBool,
    /// The futex word the monitor sleeps on; bumped to wake it.
    wakes: AtomicU32,
}

impl Monitor {
    /// Step 2: wakes the monitor if it sleeps. Called after a hold word
    /// became blocking.
    #[inline]
    pub(crate) fn watch(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Wakes the monitor (also at shutdown).
    #[cold]
    pub(crate) fn wake(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&self.wakes, 1);
        }
    }
}

/// Starts the monitor thread of a runtime.
pub(crate) fn start(shared: Arc<Shared>) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("{}-monitor", shared.config.thread_name))
        .stack_size(64 * 1024)
        .spawn(move || run(&shared))
}

fn run(shared: &Shared) {
    sys::precise_timers();
    let monitor = &shared.monitor;
    let mut last = vec![0u64; shared.workers.len()];
    let mut quiet = 0;
    while !shared.is_shut_down() {
        let mut blocking = false;
        for (i, last) in last.iter_mut().enumerate() {
            blocking |= takeover::check(shared, i, last);
        }
        if blocking {
            quiet = 0;
        } else {
            quiet += 1;
        }
        if quiet < LINGER {
            thread::sleep(TICK);
            continue;
        }
        // Step 1.
        let wakes = monitor.wakes.load(Ordering::SeqCst);
        monitor.sleeping.store(true, Ordering::SeqCst);
        if takeover::any_blocking(shared) || shared.is_shut_down() {
            monitor.sleeping.store(false, Ordering::Relaxed);
            continue;
        }
        sys::futex_wait(&monitor.wakes, wakes, None);
        monitor.sleeping.store(false, Ordering::Relaxed);
        quiet = 0;
    }
}
