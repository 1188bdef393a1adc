//! `weft::sleep`.

use std::time::{Duration, Instant};

use crate::runtime::park;

/// Puts the current coroutine to sleep for at least `dur`.
///
/// Inside a coroutine this parks it on its worker's timer heap and the worker
/// runs other coroutines meanwhile; on a plain thread it is
/// `std::thread::sleep`. A zero duration returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// weft::go(|| weft::sleep(Duration::from_millis(20))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(dur: Duration) {
    if !crate::in_coroutine() {
        std::thread::sleep(dur);
        return;
    }
    if dur.is_zero() {
        return;
    }
    match Instant::now().checked_add(dur) {
        Some(deadline) => {
            while Instant::now() < deadline {
                if park::cancelled() {
                    return;
                }
                park::park_deadline(deadline);
            }
        }
        // Too far to represent: sleep until the runtime shuts down.
        None => {
            while !park::cancelled() {
                park::park();
            }
        }
    }
}
