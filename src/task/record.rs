//! The task record: one per coroutine, shared (through `TaskRef`, a counted
//! pointer like `Arc<Task>`) between the run queues, the worker it is bound
//! to, its `Coroutine` handles and whoever holds a wake-up for it.
//!
//! # Life of a task
//!
//! ```text
//!   spawn ──► Fresh(closure) ──first resume──► Running(coroutine) ──return──► Done
//!             stealable by any worker          bound to that worker
//! ```
//!
//! A fresh task is only its `Send` closure (in `job`); it has no stack yet, so
//! queues of fresh tasks cost no mappings and a thief may run it anywhere. The
//! worker that first resumes it takes a stack from its pool, builds the
//! corosensei coroutine there, and from then on only that worker touches the
//! stage (ARCHITECTURE.md, The soundness rule, step 2).

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use corosensei::Yielder;

use super::frame::{Frame, Suspend};
use super::home::HomeRef;
use super::job::Job;
use super::locals::Locals;
use super::waiting::WaitFor;
use super::CoroutineId;
use crate::stack::Segment;

/// `Task::attention`: cancelled by its runtime's shutdown.
const CANCELLED: u8 = 1;
/// `Task::attention`: resumed only to capture its backtrace.
const TRACING: u8 = 2;

/// What a task owns, by stage.
#[derive(Clone, Copy)]
pub(crate) enum Stage {
    /// Spawned, never run: the closure waits in `Task::job`.
    Fresh,
    /// Started on its bound worker (which holds a stack-budget slot for it):
    /// its coroutine, in a frame at the top of its stack (`frame.rs`),
    /// which the task owns.
    Running(NonNull<Frame>),
    /// Finished, unwound at shutdown, or dropped unrun: it holds no stack
    /// (a started one went back to its worker's pool, or was leaked with a
    /// coroutine abandoned at shutdown).
    Done,
}

/// One coroutine: the header the scheduler uses, then its typed job, in
/// one allocation (`alloc.rs`).
///
/// `Task` alone means `Task<dyn Job>`: the job seen through one trait
/// (`job.rs`). "The bound worker's thread" below is whichever of that
/// worker's threads holds it (`runtime/takeover.rs`).
pub(crate) struct Task<J: ?Sized = dyn Job> {
    /// Strong count of the `TaskRef`s (`alloc.rs`).
    refs: AtomicUsize,
    id: CoroutineId,
    /// Name and stack size from a `Builder`, and where the task was
    /// spawned; for a plain `go`, only the latter, in the same word
    /// (`Extra`), which keeps the task small.
    options: Extra,
    /// The runtime this task belongs to (`home.rs`). Dropped after the
    /// task's memory is freed, by its last `TaskRef`.
    pub(crate) home: ManuallyDrop<HomeRef>,
    /// Suspended in park and queued nowhere: whoever wakes it on its worker
    /// clears this and queues it (`runtime/park.rs` has the protocol). While
    /// set, it owns the strong count the task's run-queue entry had, which
    /// the waker takes over for the new entry. Touched only on the bound
    /// worker's thread.
    parked: Cell<bool>,
    /// A wake-up arrived while the task was not parked: its next park
    /// returns at once. Touched only on the bound worker's thread.
    token: Cell<bool>,
    /// Why the coroutine, back from a suspension, must do more than go on:
    /// `CANCELLED`, set by its worker when it cancels the task at shutdown,
    /// and `TRACING`, set by its worker while it resumes the suspended
    /// coroutine only to capture its backtrace (`trace`). One byte, so
    /// that `yield_now` looks once for both.
    attention: Cell<u8>,
    /// In a blocking call its worker may be taken over during
    /// (`runtime/takeover.rs`): its thread still runs it, so no other
    /// thread of the worker may resume or unwind it. Written by the task
    /// itself while its thread holds the worker.
    blocked: Cell<bool>,
    /// Calls into weft since the task was cancelled (`runtime/park.rs`,
    /// "Cancellation", step 5). (16 bits, saturating, are plenty for the
    /// 10,000 it counts to, and keep the record in its 128-byte class.)
    cancelled_calls: Cell<u16>,
    /// Handed on once by an overloaded worker (`runtime/worker.rs`,
    /// "Placement"); the next worker starts it whatever its load. Written
    /// by its holder.
    offloaded: Cell<bool>,
    /// Index of the worker this task is bound to, or `UNBOUND`. Written once,
    /// by the worker that first resumes the task; read by remote unparkers.
    worker: AtomicU32,
    /// The task's key in its worker's table of suspended tasks, or
    /// `NO_KEY` while it is not there (before its first suspension or
    /// blocking call). Written by its worker.
    key: Cell<u32>,
    /// Fresh closure or running coroutine. Changed only by the worker that
    /// holds the task (a fresh task popped from a queue, or a bound task on
    /// its own worker while it is not running); read by the running
    /// coroutine itself (its frame).
    stage: UnsafeCell<Stage>,
    /// The closure and result slot; last, because it is unsized in `Task`.
    pub(crate) job: J,
}

