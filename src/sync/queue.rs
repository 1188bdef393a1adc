//! The wait queue: how a coroutine or thread waits for a channel or lock,
//! and how whoever changes that channel or lock hands it the result.
//!
//! Every blocking operation in `channel` and `sync` uses this one mechanism.
//! A waiter owns a [`Context`] (on its own stack) and links an [`Entry`] for
//! each operation it waits on into the [`WaitList`] of that channel or
//! lock, under that object's [`Lock`](crate::loom::Lock). An entry names
//! the context, the operation's index (its arm in a `select!`) and a
//! *packet*: a pointer to the waiter's slot for the value (the message to
//! send, the place to receive into).
//!
//! A wait list is intrusive, like Go's queue of waiting goroutines: the
//! entries live with their waiters (a single wait uses the one inside its
//! context, a `select!` one per arm), and the list only links them. So
//! waiting allocates nothing, and a waiter that gives up unlinks its entry
//! in constant time, however many others wait.
//!
//! # Protocol (`Context::state`: WAITING, SPINNING, CLAIMED, ABORTED, SELECTED)
//!
//! 1. The waiter tries its operation and, if it cannot complete, registers
//!    an entry while it still holds the object's lock, so no change of the
//!    object can slip between the try and the registration. (`select!` tries
//!    and registers one arm at a time, then looks at every arm once more and
//!    starts over if one became ready: see `channel/selection.rs`.)
//! 2. A *waker* (a sender, an unlocker, a disconnect), holding the object's
//!    lock, unlinks the first entry from the list and claims its context
//!    with a CAS `WAITING -> CLAIMED` (or `SPINNING -> CLAIMED`, step 5).
//!    Only one CAS can win, so one operation of one waiter is completed
//!    once, even when the waiter waits on many objects.
//!    An entry whose CAS fails is stale (its context was claimed through
//!    another entry, or gave up) and is simply left unlinked.
//! 3. The claimant completes the operation through the packet (moves the
//!    message in or out, hands over the lock), then
//! 4. prepares the waiter's wake-up (`Waiter::prepare_wake`, `waiter.rs`:
//!    a waiter on the claimant's own worker is queued at once; for any
//!    other, what the wake-up needs is taken: a reference to the task or
//!    thread), then stores `SELECTED + op` with Release, and only then
//!    finishes the wake-up (`Wake::finish`: an inbox push, a thread
//!    unpark). A waiter that wakes early and sees `CLAIMED` spins until
//!    `SELECTED`, so its context, packet and `Waiter` stay valid for as
//!    long as the claimant uses them; and a waiter woken by this claim
//!    finds `SELECTED` already there instead of spinning while the
//!    claimant is still on its way to that store.
//! 5. The waiter parks until its state is `SELECTED` (park may return
//!    spuriously; it loops). Its operation is done: the result is in its
//!    packet.
//!
//!    A coroutine whose worker has nothing else to run, while another
//!    worker is awake, first *spins* for a moment (unless its context is
//!    one that never spins, [`Context::parking`]): it CASes `WAITING ->
//!    SPINNING`, watches the state, and CASes `SPINNING -> WAITING` before
//!    it parks after all. A claimant that takes a `SPINNING` context knows
//!    the waiter is watching: in step 4 it only stores `SELECTED`, with no
//!    wake-up at all (no task reference, no inbox push, no eventfd). The
//!    waiter's CAS back to `WAITING` then fails, so it does not park. A
//!    request answered from another worker within the spin costs the two
//!    cache lines it must cross, instead of the worker's inbox round trip.
//! 6. A waiter that stops waiting (deadline, runtime shutdown, or a
//!    `select!` arm that became ready) CASes `WAITING -> ABORTED`. If that
//!    fails, a claimant won in step 2 and the operation completes after all
//!    (the waiter takes its result). Either way it then unlinks its
//!    remaining entries under each object's lock, so no entry is freed
//!    while linked. (An entry a claimant took is unlinked before `SELECTED`
//!    is stored, so a waiter that sees `SELECTED` has nothing left to
//!    unlink there.)
//!
//! No wake-up is lost: a waker that finds no claimable entry leaves its
//! change in the object (a buffered message, a free permit) for the next
//! try, and steps 1 and 2 are ordered by the object's lock. An unpark that
//! arrives before the waiter parks leaves a token, so the park returns.

use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::time::Instant;

use crossbeam_utils::Backoff;

use super::waiter::{self, park_deadline_with, park_with, Waiter};
use crate::loom::{spin_pause, spin_wait, AtomicUsize, Ordering};
use crate::task::WaitFor;

