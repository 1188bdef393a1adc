//! Who holds a lock, for a dump: an address on the holder's stack.
//!
//! A dump names the coroutine that holds the lock a waiter waits for, and
//! the watchdog follows those names around a cycle to find a deadlock. So a
//! lock must know its holder, and finding out who runs costs a thread-local
//! read and a load or two: too much for an uncontended `lock`, which is a
//! single CAS. The holder's stack says it for less: every coroutine runs on
//! a stack of its own, so any address in the frame of the call that took
//! the lock names it. Taking a lock stores one such address (one store,
//! of a value computed from the stack pointer); a dump, on the waiter's
//! worker, reads it and finds the coroutine whose stack holds it. An
//! address on no coroutine's stack is a plain thread's.
//!
//! The value is a hint and may lag: an uncontended unlock does not clear
//! it, and a new holder stores its address just after its CAS. So a dump
//! taken in that window may name the previous holder; the watchdog reports
//! a cycle only if it sees it twice. A lock handed to a waiter is recorded
//! by the unlocker, with the address of the waiter's wait context, which
//! lives on the waiter's stack.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The address of the current holder of a lock (module docs), or 0.
/// Written by whoever takes the lock or hands it over; read by dumps.
#[derive(Debug, Default)]
pub(crate) struct Owner(AtomicUsize);

impl Owner {
    pub(crate) const fn new() -> Owner {
        Owner(AtomicUsize::new(0))
    }

    /// Records the caller (its stack) as the holder.
    #[inline(always)]
    pub(crate) fn set_here(&self) {
        self.set(here());
    }

    /// Records the holder whose stack contains `addr` (0: none known).
    #[inline(always)]
    pub(crate) fn set(&self, addr: usize) {
        self.0.store(addr, Ordering::Relaxed);
    }

    /// The holder's address, or 0.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// An address in the caller's stack frame: which stack (coroutine or
/// thread) the caller runs on.
#[inline(always)]
pub(crate) fn here() -> usize {
    let marker = MaybeUninit::<u8>::uninit();
    marker.as_ptr() as usize
}
