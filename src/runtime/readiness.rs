//! What a worker's poller last said about each of its registrations.
//!
//! With edge-triggered epoll, every arrival of data (or room to write)
//! after a read drained a socket produces a new event. So once a coroutine
//! has seen a socket empty (`EAGAIN`, or a stream read that returned less
//! than asked), the next read on that worker can skip the system call and
//! park at once: the edge that ends the wait is guaranteed to come. This
//! saves the `EAGAIN` read of every request/response exchange.
//!
//! A short read drains data, not state: a peer's FIN or an error that was
//! already reported stays pending, and no new edge will announce it. So a
//! reported hang-up or error is sticky (`Ready::*_CLOSED`): from then on
//! that direction always counts as ready, and calls go to the kernel,
//! which answers at once (0, or the error).
//!
//! Owned by one worker's `Driver` and touched only by the thread that holds
//! the worker (`runtime/takeover.rs`): by its coroutines (which clear a
//! flag after seeing the socket empty or full) and by its poller dispatch
//! (which sets flags from events). Indexed by poller key; each entry
//! carries the fd generation it belongs to, and an entry of another
//! generation reads as "unknown", which counts as ready.

use std::cell::RefCell;
use std::ops::{BitOr, BitOrAssign};

/// The direction a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// What is known of a registration's readiness: a set of the flags below.
/// (As wide as the generation beside it: an [`Entry`] then has no padding,
/// and a vector of fresh ones is a zeroed block.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ready(u32);

impl Ready {
    /// Readable: data may be there.
    const READ: Ready = Ready(1);
    /// Writable: room may be there.
    const WRITE: Ready = Ready(2);
    /// The read side hung up or failed (sticky).
    const READ_CLOSED: Ready = Ready(4);
    /// The write side hung up or failed (sticky).
    const WRITE_CLOSED: Ready = Ready(8);

    /// The flags that make `dir` count as ready.
    #[inline]
    fn of(dir: Direction) -> Ready {
        match dir {
            Direction::Read => Ready::READ | Ready::READ_CLOSED,
            Direction::Write => Ready::WRITE | Ready::WRITE_CLOSED,
        }
    }

    /// Whether any flag of `other` is set.
    #[inline]
    fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// Clears the flags of `other`.
    #[inline]
    fn remove(&mut self, other: Ready) {
        self.0 &= !other.0;
    }
}

impl BitOr for Ready {
    type Output = Ready;
    #[inline]
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl BitOrAssign for Ready {
    #[inline]
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

/// One registration's entry: its readiness, for one fd generation.
#[derive(Clone, Copy, Default)]
struct Entry {
    generation: u32,
    ready: Ready,
}

/// Per-key readiness.
#[derive(Default)]
pub(crate) struct Readiness {
    entries: RefCell<Vec<Entry>>,
}

/// What one event said.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Event {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) read_closed: bool,
    pub(crate) write_closed: bool,
}

impl Readiness {
    fn with_entry(&self, key: usize, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() <= key {
            entries.resize(key + 1, Entry::default());
        }
        f(&mut entries[key]);
    }

    /// A new registration: nothing known, so both directions count as ready.
    pub(crate) fn reset(&self, key: usize, generation: u32) {
        self.with_entry(key, |e| {
            *e = Entry {
                generation,
                ready: Ready::READ | Ready::WRITE,
            }
        });
    }

    /// Whether a call in `dir` may succeed (false only when known not to).
    pub(crate) fn is_ready(&self, key: usize, generation: u32, dir: Direction) -> bool {
        match self.entries.borrow().get(key) {
            Some(e) if e.generation == generation => e.ready.intersects(Ready::of(dir)),
            _ => true,
        }
    }

    /// The socket was seen empty (read) or full (write).
    pub(crate) fn clear(&self, key: usize, generation: u32, dir: Direction) {
        let flag = match dir {
            Direction::Read => Ready::READ,
            Direction::Write => Ready::WRITE,
        };
        self.with_entry(key, |e| {
            if e.generation == generation {
                e.ready.remove(flag);
            }
        });
    }

    /// The poller reported an event for this registration.
    pub(crate) fn mark(&self, key: usize, generation: u32, ev: Event) {
        self.with_entry(key, |e| {
            if e.generation != generation {
                *e = Entry {
                    generation,
                    ready: Ready::default(),
                };
            }
            for (on, flag) in [
                (ev.read, Ready::READ),
                (ev.write, Ready::WRITE),
                (ev.read_closed, Ready::READ_CLOSED),
                (ev.write_closed, Ready::WRITE_CLOSED),
            ] {
                if on {
                    e.ready |= flag;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_hang_up_stays_ready_after_a_short_read() {
        let r = Readiness::default();
        r.reset(3, 7);
        r.clear(3, 7, Direction::Read);
        assert!(!r.is_ready(3, 7, Direction::Read));
        assert!(r.is_ready(3, 7, Direction::Write));
        let fin = Event {
            read: true,
            read_closed: true,
            ..Event::default()
        };
        r.mark(3, 7, fin);
        r.clear(3, 7, Direction::Read);
        assert!(
            r.is_ready(3, 7, Direction::Read),
            "EOF is pending: the read must go to the kernel"
        );
        assert!(
            r.is_ready(3, 8, Direction::Read),
            "another generation is unknown, so ready"
        );
    }
}
