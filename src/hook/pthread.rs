//! The pthread and semaphore waits that C libraries use:
//! `pthread_mutex_lock`, `pthread_mutex_timedlock`, `pthread_cond_wait`,
//! `pthread_cond_timedwait`, `pthread_join`, `pthread_timedjoin_np`,
//! `sem_wait` and `sem_timedwait`.
//!
//! They wait in the kernel on a futex, from inside libc, where the `syscall`
//! hook does not see them. In a coroutine each runs as a blocking call
//! (`runtime/takeover.rs`): if it lasts, another thread of the worker runs
//! the worker's other coroutines, among them, perhaps, the one that holds
//! the mutex or will post the semaphore. The call itself is libc's, found
//! with `dlsym(RTLD_NEXT)` (the next definition after this executable's), so
//! every mutex kind, robust and priority-inheriting ones included, behaves
//! as libc makes it. Outside coroutines each is libc's call, unchanged.
//!
//! # Why interposing them is sound
//!
//! - The coroutine that waits continues on the thread it waited on (take-
//!   over, step 4), so a mutex it locks is owned by the thread it then runs
//!   on, and `pthread_cond_wait` gives its mutex back to that same thread.
//! - libc's waits report through their return value. While they wait they
//!   touch only the waiting thread's own `struct pthread` (its thread id
//!   and cancellation state), which no coroutine reaches through an address
//!   kept across a park (soundness, point 3). The semaphore waits are the
//!   one exception: a failed one (`EINTR`, `ETIMEDOUT`) writes its thread's
//!   `errno` as it returns, before it holds the worker again. Rust code
//!   reads `errno` through a fresh `__errno_location()` call each time, so
//!   only C code that kept the address of another thread's `errno` across a
//!   park could see that write.
//! - A mutex kind that checks its owner (error-checking, recursive,
//!   priority-inheriting) cannot be unlocked from another thread. A
//!   coroutine that locks one and then parks may resume on another thread
//!   of its worker if a sibling's blocking call was taken over meanwhile;
//!   its unlock then fails with `EPERM`. That follows from take-over itself,
//!   not from these hooks; the README's limits say so.
//!
//! Uncontended locks and posts stay on libc's fast path: a coroutine first
//! tries the lock (`pthread_mutex_trylock`, `sem_trywait`) and marks a
//! blocking call only if that fails.

use std::ffi::CStr;

use libc::{c_int, c_void, pthread_cond_t, pthread_mutex_t, pthread_t, sem_t, timespec};

use super::real::{real, Real};
use crate::runtime::{blocking_call, current_task};
use crate::sys;

/// The pthread waits, for a dump (each a futex wait inside libc).
static MUTEX_CALL: crate::task::Call = crate::task::Call("futex (pthread_mutex_lock)");
static COND_CALL: crate::task::Call = crate::task::Call("futex (pthread_cond_wait)");
static JOIN_CALL: crate::task::Call = crate::task::Call("futex (pthread_join)");
static SEM_CALL: crate::task::Call = crate::task::Call("futex (sem_wait)");

/// The version of `pthread_cond_*` that current programs link against
/// (libc keeps an older one beside it on x86_64).
#[cfg(target_arch = "x86_64")]
const COND_VERSION: &CStr = c"GLIBC_2.3.2";
#[cfg(not(target_arch = "x86_64"))]
const COND_VERSION: &CStr = c"GLIBC_2.17";

static MUTEX_LOCK: Real = Real::new(c"pthread_mutex_lock");
static MUTEX_TRYLOCK: Real = Real::new(c"pthread_mutex_trylock");
static MUTEX_TIMEDLOCK: Real = Real::new(c"pthread_mutex_timedlock");
static COND_WAIT: Real = Real::versioned(c"pthread_cond_wait", COND_VERSION);
static COND_TIMEDWAIT: Real = Real::versioned(c"pthread_cond_timedwait", COND_VERSION);
static JOIN: Real = Real::new(c"pthread_join");
static TIMEDJOIN: Real = Real::new(c"pthread_timedjoin_np");
static SEM_WAIT: Real = Real::new(c"sem_wait");
static SEM_TRYWAIT: Real = Real::new(c"sem_trywait");
static SEM_TIMEDWAIT: Real = Real::new(c"sem_timedwait");

type MutexFn = unsafe extern "C" fn(*mut pthread_mutex_t) -> c_int;
type MutexTimedFn = unsafe extern "C" fn(*mut pthread_mutex_t, *const timespec) -> c_int;
type CondFn = unsafe extern "C" fn(*mut pthread_cond_t, *mut pthread_mutex_t) -> c_int;
type CondTimedFn =
    unsafe extern "C" fn(*mut pthread_cond_t, *mut pthread_mutex_t, *const timespec) -> c_int;
type JoinFn = unsafe extern "C" fn(pthread_t, *mut *mut c_void) -> c_int;
type TimedJoinFn = unsafe extern "C" fn(pthread_t, *mut *mut c_void, *const timespec) -> c_int;
type SemFn = unsafe extern "C" fn(*mut sem_t) -> c_int;
type SemTimedFn = unsafe extern "C" fn(*mut sem_t, *const timespec) -> c_int;

