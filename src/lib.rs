//! # weft: Go-style green threads for Rust
//!
//! weft runs ordinary, blocking Rust code on coroutines: each coroutine has
//! its own small, guarded stack, and an M:N scheduler runs thousands of them
//! on a few worker threads. There is no `async`, no colouring of functions,
//! and no `main` takeover: the first `weft::go` starts the runtime.
//!
//! ## Spawning
//!
//! ```
//! let handles: Vec<_> = (0..1000).map(|i| weft::go(move || i * 2)).collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 999_000);
//! ```
//!
//! [`go`] mirrors `std::thread::spawn`, [`Builder`] mirrors
//! `std::thread::Builder` (name, stack size) and [`JoinHandle::join`] returns
//! a `std::thread::Result`: a panic in the coroutine comes back as `Err`.
//! Called inside a coroutine, `go` spawns onto that coroutine's runtime;
//! from a plain thread, onto the global runtime.
//!
//! ## Blocking, parking and time
//!
//! Inside a coroutine, [`JoinHandle::join`], [`sleep`] and [`yield_now`]
//! *park* the coroutine: its worker runs other coroutines meanwhile. On a
//! plain thread the same calls block the thread, so library code can use
//! them without knowing where it runs.
//!
//! ```
//! use std::time::{Duration, Instant};
//! let start = Instant::now();
//! let sleepers: Vec<_> = (0..1000)
//!     .map(|_| weft::go(|| weft::sleep(Duration::from_millis(50))))
//!     .collect();
//! for h in sleepers {
//!     h.join().unwrap();
//! }
//! // A thousand sleeps of 50 ms overlap: the whole batch takes about one.
//! assert!(start.elapsed() < Duration::from_secs(5));
//! ```
//!
//! ## Blocking I/O
//!
//! Inside a coroutine, ordinary blocking socket code parks the coroutine
//! instead of the worker thread: `std::net` (`TcpListener`, `TcpStream`,
//! `UdpSocket`), `std::os::unix::net`, name resolution in
//! `TcpStream::connect("host:port")`, timeouts, `std::thread::sleep`, and
//! blocking crates or C libraries built on them. weft defines the libc
//! functions these reach (`recv`, `send`, `accept4`, `connect`, `poll`,
//! `close`, `nanosleep`, `getaddrinfo`, ...), so no code changes and no
//! weft-specific types are needed. Outside coroutines every call behaves
//! exactly as libc's.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = weft::go(move || {
//!     let (mut conn, _) = listener.accept().unwrap(); // parks, not blocks
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf).unwrap();
//!     conn.write_all(&buf).unwrap();
//! });
//! let reply = weft::go(move || {
//!     let mut c = TcpStream::connect(addr).unwrap();
//!     c.write_all(b"hello").unwrap();
//!     let mut buf = [0u8; 5];
//!     c.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! assert_eq!(&reply.join().unwrap(), b"hello");
//! server.join().unwrap();
//! ```
//!
//! Calls that wait in the kernel where a coroutine cannot park (a futex
//! wait in a `std::sync` lock or channel, parking_lot or crossbeam; a C
//! library's pthread mutex, condition or semaphore wait; a nested tokio
//! runtime's `epoll_wait`; `waitpid`; files, pipes and FIFOs) block their
//! own thread only: if one lasts, another thread of the same worker takes
//! the worker over and runs its other coroutines, and the blocked
//! coroutine continues on its own thread when the call returns. A long CPU
//! loop still holds its worker.
//!
//! ```
//! use std::sync::mpsc;
//! let rt = weft::Runtime::builder().workers(1).build().unwrap();
//! let got = rt.run(|| {
//!     let (tx, rx) = mpsc::channel();
//!     // The receiver blocks its thread in std's channel...
//!     let receiver = weft::go(move || rx.recv().unwrap());
//!     // ...and the sender, on the same single worker, still runs.
//!     weft::go(move || tx.send("sent").unwrap());
//!     receiver.join().unwrap()
//! });
//! assert_eq!(got, "sent");
//! ```
//!
//! ## Channels and sync
//!
//! [`channel`] has crossbeam-channel's API ([`channel::bounded`],
//! [`channel::unbounded`], [`select!`]) and [`sync`] has Go's and std's
//! coordination types ([`sync::Mutex`], [`sync::RwLock`], [`sync::Condvar`],
//! [`sync::WaitGroup`], [`sync::Semaphore`], [`sync::Barrier`]). Their
//! blocking calls park a coroutine and block a plain thread, so coroutines
//! and threads can share them. Prefer them to `std::sync` in coroutines: a
//! park costs nothing, while a std lock or channel that waits holds an OS
//! thread for as long as it waits.
//!
//! ```
//! use weft::channel::bounded;
//! use weft::sync::WaitGroup;
//!
//! let (jobs, queue) = bounded::<u32>(16);
//! let (results, collected) = bounded::<u32>(16);
//! let wg = WaitGroup::new();
//! for _ in 0..4 {
//!     let (queue, results, wg) = (queue.clone(), results.clone(), wg.clone());
//!     weft::go(move || {
//!         for n in queue {
//!             results.send(n * n).unwrap();
//!         }
//!         drop(wg);
//!     });
//! }
//! drop(results);
//! weft::go(move || (1..=10).for_each(|n| jobs.send(n).unwrap()));
//! let sum: u32 = collected.iter().sum();
//! wg.wait();
//! assert_eq!(sum, 385);
//! ```
//!
//! ## Context: coroutine-locals and tracing spans
//!
//! A `thread_local!` belongs to a worker thread, which runs many coroutines
//! in turn (and a coroutine that was parked while a sibling blocked may
//! resume on another thread of its worker: see below). For a value per
//! coroutine, declare it with [`coroutine_local!`]: each coroutine gets its
//! own, created on first use and dropped when the coroutine ends (returns,
//! panics, or is cancelled by its runtime's drop), before its joiner gets
//! the result. Spawned coroutines start with fresh values; nothing is
//! inherited. On a plain thread it is a thread-local.
//!
//! ```
//! use std::cell::RefCell;
//!
//! weft::coroutine_local! {
//!     static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
//! }
//!
//! let hs: Vec<_> = ["a", "b"]
//!     .into_iter()
//!     .map(|who| {
//!         weft::go(move || {
//!             LOG.with(|l| l.borrow_mut().push(format!("{who} starts")));
//!             weft::yield_now(); // the other coroutine runs
//!             LOG.with(|l| l.borrow_mut().push(format!("{who} ends")));
//!             LOG.with(|l| l.borrow().join(", "))
//!         })
//!     })
//!     .collect();
//! let logs: Vec<String> = hs.into_iter().map(|h| h.join().unwrap()).collect();
//! assert_eq!(logs, ["a starts, a ends", "b starts, b ends"]);
//! ```
//!
//! With the `tracing` cargo feature, the `tracing` spans a coroutine has
//! entered follow it: they leave the thread when it parks or yields and
//! are entered again, in order, when it resumes, so a subscriber that keeps
//! a span stack per thread (tracing-subscriber's) labels each line with
//! its own coroutine's spans. Guards work unchanged. A coroutine spawned
//! while a span is current starts inside it (like tokio's
//! `in_current_span`). Spans follow coroutines for the global default
//! subscriber, the one the worker threads see. Without a subscriber, or
//! without the feature, a park costs nothing more.
//!
//! ```
//! // With `features = ["tracing"]`, each line carries its own request.
//! tracing_subscriber::fmt().init();
//! let hs: Vec<_> = (0..3)
//!     .map(|id| {
//!         weft::go(move || {
//!             let _span = tracing::info_span!("request", id).entered();
//!             tracing::info!("start");
//!             weft::sleep(std::time::Duration::from_millis(5));
//!             tracing::info!("done"); // `request{id=..}: done`, its own id
//!         })
//!     })
//!     .collect();
//! for h in hs {
//!     h.join().unwrap();
//! }
//! ```
//!
//! ## Seeing inside
//!
//! [`dump`] lists every coroutine of a runtime (state, what it waits for
//! and for how long, worker, where it was spawned; lock cycles marked as
//! deadlocks), as text or JSON; [`metrics`] reads its counters. With
//! `WEFT_DUMP_SIGNAL=SIGUSR1` that signal prints a dump on stderr. A
//! watchdog warns on stderr about a coroutine that runs over 100 ms
//! without parking (`WEFT_HOG_MS`), about lock cycles, and about a worker
//! whose threads are all in blocking calls (`WEFT_WARN=0` turns it off). A
//! panic hook of the program's own hears of coroutine panics, and
//! [`current`] names the coroutine inside it.
//!
//! ```
//! let rt = weft::Runtime::builder().workers(1).build().unwrap();
//! let (tx, rx) = weft::channel::bounded::<u8>(0);
//! let waiter = weft::Builder::new().name("waiter");
//! let h = rt.run(move || waiter.spawn(move || rx.recv()).unwrap());
//! std::thread::sleep(std::time::Duration::from_millis(50));
//! let dump = rt.dump();
//! assert!(dump.to_string().contains("'waiter' [parked"));
//! assert_eq!(rt.metrics().coroutines, 1);
//! tx.send(1).unwrap();
//! assert_eq!(h.join().unwrap(), Ok(1));
//! ```
//!
//! ## Runtime configuration
//!
//! The global runtime starts lazily with `WEFT_WORKERS` workers (default:
//! available cores), `WEFT_STACK_SIZE`-byte stacks (default 256 KiB) and at
//! most `WEFT_MAX_THREADS` OS threads per worker (default 512; see
//! [Limits](#limits)). [`Runtime::builder`] makes a private runtime with its
//! own worker count, stack size, thread names and threads per worker; dropping
//! it shuts it down and unwinds its unfinished coroutines so their destructors
//! run.
//!
//! ```
//! let rt = weft::Runtime::builder()
//!     .workers(2)
//!     .stack_size(128 * 1024)
//!     .thread_name("my-worker")
//!     .build()
//!     .unwrap();
//! assert!(rt.run(weft::in_coroutine));
//! ```
//!
//! ## Embedding
//!
//! weft takes over nothing: no `main` attribute, no global setup. Nothing
//! starts until the first `go` (or `run`), and plain threads, other thread
//! pools and a tokio runtime in the same process keep working beside it.
//! Outside coroutines every intercepted call behaves exactly as libc's, so
//! a library can use weft internally without its callers noticing.
//!
//! ```
//! // A plain thread and a coroutine side by side, talking over a channel.
//! let (tx, rx) = weft::channel::bounded(0);
//! let worker = std::thread::spawn(move || tx.send("from a thread").unwrap());
//! let got = weft::go(move || rx.recv().unwrap()).join().unwrap();
//! assert_eq!(got, "from a thread");
//! worker.join().unwrap();
//! ```
//!
//! ## The soundness rule: bound after first run
//!
//! A coroutine can be stolen by an idle worker until it first runs; from its
//! first resume on, it stays on that worker for life. A worker is run by one
//! OS thread at a time: usually always the same one, and another of the
//! worker's own threads only while a coroutine of the worker is blocked in
//! a call that cannot park. So `thread_local!` values, `Rc`, and std lock
//! guards held across a park are never used from two threads at once, and
//! `go` can be a safe function. A coroutine that was parked while a sibling
//! blocked may resume on another thread of its worker (and then sees that
//! thread's thread-locals; its [`coroutine_local!`] values and spans come
//! with it). Balance comes from stealing coroutines that have not started
//! yet.
//!
//! ## Limits
//!
//! - Stacks do not move. A stack that overflows hits its guard page and the
//!   process aborts with `coroutine '<name>' has overflowed its stack`. Give
//!   the coroutine more ([`Builder::stack_size`], `WEFT_STACK_SIZE`; untouched
//!   pages cost nothing) or wrap deep recursion in [`grow`].
//! - Each stack costs two kernel memory mappings, and Linux caps a process at
//!   `vm.max_map_count` (65530 by default): about 28,000 live coroutines.
//!   Past that, [`Builder::spawn`] returns an `OutOfMemory` error (and `go`
//!   panics) until some finish. Raise the cap with
//!   `sysctl -w vm.max_map_count=262144`.
//! - A long CPU loop holds its worker and the coroutines queued on it. A
//!   call that blocks its thread takes one of the worker's threads, at most
//!   [`RuntimeBuilder::max_threads`] (512) per worker; past that, it holds
//!   up the worker until one returns.
//! - A coroutine's socket calls ask the kernel per call not to block
//!   (`MSG_DONTWAIT`): a socket's open file description keeps the blocking
//!   mode the program set, so clones, forked children and fds passed to
//!   another process see it unchanged. Only a listener made in a coroutine
//!   (and a stream socket until it connects) is non-blocking underneath:
//!   weft hides that in this process (`fcntl` reports the program's own
//!   view), and gives such a socket its blocking mode back before another
//!   program can see it (`posix_spawn`, which `std::process::Command`
//!   uses, the `exec` functions that take an argument vector, and
//!   `SCM_RIGHTS`); `execl` and its variants, `fexecve`, `sendmmsg`,
//!   `system` and `popen` are not covered.
//! - A forked child is outside weft: the interposed functions are libc's
//!   there, and no runtime starts in it (exec, or use `posix_spawn`).
//! - Signals: on plain threads calls fail with `EINTR` where libc's would;
//!   in a coroutine a call that parks is never interrupted.
//! - When a runtime shuts down, I/O calls of its parked coroutines fail
//!   with `ECANCELED` (`raw_os_error()` is `Some(libc::ECANCELED)`) and
//!   their sleeps with `EINTR`; weft's own blocking calls unwind so that
//!   destructors run.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

