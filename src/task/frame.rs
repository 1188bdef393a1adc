//! What a started task owns, kept at the top of its own stack.
//!
//! A task needs its corosensei coroutine, the yielder that suspends it, the
//! stack segment it runs on (for the overflow handler), a pointer to its
//! coroutine-locals (`locals.rs`), what it waits for (`waiting.rs`) and a
//! slot for a dump's backtrace only between its first resume and its end,
//! and together they are about as big as the rest of the task. So they
//! live in a [`Frame`] in the topmost bytes of the coroutine's stack, which
//! corosensei is told not to use ([`CoroStack::base`] stops below the
//! frame), and the task holds a pointer to it. A task that waits to start,
//! or has finished, costs no memory for them, and the record of a spawned
//! coroutine without captures fits a 128-byte block (`record.rs` tests
//! both sizes).
//!
//! The frame owns the coroutine, which owns the stack the frame lies in. So
//! the frame is never dropped in place: [`Frame::take`] moves it out first,
//! and only then may the stack go back to a pool or be unmapped.

use std::cell::Cell;
use std::mem;
use std::num::NonZeroUsize;
use std::ptr::{self, NonNull};

use corosensei::stack::{Stack, StackPointer, STACK_ALIGNMENT};
use std::backtrace::Backtrace;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::locals::Locals;
use super::waiting::WaitFor;
use crate::stack::{GuardedStack, Segment};

/// Why a coroutine handed control back to its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// `yield_now`: run me again after the others.
    Yield,
    /// `park`: run me again once unparked (see `runtime/park.rs`).
    Park,
    /// A cancelled coroutine that ignored its cancellation too often: do
    /// not run me again (`runtime/park.rs`, cancellation step 5).
    Abandon,
    /// Back from a resume only to capture a backtrace, suspended where it
    /// was (`Frame::trace`); only `Frame::trace` sees this.
    Traced,
}

/// The corosensei coroutine a started task runs on.
pub(crate) type Coro = Coroutine<(), Suspend, (), CoroStack>;

/// A guarded stack whose topmost `FRAME_SPACE` bytes hold the task's
/// [`Frame`].
pub(crate) struct CoroStack {
    stack: GuardedStack,
    /// Where corosensei's part ends and the frame starts (corosensei reads
    /// it on every resume, so it is computed once).
    base: StackPointer,
}

/// Bytes at the top of a coroutine stack kept for its frame.
const FRAME_SPACE: usize = mem::size_of::<Frame>().next_multiple_of(STACK_ALIGNMENT);

impl CoroStack {
    fn new(stack: GuardedStack) -> CoroStack {
        let base = NonZeroUsize::new(stack.base().get() - FRAME_SPACE).expect("stack at address 0");
        CoroStack { stack, base }
    }

    /// Where the frame goes.
    fn frame(&self) -> *mut Frame {
        self.base.get() as *mut Frame
    }
}

// SAFETY: the same stack as `GuardedStack` (see there), less its topmost
// `FRAME_SPACE` bytes, a multiple of `STACK_ALIGNMENT`, so `base` stays
// aligned; at most 112 bytes (`record.rs` tests the frame's size) off a
// stack of at least 16 KiB leave corosensei far more than its minimum.
unsafe impl Stack for CoroStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.stack.limit()
    }
}

/// A started task's coroutine and what suspending it needs. "Its worker's
/// thread" below is whichever of the worker's threads holds it
/// (`runtime/takeover.rs`).
pub(crate) struct Frame {
    pub(crate) coro: Coro,
    /// The corosensei yielder, on the coroutine's stack. Written by the
    /// coroutine when it starts, read by it when it suspends.
    yielder: Cell<*const Yielder<(), Suspend>>,
    /// The stack segment the coroutine runs on: its own stack, or a
    /// `weft::grow` segment. Read by the overflow handler.
    segment: Cell<Segment>,
    /// The coroutine's locals (`locals.rs`), allocated on first use. Only
    /// the coroutine itself touches them.
    locals: LocalsBox,
    /// What the coroutine waits for while parked or blocked
    /// (`waiting.rs`), and since when (`runtime/clock.rs`): written by the
    /// coroutine as it parks, read by its worker for a dump
    /// (`runtime/inspect.rs`).
    wait: Cell<(WaitFor, u32)>,
    /// The backtrace the coroutine captured of itself when resumed only
    /// for that, until `Frame::trace` takes it.
    trace: Cell<Option<Box<Backtrace>>>,
}

