//! I/O readiness: each worker's poller.

mod driver;

pub(crate) use driver::Driver;