mod batches;
pub mod channel;
mod coroutine;
mod hook;
mod io;
mod loom;
mod runtime;
mod stack;
pub mod sync;
mod sys;
mod task;
mod time;

pub use coroutine::grow;
pub use coroutine::spawn_blocking;
pub use coroutine::{Builder, Coroutine, CoroutineId, CoroutineLocal, JoinHandle};
pub use runtime::{Dump, Metrics, Runtime, RuntimeBuilder, WorkerMetrics};
pub use time::sleep;

use runtime::{current_task, park};

/// Spawns a coroutine and returns its [`JoinHandle`].
///
/// Inside a coroutine it spawns onto that coroutine's runtime, elsewhere onto
/// the global runtime (started on first use). The closure and its result must
/// be `Send`: the coroutine may start on any worker. It starts with fresh
/// [`coroutine_local!`] values and, with the `tracing` feature, inside the
/// caller's current span.
///
/// # Panics
///
/// When the coroutine cannot be created, with the reason (for example the
/// `vm.max_map_count` budget; [`Builder::spawn`] returns it as an error).
///
/// ```
/// let h = weft::go(|| "hello from a coroutine");
/// assert_eq!(h.join().unwrap(), "hello from a coroutine");
/// ```
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// The coroutine this code runs in, or `None` on a plain thread.
///
/// ```
/// assert!(weft::current().is_none());
/// let name = weft::Builder::new()
///     .name("me")
///     .spawn(|| weft::current().unwrap().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(name.join().unwrap().as_deref(), Some("me"));
/// ```
pub fn current() -> Option<Coroutine> {
    park::current_ref().map(Coroutine::new)
}

