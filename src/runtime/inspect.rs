//! Inspecting a runtime's coroutines: each worker's answer to a probe
//! (`probe.rs` has the protocol), the requester's wait for the answers,
//! and what a dump lists of the coroutines no worker has taken yet.
//!
//! # Why reading the records is sound
//!
//! The worker builds its part on the thread that holds it, between two
//! coroutines: exactly where it may touch the records anyway. It reads:
//!
//! 1. the flags `parked` and `blocked`, the wait word and its time, and the
//!    stack segment, of every coroutine in its table, its queues and its
//!    fresh FIFO: fields only the holder of the worker writes;
//! 2. for a parked coroutine, what its wait word points to. The park wrote
//!    the word just before it suspended (`park.rs`, step 1), pointing at
//!    something that lives as long as the park: a value in the parked
//!    call's frame (a sleep's deadline, the handle a join waits on), a
//!    lock's `Owner` (atomic; the waiter borrows the lock), a `static`.
//!    The coroutine stays suspended until a thread that holds this worker
//!    resumes it, and this thread holds it and is busy here. A waker on
//!    another thread may claim the wait meanwhile (`sync/queue.rs`, step 2),
//!    but that only queues the coroutine: it does not run, so its frame
//!    stays as it was;
//! 3. for a coroutine in a blocking call (`blocked`), its wait word and
//!    stack segment, which it wrote before entering the call. Its thread is
//!    in the kernel, or waiting to be given the worker back (`takeover.rs`,
//!    step 4): it runs no coroutine code until this thread lets the worker
//!    go, after the part is built;
//! 4. for a dump with backtraces (`Detail::Traced`), each suspended
//!    coroutine, parked or queued, is *resumed* once, flagged `TRACING`
//!    (`Task::trace`): on its own stack, on this thread, it captures its
//!    backtrace and suspends again at once (`Task::suspend_bare`), touching
//!    nothing but its frame's trace slot. It runs as the worker's
//!    coroutines always do, one at a time on the thread that holds the
//!    worker, so no record is read and written at once. Its wait word and
//!    what it points to stay as they were (point 2): the park it is in has
//!    not returned. A waker on another thread that claims it meanwhile only
//!    queues it, as in point 2. A coroutine in a blocking call is not
//!    resumed: its stack is in use on another thread. Nor is a cancelled
//!    one: it may be suspended for good (`Suspend::Abandon`), where nothing
//!    looks for the flag. Every other suspension looks for it where it
//!    comes back (`yield_now`, `park.rs`'s `park_suspend`).
//!
//! The requester only ever sees the finished parts, moved to it through a
//! lock.

use std::sync::Arc;
use std::time::Instant;

use super::park;
use super::probe::{Detail, Part, Probe, State, TaskInfo, WaitInfo, NO_WORKER};
use super::worker::Worker;
use crate::task::Owner;
use crate::task::{Call, Kind, Stage, Task, TaskRef, WaitFor};

/// `probe.rs`, step 3, for the requester (whose unparker `Probe::new`
/// took): waits until every worker answered or `deadline` passed; true if
/// all answered. The requester's unparker is taken before any worker sees
/// the probe, and a wake-up before the park leaves its token: none is
/// lost.
pub(crate) fn wait(probe: &Probe, deadline: Instant) -> bool {
    while !probe.is_done() {
        if Instant::now() >= deadline {
            return probe.is_done();
        }
        park::park_deadline_for(deadline, WaitFor::new(Kind::Dump, 0));
    }
    true
}

/// The coroutines spawned from outside the runtime that no worker has
/// taken yet: taken out of the injector, listed, and put back (a worker
/// that finds it empty meanwhile is told again, `notify_searcher`).
pub(crate) fn injected(shared: &super::Shared) -> Vec<TaskInfo> {
    use crossbeam_deque::Steal;
    let mut taken = Vec::new();
    loop {
        match shared.injector.steal() {
            Steal::Success(t) => taken.push(t),
            Steal::Retry => continue,
            Steal::Empty => break,
        }
    }
    let infos = taken
        .iter()
        .map(|t| TaskInfo {
            id: t.id().as_u64(),
            name: t.name().map(str::to_owned),
            state: State::Ready,
            wait: None,
            parked_for: None,
            spawned_at: t.spawned_at(),
            stack: (0, 0),
            worker: NO_WORKER,
            backtrace: None,
        })
        .collect();
    if !taken.is_empty() {
        for t in taken {
            shared.injector.push(t);
        }
        shared.notify_searcher();
    }
    infos
}

