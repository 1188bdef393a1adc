//! The monitor: one thread per runtime that takes over workers whose holder
//! stays blocked in the kernel (`takeover.rs`, step 3).
//!
//! While some worker's holder is in a blocking call, the monitor looks at
//! every worker once per tick; a worker found blocking with the same hold
//! word at two looks in a row has been blocked for at least a tick, and is
//! taken over. Once no worker has been blocking for `LINGER`, the monitor
//! sleeps on a futex until a thread enters a blocking call: an idle
//! runtime, or one whose coroutines never block, costs it no CPU.
//!
//! # The tick
//!
//! The tick starts at `TICK` (20 µs) and doubles, up to `MAX_TICK`, after
//! each `BACK_OFF` in which the monitor saw blocking calls but took no
//! worker over: calls that all ended within a tick (a cached file read, an
//! uncontended lock's rare futex), which a tick of 20 µs would watch at
//! 50,000 wake-ups a second for nothing. Measured with a coroutine making
//! back-to-back 4 KiB `pread`s of a cached file on one worker, a fixed 50
//! µs tick cost the monitor 900-960 ms of CPU in 3 s, about a third of a
//! core; with the back-off, 100-130 ms (`benches/takeover.rs`,
//! `monitor_cpu`). A wake-up from the futex sets the tick back to `TICK`,
//! and each take-over halves it: the first long call after a stretch of
//! short ones waits at most two ticks of `MAX_TICK`, and a run of long
//! calls brings the tick back down to `TICK` within a few take-overs.
//! Halving rather than resetting matters on a loaded machine, where a
//! short call now and then outlasts a tick because its thread lost its
//! core: resetting for each such take-over kept the tick near `TICK`.
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

/// The shortest tick: how long a blocking call lasts, at least, before its
/// worker is taken over (between one and two ticks).
const TICK: Duration = Duration::from_micros(20);

/// The longest tick, reached after a stretch of short blocking calls.
const MAX_TICK: Duration = Duration::from_millis(1);

/// How long blocking calls are seen without a take-over before the tick
/// doubles.
const BACK_OFF: Duration = Duration::from_millis(1);

/// How long no worker is seen blocking before the monitor sleeps.
const LINGER: Duration = Duration::from_millis(2);

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
    let mut tick = TICK;
    // Time spent, in ticks, seeing blocking calls but taking nothing over,
    // and seeing none at all.
    let (mut idle_busy, mut quiet) = (Duration::ZERO, Duration::ZERO);
    while !shared.is_shut_down() {
        let mut look = takeover::Look::default();
        for (i, last) in last.iter_mut().enumerate() {
            look.add(takeover::check(shared, i, last));
        }
        if look.took_over {
            tick = (tick / 2).max(TICK);
            (idle_busy, quiet) = (Duration::ZERO, Duration::ZERO);
        } else if look.blocking {
            quiet = Duration::ZERO;
            idle_busy += tick;
            if idle_busy >= BACK_OFF {
                tick = (tick * 2).min(MAX_TICK);
                idle_busy = Duration::ZERO;
            }
        } else {
            quiet += tick;
        }
        if quiet < LINGER {
            thread::sleep(tick);
            continue;
        }
        // Step 1.
        let wakes = monitor.wakes.load(Ordering::SeqCst);
        monitor.sleeping.store(true, Ordering::SeqCst);
        if takeover::any_blocking(shared) || shared.is_shut_down() {
            monitor.sleeping.store(false, Ordering::Relaxed);
            quiet = Duration::ZERO;
            continue;
        }
        sys::futex_wait(&monitor.wakes, wakes, None);
        monitor.sleeping.store(false, Ordering::Relaxed);
        (tick, idle_busy, quiet) = (TICK, Duration::ZERO, Duration::ZERO);
    }
}
