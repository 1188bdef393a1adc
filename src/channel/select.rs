//! `select!`: waits on several channel operations and runs the first that
//! completes. Public only for the macro's expansion; not a stable API.
//!
//! One select is one [`Context`] registered in every arm's channel (each arm
//! links an entry of its own), so the first partner to arrive claims it
//! through one arm and the others see a stale entry (`sync/queue.rs`). A
//! round:
//!
//! 1. try every arm once, from a random one on (so ready arms are chosen
//!    fairly); the first that can complete does, and wins;
//! 2. with `default`, give up now; with `default(timeout)`, once the
//!    deadline has passed;
//! 3. register every arm, then check every arm again: one that became ready
//!    between its try and the last registration would never claim us, so if
//!    any did, abort and start the round over;
//! 4. park until an arm completes (its partner finished the operation), the
//!    deadline passes, or a timer arm's message is due; unregister every
//!    arm.

use std::cell::{Cell, UnsafeCell};
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::{Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError};
pub use crate::sync::queue::Context;
use crate::sync::queue::{Entry, Outcome, Selected};

/// One `select!` arm, type-erased.
pub trait Arm {
    /// Round step 1: completes the operation if it can now.
    fn try_complete(&self) -> bool;
    /// Step 3: registers as operation `op` of `cx`.
    fn register(&self, cx: &Context, op: usize);
    /// Step 3: whether the operation could complete now.
    fn is_ready(&self, cx: &Context) -> bool;
    /// Step 4: unlinks the arm's entry from its channel.
    fn unregister(&self, cx: &Context);
    /// A partner completed this arm (`disconnected`: by a disconnect).
    fn completed(&self, disconnected: bool);
    /// When the arm becomes ready by itself (a timer channel's next
    /// message): the select must wake up by then and try again.
    fn due(&self) -> Option<Instant> {
        None
    }
}

/// A `recv(r) -> msg` arm.
pub struct RecvArm<'a, T> {
    chan: &'a Chan<T>,
    /// The received message; the packet while registered.
    slot: UnsafeCell<Option<T>>,
    disconnected: Cell<bool>,
    /// Its entry in the channel's wait list.
    entry: Entry,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `r`.
    pub fn new(r: &'a Receiver<T>) -> Self {
        RecvArm {
            chan: &r.chan,
            slot: UnsafeCell::new(None),
            disconnected: Cell::new(false),
            entry: Entry::new(),
        }
    }

    /// The arm's result, once it won.
    pub fn result(&self) -> Result<T, RecvError> {
        // SAFETY: the arm is no longer registered: no one else touches the
        // slot.
        unsafe { (*self.slot.get()).take() }.ok_or(RecvError)
    }
}

impl<T> Arm for RecvArm<'_, T> {
    fn try_complete(&self) -> bool {
        let mut st = self.chan.lock();
        match self.chan.start_recv(&mut st) {
            Ok(msg) => {
                // SAFETY: unregistered: the slot is ours alone.
                unsafe { *self.slot.get() = Some(msg) };
                true
            }
            Err(TryRecvError::Disconnected) => {
                self.disconnected.set(true);
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }

    fn register(&self, cx: &Context, op: usize) {
        Chan::register_recv(&mut self.chan.lock(), &self.entry, cx, op, self.slot.get());
    }

    fn is_ready(&self, cx: &Context) -> bool {
        self.chan.recv_ready(&self.chan.lock(), cx)
    }

    fn unregister(&self, _: &Context) {
        self.chan.unregister(&self.entry);
    }

    fn completed(&self, disconnected: bool) {
        self.disconnected.set(disconnected);
    }

    fn due(&self) -> Option<Instant> {
        self.chan.next_due()
    }
}

impl<T> std::fmt::Debug for RecvArm<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("RecvArm { .. }")
    }
}

impl<T> std::fmt::Debug for SendArm<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("SendArm { .. }")
    }
}

/// A `send(s, msg) -> res` arm.
pub struct SendArm<'a, T> {
    chan: &'a Chan<T>,
    /// The message until it is sent; the packet while registered.
    slot: UnsafeCell<Option<T>>,
    disconnected: Cell<bool>,
    /// Its entry in the channel's wait list.
    entry: Entry,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `msg` into `s`.
    pub fn new(s: &'a Sender<T>, msg: T) -> Self {
        SendArm {
            chan: &s.chan,
            slot: UnsafeCell::new(Some(msg)),
            disconnected: Cell::new(false),
            entry: Entry::new(),
        }
    }

    /// The arm's result, once it won.
    pub fn result(&self) -> Result<(), SendError<T>> {
        // SAFETY: the arm is no longer registered: no one else touches the
        // slot.
        let unsent = unsafe { (*self.slot.get()).take() };
        match unsent {
            Some(msg) if self.disconnected.get() => Err(SendError(msg)),
            _ => Ok(()),
        }
    }
}