/// `Task::worker` before the first resume.
pub(crate) const UNBOUND: usize = u32::MAX as usize;
/// `Task::key` of a task that is in no worker's table.
const NO_KEY: u32 = u32::MAX;

/// What a `Builder` may set on a coroutine.
#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    /// Requested usable stack size in bytes.
    pub(crate) stack_size: Option<usize>,
    /// Where the coroutine was spawned (set by `Task::new`).
    spawned_at: Option<&'static Location<'static>>,
    /// The id under which its name is registered (`names.rs`), if named.
    named: Option<u64>,
}

/// A task's `Options` box if it has one, else where it was spawned: one
/// word, the low bit telling which (both are at least 8-byte aligned). A
/// plain `go` then stores its `#[track_caller]` location with no
/// allocation and no growth of the record.
struct Extra(NonNull<()>);

/// The low bit of an `Extra` that holds a `Location`.
const LOCATION_TAG: usize = 1;

// SAFETY: an `Extra` owns a `Box<Options>` (`Send + Sync`) or points to a
// `'static` `Location` (`Sync`), and never changes.
unsafe impl Send for Extra {}
// SAFETY: as above.
unsafe impl Sync for Extra {}

impl Extra {
    /// The extra word of task `id`; a named task's name is registered.
    fn new(
        id: CoroutineId,
        options: Option<Box<Options>>,
        at: &'static Location<'static>,
    ) -> Extra {
        match options {
            Some(mut options) => {
                options.spawned_at = Some(at);
                if let Some(name) = &options.name {
                    super::names::insert(id.as_u64(), name);
                    options.named = Some(id.as_u64());
                }
                Extra(NonNull::from(Box::leak(options)).cast())
            }
            None => {
                let tagged = (at as *const Location<'static> as usize) | LOCATION_TAG;
                // SAFETY: a reference's address with a bit set is not null.
                Extra(unsafe { NonNull::new_unchecked(tagged as *mut ()) })
            }
        }
    }

    fn options(&self) -> Option<&Options> {
        if self.0.as_ptr() as usize & LOCATION_TAG != 0 {
            return None;
        }
        // SAFETY: untagged, it is the box `new` leaked, which we own.
        Some(unsafe { self.0.cast::<Options>().as_ref() })
    }

    fn spawned_at(&self) -> &'static Location<'static> {
        match self.options() {
            Some(o) => o.spawned_at.unwrap_or_else(Location::caller),
            None => {
                let p = (self.0.as_ptr() as usize & !LOCATION_TAG) as *const Location<'static>;
                // SAFETY: tagged, it is a `&'static Location`'s address.
                unsafe { &*p }
            }
        }
    }
}

impl Drop for Extra {
    fn drop(&mut self) {
        if let Some(options) = self.options() {
            if let Some(id) = options.named {
                super::names::remove(id);
            }
            // SAFETY: the box `new` leaked, dropped once, here.
            drop(unsafe { Box::from_raw(self.0.cast::<Options>().as_ptr()) });
        }
    }
}

// SAFETY: the non-thread-safe parts (`stage` and the frame it points to,
// `key`, `attention`, `blocked`, `cancelled_calls`, `offloaded`, `parked`,
// `token`) follow the ownership rule above: one thread at a time touches
// them, and the hand-over between threads (a fresh task moving through a
// queue, a bound task woken through its worker's inbox, a worker changing
// hands) goes through release/acquire edges. A started coroutine's stack,
// which may hold `!Send` values, never leaves its worker. The job is
// `Send + Sync` itself.
unsafe impl<J: ?Sized + Send + Sync> Send for Task<J> {}
// SAFETY: see above; the fields other threads may write (`refs`, `worker`)
// are atomics, and `id`, `options`, `home` are read-only.
unsafe impl<J: ?Sized + Send + Sync> Sync for Task<J> {}

impl<J: ?Sized> Drop for Task<J> {
    fn drop(&mut self) {
        // A started task dropped before it finished (not expected: a worker
        // ends every coroutine it started). Dropping the coroutine unwinds
        // it, as corosensei does, then unmaps its stack.
        if let Stage::Running(frame) = *self.stage.get_mut() {
            // SAFETY: the task owns its frame, and is going away.
            drop(unsafe { Frame::take(frame) });
        }
    }
}

impl<J> Task<J> {
    pub(crate) fn new(
        home: HomeRef,
        options: Option<Box<Options>>,
        spawned_at: &'static Location<'static>,
        job: J,
    ) -> Task<J> {
        let id = CoroutineId::next();
        Task {
            refs: AtomicUsize::new(1),
            id,
            options: Extra::new(id, options, spawned_at),
            home: ManuallyDrop::new(home),
            parked: Cell::new(false),
            token: Cell::new(false),
            attention: Cell::new(0),
            blocked: Cell::new(false),
            cancelled_calls: Cell::new(0),
            offloaded: Cell::new(false),
            worker: AtomicU32::new(UNBOUND as u32),
            key: Cell::new(NO_KEY),
            stage: UnsafeCell::new(Stage::Fresh),
            job,
        }
    }
}

impl<J: ?Sized> Task<J> {
    /// The strong count, for `TaskRef`.
    pub(crate) fn refs(&self) -> &AtomicUsize {
        &self.refs
    }

