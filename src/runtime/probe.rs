//! Probes: how a dump learns what every coroutine of a runtime is doing.
//!
//! A coroutine's record (its park state, what it waits for, its stack) is
//! its worker's: only the thread that holds the worker touches it, without
//! synchronisation (`park.rs`, `takeover.rs`). So no other thread reads
//! it. Instead, the thread that wants a dump *asks* every worker, and each
//! worker answers for its own coroutines at a safe point of its own, the
//! way a seat that comes back from a blocking call asks for the worker
//! (`takeover.rs`, steps 4 and 5).
//!
//! # Protocol
//!
//! 1. The requester makes a [`Probe`], adds it to `Shared::probes` (under
//!    its lock), and then, for each worker, sets the worker's probe flag
//!    (`Remote::probe`) and wakes the worker if it sleeps
//!    (`Shared::wake_worker`: a SeqCst fence, then the idle protocol's
//!    wake-up).
//! 2. A worker looks at its flag at its switch points, between two
//!    coroutines: every fairness round and whenever its ready queue runs
//!    dry (before it searches or sleeps), and, after announcing a sleep, in
//!    its sleep's re-check. Seeing it set, it clears it, takes the probes
//!    in the list (under the lock), drains its inbox (so that coroutines
//!    woken from other threads count as ready), and for each probe it has
//!    not answered yet, marks it answered and gives it a [`Part`]: one
//!    [`TaskInfo`] per coroutine it holds.
//! 3. The last worker to answer wakes the requester, which parks if it is a
//!    coroutine and blocks if it is a plain thread. The requester waits until
//!    then or its deadline, and takes the list down. A worker that did not
//!    answer in time (a coroutine that runs without parking holds it) is
//!    reported as such.
//!
//! No request is lost: a worker clears its flag before it reads the list,
//! and a requester sets the flags after it added its probe, so a probe
//! added after a worker read the list sets the flag again. A sleeping
//! worker is woken (step 1), and a worker about to sleep sees the flag in
//! its re-check: the same argument as the idle protocol's step 2
//! (`shared.rs`).
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

use std::backtrace::Backtrace;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::park::{self, Unparker};
use super::worker::Worker;
use crate::task::Owner;
use crate::task::{Call, Kind, Stage, Task, TaskRef, WaitFor};

/// What a probe asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Every coroutine (a dump).
    Full,
    /// Every coroutine, with a backtrace of each suspended one (a dump
    /// with backtraces: `Frame::trace`).
    Traced,
    /// Only coroutines waiting for a lock (the deadlock watch).
    Locks,
}

/// Where a coroutine stands, as a worker saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Queued to run (woken, yielded, or not started).
    Ready,
    /// Parked: `wait` says for what.
    Parked,
    /// In a blocking call its worker was (or may be) taken over during.
    Blocked,
}

/// What a parked coroutine waits for, as far as its worker can tell.
#[derive(Clone, Debug)]
pub(crate) enum WaitInfo {
    /// Said in words.
    Text(String),
    /// A lock: which kind, its address (its `Owner`'s), and an address on
    /// its holder's stack (0: not known, or held by readers).
    Lock {
        what: &'static str,
        lock: usize,
        holder: usize,
    },
}

/// One coroutine, as its worker saw it.
#[derive(Clone, Debug)]
pub(crate) struct TaskInfo {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) state: State,
    pub(crate) wait: Option<WaitInfo>,
    /// How long it has been parked or blocked (coarse: `clock.rs`).
    pub(crate) parked_for: Option<Duration>,
    pub(crate) spawned_at: &'static Location<'static>,
    /// Its stack's usable range (lowest address, highest), (0, 0) if it
    /// has not started.
    pub(crate) stack: (usize, usize),
    /// The worker that holds it, `NO_WORKER` for one in the injector.
    pub(crate) worker: usize,
    /// Where it is suspended, for a dump with backtraces.
    pub(crate) backtrace: Option<Arc<Backtrace>>,
}

/// `TaskInfo::worker` of a coroutine no worker holds yet.
pub(crate) const NO_WORKER: usize = usize::MAX;

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

impl TaskInfo {
    /// Whether `addr` lies on this coroutine's stack.
    pub(crate) fn owns(&self, addr: usize) -> bool {
        addr != 0 && self.stack.0 <= addr && addr < self.stack.1
    }
}

/// One worker's answer.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub(crate) tasks: Vec<TaskInfo>,
}

/// A request for parts (module docs).
pub(crate) struct Probe {
    pub(crate) detail: Detail,
    /// Set by each worker as it answers (step 2).
    answered: Box<[AtomicBool]>,
    parts: Mutex<Vec<Option<Part>>>,
    /// Workers yet to answer.
    left: AtomicUsize,
    /// Woken by the last worker to answer (step 3); taken then.
    requester: Mutex<Option<Unparker>>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("detail", &self.detail)
            .finish()
    }
}

impl Probe {
    pub(crate) fn new(detail: Detail, workers: usize) -> Probe {
        Probe {
            detail,
            answered: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            parts: Mutex::new(vec![None; workers]),
            left: AtomicUsize::new(workers),
            requester: Mutex::new(Some(park::current())),
        }
    }

    /// Step 3, for the requester (the caller of `new`): waits until every
    /// worker answered or `deadline` passed; true if all answered. The
    /// requester's unparker is taken before any worker sees the probe, and
    /// a wake-up before the park leaves its token: none is lost.
    pub(crate) fn wait(&self, deadline: Instant) -> bool {
        while !self.is_done() {
            if Instant::now() >= deadline {
                return self.is_done();
            }
            park::park_deadline_for(deadline, WaitFor::new(Kind::Dump, 0));
        }
        true
    }

    /// Whether every worker has answered.
    pub(crate) fn is_done(&self) -> bool {
        self.left.load(Ordering::Acquire) == 0
    }

    /// The parts given so far, by worker (`None`: no answer).
    pub(crate) fn take_parts(&self) -> Vec<Option<Part>> {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *parts)
    }

    /// Whether worker `index` still owes this probe its part; marks it as
    /// answered.
    fn claim(&self, index: usize) -> bool {
        !self.answered[index].swap(true, Ordering::AcqRel)
    }

    /// Step 2's delivery, then step 3's wake-up by the last worker.
    fn deliver(&self, index: usize, part: Part) {
        {
            let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = parts.get_mut(index) {
                *slot = Some(part);
            }
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let requester = self
                .requester
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(requester) = requester {
                requester.unpark();
            }
        }
    }
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
            probe.deliver(self.index, part.clone());
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
