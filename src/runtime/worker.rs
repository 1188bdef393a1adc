//! A worker: its local queues and its scheduling loop, which whichever of
//! its threads holds it runs (`takeover.rs`).
//!
//! # Choosing the next coroutine
//!
//! 1. the `next` slot (the task this worker woke last: ping-pong locality);
//! 2. the local ready queue (bound tasks, FIFO; `yield_now` goes to its back);
//! 3. the inbox (bound tasks woken from other threads), drained into 2;
//! 4. due timers, whose wake-ups land in 1-2;
//! 5. the worker's own FIFO of fresh tasks;
//! 6. search: the injector, then the other workers' fresh FIFOs (spinning
//!    briefly, and glancing at the poller, while other workers are awake);
//! 7. sleep in the poller until the next timer, I/O readiness or a wake-up.
//!
//! A coroutine that parks while `next` holds a task runs that task itself
//! instead of returning here (a hand-off, `park.rs`); each hand-off counts
//! as a pick.
//!
//! Ready work (bound to this worker, unmovable) goes before fresh work (which
//! an idle peer can take). Every 61st pick (Go's number) also drains the
//! inbox, fires timers, polls for I/O without blocking (at most every
//! 200 µs: it is a system call), moves `next` to the back of the queue and
//! takes one fresh task, so no source starves behind a busy one.
//!
//! # Placement
//!
//! A started coroutine never moves (ARCHITECTURE.md, The soundness rule,
//! step 2), so where it starts decides the balance for its whole life. A
//! server's accept loop spawns every connection on its own worker, which
//! would run most of them itself before an idle peer gets to steal. So a
//! worker about to start a fresh coroutine while holding more than
//! `BALANCE_SLACK` started coroutines beyond the least loaded other worker
//! hands it to the injector instead (and wakes a searcher); the next worker
//! to take it starts it, whatever its load, so a coroutine is handed on at
//! most once. (A worker's load is the started coroutines it keeps in its
//! table: those that have suspended, or entered a blocking call, at least
//! once. One that runs to its end in one go never enters the table.)
//!
//! # Shutdown
//!
//! 1. `Runtime::drop` sets `shutdown` and wakes every worker.
//! 2. A worker notices it between two coroutines and leaves its loop.
//! 3. It cancels every coroutine it started, on the worker itself (their
//!    stacks may hold `!Send` values): it marks each cancelled and resumes
//!    it, and the coroutine unwinds from its next weft call so its
//!    destructors run and its joiner gets a cancellation error (`park.rs`
//!    has the protocol). One in a blocking call is only marked: its own
//!    thread resumes it once it holds the worker again (`takeover.rs`,
//!    "Shutdown").
//! 4. It drops its queues; fresh tasks are dropped unrun, which also reports
//!    a cancellation to their joiners.
//! 5. `Runtime::drop` joins the threads, then drains the injector.
//!
//! # Which worker a thread runs
//!
//! Each of a worker's threads sets the thread-local `WORKER` for its whole
//! life; a plain thread has it null. The running coroutine is not a
//! thread-local but the worker's own (`Worker::running`), written by the
//! worker around each resume.
//!
//! Why not a thread-local: a coroutine may resume on another thread of its
//! worker (`takeover.rs`), and the compiler may keep a thread-local's
//! address in a register across a suspension point, as if the thread could
//! not change within a function. A coroutine that parks in a loop (the
//! hand-off in `park.rs` writes the running coroutine there) could then
//! read and write the *first* thread's slot after it moved, and leave that
//! thread believing a coroutine runs on it while its scheduler loop runs,
//! so that its own poller wait would count as a coroutine's blocking call.
//! `WORKER` is safe from this: all threads of a worker hold the same value
//! in it, for life, so an old thread's slot gives the right answer.
//! `Worker::running` is one slot per worker, whichever thread reads it, and
//! only the thread that holds the worker touches it (`takeover.rs`,
//! soundness, point 2).

use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use corosensei::CoroutineResult;
use crossbeam_deque::{Steal, Worker as Deque};
use slab::Slab;

use super::driver::{Driver, Poller};
use super::ready::ReadyQueue;
use super::shared::{from_home, Shared};
use super::stats::WorkerStats;
use super::takeover::Turn;
use super::timers::Timers;
use super::unparker::Unparker;
use crate::batches::Reserve;
use crate::stack::{Budget, StackPool};
use crate::sys;
use crate::task::{Frame, Home, HomeRef, Stage, Suspend, Task, TaskRef};

/// Picks between fairness checks.
const FAIRNESS_INTERVAL: u32 = 61;

/// How often a worker that never runs out of work polls for I/O.
const BUSY_POLL_INTERVAL: Duration = Duration::from_micros(200);

/// How long an idle worker keeps looking for work before it sleeps (while
/// another worker is awake), the pause between two looks, how often it
/// looks at the poller, and how long it may spin even when more than half
/// the awake workers are spinning (see `search`).
const SPIN_FOR: Duration = Duration::from_micros(25);
const SPIN_PAUSES: u32 = 32;
const SPIN_POLL: u32 = 4;
const SPIN_GRACE: Duration = Duration::from_micros(2);
/// Pauses between two looks at the inbox while spinning.
const INBOX_CHECKS: u32 = 4;

/// How many more started coroutines than the least loaded worker a worker
/// may hold before it hands fresh ones on.
const BALANCE_SLACK: usize = 16;

/// Stack-budget slots a worker takes from the process-wide budget at once.
const SLOT_BATCH: usize = 16;

/// Task references to the runtime a worker reserves at once
/// (`shared.rs`, "Task references").
const TASK_REF_BATCH: usize = 64;

/// How often a worker with starved tasks retries when otherwise idle.
const STARVED_RETRY: Duration = Duration::from_millis(10);

/// Stacks a worker keeps pooled.
const POOL_CAPACITY: usize = 256;

/// Why `next_task` gave no task.
enum Stop {
    /// The runtime shuts down; this thread holds the worker.
    Shutdown,
    /// The worker has finished; this thread, idle, was told to exit.
    Exit,
}

