//! [`Select`]: selection over a list of operations built at run time, for
//! when the channels are not known when the code is written (`select!`
//! needs its arms spelled out). It runs the same rounds as `select!`
//! (`selection.rs`); the caller completes the operation it gets back.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use super::error::{ReadyTimeoutError, SelectTimeoutError, TryReadyError, TrySelectError};
use super::selection::{self, Op, Token, Wait};
use super::{Receiver, RecvError, SendError, Sender};

/// A list of send and receive operations to wait on, built at run time.
///
/// [`send`](Select::send) and [`recv`](Select::recv) add operations and
/// return their indices. [`select`](Select::select) and its variants wait
/// until one operation can go ahead and return it as a
/// [`SelectedOperation`], which must then be completed with
/// [`SelectedOperation::send`] or [`SelectedOperation::recv`].
/// [`ready`](Select::ready) and its variants only say which operation can
/// go ahead. When several can, one is chosen at random (the first added,
/// for a [`Select::new_biased`]). An operation on a disconnected channel
/// can always go ahead, and completes with an error.
///
/// In a coroutine a waiting select parks the coroutine; on a plain thread
/// it blocks the thread.
///
/// ```
/// use weft::channel::{unbounded, Select};
///
/// // Receive from whichever of several channels has a message.
/// let channels: Vec<_> = (0..4).map(|_| unbounded::<usize>()).collect();
/// channels[2].0.send(20).unwrap();
///
/// let mut sel = Select::new();
/// for (_, rx) in &channels {
///     sel.recv(rx);
/// }
/// let oper = sel.select();
/// let i = oper.index();
/// assert_eq!(i, 2);
/// assert_eq!(oper.recv(&channels[i].1), Ok(20));
/// ```
pub struct Select<'a> {
    /// The operations, in the order they were added.
    ops: Vec<Op<'a>>,
    /// The index each operation was given (removals leave gaps).
    indices: Vec<usize>,
    /// The index the next operation gets.
    next: usize,
    /// Whether the first ready operation is chosen rather than a random one.
    biased: bool,
}

// SAFETY: between calls, a `Select` is a list of shared references to
// `Sender`s and `Receiver`s plus wait-list entries that are not linked
// anywhere (a call links them and unlinks them all before it returns), so
// sending it or sharing it hands over no access in progress. Choosing an
// operation from another thread takes the channel's lock and at most moves
// messages, untouched, between a waiting sender's slot, the channel's
// queues and a waiting receiver's slot; it never reads, clones or drops a
// message of type `T`, and creates one only for a timer channel, whose
// messages are `Instant`s. (The completion, which does all that, takes the
// `SelectedOperation`, which is not `Send`, and the typed handle.)
unsafe impl Send for Select<'_> {}
// SAFETY: `&Select` gives no access to the entries (see above); cloning
// gives the clone entries of its own.
unsafe impl Sync for Select<'_> {}