/// An owning pointer to a coroutine's `Locals`, or null until it has some.
/// A raw pointer rather than a `Box`, so that handing out shared
/// references to the record never reborrows an owning pointer.
struct LocalsBox(Cell<Option<NonNull<Locals>>>);

impl Drop for LocalsBox {
    fn drop(&mut self) {
        if let Some(locals) = self.0.take() {
            // SAFETY: made by `Box::into_raw` in `Frame::locals`, and the
            // frame that owned it is going away, with every borrow of it.
            drop(unsafe { Box::from_raw(locals.as_ptr()) });
        }
    }
}

impl Frame {
    /// Builds the coroutine for `body` on `stack`, with its frame at the
    /// top of the stack.
    pub(crate) fn create(
        stack: GuardedStack,
        body: impl FnOnce(&Yielder<(), Suspend>, ()) + 'static,
    ) -> NonNull<Frame> {
        let segment = Segment::of(&stack);
        let stack = CoroStack::new(stack);
        let at = stack.frame();
        let frame = Frame {
            coro: Coro::with_stack(stack, body),
            yielder: Cell::new(ptr::null()),
            segment: Cell::new(segment),
            locals: LocalsBox(Cell::new(None)),
            wait: Cell::new((WaitFor::UNKNOWN, 0)),
            trace: Cell::new(None),
        };
        // SAFETY: `at` is the top `FRAME_SPACE` bytes of the stack, which
        // the coroutine never uses, aligned and writable; the stack lives
        // as long as the coroutine, which the frame owns.
        unsafe {
            at.write(frame);
            NonNull::new_unchecked(at)
        }
    }

    /// Moves the frame out of its stack, so that the stack can be reused
    /// or unmapped.
    ///
    /// # Safety
    ///
    /// `frame` must come from `create` and not have been taken before;
    /// nothing may use it through that pointer afterwards.
    pub(crate) unsafe fn take(frame: NonNull<Frame>) -> Frame {
        // SAFETY: the caller's promise: a live frame, read once.
        unsafe { frame.as_ptr().read() }
    }

    /// The guarded stack back, once the coroutine has returned.
    pub(crate) fn into_stack(self) -> GuardedStack {
        self.coro.into_stack().stack
    }

    /// Resumes the coroutine.
    ///
    /// # Safety
    ///
    /// `frame` must be live, and the caller its task's worker, which holds
    /// the task.
    #[inline]
    pub(crate) unsafe fn resume(frame: NonNull<Frame>) -> CoroutineResult<Suspend, ()> {
        // SAFETY: the caller's promise. While the coroutine runs it touches
        // only the other fields (`yielder`, `segment`, `locals`, `wait`,
        // `trace`), through the accessors below, never `coro`, which this
        // borrows.
        unsafe { (*ptr::addr_of_mut!((*frame.as_ptr()).coro)).resume(()) }
    }

