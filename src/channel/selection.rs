//! Selection, the engine under `select!`, `select_biased!` and [`Select`]:
//! waits on several channel operations at once and chooses the first that
//! can go ahead; the caller then completes it.
//!
//! One selection is one [`Context`] registered in every operation's channel
//! (each operation links an entry of its own), so the first partner to
//! arrive claims it through one operation and the others see a stale entry
//! (`sync/queue.rs`). A round:
//!
//! 1. try to choose every operation once, in a random order (first to last,
//!    when biased), so that ready operations are chosen fairly; the first
//!    that can be chosen wins. Choosing leaves a promise in its
//!    channel (a held message, reserved room, a debt: `chan/select.rs`);
//! 2. without waiting, give up now; with a deadline, once it has passed.
//!    But first look at every operation once more, and if one became
//!    possible meanwhile (after its try, while the others were tried), go
//!    back to step 1 (a few times at most): a select that had an operation
//!    possible at every moment of its round must not give up;
//! 3. register every operation, in the same order as step 1, so that
//!    several operations on one channel are claimed fairly as well; then
//!    check every operation again: one that became possible between its
//!    try and the last registration would never claim us, so if any did,
//!    abort and start the round over. A receive is not even registered if
//!    a message was queued since its try (registered behind it, it would
//!    be handed the next message first): the round stops there and starts
//!    over;
//! 4. park until a partner chooses an operation (claiming its entry, it
//!    leaves the promise itself), the deadline passes, or a timer channel's
//!    message is due; unregister every operation.
//!
//! The caller completes the chosen operation through its [`Token`], with
//! the message to send or taking the one received; the channel keeps the
//! promise. A token dropped unfinished gives the promise back.
//!
//! [`ready`] runs the same rounds without choosing: it only looks, and in
//! step 3 registers its entries as *watchers*, which any change of the
//! channel wakes to look again.
//!
//! [`Select`]: super::Select

use std::fmt;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use super::{Receiver, RecvError, SendError, Sender};
use crate::sync::queue::{Context, Entry, Outcome, Selected};
use crate::sync::waiter;
use crate::task::{Kind, WaitFor};

/// One side of a channel, as an operation of a selection: a [`Receiver`]
/// receives, a [`Sender`] sends.
pub(crate) trait Handle {
    /// Step 1: chooses the operation if it can go ahead now. `Some(true)`:
    /// it can, as the channel is disconnected.
    fn choose(&self) -> Option<bool>;
    /// Whether the operation could go ahead now, for a selection waiting
    /// as `cx`.
    fn is_ready(&self, cx: &Context) -> bool;
    /// Step 3: registers as operation `op` of `cx`, through `entry`; or,
    /// for a receive from a channel with a message queued, registers
    /// nothing and returns true (the round must start over).
    ///
    /// # Safety
    ///
    /// `entry` is not linked, and until it is unlinked (by a claim, or by
    /// `unregister`) `entry` and `cx` stay alive and in place.
    unsafe fn register(&self, entry: &Entry, cx: &Context, op: usize) -> bool;
    /// Step 4: unlinks `entry`, if still linked.
    fn unregister(&self, entry: &Entry);
    /// `ready`'s step 3: watches the channel as operation `op` of `cx`.
    ///
    /// # Safety
    ///
    /// As for `register`, with `unwatch` to unlink.
    unsafe fn watch(&self, entry: &Entry, cx: &Context, op: usize);
    /// Unlinks a watching `entry`, if still linked.
    fn unwatch(&self, entry: &Entry);
    /// When the operation becomes possible by itself (a timer channel's
    /// next message): a selection must wake up by then and look again.
    fn due(&self) -> Option<Instant>;
    /// Gives back the promise of a chosen operation that will not be
    /// completed.
    fn release(&self);
}

impl<T> Handle for Receiver<T> {
    fn choose(&self) -> Option<bool> {
        self.chan.choose_recv()
    }
    fn is_ready(&self, cx: &Context) -> bool {
        self.chan.recv_ready(&self.chan.lock(), cx)
    }
    unsafe fn register(&self, entry: &Entry, cx: &Context, op: usize) -> bool {
        // SAFETY: the caller's guarantees are `register_recv`'s.
        unsafe { self.chan.register_recv(entry, cx, op) }
    }
    fn unregister(&self, entry: &Entry) {
        self.chan.unregister(entry);
    }
    unsafe fn watch(&self, entry: &Entry, cx: &Context, op: usize) {
        // SAFETY: the caller's guarantees are `Chan::watch`'s.
        unsafe { self.chan.watch(entry, cx, op) };
    }
    fn unwatch(&self, entry: &Entry) {
        self.chan.unwatch(entry);
    }
    fn due(&self) -> Option<Instant> {
        self.chan.next_due()
    }
    fn release(&self) {
        self.chan.release_recv();
    }
}

