//! The M:N scheduler: runtimes, workers, run queues, idle/wake and park.

mod blocking;
mod builder;
mod context;
pub(crate) mod fork;
pub(crate) mod global;
mod handle;
mod monitor;
pub(crate) mod park;
mod shared;
mod takeover;
mod worker;

pub use blocking::spawn_blocking;
pub use builder::RuntimeBuilder;
pub(crate) use context::{current_task, current_worker};
pub(crate) use fork::outside_weft;
pub(crate) use global::current_or_global;
pub use handle::Runtime;
pub(crate) use shared::{share, Shared, TaskShare};
pub(crate) use takeover::{blocking_call, blocking_syscall};
pub(crate) use worker::Local;
