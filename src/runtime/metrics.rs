//! `Metrics`: a runtime's counters, summed over its workers when read.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::stats::SEEN;
use super::Shared;

/// Counters and gauges of a runtime, read without stopping anything: each
/// worker keeps its own counters, and these are their sums at the moment
/// of reading. Made by [`weft::metrics`](crate::metrics) or
/// [`Runtime::metrics`](crate::Runtime::metrics).
///
/// `spawned` and `coroutines` are exact: a coroutine counts as finished
/// before its joiner can see it finish. `ready`, `parked`, `blocked` and
/// `running` are gauges that workers publish between coroutines, so they
/// are exact for a runtime at rest and approximate for a busy one.
///
/// ```
/// let rt = weft::Runtime::builder().workers(2).build().unwrap();
/// let handles: Vec<_> = (0..10).map(|i| rt.spawn(move || i)).collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// let m = rt.metrics();
/// assert_eq!((m.workers, m.spawned, m.coroutines), (2, 10, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Workers of the runtime.
    pub workers: usize,
    /// Coroutines alive: spawned and not finished (started or not).
    pub coroutines: u64,
    /// Coroutines spawned since the runtime started.
    pub spawned: u64,
    /// Coroutines queued to run: woken, yielded, or not started yet.
    pub ready: u64,
    /// Coroutines parked: waiting for I/O, a timer, a channel, a lock, a
    /// join.
    pub parked: u64,
    /// Coroutines in a call that blocks their thread (a futex wait, a file),
    /// during which their worker may be taken over.
    pub blocked: u64,
    /// Coroutines running on a worker right now.
    pub running: u64,
    /// OS threads of the runtime: each worker's threads (its first, and
    /// those started to take it over while a coroutine blocks), and the
    /// monitor.
    pub threads: usize,
    /// Take-overs: times a worker whose thread was blocked in a call was
    /// handed to another of its threads.
    pub takeovers: u64,
    /// The same count as `takeovers`, under the name other runtimes use for
    /// it (a worker handed off from a thread blocked in a system call). It
    /// does not count weft's coroutine-to-coroutine hand-offs.
    pub handoffs: u64,
    /// Fresh coroutines a worker took from another worker's queue.
    pub steals: u64,
    /// Times a worker looked at its poller (busy, while spinning, or to
    /// sleep).
    pub polls: u64,
    /// Threads of the blocking pool (`spawn_blocking`; shared by every
    /// runtime of the process).
    pub blocking_pool_threads: usize,
    /// Calls queued on the blocking pool, waiting for a thread.
    pub blocking_pool_queued: usize,
    /// Each worker's own figures.
    pub per_worker: Vec<WorkerMetrics>,
}

/// One worker's figures in [`Metrics`].
///
/// ```
/// let rt = weft::Runtime::builder().workers(1).build().unwrap();
/// rt.run(|| weft::sleep(std::time::Duration::from_millis(20)));
/// let w = &rt.metrics().per_worker[0];
/// assert!(w.busy <= w.uptime);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index.
    pub index: usize,
    /// How long the runtime has run.
    pub uptime: Duration,
    /// The CPU time of the worker's threads: running coroutines, looking
    /// for work and making system calls, but not asleep in the poller or
    /// waiting in a blocking call. Summed over its threads, so with
    /// take-overs it can exceed `uptime`. Read from the kernel's per-thread
    /// clocks: the worker does no timing of its own for it.
    pub busy: Duration,
    /// Coroutines spawned by this worker's coroutines.
    pub spawned: u64,
    /// Coroutines that finished on this worker.
    pub finished: u64,
    /// Started coroutines bound to this worker that have suspended at least
    /// once and not finished.
    pub bound: u64,
    /// Coroutines in its ready queue, as of its last look.
    pub queued: u64,
    /// Its OS threads.
    pub threads: usize,
    /// Times it was taken over.
    pub takeovers: u64,
    /// Fresh coroutines it took from other workers.
    pub steals: u64,
    /// Times it looked at its poller.
    pub polls: u64,
}

impl Metrics {
    /// Reads `shared`'s counters.
    pub(crate) fn read(shared: &Shared) -> Metrics {
        let uptime = shared.clock.epoch().elapsed();
        let mut m = Metrics {
            workers: shared.workers.len(),
            threads: 1,
            ..Metrics::default()
        };
        let mut finished = 0;
        let mut ready = shared.injector.len() as u64;
        for (index, remote) in shared.workers.iter().enumerate() {
            let s = &remote.stats;
            let (threads, away) = remote.takeover.threads();
            let blocking = remote.takeover.is_blocking();
            let running = s.running.load(Ordering::Relaxed) & !SEEN;
            let w = WorkerMetrics {
                index,
                uptime,
                busy: remote.takeover.cpu_time(),
                spawned: s.spawned.get(),
                finished: s.finished.get(),
                bound: remote.bound.load(Ordering::Relaxed) as u64,
                queued: s.queued.get(),
                threads,
                takeovers: remote.takeover.takeovers(),
                steals: s.steals.get(),
                polls: s.polls.get(),
            };
            m.spawned += w.spawned;
            finished += w.finished;
            ready += w.queued + remote.inbox.len() as u64 + remote.stealer.len() as u64;
            m.blocked += (away + usize::from(blocking)) as u64;
            m.running += u64::from(running != 0 && !blocking);
            m.threads += threads;
            m.takeovers += w.takeovers;
            m.steals += w.steals;
            m.polls += w.polls;
            m.per_worker.push(w);
        }
        m.spawned += shared.spawned_outside.load(Ordering::Relaxed);
        m.coroutines = m.spawned.saturating_sub(finished);
        m.ready = ready.min(m.coroutines);
        m.parked = m.coroutines.saturating_sub(m.ready + m.blocked + m.running);
        m.handoffs = m.takeovers;
        let (threads, queued) = super::blocking::load();
        m.blocking_pool_threads = threads;
        m.blocking_pool_queued = queued;
        m
    }
}
