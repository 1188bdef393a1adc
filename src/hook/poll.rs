//! `poll(2)`.

use std::time::{Duration, Instant};

use libc::{c_int, nfds_t, pollfd};

use crate::io::{wait_any, Direction, Wait};
use crate::runtime::current_task;
use crate::sys::raw;

/// `poll(2)`. In a coroutine with a non-zero timeout, the coroutine parks on
/// its worker's poller until one of the fds is ready or the timeout passes;
/// the result is then what `poll` with timeout 0 reports.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || current_task().is_none() {
        // SAFETY: the caller's contract for poll(2).
        return unsafe { raw::poll(fds, nfds, timeout) };
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    // A first look, before the list is read: the kernel checks `fds` and
    // `nfds` (EFAULT, EINVAL) as it would for the caller, and weft reads
    // the list only once the kernel has.
    // SAFETY: the caller's contract for poll(2); the kernel checks it.
    let n = unsafe { raw::poll(fds, nfds, 0) };
    if n != 0 {
        return n;
    }
    // The kernel takes the count as an unsigned int: the high bits of a
    // huge `nfds` are dropped, there as here.
    let nfds = nfds as u32 as nfds_t;
    if nfds == 0 {
        let _ = crate::time::sleep_parked(deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        }));
        return 0;
    }
    // SAFETY: the kernel just read these `nfds` pollfds (at most the fd
    // limit of them), so they are the caller's valid memory.
    let list = unsafe { std::slice::from_raw_parts(fds, nfds as usize) };
    let mut wanted = Vec::with_capacity(list.len() * 2);
    for p in list.iter().filter(|p| p.fd >= 0) {
        if p.events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0 {
            wanted.push((p.fd, Direction::Read));
        }
        if p.events & libc::POLLOUT != 0 {
            wanted.push((p.fd, Direction::Write));
        }
        if p.events & (libc::POLLIN | libc::POLLOUT | libc::POLLPRI | libc::POLLRDHUP) == 0 {
            // Only errors or hang-ups asked for: either direction reports them.
            wanted.push((p.fd, Direction::Read));
        }
    }
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
        if wanted.is_empty() {
            // Every fd is negative (ignored): wait out the timeout.
            let _ = crate::time::sleep_parked(deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            }));
            return 0;
        }
        if wait_any(&wanted, deadline) == Wait::Cancelled {
            crate::sys::set_errno(libc::ECANCELED);
            return -1;
        }
        // SAFETY: as above.
        let n = unsafe { raw::poll(fds, nfds, 0) };
        if n != 0 {
            return n;
        }
    }
}
