//! What a parked (or blocked) coroutine waits for: one word in its frame
//! (`frame.rs`), written where it parks and read only by a dump.
//!
//! A park records *why* in one store: a [`WaitFor`] is a kind in the low
//! byte and a payload in the rest (an fd, a count, or the address of what
//! the wait is about: a lock's `Owner` (`task/owner.rs`), a sleep's
//! deadline, the handle a join waits on, all of which live as long as the
//! wait does: on the waiter's own stack, or kept alive by it). Nothing is
//! formatted, counted or timed on the way to the park; a dump reads the
//! word later, on the coroutine's own worker, while the coroutine is
//! parked (`runtime/inspect.rs` says why those reads are sound), and only
//! then follows the payload.
//!
//! User-space addresses on the supported targets are below 2^56, so an
//! address fits the payload's 56 bits.

use std::time::Instant;

/// A blocking call a coroutine may be in (`runtime/takeover.rs`), named for
/// the dump: `blocking call: futex`.
#[derive(Debug)]
pub(crate) struct Call(pub(crate) &'static str);

/// The kinds of wait; the payload each carries is in its doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// No recorded reason: the word a frame starts with (every park in
    /// weft records one).
    Unknown = 0,
    /// Readiness to read: the fd.
    Read,
    /// Readiness to write: the fd.
    Write,
    /// `poll(2)` or `select(2)` on several fds: how many.
    PollMany,
    /// A sleep: the address of its deadline (`Instant`), 0 for a sleep
    /// without one.
    Sleep,
    /// `weft::sync::Mutex`: the address of its `Owner`.
    Mutex,
    /// `weft::sync::RwLock`, shared: the address of its `Owner`.
    RwRead,
    /// `weft::sync::RwLock`, exclusive: the address of its `Owner`.
    RwWrite,
    /// `weft::sync::Condvar`.
    Condvar,
    /// `weft::sync::WaitGroup`.
    WaitGroup,
    /// `weft::sync::Semaphore`.
    Semaphore,
    /// `weft::sync::Barrier`.
    Barrier,
    /// A channel receive.
    Recv,
    /// A channel send.
    Send,
    /// A `select!` or `Select`: how many operations.
    Select,
    /// `JoinHandle::join`: the address of the joiner's `TaskRef` to the
    /// joined coroutine.
    Join,
    /// In a blocking call: the address of its `Call`.
    Blocking,
    /// `accept` out of fds, waiting for a `close`.
    FreeFd,
    /// `weft::dump`: waiting for the workers' answers.
    Dump,
}

const KINDS: [Kind; 19] = [
    Kind::Unknown,
    Kind::Read,
    Kind::Write,
    Kind::PollMany,
    Kind::Sleep,
    Kind::Mutex,
    Kind::RwRead,
    Kind::RwWrite,
    Kind::Condvar,
    Kind::WaitGroup,
    Kind::Semaphore,
    Kind::Barrier,
    Kind::Recv,
    Kind::Send,
    Kind::Select,
    Kind::Join,
    Kind::Blocking,
    Kind::FreeFd,
    Kind::Dump,
];

/// A kind and its payload, in one word (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitFor(usize);

impl WaitFor {
    /// No recorded reason.
    pub(crate) const UNKNOWN: WaitFor = WaitFor(0);

    #[inline(always)]
    pub(crate) const fn new(kind: Kind, payload: usize) -> WaitFor {
        WaitFor((payload << 8) | kind as usize)
    }

    /// A wait on an object at `addr`.
    #[inline(always)]
    pub(crate) fn at<T>(kind: Kind, addr: *const T) -> WaitFor {
        WaitFor::new(kind, addr as usize)
    }

    /// A sleep until `*deadline`.
    #[inline(always)]
    pub(crate) fn sleep(deadline: &Instant) -> WaitFor {
        WaitFor::at(Kind::Sleep, deadline)
    }

    /// A blocking call.
    #[inline(always)]
    pub(crate) fn blocking(call: &'static Call) -> WaitFor {
        WaitFor::at(Kind::Blocking, call)
    }

    pub(crate) fn kind(self) -> Kind {
        KINDS.get(self.0 & 0xff).copied().unwrap_or(Kind::Unknown)
    }

    pub(crate) fn payload(self) -> usize {
        self.0 >> 8
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_wait_word_keeps_kind_and_payload_apart() {
        for (i, &k) in KINDS.iter().enumerate() {
            assert_eq!(k as usize, i, "KINDS is in declaration order");
            let w = WaitFor::new(k, 0x7fff_ffff_fff8);
            assert_eq!((w.kind(), w.payload()), (k, 0x7fff_ffff_fff8));
        }
        assert_eq!(WaitFor::UNKNOWN.kind(), Kind::Unknown);
    }
}