impl<'a> Select<'a> {
    /// An empty list, choosing at random among the operations that can go
    /// ahead.
    ///
    /// ```
    /// let mut sel = weft::channel::Select::new();
    /// assert!(sel.try_select().is_err()); // nothing to choose from
    /// ```
    pub fn new() -> Select<'a> {
        Select {
            ops: Vec::new(),
            indices: Vec::new(),
            next: 0,
            biased: false,
        }
    }

    /// An empty list that, when several operations can go ahead, chooses
    /// the one added first.
    ///
    /// ```
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (tx1, rx1) = unbounded();
    /// let (tx2, rx2) = unbounded();
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), first);
    /// assert_eq!(oper.recv(&rx1), Ok(1));
    /// ```
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send into `s`; returns its index. The message is given when
    /// the operation is completed ([`SelectedOperation::send`]).
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded(1);
    /// let mut sel = Select::new();
    /// let i = sel.send(&tx);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// oper.send(&tx, "hello").unwrap();
    /// assert_eq!(rx.recv(), Ok("hello"));
    /// ```
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.add(Op::send(s))
    }

    /// Adds a receive from `r`; returns its index.
    ///
    /// ```
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (tx, rx) = unbounded();
    /// tx.send(7).unwrap();
    /// let mut sel = Select::new();
    /// let i = sel.recv(&rx);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// assert_eq!(oper.recv(&rx), Ok(7));
    /// ```
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.add(Op::recv(r))
    }

    fn add(&mut self, op: Op<'a>) -> usize {
        let index = self.next;
        self.next += 1;
        self.ops.push(op);
        self.indices.push(index);
        index
    }

    /// Removes the operation with index `index`, for example one whose
    /// channel was found disconnected. Indices are never reused.
    ///
    /// # Panics
    ///
    /// If no operation has that index (it was never added, or was removed).
    ///
    /// ```
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (tx1, rx1) = unbounded::<i32>();
    /// let (tx2, rx2) = unbounded::<i32>();
    /// drop(tx2);
    /// let mut sel = Select::new();
    /// let i1 = sel.recv(&rx1);
    /// let i2 = sel.recv(&rx2);
    /// // `rx2` is disconnected: its operation can go ahead, with an error.
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i2);
    /// assert!(oper.recv(&rx2).is_err());
    /// sel.remove(i2);
    ///
    /// tx1.send(1).unwrap();
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i1);
    /// assert_eq!(oper.recv(&rx1), Ok(1));
    /// ```
    pub fn remove(&mut self, index: usize) {
        let Some(at) = self.indices.iter().position(|&i| i == index) else {
            panic!("no operation with index {index} in this `Select`");
        };
        self.ops.remove(at);
        self.indices.remove(at);
    }

    /// Chooses an operation that can go ahead now, without waiting.
    ///
    /// ```
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (tx, rx) = unbounded();
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// tx.send(1).unwrap();
    /// let oper = sel.try_select().unwrap();
    /// assert_eq!(oper.recv(&rx), Ok(1));
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.choose(Wait::No).ok_or(TrySelectError)
    }

    /// Waits until an operation can go ahead and chooses it.
    ///
    /// # Panics
    ///
    /// If no operation was added: it would wait for ever.
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded(0);
    /// let (_tx2, rx2) = bounded::<i32>(0);
    /// weft::go(move || tx.send(5).unwrap());
    /// let mut sel = Select::new();
    /// let i = sel.recv(&rx);
    /// sel.recv(&rx2);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// assert_eq!(oper.recv(&rx), Ok(5));
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'a> {
        assert!(
            !self.ops.is_empty(),
            "`Select::select` on a `Select` without operations would wait for ever"
        );
        match self.choose(Wait::Forever) {
            Some(oper) => oper,
            None => unreachable!("a selection that waits for ever returned"),
        }
    }

    /// Waits at most `timeout` for an operation that can go ahead, and
    /// chooses it. Without operations, it just waits out the timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (_tx, rx) = unbounded::<i32>();
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(10)).is_err());
    /// ```
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.choose(Wait::at_most(timeout))
            .ok_or(SelectTimeoutError)
    }

    /// Waits until `deadline` at most for an operation that can go ahead,
    /// and chooses it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded(0);
    /// weft::go(move || tx.send(1).unwrap());
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let oper = sel.select_deadline(Instant::now() + Duration::from_secs(10)).unwrap();
    /// assert_eq!(oper.recv(&rx), Ok(1));
    /// ```
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.choose(Wait::Until(deadline)).ok_or(SelectTimeoutError)
    }

    /// The index of an operation that can go ahead now, without waiting.
    /// Nothing is chosen: by the time the caller performs it, another
    /// thread or coroutine may have taken its chance.
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded(1);
    /// let mut sel = Select::new();
    /// let i = sel.send(&tx);
    /// assert_eq!(sel.try_ready(), Ok(i));
    /// tx.send(1).unwrap(); // the channel is full now
    /// assert!(sel.try_ready().is_err());
    /// # drop(rx);
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.ready_within(Wait::No).ok_or(TryReadyError)
    }

    /// Waits until an operation can go ahead; returns its index (see
    /// [`try_ready`](Select::try_ready)).
    ///
    /// # Panics
    ///
    /// If no operation was added: it would wait for ever.
    ///
    /// ```
    /// use weft::channel::{unbounded, Select};
    ///
    /// let (tx, rx) = unbounded();
    /// weft::go(move || tx.send(3).unwrap());
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// sel.ready();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    pub fn ready(&mut self) -> usize {
        assert!(
            !self.ops.is_empty(),
            "`Select::ready` on a `Select` without operations would wait for ever"
        );
        match self.ready_within(Wait::Forever) {
            Some(i) => i,
            None => unreachable!("a selection that waits for ever returned"),
        }
    }

    /// Waits at most `timeout` until an operation can go ahead; returns its
    /// index.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::channel::{bounded, Select};
    ///
    /// let (_tx, rx) = bounded::<i32>(0);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.ready_timeout(Duration::from_millis(10)).is_err());
    /// ```
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.ready_within(Wait::at_most(timeout))
            .ok_or(ReadyTimeoutError)
    }

    /// Waits until `deadline` at most until an operation can go ahead;
    /// returns its index.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use weft::channel::{after, Select};
    ///
    /// let timer = after(Duration::from_millis(5));
    /// let mut sel = Select::new();
    /// let i = sel.recv(&timer);
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// assert_eq!(sel.ready_deadline(deadline), Ok(i));
    /// ```
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.ready_within(Wait::Until(deadline))
            .ok_or(ReadyTimeoutError)
    }

    fn choose(&self, wait: Wait) -> Option<SelectedOperation<'a>> {
        let sel = selection::choose(&self.ops, wait, self.biased)?;
        Some(SelectedOperation {
            token: Token::new(self.indices[sel.op], &self.ops[sel.op], sel.disconnected),
            _not_send: PhantomData,
        })
    }

    fn ready_within(&self, wait: Wait) -> Option<usize> {
        selection::ready(&self.ops, wait, self.biased).map(|at| self.indices[at])
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            ops: self.ops.iter().map(Op::duplicate).collect(),
            indices: self.indices.clone(),
            next: self.next,
            biased: self.biased,
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Select { .. }")
    }
}

