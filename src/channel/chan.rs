//! The channel core: one queue and its wait lists under one lock, for every
//! capacity (0 is a rendezvous, `usize::MAX` stands for unbounded).
//!
//! Waiting follows `sync/queue.rs`. Two kinds of waiter sit in the lists of
//! senders and receivers:
//!
//! - a plain `send` or `recv`: its packet is its message slot, an
//!   `Option<T>` that holds the message (a sender's) or is empty (a
//!   receiver's), and the partner that claims it completes it there;
//! - an operation of a select (`Select`, `select!`): its packet is null. A
//!   partner that claims it only *chooses* it, and the select completes it
//!   afterwards, once its caller has the message to send or takes the one
//!   received (`channel/chan/select.rs`: choosing, then completing).
//!
//! So a chosen operation leaves a promise in the channel, kept here:
//!
//! - a chosen receive is owed one message: the partner leaves it *held*,
//!   in a queue of its own (`held`) that other receivers do not see;
//! - a chosen send gets room *reserved* in the buffer (`reserved`), or, if
//!   its partner is a receiver that needs the message itself (always, on a
//!   rendezvous channel), *owes* that receiver its message (`owed`). Such a
//!   receiver is *committed*: it waits for the message in `committed`,
//!   whatever its deadline, or takes a held one. The select completes its
//!   operation right after choosing it, so that wait is short.
//!
//! Messages, room and debts are interchangeable: a held message is owed to
//! any committed receiver, a reservation or a debt to any chosen send. The
//! counts keep what is promised equal to what is delivered.
//!
//! Nothing is lost: a promise is made under the channel's lock, together
//! with the claim that tells its select (or committed receiver) about it,
//! and it is kept or given back once, by the completion of the chosen
//! operation or by its drop (`release_*`). A committed receiver that finds
//! no held message registers in `committed` under the same lock that the
//! owing send takes to pay, so the payment finds it waiting, or else
//! leaves the message held for it.
//!
//! Invariants, under the lock (`room` = the capacity minus the queued
//! messages and `reserved`):
//! - plain receivers and receive operations wait only while `queue` is
//!   empty, so a sender first hands its message to a waiting receiver;
//! - senders wait only while `room` is 0 (always, for a rendezvous), so a
//!   receiver that takes a message lets the oldest waiting sender in.
//!
//! Waiters of `Select::ready` watch instead (`watchers`): any change that
//! may make an operation possible wakes them all, to look again.

mod select;

use std::collections::VecDeque;
use std::ptr;
use std::time::{Duration, Instant};

use super::error::{RecvError, RecvTimeoutError, SendTimeoutError, TrySendError};
use crate::loom::{AtomicUsize, Lock, LockGuard};
use crate::sync::queue::{Claim, Context, Entry, Outcome, WaitList};
use crate::sync::waiter;
use crate::task::{Kind, WaitFor};

/// The op with which a plain receiver is woken when a select's send has
/// chosen it: it is committed, and waits for the message the select owes.
const COMMITTED: usize = 1;
/// The op with which a committed receiver is woken when the select that
/// owed it a message dropped its operation: it receives as usual instead.
const FORGIVEN: usize = 1;

pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
    /// `usize::MAX` for an unbounded channel.
    cap: usize,
    /// Fed by a `Timer` (fixed at creation, so readable without the lock).
    timed: bool,
    /// Made by `never()`: every such channel counts as the same one.
    never: bool,
    /// Live `Sender`s and `Receiver`s; the last of either disconnects.
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
}

pub(crate) struct State<T> {
    /// The buffer: messages for any receiver.
    queue: VecDeque<T>,
    /// Messages held for chosen receives or committed receivers (any of
    /// them: messages are interchangeable), oldest first.
    held: VecDeque<T>,
    /// Room in the buffer reserved for chosen sends.
    reserved: usize,
    /// Chosen sends that owe their message to a committed receiver.
    owed: usize,
    /// Debts forgiven (a select dropped an owing send unfinished): that
    /// many committed receivers receive as usual instead.
    forgiven: usize,
    /// Committed receivers that left without their message (a runtime
    /// shutting down, a dropped unfinished receive): that many owed
    /// messages go into the channel like any other.
    abandoned: usize,
    disconnected: bool,
    /// For `after` and `tick` channels: the clock is the only sender.
    timer: Option<Timer<T>>,
    /// Waiting senders; a plain one's packet is `*mut Option<T>` holding
    /// the message, a select's is null.
    senders: WaitList,
    /// Waiting receivers; a plain one's packet is `*mut Option<T>`, empty;
    /// a select's is null.
    receivers: WaitList,
    /// Committed receivers waiting for an owed message; packets are
    /// `*mut Option<T>`, empty.
    committed: WaitList,
    /// `Select::ready` waiters; packets are null.
    watchers: WaitList,
}