/// The worker's own half: what its holder uses. Shared by the worker's
/// threads inside a `Domain`, one of which holds it at a time
/// (`domain.rs`, `takeover.rs`); reached through `current_worker()`.
pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    /// Fresh tasks spawned here, stolen here in a batch, or retried after
    /// starving: the owner half of the stealable FIFO (thieves use
    /// `Remote::stealer`).
    fresh: Deque<TaskRef>,
    /// Bound tasks ready to run, in order (`ready.rs`).
    ready: ReadyQueue,
    /// The task woken here last, which runs next (module docs, the first
    /// source).
    next: Cell<Option<TaskRef>>,
    /// This worker's timers (`timers.rs`).
    timers: RefCell<Timers>,
    /// This worker's poller and I/O state (`driver.rs`).
    driver: Driver,
    /// Stacks for the coroutines that start here (`stack/pool.rs`).
    pool: RefCell<StackPool>,
    /// Every task started here that has suspended (yielded or parked) and
    /// not finished: keeps parked tasks alive and lets shutdown unwind them.
    /// A task that runs to completion in one go never enters it. It keeps
    /// a free place for the coroutine that runs (`room_to_track`).
    tasks: RefCell<Slab<TaskRef>>,
    /// When a fairness round last polled for I/O.
    last_busy_poll: Cell<Instant>,
    /// Picks left before the next fairness round (and shutdown check).
    picks_left: Cell<u32>,
    /// This worker is counted in `Shared::searching`.
    searching: Cell<bool>,
    /// A coroutine is resuming another (`hand_off`).
    handing_off: Cell<bool>,
    /// The coroutine running on this worker right now (`None` between
    /// coroutines); `current_task` reads it. It is the worker's, not a
    /// thread-local: see the module docs, "Which worker a thread runs".
    running: Cell<Option<NonNull<Task>>>,
    /// The running coroutine, a hand-off's, yields to be resumed at once by
    /// this same thread (`pin_next`); set just before that yield, read by
    /// `hand_off` after it.
    pin: Cell<bool>,
    /// Stack-budget slots this worker holds beyond those of its running
    /// coroutines (see `take_slot`).
    slots: Reserve,
    /// Fresh tasks that found no stack-budget slot (`stack/budget.rs`); one
    /// goes back to the fresh queue each time a coroutine here finishes and
    /// at each fairness round, and the worker retries every
    /// `STARVED_RETRY` while it has nothing else to do.
    starved: RefCell<VecDeque<TaskRef>>,
    /// The waiters of the timers `fire_timers` found due, unparked once
    /// the timers are no longer borrowed; kept to reuse the vector.
    expired: RefCell<Vec<Unparker>>,
    /// Strong counts of tasks woken through the inbox, released later, off
    /// the path that resumes them (park protocol, step 4).
    deferred_releases: RefCell<Vec<*const Task>>,
    /// Task references to the runtime reserved for tasks spawned here, and
    /// given back by tasks freed here (`shared.rs`, "Task references").
    task_refs: Reserve,
    /// This worker's counters (`stats.rs`), in its `Remote`, which the
    /// runtime's `Shared` (kept alive by `shared`) owns: a pointer to them
    /// saves the indexing on the paths that count.
    stats: NonNull<WorkerStats>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        fresh: Deque<TaskRef>,
        driver: Driver,
    ) -> Worker {
        let pool = StackPool::new(shared.config.stack_size, POOL_CAPACITY);
        let shared_stats = &shared.workers[index].stats;
        let stats = NonNull::from(&**shared_stats);
        Worker {
            index,
            shared,
            fresh,
            ready: ReadyQueue::with_capacity(256),
            next: Cell::new(None),
            timers: RefCell::new(Timers::new()),
            driver,
            pool: RefCell::new(pool),
            // tests/signal_safety.rs fills a table of this size: keep its
            // sweep past it if this grows.
            tasks: RefCell::new(Slab::with_capacity(256)),
            last_busy_poll: Cell::new(Instant::now()),
            picks_left: Cell::new(0),
            searching: Cell::new(false),
            handing_off: Cell::new(false),
            running: Cell::new(None),
            pin: Cell::new(false),
            slots: Reserve::new(SLOT_BATCH),
            starved: RefCell::new(VecDeque::new()),
            expired: RefCell::new(Vec::new()),
            deferred_releases: RefCell::new(Vec::new()),
            task_refs: Reserve::new(TASK_REF_BATCH),
            stats,
        }
    }

    /// This worker's counters (`stats.rs`).
    #[inline(always)]
    pub(crate) fn stats(&self) -> &WorkerStats {
        // SAFETY: they live in `self.shared`, which our `Arc` keeps alive.
        unsafe { self.stats.as_ref() }
    }

    /// The scheduling loop of each of the worker's threads, from the
    /// moment it first holds the worker (the first thread is started in
    /// `builder.rs`, the spare ones by `takeover.rs`, running what
    /// `domain.rs` left there).
    pub(crate) fn run(&self) {
        let _guard = enter_worker(self);
        // A spare thread starts holding the worker where a blocked one left
        // it, inside a coroutine: here, none runs.
        self.set_running(None);
        loop {
            match self.next_task() {
                Ok(task) => self.run_task(task),
                Err(Stop::Exit) => return,
                Err(Stop::Shutdown) => {
                    self.shutdown();
                    // Held again (a seat that was away is back): go round,
                    // see the shutdown, and clean up after it.
                    if self.remote().takeover.leave() == Turn::Exit {
                        return;
                    }
                    self.set_running(None);
                }
            }
        }
    }

    /// Whether the running coroutine was resumed by a hand-off.
    #[inline]
    pub(crate) fn in_hand_off(&self) -> bool {
        self.handing_off.get()
    }

    /// The coroutine running on this worker, if any (module docs, "Which
    /// worker a thread runs").
    #[inline]
    pub(crate) fn running(&self) -> Option<NonNull<Task>> {
        self.running.get()
    }

    /// Sets the running coroutine (`None` between coroutines), and
    /// publishes its id for the hog watch (`stats.rs`: one store). After a
    /// resume the worker's loop clears only the slot: the id it published
    /// stays until the next resume, or `sleep`, overwrites it.
    #[inline]
    pub(crate) fn set_running(&self, t: Option<&Task>) {
        self.running.set(t.map(NonNull::from));
        let id = t.map_or(0, |t| t.id().as_u64());
        self.stats().running.store(id, Ordering::Relaxed);
    }

    /// The running coroutine, a hand-off's, is about to yield so that this
    /// thread resumes it next, before any switch point (`domain.rs`,
    /// `pin_yield`): `hand_off` puts it in the `next` slot.
    pub(crate) fn pin_next(&self) {
        debug_assert!(self.handing_off.get());
        self.pin.set(true);
    }

    pub(crate) fn timers(&self) -> RefMut<'_, Timers> {
        self.timers.borrow_mut()
    }

    /// Queues a fresh task here; true if the queue was empty before.
    pub(crate) fn push_fresh(&self, task: TaskRef) -> bool {
        let was_empty = self.fresh.is_empty();
        self.fresh.push(task);
        was_empty
    }

    /// A bound task of this worker was unparked here: it runs next.
    #[inline]
    pub(crate) fn push_woken(&self, task: TaskRef) {
        if let Some(prev) = self.next.replace(Some(task)) {
            self.ready.push_back(prev);
        }
    }

    pub(crate) fn remote(&self) -> &super::shared::Remote {
        &self.shared.workers[self.index]
    }

    /// This worker's poller.
    pub(crate) fn poller(&self) -> &Arc<Poller> {
        &self.remote().poller
    }

    /// This worker's I/O state: its poller, fd cache and readiness.
    #[inline]
    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    fn next_task(&self) -> Result<TaskRef, Stop> {
        loop {
            let tick = self.picks_left.get();
            if tick == 0 {
                self.picks_left.set(FAIRNESS_INTERVAL);
                if self.shared.is_shut_down() {
                    return Err(Stop::Shutdown);
                }
                self.give_back()?;
                self.maintenance();
                self.answer_probes();
            } else {
                self.picks_left.set(tick - 1);
            }
            if let Some(t) = self.next.take() {
                return Ok(t);
            }
            if let Some(t) = self.ready.pop_front() {
                // A short queue is a few tasks taking turns, whose records
                // and stacks are in cache already.
                if let Some(next_two) = self.ready.peek_two() {
                    prefetch_ahead(next_two);
                }
                return Ok(t);
            }
            self.give_back()?;
            self.answer_probes();
            if self.drain_inbox() || self.fire_timers() {
                continue;
            }
            if let Some(t) = self.fresh.pop() {
                return Ok(t);
            }
            if let Some(t) = self.search() {
                return Ok(t);
            }
            if self.has_local_work() {
                continue;
            }
            self.sleep();
            if self.shared.is_shut_down() {
                return Err(Stop::Shutdown);
            }
        }
    }

    /// A switch point (`takeover.rs`, step 5): if a thread of this worker
    /// whose blocking call returned waits for the worker, gives it the
    /// worker and waits to be given it again.
    #[inline]
    fn give_back(&self) -> Result<(), Stop> {
        let takeover = &self.remote().takeover;
        if takeover.is_wanted() {
            if takeover.give_back() == Turn::Exit {
                return Err(Stop::Exit);
            }
            // Held again, between coroutines, perhaps after a take-over
            // from a thread that blocked inside one.
            self.set_running(None);
        }
        Ok(())
    }

    /// Every coroutine this worker holds, for a probe (`probe.rs`): the
    /// started ones in its table, and those not started yet in its queues
    /// (the fresh FIFO is emptied and refilled in the same order; a thief
    /// finds it empty meanwhile). Between coroutines only.
    pub(super) fn held_tasks(&self) -> Vec<TaskRef> {
        let mut all: Vec<TaskRef> = self.tasks.borrow().iter().map(|(_, t)| t.clone()).collect();
        // SAFETY: a task in our queues is held by us, and no coroutine of
        // this worker runs now; the stage is read, not kept.
        let fresh = |t: &TaskRef| matches!(unsafe { *t.stage() }, Stage::Fresh);
        all.extend(self.ready.snapshot().into_iter().filter(fresh));
        all.extend(self.starved.borrow().iter().cloned());
        let queued: Vec<TaskRef> = std::iter::from_fn(|| self.fresh.pop()).collect();
        all.extend(queued.iter().cloned());
        for t in queued {
            self.fresh.push(t);
        }
        all
    }

    /// Whether something runnable is queued on this worker itself.
    fn has_local_work(&self) -> bool {
        let next = self.next.take();
        let any = next.is_some();
        self.next.set(next);
        any || !self.ready.is_empty()
            || !self.remote().inbox.is_empty()
            || self.remote().takeover.is_wanted()
            || self.remote().probe_wanted()
    }

    /// The every-61st-pick fairness round.
    fn maintenance(&self) {
        self.release_deferred();
        if let Some(t) = self.next.take() {
            self.ready.push_back(t);
        }
        self.drain_inbox();
        self.fire_timers();
        // A busy worker still looks at its poller, but a system call every
        // 61 picks would cost more than the picks: at most every
        // `BUSY_POLL_INTERVAL`.
        let now = Instant::now();
        if now.duration_since(self.last_busy_poll.get()) >= BUSY_POLL_INTERVAL {
            self.last_busy_poll.set(now);
            self.stats().polls.bump();
            self.driver.poll(Some(Duration::ZERO), Unparker::unpark);
        }
        if let Some(t) = self.fresh.pop() {
            self.ready.push_back(t);
        } else if let Steal::Success(t) = self.shared.injector.steal() {
            self.ready.push_back(t);
        }
        self.retry_starved();
        self.publish_queued();
    }

    /// Publishes how many coroutines wait in the ready queue (a gauge for
    /// `weft::metrics` and the hog warning).
    fn publish_queued(&self) {
        let next = self.next.take();
        let n = self.ready.len() + usize::from(next.is_some());
        self.next.set(next);
        self.stats().queued.set(n as u64);
    }

    /// Takes a stack-budget slot for a coroutine about to start: from this
    /// worker's cache, refilled from the process-wide budget in batches so
    /// that the shared counter is not written for every coroutine.
    fn take_slot(&self) -> bool {
        self.slots.take(|| {
            // Near the limit, one at a time (`stack/budget.rs`, step 1).
            let batch = if self.slots_scarce() { 1 } else { SLOT_BATCH };
            Budget::try_reserve_many(batch)
        })
    }

    /// Whether this worker should keep no slots cached: the budget is
    /// nearly spent, or a coroutine somewhere waits for a slot
    /// (`stack/budget.rs`, steps 1 and 2).
    fn slots_scarce(&self) -> bool {
        Budget::wanted() || Budget::scarce(self.shared.workers.len() * 2 * SLOT_BATCH)
    }

    /// Gives every cached slot back to the process-wide budget.
    fn release_slots(&self) {
        Budget::release(self.slots.take_all());
    }

    /// A coroutine of this worker found no slot: asks every worker for its
    /// cached slots, and wakes those that sleep so that they give them
    /// (`stack/budget.rs`, step 2).
    #[cold]
    fn want_slots(&self) {
        self.release_slots();
        Budget::want();
        for (i, remote) in self.shared.workers.iter().enumerate() {
            if i != self.index {
                Shared::wake_worker(remote);
            }
        }
    }

    /// Returns a finished coroutine's slot to the cache, and the cache's
    /// excess to the process-wide budget; all of it when slots are scarce.
    fn give_slot(&self) {
        self.slots.give(self.slots_scarce(), Budget::release);
    }

    /// Gives one starved task another chance at a stack slot.
    fn retry_starved(&self) {
        if let Some(t) = self.starved.borrow_mut().pop_front() {
            self.fresh.push(t);
        }
    }

    /// Takes a task reference to the runtime from this worker's reserve,
    /// refilled `TASK_REF_BATCH` at a time (`shared.rs`, "Task references").
    #[inline]
    pub(crate) fn take_task_ref(&self) {
        self.task_refs.take(|| {
            self.shared.add_task_refs(TASK_REF_BATCH);
            TASK_REF_BATCH
        });
    }

    /// Keeps the task reference of a task freed here, and releases the
    /// reserve's excess (as `give_slot` does for budget slots).
    #[inline]
    pub(crate) fn give_task_ref(&self) {
        self.task_refs.give(false, |excess| {
            // SAFETY: the reserve held these references and gives them up;
            // the worker's own `Arc` keeps the runtime alive whatever
            // happens.
            unsafe { Shared::release_task_refs(NonNull::from(&*self.shared), excess) }
        });
    }

    /// Releases the counts that parked tasks woken through the inbox held
    /// (park protocol, step 4): when the next batch arrives, every 61st
    /// pick, and before sleeping.
    fn release_deferred(&self) {
        for task in self.deferred_releases.borrow_mut().drain(..) {
            // SAFETY: each entry is a strong count we own, handed over by
            // `parked` (the `TaskRef` that `run_task` forgot). If the task has
            // finished since, this may be its last count and free it;
            // nothing else uses it through this pointer.
            unsafe { TaskRef::decrement(task) };
        }
    }

    pub(super) fn drain_inbox(&self) -> bool {
        let inbox = &self.remote().inbox;
        let mut any = false;
        if !inbox.is_empty() {
            self.release_deferred();
            while let Some(t) = inbox.pop() {
                // Park protocol step 4.
                if t.wake_here() {
                    self.deferred_releases
                        .borrow_mut()
                        .push(TaskRef::as_ptr(&t));
                    self.ready.push_back(t);
                    any = true;
                }
            }
        }
        any
    }

    /// Unparks every due timer's waiter; true if any fired.
    fn fire_timers(&self) -> bool {
        let mut expired = self.expired.borrow_mut();
        {
            let mut timers = self.timers.borrow_mut();
            if timers.is_empty() {
                return false;
            }
            timers.expire(Instant::now(), &mut expired);
        }
        let any = !expired.is_empty();
        for w in expired.drain(..) {
            w.unpark();
        }
        any
    }

    /// Whether the running coroutine, about to suspend parked, may spin
    /// first (`sync/queue.rs`, step 5): it is not inside a hand-off, this
    /// worker has nothing else to run, and another worker is awake, so a
    /// wake-up from there may come before a park would be over.
    #[inline]
    pub(crate) fn may_spin(&self) -> bool {
        !self.handing_off.get() && self.idle_beside_peers()
    }

    #[inline(never)]
    fn idle_beside_peers(&self) -> bool {
        if self.has_local_work() || !self.fresh.is_empty() {
            return false;
        }
        let me = self.index;
        self.shared
            .workers
            .iter()
            .enumerate()
            .any(|(i, w)| i != me && !w.idle.is_asleep())
    }

    /// Step 6: the injector, then the peers, while counted as searching.
    ///
    /// While another worker is awake (so fresh work may appear), a worker
    /// that finds nothing keeps looking for `SPIN_FOR` before it goes to
    /// sleep, as Go's idle Ps do: while it is counted as searching, spawners
    /// do not pay an eventfd write to wake it, which in a spawn-heavy loop
    /// would otherwise happen every few coroutines, and a coroutine woken
    /// from another worker (a channel partner, a lock hand-over) is picked up
    /// from the inbox at once instead of after a sleep and a wake-up. At most
    /// half the awake workers spin. The spin ends early when work for this
    /// worker arrives: in its inbox, or as I/O readiness (the poller is
    /// checked in the first round and then every `SPIN_POLL` rounds, while
    /// coroutines here wait for I/O). With every other worker asleep nothing
    /// can produce fresh work but I/O and timers, so the worker goes straight
    /// to its poller instead of burning a core the rest of the machine may
    /// need.
    fn search(&self) -> Option<TaskRef> {
        if !self.searching.replace(true) {
            self.shared.searching.fetch_add(1, Ordering::SeqCst);
        }
        let mut found = None;
        let mut start = None;
        for round in 1.. {
            found = self.steal();
            if found.is_some() {
                break;
            }
            if !self.remote().inbox.is_empty()
                || self.remote().takeover.is_wanted()
                || self.shared.is_shut_down()
            {
                break;
            }
            // A worker counts as awake from the moment a waker moves it out
            // of `Sleeping`, before its poll returns: a remote wake-up (say,
            // a channel partner on another worker) is then answered by a
            // spinning worker instead of a second sleep and eventfd write.
            let awake = self
                .shared
                .workers
                .iter()
                .filter(|w| !w.idle.is_asleep())
                .count();
            if awake <= 1 {
                break;
            }
            let now = Instant::now();
            let spun = now - *start.get_or_insert(now);
            // At most half the awake workers spin; but a worker that is
            // just leaving its own spin (it found work in its inbox) still
            // counts, so the limit applies only after a short grace.
            let crowded = 2 * self.shared.searching.load(Ordering::Relaxed) > awake;
            if spun >= SPIN_FOR || (crowded && spun >= SPIN_GRACE) {
                break;
            }
            // Readiness for this worker's own coroutines is the work most
            // likely to come next when they wait for sockets: look at once,
            // not only after a few rounds of spinning.
            if (round == 1 || round % SPIN_POLL == 0) && self.driver.has_io_waiters() && {
                self.stats().polls.bump();
                self.driver.poll(Some(Duration::ZERO), Unparker::unpark) > 0
            } {
                break;
            }
            // Between two steal rounds, watch the inbox closely: a wake-up
            // from another worker should not wait out a whole round (32
            // pauses are over a microsecond on some CPUs).
            let inbox = &self.remote().inbox;
            for _ in 0..SPIN_PAUSES / INBOX_CHECKS {
                if !inbox.is_empty() {
                    break;
                }
                for _ in 0..INBOX_CHECKS {
                    std::hint::spin_loop();
                }
            }
        }
        self.searching.set(false);
        let was_last = self.shared.searching.fetch_sub(1, Ordering::SeqCst) == 1;
        if found.is_some() && was_last && self.shared.has_fresh_work() {
            self.shared.notify_searcher();
        }
        found
    }

    fn steal(&self) -> Option<TaskRef> {
        let n = self.shared.workers.len();
        loop {
            let mut retry = false;
            match self.shared.injector.steal_batch_and_pop(&self.fresh) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for i in 1..n {
                let victim = &self.shared.workers[(self.index + i) % n];
                match victim.stealer.steal_batch_and_pop(&self.fresh) {
                    Steal::Success(t) => {
                        self.stats().steals.bump();
                        return Some(t);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Step 7, with the re-check that makes wake-ups race-free.
    fn sleep(&self) {
        self.release_deferred();
        if Budget::wanted() {
            self.release_slots(); // `stack/budget.rs`, step 2
        }
        self.publish_queued();
        let remote = self.remote();
        remote.idle.announce_sleep();
        if remote.inbox.is_empty()
            && !remote.takeover.is_wanted()
            && !remote.probe_wanted()
            && !self.shared.has_fresh_work()
            && !self.shared.is_shut_down()
        {
            let mut timeout = {
                let mut timers = self.timers.borrow_mut();
                timers
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            if !self.starved.borrow().is_empty() {
                timeout = Some(timeout.map_or(STARVED_RETRY, |t| t.min(STARVED_RETRY)));
            }
            self.stats().polls.bump();
            // No coroutine runs while the worker sleeps (`set_running`).
            self.stats().running.store(0, Ordering::Relaxed);
            self.driver.poll(timeout, Unparker::unpark);
        }
        self.retry_starved();
        if remote.idle.end_sleep() {
            // Whoever woke us counted us as searching.
            self.searching.set(true);
        }
        // The monitor sleeps for good only while every worker sleeps
        // (`shared.rs`, "The monitor's sleep", step 2).
        self.shared.monitor.worker_awake(&self.shared.clock);
    }

    fn run_task(&self, task: TaskRef) {
        let frame = {
            // SAFETY: we popped `task` from one of our queues, so we hold
            // it; it is fresh or bound to us, and not running. The borrow
            // ends before the coroutine runs (which reads the stage).
            let stage = unsafe { task.stage() };
            if let Stage::Fresh = stage {
                if !self.start(&task, stage) {
                    return;
                }
            }
            let Stage::Running(frame) = *stage else {
                // Done: a stale queue entry (woken after it finished).
                return;
            };
            frame
        };
        // SAFETY: the live frame of a task bound to us, which we hold.
        unsafe { self.resume(task, frame, None) };
    }

    /// Resumes a started task until it suspends or returns, and files it
    /// by how it stopped. `resumer` is the coroutine that resumes it (a
    /// hand-off), `None` for the worker itself.
    ///
    /// # Safety
    ///
    /// `frame` must be `task`'s live frame, `task` bound to this worker
    /// and not running, and the caller the thread that holds this worker.
    #[inline(always)]
    unsafe fn resume(&self, task: TaskRef, frame: NonNull<Frame>, resumer: Option<&Task>) {
        self.set_running(Some(&task));
        // SAFETY: the caller's promise.
        let result = unsafe { Frame::resume(frame) };
        match resumer {
            Some(me) => self.set_running(Some(me)),
            // Back in the loop: the hog watch's id stays until the next
            // resume or sleep overwrites it (`sleep`), one store less on
            // every switch.
            None => self.running.set(None),
        }
        if let CoroutineResult::Yield(_) = result {
            self.track(&task);
        }
        match result {
            CoroutineResult::Yield(Suspend::Yield) => self.ready.push_back(task),
            CoroutineResult::Yield(Suspend::Abandon) => {} // only while shutting down
            CoroutineResult::Yield(Suspend::Traced) => {
                unreachable!("a trace resume returns to its tracer")
            }
            // Parked (`park.rs`, step 1): `Task::parked` keeps this queue
            // entry's strong count for whoever wakes it.
            CoroutineResult::Yield(Suspend::Park) => std::mem::forget(task),
            CoroutineResult::Return(()) => {
                // The one way back here in a forked child: every suspension
                // starts at `current_task`, which answers none there.
                if super::fork::outside_weft() {
                    super::fork::leave_child(); // `fork.rs`, step 5
                }
                self.retire(&task)
            }
        }
    }

    /// Park-protocol hand-off: the running coroutine `me`, about to
    /// suspend parked, resumes the task in the `next` slot itself instead
    /// of going back to this loop, and goes on at once if that task wakes
    /// it (a channel partner answering). True if `me` was woken so and runs
    /// on; false if it must suspend as usual (possibly woken already: then
    /// its queue entry holds its count, as for any woken task).
    ///
    /// A hand-off is one level deep (the task resumed so cannot hand off
    /// again) and counts as a pick, so the fairness round still comes.
    #[inline(always)]
    pub(crate) fn hand_off(&self, me: &Task) -> bool {
        let tick = self.picks_left.get();
        if self.handing_off.get() || tick <= 1 {
            return false;
        }
        let Some(task) = self.next.take() else {
            return false;
        };
        // SAFETY: a woken task in our queue: bound to us, not running (the
        // running one is `me`, which is parked, so not queued).
        let Stage::Running(frame) = (unsafe { *task.stage() }) else {
            self.next.set(Some(task));
            return false;
        };
        self.picks_left.set(tick - 1);
        self.handing_off.set(true);
        // SAFETY: as above.
        unsafe { self.resume(task, frame, Some(me)) };
        self.handing_off.set(false);
        if self.pin.take() {
            // The task yielded to run next on this thread (`pin_next`): its
            // entry, the one `resume` just queued last, goes to the `next`
            // slot, which `next_task` takes before any switch point while
            // `picks_left` is not 0 (it is at least 1 here: see above). `me`
            // suspends now, whatever woke it (its own entry stays queued).
            debug_assert!(self.picks_left.get() >= 1);
            let task = self.ready.pop_back();
            if let Some(woken) = self.next.replace(task) {
                self.ready.push_back(woken);
            }
            return false;
        }
        if me.is_parked() {
            return false;
        }
        match self.next.take() {
            Some(t) if std::ptr::eq(TaskRef::as_ptr(&t), me) => {
                // The count this entry holds is the one `parked` held,
                // which is the worker's: it still holds `me` in `run_task`.
                std::mem::forget(t);
                true
            }
            other => {
                self.next.set(other);
                false
            }
        }
    }

    /// First resume: a budget slot, a stack from the pool, the coroutine on
    /// it, and the binding to this worker. False if it cannot start now.
    ///
    /// Kept out of the scheduling loop: inlined there, it crowds the loop's
    /// registers, and the yield path pays for it in spills.
    #[inline(never)]
    fn start(&self, task: &TaskRef, stage: &mut Stage) -> bool {
        if self.overloaded() && !task.offload() {
            // Placement: leave it to a less loaded worker (once).
            self.shared.injector.push(task.clone());
            self.shared.notify_searcher();
            return false;
        }
        if !self.take_slot() {
            self.starved.borrow_mut().push_back(task.clone());
            self.want_slots();
            return false;
        }
        if Budget::wanted() && self.starved.borrow().is_empty() {
            Budget::satisfied();
        }
        let size = task.stack_size().unwrap_or(self.shared.config.stack_size);
        let stack = match self.pool.borrow_mut().get(size) {
            Ok(stack) => stack,
            Err(e) => {
                self.cannot_start(task, stage, size, e);
                return false;
            }
        };
        let frame = Frame::create(stack, |yielder, ()| {
            let task = current_task().expect("coroutine started off its worker");
            task.set_yielder(yielder);
            task.job.run();
        });
        self.room_to_track();
        task.bind(self.index);
        *stage = Stage::Running(frame);
        true
    }

    /// Keeps a free place in the table for the coroutine about to start.
    ///
    /// Its first suspension or blocking call enters it there, and a
    /// blocking call may be a signal handler's, which must not allocate
    /// (`takeover.rs`, "Signal handlers"). One place is enough:
    ///
    /// 1. A started coroutine enters the table when it first suspends, in
    ///    `resume`, before the loop runs another, or when it first blocks,
    ///    in step 1, before another thread can take the worker.
    /// 2. A coroutine that hands off runs its partner before it suspends,
    ///    but the partner was woken, so it suspended before: it is in the
    ///    table, and its handlers need no place.
    /// 3. So while the coroutine started here runs, or its hand-off
    ///    partner, it is the only one that may still enter, and nothing
    ///    enters between here and its run: its entry finds this place and
    ///    never grows the table.
    fn room_to_track(&self) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.len() == tasks.capacity() {
            tasks.reserve(1);
        }
    }

    /// A fresh task whose stack could not be mapped ends unrun.
    #[cold]
    #[inline(never)]
    fn cannot_start(&self, task: &Task, stage: &mut Stage, size: usize, e: std::io::Error) {
        eprintln!(
            "weft: cannot map a {} KiB stack for coroutine {}: {e}",
            size / 1024,
            task.id()
        );
        *stage = Stage::Done;
        self.stats().finished.bump();
        task.job.discard(); // its joiner gets a cancellation
        self.give_slot();
    }

    /// Enters a suspended task in the table, the first time it suspends.
    #[inline(always)]
    fn track(&self, task: &TaskRef) {
        if task.key().is_none() {
            self.insert_tracked(task);
        }
    }

    /// Enters a task that is about to block in the table, if it is not
    /// there yet (a coroutine blocking in its first run), so that a dump,
    /// and shutdown, find it while another thread holds the worker.
    pub(crate) fn track_blocked(&self, task: &Task) {
        if task.key().is_none() {
            // SAFETY: the running task, which the worker holds a count of
            // while it runs; we add one for the table.
            let task = unsafe {
                TaskRef::increment(task);
                TaskRef::from_raw(task)
            };
            self.insert_tracked(&task);
        }
    }

    #[inline(never)]
    fn insert_tracked(&self, task: &TaskRef) {
        let mut tasks = self.tasks.borrow_mut();
        task.set_key(tasks.insert(task.clone()));
        self.remote().bound.store(tasks.len(), Ordering::Relaxed);
    }

    /// The coroutine returned: its stack back to the pool.
    fn retire(&self, task: &Task) {
        // SAFETY: we hold the task, bound to us, and it has returned.
        let stage = unsafe { task.stage() };
        self.free_frame(stage);
        if let Some(key) = task.key() {
            let mut tasks = self.tasks.borrow_mut();
            tasks.remove(key);
            self.remote().bound.store(tasks.len(), Ordering::Relaxed);
        }
        self.retry_starved();
    }

    /// Marks a returned coroutine's stage done, and gives its stack back to
    /// the pool and its budget slot back.
    fn free_frame(&self, stage: &mut Stage) {
        if let Stage::Running(frame) = std::mem::replace(stage, Stage::Done) {
            // SAFETY: the stage held the frame and says `Done` now: nothing
            // uses the frame any more, and the coroutine has returned.
            let frame = unsafe { Frame::take(frame) };
            self.pool.borrow_mut().put(frame.into_stack());
            self.give_slot();
        }
    }

    /// Whether this worker holds `BALANCE_SLACK` more started coroutines
    /// than the least loaded other worker (see "Placement" above).
    fn overloaded(&self) -> bool {
        let mine = self.tasks.borrow().len();
        if mine < BALANCE_SLACK {
            return false;
        }
        let least = (0..self.shared.workers.len())
            .filter(|&i| i != self.index)
            .map(|i| self.shared.workers[i].bound.load(Ordering::Relaxed))
            .min();
        least.is_some_and(|least| mine > least + BALANCE_SLACK)
    }

    /// Shutdown steps 3 and 4. Run by each thread that finds the runtime
    /// shut down while it holds the worker: a coroutine in a blocking call
    /// whose thread comes back later is cancelled and unwound then.
    fn shutdown(&self) {
        let started: Vec<TaskRef> = {
            let mut tasks = self.tasks.borrow_mut();
            let mut started = Vec::new();
            for (key, task) in tasks.iter() {
                if task.is_blocked() {
                    // Its own thread runs it (`takeover.rs`), and sees this
                    // flag once that thread holds the worker again.
                    task.cancel();
                } else {
                    started.push(key);
                }
            }
            started.into_iter().map(|key| tasks.remove(key)).collect()
        };
        for task in started {
            // SAFETY: the task is bound to us and not running (we are
            // between coroutines), so we hold its stage.
            let stage = unsafe { *task.stage() };
            let Stage::Running(frame) = stage else {
                continue;
            };
            if task.unmark_parked() {
                // SAFETY: the count `parked` held is ours now, and `task`
                // holds another, so this release frees nothing.
                unsafe { TaskRef::decrement(TaskRef::as_ptr(&task)) };
            }
            task.cancel();
            // Resume it until it returns: a `yield_now` it was parked in,
            // or calls on its way out, suspends it again and unwinds (or
            // counts towards abandoning it) when resumed.
            let result = loop {
                self.set_running(Some(&task));
                // SAFETY: the live frame of a task bound to us, which we
                // hold.
                let result = unsafe { Frame::resume(frame) };
                self.set_running(None);
                match result {
                    CoroutineResult::Yield(Suspend::Park) => {
                        // Nothing was handed to `parked` this time (we keep
                        // `task`), so a wake-up must not queue it.
                        task.unmark_parked();
                    }
                    CoroutineResult::Yield(Suspend::Yield) => continue,
                    result => break result,
                }
            };
            // SAFETY: as above; the coroutine is suspended or returned.
            let stage = unsafe { task.stage() };
            match result {
                CoroutineResult::Return(()) => self.free_frame(stage),
                CoroutineResult::Yield(_) => {
                    // It ignored its cancellation (`park.rs`, step 5).
                    eprintln!(
                        "weft: coroutine {} kept running after its runtime shut down; \
                         it is abandoned and its stack is leaked",
                        task.id()
                    );
                    // The frame (and the stack it lies in) is leaked.
                    *stage = Stage::Done;
                }
            }
        }
        self.release_deferred();
        drop(self.timers.borrow_mut().clear());
        // What is still queued was woken after its unwind (now `Done`) or
        // never started (dropped unrun here).
        let mut queued: Vec<TaskRef> = self.next.take().into_iter().collect();
        queued.extend(self.ready.take_all());
        queued.extend(self.starved.borrow_mut().drain(..));
        queued.extend(std::iter::from_fn(|| self.remote().inbox.pop()));
        queued.extend(std::iter::from_fn(|| self.fresh.pop()));
        for task in queued {
            // SAFETY: every one of these came out of this worker's queues,
            // so we hold it, and nothing runs on this worker any more.
            if unsafe { task.discard() } {
                self.stats().finished.bump();
            }
        }
        Budget::release(self.slots.take_all());
        // Last: tasks freed so far gave their runtime references to the
        // reserve, which must not outlive the worker, or the runtime would
        // keep itself alive. (Past this point no task is freed on this
        // thread as a worker's: `run` leaves the worker context next.)
        let reserved = self.task_refs.take_all();
        // SAFETY: the reserve held these references; the worker's own `Arc`
        // keeps the runtime alive.
        unsafe { Shared::release_task_refs(NonNull::from(&*self.shared), reserved) };
    }
}

/// Starts loading what resuming the tasks next in `ready` will touch, while
/// the task just picked runs: the record of the one after next, and the
/// coroutine frame of the next (whose record the previous call fetched).
/// `(next, after)` are the first two tasks in the ready queue.
///
/// A worker serving many connections resumes coroutines whose records and
/// stacks are cold: each resume otherwise stalls on a cache miss, and often
/// a TLB miss, for the frame at the top of a stack no other coroutine
/// shares. The queue is ordered, so one pick ahead is enough to hide it.
#[inline(never)]
fn prefetch_ahead((next, after): (*const Task, *const Task)) {
    sys::prefetch(after.cast());
    // SAFETY: `next` is in our ready queue, which holds a count of it, so
    // it is alive; it is bound to us and not running (the running one was
    // popped), so nobody writes its stage; reading the frame pointer is the
    // same read `run_task` makes.
    if let Stage::Running(frame) = unsafe { *(*next).stage() } {
        sys::prefetch(frame.as_ptr().cast());
        sys::prefetch(frame.as_ptr().cast::<u8>().wrapping_add(64));
    }
}

thread_local! {
    /// The worker this thread runs, for the thread's life. Written by the
    /// worker's main function (`Worker::run`, through `enter_worker` and
    /// its guard) and, in a forked child, by the fork handler
    /// (`forget_worker_in_child`).
    static WORKER: Cell<*const Worker> = const { Cell::new(ptr::null()) };
}

/// The worker state of this thread, if it is a worker.
///
/// The reference is valid for as long as the calling code runs on this
/// thread: `Worker` lives in the worker's `Domain`, which each of its
/// threads keeps alive until it ends.
///
/// In a forked child it answers none: the fork handler cleared `WORKER`
/// (`forget_worker_in_child`).
#[inline]
pub(crate) fn current_worker() -> Option<&'static Worker> {
    let p = WORKER.with(Cell::get);
    // SAFETY: see above; the pointer is cleared before `Worker` is dropped.
    unsafe { p.as_ref() }
}

// What the shared state does through the calling thread's worker: the
// task references a worker reserves (`shared.rs`, "Task references") and
// the queues a spawn or a remote wake-up reaches (`shared.rs`, steps 1 and
// 4).

/// Counts a reference to `shared` for a new task (see "Task references").
pub(crate) fn share(shared: &Arc<Shared>) -> HomeRef {
    match shared.local_worker() {
        Some(w) => w.take_task_ref(),
        None => shared.add_task_refs(1),
    }
    // SAFETY: counted just above.
    unsafe { counted(shared) }
}

/// `share` for a new coroutine, which it counts as spawned (`stats.rs`).
pub(crate) fn share_spawned(shared: &Arc<Shared>) -> HomeRef {
    match shared.local_worker() {
        Some(w) => {
            w.take_task_ref();
            w.stats().spawned.bump();
        }
        None => {
            shared.add_task_refs(1);
            shared.spawned_outside.fetch_add(1, Ordering::Relaxed);
        }
    }
    // SAFETY: counted just above.
    unsafe { counted(shared) }
}

/// A task's reference to `shared`.
///
/// # Safety
///
/// The caller counted it, on a worker's reserve or in `task_refs`; the
/// count keeps the runtime, and so its header, alive until `release_one`
/// gives it back.
unsafe fn counted(shared: &Arc<Shared>) -> HomeRef {
    // SAFETY: the caller's promise.
    unsafe { HomeRef::from_counted(NonNull::from(&shared.home)) }
}

/// The header of a new runtime's state (`Shared::home`).
pub(crate) fn home() -> Home {
    // SAFETY: `release_one` gives back one reference counted by `share`,
    // on any thread; the count keeps the runtime alive until then.
    unsafe { Home::new(release_one) }
}

/// Gives back a task's reference to its runtime (`HomeRef::drop`).
///
/// # Safety
///
/// `home` is the header of a live runtime, and the caller owns one
/// reference to it counted by `share`, which it gives up.
unsafe fn release_one(home: NonNull<Home>) {
    // SAFETY: every counted reference points at a `Shared`'s header
    // (`share`), which the reference keeps alive (the caller's promise).
    let this: &Shared = unsafe { from_home(home).as_ref() };
    match this.local_worker() {
        Some(w) => w.give_task_ref(),
        // SAFETY: we own this reference, and give it up; the runtime is
        // not touched after the call.
        None => unsafe { Shared::release_task_refs(NonNull::from(this), 1) },
    }
}

impl Shared {
    /// The calling thread's worker, if it is one of this runtime's.
    #[inline]
    pub(crate) fn local_worker(&self) -> Option<&'static Worker> {
        current_worker().filter(|w| std::ptr::eq(&*w.shared, self))
    }

    /// Whether the calling thread is one of this runtime's workers.
    pub(crate) fn is_current(&self) -> bool {
        self.local_worker().is_some()
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
        let this: &Shared = match Shared::of(&task).local_worker() {
            Some(w) => &w.shared,
            None => {
                kept = Shared::arc_of(&task);
                &kept
            }
        };
        let remote = &this.workers[task.worker()];
        remote.inbox.push(task);
        Self::wake_worker(remote);
    }
}

/// The `pthread_atfork` child handler: runs in the child, on its only
/// thread, before `fork` returns there. Only stores (`fork::mark_forked`'s
/// and `forget_worker_in_child`'s), which are async-signal-safe as a fork
/// handler must be.
extern "C" fn in_forked_child() {
    super::fork::mark_forked();
    forget_worker_in_child();
}

/// Installs the fork handler, once per process (called when a runtime is
/// built: before that, no coroutine, poller or fd record exists).
pub(super) fn install_fork_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a valid `extern "C" fn()` for the child; none for the
        // parent's two hooks. The handler lives for the whole program.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) };
        if rc != 0 {
            // Only ENOMEM is possible: a forked child would then not know
            // it is outside weft. Say so once rather than fail the build.
            eprintln!("weft: pthread_atfork failed ({rc}); a forked child must exec at once");
        }
    });
}

