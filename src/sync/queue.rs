//! The wait queue: how a coroutine or thread waits for a channel or lock,
//! and how whoever changes that channel or lock hands it the result.
//!
//! Every blocking operation in `channel` and `sync` uses this one mechanism.
//! A waiter owns a [`Context`] (on its own stack) and puts an [`Entry`] for
//! each operation it waits on into the [`WaitList`] of that channel or lock,
//! under that object's [`Lock`]. An entry names the context, the operation's
//! index (its arm in a `select!`) and a *packet*: a pointer to the waiter's
//! slot for the value (the message to send, the place to receive into).
//!
//! # Protocol (`Context::state`: WAITING, CLAIMED, ABORTED, SELECTED)
//!
//! 1. The waiter tries its operation and, if it cannot complete, registers
//!    an entry while it still holds the object's lock, so no change of the
//!    object can slip between the try and the registration. (`select!` tries
//!    and registers one arm at a time, then looks at every arm once more and
//!    starts over if one became ready: see `channel/select.rs`.)
//! 2. A *waker* (a sender, an unlocker, a disconnect), holding the object's
//!    lock, takes the first entry off the list and claims its context with a
//!    CAS `WAITING -> CLAIMED`. Only one CAS can win, so one operation of one
//!    waiter is completed once, even when the waiter waits on many objects.
//!    An entry whose CAS fails is stale (its context was claimed through
//!    another entry, or gave up) and is simply dropped.
//! 3. The claimant completes the operation through the packet (moves the
//!    message in or out, hands over the lock), then
//! 4. prepares the waiter's wake-up (a waiter on the claimant's own worker
//!    is queued at once; for any other, what the wake-up needs is taken:
//!    a reference to the task or thread), then stores `SELECTED + op` with
//!    Release, and only then finishes the wake-up (an inbox push, a thread
//!    unpark). A waiter that wakes early and sees `CLAIMED` spins until
//!    `SELECTED`, so its context, packet and parker stay valid for as long
//!    as the claimant uses them; and a waiter woken by this claim finds
//!    `SELECTED` already there instead of spinning while the claimant is
//!    still on its way to that store.
//! 5. The waiter parks until its state is `SELECTED` (park may return
//!    spuriously; it loops). Its operation is done: the result is in its
//!    packet.
//! 6. A waiter that stops waiting (deadline, runtime shutdown, or a
//!    `select!` arm that became ready) CASes `WAITING -> ABORTED`. If that
//!    fails, a claimant won in step 2 and the operation completes after all
//!    (the waiter takes its result). Either way it then removes its
//!    remaining entries under each object's lock, so no entry outlives the
//!    context it points to.
//!
//! No wake-up is lost: a waker that finds no claimable entry leaves its
//! change in the object (a buffered message, a free permit) for the next
//! try, and steps 1 and 2 are ordered by the object's lock. An unpark that
//! arrives before the waiter parks leaves a token, so the park returns.

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::time::Instant;

use crossbeam_utils::Backoff;

use crate::loom::{park, park_deadline, spin_wait, AtomicUsize, Ordering, Parker};

const WAITING: usize = 0;
const CLAIMED: usize = 1;
const ABORTED: usize = 2;
/// `SELECTED + 2 * op + disconnected`.
const SELECTED: usize = 4;

/// Which operation of a waiter completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Selected {
    /// The operation's index (its `select!` arm; 0 for a single operation).
    pub(crate) op: usize,
    /// Completed by a disconnect rather than by a partner: nothing was
    /// moved through the packet.
    pub(crate) disconnected: bool,
}

impl Selected {
    fn decode(state: usize) -> Selected {
        debug_assert!(state >= SELECTED);
        Selected {
            op: (state - SELECTED) / 2,
            disconnected: (state - SELECTED) % 2 == 1,
        }
    }
}

/// How a wait ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// An operation completed (step 5, or a failed abort in step 6).
    Selected(Selected),
    /// The deadline passed first; the waiter aborted.
    TimedOut,
    /// The coroutine's runtime is shutting down; the waiter aborted.
    Cancelled,
}

/// One waiter's state, shared by all its entries.
#[doc(hidden)]
pub struct Context {
    state: AtomicUsize,
    parker: Parker,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context for the calling coroutine or thread.
    #[inline]
    pub(crate) fn new() -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            parker: Parker::current(),
        }
    }

    /// Makes the context wait again. Only with no entry registered.
    pub(crate) fn reset(&self) {
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Step 2 for a waker.
    #[inline]
    fn try_claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether the context still waits (for `select!`'s readiness checks).
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Relaxed) == WAITING
    }

    /// Step 6: stops waiting. `None` if the waiter aborted; the operation
    /// that a claimant completed first otherwise.
    pub(crate) fn try_abort(&self) -> Option<Selected> {
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(_) => Some(self.wait_selected()),
        }
    }

    /// Waits out step 4 of a claimant.
    fn wait_selected(&self) -> Selected {
        let backoff = Backoff::new();
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state >= SELECTED {
                return Selected::decode(state);
            }
            debug_assert_eq!(state, CLAIMED);
            spin_wait(&backoff);
        }
    }

    /// Step 5: parks until an operation completes, `deadline` passes, or
    /// the coroutine's runtime cancels it.
    #[inline(always)]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Outcome {
        loop {
            match self.state.load(Ordering::Acquire) {
                WAITING => {}
                CLAIMED => return Outcome::Selected(self.wait_selected()),
                state => return Outcome::Selected(Selected::decode(state)),
            }
            if crate::loom::cancelled() {
                return match self.try_abort() {
                    None => Outcome::Cancelled,
                    Some(sel) => Outcome::Selected(sel),
                };
            }
            match deadline {
                Some(d) if Instant::now() >= d => {
                    return match self.try_abort() {
                        None => Outcome::TimedOut,
                        Some(sel) => Outcome::Selected(sel),
                    };
                }
                Some(d) => park_deadline(d),
                None => park(),
            }
        }
    }
}