    /// A backtrace of the suspended coroutine, where it is suspended: it
    /// is resumed with its task's `TRACING` flag set (`Task::trace`),
    /// captures its own backtrace on its own stack, and suspends again at
    /// once with `Suspend::Traced`, changing nothing else
    /// (`Task::suspend_bare`). `None` if it did not come back so.
    ///
    /// # Safety
    ///
    /// As for `resume`; the coroutine must be suspended, not blocked in a
    /// call on another thread, and no coroutine of the worker may be
    /// running (the caller is the worker's loop, between coroutines).
    pub(crate) unsafe fn trace(frame: NonNull<Frame>) -> Option<Backtrace> {
        // SAFETY: the caller's promise, as for `resume`.
        let result = unsafe { (*ptr::addr_of_mut!((*frame.as_ptr()).coro)).resume(()) };
        debug_assert!(matches!(result, CoroutineResult::Yield(Suspend::Traced)));
        // SAFETY: as for the accessors below; the coroutine is suspended.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).trace)).take() }.map(|b| *b)
    }

    // The accessors below reach one field each through the raw pointer,
    // never through a reference to the whole frame: `resume` borrows the
    // coroutine mutably while the coroutine calls them.

    /// # Safety
    ///
    /// `frame` must be live, and the caller on its worker's thread.
    #[inline]
    pub(crate) unsafe fn set_yielder(frame: NonNull<Frame>, y: &Yielder<(), Suspend>) {
        // SAFETY: the caller's promise; one thread touches the cell.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).yielder)).set(y) };
    }

    /// # Safety
    ///
    /// As for `set_yielder`.
    #[inline]
    pub(crate) unsafe fn yielder(frame: NonNull<Frame>) -> *const Yielder<(), Suspend> {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).yielder)).get() }
    }

    /// Keeps the backtrace the running coroutine captured of itself, for
    /// `trace`.
    ///
    /// # Safety
    ///
    /// As for `set_yielder`.
    pub(crate) unsafe fn set_trace(frame: NonNull<Frame>, trace: Backtrace) {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).trace)).set(Some(Box::new(trace))) };
    }

    /// # Safety
    ///
    /// As for `set_yielder`.
    #[inline]
    pub(crate) unsafe fn segment(frame: NonNull<Frame>) -> Segment {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).segment)).get() }
    }

    /// # Safety
    ///
    /// As for `set_yielder`.
    #[inline]
    pub(crate) unsafe fn replace_segment(frame: NonNull<Frame>, segment: Segment) -> Segment {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).segment)).replace(segment) }
    }

    /// # Safety
    ///
    /// As for `set_yielder`.
    #[inline(always)]
    pub(crate) unsafe fn set_wait(frame: NonNull<Frame>, why: WaitFor, since: u32) {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).wait)).set((why, since)) };
    }

    /// # Safety
    ///
    /// As for `set_yielder`, and the coroutine must not be running.
    pub(crate) unsafe fn wait(frame: NonNull<Frame>) -> (WaitFor, u32) {
        // SAFETY: as above.
        unsafe { (*ptr::addr_of!((*frame.as_ptr()).wait)).get() }
    }

    /// The coroutine's locals, allocated on first use.
    ///
    /// # Safety
    ///
    /// As for `set_yielder`; the reference must not outlive the frame.
    #[inline]
    pub(crate) unsafe fn locals<'a>(frame: NonNull<Frame>) -> &'a Locals {
        // SAFETY: the caller's promise; one thread touches the cell.
        let cell = unsafe { &(*ptr::addr_of!((*frame.as_ptr()).locals)).0 };
        let locals = match cell.get() {
            Some(locals) => locals,
            None => {
                let locals = NonNull::from(Box::leak(Box::<Locals>::default()));
                cell.set(Some(locals));
                locals
            }
        };
        // SAFETY: a live allocation owned by the frame, freed only when the
        // frame is dropped.
        unsafe { locals.as_ref() }
    }

    /// The coroutine's locals if it has allocated them.
    ///
    /// # Safety
    ///
    /// As for `locals`.
    #[inline]
    pub(crate) unsafe fn existing_locals<'a>(frame: NonNull<Frame>) -> Option<&'a Locals> {
        // SAFETY: as above.
        let cell = unsafe { &(*ptr::addr_of!((*frame.as_ptr()).locals)).0 };
        // SAFETY: as above.
        cell.get().map(|locals| unsafe { locals.as_ref() })
    }
}
