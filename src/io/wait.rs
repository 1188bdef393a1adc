//! Waiting for an fd: parking a coroutine on its worker's poller, or
//! blocking a plain thread in `poll(2)`; and the loop every blocking hook
//! runs (`retry`).

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fd_table::{
    self, Flags, Slot, KNOWN, PER_CALL, POLLED, SEQPACKET, SOCKET, STREAM, USER_NB, WEFT_NB,
};
use super::{Direction, Poller};
use crate::runtime::park::{self, Unparker};
use crate::runtime::{current_task, current_worker, Worker};
use crate::sys::{self, raw, FdKind};
use crate::task::{Kind, TaskRef, WaitFor};

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
    /// A plain thread's wait was interrupted by a signal whose handler
    /// does not restart calls (`block_thread`): the call fails with
    /// `EINTR`, as the kernel's blocking call would.
    Interrupted,
}

/// The deadline of a socket timeout of `nanos` (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`) that starts now; `None` for none (0) or one too far off.
pub(crate) fn deadline_after(nanos: u64) -> Option<Instant> {
    if nanos == 0 {
        return None;
    }
    Instant::now().checked_add(Duration::from_nanos(nanos))
}

impl Wait {
    /// The `errno` a call fails with after this outcome, `timed_out` for a
    /// deadline that passed; `None` for `Ready`: try the call again.
    pub(crate) fn errno(self, timed_out: libc::c_int) -> Option<libc::c_int> {
        match self {
            Wait::Ready => None,
            Wait::TimedOut => Some(timed_out),
            Wait::Closed => Some(libc::EBADF),
            Wait::Cancelled => Some(libc::ECANCELED),
            Wait::Interrupted => Some(libc::EINTR),
        }
    }
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
            // The description may be shared (a `try_clone` made on a plain
            // thread, an inherited or received fd): it is left as it is,
            // and coroutines ask each call not to block (`PER_CALL`).
            let mode = if fl & libc::O_NONBLOCK != 0 {
                USER_NB
            } else {
                PER_CALL
            };
            let flags = KNOWN | SOCKET | mode | type_flags(socket_type(fd));
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

/// The fd-table flags for a socket of type `ty` (`SOCK_STREAM`, ...,
/// without `SOCK_NONBLOCK` and `SOCK_CLOEXEC`).
pub(crate) fn type_flags(ty: libc::c_int) -> Flags {
    match ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) {
        libc::SOCK_STREAM => STREAM,
        libc::SOCK_SEQPACKET => SEQPACKET,
        _ => Flags::NONE,
    }
}

