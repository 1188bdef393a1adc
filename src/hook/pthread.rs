//! The pthread and semaphore waits that C libraries use:
//! `pthread_mutex_lock`, `pthread_mutex_timedlock`, `pthread_cond_wait`,
//! `pthread_cond_timedwait`, `pthread_join`, `pthread_timedjoin_np`,
//! `sem_wait` and `sem_timedwait`.
//!
//! They wait in the kernel on a futex, from inside libc, where the `syscall`
//! hook does not see them. In a coroutine each runs as a blocking call
//! (`runtime/takeover.rs`): if it lasts, another thread of the worker runs
//! the worker's other coroutines, among them, perhaps, the one that holds
//! the mutex or will post the semaphore. The call itself is libc's own
//! (`real.rs`), so every mutex kind, robust and priority-inheriting ones
//! included, behaves as libc makes it. Outside coroutines each is libc's
//! call, unchanged.
//!
//! # Why interposing them is sound
//!
//! - The coroutine that waits continues on the thread it waited on
//!   (`runtime/takeover.rs`, steps 2 and 5), so a mutex it locks is owned
//!   by the thread it then runs on, and `pthread_cond_wait` gives its mutex
//!   back to that same thread.
//! - libc's waits report through their return value. While they wait they touch
//!   only the waiting thread's own `struct pthread` (its thread id and
//!   cancellation state), which no coroutine reaches through an address kept
//!   across a park (`runtime/takeover.rs`, "Why it is sound", point 3). The
//!   semaphore waits are the one exception: a failed one (`EINTR`, `ETIMEDOUT`)
//!   writes its thread's `errno` as it returns, before it holds the worker
//!   again. Rust code reads `errno` through a fresh `__errno_location()` call
//!   each time, so only C code that kept the address of another thread's
//!   `errno` across a park could see that write.
//! - A mutex kind that checks its owner (error-checking, recursive,
//!   priority-inheriting) cannot be unlocked from another thread. A
//!   coroutine that locks one and then parks may resume on another thread
//!   of its worker if a sibling's blocking call was taken over meanwhile;
//!   its unlock then fails with `EPERM`. That follows from take-over itself,
//!   not from these hooks; the README's limits say so.
//!
//! An uncontended mutex lock or semaphore wait stays on libc's fast path: a
//! coroutine first tries it (`pthread_mutex_trylock`, `sem_trywait`) and
//! marks a blocking call only if that fails. The condition and join waits
//! are blocking calls at once.

use libc::{c_int, c_void, pthread_cond_t, pthread_mutex_t, pthread_t, sem_t, timespec};

use super::real;
use crate::runtime::{blocking_call, current_task};
use crate::sys;

/// The pthread waits, for a dump (each a futex wait inside libc).
static MUTEX_CALL: crate::task::Call = crate::task::Call("futex (pthread_mutex_lock)");
static COND_CALL: crate::task::Call = crate::task::Call("futex (pthread_cond_wait)");
static JOIN_CALL: crate::task::Call = crate::task::Call("futex (pthread_join)");
static SEM_CALL: crate::task::Call = crate::task::Call("futex (sem_wait)");

/// `pthread_mutex_lock(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_mutex_lock(mutex: *mut pthread_mutex_t) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for pthread_mutex_lock(3).
        return unsafe { real::pthread_mutex_lock(mutex) };
    }
    // SAFETY: as above; trylock takes the same argument.
    match unsafe { real::pthread_mutex_trylock(mutex) } {
        // Taken, or taken from an owner that died (a robust mutex): what
        // `lock` would have answered.
        r @ (0 | libc::EOWNERDEAD) => r,
        // Busy, or an answer `lock` gives without waiting (EDEADLK, EINVAL).
        // SAFETY: as above.
        _ => blocking_call(&MUTEX_CALL, || unsafe { real::pthread_mutex_lock(mutex) }),
    }
}

/// `pthread_mutex_timedlock(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_mutex_timedlock(
    mutex: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for pthread_mutex_timedlock(3).
        return unsafe { real::pthread_mutex_timedlock(mutex, abstime) };
    }
    // SAFETY: as above; trylock takes the same mutex.
    match unsafe { real::pthread_mutex_trylock(mutex) } {
        r @ (0 | libc::EOWNERDEAD) => r,
        // SAFETY: as above.
        _ => blocking_call(&MUTEX_CALL, || unsafe {
            real::pthread_mutex_timedlock(mutex, abstime)
        }),
    }
}

/// `pthread_cond_wait(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_wait(
    cond: *mut pthread_cond_t,
    mutex: *mut pthread_mutex_t,
) -> c_int {
    // SAFETY: the caller's contract for pthread_cond_wait(3).
    blocking_call(&COND_CALL, || unsafe {
        real::pthread_cond_wait(cond, mutex)
    })
}

/// `pthread_cond_timedwait(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_timedwait(
    cond: *mut pthread_cond_t,
    mutex: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the caller's contract for pthread_cond_timedwait(3).
    blocking_call(&COND_CALL, || unsafe {
        real::pthread_cond_timedwait(cond, mutex, abstime)
    })
}

/// `pthread_join(3)`: `std::thread::JoinHandle::join` ends here.
#[no_mangle]
pub unsafe extern "C" fn pthread_join(thread: pthread_t, retval: *mut *mut c_void) -> c_int {
    // SAFETY: the caller's contract for pthread_join(3).
    blocking_call(&JOIN_CALL, || unsafe { real::pthread_join(thread, retval) })
}

/// `pthread_timedjoin_np(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_timedjoin_np(
    thread: pthread_t,
    retval: *mut *mut c_void,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the caller's contract for pthread_timedjoin_np(3).
    blocking_call(&JOIN_CALL, || unsafe {
        real::pthread_timedjoin_np(thread, retval, abstime)
    })
}

/// `sem_wait(3)`.
#[no_mangle]
pub unsafe extern "C" fn sem_wait(sem: *mut sem_t) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for sem_wait(3).
        return unsafe { real::sem_wait(sem) };
    }
    // SAFETY: as above; sem_trywait takes the same argument.
    if unsafe { sem_try(sem) } {
        return 0;
    }
    // SAFETY: as above.
    blocking_call(&SEM_CALL, || unsafe { real::sem_wait(sem) })
}

/// `sem_timedwait(3)`.
#[no_mangle]
pub unsafe extern "C" fn sem_timedwait(sem: *mut sem_t, abstime: *const timespec) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for sem_timedwait(3).
        return unsafe { real::sem_timedwait(sem, abstime) };
    }
    // SAFETY: as above; sem_trywait takes the same semaphore.
    if unsafe { sem_try(sem) } {
        return 0;
    }
    // SAFETY: as above.
    blocking_call(&SEM_CALL, || unsafe { real::sem_timedwait(sem, abstime) })
}

/// A coroutine's first try at `sem`, before it marks a blocking call:
/// whether `sem_trywait` took it. A failed try's `EAGAIN` is not the
/// caller's to see, so `errno` is put back as it was.
///
/// # Safety
///
/// The caller's contract for sem_trywait(3).
unsafe fn sem_try(sem: *mut sem_t) -> bool {
    let errno = sys::errno();
    // SAFETY: the caller's contract.
    if unsafe { real::sem_trywait(sem) } == 0 {
        return true;
    }
    sys::set_errno(errno);
    false
}
