//! `weft::sleep`.

use std::time::{Duration, Instant};

use crate::runtime::park;
use crate::task::{Kind, WaitFor};

/// Puts the current coroutine to sleep for at least `dur`.
///
/// Inside a coroutine this parks it on its worker's timer heap and the worker
/// runs other coroutines meanwhile; on a plain thread it is
/// `std::thread::sleep`. A zero duration returns at once. A coroutine that
/// sleeps while its runtime is dropped unwinds from here, so that its
/// destructors run.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// weft::go(|| weft::sleep(Duration::from_millis(20))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(dur: Duration) {
    if crate::runtime::current_task().is_none() {
        std::thread::sleep(dur);
        return;
    }
    if !park::checkpoint() {
        sleep_parked(dur);
        park::checkpoint();
    }
}

/// `sleep` for a coroutine, without cancellation unwinds (the sleep hooks
/// use it). Returns early, with false, if the coroutine is cancelled.
pub(crate) fn sleep_parked(dur: Duration) -> bool {
    if dur.is_zero() {
        return true;
    }
    let deadline = Instant::now().checked_add(dur);
    loop {
        if let Some(task) = crate::runtime::current_task().filter(|t| t.is_cancelled()) {
            park::note_cancelled_call(task);
            return false;
        }
        match deadline {
            Some(d) if Instant::now() >= d => return true,
            Some(d) => park::park_deadline_for(d, WaitFor::sleep(&d)),
            // Too far to represent: until cancelled.
            None => park::park_for(WaitFor::new(Kind::Sleep, 0)),
        }
    }
}