const WAITING: usize = 0;
const CLAIMED: usize = 1;
const ABORTED: usize = 2;
/// Waiting, and watching the state instead of parked (step 5).
const SPINNING: usize = 3;
/// `SELECTED + 2 * op + disconnected`.
const SELECTED: usize = 4;
/// How long a waiter spins before it parks. A time, not a count of pauses:
/// a pause takes anywhere from a few cycles to tens of nanoseconds,
/// depending on the CPU, so a count would mean a microsecond on one CPU and
/// ten on another.
#[cfg(not(weft_loom))]
const SPIN_FOR: std::time::Duration = std::time::Duration::from_micros(8);
/// Pauses between two looks at the clock while spinning, so that reading
/// the clock stays a small part of the spin.
#[cfg(not(weft_loom))]
const SPIN_CHECK: u32 = 16;
/// Under loom a spin is one look at the state: enough to explore both
/// outcomes of the race with a claimant.
#[cfg(weft_loom)]
const SPIN_CHECK: u32 = 1;

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
pub(crate) struct Context {
    state: AtomicUsize,
    /// Who waits: what a claimant wakes (`waiter.rs`).
    waiter: Waiter,
    /// The entry of a wait on one object ([`WaitList::register`]).
    entry: Entry,
    /// Whether the waiter may spin before it parks (step 5).
    spins: bool,
    /// What the waiter waits for, recorded as it parks (for a dump).
    why: WaitFor,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context for the calling coroutine or thread, waiting for `why`.
    #[inline]
    pub(crate) fn new(why: WaitFor) -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            waiter: Waiter::current(),
            entry: Entry::new(),
            spins: true,
            why,
        }
    }

    /// A context that never spins: for waits whose waker had better find
    /// it parked. A consumer spinning on an empty buffered channel would
    /// take each message the moment it is sent, one cache-line trip per
    /// message, where a parked one lets the producer fill the buffer and
    /// then drains it in a batch (a large buffered channel between two
    /// workers runs markedly slower with the spin). The same holds for a
    /// producer waiting on a full one, and for a `select!`, whose arms may
    /// be either.
    pub(crate) fn parking(why: WaitFor) -> Context {
        Context {
            spins: false,
            ..Context::new(why)
        }
    }

    /// The entry of a wait on one object.
    pub(crate) fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Makes the context wait again. Only with no entry registered.
    pub(crate) fn reset(&self) {
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Step 2 for a waker: `None` if the context no longer waits, else
    /// whether the waiter was spinning (then it needs no wake-up).
    #[inline]
    fn try_claim(&self) -> Option<bool> {
        match self
            .state
            .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Some(false),
            Err(SPINNING) => self.try_claim_spinning(),
            Err(_) => None,
        }
    }

    /// `try_claim` for a waiter seen spinning, which may stop (and start)
    /// spinning meanwhile.
    #[cold]
    fn try_claim_spinning(&self) -> Option<bool> {
        let mut seen = SPINNING;
        loop {
            match self
                .state
                .compare_exchange(seen, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(seen == SPINNING),
                Err(now @ (WAITING | SPINNING)) => seen = now,
                Err(_) => return None,
            }
        }
    }

    /// Whether the context still waits (for `select!`'s readiness checks).
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self.state.load(Ordering::Relaxed), WAITING | SPINNING)
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
    ///
    /// Always inlined, as are the channel operations that call it and the
    /// hand-off it parks through: after a stack switch the CPU's return
    /// predictor holds the other stack's addresses, so each function the
    /// woken coroutine returns through on its way back to its own code
    /// would be a mispredicted return.
    #[inline(always)]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Outcome {
        loop {
            match self.state.load(Ordering::Acquire) {
                WAITING => {}
                CLAIMED => return Outcome::Selected(self.wait_selected()),
                state => return Outcome::Selected(Selected::decode(state)),
            }
            if waiter::cancelled() {
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
                Some(d) => park_deadline_with(d, self.spins.then_some(|| self.spin()), self.why),
                None => park_with(self.spins.then_some(|| self.spin()), self.why),
            }
        }
    }

    /// Step 5's spin (called by the park, if the waiter may spin). True if
    /// a claimant took the context meanwhile (it sends no wake-up, so the
    /// waiter must not park); false if the waiter is back to `WAITING` and
    /// parks. Kept out of line: `wait` is inlined into every blocking call,
    /// down to its stack switch, and must stay small enough for that.
    #[inline(never)]
    fn spin(&self) -> bool {
        if self
            .state
            .compare_exchange(WAITING, SPINNING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return true;
        }
        #[cfg(not(weft_loom))]
        let spent = {
            let start = Instant::now();
            move || start.elapsed() >= SPIN_FOR
        };
        #[cfg(weft_loom)]
        let spent = || true;
        'spin: loop {
            for _ in 0..SPIN_CHECK {
                if self.state.load(Ordering::Relaxed) != SPINNING {
                    break 'spin;
                }
                spin_pause();
            }
            if spent() {
                break;
            }
        }
        self.state
            .compare_exchange(SPINNING, WAITING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    }
}