/// The fork handler's part (`fork.rs`, step 1), in a forked child, on its
/// only thread: this thread is no worker's any more, and its worker runs no
/// coroutine. Both writes matter:
///
/// 1. Clearing `WORKER` makes `current_worker` and `current_task` answer
///    none for every fresh look at the thread-local, which is every look a
///    hook makes (each call computes the thread-local's address anew).
/// 2. Clearing the worker's running slot covers a stale look: code inlined
///    into a coroutine that moved threads may read an earlier thread's
///    `WORKER` through an address it kept (module docs). That slot, in the
///    child's copy of memory, still names the worker, always this one (a
///    coroutine never leaves its worker), whose running slot is now empty:
///    `current_task` answers none there too, so the child's coroutine can
///    neither park nor yield into the parent's scheduler.
///
/// Async-signal-safe, as a fork handler must be: two plain stores, to a
/// `const` thread-local (no lazy set-up) and to the worker's memory, which
/// no other thread can touch: the child has no other thread.
fn forget_worker_in_child() {
    let p = WORKER.with(Cell::get);
    // SAFETY: in the child, `Worker` is the copy of a live worker's state and
    // this is the only thread; see above.
    if let Some(local) = unsafe { p.as_ref() } {
        local.set_running(None);
    }
    WORKER.with(|c| c.set(ptr::null()));
}

/// The coroutine running on this thread, if any.
///
/// The reference stays valid while that coroutine runs or is suspended: its
/// worker holds the task while it runs, and keeps every task that has
/// suspended in its task table until it finishes.
#[inline]
pub(crate) fn current_task() -> Option<&'static Task> {
    // In a forked child this answers none (`forget_worker_in_child`).
    let p = current_worker()?.running()?;
    // SAFETY: see above; callers are the coroutine itself, which cannot
    // outlive its own task.
    Some(unsafe { p.as_ref() })
}

/// Sets this thread's worker for the scope of the returned guard.
fn enter_worker(local: &Worker) -> WorkerGuard {
    WORKER.with(|c| c.set(local));
    WorkerGuard(())
}

/// Clears `WORKER` when the worker's main function returns.
struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|c| c.set(ptr::null()));
    }
}