impl<T> Handle for Sender<T> {
    fn choose(&self) -> Option<bool> {
        self.chan.choose_send()
    }
    fn is_ready(&self, cx: &Context) -> bool {
        self.chan.send_ready(&self.chan.lock(), cx)
    }
    unsafe fn register(&self, entry: &Entry, cx: &Context, op: usize) -> bool {
        // SAFETY: the caller's guarantees are `register_send`'s.
        unsafe { self.chan.register_send(entry, cx, op) }
    }
    fn unregister(&self, entry: &Entry) {
        self.chan.unregister(entry);
    }
    unsafe fn watch(&self, entry: &Entry, cx: &Context, op: usize) {
        // SAFETY: the caller's guarantees are `Chan::watch`'s.
        unsafe { self.chan.watch(entry, cx, op) };
    }
    fn unwatch(&self, entry: &Entry) {
        self.chan.unwatch(entry);
    }
    fn due(&self) -> Option<Instant> {
        None
    }
    fn release(&self) {
        self.chan.release_send();
    }
}

/// An operation of a selection: a channel side, and the entry through
/// which it waits in that channel (unlinked between selections).
pub struct Op<'a> {
    handle: &'a dyn Handle,
    entry: Entry,
}

impl<'a> Op<'a> {
    /// A receive from `r`.
    pub(crate) fn recv<T>(r: &'a Receiver<T>) -> Op<'a> {
        Op {
            handle: r,
            entry: Entry::new(),
        }
    }

    /// A send into `s`.
    pub(crate) fn send<T>(s: &'a Sender<T>) -> Op<'a> {
        Op {
            handle: s,
            entry: Entry::new(),
        }
    }

    /// The same operation, with an entry of its own.
    pub(crate) fn duplicate(&self) -> Op<'a> {
        Op {
            handle: self.handle,
            entry: Entry::new(),
        }
    }
}

impl fmt::Debug for Op<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Op { .. }")
    }
}

/// How long a selection may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Not at all.
    No,
    /// For ever.
    Forever,
    /// Until a deadline.
    Until(Instant),
}

impl Wait {
    /// At most `timeout` from now (for ever, if that does not fit an
    /// [`Instant`]).
    pub(crate) fn at_most(timeout: Duration) -> Wait {
        Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until)
    }

    /// Step 2: `Err` if the selection gives up now, else its deadline.
    fn deadline(self) -> Result<Option<Instant>, ()> {
        match self {
            Wait::No => Err(()),
            Wait::Until(d) if Instant::now() >= d => Err(()),
            Wait::Until(d) => Ok(Some(d)),
            Wait::Forever => Ok(None),
        }
    }
}

/// The order in which a round tries and registers its operations: a random
/// permutation, or first to last when biased. (A random starting point
/// alone would not do: the operation after a run of unready ones would be
/// tried first more often than the others.)
struct Order {
    n: usize,
    /// Whether the order is a permutation (else first to last).
    shuffled: bool,
    /// The permutation, when it is short enough to keep here.
    inline: [u16; INLINE],
    /// The permutation, when it is longer.
    heap: Vec<usize>,
}

/// How many operations an [`Order`] shuffles without allocating.
const INLINE: usize = 32;

impl Order {
    fn new(n: usize, biased: bool) -> Order {
        let mut order = Order {
            n,
            shuffled: !biased && n > 1,
            inline: [0; INLINE],
            heap: Vec::new(),
        };
        if order.shuffled && n <= INLINE {
            for (i, slot) in order.inline[..n].iter_mut().enumerate() {
                *slot = i as u16;
            }
            shuffle(&mut order.inline[..n]);
        } else if order.shuffled {
            order.heap = (0..n).collect();
            shuffle(&mut order.heap);
        }
        order
    }

    /// The operations' indices, in this order.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).map(move |k| match (self.shuffled, self.n <= INLINE) {
            (false, _) => k,
            (true, true) => usize::from(self.inline[k]),
            (true, false) => self.heap[k],
        })
    }
}

/// Fisher and Yates's shuffle.
fn shuffle<I>(items: &mut [I]) {
    for i in (1..items.len()).rev() {
        items.swap(i, random_below(i + 1));
    }
}