/// A claimed waiter (steps 3 and 4): complete its operation through
/// [`Claim::packet`], then drop the claim (or call [`Claim::complete`]) to
/// wake it. Dropping the claim is what releases the waiter, so it happens
/// even if the completion code unwinds.
pub(crate) struct Claim {
    cx: NonNull<Context>,
    op: usize,
    packet: *mut (),
    disconnected: bool,
    /// The waiter was spinning: storing `SELECTED` is its whole wake-up.
    spinning: bool,
}

impl Claim {
    /// The waiter's packet, as it registered it.
    pub(crate) fn packet(&self) -> *mut () {
        self.packet
    }

    /// The claimed operation's index.
    pub(crate) fn op(&self) -> usize {
        self.op
    }

    /// An address on the claimed waiter's stack (its context's): who it is,
    /// for a lock's `Owner` (`task/owner.rs`).
    pub(crate) fn waiter_addr(&self) -> usize {
        self.cx.as_ptr() as usize
    }

    /// Completes it as disconnected: nothing moved through the packet.
    pub(crate) fn disconnect(mut self) {
        self.disconnected = true;
    }

    /// Completes it as operation `op` rather than the one it registered:
    /// how a channel tells a waiter that its operation goes on in another
    /// way (see `channel/chan.rs`).
    pub(crate) fn complete_as(mut self, op: usize) {
        self.op = op;
        self.complete();
    }

    /// Completes it normally. (The same as dropping it, but inlined here,
    /// on the channel's hot path, where the compiler's drop glue is not.)
    #[inline(always)]
    pub(crate) fn complete(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.release();
    }

    /// Step 4: wakes the waiter. Once, from `complete` or the drop.
    #[inline(always)]
    fn release(&mut self) {
        // SAFETY: a claimed context stays alive until the store below: its
        // owner spins in `wait_selected` while the state is CLAIMED.
        let cx = unsafe { self.cx.as_ref() };
        let state = SELECTED + 2 * self.op + usize::from(self.disconnected);
        if self.spinning {
            cx.state.store(state, Ordering::Release);
            return;
        }
        let wake = cx.waiter.prepare_wake();
        cx.state.store(state, Ordering::Release);
        // The context may be gone now; `wake` owns what it needs.
        wake.finish();
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release();
    }
}

/// One registered operation: a node of one wait list. It lives with its
/// waiter (in its [`Context`], or in a `select!` arm), stays in place while
/// linked, and is linked, unlinked and read only under the lock of the
/// list's object.
pub(crate) struct Entry {
    cx: Cell<*const Context>,
    op: Cell<usize>,
    packet: Cell<*mut ()>,
    prev: Cell<*const Entry>,
    next: Cell<*const Entry>,
    /// The list it is linked in; null while unlinked.
    list: Cell<*const WaitList>,
}

impl Entry {
    /// An unlinked entry.
    pub(crate) const fn new() -> Entry {
        Entry {
            cx: Cell::new(ptr::null()),
            op: Cell::new(0),
            packet: Cell::new(ptr::null_mut()),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            list: Cell::new(ptr::null()),
        }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").finish_non_exhaustive()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Step 6 unlinked it, or a claimant did before storing SELECTED,
        // which the owner has seen: no other thread touches `list` now.
        debug_assert!(self.list.get().is_null(), "a wait entry freed while linked");
    }
}

/// The waiters of one channel direction or lock, oldest first: a doubly
/// linked list of their entries.
pub(crate) struct WaitList {
    head: *const Entry,
    tail: *const Entry,
}

