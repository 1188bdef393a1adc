//! A worker's pool of stacks of its runtime's default size.
//!
//! Mapping a stack costs two system calls and the first page faults; popping
//! one from this pool costs a few loads and stores. The pool is owned by one
//! worker, and only the thread that holds the worker touches it, so it needs
//! no synchronisation.
//!
//! RSS follows real use: the first `HOT` stacks keep their pages (they are
//! reused at once in spawn-heavy loops); any stack pooled beyond them first
//! hands every page but its top one back to the kernel. Stacks beyond
//! `capacity` are unmapped.

use std::io;

use super::{Budget, GuardedStack};

/// Stacks kept with their pages resident.
const HOT: usize = 16;

/// A per-worker stack pool.
pub(crate) struct StackPool {
    /// The pooled stacks, the most recently returned last.
    stacks: Vec<GuardedStack>,
    /// Usable size of the stacks this pool keeps, rounded to pages.
    size: usize,
    /// Most stacks kept; reserved in the budget for the pool's lifetime.
    capacity: usize,
}

impl StackPool {
    /// A pool for stacks of `size` usable bytes, keeping at most
    /// `capacity` of them, reserved in the budget now.
    pub(crate) fn new(size: usize, capacity: usize) -> StackPool {
        Budget::reserve_pool(capacity);
        StackPool {
            stacks: Vec::with_capacity(capacity),
            size: GuardedStack::rounded(size),
            capacity,
        }
    }

    /// A stack of `size` bytes: pooled if the size matches, else new.
    pub(crate) fn get(&mut self, size: usize) -> io::Result<GuardedStack> {
        if GuardedStack::rounded(size) == self.size {
            if let Some(stack) = self.stacks.pop() {
                return Ok(stack);
            }
        }
        GuardedStack::new(size)
    }

    /// Takes a stack back for reuse, or unmaps it.
    pub(crate) fn put(&mut self, stack: GuardedStack) {
        if stack.size() != self.size || self.stacks.len() >= self.capacity {
            return;
        }
        if self.stacks.len() >= HOT {
            stack.release_cold_pages();
        }
        self.stacks.push(stack);
    }

    /// Stacks currently pooled.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stacks.len()
    }
}

impl Drop for StackPool {
    fn drop(&mut self) {
        Budget::release_pool(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_same_size_and_caps() {
        let mut pool = StackPool::new(64 * 1024, 2);
        let a = pool.get(64 * 1024).unwrap();
        let a_guard = a.guard();
        pool.put(a);
        let b = pool.get(64 * 1024).unwrap();
        assert_eq!(b.guard(), a_guard, "a pooled stack is reused");
        let c = pool.get(64 * 1024).unwrap();
        let d = pool.get(64 * 1024).unwrap();
        pool.put(b);
        pool.put(c);
        pool.put(d);
        assert_eq!(pool.len(), 2, "the pool keeps at most its capacity");
        pool.put(GuardedStack::new(128 * 1024).unwrap());
        assert_eq!(pool.len(), 2, "other sizes are not pooled");
    }
}
