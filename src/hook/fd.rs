//! `close`, the `dup` family, `fcntl` and `ioctl`.

use libc::{c_int, c_ulong};

use super::outside_weft;
use crate::io::fd_table::{self, KNOWN, PER_CALL, POLLED, SOCKET, USER_NB, WEFT_NB};
use crate::io::forget;
use crate::sys::raw;

/// A lock wait on a file (`F_SETLKW`), for a dump.
static FCNTL_LOCK: crate::task::Call = crate::task::Call("fcntl (file lock)");

/// `close(2)`. Coroutines parked on the fd are woken at once and fail with
/// `EBADF`; its poller registrations are dropped before the fd is closed.
/// Async-signal-safe for an fd no poller registered (`hook/mod.rs`).
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    forget(fd);
    // SAFETY: close(2) takes no pointers.
    let rc = unsafe { raw::close(fd) };
    fd_closed();
    rc
}

/// Wakes coroutines waiting in `accept` for a free fd, unless this is a
/// forked child (`runtime/fork.rs`, step 3).
fn fd_closed() {
    if !outside_weft() {
        crate::io::fd_freed();
    }
}

/// Gives `new` the record of `old` (they share one open file description,
/// and so its `O_NONBLOCK`).
fn copy_record(old: c_int, new: c_int) {
    let Some(from) = fd_table::get(old) else {
        return;
    };
    let flags = from.state().flags;
    if !flags.contains(KNOWN) {
        return;
    }
    let Some(to) = fd_table::get_or_alloc(new) else {
        return;
    };
    use std::sync::atomic::Ordering::Relaxed;
    to.recv_timeout
        .store(from.recv_timeout.load(Relaxed), Relaxed);
    to.send_timeout
        .store(from.send_timeout.load(Relaxed), Relaxed);
    // Its own registrations come when a coroutine first waits on it.
    to.set_flags(flags & !POLLED);
}

/// After a call that made `new` a copy of `old` (`dup`, `F_DUPFD`): `new`'s
/// stale record, if any, gives way to `old`'s. Returns `new`, which is
/// negative if the call failed.
fn record_dup(old: c_int, new: c_int) -> c_int {
    if new >= 0 {
        forget(new);
        copy_record(old, new);
    }
    new
}

/// The record of `fd`, if weft knows it as a socket.
pub(super) fn known_socket(fd: c_int) -> Option<&'static fd_table::Slot> {
    fd_table::get(fd).filter(|s| s.state().flags & (KNOWN | SOCKET) == KNOWN | SOCKET)
}

/// `dup(2)`.
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: dup(2) takes no pointers.
    record_dup(fd, unsafe { raw::dup(fd) })
}

/// In a forked child, a `dup2` or `dup3` usually prepares an fd for the
/// program it is about to execute: one weft made non-blocking gets its
/// blocking mode back first (`hook/spawn.rs`, step 3).
fn before_dup_in_child(old: c_int) {
    if outside_weft() {
        crate::io::share(old);
    }
}

/// `dup2(2)`: closes `new` first if it is open, like the kernel.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    before_dup_in_child(old);
    if old != new {
        forget(new);
    }
    // SAFETY: dup2 takes no pointers.
    let rc = unsafe { raw::dup2(old, new) };
    if rc >= 0 && old != new {
        copy_record(old, new);
        fd_closed();
    }
    rc
}

/// `dup3(2)`.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    before_dup_in_child(old);
    if old != new {
        forget(new);
    }
    // SAFETY: dup3 takes no pointers.
    let rc = unsafe { raw::dup3(old, new, flags) };
    if rc >= 0 {
        copy_record(old, new);
        fd_closed();
    }
    rc
}

/// `fcntl(2)`. On a socket weft made non-blocking (`WEFT_NB`), `F_GETFL`
/// reports the user's view of `O_NONBLOCK`. `F_SETFL` on any socket weft
/// knows is the kernel's call, and records the user's choice: with
/// `O_NONBLOCK` calls fail with `EAGAIN`, without it they block (the
/// description then blocks too, and coroutines ask per call: `PER_CALL`).
/// The variadic argument arrives as a `usize` (see `crate::sys`).
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    match (cmd, known_socket(fd)) {
        (libc::F_GETFL, Some(slot)) => {
            // SAFETY: F_GETFL takes no pointer.
            let fl = unsafe { raw::fcntl(fd, cmd, arg) };
            if fl != -1 && slot.state().hides_nonblocking() {
                return fl & !libc::O_NONBLOCK;
            }
            fl
        }
        (libc::F_SETFL, Some(slot)) => {
            // SAFETY: F_SETFL takes an int.
            let rc = unsafe { raw::fcntl(fd, cmd, arg) };
            if rc == 0 {
                set_user_nonblocking(slot, arg as c_int & libc::O_NONBLOCK != 0);
            }
            rc
        }
        (libc::F_DUPFD | libc::F_DUPFD_CLOEXEC, _) => {
            // SAFETY: F_DUPFD takes an int.
            record_dup(fd, unsafe { raw::fcntl(fd, cmd, arg) })
        }
        (libc::F_SETLKW | libc::F_OFD_SETLKW, _) => {
            let args = syscall_args!(fd, cmd, arg);
            // SAFETY: the caller's contract: `arg` points to a `flock`.
            crate::runtime::blocking_syscall(&FCNTL_LOCK, || unsafe {
                raw::syscall6(libc::SYS_fcntl, args)
            }) as c_int
        }
        // SAFETY: the caller's contract for this fcntl command.
        _ => unsafe { raw::fcntl(fd, cmd, arg) },
    }
}

/// Records the user's `O_NONBLOCK` choice for a socket, which the kernel
/// has just applied to its description: `USER_NB`, or `PER_CALL`.
fn set_user_nonblocking(slot: &fd_table::Slot, on: bool) {
    let flags = slot.state().flags & !(USER_NB | WEFT_NB | PER_CALL);
    slot.set_flags(flags | if on { USER_NB } else { PER_CALL });
}

/// `ioctl(2)`. `FIONBIO` is the kernel's call; on a socket weft knows, the
/// user's choice is then recorded as for `fcntl(F_SETFL)`. The argument is
/// read only after the kernel accepted it, so a bad pointer gets the
/// kernel's `EFAULT`.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: usize) -> c_int {
    // SAFETY: the caller's contract for this ioctl request.
    let rc = unsafe { raw::ioctl(fd, request, arg) };
    if rc == 0 && request == libc::FIONBIO as c_ulong {
        if let Some(slot) = known_socket(fd) {
            // SAFETY: the kernel just read an int at `arg` for FIONBIO.
            let on = unsafe { *(arg as *const c_int) } != 0;
            set_user_nonblocking(slot, on);
        }
    }
    rc
}
