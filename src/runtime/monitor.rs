//! The monitor: one thread per runtime that takes over workers whose holder
//! stays blocked in the kernel (`takeover.rs`, step 3), keeps the coarse
//! clock (`clock.rs`) and runs the watchdog (`watchdog.rs`).
//!
//! While some worker's holder is in a blocking call, the monitor looks at
//! every worker once per tick; a worker found blocking with the same hold
//! word at two looks in a row has been blocked for at least a tick, and is
//! taken over. Once no worker has been blocking for `LINGER`, the monitor
//! *naps*: it wakes every `WATCH_TICK` to refresh the clock and let the
//! watchdog look, for as long as some worker is awake (only an awake worker
//! can run a coroutine that hogs it or stamp a park), some coroutine waits
//! for a lock (a lock cycle leaves every worker asleep) or the watchdog
//! waits for a probe's answers. When none of these holds it *sleeps* on a
//! futex until a thread enters a blocking call, a worker wakes up or a
//! coroutine starts to wait for a lock: an idle runtime costs it no CPU.
//!
//! # The tick
//!
//! The tick starts at `TICK` (20 µs) and doubles, up to `MAX_TICK`, after
//! each `BACK_OFF` in which the monitor saw blocking calls but took no
//! worker over: calls that all ended within a tick (a cached file read, an
//! uncontended lock's rare futex), which a tick of 20 µs would watch at
//! 50,000 wake-ups a second for nothing. With a coroutine making
//! back-to-back reads of a cached file, a fixed tick that short would keep
//! the monitor busy for much of a core; the back-off is what keeps that
//! cost down (`benches/takeover.rs`, `monitor_cpu`, measures the monitor's
//! CPU time). A wake-up from the futex sets the tick back to `TICK`, and
//! each take-over halves it: the first long call after a stretch of short
//! ones waits at most two ticks of `MAX_TICK`, and a run of long calls
//! brings the tick back down to `TICK` within a few take-overs.
//!
//! Halving rather than resetting matters on a loaded machine, where a
//! short call now and then outlasts a tick because its thread lost its
//! core: resetting for each such take-over would keep the tick near `TICK`.
//!
//! How the monitor sleeps and who wakes it, without losing a wake-up, is
//! `Monitor`'s protocol, in `shared.rs` ("The monitor's sleep").

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::shared::Shared;
use super::takeover::Seen;
use super::watchdog::Watchdog;
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

/// How often the monitor refreshes the clock and runs the watchdog while a
/// worker is awake.
pub(crate) const WATCH_TICK: Duration = Duration::from_millis(10);

/// Starts the monitor thread of a runtime.
pub(crate) fn start(shared: Arc<Shared>) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("{}-monitor", shared.config.thread_name))
        .stack_size(256 * 1024)
        .spawn(move || run(&shared))
}

fn run(shared: &Shared) {
    sys::precise_timers();
    let monitor = &shared.monitor;
    let mut watchdog = Watchdog::new(shared);
    let mut last = vec![0u64; shared.workers.len()];
    let mut tick = TICK;
    // Time spent, in ticks, seeing blocking calls but taking nothing over,
    // and seeing none at all.
    let (mut idle_busy, mut quiet) = (Duration::ZERO, Duration::ZERO);
    let mut next_watch = Instant::now();
    while !shared.is_shut_down() {
        let mut look = Look::default();
        for (remote, last) in shared.workers.iter().zip(&mut last) {
            look.add(remote.takeover.check(last, || shared.is_shut_down()));
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
        let now = Instant::now();
        if now >= next_watch {
            shared.clock.refresh();
            watchdog.tick(shared, now);
            next_watch = now + WATCH_TICK;
        }
        if quiet < LINGER {
            thread::sleep(tick);
            continue;
        }
        // `Monitor`'s step 1 (`shared.rs`).
        let wakes = monitor.begin_rest();
        // SeqCst loads of the hold words (`Takeover::is_blocking`).
        let blocking = shared.workers.iter().any(|w| w.takeover.is_blocking());
        if blocking || shared.is_shut_down() {
            monitor.stay_awake();
            quiet = Duration::ZERO;
            continue;
        }
        let awake = shared.workers.iter().any(|w| !w.idle.is_asleep_now())
            || shared.lock_waiters.load(Ordering::SeqCst) > 0
            || watchdog.is_busy();
        let timeout = awake.then(|| next_watch.saturating_duration_since(Instant::now()));
        monitor.rest(wakes, timeout);
        // No blocking call was seen for `LINGER`: whatever comes next
        // starts at the shortest tick. After a nap the monitor naps again
        // at once unless it now sees one; after a sleep it lingers first.
        (tick, idle_busy) = (TICK, Duration::ZERO);
        if timeout.is_none() {
            quiet = Duration::ZERO;
        }
    }
}

/// What the monitor saw of every worker at one look.
#[derive(Debug, Default)]
struct Look {
    /// Some worker's holder was in a blocking call.
    blocking: bool,
    /// Some worker was taken over.
    took_over: bool,
}

impl Look {
    fn add(&mut self, seen: Seen) {
        self.blocking |= seen != Seen::Running;
        self.took_over |= seen == Seen::TakenOver;
    }
}
