//! State a runtime's threads share: the injector, each worker's remote half,
//! and the idle/wake protocol.
//!
//! # Queues
//!
//! - *Fresh* coroutines (never run) go to the spawning worker's stealable
//!   FIFO (crossbeam-deque, the Chase-Lev deque), or to the shared injector
//!   when spawned from outside the runtime. Any worker may run them.
//! - *Bound* coroutines (started) are only ever queued on their own worker:
//!   in its `next` slot or local ready queue when woken there, or in its
//!   inbox (a lock-free MPSC segment queue) when woken from another thread.
//!
//! # Idle and wake (after Go's spinning threads and tokio's idle tracking)
//!
//! A worker with nothing local *searches*: it steals from the injector and
//! its peers while counted in `searching`. If that fails it *sleeps* in its
//! poller. Each worker's [`Idle`] state is `Running`, `Sleeping` or `Woken`
//! (woken to search, already counted in `searching` by whoever woke it).
//!
//! 1. A spawn pushes the task, then (after a SeqCst fence) reads
//!    `searching`. If some worker is searching, that worker will find the
//!    task or, if it finds other work, wake a successor; the spawner does
//!    nothing. Otherwise it moves one sleeping worker `Sleeping -> Woken`,
//!    counting it as searching, and writes its eventfd. Waking at most one
//!    searcher per spawn keeps a spawn loop from waking every worker.
//! 2. A sleeping-to-be worker stores `Sleeping`, fences, and checks its
//!    inbox, the injector and its peers' deques once more before
//!    `epoll_wait`. Either it sees the task, or the spawner's fence-ordered
//!    read sees `Sleeping`: the wake-up cannot be lost.
//! 3. A searcher that finds work stops counting itself; if it was the last
//!    searcher and more fresh work is visible, it wakes another (step 1).
//! 4. A bound task woken from another thread is pushed to its worker's
//!    inbox; after a fence, the waker moves that worker `Sleeping ->
//!    Running` and writes its eventfd if it was asleep (the same argument as
//!    step 2).
//!
//! # Task references
//!
//! Every task keeps its runtime alive (`task/home.rs`). An `Arc` clone per
//! spawn and a release per finished task would have the spawning worker
//! and the worker that frees tasks write the `Arc`'s count for every task.
//! So tasks count in `Shared::task_refs` instead, which holds one `Arc`
//! count for all of them while it is above zero, and a worker of the
//! runtime reserves and releases those references in batches
//! (`Worker::take_task_ref`, `Worker::give_task_ref`): a spawn or free on a
//! worker is a plain decrement or increment of its own reserve. Elsewhere
//! each one is counted in `task_refs` directly (`share` and `release_one`,
//! in `worker.rs`, which knows the calling thread's worker).
//!
//! # The monitor's sleep (no lost wake-up)
//!
//! `state` is `Awake`, `Napping` or `Sleeping` (`Rest`).
//!
//! 1. The monitor reads `wakes`, stores `state = Sleeping` (SeqCst), and
//!    looks at every hold word once more (SeqCst): if one is blocking, it
//!    goes round again. Otherwise it looks (SeqCst) at every worker's idle
//!    state, at the count of lock waiters and at the watchdog: if a worker
//!    is awake, a coroutine waits for a lock or a lock probe is in flight,
//!    it stores `Napping` and waits on `wakes` until its next watch (every
//!    `WATCH_TICK`); else it waits on `wakes` for good.
//! 2. A thread entering a blocking call swaps its hold word (SeqCst), then
//!    reads `state` (SeqCst): unless `Awake`, it stores `Awake`, bumps
//!    `wakes` and wakes the futex. A worker leaving its sleep (its idle
//!    swap, SeqCst) and a coroutine starting to wait for a lock (its count,
//!    SeqCst) read `state` the same way, but wake the monitor only from
//!    `Sleeping`: a nap ends by itself within a `WATCH_TICK`.
//!
//! The SeqCst accesses make one of each pair see the other: either the
//! monitor's re-check sees the blocking word (the awake worker, the lock
//! waiter), or that thread sees `Sleeping` and its bump makes the futex wait
//! return.

use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

use super::clock::Clock;
use super::driver::{Poller, Waker};
use super::probe::{Detail, Probe};
use super::stats::WorkerStats;
use super::takeover::Takeover;
use super::unparker::Unparker;
use crate::sys;
use crate::task::{Home, Task, TaskRef};

/// Runtime settings fixed at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
    /// Most OS threads per worker (`takeover.rs`).
    pub(crate) max_threads: usize,
}

