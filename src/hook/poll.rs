//! `poll(2)`, `ppoll(2)`, `select(2)` and `pselect(2)`.

use std::time::{Duration, Instant};

use libc::{c_int, nfds_t, pollfd};

use crate::io::{wait_any, Direction, Wait};
use crate::runtime::current_task;
use crate::sys::raw;

/// A `ppoll`, `select` or `pselect` the poller cannot take, for a dump.
static POLL: crate::task::Call = crate::task::Call("poll");

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
    // SAFETY: the caller's contract for poll(2).
    unsafe { poll_parked(fds, nfds, deadline) }
}

/// `poll` in a coroutine: parks until one of `fds` is ready or `deadline`
/// passes (`None`: no limit).
///
/// # Safety
///
/// The contract of poll(2): `fds` points to `nfds` pollfds.
unsafe fn poll_parked(fds: *mut pollfd, nfds: nfds_t, deadline: Option<Instant>) -> c_int {
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
        let _ = sleep_until(deadline);
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
            let _ = sleep_until(deadline);
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

/// Parks until `deadline` (`None`: until cancelled): `Wait::TimedOut`, or
/// `Wait::Cancelled` if the runtime cancels the coroutine first.
fn sleep_until(deadline: Option<Instant>) -> Wait {
    let left = deadline.map_or(Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    });
    if crate::time::sleep_parked(left) {
        Wait::TimedOut
    } else {
        Wait::Cancelled
    }
}

/// A `timespec` timeout as a deadline from now; `None` for a null pointer
/// (no limit), `Err` for one the kernel refuses.
///
/// # Safety
///
/// `ts` is null or points to a readable timespec.
unsafe fn deadline_of(ts: *const libc::timespec) -> Result<Option<Instant>, ()> {
    // SAFETY: the caller's contract.
    let Some(ts) = (unsafe { ts.as_ref() }) else {
        return Ok(None);
    };
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(());
    }
    let wait = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    // A wait too long to add counts as no limit.
    Ok(Instant::now().checked_add(wait))
}

/// A timeout of zero: the call only looks and never waits.
fn is_zero(ts: &libc::timespec) -> bool {
    ts.tv_sec == 0 && ts.tv_nsec == 0
}

/// `ppoll(2)`. In a coroutine it parks as `poll` does; with a signal mask,
/// which only the kernel can swap in for the wait, it is a blocking call
/// (`runtime/takeover.rs`).
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // The kernel writes the time left into the timespec it is given; libc
    // gives it a copy, and so does this.
    // SAFETY: the caller passes a readable timespec or null.
    let ts = unsafe { timeout.as_ref() }.copied();
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: the caller's contract for ppoll(2); the mask, if any, is a
    // kernel sigset of 8 bytes (libc's is larger and begins with it).
    let call = || unsafe { raw::ppoll(fds, nfds, ts_ptr, sigmask.cast(), 8) };
    if current_task().is_none() || ts.as_ref().is_some_and(is_zero) {
        return call();
    }
    if !sigmask.is_null() {
        return crate::runtime::blocking_call(&POLL, call);
    }
    // SAFETY: `ts_ptr` is null or our copy.
    match unsafe { deadline_of(ts_ptr) } {
        // SAFETY: the caller's contract for ppoll(2).
        Ok(deadline) => unsafe { poll_parked(fds, nfds, deadline) },
        Err(()) => {
            crate::sys::set_errno(libc::EINVAL);
            -1
        }
    }
}

/// The three sets of `select`, as the kernel reads them: `nfds` bits each,
/// in whole words.
struct FdSets {
    sets: [*mut libc::fd_set; 3],
    words: usize,
}

/// The bits of one `fd_set`: as many words as `select` may read of it.
type Bits = [u64; FD_WORDS];

/// `FD_SETSIZE` bits, in words.
const FD_WORDS: usize = libc::FD_SETSIZE / 64;

impl FdSets {
    /// The read, write and except sets of a call with `nfds`.
    fn new(nfds: c_int, sets: [*mut libc::fd_set; 3]) -> FdSets {
        FdSets {
            sets,
            words: (nfds.max(0) as usize).div_ceil(64),
        }
    }

    /// Whether every set is null or could be user memory; one that cannot
    /// is left to the kernel, which answers `EFAULT`, before weft reads it.
    fn plausible(&self) -> bool {
        self.sets.iter().all(|&set| {
            set.is_null() || crate::sys::plausible_user_ptr(set as usize, self.words * 8)
        })
    }

    /// Copies of the sets (zero for a null one).
    ///
    /// # Safety
    ///
    /// Each set is null or readable for `words` words.
    unsafe fn save(&self) -> [Bits; 3] {
        let mut saved = [[0u64; FD_WORDS]; 3];
        for (set, bits) in self.sets.iter().zip(saved.iter_mut()) {
            if !set.is_null() {
                // SAFETY: the caller's contract; `words <= FD_WORDS`.
                unsafe {
                    std::ptr::copy_nonoverlapping(set.cast::<u64>(), bits.as_mut_ptr(), self.words)
                };
            }
        }
        saved
    }

    /// Puts the saved copies back.
    ///
    /// # Safety
    ///
    /// Each set is null or writable for `words` words.
    unsafe fn restore(&self, saved: &[Bits; 3]) {
        for (set, bits) in self.sets.iter().zip(saved.iter()) {
            if !set.is_null() {
                // SAFETY: the caller's contract.
                unsafe { std::ptr::copy_nonoverlapping(bits.as_ptr(), set.cast(), self.words) };
            }
        }
    }
}

