//! A forked child is outside weft.
//!
//! `fork(2)` copies one thread, the caller, and the whole memory: the fd
//! table, the pollers' waiter tables and their locks as they were at that
//! instant, and, when the caller was a coroutine, its thread-locals that say
//! "a coroutine runs here". The child shares the parent's epoll instances
//! and open file descriptions with it, but none of the parent's other
//! threads exist in it: a lock one of them held stays held for good, and
//! no worker loop, monitor or timer runs.
//!
//! So the child must never enter the runtime. A `pthread_atfork` child
//! handler (`worker.rs`, `install_fork_handler`), installed when the first
//! runtime is built, sets `FORKED` in the child (and only there: the
//! parent's memory is not touched). From then on, in the child:
//!
//! 1. `current_task` and `current_worker` answer "none" (the handler
//!    clears the thread's worker and its worker's running coroutine:
//!    `worker.rs`, `forget_worker_in_child`): every hook takes its plain-thread
//!    path, which never parks and never reaches a worker.
//! 2. `close`, `dup2`, `dup3` and the like reset the child's own copy of
//!    an fd's record and leave the poller registrations alone: the epoll
//!    instances are the parent's, and so are the locks beside them. The
//!    kernel drops an epoll registration by itself once the last fd of its
//!    file description is closed, in every process.
//! 3. The `EMFILE` waiter list is not touched (its lock may be held).
//! 4. No runtime starts: `RuntimeBuilder::build` and the global runtime's
//!    start fail with an error that says so, which `Builder::spawn`
//!    returns and `go` panics with.
//! 5. If the coroutine that forked returns in the child, its worker's loop
//!    would run the parent's other coroutines: the child prints a message
//!    and ends with `_exit(70)` instead.
//!
//! `posix_spawn` (which std's `Command` uses) and `vfork` run no fork
//! handlers; glibc's `posix_spawn` child calls only libc-internal
//! functions, never weft's hooks, before `execve`. A `vfork` child shares
//! the parent's memory and may only call `execve` or `_exit`, as POSIX says.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set in a forked child of a process that used weft, by the fork handler;
/// never cleared. Never set in a process that did not fork.
static FORKED: AtomicBool = AtomicBool::new(false);

/// The fork handler's first store (`worker.rs`, `install_fork_handler`):
/// this process is a forked child. A plain atomic store, async-signal-safe.
pub(super) fn mark_forked() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Whether this process is a forked child, outside weft: every hook must
/// behave as libc's own function and touch no runtime state (a poller, a
/// lock, the `EMFILE` waiters). One relaxed load.
#[inline]
pub(crate) fn outside_weft() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// The error of a runtime start in a forked child.
pub(crate) fn forked_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "weft: a runtime cannot start in a forked child; the child is outside weft \
         (call execve, or use posix_spawn or std::process::Command)",
    )
}

/// Ends a forked child whose forking coroutine returned to its worker's
/// loop (module docs, step 5). Writes with raw system calls only.
pub(crate) fn leave_child() -> ! {
    const MSG: &[u8] = b"weft: a coroutine returned in a forked child; \
        the child is outside weft and ends here (call execve or _exit in the child)\n";
    // SAFETY: a valid buffer of its length to fd 2; the result does not matter.
    unsafe { crate::sys::raw::write(2, MSG.as_ptr().cast(), MSG.len()) };
    // SAFETY: _exit ends the process without running anything of the parent's.
    unsafe { libc::_exit(70) }
}
