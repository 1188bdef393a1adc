//! Coroutines: the task record the scheduler moves around, the public handle,
//! the spawn `Builder` and `JoinHandle`.

mod alloc;
mod builder;
mod frame;
mod grow;
mod handle;
mod job;
mod join;
mod locals;
pub(crate) mod names;
#[cfg(feature = "tracing")]
mod spans;
mod task;
mod waiting;

pub(crate) use alloc::TaskRef;
pub use builder::Builder;
pub(crate) use frame::{Frame, Suspend};
pub use grow::grow;
pub use handle::{Coroutine, CoroutineId};
pub(crate) use job::JobCell;
pub use join::JoinHandle;
pub use locals::CoroutineLocal;
#[cfg(feature = "tracing")]
pub(crate) use spans::{come_back as spans_come_back, leave as spans_leave};
pub(crate) use task::{Options, Stage, Task};
pub(crate) use waiting::{Call, Kind, WaitFor};