/// How many more rounds a selection that gives up tries first, while it
/// sees an operation that became possible during its round.
const SECOND_LOOKS: u32 = 3;

/// Chooses one of `ops` (its index, and whether its channel is
/// disconnected), waiting as `wait` allows; `None` if none could be chosen
/// in time.
pub(crate) fn choose(ops: &[Op<'_>], wait: Wait, biased: bool) -> Option<Selected> {
    let mut cx: Option<Context> = None;
    let mut second_looks = 0;
    loop {
        // Step 1.
        let order = Order::new(ops.len(), biased);
        for i in order.iter() {
            if let Some(disconnected) = ops[i].handle.choose() {
                return Some(Selected {
                    op: i,
                    disconnected,
                });
            }
        }
        // Step 2.
        let cx = cx.get_or_insert_with(|| Context::parking(WaitFor::new(Kind::Select, ops.len())));
        let Ok(deadline) = wait.deadline() else {
            if second_looks < SECOND_LOOKS && order.iter().any(|i| ops[i].handle.is_ready(cx)) {
                second_looks += 1;
                continue;
            }
            return None;
        };
        // Step 3.
        cx.reset();
        // SAFETY: no entry of `ops` is linked: a round unlinks all it
        // links before it ends (nothing in between unwinds: `wait`
        // returns `Cancelled`), and so did every earlier selection on
        // `ops`. `cx` lives in this frame and the entries in `ops`, lent
        // for the whole call; neither moves before the loop that unlinks.
        let ready = order
            .iter()
            .any(|i| unsafe { ops[i].handle.register(&ops[i].entry, cx, i) })
            || order.iter().any(|i| ops[i].handle.is_ready(cx));
        let outcome = if ready {
            cx.try_abort().map(Outcome::Selected)
        } else {
            // Step 4, waking up for a timer channel's message as well.
            let wake = ops
                .iter()
                .filter_map(|op| op.handle.due())
                .chain(deadline)
                .min();
            Some(cx.wait(wake))
        };
        for op in ops {
            op.handle.unregister(&op.entry);
        }
        match outcome {
            Some(Outcome::Selected(sel)) => return Some(sel),
            // The next round tries once more, then gives up at step 2.
            Some(Outcome::TimedOut) | None => {}
            Some(Outcome::Cancelled) => {
                // Unwinds, or (already unwinding) keeps counting towards
                // the runtime's give-up.
                waiter::checkpoint();
            }
        }
    }
}

/// The index of one of `ops` that could go ahead now, waiting as `wait`
/// allows for one to become ready; `None` if none did in time. By the
/// time the caller tries it, another thread may have taken its chance.
pub(crate) fn ready(ops: &[Op<'_>], wait: Wait, biased: bool) -> Option<usize> {
    let cx = Context::parking(WaitFor::new(Kind::Select, ops.len()));
    loop {
        let order = Order::new(ops.len(), biased);
        if let Some(i) = order.iter().find(|&i| ops[i].handle.is_ready(&cx)) {
            return Some(i);
        }
        let Ok(deadline) = wait.deadline() else {
            // A second look, as `choose`'s step 2.
            return order.iter().find(|&i| ops[i].handle.is_ready(&cx));
        };
        cx.reset();
        for i in order.iter() {
            // SAFETY: as in `choose`'s step 3, with the `unwatch` loop
            // below.
            unsafe { ops[i].handle.watch(&ops[i].entry, &cx, i) };
        }
        let outcome = if order.iter().any(|i| ops[i].handle.is_ready(&cx)) {
            cx.try_abort().map(Outcome::Selected)
        } else {
            let wake = ops
                .iter()
                .filter_map(|op| op.handle.due())
                .chain(deadline)
                .min();
            Some(cx.wait(wake))
        };
        for op in ops {
            op.handle.unwatch(&op.entry);
        }
        // Woken or not, the next round looks again.
        if let Some(Outcome::Cancelled) = outcome {
            waiter::checkpoint();
        }
    }
}

/// A chosen operation, to complete: the index it is known by, its channel
/// side, and whether it was chosen because the channel is disconnected.
#[derive(Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) index: usize,
    handle: &'a dyn Handle,
    disconnected: bool,
}

impl<'a> Token<'a> {
    pub(crate) fn new(index: usize, op: &Op<'a>, disconnected: bool) -> Token<'a> {
        Token {
            index,
            handle: op.handle,
            disconnected,
        }
    }

    /// Whether the operation is on `side` (the very `Sender` or `Receiver`
    /// it was made from).
    fn is_on<S>(&self, side: &S) -> bool {
        std::ptr::eq(
            (self.handle as *const dyn Handle).cast::<()>(),
            (side as *const S).cast::<()>(),
        )
    }

    /// Panics unless the operation is on `side`, a `name` (`Sender` or
    /// `Receiver`) the caller was given to complete it with. Called before
    /// the caller lets go of the token, so that a panic here leaves the
    /// promise to the drop of the caller's wrapper, which gives it back.
    pub(crate) fn assert_on<S>(&self, side: &S, name: &str) {
        assert!(
            self.is_on(side),
            "completed with a `{name}` other than the one the chosen operation was made with"
        );
    }

    /// Completes a receive from `r` (checked by the caller with
    /// `assert_on`).
    pub(crate) fn recv<T>(self, r: &Receiver<T>) -> Result<T, RecvError> {
        debug_assert!(self.is_on(r));
        if self.disconnected {
            return Err(RecvError);
        }
        r.chan.recv_chosen()
    }

    /// Completes a send of `msg` into `s` (checked by the caller).
    pub(crate) fn send<T>(self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        debug_assert!(self.is_on(s));
        if self.disconnected {
            return Err(SendError(msg));
        }
        s.chan.send_chosen(msg)
    }

    /// Gives the operation's promise back, unfinished.
    pub(crate) fn release(self) {
        if !self.disconnected {
            self.handle.release();
        }
    }
}

/// An operation chosen by `select!` or `select_biased!`; the macro
/// completes it at once. Dropped unfinished (the send value's expression
/// panicked or returned), it gives its promise back.
pub struct Chosen<'a> {
    token: Token<'a>,
}

impl<'a> Chosen<'a> {
    /// The index of the chosen operation among those passed.
    pub fn index(&self) -> usize {
        self.token.index
    }

    /// Completes the chosen receive from `r`.
    ///
    /// # Panics
    ///
    /// If the chosen operation is not a receive from `r`.
    pub fn recv<T>(self, r: &Receiver<T>) -> Result<T, RecvError> {
        self.token.assert_on(r, "Receiver");
        ManuallyDrop::new(self).token.recv(r)
    }

    /// Completes the chosen send of `msg` into `s`.
    ///
    /// # Panics
    ///
    /// If the chosen operation is not a send into `s`.
    pub fn send<T>(self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        self.token.assert_on(s, "Sender");
        ManuallyDrop::new(self).token.send(s, msg)
    }
}

impl Drop for Chosen<'_> {
    fn drop(&mut self) {
        self.token.release();
    }
}

