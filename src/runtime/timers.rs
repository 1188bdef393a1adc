//! A worker's timers: a binary min-heap of deadlines with lazy cancellation.
//!
//! Only the thread that holds the worker (its loop, and the coroutines
//! bound to it) touches its timers, so there is no locking. Each armed
//! timer is a slab entry holding its generation and the `Unparker` to
//! wake, plus a heap entry `(deadline, generation, key)`. Cancelling
//! removes the slab entry; its heap entry stays until it reaches the top
//! and is discarded there, recognised by a generation that no longer
//! matches (slab keys are reused, generations never are). When stale heap
//! entries outnumber live ones (past 64 entries) the heap is rebuilt, so a
//! workload that arms and cancels long timeouts does not grow it without
//! bound.
//!
//! Insert and fire are O(log n); cancel is O(1), amortised over the
//! rebuilds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

use super::unparker::Unparker;

/// Identifies an armed timer for `Timers::cancel`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerKey {
    key: usize,
    generation: u64,
}

/// One worker's timers.
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    armed: Slab<(u64, Unparker)>,
    next_generation: u64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: BinaryHeap::new(),
            armed: Slab::new(),
            next_generation: 0,
        }
    }

    /// Arms a timer that unparks `waiter` at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, waiter: Unparker) -> TimerKey {
        let generation = self.next_generation;
        self.next_generation += 1;
        let key = self.armed.insert((generation, waiter));
        self.heap.push(Reverse((deadline, generation, key)));
        TimerKey { key, generation }
    }

    /// Disarms a timer; a no-op if it already fired.
    pub(crate) fn cancel(&mut self, t: TimerKey) {
        if matches!(self.armed.get(t.key), Some((g, _)) if *g == t.generation) {
            self.armed.remove(t.key);
            if self.heap.len() > 64 && self.heap.len() > 2 * self.armed.len() {
                let armed = &self.armed;
                self.heap
                    .retain(|Reverse((_, g, k))| matches!(armed.get(*k), Some((ag, _)) if ag == g));
            }
        }
    }

    /// Whether no timer is armed.
    pub(crate) fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// The earliest live deadline, discarding cancelled entries on the way.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, generation, key))) = self.heap.peek().copied() {
            if matches!(self.armed.get(key), Some((g, _)) if *g == generation) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes every timer due at `now` and returns their waiters, which the
    /// caller unparks once it no longer borrows the timers.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<Unparker>) {
        while let Some(Reverse((deadline, generation, key))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if matches!(self.armed.get(key), Some((g, _)) if *g == generation) {
                out.push(self.armed.remove(key).1);
            }
        }
    }

    /// Drops every timer (runtime shutdown).
    pub(crate) fn clear(&mut self) -> Vec<Unparker> {
        self.heap.clear();
        self.armed.drain().map(|(_, w)| w).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn waiter() -> Unparker {
        Unparker::Thread(std::thread::current())
    }

    #[test]
    fn fires_in_deadline_order_and_skips_cancelled() {
        let mut t = Timers::new();
        let now = Instant::now();
        let _a = t.insert(now + Duration::from_millis(30), waiter());
        let b = t.insert(now + Duration::from_millis(10), waiter());
        let _c = t.insert(now + Duration::from_millis(20), waiter());
        t.cancel(b);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(20)));
        let mut out = Vec::new();
        t.expire(now + Duration::from_millis(25), &mut out);
        assert_eq!(out.len(), 1);
        assert!(!t.is_empty());
        t.expire(now + Duration::from_millis(30), &mut out);
        assert_eq!(out.len(), 2);
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancel_after_fire_is_a_no_op_even_when_the_key_is_reused() {
        let mut t = Timers::new();
        let now = Instant::now();
        let a = t.insert(now, waiter());
        let mut out = Vec::new();
        t.expire(now, &mut out);
        let b = t.insert(now + Duration::from_secs(1), waiter());
        assert_eq!(a.key, b.key, "the slab reuses the key");
        t.cancel(a);
        assert!(
            !t.is_empty(),
            "the stale cancel must not disarm the new timer"
        );
    }

    #[test]
    fn heap_is_rebuilt_when_mostly_cancelled() {
        let mut t = Timers::new();
        let far = Instant::now() + Duration::from_secs(3600);
        for _ in 0..1000 {
            let k = t.insert(far, waiter());
            t.cancel(k);
        }
        assert!(
            t.heap.len() <= 65,
            "heap kept {} stale entries",
            t.heap.len()
        );
    }
}