    pub(crate) fn id(&self) -> CoroutineId {
        self.id
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.options.options()?.name.as_deref()
    }

    /// Where the task was spawned.
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        self.options.spawned_at()
    }

    /// Records what the task waits for and since when (`now`, on the
    /// runtime's coarse clock), in its frame, as it parks or blocks. Only
    /// the running task itself.
    #[inline(always)]
    pub(crate) fn set_wait(&self, why: WaitFor, now: u32) {
        if let Some(frame) = self.frame() {
            // SAFETY: the running coroutine's frame, on its thread.
            unsafe { Frame::set_wait(frame, why, now) };
        }
    }

    /// What the task waits for, and since when (see `set_wait`). Only on
    /// its worker's thread, while the task is not running.
    pub(crate) fn wait(&self) -> (WaitFor, u32) {
        match self.frame() {
            // SAFETY: a started task's frame, on its worker's thread, while
            // the coroutine is not running (the caller's promise).
            Some(frame) => unsafe { Frame::wait(frame) },
            None => (WaitFor::UNKNOWN, 0),
        }
    }

    /// Usable stack size in bytes, if the task asked for one (else its
    /// runtime's default).
    pub(crate) fn stack_size(&self) -> Option<usize> {
        self.options.options().and_then(|o| o.stack_size)
    }

    /// The worker this task is bound to, or `UNBOUND`.
    pub(crate) fn worker(&self) -> usize {
        self.worker.load(Ordering::Acquire) as usize
    }

    /// Binds the task to `worker`, on its first resume.
    pub(crate) fn bind(&self, worker: usize) {
        self.worker.store(worker as u32, Ordering::Release);
    }

    /// The started task's frame. Only on its worker's thread.
    #[inline]
    fn frame(&self) -> Option<NonNull<Frame>> {
        // SAFETY: a plain read of the stage, which only the bound worker
        // changes, between resumes (never while the coroutine runs or the
        // worker holds `stage()`'s reference).
        match unsafe { *self.stage.get() } {
            Stage::Running(frame) => Some(frame),
            _ => None,
        }
    }

    /// The stack segment the task runs on (`Segment::NONE` unless started).
    /// Only on its worker's thread.
    pub(crate) fn segment(&self) -> Segment {
        // SAFETY: a running stage's frame is alive until the worker takes it
        // out at the end; we are on its thread.
        self.frame()
            .map_or(Segment::NONE, |f| unsafe { Frame::segment(f) })
    }

    /// Marks the task as cancelled by its runtime's shutdown.
    pub(crate) fn cancel(&self) {
        self.attention.set(self.attention.get() | CANCELLED);
    }

    /// Marks the task as in (or out of) a blocking call its worker may be
    /// taken over during.
    #[inline]
    pub(crate) fn set_blocked(&self, blocked: bool) {
        self.blocked.set(blocked);
    }