impl<T> Arm for SendArm<'_, T> {
    fn try_complete(&self) -> bool {
        // SAFETY: unregistered: the slot is ours alone.
        let slot = unsafe { &mut *self.slot.get() };
        let Some(msg) = slot.take() else {
            return true;
        };
        let mut st = self.chan.lock();
        match self.chan.start_send(&mut st, msg) {
            Ok(()) => true,
            Err(TrySendError::Disconnected(msg)) => {
                *slot = Some(msg);
                self.disconnected.set(true);
                true
            }
            Err(TrySendError::Full(msg)) => {
                *slot = Some(msg);
                false
            }
        }
    }

    fn register(&self, cx: &Context, op: usize) {
        Chan::register_send(&mut self.chan.lock(), &self.entry, cx, op, self.slot.get());
    }

    fn is_ready(&self, cx: &Context) -> bool {
        self.chan.send_ready(&self.chan.lock(), cx)
    }

    fn unregister(&self, _: &Context) {
        self.chan.unregister(&self.entry);
    }

    fn completed(&self, disconnected: bool) {
        self.disconnected.set(disconnected);
    }
}

/// What happens when no arm is ready.
#[derive(Clone, Copy, Debug)]
pub enum Otherwise {
    /// Wait for ever (no `default` arm).
    Wait,
    /// `default => ...`: give up at once.
    Now,
    /// `default(timeout) => ...`: give up after `timeout`.
    After(Duration),
}

/// Runs a select over `arms`; the index of the arm that completed, or
/// `None` for the default arm.
pub fn select(arms: &[&dyn Arm], default: Otherwise) -> Option<usize> {
    let deadline = match default {
        // A timeout too large to represent waits for ever.
        Otherwise::After(t) => Instant::now().checked_add(t),
        _ => None,
    };
    let mut cx: Option<Context> = None;
    loop {
        // Step 1.
        let start = if arms.len() > 1 {
            random_below(arms.len())
        } else {
            0
        };
        for i in (start..arms.len()).chain(0..start) {
            if arms[i].try_complete() {
                return Some(i);
            }
        }
        // Step 2.
        match default {
            Otherwise::Now => return None,
            Otherwise::After(_) if deadline.is_some_and(|d| Instant::now() >= d) => return None,
            _ => {}
        }
        // Step 3.
        let cx = cx.get_or_insert_with(Context::parking);
        cx.reset();
        for (i, arm) in arms.iter().enumerate() {
            arm.register(cx, i);
        }
        let outcome = if arms.iter().any(|a| a.is_ready(cx)) {
            cx.try_abort().map(Outcome::Selected)
        } else {
            // Step 4, waking up for a timer arm's message as well.
            let wake = arms.iter().filter_map(|a| a.due()).chain(deadline).min();
            Some(cx.wait(wake))
        };
        for arm in arms {
            arm.unregister(cx);
        }
        match outcome {
            Some(Outcome::Selected(Selected { op, disconnected })) => {
                arms[op].completed(disconnected);
                return Some(op);
            }
            // The next round tries once more, then returns at step 2.
            Some(Outcome::TimedOut) | None => {}
            Some(Outcome::Cancelled) => {
                // Unwinds, or (already unwinding) keeps counting towards
                // the runtime's give-up.
                crate::loom::checkpoint();
            }
        }
    }
}

/// An arm's address, to tell which arm won.
pub fn address(arm: &dyn Arm) -> usize {
    arm as *const dyn Arm as *const () as usize
}

/// loom explores interleavings by replaying a model, which must therefore
/// be deterministic.
#[cfg(loom)]
fn random_below(_: usize) -> usize {
    0
}

