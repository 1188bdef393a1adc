//! The coroutine API: `Builder` and `go`'s spawn path, the `Coroutine`
//! handle, `JoinHandle`, coroutine-locals and `weft::grow`. The task record
//! these stand on is `crate::task`.

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