    /// Whether the task is in such a call: running on a thread that may
    /// not hold its worker.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.get()
    }

    /// Whether the task is being cancelled by its runtime's shutdown.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.attention.get() & CANCELLED != 0
    }

    /// Whether the coroutine, back from a suspension, was cancelled or is
    /// resumed only to capture its backtrace (`runtime/park.rs`,
    /// `yield_attention`).
    #[inline(always)]
    pub(crate) fn needs_attention(&self) -> bool {
        self.attention.get() != 0
    }

    /// Whether the coroutine is resumed only to capture its backtrace.
    #[inline(always)]
    pub(crate) fn is_tracing(&self) -> bool {
        self.attention.get() & TRACING != 0
    }

    /// Marks a fresh task as handed on; returns whether it already was.
    pub(crate) fn offload(&self) -> bool {
        self.offloaded.replace(true)
    }

    /// Counts a call into weft after cancellation; returns the count.
    pub(crate) fn note_cancelled_call(&self) -> u32 {
        let n = self.cancelled_calls.get().saturating_add(1);
        self.cancelled_calls.set(n);
        n.into()
    }

    /// Records a `weft::grow` segment (or the original stack again). Only
    /// from the running coroutine.
    pub(crate) fn replace_segment(&self, segment: Segment) -> Segment {
        let frame = self.frame().expect("a running coroutine has a frame");
        // SAFETY: the running coroutine's frame, on its thread.
        unsafe { Frame::replace_segment(frame, segment) }
    }

    /// The task's key in its worker's table, if it is there.
    pub(crate) fn key(&self) -> Option<usize> {
        let key = self.key.get();
        (key != NO_KEY).then_some(key as usize)
    }

    pub(crate) fn set_key(&self, key: usize) {
        let key = u32::try_from(key).ok().filter(|&k| k != NO_KEY);
        self.key
            .set(key.expect("fewer than 2^32 - 1 suspended tasks per worker"));
    }

    /// The stage, for the worker that holds this task.
    ///
    /// # Safety
    ///
    /// The caller must hold the task as described on `Task::stage`, and must
    /// not keep the reference across a point where another holder could use it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn stage(&self) -> &mut Stage {
        // SAFETY: exclusive access is the caller's promise.
        unsafe { &mut *self.stage.get() }
    }

    /// Records the yielder when the coroutine starts, on its own stack.
    pub(crate) fn set_yielder(&self, y: &Yielder<(), Suspend>) {
        let frame = self.frame().expect("a running coroutine has a frame");
        // SAFETY: the running coroutine's frame, on its thread.
        unsafe { Frame::set_yielder(frame, y) };
    }

    /// Suspends the running coroutine, which must be `self`, back to its
    /// worker. Its spans leave the thread with it (`spans.rs`).
    #[inline]
    pub(crate) fn suspend(&self, why: Suspend) {
        #[cfg(feature = "tracing")]
        let away = self.spans_leave();
        self.suspend_bare(why);
        #[cfg(feature = "tracing")]
        if away {
            self.spans_come_back();
        }
    }

    /// `spans.rs`, step 1, for the running coroutine `self`: true if it
    /// took spans off the thread.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn spans_leave(&self) -> bool {
        super::spans::leave(|| &self.locals().spans)
    }

    /// `spans.rs`, step 2, after a `spans_leave` that took spans.
    #[cfg(feature = "tracing")]
    pub(crate) fn spans_come_back(&self) {
        super::spans::come_back(self.existing_locals().map(|l| &l.spans));
    }

    /// `suspend`, leaving the coroutine's spans to the caller, which has
    /// taken them off the thread already (`spans.rs`). A caller that goes
    /// on running the coroutine after it comes back must first look at
    /// `is_tracing` (or `needs_attention`) and call `trace_and_suspend`: the
    /// worker may resume it only to capture its backtrace (`trace`).
    #[inline]
    pub(crate) fn suspend_bare(&self, why: Suspend) {
        // SAFETY: the running coroutine's frame, on its thread.
        let y = self
            .frame()
            .map_or(std::ptr::null(), |f| unsafe { Frame::yielder(f) });
        assert!(!y.is_null(), "suspend outside the coroutine");
        // SAFETY: `yielder` was set when this coroutine started and lives on
        // its stack, which is the stack we are running on now.
        unsafe { (*y).suspend(why) };
    }

    /// Resumes this suspended coroutine only to capture its backtrace,
    /// where it is suspended (the caller is its worker's loop, between
    /// coroutines: `runtime/inspect.rs`, point 4).
    ///
    /// # Safety
    ///
    /// As for `Frame::trace`: `frame` is this task's live frame, the task is
    /// suspended (not in a blocking call), and the caller holds its worker.
    pub(crate) unsafe fn trace(&self, frame: NonNull<Frame>) -> Option<std::backtrace::Backtrace> {
        self.attention.set(self.attention.get() | TRACING);
        // SAFETY: the caller's promise.
        let trace = unsafe { Frame::trace(frame) };
        self.attention.set(self.attention.get() & !TRACING);
        trace
    }

    /// Resumed only to capture a backtrace (`trace`): captures it here, on
    /// this coroutine's stack, and suspends again as often as it is asked
    /// to, until it is resumed to run on. Called where a suspension comes
    /// back, if `is_tracing` (`yield_now` and `runtime/park.rs`, which look
    /// at `needs_attention` and `is_tracing` there).
    #[cold]
    #[inline(never)]
    pub(crate) fn trace_and_suspend(&self) {
        let frame = self.frame().expect("a suspended coroutine has a frame");
        // SAFETY: the running coroutine's frame, on its thread.
        let y = unsafe { Frame::yielder(frame) };
        while self.is_tracing() {
            let trace = std::backtrace::Backtrace::force_capture();
            // SAFETY: as above.
            unsafe { Frame::set_trace(frame, trace) };
            // SAFETY: as in `suspend_bare`.
            unsafe { (*y).suspend(Suspend::Traced) };
        }
    }

    /// The running coroutine's locals (`locals.rs`), allocated on first
    /// use. Only from the coroutine itself.
    pub(crate) fn locals(&self) -> &Locals {
        let frame = self.frame().expect("a running coroutine has a frame");
        // SAFETY: the running coroutine's frame, on its thread; the frame
        // outlives the task's borrow while the coroutine runs.
        unsafe { Frame::locals(frame) }
    }

    /// The running coroutine's locals, if it has any. Only from the
    /// coroutine itself.
    pub(crate) fn existing_locals(&self) -> Option<&Locals> {
        // SAFETY: as for `locals`.
        self.frame()
            .and_then(|f| unsafe { Frame::existing_locals(f) })
    }

    /// Park step 1: consumes a pending wake-up, or marks the task parked
    /// (it suspends next). True if it must suspend. Bound worker only.
    #[inline]
    pub(crate) fn prepare_park(&self) -> bool {
        if self.token.replace(false) {
            return false;
        }
        self.parked.set(true);
        true
    }

    /// Park step 2: a wake-up on the bound worker's thread. True if the
    /// task was parked: the caller now owns the strong count `parked` held
    /// and must queue the task with it. Otherwise it leaves a token for the
    /// next park.
    #[inline]
    pub(crate) fn wake_here(&self) -> bool {
        if self.parked.replace(false) {
            return true;
        }
        self.token.set(true);
        false
    }

    /// Whether the task is parked (not woken since). Bound worker only.
    #[inline]
    pub(crate) fn is_parked(&self) -> bool {
        self.parked.get()
    }

    /// Clears `parked` for a task the worker resumes without a wake-up
    /// (cancellation at shutdown). True if it was set: the caller now owns
    /// the strong count it held.
    pub(crate) fn unmark_parked(&self) -> bool {
        self.parked.replace(false)
    }
}