// SAFETY: a wait list lives inside the lock of its object and is touched
// only under it. The entries, contexts and packets it points to are owned
// by waiters that keep them alive and in place while linked (step 6), and
// are only accessed under the same lock or, by a claimant, through the
// context's state (steps 2-4).
unsafe impl Send for WaitList {}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// Step 1: registers operation `op` of `cx`, a wait on this object
    /// only, through the entry inside `cx`.
    ///
    /// # Safety
    ///
    /// As for [`WaitList::register_entry`], with `cx`'s own entry: `cx`'s
    /// entry is not linked, and until it is unlinked (by a claim, or by
    /// [`WaitList::unregister`] here) `cx` stays alive and in place and
    /// `packet` stays valid.
    #[inline]
    pub(crate) unsafe fn register(&mut self, cx: &Context, op: usize, packet: *mut ()) {
        // SAFETY: the caller's guarantees are those `register_entry` asks
        // for, since `cx.entry` lives and stays in place with `cx`.
        unsafe { self.register_entry(&cx.entry, cx, op, packet) };
    }

    /// Step 1 with an entry of the caller's (one per `select!` arm).
    ///
    /// # Safety
    ///
    /// `entry` is not linked in any list. Until it is unlinked, by a claim
    /// (which the waiter learns of from `cx`: step 5, or a failed abort in
    /// step 6) or by [`WaitList::unregister_entry`] on this list:
    ///
    /// - `entry` and `cx` stay alive and in place (neither moved nor
    ///   dropped): claimants and the list read them through pointers;
    /// - `packet` is null or points to what this list's object takes a
    ///   packet to be (for a channel, the waiter's `Option<T>` slot),
    ///   valid for a claimant to read and write until its claim completes.
    #[inline]
    pub(crate) unsafe fn register_entry(
        &mut self,
        entry: &Entry,
        cx: &Context,
        op: usize,
        packet: *mut (),
    ) {
        debug_assert!(entry.list.get().is_null(), "a wait entry linked twice");
        entry.cx.set(cx);
        entry.op.set(op);
        entry.packet.set(packet);
        entry.prev.set(self.tail);
        entry.next.set(ptr::null());
        entry.list.set(self);
        match NonNull::new(self.tail.cast_mut()) {
            // SAFETY: a linked entry is alive (step 6); we hold the lock.
            Some(tail) => unsafe { tail.as_ref() }.next.set(entry),
            None => self.head = entry,
        }
        self.tail = entry;
    }

    /// Step 6: unlinks `cx`'s own entry, if it is linked here.
    #[inline]
    pub(crate) fn unregister(&mut self, cx: &Context) {
        self.unregister_entry(&cx.entry);
    }

    /// Step 6: unlinks `entry`, if it is linked here.
    #[inline]
    pub(crate) fn unregister_entry(&mut self, entry: &Entry) {
        if ptr::eq(entry.list.get(), self) {
            // SAFETY: linked here, as its `list` says.
            unsafe { self.unlink(entry) };
        }
    }

    /// Takes `entry` out of the list.
    ///
    /// # Safety
    ///
    /// `entry` is linked in this list.
    #[inline]
    unsafe fn unlink(&mut self, entry: &Entry) {
        let (prev, next) = (entry.prev.get(), entry.next.get());
        match NonNull::new(prev.cast_mut()) {
            // SAFETY: linked entries are alive (step 6); we hold the lock.
            Some(p) => unsafe { p.as_ref() }.next.set(next),
            None => self.head = next,
        }
        match NonNull::new(next.cast_mut()) {
            // SAFETY: as above.
            Some(n) => unsafe { n.as_ref() }.prev.set(prev),
            None => self.tail = prev,
        }
        entry.list.set(ptr::null());
    }

    /// The oldest entry, if any.
    #[inline]
    fn front(&self) -> Option<&Entry> {
        // SAFETY: a linked entry is alive (step 6), and stays linked while
        // the caller holds the lock, as the borrow of `self` says.
        unsafe { self.head.as_ref() }
    }

    /// Unlinks `entry` and claims its context.
    ///
    /// # Safety
    ///
    /// `entry` is linked in this list.
    #[inline]
    unsafe fn take(&mut self, entry: &Entry) -> Option<Claim> {
        // SAFETY: the caller's guarantee.
        unsafe { self.unlink(entry) };
        let cx = entry.cx.get();
        // SAFETY: the context of an entry that was linked is alive: its
        // owner unlinks its entries (under our lock) before it goes.
        let spinning = unsafe { &*cx }.try_claim()?;
        Some(Claim {
            // SAFETY: set from a reference when registered.
            cx: unsafe { NonNull::new_unchecked(cx.cast_mut()) },
            op: entry.op.get(),
            packet: entry.packet.get(),
            disconnected: false,
            spinning,
        })
    }

    /// Step 2: claims the oldest waiter that still waits, unlinking stale
    /// entries on the way.
    #[inline]
    pub(crate) fn claim(&mut self) -> Option<Claim> {
        while let Some(entry) = self.front() {
            let entry: *const Entry = entry;
            // SAFETY: the front entry is linked here, and alive while we
            // hold the lock (step 6) even once `take` unlinks it.
            if let Some(claim) = unsafe { self.take(&*entry) } {
                return Some(claim);
            }
        }
        None
    }

    /// Step 2, for the oldest entry only, and only if `wanted(op)` holds
    /// for it (stale entries at the front are unlinked first).
    pub(crate) fn claim_front(&mut self, wanted: impl Fn(usize) -> bool) -> Option<Claim> {
        loop {
            let entry: *const Entry = self.front()?;
            // SAFETY: linked, so alive while we hold the lock.
            let entry = unsafe { &*entry };
            // SAFETY: a linked entry's context is alive (step 6).
            let waiting = unsafe { &*entry.cx.get() }.is_waiting();
            if waiting && !wanted(entry.op.get()) {
                return None;
            }
            if !waiting {
                // SAFETY: the front entry is linked here.
                unsafe { self.unlink(entry) };
                continue;
            }
            // SAFETY: as above.
            if let Some(claim) = unsafe { self.take(entry) } {
                return Some(claim);
            }
        }
    }

    /// Whether a context other than `cx` still waits here.
    pub(crate) fn has_waiter_besides(&self, cx: &Context) -> bool {
        let mut at = self.head;
        // SAFETY: linked entries and their contexts are alive (step 6),
        // and the list does not change while we hold the lock.
        while let Some(entry) = unsafe { at.as_ref() } {
            let other = entry.cx.get();
            // SAFETY: as above.
            if !ptr::eq(other, cx) && unsafe { &*other }.is_waiting() {
                return true;
            }
            at = entry.next.get();
        }
        false
    }

    /// Whether no entry is registered (stale ones count).
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use std::ptr;

    use super::{Context, Entry, WaitFor, WaitList};

    /// Entries come out oldest first; one unlinked from the middle, or
    /// whose waiter gave up, is skipped; and the list ends empty with
    /// every entry unlinked (their drops assert it).
    #[test]
    fn the_list_is_fifo_and_unlinks_from_anywhere() {
        let cxs: Vec<Context> = (0..4).map(|_| Context::new(WaitFor::UNKNOWN)).collect();
        let select = Context::new(WaitFor::UNKNOWN);
        let arm = Entry::new();
        let mut list = WaitList::new();
        // SAFETY: the contexts and `arm` outlive `list`, stay in place, and
        // are unlinked by the time the test ends (asserted below); the
        // packets are null and no claim here reads them.
        unsafe {
            for (i, cx) in cxs.iter().enumerate() {
                list.register(cx, i, ptr::null_mut());
            }
            list.register_entry(&arm, &select, 9, ptr::null_mut());
        }
        assert!(list.has_waiter_besides(&cxs[0]));

        list.unregister(&cxs[1]);
        list.unregister(&cxs[1]); // not linked any more: nothing happens
        assert!(cxs[2].try_abort().is_none()); // gave up; its entry is stale
        let ops: Vec<usize> = std::iter::from_fn(|| list.claim().map(|c| c.op())).collect();
        assert_eq!(ops, [0, 3, 9]);
        assert!(list.is_empty());
        // A claimed or stale entry was unlinked by the claim: unregistering
        // it again is harmless.
        list.unregister(&cxs[2]);
        list.unregister_entry(&arm);
        assert!(!list.has_waiter_besides(&select));
    }

    /// `claim_front` only takes the oldest waiter, and only if it is wanted.
    #[test]
    fn claim_front_stops_at_an_unwanted_waiter() {
        let (a, b) = (
            Context::new(WaitFor::UNKNOWN),
            Context::new(WaitFor::UNKNOWN),
        );
        let mut list = WaitList::new();
        // SAFETY: as in the test above; both are claimed below.
        unsafe {
            list.register(&a, 1, ptr::null_mut());
            list.register(&b, 2, ptr::null_mut());
        }
        assert!(list.claim_front(|op| op == 2).is_none());
        assert_eq!(list.claim_front(|op| op == 1).map(|c| c.op()), Some(1));
        assert_eq!(list.claim_front(|_| true).map(|c| c.op()), Some(2));
        assert!(list.is_empty());
    }
}