/// A cheap per-thread random number below `n` (xorshift; fairness only).
#[cfg(not(loom))]
fn random_below(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seed from the address of this thread's state and the clock.
            let nanos = Instant::now().elapsed().as_nanos() as u64;
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

/// Waits on several channel operations at once and runs the arm of the
/// first one that completes, in crossbeam-channel's syntax:
///
/// - `recv(r) -> msg => body`: `msg` is `Result<T, RecvError>` (an error
///   once `r` is disconnected and empty);
/// - `send(s, value) -> res => body`: `res` is `Result<(), SendError<T>>`;
/// - `default => body`: runs if no operation is ready now;
/// - `default(timeout) => body`: runs if none completes within `timeout`.
///
/// Without a `default` arm the select waits for ever. When several
/// operations are ready, one is chosen at random, so none starves. The
/// select parks the coroutine (or blocks the thread) in one place: no
/// coroutine or thread is started per arm.
///
/// Every arm's channel expression and every `send` value is evaluated once,
/// before the select waits, as in Go; the values of the arms that lose are
/// dropped. (crossbeam-channel evaluates only the winning arm's value: code
/// that computes a send value with side effects, such as popping it off a
/// queue, should compute it before the select.)
///
/// ```
/// use std::time::Duration;
/// use weft::channel::{bounded, unbounded};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = bounded::<&str>(0);
/// weft::go(move || tx2.send("ready").unwrap());
///
/// weft::select! {
///     recv(rx1) -> msg => panic!("nothing was sent on rx1: {msg:?}"),
///     recv(rx2) -> msg => assert_eq!(msg, Ok("ready")),
/// }
///
/// let got = weft::select! {
///     recv(rx1) -> _ => "message",
///     default(Duration::from_millis(10)) => "timed out",
/// };
/// assert_eq!(got, "timed out");
///
/// weft::select! {
///     send(tx1, 42) -> res => res.unwrap(),
///     default => unreachable!("an unbounded channel has room"),
/// }
/// assert_eq!(rx1.recv(), Ok(42));
/// ```
#[macro_export]
macro_rules! select {
    // Parsing: arms accumulate as `(ident kind (args) (pat) {body})`; each
    // step names its arm with a fresh (hygienic) `__weft_arm`.
    (@parse [$($arms:tt)*] [$($def:tt)*]) => {
        $crate::select!(@expand [$($arms)*] [$($def)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $p:pat => $body:block , $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (__weft_arm recv ($r) ($p) $body)] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (__weft_arm recv ($r) ($p) $body)] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)* (__weft_arm recv ($r) ($p) { $body })] [$($def)*] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr) -> $p:pat => $body:block , $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (__weft_arm send ($s, $v) ($p) $body)] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (__weft_arm send ($s, $v) ($p) $body)] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)* (__weft_arm send ($s, $v) ($p) { $body })] [$($def)*] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] []
        default => $body:block , $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [($crate::channel::select::Otherwise::Now) $body] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [($crate::channel::select::Otherwise::Now) $body] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)*] [($crate::channel::select::Otherwise::Now) { $body }] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:block , $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*]
            [($crate::channel::select::Otherwise::After($t)) $body] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*]
            [($crate::channel::select::Otherwise::After($t)) $body] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($arms)*]
            [($crate::channel::select::Otherwise::After($t)) { $body }] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] [$($def:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("weft::select! takes at most one `default` arm")
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(
            "weft::select! expects arms `recv(r) -> msg => ...`, `send(s, v) -> res => ...`, \
             `default => ...` or `default(timeout) => ...`"
        )
    };

    // Arm construction.
    (@chan recv ($r:expr)) => { &$r };
    (@chan send ($s:expr, $v:expr)) => { &$s };
    (@arm recv $c:ident ($r:expr)) => { $crate::channel::select::RecvArm::new($c) };
    (@arm send $c:ident ($s:expr, $v:expr)) => { $crate::channel::select::SendArm::new($c, $v) };

    // Expansion: build the arms, select, run the winner's body.
    (@expand [$(($a:ident $kind:ident $args:tt ($p:pat) $body:block))*] []) => {
        $crate::select!(@run [$(($a $kind $args ($p) $body))*]
            ($crate::channel::select::Otherwise::Wait) { ::core::unreachable!() })
    };
    (@expand [$(($a:ident $kind:ident $args:tt ($p:pat) $body:block))*] [$def:tt $dbody:block]) => {
        $crate::select!(@run [$(($a $kind $args ($p) $body))*] $def $dbody)
    };
    (@run [$(($a:ident $kind:ident $args:tt ($p:pat) $body:block))*] ($def:expr) $dbody:block) => {{
        $(
            let $a = $crate::select!(@chan $kind $args);
            let $a = $crate::select!(@arm $kind $a $args);
        )*
        let __weft_arms = [$(&$a as &dyn $crate::channel::select::Arm),*];
        let __weft_won = $crate::channel::select::select(&__weft_arms, $def)
            .map(|i| $crate::channel::select::address(__weft_arms[i]));
        $(
            if __weft_won == ::core::option::Option::Some($crate::channel::select::address(&$a)) {
                let $p = $a.result();
                $body
            } else
        )*
        $dbody
    }};

    // Entry point.
    ($($tokens:tt)*) => {
        $crate::select!(@parse [] [] $($tokens)*)
    };
}
