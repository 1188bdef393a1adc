//! What the scheduler needs from a task's closure, whatever its type: the
//! typed part of a task (`coroutine/job.rs`'s `JobCell`, the closure and
//! its result slot) seen through one trait, so that `Task<dyn Job>` is one
//! type for the scheduler.

use std::any::Any;

/// What the scheduler needs from a task's closure, whatever its type.
pub(crate) trait Job: Send + Sync {
    /// Runs the closure to completion and publishes its result. Called once,
    /// on the coroutine's own stack, by the worker that started it (or on a
    /// blocking-pool thread).
    fn run(&self);

    /// Drops the closure unrun (the runtime shut down first); the joiner gets
    /// a cancellation error. A no-op once `run` has taken the closure.
    fn discard(&self);

    /// The result slot, a `Packet<T>`, for `JoinHandle<T>` to downcast.
    fn packet(&self) -> &dyn Any;
}