/// An operation chosen by a [`Select`], to complete with
/// [`send`](SelectedOperation::send) or [`recv`](SelectedOperation::recv)
/// on the very `Sender` or `Receiver` it was added with.
///
/// Choosing it already committed its channel: a message is held for the
/// receive, room is kept for the send, or a receiver now waits for the
/// message the send will give. So complete it right away.
///
/// # Panics
///
/// Dropping it without completing it is a bug and panics (unless the
/// thread is panicking already). The channel gets its promise back first:
/// the held message returns to it, the room is freed, the receiver waiting
/// for the message receives as usual instead.
///
/// ```
/// use weft::channel::{bounded, Select};
///
/// let (tx, rx) = bounded::<i32>(0);
/// drop(rx);
/// let mut sel = Select::new();
/// sel.send(&tx);
/// let oper = sel.select(); // a disconnected channel can go ahead
/// assert_eq!(oper.send(&tx, 1).unwrap_err().into_inner(), 1);
/// ```
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    token: Token<'a>,
    /// Completing it touches messages of the channel's type: not `Send`.
    _not_send: PhantomData<*const ()>,
}

impl SelectedOperation<'_> {
    /// The index the operation was given when added to the [`Select`].
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx0, _rx0) = bounded::<u8>(0); // nobody receives: not ready
    /// let (tx1, rx1) = bounded::<u8>(1);
    /// let mut sel = Select::new();
    /// sel.send(&tx0);
    /// let i = sel.send(&tx1);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// oper.send(&tx1, 0).unwrap();
    /// # drop(rx1);
    /// ```
    pub fn index(&self) -> usize {
        self.token.index
    }

    /// Completes a send operation with `msg`; an error hands `msg` back if
    /// the channel is disconnected.
    ///
    /// # Panics
    ///
    /// If `s` is not the `Sender` the operation was added with.
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded(0);
    /// let receiver = weft::go(move || rx.recv().unwrap());
    /// let mut sel = Select::new();
    /// sel.send(&tx);
    /// sel.select().send(&tx, 'x').unwrap();
    /// assert_eq!(receiver.join().unwrap(), 'x');
    /// ```
    pub fn send<T>(self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        self.token.assert_on(s, "Sender");
        ManuallyDrop::new(self).token.send(s, msg)
    }

    /// Completes a receive operation; an error if the channel is
    /// disconnected and empty.
    ///
    /// # Panics
    ///
    /// If `r` is not the `Receiver` the operation was added with.
    ///
    /// ```
    /// use weft::channel::{bounded, Select};
    ///
    /// let (tx, rx) = bounded::<u8>(0);
    /// drop(tx);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select().recv(&rx).is_err());
    /// ```
    pub fn recv<T>(self, r: &Receiver<T>) -> Result<T, RecvError> {
        self.token.assert_on(r, "Receiver");
        ManuallyDrop::new(self).token.recv(r)
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        self.token.release();
        if !std::thread::panicking() {
            panic!("a `SelectedOperation` was dropped without being completed");
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.token.index)
            .finish_non_exhaustive()
    }
}
