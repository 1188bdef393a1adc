//! The sleep family: `nanosleep`, `clock_nanosleep`, `usleep`, `sleep`.
//! In a coroutine each is `weft::sleep`; elsewhere the kernel's.

use std::time::Duration;

use libc::{c_int, c_uint, clockid_t, timespec};

use crate::runtime::current_task;
use crate::sys::{self, raw};

fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `nanosleep(2)`.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if current_task().is_none() {
        // SAFETY: the caller's contract for nanosleep(2), which measures
        // CLOCK_MONOTONIC.
        return unsafe { raw::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, req, rem) };
    }
    // SAFETY: the caller passes a valid timespec.
    let Some(d) = duration(unsafe { &*req }) else {
        sys::set_errno(libc::EINVAL);
        return -1;
    };
    let _ = crate::time::sleep_parked(d);
    if !rem.is_null() {
        // SAFETY: the caller's `rem` is writable when non-null.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}

/// `clock_nanosleep(2)`; returns the error number (not -1/errno), as POSIX
/// specifies.
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
    // SAFETY: the caller passes a valid timespec.
    let Some(mut d) = duration(unsafe { &*req }) else {
        return libc::EINVAL;
    };
    if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec (not a hooked function).
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return sys::errno();
        }
        d = d.saturating_sub(duration(&now).unwrap_or_default());
    } else if !rem.is_null() {
        // SAFETY: the caller's `rem` is writable when non-null.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    let _ = crate::time::sleep_parked(d);
    0
}

/// `usleep(3)`.
#[no_mangle]
pub unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    let d = Duration::from_micros(usec as u64);
    if current_task().is_some() {
        let _ = crate::time::sleep_parked(d);
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
/// plain thread).
#[no_mangle]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if current_task().is_some() {
        let _ = crate::time::sleep_parked(Duration::from_secs(seconds as u64));
        return 0;
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