/// A channel whose messages come from the clock.
pub(crate) struct Timer<T> {
    /// When the next message is due; `None` once an `after` has fired.
    due: Option<Instant>,
    /// `Some` for `tick`.
    period: Option<Duration>,
    /// Makes the message from the instant it was due.
    make: fn(Instant) -> T,
}

/// Why a receive without waiting got no message.
pub(crate) enum NoMessage {
    Empty,
    Disconnected,
    /// It chose a select's send, which owes it the message: the receiver
    /// must now wait for it ([`Chan::recv_committed`]).
    Committed,
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan::with_timer(cap, None)
    }

    /// The channel of a `never()` receiver.
    pub(crate) fn never() -> Chan<T> {
        Chan {
            never: true,
            ..Chan::new(0)
        }
    }

    /// A channel fed by `timer` (capacity 0: a message exists only once it
    /// is due, and is made when it is received).
    pub(crate) fn timer(
        due: Option<Instant>,
        period: Option<Duration>,
        make: fn(Instant) -> T,
    ) -> Chan<T> {
        Chan::with_timer(0, Some(Timer { due, period, make }))
    }

    fn with_timer(cap: usize, timer: Option<Timer<T>>) -> Chan<T> {
        Chan {
            timed: timer.is_some(),
            never: false,
            state: Lock::new(State {
                queue: VecDeque::new(),
                held: VecDeque::new(),
                reserved: 0,
                owed: 0,
                forgiven: 0,
                abandoned: 0,
                disconnected: false,
                timer,
                senders: WaitList::new(),
                receivers: WaitList::new(),
                committed: WaitList::new(),
                watchers: WaitList::new(),
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    pub(crate) fn lock(&self) -> LockGuard<'_, State<T>> {
        self.state.lock()
    }

    /// Whether this is a `never()` channel.
    pub(crate) fn is_never(&self) -> bool {
        self.never
    }

    /// `None` for unbounded. A timer channel holds its due message, so
    /// it has a capacity of one.
    pub(crate) fn capacity(&self) -> Option<usize> {
        if self.timed {
            return Some(1);
        }
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Whether a message may go into the buffer now.
    #[inline(always)]
    fn has_room(&self, st: &State<T>) -> bool {
        st.queue.len() + st.reserved < self.cap
    }

    /// Sends without waiting, under the lock.
    #[inline(always)]
    pub(crate) fn start_send(&self, st: &mut State<T>, msg: T) -> Result<(), TrySendError<T>> {
        if st.disconnected {
            return Err(TrySendError::Disconnected(msg));
        }
        if let Some(claim) = st.receivers.claim() {
            // SAFETY: claimed from the receivers.
            unsafe { hand(st, claim, msg) };
            return Ok(());
        }
        if self.has_room(st) {
            st.queue.push_back(msg);
            changed(st);
            return Ok(());
        }
        Err(TrySendError::Full(msg))
    }

    /// Receives without waiting, under the lock.
    #[inline(always)]
    pub(crate) fn start_recv(&self, st: &mut State<T>) -> Result<T, NoMessage> {
        if let Some(msg) = self.pop(st) {
            self.admit(st);
            changed(st);
            return Ok(msg);
        }
        if let Some(claim) = st.senders.claim() {
            if claim.packet().is_null() {
                // A select's send: chosen now, it owes us its message.
                st.owed += 1;
                claim.complete();
                return Err(NoMessage::Committed);
            }
            // SAFETY: a plain sender's packet, claimed and not completed.
            let msg = unsafe { take_packet(claim.packet()) };
            claim.complete();
            return Ok(msg);
        }
        if let Some(msg) = st.timer.as_mut().and_then(Timer::fire) {
            return Ok(msg);
        }
        if st.disconnected {
            Err(NoMessage::Disconnected)
        } else {
            Err(NoMessage::Empty)
        }
    }

    /// Takes the oldest queued message. An unbounded channel drained of a
    /// burst gives its buffer back (`VecDeque` keeps its largest capacity
    /// otherwise), so that its memory follows the messages it holds.
    #[inline(always)]
    fn pop(&self, st: &mut State<T>) -> Option<T> {
        let msg = st.queue.pop_front()?;
        if self.cap == usize::MAX && st.queue.is_empty() {
            shrink(&mut st.queue);
        }
        Some(msg)
    }

    /// Lets the oldest waiting sender in, if there is room for it now: its
    /// message into the channel, or, for a select's send, room reserved.
    #[inline(always)]
    fn admit(&self, st: &mut State<T>) {
        if !st.senders.is_empty() && self.has_room(st) {
            self.admit_one(st);
        }
    }

    fn admit_one(&self, st: &mut State<T>) {
        let Some(claim) = st.senders.claim() else {
            return;
        };
        if claim.packet().is_null() {
            st.reserved += 1;
            claim.complete();
        } else {
            // SAFETY: a plain sender's packet, claimed and not completed.
            let msg = unsafe { take_packet(claim.packet()) };
            claim.complete();
            deliver(st, msg);
        }
    }

    /// Whether a send would complete now (or fail as disconnected), for a
    /// select waiting as `cx`.
    pub(crate) fn send_ready(&self, st: &State<T>, cx: &Context) -> bool {
        st.disconnected || self.has_room(st) || st.receivers.has_waiter_besides(cx)
    }

    /// Whether a receive would complete now (or fail as disconnected).
    pub(crate) fn recv_ready(&self, st: &State<T>, cx: &Context) -> bool {
        st.disconnected
            || !st.queue.is_empty()
            || st.senders.has_waiter_besides(cx)
            || st.timer.as_ref().is_some_and(|t| t.is_due(Instant::now()))
    }

    /// When a timer channel's next message is due: a receiver must wake
    /// up by then, as no sender will.
    pub(crate) fn due(&self, st: &State<T>) -> Option<Instant> {
        st.timer.as_ref().and_then(|t| t.due)
    }

    /// `due`, taking the lock only for a timer channel.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.timed {
            self.due(&self.lock())
        } else {
            None
        }
    }

    /// A context for a wait on this channel: a rendezvous (every message
    /// crosses from one waiter to the other anyway) may spin before it
    /// parks; a buffered channel's waiters park (`Context::parking`), and
    /// so do a timer channel's, whose only sender is the clock.
    #[inline(always)]
    fn context(&self, why: Kind) -> Context {
        let why = WaitFor::new(why, 0);
        if self.cap == 0 && !self.timed {
            Context::new(why)
        } else {
            Context::parking(why)
        }
    }

    /// Sends, waiting until `deadline` (`None`: for ever) for room or a
    /// receiver.
    #[inline(always)]
    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.lock();
        let msg = match self.start_send(&mut st, msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(msg)) => {
                return Err(SendTimeoutError::Disconnected(msg))
            }
            Err(TrySendError::Full(msg)) => msg,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SendTimeoutError::Timeout(msg));
        }
        let mut slot = Some(msg);
        let cx = self.context(Kind::Send);
        // SAFETY: `cx` and `slot` stay in this frame, and `cx` is unlinked
        // before they go: by the claim that completes the send, or by the
        // `unregister` below. `slot` is the `Option<T>` holding the
        // message that a sender's packet is (`State::senders`).
        unsafe { st.senders.register(&cx, 0, ptr::addr_of_mut!(slot).cast()) };
        changed(&mut st);
        drop(st);
        match cx.wait(deadline) {
            Outcome::Selected(sel) if !sel.disconnected => Ok(()),
            Outcome::Selected(_) => Err(SendTimeoutError::Disconnected(unwrap_slot(slot))),
            outcome => {
                self.unregister(cx.entry());
                let msg = unwrap_slot(slot);
                if matches!(outcome, Outcome::Cancelled) {
                    waiter::checkpoint();
                    // Unwinding already: fail the send.
                    return Err(SendTimeoutError::Disconnected(msg));
                }
                Err(SendTimeoutError::Timeout(msg))
            }
        }
    }

    /// Receives, waiting until `deadline` (`None`: for ever).
    #[inline(always)]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut st = self.lock();
            match self.start_recv(&mut st) {
                Ok(msg) => return Ok(msg),
                Err(NoMessage::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(NoMessage::Committed) => return self.recv_committed(st).map_err(Into::into),
                Err(NoMessage::Empty) => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            // A timer channel wakes its receiver when the next message is
            // due, then tries again.
            let due = self.due(&st);
            let wake = match (deadline, due) {
                (Some(d), Some(t)) => Some(d.min(t)),
                (d, t) => d.or(t),
            };
            let mut slot: Option<T> = None;
            let cx = self.context(Kind::Recv);
            // SAFETY: as in `send`; `slot` is the empty `Option<T>` that a
            // receiver's packet is (`State::receivers`).
            unsafe {
                st.receivers
                    .register(&cx, 0, ptr::addr_of_mut!(slot).cast())
            };
            changed(&mut st);
            drop(st);
            match cx.wait(wake) {
                Outcome::Selected(sel) if sel.disconnected => {
                    return Err(RecvTimeoutError::Disconnected)
                }
                Outcome::Selected(sel) if sel.op == COMMITTED => {
                    return self.recv_committed(self.lock()).map_err(Into::into)
                }
                Outcome::Selected(_) => return Ok(unwrap_slot(slot)),
                Outcome::TimedOut => self.unregister(cx.entry()),
                Outcome::Cancelled => {
                    self.unregister(cx.entry());
                    waiter::checkpoint();
                    return Err(RecvTimeoutError::Disconnected);
                }
            }
        }
    }

    /// Receives as a committed receiver, one that is owed a message by a
    /// chosen send (or, for a select's receive, holds one already): takes
    /// a held message, or waits for the owed one with no deadline, as the
    /// select that owes it completes its operation right after choosing.
    pub(crate) fn recv_committed(&self, mut st: LockGuard<'_, State<T>>) -> Result<T, RecvError> {
        if let Some(msg) = st.held.pop_front() {
            return Ok(msg);
        }
        if st.forgiven > 0 {
            st.forgiven -= 1;
            drop(st);
            return self.recv(None).map_err(|_| RecvError);
        }
        let mut slot: Option<T> = None;
        let cx = Context::new(WaitFor::new(Kind::Recv, 0));
        // SAFETY: as in `send`, unlinked by the paying (or forgiving) claim
        // or by the `unregister` below; `slot` is the empty `Option<T>`
        // that a committed receiver's packet is (`State::committed`).
        unsafe {
            st.committed
                .register(&cx, 0, ptr::addr_of_mut!(slot).cast())
        };
        drop(st);
        match cx.wait(None) {
            Outcome::Selected(sel) if sel.op == FORGIVEN => self.recv(None).map_err(|_| RecvError),
            Outcome::Selected(_) => Ok(unwrap_slot(slot)),
            Outcome::TimedOut | Outcome::Cancelled => {
                // Only a runtime shutting down cancels a wait without a
                // deadline. The claim that would fill the slot failed.
                let mut st = self.lock();
                st.committed.unregister(&cx);
                st.abandoned += 1;
                drop(st);
                waiter::checkpoint();
                Err(RecvError)
            }
        }
    }

    /// Unlinks `entry` from whichever wait list holds it, if any.
    pub(crate) fn unregister(&self, entry: &Entry) {
        let mut st = self.lock();
        st.senders.unregister_entry(entry);
        st.receivers.unregister_entry(entry);
    }

    /// The number of messages in the channel (held ones have left it; a
    /// timer channel's due message is in it).
    pub(crate) fn len(&self) -> usize {
        let st = self.lock();
        let due = st.timer.as_ref().is_some_and(|t| t.is_due(Instant::now()));
        st.queue.len() + usize::from(due)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is full (always, for a rendezvous channel; for a
    /// timer channel, while its message is due).
    pub(crate) fn is_full(&self) -> bool {
        self.capacity() == Some(self.len())
    }

    /// Disconnects the channel and completes every waiter as disconnected.
    /// `drop_messages` (the last receiver left) also drops the queued
    /// messages, outside the lock: their destructors may use the channel.
    /// They are dropped oldest first; if one's destructor panics, the panic
    /// goes on and the rest are leaked, rather than dropped while
    /// unwinding (where a second panic would abort).
    pub(crate) fn disconnect(&self, drop_messages: bool) {
        let mut st = self.lock();
        st.disconnected = true;
        while let Some(claim) = st.receivers.claim() {
            claim.disconnect();
        }
        while let Some(claim) = st.senders.claim() {
            claim.disconnect();
        }
        changed(&mut st);
        let (held, queue) = if drop_messages {
            (std::mem::take(&mut st.held), std::mem::take(&mut st.queue))
        } else {
            (VecDeque::new(), VecDeque::new())
        };
        drop(st);
        let mut messages = std::mem::ManuallyDrop::new((held, queue));
        while let Some(msg) = messages.0.pop_front().or_else(|| messages.1.pop_front()) {
            drop(msg);
        }
        drop(std::mem::ManuallyDrop::into_inner(messages));
    }
}

/// Gives `msg` to a claimed receiver: into a plain receiver's slot, or,
/// for a select's receive, held for it.
///
/// # Safety
///
/// `claim` was taken from `st.receivers`, so its packet is null or a plain
/// receiver's empty `Option<T>` slot, valid until the claim completes.
#[inline(always)]
unsafe fn hand<T>(st: &mut State<T>, claim: Claim, msg: T) {
    let packet = claim.packet();
    if packet.is_null() {
        st.held.push_back(msg);
    } else {
        // SAFETY: a plain receiver's slot, by the caller's guarantee; the
        // claim completes below (queue protocol, step 4).
        unsafe { packet.cast::<Option<T>>().write(Some(msg)) };
    }
    claim.complete();
}

/// Puts `msg` into the channel: to the oldest waiting receiver, or into
/// the queue (the caller checked for room, or the message is owed past
/// the capacity).
fn deliver<T>(st: &mut State<T>, msg: T) {
    match st.receivers.claim() {
        // SAFETY: claimed from the receivers.
        Some(claim) => unsafe { hand(st, claim, msg) },
        None => {
            st.queue.push_back(msg);
            changed(st);
        }
    }
}

/// Frees an empty queue's buffer if it is large.
#[cold]
fn shrink<T>(queue: &mut VecDeque<T>) {
    /// Capacity an empty unbounded queue keeps, in messages.
    const KEEP: usize = 1024;
    if queue.capacity() > KEEP {
        *queue = VecDeque::new();
    }
}

/// Tells the `ready` waiters that something changed.
#[inline(always)]
fn changed<T>(st: &mut State<T>) {
    if !st.watchers.is_empty() {
        notify(st);
    }
}

#[cold]
fn notify<T>(st: &mut State<T>) {
    while let Some(claim) = st.watchers.claim() {
        claim.complete();
    }
}

/// Takes the message out of a waiting sender's packet.
///
/// # Safety
///
/// `packet` is the packet of a plain sender of this channel's `T`, claimed
/// from the senders and not completed yet: the sender's `Option<T>` slot
/// holding its message, which the claim keeps valid (queue protocol, step
/// 4) and lets nobody else touch.
unsafe fn take_packet<T>(packet: *mut ()) -> T {
    // SAFETY: the caller's guarantee.
    let msg = unsafe { (*packet.cast::<Option<T>>()).take() };
    msg.expect("a waiting sender holds its message")
}

fn unwrap_slot<T>(slot: Option<T>) -> T {
    slot.expect("the wait protocol left the message in place")
}

impl<T> Timer<T> {
    fn is_due(&self, now: Instant) -> bool {
        self.due.is_some_and(|d| now >= d)
    }

    /// The due message, if any, and the timer moved on.
    fn fire(&mut self) -> Option<T> {
        let due = self.due?;
        let now = Instant::now();
        if now < due {
            return None;
        }
        self.due = self.period.map(|p| {
            // Ticks missed while nobody received are skipped, not queued.
            let next = due + p;
            if next > now || p.is_zero() {
                next
            } else {
                let behind = (now - due).as_nanos() / p.as_nanos();
                due + p * u32::try_from(behind + 1).unwrap_or(u32::MAX)
            }
        });
        Some((self.make)(due))
    }
}
