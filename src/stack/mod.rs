//! Coroutine stacks: guarded mappings, per-worker pools, the map-count budget
//! and the overflow handler.

mod budget;
mod grow;
mod guarded;
mod overflow;
mod pool;

pub(crate) use budget::Budget;
pub use grow::grow;
pub(crate) use guarded::GuardedStack;
pub(crate) use overflow::{install_handler, Segment};
pub(crate) use pool::StackPool;

/// Default usable size of a coroutine stack (without its guard page).
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack weft hands out; smaller requests are rounded up.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