/// `SO_TYPE` of a socket (0 if `fd` is none).
fn socket_type(fd: RawFd) -> libc::c_int {
    sys::socket_int_option(fd, libc::SO_TYPE).unwrap_or(0)
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

/// Records a socket a hook just created in a coroutine (`socket`,
/// `accept4`, `socketpair`): `kind` holds its type flags (`type_flags`),
/// `weft_nb` says whether the hook forced `SOCK_NONBLOCK` on it (else its
/// description blocks and coroutines use `PER_CALL`).
pub(crate) fn register_new(fd: RawFd, user_nonblocking: bool, kind: Flags, weft_nb: bool) {
    let Some(slot) = fd_table::get_or_alloc(fd) else {
        return;
    };
    if !slot.state().flags.is_empty() {
        forget_slot(slot, fd);
    }
    let mode = if user_nonblocking {
        USER_NB
    } else if weft_nb {
        WEFT_NB
    } else {
        PER_CALL
    };
    slot.set_flags(KNOWN | SOCKET | mode | kind);
}

/// The type flags (`STREAM`, `SEQPACKET`) weft knows for socket `fd`.
pub(crate) fn kind_of(fd: RawFd) -> Flags {
    fd_table::get(fd).map_or(Flags::NONE, |s| s.state().flags & (STREAM | SEQPACKET))
}

/// A socket weft created non-blocking (`WEFT_NB`) has connected: gives
/// its description back the blocking mode the user expects, so the
/// socket can be shared, and switches it to `PER_CALL`. One `F_GETFL` and
/// one `F_SETFL`, once per connection. On failure it stays `WEFT_NB`.
pub(crate) fn connected(slot: &Slot, fd: RawFd) {
    restore_blocking(slot, fd);
}

/// `fd` is about to be seen by another process: passed with
/// `SCM_RIGHTS`, inherited by a spawned child, or kept across an
/// `execve`. If weft made its description non-blocking (`WEFT_NB`: a
/// listener created in a coroutine, or a socket whose `connect` has not
/// completed), gives it back the blocking mode the user expects first,
/// and switches the fd to `PER_CALL`, so the other process sees the
/// description as the user set it. Async-signal-safe (two `fcntl` calls).
pub(crate) fn share(fd: RawFd) {
    if let Some(slot) = fd_table::get(fd) {
        restore_blocking(slot, fd);
    }
}

/// Every fd weft made non-blocking that an `execve` would keep open (no
/// `FD_CLOEXEC`) is `share`d: called before a program is executed or a
/// child spawned.
pub(crate) fn share_inherited() {
    fd_table::for_each_with(WEFT_NB, |fd, slot| {
        // SAFETY: F_GETFD takes no argument.
        let fd_flags = unsafe { raw::fcntl(fd, libc::F_GETFD, 0) };
        if fd_flags != -1 && fd_flags & libc::FD_CLOEXEC == 0 {
            restore_blocking(slot, fd);
        }
    });
}

/// `connected` and `share`: a `WEFT_NB` socket's description blocks again,
/// and coroutines ask each call not to block (`PER_CALL`).
fn restore_blocking(slot: &Slot, fd: RawFd) {
    let state = slot.state();
    if !state.hides_nonblocking() {
        return;
    }
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { raw::fcntl(fd, libc::F_GETFL, 0) };
    // SAFETY: F_SETFL with the fd's own flags less O_NONBLOCK.
    if fl == -1 || unsafe { raw::fcntl(fd, libc::F_SETFL, (fl & !libc::O_NONBLOCK) as usize) } == -1
    {
        return;
    }
    slot.set_flags(state.flags & !WEFT_NB | PER_CALL);
}

/// Forgets `fd` before it is closed or replaced: a new generation, and every
/// poller registration dropped with its waiters woken (they see `Closed`).
pub(crate) fn forget(fd: RawFd) {
    if let Some(slot) = fd_table::get(fd) {
        if !slot.state().flags.is_empty() {
            forget_slot(slot, fd);
        }
    }
}

/// Lock-free and allocation-free unless some poller registered the fd
/// (`POLLED`): `close` of a pipe or a file, or of a socket no coroutine
/// waited on, is async-signal-safe.
fn forget_slot(slot: &Slot, fd: RawFd) {
    let ended = slot.reset();
    if !ended.has(POLLED) || crate::runtime::outside_weft() {
        // Nothing to deregister; or a forked child, where the pollers and
        // their locks are the parent's (`runtime/fork.rs`, step 2) and only
        // the child's own copy of the record is reset.
        return;
    }
    let registrations = std::mem::take(&mut *slot.registrations.lock().unwrap());
    for (poller, key) in registrations {
        poller.forget(fd, key, Unparker::unpark);
    }
}

/// The slot of `fd` if weft manages it: in a coroutine, a socket the user
/// expects to block, on which calls park; on a plain thread, a socket weft
/// made non-blocking behind the user's back, on which calls must wait in
/// `poll(2)`. Classifies the fd on first use in a coroutine; on a plain
/// thread only looks (no allocation, no lock).
#[inline]
pub(crate) fn managed(fd: RawFd) -> Option<&'static Slot> {
    if current_task().is_some() {
        classify(fd).filter(|s| s.state().is_managed())
    } else {
        // A plain thread: the kernel's call blocks by itself, except on a
        // socket whose description weft made non-blocking.
        fd_table::get(fd).filter(|s| s.state().hides_nonblocking())
    }
}

/// Runs `op`, a non-blocking attempt of a blocking call on `fd`, a socket
/// weft manages, until it stops failing with `EAGAIN`, parking the
/// coroutine (or blocking the thread) in between, with the socket's
/// timeout for `dir`. `want` is the byte count asked for (0 if unknown):
/// on a stream socket, a transfer shorter than that shows the socket
/// drained (or full), and the next call on this worker parks without
/// trying (`runtime/readiness.rs`).
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
        let key = worker.and_then(|w| w.driver().cached_registration(fd, generation));
        let readiness = worker
            .zip(key)
            .map(|(w, key)| (w.driver().readiness(), key));
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
        if deadline.is_none() {
            deadline = deadline_after(timeout);
        }
        let outcome = if worker.is_some() {
            wait_any(&[(fd, dir)], deadline)
        } else {
            block_thread(fd, dir, deadline)
        };
        if let Some(e) = outcome.errno(libc::EAGAIN) {
            sys::set_errno(e);
            return R::FAIL;
        }
    }
}

/// A transfer of `len` bytes that a blocking call would complete in one go
/// (a `send` on a stream socket, a `recv` with `MSG_WAITALL`) on a socket
/// weft manages: `op(done)` moves bytes from offset `done`. It keeps going
/// (waiting whenever the socket is full or empty) until all is done, the
/// peer closes, a timeout passes or an error occurs, and returns the count,
/// as the kernel's blocking call does.
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
///
/// A signal handler that runs meanwhile interrupts the wait as it would
/// the kernel's blocking call: `poll` reports `EINTR` whatever the
/// handler's flags, so the wait ends with `Interrupted` unless every
/// installed handler has `SA_RESTART` (the kernel does not say which
/// signal came; when handlers differ, one without `SA_RESTART` wins) and
/// the wait has no deadline (the kernel does not restart a socket call
/// with a timeout either).
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
        if n == -1 {
            if sys::errno() != libc::EINTR {
                return Wait::Ready; // let the call itself report the error
            }
            // The kernel never restarts a socket call with a timeout
            // (`SO_RCVTIMEO`, `SO_SNDTIMEO`): signal(7).
            if deadline.is_some() || !sys::handlers_restart() {
                return Wait::Interrupted;
            }
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
    let (worker, task) = match waiting_coroutine() {
        Ok(waiting) => waiting,
        Err(cancelled) => return cancelled,
    };
    let poller = worker.poller();
    let mut joined = Vec::with_capacity(fds.len());
    let mut outcome = None;
    for &(fd, dir) in fds {
        match Joined::join(poller, &task, fd, dir) {
            Ok(j) => joined.push(j),
            Err(NotJoined::Untracked | NotJoined::Refused) => {
                outcome = Some(Wait::Ready);
                break;
            }
            Err(NotJoined::Closed) => {
                outcome = Some(Wait::Closed);
                break;
            }
        }
    }
    let why = WaitFor::new(Kind::PollMany, fds.len());
    let mut outcome = outcome.unwrap_or_else(|| park_until(worker, deadline, why));
    for j in &joined {
        if j.leave(poller, &task) {
            outcome = Wait::Closed;
        }
    }
    outcome
}

