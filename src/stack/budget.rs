//! How many guarded stacks the process may hold.
//!
//! Linux caps the number of memory mappings of a process at
//! `vm.max_map_count` (65530 by default). Each guarded stack costs two: the
//! usable part and the guard page. When the cap is hit, *every* `mmap`,
//! `mprotect` split or large `malloc` in the process fails, not just ours, so
//! weft refuses a spawn well before that point:
//!
//! ```text
//!   stacks allowed = (max_map_count - headroom) / 2
//!   headroom       = max(max_map_count / 8, 2048)   (libraries, heap, threads)
//! ```
//!
//! The budget counts *slots*, one per stack that exists or may exist: a
//! coroutine takes one when it first runs (that is when it gets its stack)
//! and gives it back when it finishes (workers take and return slots in
//! small batches, so the shared counter is not written per coroutine); a
//! `weft::grow` segment holds one while in use; a worker's spare thread
//! holds two for as long as it lives (its stack and its alternate signal
//! stack: `runtime/takeover.rs`); worker stack pools reserve their capacity
//! up front, so that pooled stacks never push the process past the limit.
//!
//! Near the limit, batching would strand free slots in the caches of
//! workers that do not need them while a coroutine elsewhere cannot start
//! (and that coroutine may be the one that lets the others finish). So:
//!
//! 1. When fewer slots are free than the workers could cache between them
//!    (`scarce`), workers stop caching: they take one slot at a time and
//!    give each back at once.
//! 2. A worker whose coroutine finds no slot, and a refused spawn, raise
//!    `WANTED`; the runtime wakes its workers, and each gives back its
//!    whole cache before it next sleeps or when a coroutine finishes. The
//!    starved coroutine's worker retries when one of its coroutines
//!    finishes, at its fairness rounds, and at least every 10 ms while it
//!    has nothing else to do (`runtime/worker.rs`), so the coroutine starts
//!    soon after any slot is free anywhere. A worker clears `WANTED` once a
//!    coroutine of its own starts and none of its coroutines starves any
//!    more (another worker's that still starves raises it again at its next
//!    retry).
//!
//! A spawn is refused while every slot is taken. A coroutine that was
//! spawned but has not run yet costs no mapping, so spawning far more
//! coroutines than slots works as long as they do not all run at once; one
//! that finds no slot when its turn comes waits on its worker (see
//! `runtime/worker.rs`) until another finishes.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::sys;

/// The process-wide stack budget.
pub(crate) struct Budget {
    /// Slots taken: by started coroutines (the workers' caches of slots
    /// included), grow segments and spare threads, plus pool reserves.
    /// Written by whoever takes or gives back slots.
    used: AtomicUsize,
    /// Slot limit and the map count it came from, computed on first use.
    limit: OnceLock<(usize, usize)>,
}

static BUDGET: Budget = Budget {
    used: AtomicUsize::new(0),
    limit: OnceLock::new(),
};

/// Some coroutine could not start, or a spawn was refused, for want of a
/// slot: workers give their cached slots back (module docs, step 2). Set
/// by `want`, cleared by `satisfied`; read by workers.
static WANTED: AtomicBool = AtomicBool::new(false);

/// One slot of the budget; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct StackSlot(());

impl Drop for StackSlot {
    fn drop(&mut self) {
        BUDGET.used.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Budget {
    fn limit(&self) -> (usize, usize) {
        *self.limit.get_or_init(|| {
            let max = sys::max_map_count().unwrap_or(65530);
            let headroom = (max / 8).max(2048);
            (max.saturating_sub(headroom) / 2, max)
        })
    }

    /// Refuses a spawn while every slot is taken (and asks the workers for
    /// their cached slots: step 2).
    pub(crate) fn check() -> io::Result<()> {
        let (limit, _) = BUDGET.limit();
        if BUDGET.used.load(Ordering::Relaxed) >= limit {
            Self::want();
            return Err(Self::exhausted());
        }
        Ok(())
    }

    /// Whether fewer than `cache` slots are free: workers stop caching
    /// (module docs, step 1).
    #[inline]
    pub(crate) fn scarce(cache: usize) -> bool {
        let (limit, _) = BUDGET.limit();
        BUDGET.used.load(Ordering::Relaxed) + cache >= limit
    }

    /// Asks every worker for its cached slots (step 2).
    pub(crate) fn want() {
        WANTED.store(true, Ordering::Relaxed);
    }

    /// Whether some coroutine waits for a slot (step 2).
    #[inline]
    pub(crate) fn wanted() -> bool {
        WANTED.load(Ordering::Relaxed)
    }

    /// A worker that wanted slots has none starving any more (step 2).
    pub(crate) fn satisfied() {
        if WANTED.load(Ordering::Relaxed) {
            WANTED.store(false, Ordering::Relaxed);
        }
    }

    /// Takes one slot if one is free.
    pub(crate) fn try_reserve() -> Option<StackSlot> {
        let (limit, _) = BUDGET.limit();
        let used = BUDGET.used.fetch_add(1, Ordering::Relaxed);
        if used >= limit {
            BUDGET.used.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(StackSlot(()))
    }

    /// Takes up to `n` slots; returns how many it got (0 when none is free).
    pub(crate) fn try_reserve_many(n: usize) -> usize {
        let (limit, _) = BUDGET.limit();
        let mut used = BUDGET.used.load(Ordering::Relaxed);
        loop {
            let got = n.min(limit.saturating_sub(used));
            if got == 0 {
                return 0;
            }
            match BUDGET.used.compare_exchange_weak(
                used,
                used + got,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return got,
                Err(now) => used = now,
            }
        }
    }

    /// Gives back `n` slots taken with `try_reserve_many`.
    pub(crate) fn release(n: usize) {
        BUDGET.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Takes one slot, or explains why not.
    pub(crate) fn reserve() -> io::Result<StackSlot> {
        Self::try_reserve().ok_or_else(Self::exhausted)
    }

    /// Reserves `n` slots for a stack pool (never refused: pools are small and
    /// made when a runtime starts).
    pub(crate) fn reserve_pool(n: usize) {
        BUDGET.used.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives back a pool's reserve.
    pub(crate) fn release_pool(n: usize) {
        BUDGET.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// The error a refused spawn returns.
    pub(crate) fn exhausted() -> io::Error {
        let (limit, max) = BUDGET.limit();
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "weft: cannot create another coroutine: the process holds as many coroutine \
                 stacks as vm.max_map_count = {max} allows ({limit}, at 2 memory mappings \
                 each); let some coroutines finish, or {}",
                sys::MAP_COUNT_HINT
            ),
        )
    }
}