/// A worker's place in the idle protocol (module docs): `Running`,
/// `Sleeping` or `Woken`. The worker announces and ends its sleeps; wakers
/// move it out of `Sleeping`. Nothing else writes it.
#[derive(Debug)]
pub(crate) struct Idle(AtomicU8);

/// The values of `Idle`'s word.
#[derive(Clone, Copy)]
#[repr(u8)]
enum IdleState {
    /// Running coroutines or searching for them.
    Running,
    /// Asleep in its poller, or about to be.
    Sleeping,
    /// Moved out of `Sleeping` by a waker that counted it as searching.
    Woken,
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle(AtomicU8::new(IdleState::Running as u8))
    }

    /// Whether the worker sleeps (or is about to): a hint, for counting
    /// awake workers.
    pub(crate) fn is_asleep(&self) -> bool {
        self.0.load(Ordering::Relaxed) == IdleState::Sleeping as u8
    }

    /// Whether the worker sleeps, for the monitor's sleep re-check
    /// ("The monitor's sleep", step 1: SeqCst).
    pub(crate) fn is_asleep_now(&self) -> bool {
        self.0.load(Ordering::SeqCst) == IdleState::Sleeping as u8
    }

    /// Step 2, for the worker: it is about to sleep. The fence orders the
    /// store before the re-checks that follow.
    pub(crate) fn announce_sleep(&self) {
        self.0.store(IdleState::Sleeping as u8, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// For the worker after its sleep: true if a waker counted it as
    /// searching (step 1). SeqCst: the monitor's sleep re-check must see
    /// the worker awake, or the worker see the monitor asleep
    /// ("The monitor's sleep", step 2).
    pub(crate) fn end_sleep(&self) -> bool {
        self.0.swap(IdleState::Running as u8, Ordering::SeqCst) == IdleState::Woken as u8
    }

    /// Steps 1 and 4, for a waker that has fenced: moves a sleeping worker
    /// out of `Sleeping`, to `Woken` if `to_search` (the waker counted it as
    /// searching) or else to `Running`. True if this call woke it: the caller
    /// must then break its poll.
    fn wake(&self, to_search: bool) -> bool {
        let to = if to_search {
            IdleState::Woken
        } else {
            IdleState::Running
        } as u8;
        self.0.load(Ordering::Relaxed) == IdleState::Sleeping as u8
            && self
                .0
                .compare_exchange(
                    IdleState::Sleeping as u8,
                    to,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// The values of `Monitor::state` ("The monitor's sleep", step 1).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Rest {
    /// Ticking.
    Awake,
    /// Waiting on `wakes` until the next watch at the latest (a worker is
    /// awake, a coroutine waits for a lock, or a lock probe is in flight).
    Napping,
    /// Waiting on `wakes` until woken.
    Sleeping,
}

/// The monitor's shared state, in `Shared`: the steps below are those of
/// "The monitor's sleep" (module docs).
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    /// `Awake`, `Napping` or `Sleeping` (step 1). Set by the monitor before
    /// it waits; set back to `Awake` by whoever wakes it.
    state: AtomicU8,
    /// The futex word the monitor sleeps on; bumped to wake it.
    wakes: AtomicU32,
}

impl Monitor {
    /// Step 2: wakes the monitor if it sleeps or naps. Called after a hold
    /// word became blocking.
    #[inline]
    pub(crate) fn watch(&self) {
        if self.state.load(Ordering::SeqCst) != Rest::Awake as u8 {
            self.wake();
        }
    }

    /// Step 2 for a worker that left its sleep (after its idle swap) or a
    /// coroutine that started to wait for a lock (after counting itself):
    /// wakes the monitor if it sleeps for good, refreshing the clock first
    /// so that parks from now on stamp the right time (`clock.rs`).
    #[inline]
    pub(crate) fn worker_awake(&self, clock: &Clock) {
        if self.state.load(Ordering::SeqCst) == Rest::Sleeping as u8 {
            clock.refresh();
            self.wake();
        }
    }

    /// Wakes the monitor (also at shutdown).
    #[cold]
    pub(crate) fn wake(&self) {
        if self.state.swap(Rest::Awake as u8, Ordering::SeqCst) != Rest::Awake as u8 {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&self.wakes, 1);
        }
    }

    /// Step 1, the monitor's side: announces that it is about to wait.
    /// Returns the futex word's value to wait on, for `rest`.
    pub(crate) fn begin_rest(&self) -> u32 {
        let wakes = self.wakes.load(Ordering::SeqCst);
        self.state.store(Rest::Sleeping as u8, Ordering::SeqCst);
        wakes
    }

    /// Step 1: the re-check found a reason to go on; the monitor is awake.
    pub(crate) fn stay_awake(&self) {
        self.state.store(Rest::Awake as u8, Ordering::Relaxed);
    }

    /// Step 1: waits on the futex until woken (`nap: None`) or, napping,
    /// at most `nap`.
    pub(crate) fn rest(&self, wakes: u32, nap: Option<Duration>) {
        if nap.is_some() {
            self.state.store(Rest::Napping as u8, Ordering::SeqCst);
        }
        sys::futex_wait(&self.wakes, wakes, nap);
        self.state.store(Rest::Awake as u8, Ordering::Relaxed);
    }
}

/// The part of a worker that other threads reach.
pub(crate) struct Remote {
    /// Steals from the worker's FIFO of fresh tasks.
    pub(crate) stealer: Stealer<TaskRef>,
    /// Bound tasks woken from other threads. Any thread pushes; the worker
    /// pops.
    pub(crate) inbox: SegQueue<TaskRef>,
    /// Breaks the worker's `epoll_wait`.
    pub(crate) waker: Arc<Waker>,
    /// The worker's poller: its registry and the coroutines waiting on fds.
    pub(crate) poller: Arc<Poller>,
    /// Where the worker is in the idle protocol.
    pub(crate) idle: Idle,
    /// Coroutines started on this worker and not finished. Written by the
    /// worker; read by the others to place fresh coroutines.
    pub(crate) bound: AtomicUsize,
    /// Which of the worker's threads holds it (`takeover.rs`).
    pub(crate) takeover: Takeover,
    /// The worker's counters (`stats.rs`), on cache lines of their own.
    pub(crate) stats: CachePadded<WorkerStats>,
    /// A probe waits for this worker's answer (`probe.rs`, steps 1 and 2).
    /// Set by requesters, cleared by the worker.
    pub(crate) probe: AtomicBool,
}

impl Remote {
    /// Whether a probe waits for this worker (`probe.rs`, step 2).
    #[inline]
    pub(crate) fn probe_wanted(&self) -> bool {
        self.probe.load(Ordering::Relaxed)
    }

    /// Step 2: the worker takes the request.
    pub(crate) fn clear_probe_wanted(&self) {
        self.probe.swap(false, Ordering::AcqRel);
    }
}

/// Everything a runtime's threads share.
pub(crate) struct Shared {
    /// What the runtime's tasks point to (`task/home.rs`), which leads back
    /// here (`from_home`).
    pub(crate) home: Home,
    pub(crate) config: Config,
    pub(crate) workers: Box<[Remote]>,
    /// Fresh tasks spawned from outside the runtime.
    pub(crate) injector: Injector<TaskRef>,
    /// Workers counted as searching for fresh work (steps 1-3).
    pub(crate) searching: AtomicUsize,
    /// Set once by `Runtime::drop`; workers exit when they see it.
    pub(crate) shutdown: AtomicBool,
    /// Takes over workers blocked in the kernel (`monitor.rs`).
    pub(crate) monitor: Monitor,
    /// References held by tasks and reserved by workers (see "Task
    /// references").
    /// While it is above zero, one strong count of the runtime's `Arc` is
    /// held for all of them together.
    pub(crate) task_refs: AtomicUsize,
    /// Milliseconds since the start, for parks to stamp (`clock.rs`).
    pub(crate) clock: Clock,
    /// Probes waiting for the workers' answers (`probe.rs`).
    pub(crate) probes: Mutex<Vec<Arc<Probe>>>,
    /// Coroutines of this runtime waiting for a `weft::sync` lock: the
    /// watchdog looks for lock cycles while there are any (`watchdog.rs`).
    pub(crate) lock_waiters: AtomicUsize,
    /// Coroutines spawned from outside the workers (plain threads); the
    /// workers count their own (`stats.rs`).
    pub(crate) spawned_outside: AtomicU64,
}

/// The runtime whose header is at `home`.
///
/// # Safety
///
/// `home` points at the `home` field of a `Shared`.
#[inline(always)]
pub(super) unsafe fn from_home(home: NonNull<Home>) -> NonNull<Shared> {
    // SAFETY: the field lies `offset_of!` bytes into the `Shared` (the
    // caller's promise), so stepping back stays inside it.
    unsafe { home.byte_sub(std::mem::offset_of!(Shared, home)).cast() }
}

impl Shared {
    /// The runtime `task` belongs to.
    #[inline]
    pub(crate) fn of(task: &Task) -> &Shared {
        // SAFETY: a task's reference points at its runtime's header
        // (`share`), and keeps the runtime alive while the task is
        // borrowed.
        unsafe { from_home(task.home.as_ptr()).as_ref() }
    }

    /// An `Arc` of the runtime `task` belongs to, for work that may outlive
    /// the task.
    pub(crate) fn arc_of(task: &Task) -> Arc<Shared> {
        let this = Shared::of(task);
        // SAFETY: while a task reference exists, `task_refs` is above zero,
        // so the tasks' strong count keeps the `Arc` alive; `this` came from
        // that `Arc`.
        unsafe {
            Arc::increment_strong_count(this);
            Arc::from_raw(this)
        }
    }

    /// Adds `n` task references; the first of all holds an `Arc` count for
    /// them (see "Task references").
    pub(crate) fn add_task_refs(self: &Arc<Shared>, n: usize) {
        if self.task_refs.fetch_add(n, Ordering::Relaxed) == 0 {
            // The caller's `Arc` keeps the runtime alive meanwhile, so a
            // concurrent release of the last references, which drops the
            // old count, cannot free it first.
            std::mem::forget(self.clone());
        }
    }

    /// Releases `n` task references; the last of all releases their `Arc`
    /// count, which may free the runtime.
    ///
    /// # Safety
    ///
    /// The caller must own `n` task references of the runtime at `this`,
    /// and must not use the runtime through them afterwards.
    pub(crate) unsafe fn release_task_refs(this: NonNull<Shared>, n: usize) {
        // SAFETY: the caller's references keep the runtime alive until the
        // subtraction.
        let refs = unsafe { &this.as_ref().task_refs };
        if n > 0 && refs.fetch_sub(n, Ordering::AcqRel) == n {
            // SAFETY: the tasks' strong count, taken in `add_task_refs`
            // from an `Arc` of this runtime.
            unsafe { Arc::decrement_strong_count(this.as_ptr()) };
        }
    }

    /// Wakes a worker that sleeps in its poller, after something was queued
    /// for it that its sleep re-checks (step 4; `takeover.rs`, step 4).
    pub(crate) fn wake_worker(remote: &Remote) {
        fence(Ordering::SeqCst);
        if remote.idle.wake(false) {
            wake(remote);
        }
    }

    /// Wakes every sleeping worker (a spawn refused for want of stack
    /// slots: `stack/budget.rs`, step 2).
    pub(crate) fn wake_all(&self) {
        for remote in self.workers.iter() {
            Self::wake_worker(remote);
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
            if remote.idle.wake(true) {
                wake(remote);
                return;
            }
        }
        self.searching.fetch_sub(1, Ordering::SeqCst);
    }

    /// `probe.rs`, step 1: asks every worker for its part; the last answer
    /// wakes `requester`.
    pub(crate) fn request_probe(&self, detail: Detail, requester: Unparker) -> Arc<Probe> {
        let probe = Arc::new(Probe::new(detail, self.workers.len(), requester));
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(probe.clone());
        for remote in self.workers.iter() {
            remote.probe.store(true, Ordering::Release);
            Self::wake_worker(remote);
        }
        probe
    }

    /// Takes `probe` off the list once its requester is done with it.
    pub(crate) fn end_probe(&self, probe: &Arc<Probe>) {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| !Arc::ptr_eq(p, probe));
    }

    /// Whether fresh work is visible anywhere (used by step 3 and before
    /// sleep).
    pub(crate) fn has_fresh_work(&self) -> bool {
        !self.injector.is_empty() || self.workers.iter().any(|r| !r.stealer.is_empty())
    }

    /// Asks every worker to exit.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for remote in self.workers.iter() {
            wake(remote);
        }
        self.monitor.wake();
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

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use std::sync::Arc;

    use crate::Runtime;

    /// Runtime references that workers reserve for new tasks (`share`) are
    /// all released at shutdown: nothing keeps a dropped runtime alive.
    #[test]
    fn a_dropped_runtime_is_freed_with_its_reserved_references() {
        for workers in [1, 2] {
            let rt = Runtime::builder().workers(workers).build().unwrap();
            let weak = Arc::downgrade(rt.shared());
            // Spawned and freed on the workers, so references go through the
            // workers' reserves.
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

    /// A task outliving its runtime's drop keeps the runtime's memory
    /// alive, and its last reference frees it.
    #[test]
    fn a_task_keeps_its_dropped_runtime_alive_until_it_is_freed() {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let weak = Arc::downgrade(rt.shared());
        // From a plain thread (counted directly) and from a worker
        // (counted through its reserve).
        let outside = rt.spawn(|| 1);
        let inside = rt.run(|| crate::go(|| 2));
        assert_eq!(outside.join().unwrap(), 1);
        drop(rt);
        assert!(weak.upgrade().is_some(), "freed under a live task");
        assert_eq!(inside.join().unwrap(), 2);
        assert!(weak.upgrade().is_none(), "the last task did not free it");
    }
}
