//! Waiting for an fd: parking a coroutine on its worker's poller, or
//! blocking a plain thread in `poll(2)`; and the loop every blocking hook
//! runs (`blocking_io`).

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fd_table::{self, Slot, KNOWN, SOCKET, STREAM, USER_NB, WEFT_NB};
use super::Direction;
use crate::runtime::park::{self, Unparker};
use crate::runtime::{current_task, current_worker, Local};
use crate::sys::{self, raw, FdKind};

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Maybe ready: try the call again.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// The fd was closed meanwhile.
    Closed,
    /// The coroutine is being cancelled by its runtime's shutdown.
    Cancelled,
}

/// A libc-style return value: -1 means failure with `errno` set.
pub(crate) trait Ret: Copy {
    const FAIL: Self;
    fn failed(self) -> bool;
    /// The byte count of a successful transfer.
    fn amount(self) -> usize;
}

impl Ret for isize {
    const FAIL: isize = -1;
    fn failed(self) -> bool {
        self == -1
    }
    fn amount(self) -> usize {
        self.max(0) as usize
    }
}

impl Ret for i32 {
    const FAIL: i32 = -1;
    fn failed(self) -> bool {
        self == -1
    }
    fn amount(self) -> usize {
        self.max(0) as usize
    }
}

/// The slot of `fd`, classifying the fd on first use in a coroutine (step 1
/// of the module protocol). `None` for an fd weft cannot track.
pub(crate) fn classify(fd: RawFd) -> Option<&'static Slot> {
    let slot = fd_table::get_or_alloc(fd)?;
    if slot.state().has(KNOWN) {
        return Some(slot);
    }
    // Inherited stdio is shared with other processes: never touch it.
    if fd <= 2 {
        slot.set_flags(KNOWN);
        return Some(slot);
    }
    match sys::fd_kind(fd) {
        FdKind::Socket => {
            // SAFETY: F_GETFL on an open fd only reads its flags.
            let fl = unsafe { raw::fcntl(fd, libc::F_GETFL, 0) };
            if fl == -1 {
                return Some(slot);
            }
            let stream = if socket_type(fd) == libc::SOCK_STREAM {
                STREAM
            } else {
                0
            };
            let flags = stream
                | if fl & libc::O_NONBLOCK != 0 {
                    KNOWN | SOCKET | USER_NB
                } else {
                    // SAFETY: F_SETFL with the fd's own flags plus O_NONBLOCK.
                    if unsafe { raw::fcntl(fd, libc::F_SETFL, (fl | libc::O_NONBLOCK) as usize) }
                        == -1
                    {
                        return Some(slot);
                    }
                    KNOWN | SOCKET | WEFT_NB
                };
            slot.recv_timeout
                .store(socket_timeout(fd, libc::SO_RCVTIMEO), Ordering::Relaxed);
            slot.send_timeout
                .store(socket_timeout(fd, libc::SO_SNDTIMEO), Ordering::Relaxed);
            slot.set_flags(flags);
        }
        FdKind::Other => slot.set_flags(KNOWN),
        FdKind::Invalid => {}
    }
    Some(slot)
}

