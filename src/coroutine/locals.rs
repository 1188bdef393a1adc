//! Coroutine-local storage: [`CoroutineLocal`], declared with
//! [`coroutine_local!`](crate::coroutine_local), over the per-coroutine
//! `Locals` record (`task/locals.rs`).
//!
//! # Where the values live
//!
//! A `thread_local!` is shared by every coroutine of a worker thread, so
//! per-coroutine values need a home of their own. A coroutine's `Locals` hangs
//! off one pointer in its frame (`task/frame.rs`), on top of its own stack: the
//! task record keeps its 128-byte size class, and a coroutine that never
//! touches a coroutine-local (or, with the `tracing` feature, never parks
//! inside a span) never allocates one. The record is a short list of `(key,
//! boxed value)` slots; the key is the address of the `static` that
//! `coroutine_local!` declares, and a linear scan finds it (a coroutine uses a
//! handful at most). Each value is boxed on its own, so a `with` that
//! initialises another key (and grows the list) leaves the value the caller
//! borrows where it is.
//!
//! # Life of a value
//!
//! 1. The first `with` in a coroutine runs the initialiser and stores the
//!    value in the coroutine's slot list; later calls find it there.
//! 2. A coroutine starts with no values: a spawned coroutine does not inherit
//!    its parent's (Go's goroutines have no identity to inherit by, and
//!    Java's virtual threads do not inherit plain `ThreadLocal`s either).
//! 3. When the coroutine's closure returns or unwinds (a panic, or a
//!    cancellation when its runtime is dropped), its values are dropped on
//!    the coroutine itself, before its joiner sees its result: a destructor
//!    may still use weft, and may use other coroutine-locals, which are
//!    dropped in a later round if it initialises them again (at most
//!    `DESTRUCTOR_ROUNDS` rounds, as POSIX bounds thread-specific data).
//! 4. On a plain thread (and on a worker thread outside any coroutine) a
//!    `CoroutineLocal` is the thread-local that `coroutine_local!` declares
//!    beside it, with the same initialiser.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::thread::LocalKey;

use crate::runtime::current_task;

/// Rounds of destructors at a coroutine's end (step 3).
const DESTRUCTOR_ROUNDS: usize = 4;

/// A key for coroutine-local storage: each coroutine that uses it gets its
/// own value, created on first use and dropped when the coroutine ends.
///
/// Declared with [`coroutine_local!`](crate::coroutine_local), and read
/// with [`with`](CoroutineLocal::with), the shape of `std::thread_local!`.
/// On a plain thread it is a thread-local.
///
/// ```
/// use std::cell::Cell;
///
/// weft::coroutine_local! {
///     static REQUEST: Cell<u32> = Cell::new(0);
/// }
///
/// let hs: Vec<_> = (1..=3)
///     .map(|id| {
///         weft::go(move || {
///             REQUEST.with(|r| r.set(id));
///             weft::yield_now(); // the others run and set theirs
///             REQUEST.with(Cell::get)
///         })
///     })
///     .collect();
/// let seen: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(seen, [1, 2, 3]);
/// ```
pub struct CoroutineLocal<T: 'static> {
    thread: &'static LocalKey<T>,
    init: fn() -> T,
}

impl<T: 'static> CoroutineLocal<T> {
    #[doc(hidden)]
    /// Used by `coroutine_local!`: `thread` is the thread-local for plain
    /// threads, `init` the initialiser for coroutines.
    pub const fn new(thread: &'static LocalKey<T>, init: fn() -> T) -> CoroutineLocal<T> {
        CoroutineLocal { thread, init }
    }

    /// Calls `f` with this coroutine's value, initialising it first if this
    /// coroutine has not used it yet. On a plain thread, it is the thread's
    /// value.
    ///
    /// # Panics
    ///
    /// On a plain thread, where `LocalKey::with` panics (the thread-local
    /// was already destroyed).
    ///
    /// ```
    /// use std::cell::RefCell;
    ///
    /// weft::coroutine_local! {
    ///     static TRAIL: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    /// }
    ///
    /// let trail = weft::go(|| {
    ///     TRAIL.with(|t| t.borrow_mut().push("parsed"));
    ///     weft::sleep(std::time::Duration::from_millis(1));
    ///     TRAIL.with(|t| t.borrow_mut().push("answered"));
    ///     TRAIL.with(|t| t.borrow().clone())
    /// });
    /// assert_eq!(trail.join().unwrap(), ["parsed", "answered"]);
    /// // This thread has its own, untouched value.
    /// assert!(TRAIL.with(|t| t.borrow().is_empty()));
    /// ```
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match current_task() {
            Some(task) => f(downcast(
                task.locals()
                    .get_or_init(self.key(), || Box::new((self.init)())),
            )),
            None => self.thread.with(f),
        }
    }

    /// This key's identity: the address of its `static`.
    fn key(&'static self) -> *const () {
        (self as *const Self).cast()
    }
}

impl<T: 'static> fmt::Debug for CoroutineLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoroutineLocal").finish_non_exhaustive()
    }
}

/// Declares coroutine-local statics: each coroutine gets its own value,
/// created on first use and dropped when the coroutine ends.
///
/// The syntax is `thread_local!`'s (attributes, visibility, several
/// declarations). Each declaration makes a `static NAME:`
/// [`CoroutineLocal<T>`], read with [`CoroutineLocal::with`]. A spawned
/// coroutine starts with fresh values, not its parent's. On a plain thread
/// the key is an ordinary thread-local.
///
/// ```
/// use std::cell::Cell;
///
/// weft::coroutine_local! {
///     /// Bytes this coroutine has sent.
///     pub static SENT: Cell<usize> = Cell::new(0);
///     static NAME: String = String::from("anonymous");
/// }
///
/// let h = weft::go(|| {
///     SENT.with(|s| s.set(s.get() + 10));
///     (SENT.with(Cell::get), NAME.with(|n| n.clone()))
/// });
/// assert_eq!(h.join().unwrap(), (10, "anonymous".to_string()));
/// assert_eq!(weft::go(|| SENT.with(Cell::get)).join().unwrap(), 0);
/// ```
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::coroutine_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::CoroutineLocal<$t> = {
            ::std::thread_local! {
                static THREAD: $t = $init;
            }
            fn init() -> $t {
                $init
            }
            $crate::CoroutineLocal::new(&THREAD, init)
        };
    };
}

/// A slot's value as the type its key declares.
fn downcast<T: 'static>(value: &dyn Any) -> &T {
    value
        .downcast_ref()
        .expect("one CoroutineLocal key, one type")
}

/// Step 3: drops the running coroutine's values, on the coroutine, in
/// rounds. Returns the first panic a destructor raised, if any (the others
/// are dropped; a cancellation unwind from a destructor that waited on weft
/// counts as none).
pub(crate) fn drop_values() -> Option<Box<dyn Any + Send>> {
    let task = current_task()?;
    let mut first_panic = None;
    for _ in 0..DESTRUCTOR_ROUNDS {
        let Some(locals) = task.existing_locals() else {
            break;
        };
        let slots = locals.take_values();
        if slots.is_empty() {
            break;
        }
        for slot in slots {
            let drop_one = AssertUnwindSafe(move || drop(slot));
            if let Err(payload) = panic::catch_unwind(drop_one) {
                let cancelled = payload.is::<crate::runtime::park::Cancelled>();
                if first_panic.is_none() && !cancelled {
                    first_panic = Some(payload);
                }
            }
        }
    }
    first_panic
}