/// `pselect6(2)` itself, with a timespec the kernel may write.
///
/// # Safety
///
/// The contract of pselect6(2).
unsafe fn raw_pselect(
    nfds: c_int,
    sets: &FdSets,
    ts: *mut libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // The sixth argument: the mask and its size, or null for none.
    let mask = [sigmask as usize, 8];
    let mask_ptr = if sigmask.is_null() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    let args = syscall_args!(nfds, sets.sets[0], sets.sets[1], sets.sets[2], ts, mask_ptr);
    // SAFETY: the caller's contract; `mask` lives across the call.
    raw::cvt_raw(unsafe { raw::syscall6(libc::SYS_pselect6, args) }) as c_int
}

/// `select` and `pselect` in a coroutine without a signal mask: parks on
/// the fds of the sets until one is ready or `deadline` passes, looking
/// with a zero timeout each time it wakes.
///
/// # Safety
///
/// The contract of select(2), with `nfds` at most `FD_SETSIZE`.
unsafe fn select_parked(nfds: c_int, sets: &FdSets, deadline: Option<Instant>) -> c_int {
    // SAFETY: the caller's contract.
    let saved = unsafe { sets.save() };
    let mut wanted = Vec::new();
    for fd in 0..nfds {
        let (word, bit) = (fd as usize / 64, 1u64 << (fd % 64));
        if saved[0][word] & bit != 0 || saved[2][word] & bit != 0 {
            wanted.push((fd, Direction::Read));
        }
        if saved[1][word] & bit != 0 {
            wanted.push((fd, Direction::Write));
        }
    }
    loop {
        let mut zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: the caller's contract; `zero` lives across the call. A
        // bad set pointer or fd is reported here, before any wait.
        let n = unsafe { raw_pselect(nfds, sets, &mut zero, std::ptr::null()) };
        if n != 0 || deadline.is_some_and(|d| Instant::now() >= d) {
            return n;
        }
        // Nothing ready: the kernel cleared the sets; put them back.
        // SAFETY: the caller's contract.
        unsafe { sets.restore(&saved) };
        let outcome = if wanted.is_empty() {
            sleep_until(deadline)
        } else {
            wait_any(&wanted, deadline)
        };
        if outcome == Wait::Cancelled {
            crate::sys::set_errno(libc::ECANCELED);
            return -1;
        }
    }
}

/// `select(2)`. In a coroutine with a timeout that is not zero, the
/// coroutine parks on its worker's poller until an fd of the sets is ready
/// or the timeout passes; the sets then say what a zero-timeout `select`
/// reports, and the timeout holds the time left, as Linux's `select` does.
#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    let sets = FdSets::new(nfds, [readfds, writefds, exceptfds]);
    // SAFETY: the caller passes a readable timeval or null.
    let tv = unsafe { timeout.as_ref() }.copied();
    let mut ts = tv.map(|tv| libc::timespec {
        tv_sec: tv.tv_sec,
        tv_nsec: tv.tv_usec * 1000,
    });
    let parks = current_task().is_some()
        && !ts.as_ref().is_some_and(is_zero)
        && (0..=libc::FD_SETSIZE as c_int).contains(&nfds)
        && sets.plausible()
        && tv.map_or(true, |tv| {
            tv.tv_sec >= 0 && (0..1_000_000).contains(&tv.tv_usec)
        });
    let r = if parks {
        let deadline = ts.and_then(|ts| {
            Instant::now().checked_add(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
        });
        // SAFETY: the caller's contract for select(2); `nfds` is in range.
        let r = unsafe { select_parked(nfds, &sets, deadline) };
        if let (Some(ts), Some(d)) = (ts.as_mut(), deadline) {
            let left = d.saturating_duration_since(Instant::now());
            ts.tv_sec = left.as_secs() as libc::time_t;
            ts.tv_nsec = left.subsec_nanos() as libc::c_long;
        }
        r
    } else {
        let ts_ptr = ts.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut _);
        // SAFETY: the caller's contract for select(2); `ts` is our copy.
        let call = || unsafe { raw_pselect(nfds, &sets, ts_ptr, std::ptr::null()) };
        if ts.as_ref().is_some_and(is_zero) {
            call()
        } else {
            // A coroutine's select the poller cannot take (too many fds, a
            // bad timeout): the kernel's, as a blocking call.
            crate::runtime::blocking_call(&POLL, call)
        }
    };
    // SAFETY: the caller passes a writable timeval or null.
    if let (Some(tv), Some(ts)) = (unsafe { timeout.as_mut() }, ts) {
        // Linux's select reports the time left.
        tv.tv_sec = ts.tv_sec;
        tv.tv_usec = ts.tv_nsec / 1000;
    }
    r
}

/// `pselect(2)`: `select` with a timespec it does not write and an
/// optional signal mask; with a mask, in a coroutine, a blocking call.
#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let sets = FdSets::new(nfds, [readfds, writefds, exceptfds]);
    // SAFETY: the caller passes a readable timespec or null.
    let mut ts = unsafe { timeout.as_ref() }.copied();
    let ts_ptr = ts.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut _);
    // SAFETY: the caller's contract for pselect(2); `ts` is our copy.
    let call = || unsafe { raw_pselect(nfds, &sets, ts_ptr, sigmask) };
    if current_task().is_none() || ts.as_ref().is_some_and(is_zero) {
        return call();
    }
    if !sigmask.is_null() || !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) || !sets.plausible() {
        return crate::runtime::blocking_call(&POLL, call);
    }
    // SAFETY: `ts_ptr` is null or our copy.
    match unsafe { deadline_of(ts_ptr) } {
        // SAFETY: the caller's contract for pselect(2); `nfds` is in range.
        Ok(deadline) => unsafe { select_parked(nfds, &sets, deadline) },
        Err(()) => crate::runtime::blocking_call(&POLL, call),
    }
}
