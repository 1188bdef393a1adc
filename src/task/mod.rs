//! The task record: one per coroutine, what the scheduler moves around.
//!
//! - `record.rs`: `Task`, the header every queue, handle and wait refers to,
//!   and its `Stage` (fresh, running with its frame, done);
//! - `alloc.rs`: `TaskRef`, the counted pointer, and task memory;
//! - `frame.rs`: the coroutine's frame on top of its own stack, and what it
//!   yields to its worker (`Suspend`);
//! - `job.rs`: the closure seen through one trait (`Task<dyn Job>`);
//! - `home.rs`: the task's reference to its runtime;
//! - `waiting.rs`: what a parked coroutine waits for, in one word, and
//!   `owner.rs`: who holds a lock it waits for;
//! - `locals.rs`: the coroutine-local values beside its stack;
//! - `id.rs`, `names.rs`: ids, and names by id for dumps;
//! - `spans.rs` (feature `tracing`): the spans that follow a coroutine.
//!
//! The public API over it is `crate::coroutine`.

mod alloc;
mod frame;
mod home;
mod id;
mod job;
mod locals;
pub(crate) mod names;
mod owner;
mod record;
#[cfg(feature = "tracing")]
pub(crate) mod spans;
mod waiting;

pub(crate) use alloc::TaskRef;
pub(crate) use frame::{Frame, Suspend};
pub(crate) use home::{Home, HomeRef};
pub use id::CoroutineId;
pub(crate) use job::Job;
pub(crate) use owner::Owner;
pub(crate) use record::{Options, Stage, Task};
pub(crate) use waiting::{Call, Kind, WaitFor};
