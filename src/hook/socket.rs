//! Creating, accepting, connecting and configuring sockets.

use std::sync::atomic::Ordering;
use std::time::Duration;

use libc::{c_int, c_void, sockaddr, socklen_t};

use super::fd::known_socket;
use crate::io::fd_table::{self, PER_CALL};
use crate::io::{
    block_thread, deadline_after, kind_of, managed, register_new, retry, type_flags, wait_any,
    Direction,
};
use crate::runtime::current_task;
use crate::sys::{self, raw};

/// Socket calls on a description that blocks, for a dump.
static ACCEPT: crate::task::Call = crate::task::Call("accept");
static CONNECT: crate::task::Call = crate::task::Call("connect");

/// `socket(2)`. In a coroutine a stream or seqpacket socket is created
/// non-blocking (it may `connect` or `listen`; the user's `SOCK_NONBLOCK`
/// is remembered and honoured) and gets its blocking mode back once
/// connected; a datagram socket is created as asked (`PER_CALL`).
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    if current_task().is_none() {
        // SAFETY: socket(2) takes no pointers.
        let fd = unsafe { raw::socket(domain, ty, protocol) };
        if fd >= 0 {
            crate::io::forget(fd); // a stale record of an earlier file
        }
        return fd;
    }
    let kind = type_flags(ty);
    let weft_nb = !kind.is_empty();
    let real = if weft_nb {
        ty | libc::SOCK_NONBLOCK
    } else {
        ty
    };
    // SAFETY: as above.
    let fd = unsafe { raw::socket(domain, real, protocol) };
    if fd >= 0 {
        register_new(fd, ty & libc::SOCK_NONBLOCK != 0, kind, weft_nb);
    }
    fd
}

/// `socketpair(2)`.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    let in_coroutine = current_task().is_some();
    // SAFETY: the caller's contract for socketpair(2); the kernel checks
    // `sv`.
    let rc = unsafe { raw::socketpair(domain, ty, protocol, sv) };
    if rc == 0 {
        // SAFETY: socketpair succeeded, so both slots hold fds.
        let fds = unsafe { [*sv, *sv.add(1)] };
        for fd in fds {
            if in_coroutine {
                // Connected already: the description blocks as asked.
                register_new(fd, ty & libc::SOCK_NONBLOCK != 0, type_flags(ty), false);
            } else {
                crate::io::forget(fd);
            }
        }
    }
    rc
}

/// `accept(2)`.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract for accept(2).
    unsafe { accept4(fd, addr, len, 0) }
}

/// `accept4(2)`. In a coroutine the new socket's description is as the
/// user asked (`PER_CALL`, or the user's `SOCK_NONBLOCK`). A coroutine
/// whose accept would park (the listener blocks, as the user sees it) gets
/// `EMFILE` and `ENFILE` only after waiting, up to 100 ms, for some fd to
/// be closed, so a retrying accept loop does not spin. Everywhere else
/// (plain threads, a non-blocking listener) they come at once, as from
/// libc.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let in_coroutine = current_task().is_some();
    // SAFETY: the caller's contract for accept4(2).
    let call = || unsafe { raw::accept4(fd, addr, len, flags) };
    let listener = managed(fd);
    let accept = || match listener {
        // SAFETY: as above.
        Some(slot) if in_coroutine && slot.state().has(PER_CALL) => unsafe {
            accept_blocking_listener(slot, fd, addr, len, flags)
        },
        // A listener weft made non-blocking, whose description another
        // process may have made blocking since (`hook/spawn.rs`): as a
        // blocking call, so that at worst its worker is taken over.
        Some(slot) if in_coroutine => retry(slot, fd, Direction::Read, 0, || {
            // SAFETY: the caller's contract for accept4(2).
            unsafe { accept4_blocking_call(fd, addr, len, flags) }
        }),
        Some(slot) => retry(slot, fd, Direction::Read, 0, call),
        // An fd weft does not manage, which may block: as a blocking call.
        // SAFETY: the caller's contract for accept4(2).
        None if in_coroutine => unsafe { accept4_blocking_call(fd, addr, len, flags) },
        None => call(),
    };
    let mut new = accept();
    if new == -1
        && matches!(sys::errno(), libc::EMFILE | libc::ENFILE)
        && in_coroutine
        && listener.is_some()
    {
        let e = sys::errno();
        crate::io::wait_for_free_fd(Duration::from_millis(100));
        new = accept();
        if new == -1 && matches!(sys::errno(), libc::EMFILE | libc::ENFILE) {
            sys::set_errno(e);
        }
    }
    if new >= 0 {
        if in_coroutine {
            // The new socket's description blocks as the user asked.
            register_new(new, flags & libc::SOCK_NONBLOCK != 0, kind_of(fd), false);
        } else {
            crate::io::forget(new);
        }
    }
    new
}

/// `accept4` in a coroutine on a listener whose description blocks (a
/// `PER_CALL` socket): parks until it is readable, then accepts as a
/// blocking call, so that if another thread or process took the
/// connection first, the worker is taken over while the call waits
/// (`runtime/takeover.rs`). `SO_RCVTIMEO` bounds the wait.
///
/// # Safety
///
/// The caller's contract for accept4(2).
unsafe fn accept_blocking_listener(
    slot: &fd_table::Slot,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let deadline = deadline_after(slot.recv_timeout.load(Ordering::Relaxed));
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        if unsafe { raw::poll(&mut pfd, 1, 0) } != 0 {
            // SAFETY: the caller's contract for accept4(2).
            return unsafe { accept4_blocking_call(fd, addr, len, flags) };
        }
        if let Some(e) = wait_any(&[(fd, Direction::Read)], deadline).errno(libc::EAGAIN) {
            sys::set_errno(e);
            return -1;
        }
    }
}

