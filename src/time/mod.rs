//! Time: each worker's timer heap and `weft::sleep`.

mod sleep;
mod timers;

pub use sleep::sleep;
pub(crate) use sleep::sleep_parked;
pub(crate) use timers::Timers;
