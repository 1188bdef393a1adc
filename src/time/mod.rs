//! Time: `weft::sleep`. (Each worker's timer heap is the runtime's:
//! `runtime/timers.rs`.)

mod sleep;

pub use sleep::sleep;
pub(crate) use sleep::sleep_parked;