/// A snapshot of every coroutine of the caller's runtime (the global one
/// on a plain thread): see [`Dump`] and [`Runtime::dump`].
///
/// # Panics
///
/// If the global runtime cannot start.
///
/// ```
/// let h = weft::Builder::new()
///     .name("napper")
///     .spawn(|| weft::sleep(std::time::Duration::from_secs(1)))
///     .unwrap();
/// std::thread::sleep(std::time::Duration::from_millis(50));
/// let dump = weft::dump();
/// assert!(dump.to_string().contains("'napper' [parked"), "{dump}");
/// assert!(dump.to_json().contains("\"name\":\"napper\""));
/// h.join().unwrap();
/// ```
pub fn dump() -> Dump {
    match runtime::current_or_global() {
        Ok(shared) => Dump::take(shared, runtime::backtraces_from_env()),
        Err(e) => panic!("{e}"),
    }
}

/// [`dump`], with a backtrace of every suspended coroutine: see
/// [`Runtime::dump_with_backtraces`].
///
/// # Panics
///
/// If the global runtime cannot start.
///
/// ```
/// let (tx, rx) = weft::channel::bounded::<()>(0);
/// let h = weft::go(move || rx.recv());
/// std::thread::sleep(std::time::Duration::from_millis(50));
/// let dump = weft::dump_with_backtraces();
/// assert!(dump.to_json().contains("\"backtrace\":\""), "{dump}");
/// drop(tx);
/// h.join().unwrap().unwrap_err();
/// ```
pub fn dump_with_backtraces() -> Dump {
    match runtime::current_or_global() {
        Ok(shared) => Dump::take(shared, true),
        Err(e) => panic!("{e}"),
    }
}

