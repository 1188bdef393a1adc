//! `RuntimeBuilder`: configure and start a runtime.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_deque::{Injector, Worker as Deque};
use crossbeam_queue::SegQueue;

use super::clock::Clock;
use super::domain::Domain;
use super::monitor;
use super::shared::{Config, Idle, Monitor, Remote, Shared};
use super::takeover::Takeover;
use super::worker::Worker;
use super::Driver;
use super::Runtime;
use crate::stack::DEFAULT_STACK_SIZE;

/// Most workers a runtime may have.
const MAX_WORKERS: usize = 1024;

/// Default for [`RuntimeBuilder::max_threads`].
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;

/// Most threads a worker may have.
const MAX_THREADS: usize = 1 << 20;

/// Configures a [`Runtime`]; made by [`Runtime::builder`].
///
/// ```
/// let rt = weft::Runtime::builder()
///     .workers(2)
///     .stack_size(128 * 1024)
///     .thread_name("app-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.run(|| 40 + 2), 42);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a RuntimeBuilder does nothing until `build` is called"]
pub struct RuntimeBuilder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    thread_name: Option<String>,
    max_threads: Option<usize>,
}

impl Runtime {
    /// Configures a new runtime.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(1).build().unwrap();
    /// rt.run(|| ());
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }
}

impl RuntimeBuilder {
    pub(crate) fn new() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Number of workers (default: available cores), each started on a
    /// thread of its own.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(1).build().unwrap();
    /// rt.run(|| ());
    /// ```
    pub fn workers(mut self, n: usize) -> RuntimeBuilder {
        self.workers = Some(n);
        self
    }

    /// Default usable stack size of coroutines, in bytes (default 256 KiB),
    /// rounded up to whole pages and to at least 16 KiB.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().stack_size(64 * 1024).build().unwrap();
    /// rt.run(|| ());
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> RuntimeBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// Prefix of the runtime's thread names (default `weft-worker`): the
    /// workers' first threads are `<prefix>-0`, `<prefix>-1`, ..., the
    /// threads started to take worker 0 over `<prefix>-0.1`, `<prefix>-0.2`,
    /// ..., and the monitor is `<prefix>-monitor`.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(1).thread_name("io").build().unwrap();
    /// let name = rt.run(|| std::thread::current().name().map(str::to_owned));
    /// assert_eq!(name.as_deref(), Some("io-0"));
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> RuntimeBuilder {
        self.thread_name = Some(prefix.into());
        self
    }

    /// Most OS threads each worker may use (default 512): the one that
    /// runs it, and one more for each of its coroutines that waits in a
    /// call weft cannot turn into a park (a `std::sync::Mutex`, an `mpsc`
    /// receive, a child process, a file) while the worker runs the others.
    /// Past the limit such a call holds up its worker's other coroutines
    /// until one returns, and weft says so once on stderr. `1` turns this
    /// off. (Go allows 10,000 threads per process; 512 per worker is 8,192
    /// on a 16-core machine.)
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(1).max_threads(64).build().unwrap();
    /// rt.run(|| ());
    /// ```
    pub fn max_threads(mut self, n: usize) -> RuntimeBuilder {
        self.max_threads = Some(n);
        self
    }

    /// Starts the workers' first threads and the monitor thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero or more than 1024 workers, a stack over
    /// 4 GiB, or `max_threads` zero or over 2^20; `Unsupported` in a forked
    /// child (it is outside weft); the OS error if a poller or a thread
    /// cannot be created.
    ///
    /// ```
    /// assert!(weft::Runtime::builder().workers(0).build().is_err());
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        if super::fork::outside_weft() {
            return Err(super::fork::forked_error());
        }
        super::worker::install_fork_handler();
        let workers = match self.workers {
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if workers == 0 || workers > MAX_WORKERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft: a runtime needs 1 to {MAX_WORKERS} workers, not {workers}"),
            ));
        }
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        if stack_size > 1 << 32 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft: stack size {stack_size} is over the 4 GiB limit"),
            ));
        }
        let max_threads = self.max_threads.unwrap_or(DEFAULT_MAX_THREADS);
        if max_threads == 0 || max_threads > MAX_THREADS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "weft: max_threads must be 1 to {MAX_THREADS} threads per worker, \
                     not {max_threads}"
                ),
            ));
        }
        let config = Config {
            workers,
            stack_size,
            thread_name: self.thread_name.unwrap_or_else(|| "weft-worker".into()),
            max_threads,
        };

        let mut locals = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        for index in 0..workers {
            let deque = Deque::new_fifo();
            let (driver, poller, waker) = Driver::new()?;
            remotes.push(Remote {
                stealer: deque.stealer(),
                inbox: SegQueue::new(),
                waker,
                poller,
                idle: Idle::new(),
                bound: AtomicUsize::new(0),
                takeover: Takeover::new(
                    index,
                    format!("{}-{index}", config.thread_name),
                    config.max_threads,
                ),
                stats: Default::default(),
                probe: AtomicBool::new(false),
            });
            locals.push((deque, driver));
        }
        let shared = Arc::new(Shared {
            home: super::worker::home(),
            config,
            workers: remotes.into_boxed_slice(),
            injector: Injector::new(),
            searching: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            monitor: Monitor::default(),
            task_refs: AtomicUsize::new(0),
            clock: Clock::new(),
            probes: Mutex::new(Vec::new()),
            lock_waiters: AtomicUsize::new(0),
            spawned_outside: AtomicU64::new(0),
        });
        super::registry::add(&shared);
        super::signal::install_from_env();

        let mut runtime = Runtime::new(shared.clone());
        for (index, (deque, driver)) in locals.into_iter().enumerate() {
            let shared = shared.clone();
            let thread = thread::Builder::new()
                .name(format!("{}-{index}", shared.config.thread_name))
                .spawn(move || {
                    let domain = Domain::start(Worker::new(index, shared, deque, driver));
                    // This thread's overflow handler, and the process's
                    // panic hook, before any coroutine runs (the spare
                    // threads rely on it: `domain.rs`).
                    super::overflow::install_handler();
                    super::panic::install_hook();
                    domain.local().run();
                })?;
            runtime.add_thread(thread);
        }
        runtime.set_monitor(monitor::start(shared)?);
        Ok(runtime)
    }
}
