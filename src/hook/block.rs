//! Calls that wait in the kernel and cannot become a park: futex waits
//! (`syscall(SYS_futex, FUTEX_WAIT...)`, under std's and parking_lot's
//! locks, channels and `thread::park`), `epoll_wait` on someone else's
//! poller (a tokio runtime driven by a sync client), the `wait` family,
//! opening and syncing files, and `flock`. In a coroutine each runs as a
//! blocking call (`runtime/takeover.rs`): if it lasts, another thread of
//! the worker runs the worker's other coroutines meanwhile. Elsewhere, and
//! for the calls that cannot wait (`WNOHANG`, a zero timeout, `LOCK_NB`,
//! every other system call), each is the kernel's call, unchanged.
//!
//! `read`, `write` and their vectored and positioned forms on fds weft does
//! not park on (files, pipes, ttys) are blocking calls too (`rw.rs`).

use libc::{c_int, c_long, c_uint, epoll_event, id_t, idtype_t, pid_t, siginfo_t};

use crate::runtime::blocking_syscall;
use crate::sys::raw;
use crate::task::Call;

/// Names of the blocking calls, as a dump shows them (`blocking call: futex`).
static FUTEX: Call = Call("futex");
static EPOLL_WAIT: Call = Call("epoll_wait");
static WAIT: Call = Call("wait");
static OPEN: Call = Call("open");
static FSYNC: Call = Call("fsync");
static FLOCK: Call = Call("flock");
static READ: Call = Call("read");
static WRITE: Call = Call("write");
static OTHER: Call = Call("system call");

/// The name of system call `nr` among those `blocking_rw` makes.
fn rw_call(nr: c_long) -> &'static Call {
    match nr {
        libc::SYS_read
        | libc::SYS_readv
        | libc::SYS_pread64
        | libc::SYS_preadv
        | libc::SYS_recvfrom
        | libc::SYS_recvmsg => &READ,
        libc::SYS_write
        | libc::SYS_writev
        | libc::SYS_pwrite64
        | libc::SYS_pwritev
        | libc::SYS_sendto
        | libc::SYS_sendmsg => &WRITE,
        _ => &OTHER,
    }
}

/// `call`, a raw system call, as a blocking call named `name` if
/// `may_wait` (it may wait in the kernel), else plainly; libc-style result
/// either way.
fn blocking_if(name: &'static Call, may_wait: bool, call: impl FnOnce() -> c_long) -> c_long {
    if may_wait {
        blocking_syscall(name, call)
    } else {
        raw::cvt_raw(call())
    }
}

/// The futex operations that wait (the command, without the private and
/// clock flags).
fn futex_waits(op: c_long) -> bool {
    const FUTEX_LOCK_PI2: c_int = 13;
    let cmd = op as c_int & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    matches!(
        cmd,
        libc::FUTEX_WAIT
            | libc::FUTEX_WAIT_BITSET
            | libc::FUTEX_LOCK_PI
            | libc::FUTEX_WAIT_REQUEUE_PI
            | FUTEX_LOCK_PI2
    )
}

/// `syscall(2)`. The C function is variadic; on the x86_64 and aarch64
/// Linux ABIs its integer arguments travel in the same registers as fixed
/// ones, so this definition is call-compatible (`src/sys.rs`). Callers
/// pass as many as their system call takes; the others are whatever the
/// registers held, and the kernel ignores them, as it does for libc's.
#[no_mangle]
pub unsafe extern "C" fn syscall(
    nr: c_long,
    a0: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
) -> c_long {
    let args = [a0, a1, a2, a3, a4, a5];
    // SAFETY: the caller's contract for this system call.
    blocking_if(
        &FUTEX,
        nr == libc::SYS_futex && futex_waits(a1),
        || unsafe { raw::syscall6(nr, args) },
    )
}

/// The size of the kernel's sigset, the last argument of `epoll_pwait` and
/// `epoll_pwait2` (libc's `sigset_t` is larger and begins with it).
const SIGSET_SIZE: c_long = 8;

/// `epoll_wait(2)`. weft's own pollers wait outside coroutines, so this is
/// a blocking call only for an epoll instance a coroutine drives itself.
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: the caller's contract for epoll_wait(2); a null mask is none.
    unsafe { epoll_pwait(epfd, events, maxevents, timeout, std::ptr::null()) }
}

/// `epoll_pwait(2)`.
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let args = syscall_args!(epfd, events, maxevents, timeout, sigmask, SIGSET_SIZE);
    // SAFETY: the caller's contract for epoll_pwait(2).
    let call = || unsafe { raw::syscall6(libc::SYS_epoll_pwait, args) };
    blocking_if(&EPOLL_WAIT, timeout != 0, call) as c_int
}

