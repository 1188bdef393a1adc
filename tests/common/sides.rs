//! Helpers for the channel and select tests: run a body on a coroutine or
//! a plain thread, and wait for anything with a deadline, never for ever.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest any one wait may take before the test fails instead of
/// hanging.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How late a timeout may fire on a loaded two-core machine.
pub const SLACK: Duration = Duration::from_millis(1000);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Where a test body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Co,
    Thread,
}

pub const SIDES: [Side; 2] = [Side::Co, Side::Thread];

/// A coroutine or a plain thread, joined with a deadline.
pub enum Task<T> {
    Co(weft::JoinHandle<T>),
    Thread(std::thread::JoinHandle<T>),
}

pub fn spawn<T, F>(side: Side, f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match side {
        Side::Co => Task::Co(weft::go(f)),
        Side::Thread => Task::Thread(std::thread::spawn(f)),
    }
}

impl<T: Send + 'static> Task<T> {
    pub fn is_finished(&self) -> bool {
        match self {
            Task::Co(h) => h.is_finished(),
            Task::Thread(h) => h.is_finished(),
        }
    }

    /// Joins, failing the test if the task is not done within `LIMIT`; a
    /// panic in the task is resumed here.
    #[track_caller]
    pub fn join(self) -> T {
        let deadline = Instant::now() + LIMIT;
        while !self.is_finished() {
            assert!(
                Instant::now() < deadline,
                "task did not finish within {LIMIT:?}: a lost wake-up or a deadlock"
            );
            std::thread::sleep(ms(1));
        }
        let res = match self {
            Task::Co(h) => h.join(),
            Task::Thread(h) => h.join(),
        };
        res.unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// Runs `f` on `side` and joins it with a deadline.
#[track_caller]
pub fn on<T, F>(side: Side, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn(side, f).join()
}

/// Waits until `cond` holds, failing the test after `LIMIT`.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(ms(1));
    }
}

/// Counts its drops.
pub struct Counted(pub Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sets a flag when dropped.
pub struct SetOnDrop(pub Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
