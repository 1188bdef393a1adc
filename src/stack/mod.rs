//! Coroutine stacks: guarded mappings, per-worker pools, the map-count budget
//! and the segments the overflow handler (`runtime/overflow.rs`) checks, and
//! the alternate signal stack that handler runs on.

mod altstack;
mod budget;
mod guarded;
mod pool;
mod segment;

pub(crate) use altstack::ensure_altstack;
pub(crate) use budget::Budget;
pub(crate) use guarded::GuardedStack;
pub(crate) use pool::StackPool;
pub(crate) use segment::Segment;

/// Default usable size of a coroutine stack (without its guard page).
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack weft hands out; smaller requests are rounded up.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
