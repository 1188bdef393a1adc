//! The blocking pool: OS threads for work that would block a worker.
//!
//! `spawn_blocking(f)` (`coroutine/spawn.rs`) queues `f` here and returns a
//! `JoinHandle`; joining it from a coroutine parks the coroutine, so a
//! worker never waits for the blocking call. Threads are started on demand
//! up to `MAX_THREADS` and exit after `IDLE_TIMEOUT` without work, so an
//! idle process holds none. The hooks use it for `getaddrinfo`, whose
//! resolver weft cannot intercept.
//!
//! One pool serves the process: blocking work is not tied to a runtime.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::task::TaskRef;

/// Most threads the pool runs at once; more work waits in the queue.
const MAX_THREADS: usize = 512;

/// How long an idle pool thread waits for work before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

struct State {
    queue: VecDeque<TaskRef>,
    threads: usize,
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

/// The pool's threads, and the calls queued for a thread.
pub(crate) fn load() -> (usize, usize) {
    let state = lock();
    (state.threads, state.queue.len())
}

/// Queues `task` (a blocking job, never a coroutine) for a pool thread,
/// starting one if none is idle.
pub(crate) fn submit(task: TaskRef) {
    let mut state = lock();
    state.queue.push_back(task);
    if state.idle > 0 {
        POOL.work.notify_one();
        return;
    }
    if state.threads >= MAX_THREADS {
        return; // a running thread takes it when it is done
    }
    let started = thread::Builder::new()
        .name("weft-blocking".into())
        .spawn(pool_thread);
    match started {
        Ok(_) => state.threads += 1,
        Err(e) if state.threads == 0 => {
            // No thread would ever run it: take it back, and panic with the
            // lock released, so that the pool stays usable.
            let task = state.queue.pop_back();
            drop(state);
            drop(task);
            panic!("weft: cannot start a blocking-pool thread: {e}")
        }
        Err(_) => {} // the running threads will get to it
    }
}

/// The pool's state. Nothing panics while holding it, so a poisoned lock
/// (a panic elsewhere on a thread that held it) still guards a sound state.
fn lock() -> std::sync::MutexGuard<'static, State> {
    POOL.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn pool_thread() {
    let mut state = lock();
    loop {
        if let Some(task) = state.queue.pop_front() {
            drop(state);
            task.job.run();
            drop(task);
            state = lock();
            continue;
        }
        state.idle += 1;
        let (next, timeout) = POOL
            .work
            .wait_timeout(state, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
