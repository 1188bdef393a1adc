//! Coroutines: the task record the scheduler moves around, the public handle,
//! the spawn `Builder` and `JoinHandle`.

mod alloc;
mod builder;
mod frame;
mod handle;
mod job;
mod join;
mod task;

pub(crate) use alloc::TaskRef;
pub use builder::Builder;
pub(crate) use frame::Frame;
pub use handle::{Coroutine, CoroutineId};
pub(crate) use job::JobCell;
pub use join::JoinHandle;
pub(crate) use task::{Body, Options, Suspend, Task};
