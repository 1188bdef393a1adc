//! What weft knows about each file descriptor.
//!
//! A two-level table indexed by fd: 1024 lazily allocated chunks of 4096
//! slots (fds up to 4M). A hook's first question, "is this fd one of
//! weft's?", is two loads. Chunks are allocated only when a coroutine first
//! touches an fd in them, never from a plain thread; they are mapped with
//! `mmap`, not the allocator, so that a signal handler which interrupts a
//! coroutine may grow the table too; they are never freed.
//!
//! # A slot
//!
//! `state` packs the fd's [`Flags`] (low 32 bits) and its generation (high
//! 32 bits). The generation grows by one at every `close`, so a waiter or a
//! poller registration made for an earlier file with the same number can
//! tell that its file is gone.
//!
//! | flag        | meaning                                                                            |
//! |-------------|------------------------------------------------------------------------------------|
//! | `KNOWN`     | classified since it was opened (else: look at it on first use)                     |
//! | `SOCKET`    | a socket: weft may park on it                                                      |
//! | `WEFT_NB`   | weft set `O_NONBLOCK` on it; the user did not ask for it                           |
//! | `USER_NB`   | the user asked for `O_NONBLOCK` (`fcntl`, `FIONBIO`, `SOCK_NONBLOCK`)              |
//! | `STREAM`    | a `SOCK_STREAM` socket: a short read means it was drained                          |
//! | `PER_CALL`  | its open file description blocks: coroutines ask each call not to (`MSG_DONTWAIT`) |
//! | `SEQPACKET` | a `SOCK_SEQPACKET` socket (`write` on it ends a record)                            |
//! | `POLLED`    | some poller may hold a registration of it (`registrations`)                        |
//!
//! A socket the user expects to block is in one of two modes. `WEFT_NB`:
//! weft created it non-blocking, in a coroutine, and it has not been
//! shared yet (a listener, or a stream socket until its `connect`
//! completes). `PER_CALL`: its open file description is exactly as the
//! user set it (blocking), so every fd that shares it (a `dup`, a
//! `try_clone`, a child's inherited copy, an fd passed with
//! `SCM_RIGHTS`) behaves as the kernel's, on any thread and in any
//! process; a coroutine's call adds `MSG_DONTWAIT` (or runs as a blocking
//! call, for `accept` and `connect`). Sockets weft did not create itself,
//! accepted sockets and connected sockets are `PER_CALL`.
//!
//! Written by the hooks (`socket`, `socketpair`, `accept4`, `connect`,
//! `setsockopt`, `fcntl`, `ioctl`, `close`, `dup*`, and those that hand a
//! socket to another program, `hook/spawn.rs`), by a coroutine's first use
//! of the fd, and by its first wait on the fd on a worker (`POLLED`); read
//! by every hook.

use std::ops::{BitAnd, BitOr, Not};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::runtime::Poller;

/// A set of an fd's flags (the table in the module docs): combined with
/// `|`, masked with `&` and `!`, tested with [`Flags::contains`] and
/// [`Flags::intersects`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u32);

pub(crate) const KNOWN: Flags = Flags(1);
pub(crate) const SOCKET: Flags = Flags(2);
pub(crate) const WEFT_NB: Flags = Flags(4);
pub(crate) const USER_NB: Flags = Flags(8);
pub(crate) const STREAM: Flags = Flags(16);
pub(crate) const PER_CALL: Flags = Flags(32);
pub(crate) const SEQPACKET: Flags = Flags(64);
pub(crate) const POLLED: Flags = Flags(128);

impl Flags {
    /// No flag.
    pub(crate) const NONE: Flags = Flags(0);

    /// Whether every flag of `other` is set.
    #[inline]
    pub(crate) const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    #[inline]
    pub(crate) const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    #[inline]
    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    #[inline]
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

impl BitAnd for Flags {
    type Output = Flags;
    #[inline]
    fn bitand(self, other: Flags) -> Flags {
        Flags(self.0 & other.0)
    }
}

impl Not for Flags {
    type Output = Flags;
    #[inline]
    fn not(self) -> Flags {
        Flags(!self.0)
    }
}

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
    pub(crate) flags: Flags,
    pub(crate) generation: u32,
}

impl State {
    /// The state a slot's packed `state` holds.
    #[inline]
    fn unpack(v: u64) -> State {
        State {
            flags: Flags(v as u32),
            generation: (v >> 32) as u32,
        }
    }

