//! A worker's ready queue: its bound coroutines waiting for a turn, in the
//! order they became ready (`worker.rs`, "Choosing the next coroutine",
//! source 2).
//!
//! Every yield pushes onto it and every pick pops from it, so it is on the
//! hottest path weft has. A `RefCell<VecDeque>` would do, but its borrow
//! flag costs a check and a store on each side of every borrow, a
//! noticeable share of a yield round trip. This queue keeps the deque in an
//! `UnsafeCell` instead, and is sound without a flag because no two borrows
//! of the deque can overlap:
//!
//! 1. Only the thread that holds the worker touches the queue: it lives in
//!    `Worker`, which is `!Sync`, and whose threads take turns
//!    (`takeover.rs`, soundness).
//! 2. Each method borrows the deque only inside `with`, for one of
//!    `VecDeque`'s own operations, and never calls code of ours meanwhile.
//!    The only other code that could run is the global allocator (a user's,
//!    possibly) and a `TaskRef`'s destructor, and neither runs while the
//!    deque is borrowed:
//!    - `push_back` never grows the deque in place: a full deque is moved
//!      into a bigger one that `grow` allocates with no borrow live;
//!    - no element is dropped inside a borrow: pops hand the task out,
//!      `take_all` hands out the whole deque, `grow` drops the old, empty
//!      deque after its borrow ends;
//!    - cloning a `TaskRef` (`snapshot`) is one atomic increment.
//!
//! So code that reaches the queue again from inside one of these methods
//! (an allocator that wakes a coroutine of this worker, say) cannot exist,
//! where a `RefCell` would have turned it into a panic.

use std::cell::UnsafeCell;
use std::collections::VecDeque;

use crate::task::{Task, TaskRef};

/// The ready queue; see the module docs.
pub(super) struct ReadyQueue {
    tasks: UnsafeCell<VecDeque<TaskRef>>,
}

impl ReadyQueue {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        ReadyQueue {
            tasks: UnsafeCell::new(VecDeque::with_capacity(capacity)),
        }
    }

    /// Runs `f` on the deque. Callers are this file's methods only, and
    /// each `f` keeps to the rules of the module docs (point 2).
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut VecDeque<TaskRef>) -> R) -> R {
        // SAFETY: module docs: only the worker's holder calls this (point
        // 1), and `f` neither escapes the borrow nor runs code that could
        // call `with` again (point 2), so this is the only live borrow.
        f(unsafe { &mut *self.tasks.get() })
    }

    /// Queues `task` last.
    #[inline]
    pub(super) fn push_back(&self, task: TaskRef) {
        if self.with(|q| q.len() == q.capacity()) {
            self.grow();
        }
        // Room for one more, so `push_back` does not allocate.
        self.with(|q| q.push_back(task));
    }

    /// Makes room for at least one more task, allocating with no borrow
    /// live (module docs, point 2).
    #[cold]
    #[inline(never)]
    fn grow(&self) {
        loop {
            let want = self.with(|q| q.capacity().max(8) * 2);
            let mut bigger = VecDeque::with_capacity(want);
            // `bigger` has room for every task and one more, so `extend`
            // does not allocate; the swap leaves the old deque, empty, in
            // `bigger`.
            let moved = self.with(|q| {
                if q.len() >= bigger.capacity() {
                    return false;
                }
                bigger.extend(q.drain(..));
                std::mem::swap(q, &mut bigger);
                true
            });
            drop(bigger);
            if moved {
                return;
            }
        }
    }

    /// The task first in line, if any.
    #[inline]
    pub(super) fn pop_front(&self) -> Option<TaskRef> {
        self.with(VecDeque::pop_front)
    }

    /// The task last in line (the one queued most recently), if any.
    pub(super) fn pop_back(&self) -> Option<TaskRef> {
        self.with(VecDeque::pop_back)
    }

    pub(super) fn len(&self) -> usize {
        self.with(|q| q.len())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.with(|q| q.is_empty())
    }

    /// The first two tasks in line, if there are two: the next picks, for
    /// `worker.rs`'s prefetch.
    #[inline]
    pub(super) fn peek_two(&self) -> Option<(*const Task, *const Task)> {
        self.with(|q| match (q.front(), q.get(1)) {
            (Some(a), Some(b)) => Some((TaskRef::as_ptr(a), TaskRef::as_ptr(b))),
            _ => None,
        })
    }

    /// A new reference to every queued task, in order.
    pub(super) fn snapshot(&self) -> Vec<TaskRef> {
        let mut all = Vec::with_capacity(self.len());
        // One task per borrow, so that `push` (which may allocate) runs
        // with no borrow live.
        for i in 0.. {
            let Some(task) = self.with(|q| q.get(i).cloned()) else {
                break;
            };
            all.push(task);
        }
        all
    }

    /// Empties the queue, handing out what was in it.
    pub(super) fn take_all(&self) -> VecDeque<TaskRef> {
        self.with(std::mem::take)
    }
}
