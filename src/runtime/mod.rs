//! The M:N scheduler and what it needs around it:
//!
//! - `handle.rs`, `builder.rs`, `global.rs`: `Runtime`, its builder, and
//!   the global runtime started on first use;
//! - `worker.rs`: a worker's queues and scheduling loop, with its ready
//!   queue (`ready.rs`), its timers (`timers.rs`) and its poller
//!   (`driver.rs`, `readiness.rs`), and which worker and coroutine the
//!   current thread runs;
//! - `shared.rs`: what a runtime's threads share, and the idle/wake
//!   protocol; `park.rs`: park and unpark;
//! - `takeover.rs`, `domain.rs`, `monitor.rs`: a worker's threads taking
//!   turns while a coroutine blocks in the kernel (the protocol; the worker
//!   as the domain they hold, and the blocking calls), and the thread that
//!   takes workers over;
//! - `blocking.rs`: the blocking pool; `fork.rs`: a forked child is
//!   outside weft; `overflow.rs`: the stack overflow handler; `panic.rs`:
//!   panic messages that name the coroutine;
//! - seeing inside: dumps (`dump.rs`, from the workers' answers to a probe:
//!   `probe.rs` for the request, `inspect.rs` for the answers, with
//!   `describe.rs` and `json.rs`), metrics (`metrics.rs`,
//!   from counters the workers keep, `stats.rs`), the coarse clock parks
//!   stamp (`clock.rs`), the dump on a signal (`signal.rs`, over the list of
//!   runtimes in `registry.rs`), the watchdog (`watchdog.rs`) and the
//!   warnings on stderr (`warn.rs`).

pub(crate) mod blocking;
mod builder;
mod clock;
mod describe;
mod domain;
mod driver;
mod dump;
pub(crate) mod fork;
pub(crate) mod global;
mod handle;
mod inspect;
mod json;
mod metrics;
mod monitor;
mod overflow;
mod panic;
pub(crate) mod park;
pub(crate) mod probe;
mod readiness;
mod ready;
pub(crate) mod registry;
mod shared;
pub(crate) mod signal;
pub(crate) mod stats;
mod takeover;
mod timers;
mod unparker;
mod warn;
pub(crate) mod watchdog;
mod worker;

pub use builder::RuntimeBuilder;
pub(crate) use driver::{Driver, Poller};
pub(crate) use overflow::{current_segment, install_handler as install_overflow_handler};
pub(crate) use readiness::Direction;
pub(crate) use worker::{current_task, current_worker};

/// Counts a coroutine of the calling worker as finished (`stats.rs`); a
/// no-op elsewhere (a blocking-pool job).
#[inline]
pub(crate) fn count_finished() {
    if let Some(w) = current_worker() {
        w.stats().finished.bump();
    }
}
pub(crate) use domain::{blocking_call, blocking_syscall};
pub(crate) use dump::backtraces_from_env;
pub use dump::Dump;
pub(crate) use fork::outside_weft;
pub(crate) use global::current_or_global;
pub use handle::Runtime;
pub use metrics::{Metrics, WorkerMetrics};
pub(crate) use shared::Shared;
#[cfg(not(weft_loom))]
pub(crate) use watchdog::LockWait;
pub(crate) use worker::Worker;
pub(crate) use worker::{share, share_spawned};
