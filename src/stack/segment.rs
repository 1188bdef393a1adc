//! A guarded stack as the overflow handler sees it (`runtime/overflow.rs`):
//! where its guard page starts and how big it is; and, on a plain thread,
//! the `weft::grow` segment in use.

use std::cell::Cell;

use crate::sys;

/// A guarded stack as the handler sees it: where its guard page starts and
/// how big it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    /// Start of the guard page (one page long); 0 for no weft stack.
    pub(crate) guard: usize,
    /// Usable size of the stack, for the message.
    pub(crate) size: usize,
}

impl Segment {
    /// No weft stack.
    pub(crate) const NONE: Segment = Segment { guard: 0, size: 0 };

    /// The segment of `stack`.
    pub(crate) fn of(stack: &super::GuardedStack) -> Segment {
        Segment {
            guard: stack.guard().0,
            size: stack.size(),
        }
    }

    /// Lowest usable address (just above the guard page); 0 for none.
    pub(crate) fn low(&self) -> usize {
        if self.guard == 0 {
            0
        } else {
            self.guard + sys::page_size()
        }
    }

    /// Whether `addr` lies in this segment's guard page.
    pub(crate) fn guards(&self, addr: usize) -> bool {
        self.guard != 0 && addr >= self.guard && addr < self.guard + sys::page_size()
    }

    /// This plain thread's active `grow` segment (`NONE` if none).
    pub(crate) fn active() -> Segment {
        ACTIVE.with(Cell::get)
    }

    /// Makes `self` the active `grow` segment of this plain thread and
    /// returns the previous one.
    pub(crate) fn activate(self) -> Segment {
        ACTIVE.with(|a| a.replace(self))
    }
}

thread_local! {
    /// A plain thread's `weft::grow` segment. Written by `grow` on the owning
    /// thread; read by the signal handler on the same thread.
    static ACTIVE: Cell<Segment> = const { Cell::new(Segment::NONE) };
}
