//! The coroutine API: `Builder` and `go`'s spawn path (`builder.rs`), the
//! `Coroutine` handle (`handle.rs`), `JoinHandle` and its result packet
//! (`join.rs`), the typed closure of a task (`job.rs`), coroutine-locals
//! (`locals.rs`), `weft::grow` (`grow.rs`), and spawning onto a given
//! runtime: `Runtime::spawn`, `Runtime::run` and `spawn_blocking`
//! (`spawn.rs`). The task record these stand on is `crate::task`.

mod builder;
mod grow;
mod handle;
mod job;
mod join;
mod locals;
mod spawn;

pub use crate::task::CoroutineId;
pub use builder::Builder;
pub use grow::grow;
pub use handle::Coroutine;
pub(crate) use job::JobCell;
pub use join::JoinHandle;
pub use locals::CoroutineLocal;
pub use spawn::spawn_blocking;
