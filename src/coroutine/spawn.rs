//! Spawning onto a runtime: `Runtime::spawn` and `Runtime::run`, and
//! `spawn_blocking`. They hand out `JoinHandle`s, so they live here, with
//! the coroutine API, rather than with the runtime, which sits below it.

use std::panic;

use super::{Builder, Coroutine, JobCell, JoinHandle};
use crate::runtime::{blocking, current_or_global, current_task, share, Runtime};
use crate::task::{Task, TaskRef};

impl Runtime {
    /// Spawns a coroutine on this runtime.
    ///
    /// # Panics
    ///
    /// When the coroutine cannot be created (see [`Builder::spawn`]).
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// let handles: Vec<_> = (0..10).map(|i| rt.spawn(move || i * 2)).collect();
    /// let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    /// assert_eq!(sum, 90);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match Builder::new().spawn_on(self.shared(), f) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs `f` as a coroutine of this runtime and blocks the calling thread
    /// (or parks the calling coroutine) until it returns. A panic in `f` is
    /// resumed in the caller. Called from one of this runtime's coroutines,
    /// it simply calls `f`.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// let total = rt.run(|| {
    ///     let parts: Vec<_> = (1..=4).map(|i| weft::go(move || i * 10)).collect();
    ///     parts.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    /// });
    /// assert_eq!(total, 100);
    /// ```
    #[track_caller]
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.shared().is_current() && current_task().is_some() {
            return f();
        }
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

/// Runs `f` on the blocking pool and returns a handle to join it.
///
/// Use it for work that would hold a worker: CPU-heavy work (a coroutine is
/// never preempted, so it holds its worker until it parks), and long calls
/// that cannot park (file I/O, a `std::sync::Mutex` held for long, a C
/// library call). A coroutine that makes such a call itself holds one of
/// its worker's threads while the call lasts (at most
/// [`RuntimeBuilder::max_threads`](crate::RuntimeBuilder::max_threads) per
/// worker); on the pool it holds a pool thread instead. Joining the handle
/// from a coroutine parks the coroutine; from a plain thread it blocks the
/// thread. The handle's [`coroutine`](JoinHandle::coroutine) names the
/// blocking task.
///
/// # Panics
///
/// If the global runtime cannot start, or no pool thread can be started
/// while none is running.
///
/// ```
/// let h = weft::go(|| {
///     let size = weft::spawn_blocking(|| std::fs::read("Cargo.toml").map(|b| b.len()));
///     size.join().unwrap().unwrap()
/// });
/// assert!(h.join().unwrap() > 0);
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = match current_or_global() {
        Ok(shared) => shared,
        Err(e) => panic!("{e}"),
    };
    let task = TaskRef::new(Task::new(
        share(shared),
        None,
        std::panic::Location::caller(),
        JobCell::new(f),
    ));
    let handle = JoinHandle::new(Coroutine::new(task.clone()));
    blocking::submit(task);
    handle
}