/// The kernel's `accept4`, as a blocking call (`runtime/takeover.rs`): if
/// it waits, the worker may be taken over meanwhile.
///
/// # Safety
///
/// The caller's contract for accept4(2).
unsafe fn accept4_blocking_call(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let args = syscall_args!(fd, addr, len, flags);
    // SAFETY: the caller's contract for accept4(2).
    crate::runtime::blocking_syscall(&ACCEPT, || unsafe {
        raw::syscall6(libc::SYS_accept4, args)
    }) as c_int
}

/// `connect(2)`. On a socket weft made non-blocking (`WEFT_NB`) that
/// should block, `EINPROGRESS` becomes a wait for the connection (bounded
/// by `SO_SNDTIMEO`, after which `EINPROGRESS` is returned, as the kernel
/// does), then its result; once connected, the socket's description blocks
/// again (`PER_CALL`). On a `PER_CALL` socket in a coroutine it is a
/// blocking call.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let in_coroutine = current_task().is_some();
    let slot = managed(fd);
    let may_block = match slot {
        Some(s) => s.state().has(PER_CALL),
        None => true,
    };
    if in_coroutine && may_block {
        // The description blocks (the user's own socket), or may (an fd weft
        // does not manage): a blocking call, the worker taken over while it
        // waits.
        let args = syscall_args!(fd, addr, len);
        // SAFETY: the caller's contract for connect(2).
        return crate::runtime::blocking_syscall(&CONNECT, || unsafe {
            raw::syscall6(libc::SYS_connect, args)
        }) as c_int;
    }
    // SAFETY: the caller's contract for connect(2).
    let rc = unsafe { raw::connect(fd, addr, len) };
    if rc == 0 {
        if let Some(slot) = slot {
            crate::io::connected(slot, fd);
        }
        return rc;
    }
    if !matches!(sys::errno(), libc::EINPROGRESS | libc::EAGAIN) {
        return rc;
    }
    let Some(slot) = slot else {
        return rc;
    };
    let generation = slot.state().generation;
    let deadline = deadline_after(slot.send_timeout.load(Ordering::Relaxed));
    let mut errno = sys::errno();
    loop {
        let outcome = if in_coroutine {
            wait_any(&[(fd, Direction::Write)], deadline)
        } else {
            block_thread(fd, Direction::Write, deadline)
        };
        if let Some(e) = outcome.errno(libc::EINPROGRESS) {
            sys::set_errno(e);
            return -1;
        }
        if errno == libc::EAGAIN {
            // A Unix socket whose listener's backlog was full: try again.
            // SAFETY: as above.
            let rc = unsafe { raw::connect(fd, addr, len) };
            if rc == 0 {
                crate::io::connected(slot, fd);
                return rc;
            }
            if !matches!(sys::errno(), libc::EINPROGRESS | libc::EAGAIN) {
                return rc;
            }
            errno = sys::errno();
        } else {
            let mut err: c_int = 0;
            let mut len = std::mem::size_of::<c_int>() as socklen_t;
            // SAFETY: SO_ERROR writes one int.
            let rc = unsafe {
                raw::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut c_int).cast(),
                    &mut len,
                )
            };
            if rc == -1 {
                return -1;
            }
            if slot.state().generation != generation {
                sys::set_errno(libc::EBADF);
                return -1;
            }
            return match err {
                0 => {
                    // Writable with no error can also mean "still in
                    // progress" after a spurious wake: check.
                    if is_connected(fd) {
                        crate::io::connected(slot, fd);
                        0
                    } else {
                        continue;
                    }
                }
                e => {
                    sys::set_errno(e);
                    -1
                }
            };
        }
    }
}

/// Whether `fd` has a peer (its connection completed).
fn is_connected(fd: c_int) -> bool {
    // SAFETY: a zeroed sockaddr_storage is a valid out-buffer.
    let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    // SAFETY: getpeername writes at most `len` bytes. Not a hooked function.
    unsafe {
        libc::getpeername(
            fd,
            (&mut sa as *mut libc::sockaddr_storage).cast(),
            &mut len,
        ) == 0
    }
}

/// `shutdown(2)`: passed through; waiters see the resulting hang-up.
#[no_mangle]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    // SAFETY: shutdown(2) takes no pointers.
    unsafe { raw::shutdown(fd, how) }
}

/// `setsockopt(2)`: `SO_RCVTIMEO` and `SO_SNDTIMEO` are recorded for the
/// hooks' own waits, and set on the socket too.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract for setsockopt(2).
    let rc = unsafe { raw::setsockopt(fd, level, name, value, len) };
    if rc == 0 && level == libc::SOL_SOCKET && matches!(name, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO)
    {
        if let Some(slot) = known_socket(fd) {
            // SAFETY: the kernel accepted `value` as a timeval of `len` bytes.
            let tv = unsafe { *(value as *const libc::timeval) };
            let ns = tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
            let field = if name == libc::SO_RCVTIMEO {
                &slot.recv_timeout
            } else {
                &slot.send_timeout
            };
            field.store(ns, Ordering::Relaxed);
        }
    }
    rc
}
