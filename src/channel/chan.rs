//! The channel core: one queue and two wait lists under one lock, for every
//! capacity (0 is a rendezvous, `usize::MAX` stands for unbounded).
//!
//! Invariants, under the lock:
//! - receivers wait only while the queue is empty, and senders only while
//!   it is full (always, for a rendezvous channel);
//! - so a sender first hands its message straight to a waiting receiver, and
//!   a receiver that takes a message lets the oldest waiting sender's message
//!   into the queue (or, for a rendezvous, takes it directly).
//!
//! Waiting follows `sync/queue.rs`: a waiting sender's packet is an
//! `Option<T>` holding its message, which a receiver takes; a waiting
//! receiver's packet is an empty `Option<T>`, which a sender fills.

use std::collections::VecDeque;
use std::ptr;
use std::time::{Duration, Instant};

use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::loom::{AtomicUsize, Lock, LockGuard};
use crate::sync::queue::{Context, Entry, Outcome, WaitList};

pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
    /// `usize::MAX` for an unbounded channel.
    cap: usize,
    /// Fed by a `Timer` (fixed at creation, so readable without the lock).
    timed: bool,
    /// Live `Sender`s and `Receiver`s; the last of either disconnects.
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
}

pub(crate) struct State<T> {
    queue: VecDeque<T>,
    disconnected: bool,
    /// For `after` and `tick` channels: the clock is the only sender.
    timer: Option<Timer<T>>,
    /// Waiting senders; packets are `*mut Option<T>` holding the message.
    senders: WaitList,
    /// Waiting receivers; packets are `*mut Option<T>`, empty.
    receivers: WaitList,
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

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan::with_timer(cap, None)
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
            state: Lock::new(State {
                queue: VecDeque::new(),
                disconnected: false,
                timer,
                senders: WaitList::new(),
                receivers: WaitList::new(),
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    pub(crate) fn lock(&self) -> LockGuard<'_, State<T>> {
        self.state.lock()
    }

    /// `None` for unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Sends without waiting, under the lock.
    #[inline(always)]
    pub(crate) fn start_send(&self, st: &mut State<T>, msg: T) -> Result<(), TrySendError<T>> {
        if st.disconnected {
            return Err(TrySendError::Disconnected(msg));
        }
        if let Some(claim) = st.receivers.claim() {
            // SAFETY: a receiver's packet is its empty `Option<T>` slot,
            // valid until the claim completes (queue protocol, step 4).
            unsafe { claim.packet().cast::<Option<T>>().write(Some(msg)) };
            claim.complete();
            return Ok(());
        }
        if st.queue.len() < self.cap {
            st.queue.push_back(msg);
            return Ok(());
        }
        Err(TrySendError::Full(msg))
    }

    /// Receives without waiting, under the lock.
    #[inline(always)]
    pub(crate) fn start_recv(&self, st: &mut State<T>) -> Result<T, TryRecvError> {
        if let Some(msg) = st.queue.pop_front() {
            if let Some(claim) = st.senders.claim() {
                st.queue.push_back(take_packet(claim.packet()));
                claim.complete();
            }
            return Ok(msg);
        }
        if let Some(claim) = st.senders.claim() {
            let msg = take_packet(claim.packet());
            claim.complete();
            return Ok(msg);
        }
        if let Some(msg) = st.timer.as_mut().and_then(Timer::fire) {
            return Ok(msg);
        }
        if st.disconnected {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Whether a send would complete now (or fail as disconnected), for a
    /// `select!` registered as `cx`.
    pub(crate) fn send_ready(&self, st: &State<T>, cx: &Context) -> bool {
        st.disconnected || st.queue.len() < self.cap || st.receivers.has_waiter_besides(cx)
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

    /// Registers a waiting sender of a `select!` arm, through the arm's
    /// `entry`; `slot` holds its message.
    pub(crate) fn register_send(
        st: &mut State<T>,
        entry: &Entry,
        cx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) {
        st.senders.register_entry(entry, cx, op, slot.cast());
    }

    /// Registers a waiting receiver of a `select!` arm; `slot` is empty.
    pub(crate) fn register_recv(
        st: &mut State<T>,
        entry: &Entry,
        cx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) {
        st.receivers.register_entry(entry, cx, op, slot.cast());
    }

    /// Unlinks `entry` from whichever wait list holds it, if any.
    pub(crate) fn unregister(&self, entry: &Entry) {
        let mut st = self.lock();
        st.senders.unregister_entry(entry);
        st.receivers.unregister_entry(entry);
    }

    /// A context for a wait on this channel: a rendezvous (every message
    /// crosses from one waiter to the other anyway) may spin before it
    /// parks; a buffered channel's waiters park (`Context::parking`), and
    /// so do a timer channel's, whose only sender is the clock.
    #[inline(always)]
    fn context(&self) -> Context {
        if self.cap == 0 && !self.timed {
            Context::new()
        } else {
            Context::parking()
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
        let cx = self.context();
        st.senders.register(&cx, 0, ptr::addr_of_mut!(slot).cast());
        drop(st);
        match cx.wait(deadline) {
            Outcome::Selected(sel) if !sel.disconnected => Ok(()),
            Outcome::Selected(_) => Err(SendTimeoutError::Disconnected(unwrap_slot(slot))),
            outcome => {
                self.unregister(cx.entry());
                let msg = unwrap_slot(slot);
                if matches!(outcome, Outcome::Cancelled) {
                    crate::loom::checkpoint();
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
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
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
            let cx = self.context();
            st.receivers
                .register(&cx, 0, ptr::addr_of_mut!(slot).cast());
            drop(st);
            match cx.wait(wake) {
                Outcome::Selected(sel) if !sel.disconnected => return Ok(unwrap_slot(slot)),
                Outcome::Selected(_) => return Err(RecvTimeoutError::Disconnected),
                Outcome::TimedOut => self.unregister(cx.entry()),
                Outcome::Cancelled => {
                    self.unregister(cx.entry());
                    crate::loom::checkpoint();
                    return Err(RecvTimeoutError::Disconnected);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is full (always, for a rendezvous channel).
    pub(crate) fn is_full(&self) -> bool {
        self.capacity() == Some(self.len())
    }

    /// Disconnects the channel and completes every waiter as disconnected.
    /// `drop_messages` (the last receiver left) also drops the queued
    /// messages, outside the lock: their destructors may use the channel.
    pub(crate) fn disconnect(&self, drop_messages: bool) {
        let mut st = self.lock();
        st.disconnected = true;
        while let Some(claim) = st.receivers.claim() {
            claim.disconnect();
        }
        while let Some(claim) = st.senders.claim() {
            claim.disconnect();
        }
        let queue = if drop_messages {
            std::mem::take(&mut st.queue)
        } else {
            VecDeque::new()
        };
        drop(st);
        drop(queue);
    }
}

/// Takes the message out of a waiting sender's packet.
fn take_packet<T>(packet: *mut ()) -> T {
    // SAFETY: a sender's packet is its `Option<T>` holding the message,
    // valid while its entry is claimed (queue protocol, step 4).
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
