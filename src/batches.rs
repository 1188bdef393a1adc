//! Passing spare items between threads in batches.
//!
//! Some things are released on one thread and wanted on another: a task's
//! memory is freed by the worker that ran it and allocated again by the one
//! that spawns. Each thread
//! keeps its spares in a plain local `Vec` and trades whole batches with the
//! others through a [`Batches`] stack, so the shared state is touched once
//! per `BATCH` items rather than once per item:
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Items a thread keeps before it hands a batch on.
pub(crate) const LOCAL_MAX: usize = 256;
/// Items handed between threads at a time.
pub(crate) const BATCH: usize = 128;

/// A stack of batches that threads hand each other.
pub(crate) struct Batches<T> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
