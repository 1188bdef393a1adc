//! `getaddrinfo(3)`: glibc's resolver does its own I/O through internal
//! calls weft cannot intercept, so in a coroutine the real function runs on
//! the blocking pool while the coroutine parks.

use libc::{addrinfo, c_char, c_int};

use super::real;
use crate::runtime::current_task;

/// The caller's pointers, carried to a pool thread.
struct Args {
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
}

// SAFETY: the pointers refer to the calling coroutine's data, which stays put
// (its stack does not move and it is parked, not running) until the pool
// thread is done and the join below returns.
unsafe impl Send for Args {}

/// `getaddrinfo(3)`.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for getaddrinfo(3).
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    let args = Args {
        node,
        service,
        hints,
        res,
    };
    let lookup = crate::coroutine::spawn_blocking(move || {
        let a = args;
        // SAFETY: see `Args`; the caller's contract for getaddrinfo(3).
        unsafe { real::getaddrinfo(a.node, a.service, a.hints, a.res) }
    });
    match lookup.join_quietly() {
        Ok(rc) => rc,
        Err(_) => libc::EAI_SYSTEM,
    }
}
