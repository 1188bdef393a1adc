//! The runtime's coarse clock: milliseconds since the runtime started.
//!
//! A dump says how long each coroutine has waited, so a park records when
//! it happened. Reading the system clock there (a vDSO call) would cost the
//! park path more than the rest of a park; so a park stores the value of
//! this clock instead, one load from a word the monitor thread
//! (`monitor.rs`) rewrites every `monitor::WATCH_TICK` while any worker is
//! awake. A worker that wakes the monitor from its long sleep (all workers
//! were asleep) refreshes the clock itself first, so a park right after a
//! quiet spell does not record the time the quiet spell began. The value is
//! at most one `WATCH_TICK` behind.
//!
//! 32 bits of milliseconds wrap after 49 days; waits are measured with
//! wrapping arithmetic, so only a single wait that long reads wrong.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

/// The coarse clock (module docs).
#[derive(Debug)]
pub(crate) struct Clock {
    /// When the runtime started: millisecond 0.
    epoch: Instant,
    /// Milliseconds since `epoch`, as of the last refresh. Written by the
    /// monitor, and by a worker that wakes it; read by parks. On a line of
    /// its own: parks on every worker read it.
    ms: CachePadded<AtomicU32>,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
            ms: CachePadded::new(AtomicU32::new(0)),
        }
    }

    /// The clock's value: at most a `WATCH_TICK` behind.
    #[inline(always)]
    pub(crate) fn now(&self) -> u32 {
        self.ms.load(Ordering::Relaxed)
    }

    /// Reads the system clock and stores it; returns the new value.
    pub(crate) fn refresh(&self) -> u32 {
        let now = self.at(Instant::now());
        self.ms.store(now, Ordering::Relaxed);
        now
    }

    /// `t` on this clock.
    pub(crate) fn at(&self, t: Instant) -> u32 {
        t.saturating_duration_since(self.epoch).as_millis() as u32
    }

    /// How long ago `since` (a value of this clock) was, exactly now.
    pub(crate) fn since(&self, since: u32) -> Duration {
        Duration::from_millis(self.at(Instant::now()).wrapping_sub(since).into())
    }

    /// When the runtime started.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }
}
