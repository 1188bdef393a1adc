//! `RwLock`: many readers or one writer; waiters park.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr;

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use crate::loom::Lock;
use crate::task::Owner;
use crate::task::{Kind, WaitFor};

const READ: usize = 0;
const WRITE: usize = 1;

/// A reader-writer lock for coroutines and threads: any number of readers
/// or one writer. Waiting readers and writers park (or block a thread) and
/// are served in arrival order, so a stream of readers cannot starve a
/// writer: once a writer waits, later readers queue behind it. No
/// poisoning.
///
/// ```
/// use weft::sync::RwLock;
///
/// let config = RwLock::new(String::from("v1"));
/// {
///     let a = config.read();
///     let b = config.read(); // readers share
///     assert_eq!(*a, *b);
/// }
/// config.write().push_str("-patched");
/// assert_eq!(*config.read(), "v1-patched");
/// ```
pub struct RwLock<T: ?Sized> {
    state: Lock<State>,
    /// The writer holding it, for dumps (`task/owner.rs`); 0 while readers
    /// or nobody hold it. Written under `state`'s lock.
    owner: Owner,
    data: UnsafeCell<T>,
}

struct State {
    readers: usize,
    writer: bool,
    /// Entries' operations are `READ` or `WRITE`.
    waiters: WaitList,
}

/// Whether `op` is compatible with the current holders.
fn fits(readers: usize, writer: bool, op: usize) -> bool {
    !writer && (op == READ || readers == 0)
}

impl State {
    fn take(&mut self, op: usize) {
        if op == READ {
            self.readers += 1;
        } else {
            self.writer = true;
        }
    }

    /// Takes `op` for a newcomer, if it fits and nobody waits before it.
    fn try_take(&mut self, op: usize) -> bool {
        let ok = fits(self.readers, self.writer, op) && self.waiters.is_empty();
        if ok {
            self.take(op);
        }
        ok
    }

    /// Grants the lock to the waiters at the front of the queue that can
    /// have it now, oldest first: one writer, or every reader up to the
    /// next writer. A writer granted it is recorded in `owner`.
    fn grant(&mut self, owner: &Owner) {
        loop {
            let (readers, writer) = (self.readers, self.writer);
            let Some(claim) = self.waiters.claim_front(|op| fits(readers, writer, op)) else {
                return;
            };
            self.take(claim.op());
            if claim.op() == WRITE {
                owner.set(claim.waiter_addr());
            }
            claim.complete();
        }
    }
}

// SAFETY: readers share `&T` across threads (so `T: Sync`) and a writer gets
// `&mut T` (so `T: Send`), as for `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]; released on drop.
///
/// ```
/// let lock = weft::sync::RwLock::new(1);
/// let r = lock.read();
/// assert_eq!(*r, 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a T>,
}

/// Exclusive access to an [`RwLock`]; released on drop.
///
/// ```
/// let lock = weft::sync::RwLock::new(1);
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a mut T>,
}

impl<T> RwLock<T> {
    const_unless_loom! {
        /// A new, unlocked lock.
        ///
        /// ```
        /// static TABLE: weft::sync::RwLock<Vec<u32>> = weft::sync::RwLock::new(Vec::new());
        /// TABLE.write().push(1);
        /// ```
        pub fn new(value: T) -> RwLock<T> {
            RwLock {
                state: Lock::new(State {
                    readers: 0,
                    writer: false,
                    waiters: WaitList::new(),
                }),
                owner: Owner::new(),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock, returning the value.
    ///
    /// ```
    /// assert_eq!(weft::sync::RwLock::new(4).into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared access, waiting while a writer holds or waits for the lock.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// assert_eq!(*lock.read(), 0);
    /// ```
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.acquire(READ);
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Exclusive access, waiting while anyone else holds the lock.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// *lock.write() = 9;
    /// assert_eq!(*lock.read(), 9);
    /// ```
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.acquire(WRITE);
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Shared access if that needs no waiting.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        // The guard is made only on success: dropping one unlocks.
        let taken = self.state.lock().try_take(READ);
        taken.then(|| RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Exclusive access if that needs no waiting.
    ///
    /// ```
    /// let lock = weft::sync::RwLock::new(0);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut st = self.state.lock();
        let taken = st.try_take(WRITE);
        if taken {
            self.owner.set_here();
        }
        drop(st);
        taken.then(|| RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// A mutable reference, without locking.
    ///
    /// ```
    /// let mut lock = weft::sync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn acquire(&self, op: usize) {
        let kind = if op == WRITE {
            Kind::RwWrite
        } else {
            Kind::RwRead
        };
        let cx = Context::new(WaitFor::at(kind, &self.owner));
        let mut waiting = None;
        loop {
            let mut st = self.state.lock();
            if st.try_take(op) {
                if op == WRITE {
                    self.owner.set_here();
                }
                return;
            }
            // Counted among the runtime's lock waiters (the deadlock watch).
            waiting.get_or_insert_with(waiter::lock_wait);
            // SAFETY: `cx` stays in this frame, unlinked again before it
            // goes or registers anew: by the releaser's claim (`grant`), or
            // by the `unregister` below. `grant` reads no packet.
            unsafe { st.waiters.register(&cx, op, ptr::null_mut()) };
            drop(st);
            match cx.wait(None) {
                // The releaser granted it to us (see `grant`).
                Outcome::Selected(_) => return,
                Outcome::TimedOut | Outcome::Cancelled => {
                    let mut st = self.state.lock();
                    st.waiters.unregister(&cx);
                    // Our place in the queue may have held others back.
                    st.grant(&self.owner);
                    drop(st);
                    waiter::checkpoint();
                    cx.reset();
                }
            }
        }
    }

    fn read_unlock(&self) {
        let mut st = self.state.lock();
        st.readers -= 1;
        if st.readers == 0 {
            st.grant(&self.owner);
        }
    }

    fn write_unlock(&self) {
        let mut st = self.state.lock();
        st.writer = false;
        self.owner.set(0);
        st.grant(&self.owner);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard proves no writer holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a write guard proves exclusive access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