/// `SO_TYPE` of a socket.
fn socket_type(fd: RawFd) -> libc::c_int {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one int.
    unsafe {
        raw::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    ty
}

/// The kernel's `SO_RCVTIMEO` or `SO_SNDTIMEO` of `fd`, in nanoseconds.
fn socket_timeout(fd: RawFd, opt: libc::c_int) -> u64 {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `tv`.
    let rc = unsafe {
        raw::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if rc == -1 {
        return 0;
    }
    tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000
}

/// Records a socket a hook just created in a coroutine with `SOCK_NONBLOCK`
/// forced on (`socket`, `accept4`, `socketpair`).
pub(crate) fn register_new(fd: RawFd, user_nonblocking: bool, stream: bool) {
    let Some(slot) = fd_table::get_or_alloc(fd) else {
        return;
    };
    if slot.state().flags != 0 {
        forget_slot(slot, fd);
    }
    let nb = if user_nonblocking { USER_NB } else { WEFT_NB };
    slot.set_flags(KNOWN | SOCKET | nb | if stream { STREAM } else { 0 });
}

/// Whether `fd` is known to be a stream socket.
pub(crate) fn is_stream(fd: RawFd) -> bool {
    fd_table::get(fd).is_some_and(|s| s.state().has(STREAM))
}

/// Forgets `fd` before it is closed or replaced: a new generation, and every
/// poller registration dropped with its waiters woken (they see `Closed`).
pub(crate) fn forget(fd: RawFd) {
    if let Some(slot) = fd_table::get(fd) {
        if slot.state().flags != 0 {
            forget_slot(slot, fd);
        }
    }
}

fn forget_slot(slot: &Slot, fd: RawFd) {
    slot.reset();
    if crate::runtime::outside_weft() {
        // A forked child: the pollers and their locks are the parent's
        // (`runtime/fork.rs`, step 2). Its own copy of the record is reset.
        return;
    }
    let registrations = std::mem::take(&mut *slot.registrations.lock().unwrap());
    for (poller, key) in registrations {
        poller.forget(fd, key);
    }
}

/// Runs `op`, a non-blocking attempt of a blocking call on `fd`, until it
/// stops failing with `EAGAIN`, parking the coroutine (or blocking the
/// thread) in between, with the socket's timeout for `dir`. `want` is the
/// byte count asked for (0 if unknown): on a stream socket, a transfer
/// shorter than that shows the socket drained (or full), and the next call
/// on this worker parks without trying (`readiness.rs`).
///
/// Fds weft does not manage (not sockets, the user's own non-blocking ones,
/// and on plain threads any fd weft never touched) run `op` once, unchanged.
#[inline]
pub(crate) fn blocking_io<R: Ret>(
    fd: RawFd,
    dir: Direction,
    want: usize,
    mut op: impl FnMut() -> R,
) -> R {
    match managed(fd) {
        Some(slot) => retry(slot, fd, dir, want, op),
        None => op(),
    }
}

/// The slot of `fd` if weft manages it: a socket weft made non-blocking
/// behind the user's back, on which calls must block or park. Classifies
/// the fd on first use in a coroutine; on a plain thread only looks.
#[inline]
pub(crate) fn managed(fd: RawFd) -> Option<&'static Slot> {
    let slot = if current_task().is_some() {
        classify(fd)
    } else {
        fd_table::get(fd)
    };
    slot.filter(|s| s.state().is_managed())
}

/// The loop of `blocking_io` on a managed socket.
pub(crate) fn retry<R: Ret>(
    slot: &Slot,
    fd: RawFd,
    dir: Direction,
    want: usize,
    mut op: impl FnMut() -> R,
) -> R {
    let worker = current_worker().filter(|_| current_task().is_some());
    let state = slot.state();
    let generation = state.generation;
    let infer = want > 0 && state.has(STREAM);
    let mut deadline = None;
    let timeout = match dir {
        Direction::Read => &slot.recv_timeout,
        Direction::Write => &slot.send_timeout,
    }
    .load(Ordering::Relaxed);
    loop {
        let key = worker.and_then(|w| w.cached_registration(fd, generation));
        let readiness = worker.zip(key).map(|(w, key)| (w.readiness(), key));
        // Known empty (or full) on this worker: wait for the edge first.
        let known_empty = readiness.is_some_and(|(r, key)| !r.is_ready(key, generation, dir));
        if !known_empty {
            let r = op();
            if !r.failed() {
                if infer && r.amount() < want {
                    // Short: the socket is drained (or full) for now.
                    if let Some((readiness, key)) = readiness {
                        readiness.clear(key, generation, dir);
                    }
                }
                return r;
            }
            if sys::errno() != libc::EAGAIN {
                return r;
            }
            if let Some((readiness, key)) = readiness {
                readiness.clear(key, generation, dir);
            }
        }
        if timeout != 0 && deadline.is_none() {
            deadline = Instant::now().checked_add(Duration::from_nanos(timeout));
        }
        let outcome = if worker.is_some() {
            wait_any(&[(fd, dir)], deadline)
        } else {
            block_thread(fd, dir, deadline)
        };
        match outcome {
            Wait::Ready => {}
            Wait::TimedOut => {
                sys::set_errno(libc::EAGAIN);
                return R::FAIL;
            }
            Wait::Closed => {
                sys::set_errno(libc::EBADF);
                return R::FAIL;
            }
            Wait::Cancelled => {
                sys::set_errno(libc::ECANCELED);
                return R::FAIL;
            }
        }
    }
}

/// A transfer of `len` bytes that a blocking call would complete in one go
/// (a `send` on a stream socket, a `recv` with `MSG_WAITALL`): `op(done)`
/// moves bytes from offset `done`. On a socket weft manages it keeps going
/// (waiting whenever the socket is full or empty) until all is done, the
/// peer closes, a timeout passes or an error occurs, and returns the count,
/// as the kernel's blocking call does. Elsewhere it is `op(0)`.
pub(crate) fn blocking_all(
    fd: RawFd,
    dir: Direction,
    len: usize,
    mut op: impl FnMut(usize) -> isize,
) -> isize {
    match managed(fd) {
        Some(slot) => transfer_all(slot, fd, dir, len, op),
        None => op(0),
    }
}

/// `blocking_all` on a socket weft manages.
pub(crate) fn transfer_all(
    slot: &Slot,
    fd: RawFd,
    dir: Direction,
    len: usize,
    mut op: impl FnMut(usize) -> isize,
) -> isize {
    let mut done = 0;
    loop {
        let r = retry(slot, fd, dir, len - done, || op(done));
        if r.failed() {
            return if done > 0 { done as isize } else { -1 };
        }
        done += r as usize;
        if done >= len || r == 0 {
            return done as isize;
        }
    }
}

/// Blocks a plain thread until `fd` is ready for `dir` or `deadline`.
pub(crate) fn block_thread(fd: RawFd, dir: Direction, deadline: Option<Instant>) -> Wait {
    let events = match dir {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Wait::TimedOut;
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { raw::poll(&mut pfd, 1, timeout_ms) };
        if n > 0 {
            return if pfd.revents & libc::POLLNVAL != 0 {
                Wait::Closed
            } else {
                Wait::Ready
            };
        }
        if n == -1 && sys::errno() != libc::EINTR {
            return Wait::Ready; // let the call itself report the error
        }
    }
}

/// Parks the current coroutine until one of `fds` may be ready for its
/// direction, `deadline` passes, or one is closed (steps 3-5 of the module
/// protocol). An fd epoll refuses (regular files) counts as ready, as
/// `poll(2)` reports such files; if it is the only one, the thread blocks in
/// `poll(2)` instead.
pub(crate) fn wait_any(fds: &[(RawFd, Direction)], deadline: Option<Instant>) -> Wait {
    if let [(fd, dir)] = *fds {
        return wait_one(fd, dir, deadline);
    }
    let worker = current_worker().expect("wait_any outside a worker");
    let task = park::current_ref().expect("wait_any outside a coroutine");
    if task.is_cancelled() {
        park::note_cancelled_call(&task);
        return Wait::Cancelled;
    }
    let poller = worker.poller();
    let mut joined: Vec<(&'static Slot, usize, u32, Direction)> = Vec::with_capacity(fds.len());
    let mut outcome = None;
    for &(fd, dir) in fds {
        let Some(slot) = fd_table::get_or_alloc(fd) else {
            outcome = Some(Wait::Ready);
            break;
        };
        let generation = slot.state().generation;
        let Some(key) = registration(slot, fd, generation) else {
            outcome = Some(Wait::Ready);
            break;
        };
        if !poller.add_waiter(key, generation, dir, Unparker::Task(task.clone())) {
            outcome = Some(Wait::Closed);
            break;
        }
        joined.push((slot, key, generation, dir));
    }
    let mut outcome = outcome.unwrap_or_else(|| park_until(worker, deadline));
    for &(slot, key, generation, dir) in &joined {
        poller.remove_waiter(key, generation, dir, &task);
        if slot.state().generation != generation {
            outcome = Wait::Closed;
        }
    }
    outcome
}

/// `wait_any` for one fd, the common case: no allocation, no lock but the
/// poller's.
fn wait_one(fd: RawFd, dir: Direction, deadline: Option<Instant>) -> Wait {
    let worker = current_worker().expect("wait_one outside a worker");
    let task = park::current_ref().expect("wait_one outside a coroutine");
    if task.is_cancelled() {
        park::note_cancelled_call(&task);
        return Wait::Cancelled;
    }
    let Some(slot) = fd_table::get_or_alloc(fd) else {
        return Wait::Ready;
    };
    let generation = slot.state().generation;
    let Some(key) = registration(slot, fd, generation) else {
        return block_thread(fd, dir, deadline);
    };
    let poller = worker.poller();
    if !poller.add_waiter(key, generation, dir, Unparker::Task(task.clone())) {
        return Wait::Closed;
    }
    let outcome = park_until(worker, deadline);
    poller.remove_waiter(key, generation, dir, &task);
    if slot.state().generation != generation {
        Wait::Closed
    } else {
        outcome
    }
}

/// Parks until unparked or `deadline`, counted among `worker`'s I/O
/// waiters meanwhile; `TimedOut` if the deadline passed.
fn park_until(worker: &Local, deadline: Option<Instant>) -> Wait {
    let _io = worker.io_wait();
    match deadline {
        Some(d) => park::park_deadline(d),
        None => park::park(),
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        Wait::TimedOut
    } else {
        Wait::Ready
    }
}

/// This worker's key for `fd` in its poller, registering it on first use.
/// `None` if epoll refuses the fd.
///
/// The worker caches its keys by fd and generation, so waiting again on an
/// fd takes no lock; the slot's list (locked only here, on first use, and by
/// `close`) tells `close` on any thread which pollers to clean up.
pub(crate) fn registration(slot: &Slot, fd: RawFd, generation: u32) -> Option<usize> {
    let worker = current_worker()?;
    if let Some(key) = worker.cached_registration(fd, generation) {
        return Some(key);
    }
    let poller = worker.poller();
    let key = {
        let mut regs = slot.registrations.lock().unwrap();
        match regs.iter().find(|(p, _)| Arc::ptr_eq(p, poller)) {
            Some(&(_, key)) => key,
            None => {
                let key = poller.register(fd, generation).ok()?;
                regs.push((poller.clone(), key));
                key
            }
        }
    };
    worker.cache_registration(fd, generation, key);
    Some(key)
}