impl fmt::Debug for Chosen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chosen")
            .field("index", &self.token.index)
            .finish_non_exhaustive()
    }
}

/// `select!`'s operations: a receive from `r`.
pub fn recv<T>(r: &Receiver<T>) -> Op<'_> {
    Op::recv(r)
}

/// `select!`'s operations: a send into `s`.
pub fn send<T>(s: &Sender<T>) -> Op<'_> {
    Op::send(s)
}

/// `select!` without `default`: waits for ever.
pub fn select<'a>(ops: &[Op<'a>], biased: bool) -> Chosen<'a> {
    match choose(ops, Wait::Forever, biased) {
        Some(sel) => chosen(ops, sel),
        None => unreachable!("a selection that waits for ever returned"),
    }
}

/// `select!` with `default`: does not wait.
pub fn try_select<'a>(ops: &[Op<'a>], biased: bool) -> Option<Chosen<'a>> {
    choose(ops, Wait::No, biased).map(|sel| chosen(ops, sel))
}

/// `select!` with `default(timeout)`.
pub fn select_timeout<'a>(ops: &[Op<'a>], biased: bool, timeout: Duration) -> Option<Chosen<'a>> {
    choose(ops, Wait::at_most(timeout), biased).map(|sel| chosen(ops, sel))
}

fn chosen<'a>(ops: &[Op<'a>], sel: Selected) -> Chosen<'a> {
    Chosen {
        token: Token::new(sel.op, &ops[sel.op], sel.disconnected),
    }
}

/// loom explores interleavings by replaying a model, which must therefore
/// be deterministic.
#[cfg(weft_loom)]
fn random_below(_: usize) -> usize {
    0
}

/// A cheap per-thread random number below `n` (xorshift; fairness only).
#[cfg(not(weft_loom))]
fn random_below(n: usize) -> usize {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seed from the address of this thread's state and the clock.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            x = (s as *const Cell<u64> as u64) ^ nanos ^ 0x9e37_79b9_7f4a_7c15;
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (((x >> 32) * n as u64) >> 32) as usize
    })
}