impl Worker {
    /// Step 2: answers the probes waiting for this worker, if any.
    #[inline]
    pub(crate) fn answer_probes(&self) {
        if self.remote().probe_wanted() {
            self.answer_probes_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn answer_probes_now(&self) {
        self.remote().clear_probe_wanted();
        let probes: Vec<Arc<Probe>> = self
            .shared
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.drain_inbox();
        let (mut full, mut traced, mut locks) = (None, None, None);
        for probe in probes {
            if !probe.claim(self.index) {
                continue;
            }
            let part = match probe.detail {
                Detail::Full => full.get_or_insert_with(|| self.part(Detail::Full)),
                Detail::Traced => traced.get_or_insert_with(|| self.part(Detail::Traced)),
                Detail::Locks => locks.get_or_insert_with(|| self.part(Detail::Locks)),
            };
            if let Some(requester) = probe.deliver(self.index, part.clone()) {
                requester.unpark();
            }
        }
    }

    /// This worker's part: every coroutine it holds (soundness, points 1-3).
    fn part(&self, detail: Detail) -> Part {
        let mut tasks = Vec::new();
        for task in self.held_tasks() {
            if let Some(info) = self.task_info(&task, detail) {
                tasks.push(info);
            }
        }
        Part { tasks }
    }

    /// What a probe reports of `task`, held by this worker; `None` if the
    /// detail asked for leaves it out.
    fn task_info(&self, task: &Task, detail: Detail) -> Option<TaskInfo> {
        // SAFETY: we hold `task` (it is in our table or queues, bound to us
        // or fresh), and no coroutine of this worker runs now: we read its
        // stage and do not keep the reference.
        let frame = match unsafe { *task.stage() } {
            Stage::Running(frame) => Some(frame),
            _ => None,
        };
        let started = frame.is_some();
        let state = if !started {
            State::Ready
        } else if task.is_blocked() {
            State::Blocked
        } else if task.is_parked() {
            State::Parked
        } else {
            State::Ready
        };
        let (why, since) = task.wait();
        let wait = match state {
            // SAFETY: soundness points 2 and 3: the task is parked or
            // blocked, and `why` was recorded by that park or call.
            State::Parked | State::Blocked => Some(unsafe { describe(why) }),
            State::Ready => None,
        };
        let is_lock = matches!(wait, Some(WaitInfo::Lock { .. }));
        if detail == Detail::Locks && !(is_lock && state == State::Parked) {
            return None;
        }
        let segment = task.segment();
        let stack = (segment.low(), segment.low() + segment.size);
        let backtrace = match (detail, state, frame) {
            // SAFETY (soundness, point 4): a started coroutine of ours,
            // suspended (parked or queued, not in a blocking call), and no
            // coroutine of this worker runs: this thread is between two.
            (Detail::Traced, State::Parked | State::Ready, Some(frame)) if !task.is_cancelled() => {
                // SAFETY: as said above.
                unsafe { task.trace(frame) }.map(Arc::new)
            }
            _ => None,
        };
        Some(TaskInfo {
            id: task.id().as_u64(),
            name: task.name().map(str::to_owned),
            state,
            wait,
            parked_for: (state != State::Ready).then(|| self.shared.clock.since(since)),
            spawned_at: task.spawned_at(),
            stack: if started { stack } else { (0, 0) },
            worker: self.index,
            backtrace,
        })
    }
}

/// What `why` says, followed where it points.
///
/// # Safety
///
/// `why` must be the wait word of a coroutine that is still parked (or
/// blocked) in the wait that recorded it, held by the caller's worker
/// (module docs, soundness points 2 and 3).
unsafe fn describe(why: crate::task::WaitFor) -> WaitInfo {
    let p = why.payload();
    let text = match why.kind() {
        Kind::Unknown => "parked".to_owned(),
        Kind::Read => super::describe::describe_fd(p as i32, "read"),
        Kind::Write => super::describe::describe_fd(p as i32, "write"),
        Kind::PollMany => format!("poll, {p} fds"),
        Kind::Sleep if p == 0 => "sleep, for ever".to_owned(),
        Kind::Sleep => {
            // SAFETY: the deadline in the sleeping call's frame.
            let deadline = unsafe { *(p as *const Instant) };
            let left = deadline.saturating_duration_since(Instant::now());
            format!("sleep, {:.1} s left", left.as_secs_f64())
        }
        kind @ (Kind::Mutex | Kind::RwRead | Kind::RwWrite) => {
            // SAFETY: the `Owner` of a lock the waiter borrows.
            let owner = unsafe { &*(p as *const Owner) };
            let what = match kind {
                Kind::Mutex => "weft::sync::Mutex",
                Kind::RwRead => "weft::sync::RwLock (read)",
                _ => "weft::sync::RwLock (write)",
            };
            return WaitInfo::Lock {
                what,
                lock: p,
                holder: owner.get(),
            };
        }
        Kind::Condvar => "weft::sync::Condvar wait".to_owned(),
        Kind::WaitGroup => "weft::sync::WaitGroup wait".to_owned(),
        Kind::Semaphore => "weft::sync::Semaphore acquire".to_owned(),
        Kind::Barrier => "weft::sync::Barrier wait".to_owned(),
        Kind::Recv => "channel recv".to_owned(),
        Kind::Send => "channel send".to_owned(),
        Kind::Select => format!("select, {p} operations"),
        Kind::Join => {
            // SAFETY: the reference to the joined task held by the handle
            // in the joining call's frame, alive while it waits.
            let joined: &Task = unsafe { &*(p as *const TaskRef) };
            match joined.name() {
                Some(name) => format!("join {} '{name}'", joined.id().as_u64()),
                None => format!("join {}", joined.id().as_u64()),
            }
        }
        Kind::Blocking => {
            // SAFETY: a `static` `Call`.
            let call = unsafe { &*(p as *const Call) };
            format!("blocking call: {}", call.0)
        }
        Kind::FreeFd => "accept: out of fds, waiting for a close".to_owned(),
        Kind::Dump => "dump: waiting for the workers' answers".to_owned(),
    };
    WaitInfo::Text(text)
}
