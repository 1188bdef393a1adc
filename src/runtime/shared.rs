//! State a runtime's threads share: the injector, each worker's remote half,
//! and the idle/wake protocol.
//!
//! # Queues
//!
//! - *Fresh* coroutines (never run) go to the spawning worker's stealable
//!   FIFO (crossbeam-deque, the Chase-Lev deque), or to the shared injector
//!   when spawned from outside the runtime. Any worker may run them.
//! - *Bound* coroutines (started) are only ever queued on their own worker:
//!   in its local ready queue when woken there, or in its inbox (a lock-free
//!   MPSC segment queue) when woken from another thread.
//!
//! # Idle and wake (after Go's spinning threads and tokio's `idle.rs`)
//!
//! A worker with nothing local *searches*: it steals from the injector and
//! its peers while counted in `searching`. If that fails it *sleeps* in its
//! poller. Each worker's `state` is `RUNNING`, `SLEEPING` or `WOKEN` (woken to
//! search, already counted in `searching` by whoever woke it).
//!
//! 1. A spawn pushes the task, then (after a SeqCst fence) reads
//!    `searching`. If some worker is searching, that worker will find the task
//!    or, if it finds other work, wake a successor; the spawner does nothing.
//!    Otherwise it moves one sleeping worker `SLEEPING -> WOKEN`, counting it
//!    as searching, and writes its eventfd. Waking at most one searcher per
//!    spawn keeps a spawn loop from waking every worker.
//! 2. A sleeping-to-be worker stores `SLEEPING`, fences, and checks its inbox,
//!    the injector and its peers' deques once more before `epoll_wait`.
//!    Either it sees the task, or the spawner's fence-ordered read sees
//!    `SLEEPING`: the wake-up cannot be lost.
//! 3. A searcher that finds work stops counting itself; if it was the last
//!    searcher and more fresh work is visible, it wakes another (step 1).
//! 4. A bound task woken from another thread is pushed to its worker's inbox;
//!    after a fence, the waker moves that worker `SLEEPING -> RUNNING` and
//!    writes its eventfd if it was asleep (the same argument as step 2).

use std::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_queue::SegQueue;
use mio::Waker;

use super::current_worker;
use super::worker::Local;
use crate::batches::Batches;
use crate::coroutine::TaskRef;
use crate::io::Poller;

/// Runtime settings fixed at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
}

/// `Remote::state` values.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const SLEEPING: u8 = 1;
pub(crate) const WOKEN: u8 = 2;

/// The part of a worker that other threads reach.
pub(crate) struct Remote {
    /// Steals from the worker's FIFO of fresh tasks.
    pub(crate) stealer: Stealer<TaskRef>,
    /// Bound tasks woken from other threads. Any thread pushes; the worker pops.
    pub(crate) inbox: SegQueue<TaskRef>,
    /// Breaks the worker's `epoll_wait`.
    pub(crate) waker: Arc<Waker>,
    /// The worker's poller: its registry and the coroutines waiting on fds.
    pub(crate) poller: Arc<Poller>,
    /// `RUNNING`, `SLEEPING` or `WOKEN`: the worker stores `SLEEPING` before
    /// it sleeps and `RUNNING` after; wakers CAS it out of `SLEEPING`.
    pub(crate) state: AtomicU8,
    /// Coroutines started on this worker and not finished. Written by the
    /// worker; read by the others to place fresh coroutines.
    pub(crate) bound: AtomicUsize,
}

/// Everything a runtime's threads share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) workers: Box<[Remote]>,
    /// Fresh tasks spawned from outside the runtime.
    pub(crate) injector: Injector<TaskRef>,
    /// Workers counted as searching for fresh work (steps 1-3).
    pub(crate) searching: AtomicUsize,
    /// Set once by `Runtime::drop`; workers exit when they see it.
    pub(crate) shutdown: AtomicBool,
    /// Batches of references to this runtime that workers pass on to each
    /// other (see `share`).
    pub(crate) spare_refs: Batches<Arc<Shared>>,
}

/// Batches of spare references the runtime keeps for its workers to take.
pub(crate) const SPARE_BATCHES: usize = 64;

/// A reference to `shared` for a new task.
///
/// Every task holds its runtime alive. A plain `Arc` clone per spawn, and a
/// release per finished task, would have the spawning worker and the worker
/// that frees tasks write the runtime's reference count for every task. So
/// a worker of the runtime keeps the references of the tasks it frees
/// (`unshare`) and hands them to the tasks it spawns, and workers pass them
/// on to each other in batches through `Shared::spare_refs`; only when
/// none is at hand is a new one counted.
pub(crate) fn share(shared: &Arc<Shared>) -> Arc<Shared> {
    match shared.local_worker() {
        Some(w) => w.take_shared_ref(),
        None => shared.clone(),
    }
}