/// `pthread_mutex_lock(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_mutex_lock(mutex: *mut pthread_mutex_t) -> c_int {
    // SAFETY: the libc functions of these names have these types.
    let (lock, trylock) = unsafe {
        (
            real::<MutexFn>(&MUTEX_LOCK),
            real::<MutexFn>(&MUTEX_TRYLOCK),
        )
    };
    if current_task().is_none() {
        // SAFETY: the caller's contract for pthread_mutex_lock(3).
        return unsafe { lock(mutex) };
    }
    // SAFETY: as above; trylock takes the same argument.
    match unsafe { trylock(mutex) } {
        // Taken, or taken from an owner that died (a robust mutex): what
        // `lock` would have answered.
        r @ (0 | libc::EOWNERDEAD) => r,
        // Busy, or an answer `lock` gives without waiting (EDEADLK, EINVAL).
        // SAFETY: as above.
        _ => blocking_call(&MUTEX_CALL, || unsafe { lock(mutex) }),
    }
}

/// `pthread_mutex_timedlock(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_mutex_timedlock(
    mutex: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the libc functions of these names have these types.
    let (lock, trylock) = unsafe {
        (
            real::<MutexTimedFn>(&MUTEX_TIMEDLOCK),
            real::<MutexFn>(&MUTEX_TRYLOCK),
        )
    };
    if current_task().is_none() {
        // SAFETY: the caller's contract for pthread_mutex_timedlock(3).
        return unsafe { lock(mutex, abstime) };
    }
    // SAFETY: as above.
    match unsafe { trylock(mutex) } {
        r @ (0 | libc::EOWNERDEAD) => r,
        // SAFETY: as above.
        _ => blocking_call(&MUTEX_CALL, || unsafe { lock(mutex, abstime) }),
    }
}

/// `pthread_cond_wait(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_wait(
    cond: *mut pthread_cond_t,
    mutex: *mut pthread_mutex_t,
) -> c_int {
    // SAFETY: the libc function of this name and version has this type.
    let wait = unsafe { real::<CondFn>(&COND_WAIT) };
    // SAFETY: the caller's contract for pthread_cond_wait(3).
    blocking_call(&COND_CALL, || unsafe { wait(cond, mutex) })
}

/// `pthread_cond_timedwait(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_cond_timedwait(
    cond: *mut pthread_cond_t,
    mutex: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the libc function of this name and version has this type.
    let wait = unsafe { real::<CondTimedFn>(&COND_TIMEDWAIT) };
    // SAFETY: the caller's contract for pthread_cond_timedwait(3).
    blocking_call(&COND_CALL, || unsafe { wait(cond, mutex, abstime) })
}

/// `pthread_join(3)`: `std::thread::JoinHandle::join` ends here.
#[no_mangle]
pub unsafe extern "C" fn pthread_join(thread: pthread_t, retval: *mut *mut c_void) -> c_int {
    // SAFETY: the libc function of this name has this type.
    let join = unsafe { real::<JoinFn>(&JOIN) };
    // SAFETY: the caller's contract for pthread_join(3).
    blocking_call(&JOIN_CALL, || unsafe { join(thread, retval) })
}

/// `pthread_timedjoin_np(3)`.
#[no_mangle]
pub unsafe extern "C" fn pthread_timedjoin_np(
    thread: pthread_t,
    retval: *mut *mut c_void,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the libc function of this name has this type.
    let join = unsafe { real::<TimedJoinFn>(&TIMEDJOIN) };
    // SAFETY: the caller's contract for pthread_timedjoin_np(3).
    blocking_call(&JOIN_CALL, || unsafe { join(thread, retval, abstime) })
}

/// `sem_wait(3)`.
#[no_mangle]
pub unsafe extern "C" fn sem_wait(sem: *mut sem_t) -> c_int {
    // SAFETY: the libc functions of these names have these types.
    let (wait, trywait) = unsafe { (real::<SemFn>(&SEM_WAIT), real::<SemFn>(&SEM_TRYWAIT)) };
    if current_task().is_none() {
        // SAFETY: the caller's contract for sem_wait(3).
        return unsafe { wait(sem) };
    }
    let errno = sys::errno();
    // SAFETY: as above; sem_trywait takes the same argument.
    if unsafe { trywait(sem) } == 0 {
        return 0;
    }
    // The failed try's EAGAIN is not the caller's to see.
    sys::set_errno(errno);
    // SAFETY: as above.
    blocking_call(&SEM_CALL, || unsafe { wait(sem) })
}

/// `sem_timedwait(3)`.
#[no_mangle]
pub unsafe extern "C" fn sem_timedwait(sem: *mut sem_t, abstime: *const timespec) -> c_int {
    // SAFETY: the libc functions of these names have these types.
    let (wait, trywait) = unsafe {
        (
            real::<SemTimedFn>(&SEM_TIMEDWAIT),
            real::<SemFn>(&SEM_TRYWAIT),
        )
    };
    if current_task().is_none() {
        // SAFETY: the caller's contract for sem_timedwait(3).
        return unsafe { wait(sem, abstime) };
    }
    let errno = sys::errno();
    // SAFETY: as above.
    if unsafe { trywait(sem) } == 0 {
        return 0;
    }
    sys::set_errno(errno);
    // SAFETY: as above.
    blocking_call(&SEM_CALL, || unsafe { wait(sem, abstime) })
}

/// Looks up every libc function this file calls through `Real` now, in
/// the process that builds a runtime, so that a forked child never does:
/// `dlsym` takes the loader's lock, which another thread may have held at
/// the fork (`hook::link`).
pub(super) fn resolve() {
    MUTEX_LOCK.get();
    MUTEX_TRYLOCK.get();
    MUTEX_TIMEDLOCK.get();
    COND_WAIT.get();
    COND_TIMEDWAIT.get();
    JOIN.get();
    TIMEDJOIN.get();
    SEM_WAIT.get();
    SEM_TRYWAIT.get();
    SEM_TIMEDWAIT.get();
}
