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
//! How a worker builds its part, and why reading the records is sound:
//! `inspect.rs`.

use std::backtrace::Backtrace;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::unparker::Unparker;

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
    /// A probe for `detail` from every one of `workers` workers, whose
    /// last answer wakes `requester`.
    pub(crate) fn new(detail: Detail, workers: usize, requester: Unparker) -> Probe {
        Probe {
            detail,
            answered: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            parts: Mutex::new(vec![None; workers]),
            left: AtomicUsize::new(workers),
            requester: Mutex::new(Some(requester)),
        }
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
    pub(super) fn claim(&self, index: usize) -> bool {
        !self.answered[index].swap(true, Ordering::AcqRel)
    }

    /// Step 2's delivery; the last worker's gets the requester back, to
    /// wake (step 3).
    #[must_use]
    pub(super) fn deliver(&self, index: usize, part: Part) -> Option<Unparker> {
        {
            let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = parts.get_mut(index) {
                *slot = Some(part);
            }
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            return self
                .requester
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
        None
    }
}
