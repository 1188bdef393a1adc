//! The interposed libc functions.
//!
//! Each function here has the name and C signature of a libc function
//! (`#[no_mangle] extern "C"`). The executable's definition wins over
//! libc's: std and blocking crates call these at static link time, and since
//! the linker exports an executable's definition of a symbol that a shared
//! library in the link (libc) also defines, C libraries, including ones
//! loaded later with `dlopen`, bind to them at run time too.
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
//!   file or tty is a blocking call, which keeps to that only while its
//!   worker is not taken over (getting the worker back takes the worker's
//!   seats lock) and while recording the coroutine in its worker's table
//!   of suspended coroutines allocates nothing (it is there already, or
//!   the table has room). A call that would park, or a `close` that must
//!   wake parked coroutines, is not async-signal-safe: it touches the
//!   worker's poller.
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
//! A new hook is its function in its family's file and its line in
//! `HOOKS` below, which keeps every hook linked; and, if it calls libc's
//! own function, that function's line in `real.rs`'s table.

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

/// Every hook, referenced from the runtime so the linker keeps them in any
/// program that uses weft.
#[used]
static HOOKS: Hooks = Hooks(&[
    socket::socket as *const (),
    socket::socketpair as *const (),
    socket::accept as *const (),
    socket::accept4 as *const (),
    socket::connect as *const (),
    socket::shutdown as *const (),
    socket::setsockopt as *const (),
    rw::read as *const (),
    rw::readv as *const (),
    rw::pread64 as *const (),
    rw::pread as *const (),
    rw::pwrite64 as *const (),
    rw::pwrite as *const (),
    rw::recv as *const (),
    rw::recvfrom as *const (),
    rw::recvmsg as *const (),
    rw::write as *const (),
    rw::writev as *const (),
    rw::send as *const (),
    rw::sendto as *const (),
    rw::sendmsg as *const (),
    poll::poll as *const (),
    poll::ppoll as *const (),
    poll::select as *const (),
    poll::pselect as *const (),
    fd::close as *const (),
    fd::dup as *const (),
    fd::dup2 as *const (),
    fd::dup3 as *const (),
    fd::fcntl as *const (),
    fd::ioctl as *const (),
    sleep::nanosleep as *const (),
    sleep::clock_nanosleep as *const (),
    sleep::usleep as *const (),
    sleep::sleep as *const (),
    dns::getaddrinfo as *const (),
    block::syscall as *const (),
    block::epoll_wait as *const (),
    block::epoll_pwait as *const (),
    block::epoll_pwait2 as *const (),
    block::wait4 as *const (),
    block::waitpid as *const (),
    block::wait as *const (),
    block::waitid as *const (),
    block::openat as *const (),
    block::openat64 as *const (),
    block::open as *const (),
    block::open64 as *const (),
    block::fsync as *const (),
    block::fdatasync as *const (),
    block::flock as *const (),
    pthread::pthread_mutex_lock as *const (),
    pthread::pthread_mutex_timedlock as *const (),
    pthread::pthread_cond_wait as *const (),
    pthread::pthread_cond_timedwait as *const (),
    pthread::pthread_join as *const (),
    pthread::pthread_timedjoin_np as *const (),
    pthread::sem_wait as *const (),
    pthread::sem_timedwait as *const (),
    spawn::posix_spawn as *const (),
    spawn::posix_spawnp as *const (),
    spawn::posix_spawn_file_actions_adddup2 as *const (),
    spawn::execve as *const (),
    spawn::execv as *const (),
    spawn::execvp as *const (),
    spawn::execvpe as *const (),
]);

/// The hooks' addresses.
struct Hooks(#[allow(dead_code)] &'static [*const ()]);

// SAFETY: function addresses, never written or dereferenced.
unsafe impl Sync for Hooks {}

/// Keeps the hooks linked, and looks up libc's own functions if the
/// program's start has not (`real.rs`); called when a runtime is built.
pub(crate) fn link() {
    std::hint::black_box(&HOOKS);
    real::resolve();
}
