//! Coroutine ids: process-unique, handed out in per-thread blocks.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-unique coroutine identifier.
///
/// ```
/// let a = weft::go(|| weft::current().unwrap().id()).join().unwrap();
/// let b = weft::go(|| weft::current().unwrap().id()).join().unwrap();
/// assert_ne!(a, b);
/// println!("first coroutine was {a}");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CoroutineId(NonZeroU64);

impl CoroutineId {
    /// A fresh id. Each thread takes ids from the process-wide counter in
    /// blocks of `ID_BLOCK`, so spawning threads do not contend on it.
    pub(crate) fn next() -> CoroutineId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        const ID_BLOCK: u64 = 1024;
        thread_local! {
            /// The thread's block: next id, end (exclusive).
            static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let id = BLOCK
            .try_with(|b| {
                let (mut id, mut end) = b.get();
                if id == end {
                    id = NEXT.fetch_add(ID_BLOCK, Ordering::Relaxed);
                    end = id + ID_BLOCK;
                }
                b.set((id + 1, end));
                id
            })
            // During the thread's teardown: one id on its own.
            .unwrap_or_else(|_| NEXT.fetch_add(1, Ordering::Relaxed));
        CoroutineId(NonZeroU64::new(id).expect("coroutine ids exhausted"))
    }

    /// The id as a number.
    ///
    /// ```
    /// let id = weft::go(|| weft::current().unwrap().id()).join().unwrap();
    /// assert!(id.as_u64() > 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
