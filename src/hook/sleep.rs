//! The sleep family: `nanosleep`, `clock_nanosleep`, `usleep`, `sleep`.
//! In a coroutine each is `weft::sleep`; elsewhere the kernel's.
//!
//! A coroutine's sleep is never interrupted by a signal. When the runtime
//! is dropped, a cancelled sleep fails with `EINTR` and the time left, so
//! that code after it does not run early as if the time had passed: a
//! caller that retries (`std::thread::sleep` does) fails again at once,
//! and the runtime abandons a coroutine that keeps retrying (README,
//! "Limits", "Shutdown"; `runtime/park.rs`, "Cancellation", step 5).

use std::time::{Duration, Instant};

use libc::{c_int, c_uint, clockid_t, timespec};

use crate::runtime::current_task;
use crate::sys::{self, raw};

fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Reads the caller's `timespec` as the kernel would: `EFAULT` for a null
/// or wild pointer, or one into an unmapped hole (`sys::read_user`),
/// `EINVAL` for a negative or unnormalised one.
///
/// # Safety
///
/// `sys::read_user`'s: where the kernel cannot copy for us, a plausible
/// `req` must point at readable memory (the caller's contract).
unsafe fn requested(req: *const timespec) -> Result<Duration, c_int> {
    // SAFETY: the caller's contract, passed on.
    let ts = unsafe { sys::read_user(req) }?;
    duration(&ts).ok_or(libc::EINVAL)
}

/// Parks for `d`. A sleep that the runtime's shutdown cancels ends early
/// and returns the time left, so the call can report `EINTR` (the code
/// after it does not run as if the whole time had passed).
fn park_for(d: Duration) -> Result<(), Duration> {
    let deadline = Instant::now().checked_add(d);
    if crate::time::sleep_parked(d) {
        return Ok(());
    }
    Err(deadline.map_or(d, |t| t.saturating_duration_since(Instant::now())))
}

/// Writes the time left to the caller's `rem`, if any, as the kernel does
/// after an interruption; `EFAULT` if `rem` is not writable memory
/// (`sys::write_user`).
///
/// # Safety
///
/// `sys::write_user`'s: where the kernel cannot copy for us, a plausible
/// non-null `rem` must point at writable memory.
unsafe fn write_rem(rem: *mut timespec, left: Duration) -> Result<(), c_int> {
    if rem.is_null() {
        return Ok(());
    }
    let ts = timespec {
        tv_sec: left.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: left.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the caller's contract, passed on.
    unsafe { sys::write_user(rem, ts) }
}

/// `nanosleep(2)`. In a coroutine, a park; it fails with `EINTR` (and the
/// time left in `rem`) only when the runtime's shutdown cancels it.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for nanosleep(2), which measures
        // CLOCK_MONOTONIC.
        let rc = unsafe { raw::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, req, rem) };
        return if rc == -1 { -1 } else { 0 };
    }
    // SAFETY: the caller's contract for nanosleep(2).
    let result = unsafe { requested(req) }.and_then(|d| match park_for(d) {
        Ok(()) => Ok(()),
        // SAFETY: as above.
        Err(left) => unsafe { write_rem(rem, left) }.and(Err(libc::EINTR)),
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `clock_nanosleep(2)`; returns the error number (not -1/errno), as POSIX
/// specifies. In a coroutine, on the ordinary clocks, a park (as
/// `nanosleep`).
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let ordinary = matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME | libc::CLOCK_TAI
    );
    if current_task().is_none() || !ordinary {
        // SAFETY: the caller's contract for clock_nanosleep(2).
        let rc = unsafe { raw::clock_nanosleep(clock, flags, req, rem) };
        return if rc == -1 { sys::errno() } else { 0 };
    }
    // SAFETY: the caller's contract for clock_nanosleep(2).
    let mut d = match unsafe { requested(req) } {
        Ok(d) => d,
        Err(e) => return e,
    };
    let absolute = flags & libc::TIMER_ABSTIME != 0;
    if absolute {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec (not a hooked function).
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return sys::errno();
        }
        d = d.saturating_sub(duration(&now).unwrap_or_default());
    }
    match park_for(d) {
        Ok(()) => 0,
        // An absolute sleep leaves `rem` alone, as the kernel does.
        Err(_) if absolute => libc::EINTR,
        // SAFETY: the caller's contract for clock_nanosleep(2).
        Err(left) => match unsafe { write_rem(rem, left) } {
            Ok(()) => libc::EINTR,
            Err(e) => e,
        },
    }
}

/// `usleep(3)`. In a coroutine, a park, which fails with `EINTR` only
/// when the runtime's shutdown cancels it.
#[no_mangle]
pub unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    let d = Duration::from_micros(usec as u64);
    if current_task().is_some() {
        if park_for(d).is_err() {
            sys::set_errno(libc::EINTR);
            return -1;
        }
        return 0;
    }
    let ts = timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `ts` is valid; no remainder wanted.
    unsafe { raw::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()) }
}

/// `sleep(3)`: returns the seconds left (0, unless a signal interrupted a
/// plain thread, or the runtime's shutdown cancelled a coroutine's sleep).
#[no_mangle]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if current_task().is_some() {
        return match park_for(Duration::from_secs(seconds as u64)) {
            Ok(()) => 0,
            Err(left) => left.as_secs() as c_uint + (left.subsec_nanos() > 0) as c_uint,
        };
    }
    let ts = timespec {
        tv_sec: seconds as libc::time_t,
        tv_nsec: 0,
    };
    let mut rem = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both timespecs are valid.
    if unsafe { raw::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, &mut rem) } == -1 {
        return rem.tv_sec as c_uint + (rem.tv_nsec > 0) as c_uint;
    }
    0
}
