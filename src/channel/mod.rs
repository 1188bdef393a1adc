//! Multi-producer multi-consumer channels, with crossbeam-channel's API.
//!
//! A blocking operation parks the calling coroutine (its worker runs others
//! meanwhile) or, on a plain thread, blocks the thread; one channel can
//! connect coroutines and threads at once. Switching from crossbeam-channel
//! is a change of import (`use weft::channel as crossbeam_channel;`):
//! [`bounded`], [`unbounded`], cloneable [`Sender`]s and [`Receiver`]s, the
//! same errors, [`after`], [`at`], [`tick`], [`never()`], [`select!`],
//! [`select_biased!`] and [`Select`].
//!
//! ```
//! use weft::channel::bounded;
//!
//! let (tx, rx) = bounded(0); // a rendezvous: each send meets a receive
//! let producer = weft::go(move || {
//!     for i in 0..10 {
//!         tx.send(i).unwrap();
//!     }
//! }); // `tx` is dropped here, which disconnects the channel
//! let sum: i32 = rx.iter().sum();
//! assert_eq!(sum, 45);
//! producer.join().unwrap();
//! ```
//!
//! Disconnection: when every `Sender` is gone, receivers get the messages
//! still queued and then [`RecvError`]; when every `Receiver` is gone,
//! sends fail at once with the message handed back, and queued messages
//! are dropped.
//!
//! A waiting operation is queued in its channel (oldest first) and is
//! completed by the partner that arrives: a sender hands its message
//! straight to a waiting receiver. How waiting works is described in
//! `src/sync/queue.rs`; how a select chooses an operation and completes it
//! afterwards, in `selection.rs` and `chan.rs` here.

mod chan;
mod dynamic;
mod error;
mod macros;
mod selection;

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[doc(inline)]
pub use crate::{select, select_biased};
pub use dynamic::{Select, SelectedOperation};
pub use error::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};

/// What the expansions of [`select!`] and [`select_biased!`] call: not an
/// API, and not covered by semver.
#[doc(hidden)]
pub mod __private {
    pub use super::selection::{recv, select, select_timeout, send, try_select, Chosen, Op};
}

use crate::loom::Ordering;
use chan::{Chan, NoMessage};

/// A channel of capacity `cap`. `bounded(0)` is a rendezvous channel: a send
/// waits for a receive and the message passes directly between them.
///
/// ```
/// let (tx, rx) = weft::channel::bounded(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert!(tx.try_send(3).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    // `usize::MAX` means unbounded inside; no bounded queue gets that far.
    channel(Chan::new(cap.min(usize::MAX - 1)))
}

/// A channel without a capacity limit: sends never wait.
///
/// ```
/// let (tx, rx) = weft::channel::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(Chan::new(usize::MAX))
}

/// A receiver that gets one message, the [`Instant`] it was due, once
/// `duration` has passed. Its sender is the clock: it never disconnects.
/// Mostly useful as a `select!` arm.
///
/// ```
/// use std::time::Duration;
/// use weft::channel::{after, unbounded};
///
/// let (_tx, rx) = unbounded::<i32>();
/// let timeout = after(Duration::from_millis(10));
/// let got = weft::select! {
///     recv(rx) -> msg => msg.ok(),
///     recv(timeout) -> _ => None,
/// };
/// assert_eq!(got, None);
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    // Too far to represent: never.
    timer(Instant::now().checked_add(duration), None)
}

/// A receiver that gets one message, `when`, at `when`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let when = Instant::now() + Duration::from_millis(5);
/// assert_eq!(weft::channel::at(when).recv(), Ok(when));
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    timer(Some(when), None)
}

/// A receiver that gets a message every `period`: the [`Instant`] each
/// tick was due. Ticks that nobody receives in time are skipped, not
/// queued. It never disconnects.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let ticks = weft::channel::tick(Duration::from_millis(5));
/// for _ in 0..3 {
///     ticks.recv().unwrap();
/// }
/// assert!(start.elapsed() >= Duration::from_millis(15));
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    let now = Instant::now();
    match now.checked_add(period) {
        Some(first) => timer(Some(first), Some(period)),
        None => timer(None, None),
    }
}

/// A receiver that never gets a message and never disconnects: a
/// `select!` arm that is never chosen. All of them count as one channel
/// ([`Receiver::same_channel`]).
///
/// ```
/// use std::time::Duration;
/// let rx = weft::channel::never::<i32>();
/// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
/// ```
pub fn never<T>() -> Receiver<T> {
    // No `Sender` is ever made, so the sender count stays at one.
    Receiver {
        chan: Arc::new(Chan::never()),
    }
}

fn timer(due: Option<Instant>, period: Option<Duration>) -> Receiver<Instant> {
    Receiver {
        chan: Arc::new(Chan::timer(due, period, |due| due)),
    }
}

