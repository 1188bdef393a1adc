//! Passing spare items between threads in batches.
//!
//! Some things are released on one thread and wanted on another: a task's
//! memory is freed by the worker that ran it and allocated again by the one
//! that spawns. Each thread keeps its spares in a plain local `Vec` and
//! trades whole batches with the others through a [`Batches`] stack, so the
//! shared state is touched once per `BATCH` items rather than once per item:
//!
//! 1. [`Batches::push`] puts an item in the local list; a list that grows
//!    past `LOCAL_MAX` hands its newest `BATCH` items to the stack, unless
//!    the stack already holds its maximum of batches: then the batch goes
//!    back to the caller, which releases it.
//! 2. [`Batches::pop`] takes an item from the local list, refilling an empty
//!    list with a whole batch from the stack first. A plain load of the
//!    stack's size comes before its lock, so a thread that only takes (a
//!    spawn loop before any task finished) never locks.
//!
//! What a thread keeps is bounded by `LOCAL_MAX`, what the stack keeps by
//! its maximum times `BATCH`.
//!
//! A [`Reserve`] is the same idea for things that are only counted (a
//! worker's stack-budget slots, its references to the runtime): the worker
//! takes a batch from the shared count at once, hands units out one by one,
//! and gives back the excess once units it got back pile up past twice a
//! batch.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Items a thread keeps before it hands a batch on.
pub(crate) const LOCAL_MAX: usize = 256;
/// Items handed between threads at a time.
pub(crate) const BATCH: usize = 128;

/// A stack of batches that threads hand each other.
pub(crate) struct Batches<T> {
    /// The batches, newest last. Pushed and popped by any thread, under
    /// the lock.
    stack: Mutex<Vec<Vec<T>>>,
    /// How many batches `stack` holds (written under its lock).
    len: AtomicUsize,
    /// Batches kept at most.
    max: usize,
}

impl<T> Batches<T> {
    /// An empty stack that keeps at most `max` batches.
    pub(crate) const fn new(max: usize) -> Batches<T> {
        Batches {
            stack: Mutex::new(Vec::new()),
            len: AtomicUsize::new(0),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<T>>> {
        // Nothing panics under this lock (pushes and pops of batches), so a
        // poisoned one still holds a sound stack.
        self.stack.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Step 2: an item from `local`, or from a batch taken from the stack.
    pub(crate) fn pop(&self, local: &mut Vec<T>) -> Option<T> {
        if local.is_empty() && self.len.load(Ordering::Relaxed) > 0 {
            let mut stack = self.lock();
            if let Some(batch) = stack.pop() {
                *local = batch;
            }
            self.len.store(stack.len(), Ordering::Relaxed);
        }
        local.pop()
    }

    /// Step 1: keeps `item` in `local`. Returns a batch the stack had no
    /// room for, for the caller to release.
    pub(crate) fn push(&self, local: &mut Vec<T>, item: T) -> Option<Vec<T>> {
        local.push(item);
        if local.len() <= LOCAL_MAX {
            return None;
        }
        let batch = local.split_off(local.len() - BATCH);
        self.keep(batch)
    }

    /// Hands all of `local` to the stack (a thread that exits). Returns the
    /// batches it had no room for.
    pub(crate) fn flush(&self, local: &mut Vec<T>) -> Vec<Vec<T>> {
        let mut refused = Vec::new();
        while !local.is_empty() {
            let batch = local.split_off(local.len().saturating_sub(BATCH));
            refused.extend(self.keep(batch));
        }
        refused
    }

    /// How many batches the stack holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn keep(&self, batch: Vec<T>) -> Option<Vec<T>> {
        let mut stack = self.lock();
        if stack.len() >= self.max {
            return Some(batch);
        }
        stack.push(batch);
        self.len.store(stack.len(), Ordering::Relaxed);
        None
    }
}

/// Units one worker took from a shared count ahead of need (module docs).
/// Only the thread that holds the worker uses it.
pub(crate) struct Reserve {
    /// Units taken and not handed out.
    held: Cell<usize>,
    /// Units taken from the shared count at once, and kept after giving
    /// back an excess.
    batch: usize,
}

impl Reserve {
    pub(crate) const fn new(batch: usize) -> Reserve {
        Reserve {
            held: Cell::new(0),
            batch,
        }
    }

    /// Takes one unit: from the reserve, or else from the shared count
    /// through `refill`, which takes what it can (normally `batch`) and
    /// says how many it got. False if it got none.
    #[inline]
    pub(crate) fn take(&self, refill: impl FnOnce() -> usize) -> bool {
        let held = self.held.get();
        if held > 0 {
            self.held.set(held - 1);
            return true;
        }
        match refill() {
            0 => false,
            got => {
                self.held.set(got - 1);
                true
            }
        }
    }

    /// Puts one unit back. `release` gets the excess over a batch once the
    /// reserve holds more than two batches; everything, if `keep_none`.
    #[inline]
    pub(crate) fn give(&self, keep_none: bool, release: impl FnOnce(usize)) {
        let held = self.held.get() + 1;
        if keep_none {
            self.held.set(0);
            release(held);
        } else if held > 2 * self.batch {
            self.held.set(self.batch);
            release(held - self.batch);
        } else {
            self.held.set(held);
        }
    }

    /// Empties the reserve, saying how many units it held.
    pub(crate) fn take_all(&self) -> usize {
        self.held.replace(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_refills_by_batch_and_gives_back_its_excess() {
        let r = Reserve::new(4);
        let mut refills = 0;
        for _ in 0..6 {
            assert!(r.take(|| {
                refills += 1;
                4
            }));
        }
        assert_eq!(refills, 2); // 4, then 4 more: 2 left
        let mut released = Vec::new();
        for _ in 0..7 {
            r.give(false, |n| released.push(n));
        }
        // 2 + 7 = 9 > 8: all but a batch went back.
        assert_eq!(released, vec![5]);
        r.give(true, |n| released.push(n));
        assert_eq!(released, vec![5, 5]);
        assert_eq!(r.take_all(), 0);
        assert!(!r.take(|| 0));
    }

    #[test]
    fn batches_move_between_lists_and_the_stack_is_bounded() {
        let batches = Batches::new(2);
        let mut a = Vec::new();
        let mut refused = Vec::new();
        for i in 0..LOCAL_MAX + 3 * BATCH {
            refused.extend(batches.push(&mut a, i));
        }
        // Two batches kept, one handed back, the rest local.
        assert_eq!(a.len(), LOCAL_MAX);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].len(), BATCH);
        // Another list takes a whole batch when empty.
        let mut b = Vec::new();
        assert!(batches.pop(&mut b).is_some());
        assert_eq!(b.len(), BATCH - 1);
        assert_eq!(batches.len(), 1);
        let mut c = Vec::new();
        assert!(batches.pop(&mut c).is_some());
        assert_eq!(batches.len(), 0);
        assert!(batches.pop(&mut Vec::new()).is_none());
        let refused = batches.flush(&mut a);
        assert_eq!(refused.iter().map(Vec::len).sum::<usize>(), 0);
        assert!(a.is_empty());
        assert_eq!(batches.len(), 2);
    }
}
