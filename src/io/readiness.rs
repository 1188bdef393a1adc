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
//! reported hang-up or error is sticky (`*_CLOSED`): from then on that
//! direction always counts as ready, and calls go to the kernel, which
//! answers at once (0, or the error).
//!
//! Owned by one worker's `Driver` and touched only by the thread that holds
//! the worker (`runtime/takeover.rs`): by its coroutines
//! (which clear a flag after seeing the socket empty or full) and by its
//! poller dispatch (which sets flags from events). Indexed by poller key;
//! each entry carries the fd generation it belongs to, and an entry of
//! another generation reads as "unknown", which counts as ready.

use std::cell::RefCell;

use super::Direction;

const READ: u64 = 1;
const WRITE: u64 = 2;
const READ_CLOSED: u64 = 4;
const WRITE_CLOSED: u64 = 8;
const SHIFT: u32 = 4;

/// The bits that make `dir` count as ready.
fn ready_bits(dir: Direction) -> u64 {
    match dir {
        Direction::Read => READ | READ_CLOSED,
        Direction::Write => WRITE | WRITE_CLOSED,
    }
}

/// Per-key readiness: `generation << SHIFT | flags`.
#[derive(Default)]
pub(crate) struct Readiness {
    flags: RefCell<Vec<u64>>,
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
    fn with_entry(&self, key: usize, f: impl FnOnce(&mut u64)) {
        let mut flags = self.flags.borrow_mut();
        if flags.len() <= key {
            flags.resize(key + 1, 0);
        }
        f(&mut flags[key]);
    }

    /// A new registration: nothing known, so both directions count as ready.
    pub(crate) fn reset(&self, key: usize, generation: u32) {
        self.with_entry(key, |e| *e = (generation as u64) << SHIFT | READ | WRITE);
    }

    /// Whether a call in `dir` may succeed (false only when known not to).
    pub(crate) fn is_ready(&self, key: usize, generation: u32, dir: Direction) -> bool {
        match self.flags.borrow().get(key) {
            Some(&e) if (e >> SHIFT) as u32 == generation => e & ready_bits(dir) != 0,
            _ => true,
        }
    }

    /// The socket was seen empty (read) or full (write).
    pub(crate) fn clear(&self, key: usize, generation: u32, dir: Direction) {
        let bit = match dir {
            Direction::Read => READ,
            Direction::Write => WRITE,
        };
        self.with_entry(key, |e| {
            if (*e >> SHIFT) as u32 == generation {
                *e &= !bit;
            }
        });
    }

    /// The poller reported an event for this registration.
    pub(crate) fn mark(&self, key: usize, generation: u32, ev: Event) {
        self.with_entry(key, |e| {
            if (*e >> SHIFT) as u32 != generation {
                *e = (generation as u64) << SHIFT;
            }
            for (on, bit) in [
                (ev.read, READ),
                (ev.write, WRITE),
                (ev.read_closed, READ_CLOSED),
                (ev.write_closed, WRITE_CLOSED),
            ] {
                if on {
                    *e |= bit;
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
