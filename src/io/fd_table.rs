//! What weft knows about each file descriptor.
//!
//! A two-level table indexed by fd: 1024 lazily allocated chunks of 4096
//! slots (fds up to 4M). A hook's first question, "is this fd one of
//! weft's?", is two loads. Chunks are allocated only when a coroutine first
//! touches an fd in them, never from a plain thread or a signal handler, and
//! are never freed.
//!
//! # A slot
//!
//! `state` packs the fd's flags (low 32 bits) and its generation (high 32
//! bits). The generation grows by one at every `close`, so a waiter or a
//! poller registration made for an earlier file with the same number can
//! tell that its file is gone.
//!
//! | flag      | meaning                                                        |
//! |-----------|----------------------------------------------------------------|
//! | `KNOWN`   | classified since it was opened (else: look at it on first use) |
//! | `SOCKET`  | a socket: weft may park on it                                  |
//! | `WEFT_NB` | weft set `O_NONBLOCK` on it; the user did not ask for it       |
//! | `USER_NB` | the user asked for `O_NONBLOCK` (`fcntl`, `FIONBIO`, `SOCK_NONBLOCK`) |
//! | `STREAM`  | a `SOCK_STREAM` socket: a short read means it was drained |
//!
//! Written by the hooks (`socket`, `accept4`, `fcntl`, `ioctl`, `close`,
//! `dup*`, first use in a coroutine); read by every hook.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Poller;

pub(crate) const KNOWN: u32 = 1;
pub(crate) const SOCKET: u32 = 2;
pub(crate) const WEFT_NB: u32 = 4;
pub(crate) const USER_NB: u32 = 8;
pub(crate) const STREAM: u32 = 16;

const CHUNK_BITS: usize = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNKS: usize = 1024;

/// One fd's record.
pub(crate) struct Slot {
    /// Flags (low half) and generation (high half).
    state: AtomicU64,
    /// `SO_RCVTIMEO` in nanoseconds; 0 for none.
    pub(crate) recv_timeout: AtomicU64,
    /// `SO_SNDTIMEO` in nanoseconds; 0 for none.
    pub(crate) send_timeout: AtomicU64,
    /// The pollers this fd is registered with, and its key in each. Locked
    /// only when a coroutine first waits on the fd on a worker, and at close.
    pub(crate) registrations: Mutex<Vec<(Arc<Poller>, usize)>>,
}

/// A consistent reading of a slot's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) flags: u32,
    pub(crate) generation: u32,
}

impl State {
    pub(crate) fn has(self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// A socket that weft made non-blocking behind the user's back: calls on
    /// it must block (or park) as the user expects.
    pub(crate) fn is_managed(self) -> bool {
        self.flags & (SOCKET | WEFT_NB | USER_NB) == SOCKET | WEFT_NB
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: AtomicU64::new(0),
            recv_timeout: AtomicU64::new(0),
            send_timeout: AtomicU64::new(0),
            registrations: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn state(&self) -> State {
        let v = self.state.load(Ordering::Acquire);
        State {
            flags: v as u32,
            generation: (v >> 32) as u32,
        }
    }

    /// Replaces the flags, keeping the generation.
    pub(crate) fn set_flags(&self, flags: u32) {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let new = (cur & !0xffff_ffff) | flags as u64;
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Forgets the fd (it is being closed): clears the flags and timeouts and
    /// starts a new generation. Returns the generation that ended.
    pub(crate) fn reset(&self) -> u32 {
        self.recv_timeout.store(0, Ordering::Relaxed);
        self.send_timeout.store(0, Ordering::Relaxed);
        let old = self.state.load(Ordering::Relaxed);
        let mut cur = old;
        loop {
            let generation = ((cur >> 32) as u32).wrapping_add(1);
            match self.state.compare_exchange_weak(
                cur,
                (generation as u64) << 32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (cur >> 32) as u32,
                Err(now) => cur = now,
            }
        }
    }
}

/// The process-wide table.
struct Table {
    chunks: [AtomicPtr<Slot>; CHUNKS],
}

static TABLE: Table = Table {
    chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS],
};

fn split(fd: libc::c_int) -> Option<(usize, usize)> {
    let fd = usize::try_from(fd).ok()?;
    let chunk = fd >> CHUNK_BITS;
    (chunk < CHUNKS).then_some((chunk, fd & (CHUNK - 1)))
}

/// The slot of `fd` if its chunk exists (never allocates).
#[inline]
pub(crate) fn get(fd: libc::c_int) -> Option<&'static Slot> {
    let (chunk, index) = split(fd)?;
    let base = TABLE.chunks[chunk].load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    // SAFETY: a non-null chunk pointer points at CHUNK initialised slots that
    // are never freed; `index < CHUNK`.
    Some(unsafe { &*base.add(index) })
}

/// The slot of `fd`, allocating its chunk if needed. `None` for a negative
/// or huge fd.
pub(crate) fn get_or_alloc(fd: libc::c_int) -> Option<&'static Slot> {
    if let Some(slot) = get(fd) {
        return Some(slot);
    }
    let (chunk, index) = split(fd)?;
    let fresh: Box<[Slot]> = (0..CHUNK).map(|_| Slot::new()).collect();
    let fresh = Box::into_raw(fresh) as *mut Slot;
    let base = match TABLE.chunks[chunk].compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => fresh,
        Err(existing) => {
            // Another thread won; free ours.
            // SAFETY: `fresh` came from Box::into_raw of a CHUNK-long slice
            // and was never shared.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, CHUNK)) });
            existing
        }
    };
    // SAFETY: as in `get`.
    Some(unsafe { &*base.add(index) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_bumps_generation_and_clears_flags() {
        let slot = get_or_alloc(100_000).unwrap();
        slot.set_flags(KNOWN | SOCKET | WEFT_NB);
        assert!(slot.state().is_managed());
        let g = slot.state().generation;
        assert_eq!(slot.reset(), g);
        assert_eq!(
            slot.state(),
            State {
                flags: 0,
                generation: g + 1
            }
        );
        slot.set_flags(KNOWN | SOCKET | WEFT_NB | USER_NB);
        assert!(!slot.state().is_managed(), "the user's O_NONBLOCK wins");
    }

    #[test]
    fn negative_and_huge_fds_have_no_slot() {
        assert!(get_or_alloc(-1).is_none());
        assert!(get_or_alloc(i32::MAX).is_none());
    }
}