fn channel<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending side of a channel. Clone it for more producers.
///
/// ```
/// let (tx, rx) = weft::channel::unbounded();
/// let handles: Vec<_> = (0..4)
///     .map(|i| {
///         let tx = tx.clone();
///         weft::go(move || tx.send(i).unwrap())
///     })
///     .collect();
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2, 3]);
/// # for h in handles { h.join().unwrap(); }
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving side of a channel. Clone it for more consumers; each
/// message goes to one of them.
///
/// ```
/// let (tx, rx) = weft::channel::bounded(1);
/// weft::go(move || tx.send("hi").unwrap());
/// assert_eq!(rx.recv(), Ok("hi"));
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg`, waiting for room (or, on a rendezvous channel, for a
    /// receiver). Fails, handing `msg` back, once every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::bounded(0);
    /// let h = weft::go(move || rx.recv().unwrap());
    /// tx.send(5).unwrap(); // waits until the coroutine receives
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    #[inline]
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.chan
            .send(msg, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `msg` if that needs no waiting.
    ///
    /// ```
    /// let (tx, _rx) = weft::channel::bounded(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let mut st = self.chan.lock();
        self.chan.start_send(&mut st, msg)
    }

    /// Sends `msg`, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = weft::channel::bounded(0);
    /// let err = tx.send_timeout(1, Duration::from_millis(5)).unwrap_err();
    /// assert!(err.is_timeout());
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(msg, Instant::now().checked_add(timeout))
    }

    /// Sends `msg`, waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = weft::channel::bounded(1);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// tx.send_deadline(1, deadline).unwrap();
    /// assert!(tx.send_deadline(2, deadline).unwrap_err().is_timeout());
    /// # drop(rx);
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(msg, Some(deadline))
    }

    /// Whether no message is queued.
    ///
    /// ```
    /// let (tx, _rx) = weft::channel::unbounded::<()>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chan.is_empty()
    }

    /// Whether the queue is full (always, for a rendezvous channel).
    ///
    /// ```
    /// let (tx, _rx) = weft::channel::bounded(1);
    /// tx.send(()).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// The number of queued messages.
    ///
    /// ```
    /// let (tx, _rx) = weft::channel::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// The capacity: `Some(cap)` for [`bounded`], `None` for [`unbounded`].
    ///
    /// ```
    /// assert_eq!(weft::channel::bounded::<u8>(3).0.capacity(), Some(3));
    /// assert_eq!(weft::channel::unbounded::<u8>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether `self` and `other` send into the same channel.
    ///
    /// ```
    /// let (tx, _rx) = weft::channel::unbounded::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a message, waiting for one. Fails once the channel is empty
    /// and every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::unbounded();
    /// weft::go(move || tx.send(3).unwrap());
    /// assert_eq!(rx.recv(), Ok(3));
    /// assert!(rx.recv().is_err()); // the sender finished and was dropped
    /// ```
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(None).map_err(|_| RecvError)
    }

    /// Receives a message if one is ready.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::unbounded();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.chan.lock();
        match self.chan.start_recv(&mut st) {
            Ok(msg) => Ok(msg),
            Err(NoMessage::Empty) => Err(TryRecvError::Empty),
            Err(NoMessage::Disconnected) => Err(TryRecvError::Disconnected),
            // A waiting select's send was ready: it hands its message over
            // as soon as its caller gives it.
            Err(NoMessage::Committed) => self.chan.recv_committed(st).map_err(Into::into),
        }
    }

    /// Receives a message, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = weft::channel::unbounded::<u8>();
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan.recv(Instant::now().checked_add(timeout))
    }

    /// Receives a message, waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = weft::channel::unbounded();
    /// tx.send(1).unwrap();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(rx.recv_deadline(deadline), Ok(1));
    /// assert!(rx.recv_deadline(deadline).unwrap_err().is_timeout());
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.chan.recv(Some(deadline))
    }

    /// A blocking iterator: it ends when the channel is empty and every
    /// sender is gone.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::unbounded();
    /// weft::go(move || (0..3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages ready now; it never waits.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Whether no message is queued.
    ///
    /// ```
    /// let (_tx, rx) = weft::channel::unbounded::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chan.is_empty()
    }

    /// Whether the queue is full (always, for a rendezvous channel).
    ///
    /// ```
    /// let (_tx, rx) = weft::channel::bounded::<()>(0);
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// The number of queued messages.
    ///
    /// ```
    /// let (tx, rx) = weft::channel::bounded(4);
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// The capacity: `Some(cap)` for [`bounded`], `None` for [`unbounded`].
    ///
    /// ```
    /// assert_eq!(weft::channel::bounded::<u8>(0).1.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether `self` and `other` receive from the same channel. Every
    /// [`never()`] receiver counts as the same channel.
    ///
    /// ```
    /// use weft::channel::{never, unbounded};
    /// let (_tx, rx) = unbounded::<()>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!rx.same_channel(&unbounded().1));
    /// assert!(never::<()>().same_channel(&never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan) || (self.chan.is_never() && other.chan.is_never())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect(false);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect(true);
        }
    }
}

// A panic inside a channel operation leaves the channel whole (its state
// changes under its lock, a step at a time, and the lock is not poisoned),
// so a handle may cross `catch_unwind`, as crossbeam-channel's do.
impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}
impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// The iterator of [`Receiver::iter`]: blocking, borrowing the receiver.
///
/// ```
/// let (tx, rx) = weft::channel::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// let it: weft::channel::Iter<'_, i32> = rx.iter();
/// assert_eq!(it.collect::<Vec<_>>(), [1]);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The iterator of [`Receiver::try_iter`]: it ends at the first empty
/// queue, without waiting.
///
/// ```
/// let (tx, rx) = weft::channel::unbounded();
/// tx.send(1).unwrap();
/// let it: weft::channel::TryIter<'_, i32> = rx.try_iter();
/// assert_eq!(it.count(), 1);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The iterator of `Receiver::into_iter`: blocking, owning the receiver.
///
/// ```
/// let (tx, rx) = weft::channel::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1]);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
