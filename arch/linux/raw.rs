//! The real functions behind weft's hooks.
//!
//! weft defines `recv`, `close`, `fcntl`, ..., and even `syscall`, with
//! libc's names, and the executable's definitions win over libc's. So inside
//! weft, calling `libc::recv` (or `libc::syscall`) would call weft's hook
//! again. Every function here enters the kernel itself, with the CPU's
//! system-call instruction (`syscall6`), instead. (libc functions that are
//! not system calls, such as `getaddrinfo`, are reached through the table in
//! `src/hook/real.rs`.) They return what the libc function would: the
//! result, or -1 with `errno` set.
//!
//! `syscall6` itself returns the kernel's answer unchanged (`-errno` on
//! failure) and touches no memory of the thread: the hooks that may hand
//! their worker to another thread while the call waits
//! (`runtime/takeover.rs`) set `errno` only once their thread holds the
//! worker again.
//!
//! # Safety
//!
//! All functions here are thin system-call wrappers: the caller promises
//! what the corresponding libc function requires of its arguments (valid
//! buffers of the given lengths, valid pointers to structs).

#![allow(clippy::missing_safety_doc)]

use libc::{c_int, c_long, c_void, size_t, sockaddr, socklen_t, ssize_t};

/// Enters the kernel for system call `nr` with up to six arguments (unused
/// ones are ignored by the kernel) and returns its raw answer: the result,
/// or `-errno` (-4095..=-1). No `errno`, no libc, no thread-local.
///
/// # Safety
///
/// The caller upholds the system call's contract (module docs).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    let ret;
    // SAFETY: the Linux x86_64 system-call ABI: number in rax, arguments in
    // rdi, rsi, rdx, r10, r8, r9; the kernel clobbers rcx and r11 and
    // returns in rax. What the call does to memory is the caller's contract.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
///
/// The caller upholds the system call's contract (module docs).
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub(crate) unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> c_long {
    let ret;
    // SAFETY: the Linux aarch64 system-call ABI: number in x8, arguments in
    // x0-x5, result in x0; `svc 0` clobbers nothing else. What the call does
    // to memory is the caller's contract.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack, preserves_flags),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("weft's Linux port has a system-call stub for x86_64 and aarch64 only");

/// Turns a raw kernel answer into libc's convention: the result, or -1 with
/// `errno` set.
#[inline(always)]
pub(crate) fn cvt_raw(ret: c_long) -> c_long {
    if (-4095..0).contains(&ret) {
        super::set_errno(-ret as c_int);
        -1
    } else {
        ret
    }
}

macro_rules! raw {
    ($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $nr:expr) => {
        #[inline]
        pub(crate) unsafe fn $name($($arg: $ty),*) -> $ret {
            let mut a = [0 as c_long; 6];
            let mut _i = 0;
            $(a[_i] = $arg as c_long; _i += 1;)*
            // SAFETY: the caller upholds the system call's contract (module
            // docs).
            cvt_raw(unsafe { syscall6($nr, a) }) as $ret
        }
    };
}

raw!(read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t = libc::SYS_read);
raw!(write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t = libc::SYS_write);
raw!(readv(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t = libc::SYS_readv);
raw!(writev(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t = libc::SYS_writev);
raw!(recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t = libc::SYS_recvfrom);
raw!(sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t = libc::SYS_sendto);
raw!(recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t = libc::SYS_recvmsg);
raw!(sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t = libc::SYS_sendmsg);
raw!(accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int = libc::SYS_accept4);
raw!(connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int = libc::SYS_connect);
raw!(socket(domain: c_int, ty: c_int, proto: c_int) -> c_int = libc::SYS_socket);
raw!(socketpair(domain: c_int, ty: c_int, proto: c_int, sv: *mut c_int) -> c_int = libc::SYS_socketpair);
raw!(shutdown(fd: c_int, how: c_int) -> c_int = libc::SYS_shutdown);
raw!(close(fd: c_int) -> c_int = libc::SYS_close);
raw!(fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int = libc::SYS_fcntl);
raw!(ioctl(fd: c_int, req: libc::c_ulong, arg: usize) -> c_int = libc::SYS_ioctl);
raw!(setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int = libc::SYS_setsockopt);
raw!(getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut socklen_t) -> c_int = libc::SYS_getsockopt);
raw!(dup(fd: c_int) -> c_int = libc::SYS_dup);
raw!(dup3(old: c_int, new: c_int, flags: c_int) -> c_int = libc::SYS_dup3);
raw!(ppoll(fds: *mut libc::pollfd, n: libc::nfds_t, ts: *const libc::timespec, mask: *const c_void, masklen: size_t) -> c_int = libc::SYS_ppoll);

raw!(eventfd2(init: libc::c_uint, flags: c_int) -> c_int = libc::SYS_eventfd2);
raw!(clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const libc::timespec, rem: *mut libc::timespec) -> c_int = libc::SYS_clock_nanosleep);

/// `poll(2)` through `ppoll`, which every Linux target has.
pub(crate) unsafe fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout_ms: c_int) -> c_int {
    if timeout_ms < 0 {
        // SAFETY: the caller's contract; a null timeout waits forever.
        return unsafe { ppoll(fds, n, std::ptr::null(), std::ptr::null(), 0) };
    }
    let ts = libc::timespec {
        tv_sec: (timeout_ms / 1000) as libc::time_t,
        tv_nsec: ((timeout_ms % 1000) as c_long) * 1_000_000,
    };
    // SAFETY: the caller's contract; `ts` lives across the call.
    unsafe { ppoll(fds, n, &ts, std::ptr::null(), 0) }
}

/// `dup2(2)`: `dup3` refuses equal descriptors, `dup2` returns the fd if it
/// is open.
pub(crate) unsafe fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        // SAFETY: F_GETFD only inspects the descriptor.
        return if unsafe { fcntl(old, libc::F_GETFD, 0) } == -1 {
            -1
        } else {
            new
        };
    }
    // SAFETY: the caller's contract.
    unsafe { dup3(old, new, 0) }
}