/// Gives back the reference of a freed task (see `share`).
pub(crate) fn unshare(shared: Arc<Shared>) {
    if let Some(w) = shared.local_worker() {
        w.give_shared_ref(shared);
    }
}

impl Shared {
    /// The calling thread's worker, if it is one of this runtime's.
    #[inline]
    pub(crate) fn local_worker(&self) -> Option<&'static Local> {
        current_worker().filter(|w| std::ptr::eq(&*w.shared, self))
    }

    /// Whether the calling thread is one of this runtime's workers.
    pub(crate) fn is_current(&self) -> bool {
        self.local_worker().is_some()
    }

    /// Releases every spare reference kept for the workers (shutdown: they
    /// would keep the runtime alive for ever).
    pub(crate) fn release_spare_refs(&self) {
        drop(self.spare_refs.take_all());
    }

    /// Queues a fresh task: on the caller's worker if it belongs to this
    /// runtime, else on the injector; then wakes a searcher if needed.
    pub(crate) fn schedule_fresh(&self, task: TaskRef) {
        match self.local_worker() {
            Some(w) => {
                // Step 1 is owed only when the queue goes from empty to not
                // empty: tasks already waiting were announced when the first
                // of them was pushed, and whoever takes them announces the
                // rest (step 3).
                if w.push_fresh(task) {
                    self.notify_searcher();
                }
            }
            None => {
                self.injector.push(task);
                self.notify_searcher();
            }
        }
    }

    /// Pushes a bound task, woken on another thread, to its worker's inbox
    /// and wakes that worker if it sleeps (step 4; `park.rs`, step 3).
    pub(crate) fn push_remote(task: TaskRef) {
        // The push hands `task` over, and with it perhaps the last reference
        // to the runtime. A worker of the same runtime keeps the runtime
        // alive itself; any other thread takes a reference first.
        let kept;
        let this: &Shared = match task.shared.local_worker() {
            Some(w) => &w.shared,
            None => {
                kept = task.shared.clone();
                &kept
            }
        };
        let remote = &this.workers[task.worker()];
        remote.inbox.push(task);
        fence(Ordering::SeqCst);
        if remote.state.load(Ordering::Relaxed) == SLEEPING
            && remote
                .state
                .compare_exchange(SLEEPING, RUNNING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            wake(remote);
        }
    }

    /// Step 1: wakes one sleeping worker to search, unless one already is.
    pub(crate) fn notify_searcher(&self) {
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::Relaxed) != 0 {
            return;
        }
        self.searching.fetch_add(1, Ordering::SeqCst);
        for remote in self.workers.iter() {
            if remote.state.load(Ordering::Relaxed) == SLEEPING
                && remote
                    .state
                    .compare_exchange(SLEEPING, WOKEN, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                wake(remote);
                return;
            }
        }
        self.searching.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether fresh work is visible anywhere (used by step 3 and before sleep).
    pub(crate) fn has_fresh_work(&self) -> bool {
        !self.injector.is_empty() || self.workers.iter().any(|r| !r.stealer.is_empty())
    }

    /// Asks every worker to exit.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for remote in self.workers.iter() {
            wake(remote);
        }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

fn wake(remote: &Remote) {
    if let Err(e) = remote.waker.wake() {
        // An eventfd write fails only on a broken fd: a worker would sleep
        // forever, so say it loudly.
        panic!("weft: cannot wake a worker: {e}");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use crate::Runtime;

    /// Runtime references that workers keep for new tasks (`share`) are all
    /// released at shutdown: nothing keeps a dropped runtime alive.
    #[test]
    fn a_dropped_runtime_is_freed_with_its_spare_references() {
        for workers in [1, 2] {
            let rt = Runtime::builder().workers(workers).build().unwrap();
            let weak = Arc::downgrade(rt.shared());
            // Spawned and freed on the workers, so references circulate
            // through the workers' pools and the shared batches.
            rt.run(|| {
                let handles: Vec<_> = (0..5_000).map(|i| crate::go(move || i)).collect();
                for (i, h) in handles.into_iter().enumerate() {
                    assert_eq!(h.join().unwrap(), i);
                }
                for _ in 0..5_000 {
                    drop(crate::go(|| ()));
                }
            });
            drop(rt);
            for _ in 0..1000 {
                if weak.upgrade().is_none() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert!(weak.upgrade().is_none(), "the runtime outlived its drop");
        }
    }
}
