//! `Runtime`: a set of workers, spawned onto, run on, and shut down on drop.
//! Its spawning methods (`spawn`, `run`) hand out the coroutine API's
//! `JoinHandle`, so they live with that API, in `coroutine/spawn.rs`;
//! `Runtime::builder` lives with the builder, in `builder.rs`.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Dump, Metrics, Shared};

/// How long `Runtime::drop` waits for coroutines blocked in calls that
/// never return.
const STUCK_GRACE: Duration = Duration::from_secs(2);

/// A weft runtime: workers, each on threads of its own, that run
/// coroutines.
///
/// Most programs never make one: [`go`](crate::go) and [`run`](crate::run)
/// use the global runtime, started on first use. Build a private one to
/// choose the worker count, or to tear everything down at a known point.
///
/// Dropping a `Runtime` shuts it down: the workers stop, every coroutine that
/// has not finished is unwound on its worker so its destructors run (sockets
/// close, memory is freed), joiners of those coroutines get an `Err`, and the
/// drop returns once the worker threads have exited. A coroutine stuck for
/// good in a call that blocks its thread (an `mpsc` receive whose sender
/// lives on) cannot be unwound: after a few seconds the drop leaves its
/// worker's threads behind, says so on stderr, and returns.
///
/// ```
/// let rt = weft::Runtime::builder().workers(2).build().unwrap();
/// let h = rt.spawn(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// assert_eq!(rt.run(|| "on a coroutine"), "on a coroutine");
/// drop(rt);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    /// Each worker's first thread, by worker.
    threads: Vec<thread::JoinHandle<()>>,
    monitor: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    pub(crate) fn new(shared: Arc<Shared>) -> Runtime {
        Runtime {
            shared,
            threads: Vec::new(),
            monitor: None,
        }
    }

    pub(crate) fn add_thread(&mut self, t: thread::JoinHandle<()>) {
        self.threads.push(t);
    }

    pub(crate) fn set_monitor(&mut self, t: thread::JoinHandle<()>) {
        self.monitor = Some(t);
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A snapshot of this runtime's coroutines (see [`Dump`]): each worker
    /// lists its own at its next switch point, so this waits (parks a
    /// coroutine, blocks a thread) until they have, at most 200 ms for a
    /// worker that a long computation keeps busy.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// let h = rt.spawn(|| weft::sleep(std::time::Duration::from_millis(200)));
    /// let dump = rt.dump();
    /// assert_eq!(dump.len(), 1);
    /// h.join().unwrap();
    /// ```
    ///
    /// With `WEFT_DUMP_BACKTRACE=1` in the environment it has backtraces,
    /// as from [`dump_with_backtraces`](Runtime::dump_with_backtraces).
    pub fn dump(&self) -> Dump {
        Dump::take(&self.shared, super::dump::backtraces_from_env())
    }

    /// [`dump`](Runtime::dump), with a backtrace of every suspended
    /// coroutine (parked or queued), as Go's goroutine dump shows stacks:
    /// each worker resumes each of its suspended coroutines once, on its
    /// own stack, to capture where it stands, and suspends it again at
    /// once (`src/runtime/inspect.rs`, point 4). A coroutine in a blocking
    /// call has none. Costs a resume and a capture per coroutine: for
    /// inspection, not for a hot path.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// let (tx, rx) = weft::channel::bounded::<()>(0);
    /// let h = rt.spawn(move || rx.recv());
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// let dump = rt.dump_with_backtraces();
    /// assert!(dump.to_json().contains("\"backtrace\":\""));
    /// drop(tx);
    /// h.join().unwrap().unwrap_err();
    /// ```
    pub fn dump_with_backtraces(&self) -> Dump {
        Dump::take(&self.shared, true)
    }

    /// This runtime's counters (see [`Metrics`]); reads them without
    /// waiting for anything.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(3).build().unwrap();
    /// rt.spawn(|| ()).join().unwrap();
    /// let m = rt.metrics();
    /// assert_eq!((m.workers, m.spawned, m.coroutines), (3, 1, 0));
    /// ```
    pub fn metrics(&self) -> Metrics {
        Metrics::read(&self.shared)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.shut_down();
        if self.shared.is_current() {
            // Dropped from one of our own workers: it cannot wait for itself.
            // The workers finish shutting down on their own.
            return;
        }
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.join();
        }
        // No take-over happens from here on, so no seat goes away any more.
        let deadline = Instant::now() + STUCK_GRACE;
        for (index, first) in self.threads.drain(..).enumerate() {
            let takeover = &self.shared.workers[index].takeover;
            while !takeover.is_finished() && takeover.away() > 0 {
                if Instant::now() >= deadline {
                    eprintln!(
                        "weft: worker {index} of a dropped runtime still has {} coroutine(s) \
                         blocked in a call that never returned; its threads are left behind",
                        takeover.away()
                    );
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            if takeover.is_finished() || takeover.away() == 0 {
                let _ = first.join();
                for spare in takeover.take_spares() {
                    let _ = spare.join();
                }
            }
        }
        while !self.shared.injector.is_empty() {
            if let crossbeam_deque::Steal::Success(task) = self.shared.injector.steal() {
                // SAFETY: stolen from the injector, so we hold it; no worker
                // is left to run it.
                unsafe { task.discard() };
            }
        }
        for remote in self.shared.workers.iter() {
            while remote.inbox.pop().is_some() {}
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.shared.config.workers)
            .field("stack_size", &self.shared.config.stack_size)
            .field("max_threads", &self.shared.config.max_threads)
            .finish()
    }
}