/// `wait_any` for one fd, the common case: no allocation and, once this
/// worker has registered the fd, no lock but the poller's.
fn wait_one(fd: RawFd, dir: Direction, deadline: Option<Instant>) -> Wait {
    let (worker, task) = match waiting_coroutine() {
        Ok(waiting) => waiting,
        Err(cancelled) => return cancelled,
    };
    let poller = worker.poller();
    let joined = match Joined::join(poller, &task, fd, dir) {
        Ok(j) => j,
        Err(NotJoined::Untracked) => return Wait::Ready,
        Err(NotJoined::Refused) => return block_thread(fd, dir, deadline),
        Err(NotJoined::Closed) => return Wait::Closed,
    };
    let kind = match dir {
        Direction::Read => Kind::Read,
        Direction::Write => Kind::Write,
    };
    let outcome = park_until(worker, deadline, WaitFor::new(kind, fd as usize));
    if joined.leave(poller, &task) {
        Wait::Closed
    } else {
        outcome
    }
}

/// The worker and the coroutine of a wait on fds; `Err(Cancelled)` if the
/// coroutine's runtime is cancelling it.
#[inline(always)]
fn waiting_coroutine() -> Result<(&'static Worker, TaskRef), Wait> {
    let worker = current_worker().expect("wait_any outside a worker");
    let task = park::current_ref().expect("wait_any outside a coroutine");
    if task.is_cancelled() {
        park::note_cancelled_call(&task);
        return Err(Wait::Cancelled);
    }
    Ok((worker, task))
}

/// A coroutine among the waiters of an fd in its worker's poller (step 3
/// of the module protocol), until it `leave`s.
struct Joined {
    slot: &'static Slot,
    key: usize,
    generation: u32,
    dir: Direction,
}

/// Why a coroutine could not join an fd's waiters.
enum NotJoined {
    /// weft keeps no record of the fd (negative, or too large).
    Untracked,
    /// epoll refuses the fd (a regular file).
    Refused,
    /// The fd was closed since its generation was read.
    Closed,
}

impl Joined {
    /// Adds `task` to the waiters of `fd` for `dir` in `poller`, its
    /// worker's, registering the fd there on first use.
    #[inline(always)]
    fn join(
        poller: &Poller,
        task: &TaskRef,
        fd: RawFd,
        dir: Direction,
    ) -> Result<Joined, NotJoined> {
        let slot = fd_table::get_or_alloc(fd).ok_or(NotJoined::Untracked)?;
        let generation = slot.state().generation;
        let key = registration(slot, fd, generation).ok_or(NotJoined::Refused)?;
        if !poller.add_waiter(key, generation, dir, Unparker::Task(task.clone())) {
            return Err(NotJoined::Closed);
        }
        Ok(Joined {
            slot,
            key,
            generation,
            dir,
        })
    }

    /// Takes `task` out of the waiters again (it may still be there: woken
    /// by its deadline, or spuriously). True if the fd was closed meanwhile.
    #[inline(always)]
    fn leave(&self, poller: &Poller, task: &TaskRef) -> bool {
        poller.remove_waiter(self.key, self.generation, self.dir, task);
        self.slot.state().generation != self.generation
    }
}

/// Parks until unparked or `deadline`, counted among `worker`'s I/O
/// waiters meanwhile, waiting for `why`; `TimedOut` if the deadline passed.
fn park_until(worker: &Worker, deadline: Option<Instant>, why: WaitFor) -> Wait {
    let _io = worker.driver().io_wait();
    match deadline {
        Some(d) => park::park_deadline_for(d, why),
        None => park::park_for(why),
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
    if let Some(key) = worker.driver().cached_registration(fd, generation) {
        return Some(key);
    }
    let poller = worker.poller();
    let key = {
        let mut regs = slot.registrations.lock().unwrap();
        match regs.iter().find(|(p, _)| Arc::ptr_eq(p, poller)) {
            Some(&(_, key)) => key,
            None => {
                let key = poller.register(fd, generation).ok()?;
                // Before the lock is released: a `close` that finds the
                // flag locks, and so sees this entry.
                slot.add_flag(POLLED);
                regs.push((poller.clone(), key));
                key
            }
        }
    };
    worker.driver().cache_registration(fd, generation, key);
    Some(key)
}