/// The counters of the caller's runtime (the global one on a plain
/// thread): see [`Metrics`] and [`Runtime::metrics`].
///
/// # Panics
///
/// If the global runtime cannot start.
///
/// ```
/// let before = weft::metrics().spawned;
/// weft::go(|| ()).join().unwrap();
/// assert!(weft::metrics().spawned > before);
/// ```
pub fn metrics() -> Metrics {
    match runtime::current_or_global() {
        Ok(shared) => Metrics::read(shared),
        Err(e) => panic!("{e}"),
    }
}

/// Whether this code runs in a coroutine.
///
/// ```
/// assert!(!weft::in_coroutine());
/// assert!(weft::go(weft::in_coroutine).join().unwrap());
/// ```
#[inline]
pub fn in_coroutine() -> bool {
    current_task().is_some()
}

/// Lets the worker run other coroutines, then continues. On a plain thread
/// it is `std::thread::yield_now`.
///
/// ```
/// let h = weft::go(|| {
///     for _ in 0..3 {
///         weft::yield_now();
///     }
/// });
/// h.join().unwrap();
/// ```
#[inline]
pub fn yield_now() {
    park::yield_now()
}

/// Runs `f` as a coroutine on the global runtime and blocks until it returns;
/// inside a coroutine it simply calls `f`. A panic in `f` is resumed here.
///
/// # Panics
///
/// If the global runtime cannot start (for example an invalid
/// `WEFT_WORKERS`), or if `f` panics.
///
/// ```
/// let n = weft::run(|| {
///     let h = weft::go(|| 21);
///     h.join().unwrap() * 2
/// });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if in_coroutine() {
        return f();
    }
    match runtime::global::global() {
        Ok(rt) => rt.run(f),
        Err(e) => panic!("{e}"),
    }
}