/// A claimed waiter (steps 3 and 4): complete its operation through
/// [`Claim::packet`], then drop the claim (or call [`Claim::complete`]) to
/// wake it. Dropping the claim is what releases the waiter, so it happens
/// even if the completion code unwinds.
pub(crate) struct Claim {
    entry: Entry,
    disconnected: bool,
}

impl Claim {
    /// The waiter's packet, as it registered it.
    pub(crate) fn packet(&self) -> *mut () {
        self.entry.packet
    }

    /// The claimed operation's index.
    pub(crate) fn op(&self) -> usize {
        self.entry.op
    }

    /// Completes it as disconnected: nothing moved through the packet.
    pub(crate) fn disconnect(mut self) {
        self.disconnected = true;
    }

    /// Completes it normally.
    #[inline]
    pub(crate) fn complete(self) {}
}

impl Drop for Claim {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a claimed context stays alive until the store below: its
        // owner spins in `wait_selected` while the state is CLAIMED.
        let cx = unsafe { self.entry.cx.as_ref() };
        let wake = cx.parker.prepare_unpark();
        let state = SELECTED + 2 * self.entry.op + usize::from(self.disconnected);
        cx.state.store(state, Ordering::Release);
        // The context may be gone now; `wake` owns what it needs.
        wake.finish();
    }
}

/// One registered operation.
struct Entry {
    cx: NonNull<Context>,
    op: usize,
    packet: *mut (),
}

/// The waiters of one channel direction or lock, oldest first.
pub(crate) struct WaitList {
    entries: VecDeque<Entry>,
}

// SAFETY: a wait list lives inside the lock of its object and is touched
// only under it. The contexts and packets its entries point to are owned by
// waiters that keep them alive while registered (step 6) and are only
// accessed by a claimant (steps 2-4), which synchronises through the
// context's state.
unsafe impl Send for WaitList {}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            entries: VecDeque::new(),
        }
    }

    /// Step 1: registers operation `op` of `cx`. `cx` and `packet` must
    /// stay valid until the entry is unregistered or claimed.
    #[inline]
    pub(crate) fn register(&mut self, cx: &Context, op: usize, packet: *mut ()) {
        self.entries.push_back(Entry {
            cx: NonNull::from(cx),
            op,
            packet,
        });
    }

    /// Step 6: removes every entry of `cx`.
    pub(crate) fn unregister(&mut self, cx: &Context) {
        let cx = NonNull::from(cx);
        self.entries.retain(|e| e.cx != cx);
    }

    /// Step 2: claims the oldest waiter that still waits, dropping stale
    /// entries on the way.
    #[inline]
    pub(crate) fn claim(&mut self) -> Option<Claim> {
        while let Some(entry) = self.entries.pop_front() {
            // SAFETY: a registered entry's context is alive (step 6).
            if unsafe { entry.cx.as_ref() }.try_claim() {
                return Some(Claim {
                    entry,
                    disconnected: false,
                });
            }
        }
        None
    }

    /// Step 2, for the oldest entry only, and only if `wanted(op)` holds
    /// for it (stale entries at the front are dropped first).
    pub(crate) fn claim_front(&mut self, wanted: impl Fn(usize) -> bool) -> Option<Claim> {
        loop {
            let front = self.entries.front()?;
            // SAFETY: a registered entry's context is alive (step 6).
            let waiting = unsafe { front.cx.as_ref() }.is_waiting();
            if waiting && !wanted(front.op) {
                return None;
            }
            let entry = self.entries.pop_front()?;
            // SAFETY: as above.
            if waiting && unsafe { entry.cx.as_ref() }.try_claim() {
                return Some(Claim {
                    entry,
                    disconnected: false,
                });
            }
        }
    }

    /// Whether a context other than `cx` still waits here.
    pub(crate) fn has_waiter_besides(&self, cx: &Context) -> bool {
        let me = NonNull::from(cx);
        self.entries.iter().any(|e| {
            // SAFETY: a registered entry's context is alive (step 6).
            e.cx != me && unsafe { e.cx.as_ref() }.is_waiting()
        })
    }

    /// Whether no entry is registered (stale ones count).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