    /// Whether `flag` is set.
    #[inline]
    pub(crate) fn has(self, flag: Flags) -> bool {
        self.flags.contains(flag)
    }

    /// A socket the user expects to block, on which a coroutine parks:
    /// calls on it must block (or park) as the user expects.
    pub(crate) fn is_managed(self) -> bool {
        self.flags & (SOCKET | USER_NB) == SOCKET && self.flags.intersects(WEFT_NB | PER_CALL)
    }

    /// A managed socket whose description weft made non-blocking: a plain
    /// thread's call on it must wait in `poll(2)` to block as the user
    /// expects (on a `PER_CALL` socket the kernel's own call blocks).
    pub(crate) fn hides_nonblocking(self) -> bool {
        self.flags & (SOCKET | WEFT_NB | USER_NB) == SOCKET | WEFT_NB
    }

    /// The flags a coroutine adds to a `send`/`recv` family call so that
    /// it does not block: `MSG_DONTWAIT` on a `PER_CALL` socket.
    pub(crate) fn per_call_flags(self) -> libc::c_int {
        if self.has(PER_CALL) {
            libc::MSG_DONTWAIT
        } else {
            0
        }
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
        State::unpack(self.state.load(Ordering::Acquire))
    }

    /// Replaces the flags, keeping the generation and `POLLED` (only
    /// `reset` clears it: a registration made meanwhile must not be lost).
    pub(crate) fn set_flags(&self, flags: Flags) {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let new = (cur & !0xffff_ffff) | (cur & u64::from(POLLED.0)) | u64::from(flags.0);
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Adds `flag`, keeping the other flags and the generation.
    pub(crate) fn add_flag(&self, flag: Flags) {
        self.state.fetch_or(u64::from(flag.0), Ordering::AcqRel);
    }

    /// Forgets the fd (it is being closed): clears the flags and timeouts and
    /// starts a new generation. Returns the state that ended.
    pub(crate) fn reset(&self) -> State {
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
                Ok(_) => return State::unpack(cur),
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

/// The size of one chunk of slots.
const CHUNK_BYTES: usize = CHUNK * std::mem::size_of::<Slot>();

/// A fresh chunk of empty slots, mapped straight from the kernel: no
/// allocator, no lock, so a hook that a signal handler reaches may grow the
/// table (async-signal-safe). `None` if the kernel refuses the memory.
fn new_chunk() -> Option<*mut Slot> {
    // SAFETY: a fresh private anonymous mapping; no existing memory changes.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CHUNK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let base = p.cast::<Slot>();
    for i in 0..CHUNK {
        // SAFETY: the mapping is page-aligned (so aligned for `Slot`) and
        // CHUNK_BYTES long; `Slot::new` allocates nothing.
        unsafe { base.add(i).write(Slot::new()) };
    }
    Some(base)
}

/// The slot of `fd`, allocating its chunk if needed. `None` for a negative
/// or huge fd, or when no memory is left for a chunk.
pub(crate) fn get_or_alloc(fd: libc::c_int) -> Option<&'static Slot> {
    if let Some(slot) = get(fd) {
        return Some(slot);
    }
    let (chunk, index) = split(fd)?;
    let fresh = new_chunk()?;
    let base = match TABLE.chunks[chunk].compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => fresh,
        Err(existing) => {
            // Another thread won; give ours back. Its slots own no memory
            // (empty `Vec`s), so there is nothing to drop.
            // SAFETY: `fresh` is our own mapping of CHUNK_BYTES, never shared.
            unsafe { libc::munmap(fresh.cast(), CHUNK_BYTES) };
            existing
        }
    };
    // SAFETY: as in `get`.
    Some(unsafe { &*base.add(index) })
}

/// Calls `f` with every fd whose slot has any of `flags`, in the chunks
/// allocated so far. Takes no lock and allocates nothing.
pub(crate) fn for_each_with(flags: Flags, mut f: impl FnMut(libc::c_int, &'static Slot)) {
    for (chunk, base) in TABLE.chunks.iter().enumerate() {
        let base = base.load(Ordering::Acquire);
        if base.is_null() {
            continue;
        }
        for index in 0..CHUNK {
            // SAFETY: as in `get`.
            let slot = unsafe { &*base.add(index) };
            if slot.state().flags.intersects(flags) {
                f((chunk << CHUNK_BITS | index) as libc::c_int, slot);
            }
        }
    }
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
        assert_eq!(slot.reset().generation, g);
        assert_eq!(
            slot.state(),
            State {
                flags: Flags::NONE,
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
