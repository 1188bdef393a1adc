//! The interposed libc functions.
//!
//! Each function here has the name and C signature of a libc function
//! (`#[no_mangle] extern "C"`). The executable's definition wins over
//! libc's: std and blocking crates call these at static link time, and since
//! the linker exports an executable's definition of a symbol that a shared
//! library in the link (libc) also defines, C libraries, including ones
//! loaded later with `dlopen`, bind to them at run time too.
//!
//! Nothing in weft calls them, and nothing needs to for them to be linked:
//! rustc hands the linker, with each Rust library, an object that refers
//! to every symbol the library exports (`#[no_mangle]` items) or marks
//! `#[used]`, so every program that links weft has every hook, and the
//! look-up before `main` in `real.rs`.
//!
//! The rules every hook follows:
//!
//! - **Outside a coroutine** it behaves exactly as libc, byte for byte and
//!   errno for errno. The one difference it hides: on a socket weft made
//!   non-blocking, a call that would block blocks the thread in `poll(2)`.
//! - **Inside a coroutine**, a call that would block on a socket parks the
//!   coroutine on its worker's poller (see `io/mod.rs`); timeouts
//!   (`SO_RCVTIMEO`, `SO_SNDTIMEO`, the `poll` timeout) and the user's own
//!   `O_NONBLOCK` behave as the kernel's. `read` and `write` on other fds
//!   (files, pipes, ttys, fds 0 to 2) are blocking calls (next point).
//! - **Calls that wait in the kernel and cannot park** (futex waits under
//!   std's and parking_lot's locks, another poller's `epoll_wait`, the
//!   `wait` family, file I/O, `open`, `fsync`, `flock`, `fcntl(F_SETLKW)`,
//!   and libc's pthread mutex, condition, join and semaphore waits) run, in
//!   a coroutine, as blocking calls: the worker may be taken over by
//!   another of its threads while they wait (`runtime/takeover.rs`).
//! - weft's own I/O (the poller's eventfd, the runtime's threads) reaches
//!   the kernel through `sys::raw`, never through a hook.
//! - **Signals and `EINTR`.** On a plain thread a call is interrupted as
//!   libc's is: the kernel's own call blocks, or, on a socket weft made
//!   non-blocking (`WEFT_NB`), the wait in `poll(2)` ends with `EINTR`
//!   unless the kernel would restart the call (`io::block_thread`). In a
//!   coroutine a call that parks is never interrupted, as if every handler
//!   had `SA_RESTART` (Go's rule); a blocking call there (a file, a pipe, a
//!   futex) gives the kernel's answer.
//! - **Bad arguments** get libc's answer: a hook reads a caller's struct
//!   (a `pollfd` list, an `FIONBIO` int, a `timeval`, `socketpair`'s fds)
//!   only after the kernel accepted it; the sleep hooks, which read a
//!   `timespec` themselves in a coroutine, have the kernel copy it
//!   (`sys::read_user`), so they report `EFAULT` for null and wild pointers
//!   and for ones into unmapped or inaccessible pages (where the kernel
//!   refuses that copy, as qemu-user and some seccomp filters do, only for
//!   null and wild ones), and `EINVAL` for bad values, as the kernel does.
//!   `tests/bad_input.rs` compares every hook with a plain thread's answer.
//! - **Async-signal-safe**: `read`, `write`, `recv`, `send`, their `from`,
//!   `to`, `msg` and vectored forms, and `close`, on a plain thread and, in
//!   a coroutine, on any fd no coroutine parks on (pipes, files, ttys, the
//!   user's non-blocking sockets): they take no lock and allocate nothing
//!   (the fd table grows with `mmap`; `close` locks only for an fd some
//!   poller registered). In a coroutine, a `read` or `write` of a pipe,
//!   file or tty is a blocking call. It allocates nothing either: the
//!   worker keeps a free place in its table of suspended coroutines for the
//!   coroutine it runs; and if its worker is taken over while it waits,
//!   getting the worker back takes a lock that no thread holds while it
//!   runs one of the worker's coroutines, so a handler never waits on its
//!   own thread (`runtime/takeover.rs`, "Signal handlers"). A call that
//!   would park, or a `close` that must wake parked coroutines, is not
//!   async-signal-safe: it touches the worker's poller.
//! - **In a forked child** (`runtime/fork.rs`) every hook is libc's
//!   function: `outside_weft()` is true there, the coroutine and worker
//!   of the thread that forked are gone (`current_task()` is `None`), and
//!   nothing reaches a poller, a runtime lock or the `EMFILE` waiters. A
//!   hook that keeps state of its own checks `outside_weft()` before it
//!   touches it.
//!
//! # Layout
//!
//! One file per family: `socket.rs`, `rw.rs`, `poll.rs`, `fd.rs`,
//! `sleep.rs`, `dns.rs`, `block.rs`, `pthread.rs`, `spawn.rs` (which keeps
//! weft's non-blocking mode from reaching another program). Most hooks
//! reach the kernel through `sys::raw`. Those that need libc's own function
//! (the pthread waits, process spawning) call it through `real.rs`, whose
//! table names each such function once, with its C signature, and makes of
//! it the slot that holds its address, the slot's look-up before `main`
//! (never in a forked child), and the function the hook calls, as in
//! `real::pthread_mutex_lock(mutex)`.
//!
//! A new hook is its function in its family's file and, if it calls
//! libc's own function, that function's line in `real.rs`'s table.

#![allow(unreachable_pub, clippy::missing_safety_doc)]

pub(crate) use crate::runtime::outside_weft;

/// The six arguments of `sys::raw::syscall6`: those given, each cast to
/// `c_long` as the kernel takes them, then zeros.
macro_rules! syscall_args {
    ($a:expr) => {
        [$a as libc::c_long, 0, 0, 0, 0, 0]
    };
    ($a:expr, $b:expr) => {
        [$a as libc::c_long, $b as libc::c_long, 0, 0, 0, 0]
    };
    ($a:expr, $b:expr, $c:expr) => {
        [
            $a as libc::c_long,
            $b as libc::c_long,
            $c as libc::c_long,
            0,
            0,
            0,
        ]
    };
    ($a:expr, $b:expr, $c:expr, $d:expr) => {
        [
            $a as libc::c_long,
            $b as libc::c_long,
            $c as libc::c_long,
            $d as libc::c_long,
            0,
            0,
        ]
    };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr) => {
        [
            $a as libc::c_long,
            $b as libc::c_long,
            $c as libc::c_long,
            $d as libc::c_long,
            $e as libc::c_long,
            $f as libc::c_long,
        ]
    };
}

mod block;
mod dns;
mod fd;
mod poll;
mod pthread;
mod real;
mod rw;
mod sleep;
mod socket;
mod spawn;
