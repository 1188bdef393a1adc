//! The platform contract.
//!
//! Everything that differs by operating system or CPU lives under `arch/`, one
//! folder per target, and is picked here. No other file in `src/` uses
//! `cfg(target_os)`. Each target provides:
//!
//! - `page_size()`, `max_map_count()` and `MAP_COUNT_HINT` (the stack budget);
//! - `prefault(addr, len)` and `huge_pages(addr, len)` (task memory chunks);
//! - `fault_address(siginfo)` and `OVERFLOW_SIGNALS` (the overflow handler);
//! - `thread_stack_bounds()` (`weft::grow` on plain threads);
//! - `prefetch(p)`, a cache hint (the scheduler's look-ahead, the poller's
//!   wake-ups);
//! - `futex_wait`, `futex_wake` and `precise_timers()` (threads taking
//!   turns at a worker, and the monitor: `runtime/takeover.rs`,
//!   `runtime/monitor.rs`);
//! - `raw::*`, the system calls behind the hooks (through
//!   `raw::syscall6`, which leaves `errno` alone), `fd_kind`,
//!   `handlers_restart()` (a plain thread's interrupted wait),
//!   `plausible_user_ptr()`, `read_user` and `write_user` (the hooks'
//!   `EFAULT` checks), `errno` and `set_errno` (the I/O hooks).
//!
//! The hooks for the C-variadic `fcntl` and `ioctl` take their optional
//! argument as a fixed `usize`: on the x86_64 and aarch64 Linux ABIs a
//! variadic integer or pointer argument travels in the same register as a
//! fixed one, so the definitions are call-compatible.

#[cfg(target_os = "linux")]
#[path = "../arch/linux/mod.rs"]
mod imp;

#[cfg(not(target_os = "linux"))]
compile_error!("weft supports Linux only for now (arch/ has no port for this target)");

pub(crate) use imp::*;

/// Turns a libc-style `-1` return into `io::Error::last_os_error()`.
///
/// Callers write the `unsafe` call themselves, with its `// SAFETY:` line:
/// `sys::cvt(unsafe { libc::munmap(p, len) })?`.
pub(crate) fn cvt<T: Copy + PartialEq + From<i8>>(res: T) -> std::io::Result<T> {
    if res == T::from(-1) {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(res)
    }
}

/// An integer `SOL_SOCKET` option of `fd` (`SO_TYPE`, `SO_ACCEPTCONN`);
/// `None` if `fd` is no socket.
pub(crate) fn socket_int_option(fd: std::os::fd::RawFd, name: libc::c_int) -> Option<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the option is one int, and `len` says so.
    let rc = unsafe {
        raw::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v)
}