impl Task {
    /// Drops a fresh task's closure unrun (runtime shutdown); its joiner gets
    /// a cancellation error. A no-op for a task that has started. True if
    /// it was fresh (it has finished now).
    ///
    /// # Safety
    ///
    /// As for [`Task::stage`]: the caller holds the task, popped from a queue.
    pub(crate) unsafe fn discard(&self) -> bool {
        // SAFETY: the caller holds the task.
        let stage = unsafe { self.stage() };
        if let Stage::Fresh = stage {
            *stage = Stage::Done;
            self.job.discard();
            return true;
        }
        false
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;
    use crate::coroutine::JobCell;

    fn task_size<F>(_: &F) -> usize {
        std::mem::size_of::<Task<JobCell<F, ()>>>()
    }

    /// A coroutine without captures fits the 128-byte block class: what a
    /// started task needs beyond that lives in its frame (`frame.rs`).
    #[test]
    fn an_empty_coroutine_takes_128_bytes() {
        assert!(task_size(&|| ()) <= 128, "{} bytes", task_size(&|| ()));
        // The frame takes that much of the top of each coroutine stack
        // (a page that is touched anyway).
        assert!(
            std::mem::size_of::<Frame>() <= 112,
            "{}",
            std::mem::size_of::<Frame>()
        );
    }
}