/// `epoll_pwait2(2)`: `epoll_pwait` with a timespec. Always a blocking
/// call in a coroutine (marking one costs no system call), so that the
/// timeout is read by the kernel alone.
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait2(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let args = syscall_args!(epfd, events, maxevents, timeout, sigmask, SIGSET_SIZE);
    // SAFETY: the caller's contract for epoll_pwait2(2).
    blocking_syscall(&EPOLL_WAIT, || unsafe {
        raw::syscall6(libc::SYS_epoll_pwait2, args)
    }) as c_int
}

/// `wait4(2)`.
#[no_mangle]
pub unsafe extern "C" fn wait4(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
    rusage: *mut libc::rusage,
) -> pid_t {
    let args = syscall_args!(pid, status, options, rusage);
    // SAFETY: the caller's contract for wait4(2).
    let call = || unsafe { raw::syscall6(libc::SYS_wait4, args) };
    blocking_if(&WAIT, options & libc::WNOHANG == 0, call) as pid_t
}

/// `waitpid(2)`: `std::process::Child::wait` and `Command::status` end here.
#[no_mangle]
pub unsafe extern "C" fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t {
    // SAFETY: the caller's contract for waitpid(2), which is wait4 without
    // resource usage.
    unsafe { wait4(pid, status, options, std::ptr::null_mut()) }
}

/// `wait(2)`.
#[no_mangle]
pub unsafe extern "C" fn wait(status: *mut c_int) -> pid_t {
    // SAFETY: the caller's contract for wait(2), which is wait4 for any
    // child.
    unsafe { wait4(-1, status, 0, std::ptr::null_mut()) }
}

/// `waitid(2)`.
#[no_mangle]
pub unsafe extern "C" fn waitid(
    idtype: idtype_t,
    id: id_t,
    infop: *mut siginfo_t,
    options: c_int,
) -> c_int {
    // The kernel's waitid takes a fifth argument, the resource usage:
    // none here.
    let args = syscall_args!(idtype, id, infop, options);
    // SAFETY: the caller's contract for waitid(2).
    let call = || unsafe { raw::syscall6(libc::SYS_waitid, args) };
    blocking_if(&WAIT, options & libc::WNOHANG == 0, call) as c_int
}

/// `openat(2)`; opening a FIFO waits for its other end, and a file on a
/// slow disk or network filesystem for the disk. The C function is
/// variadic; `mode` is read only with `O_CREAT` or `O_TMPFILE`, as libc's.
#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const libc::c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    let mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    let args = syscall_args!(dirfd, path, flags, mode);
    // SAFETY: the caller's contract for openat(2).
    blocking_syscall(&OPEN, || unsafe { raw::syscall6(libc::SYS_openat, args) }) as c_int
}

/// `openat64`: the same call (64-bit file offsets are the only kind here).
#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const libc::c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    // SAFETY: the caller's contract for openat(2).
    unsafe { openat(dirfd, path, flags, mode) }
}

/// `open(2)`.
#[no_mangle]
pub unsafe extern "C" fn open(path: *const libc::c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the caller's contract for open(2), which is openat from the
    // working directory.
    unsafe { openat(libc::AT_FDCWD, path, flags, mode) }
}

/// `open64`: std's `File::open` ends here.
#[no_mangle]
pub unsafe extern "C" fn open64(path: *const libc::c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: as `open`.
    unsafe { openat(libc::AT_FDCWD, path, flags, mode) }
}

/// `fsync(2)`.
#[no_mangle]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    // SAFETY: fsync takes no pointer.
    blocking_syscall(&FSYNC, || unsafe {
        raw::syscall6(libc::SYS_fsync, syscall_args!(fd))
    }) as c_int
}

/// `fdatasync(2)`.
#[no_mangle]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    // SAFETY: fdatasync takes no pointer.
    blocking_syscall(&FSYNC, || unsafe {
        raw::syscall6(libc::SYS_fdatasync, syscall_args!(fd))
    }) as c_int
}

/// `flock(2)`.
#[no_mangle]
pub unsafe extern "C" fn flock(fd: c_int, op: c_int) -> c_int {
    let args = syscall_args!(fd, op);
    // SAFETY: flock takes no pointer.
    let call = || unsafe { raw::syscall6(libc::SYS_flock, args) };
    blocking_if(&FLOCK, op & libc::LOCK_NB == 0, call) as c_int
}

/// A `read`-like call on an fd weft does not park on, as a blocking call:
/// `nr` with `args`, both straight from the hook.
///
/// # Safety
///
/// The caller's contract for that system call.
pub(crate) unsafe fn blocking_rw(nr: c_long, args: [c_long; 6]) -> isize {
    // SAFETY: the caller's contract.
    blocking_syscall(rw_call(nr), || unsafe { raw::syscall6(nr, args) }) as isize
}
