//! Linux on x86_64 and aarch64 (the CPUs `raw.rs` has a system-call stub
//! for), with glibc: the hooks look some of libc's functions up with
//! `dlvsym`, a glibc extension (`src/hook/real.rs`).
//!
//! Everything in here is what `src/sys.rs` promises to the rest of the
//! crate; see that file for the contract.

pub(crate) mod raw;

use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Size of a virtual memory page.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let n = if n <= 0 { 4096 } else { n as usize };
    PAGE.store(n, Ordering::Relaxed);
    n
}

/// `vm.max_map_count`: how many memory mappings one process may hold.
pub(crate) fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Where the sysctl above lives, for error messages.
pub(crate) const MAP_COUNT_HINT: &str =
    "raise it with `sysctl -w vm.max_map_count=262144` (persist it in /etc/sysctl.d/)";

/// Faults in the pages of `len` bytes of fresh memory at `addr` (page
/// aligned, in a private writable mapping) with one call instead of a page
/// fault per page. Best effort: before Linux 5.14 the kernel refuses, and
/// the pages fault in on first touch as usual.
pub(crate) fn prefault(addr: usize, len: usize) {
    // SAFETY: MADV_POPULATE_WRITE only makes pages resident, as writing to
    // them would; it changes no contents. On a range that is not a private
    // writable mapping it fails without effect.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
}

/// Asks for transparent huge pages for `len` bytes at `addr` (aligned to
/// the huge page size, in a private anonymous mapping). Advisory: where
/// THP is off (`/sys/kernel/mm/transparent_hugepage/enabled` is `never`)
/// or no huge page is free, normal pages are used.
pub(crate) fn huge_pages(addr: usize, len: usize) {
    // SAFETY: MADV_HUGEPAGE only changes how the range is backed, not its
    // contents; on an unsuitable range it fails without effect.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
}

/// A hint to the CPU to start loading the cache line at `p` (x86_64 and
/// aarch64; elsewhere nothing). Never faults, whatever the address.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault,
    // whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above: `prfm` is a hint and cannot fault.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}

/// The faulting address of a SIGSEGV or SIGBUS.
///
/// # Safety
///
/// `info` must be the `siginfo_t` the kernel passed to an `SA_SIGINFO` handler.
pub(crate) unsafe fn fault_address(info: *const libc::siginfo_t) -> usize {
    // SAFETY: the caller hands us the kernel's siginfo for a memory fault, for
    // which `si_addr` is the field that is set.
    unsafe { (*info).si_addr() as usize }
}

/// The calling thread's stack as `(lowest usable address, highest address)`.
pub(crate) fn thread_stack_bounds() -> io::Result<(usize, usize)> {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread;
    // we destroy it below on every path once it is initialised.
    let rc = unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut addr = std::ptr::null_mut();
    let mut size = 0;
    let mut guard = 0;
    // SAFETY: `attr` was initialised above and the out-pointers are valid.
    let rc = unsafe {
        let rc = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_getguardsize(attr.as_ptr(), &mut guard);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        rc
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // glibc reports the guard inside [addr, addr + size) for threads it made.
    let lo = addr as usize + guard;
    Ok((lo, addr as usize + size))
}

/// Signals that a stack overflow can raise.
pub(crate) const OVERFLOW_SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// What kind of descriptor `fd` is, for the hooks.
pub(crate) fn fd_kind(fd: libc::c_int) -> FdKind {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a `stat` for a valid fd, or fails.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return FdKind::Invalid;
    }
    // SAFETY: fstat succeeded, so `st` is initialised.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    if mode == libc::S_IFSOCK {
        FdKind::Socket
    } else {
        FdKind::Other
    }
}

/// The classes of descriptor the hooks tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A socket: a coroutine's calls on it may park.
    Socket,
    /// Anything else (files, pipes, ttys): weft never parks on it; in a
    /// coroutine, a call that may wait on it is a blocking call.
    Other,
    /// Not an open descriptor.
    Invalid,
}

/// Whether a signal handler that interrupts a wait should restart it:
/// true unless some installed handler lacks `SA_RESTART`. Fault signals
/// (`SIGSEGV`, `SIGBUS`, ...) are left out: they never interrupt a call.
/// Up to one `rt_sigaction` query per signal, async-signal-safe; run only
/// when a wait was interrupted.
pub(crate) fn handlers_restart() -> bool {
    const FAULTS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
    (1..=libc::SIGRTMAX())
        .filter(|sig| !FAULTS.contains(sig))
        .all(|sig| {
            let mut old = MaybeUninit::<libc::sigaction>::uninit();
            // SAFETY: a query (null new action) into a valid out-pointer.
            if unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) } != 0 {
                return true; // not a signal number here
            }
            // SAFETY: sigaction succeeded, so `old` is initialised.
            let old = unsafe { old.assume_init() };
            old.sa_sigaction == libc::SIG_DFL
                || old.sa_sigaction == libc::SIG_IGN
                || old.sa_flags & libc::SA_RESTART != 0
        })
}

/// Whether `len` bytes at `p` could be user memory: not in the first page
/// (never mapped: `vm.mmap_min_addr` is at least 4096) and below the top
/// of the user address space. A hook that must read or write a small
/// struct the kernel would have checked (a `timespec`) tests this first
/// and reports `EFAULT`, as the kernel would, for null and wild pointers;
/// costs no system call. (A pointer into an unmapped hole of the user
/// half still passes.)
pub(crate) fn plausible_user_ptr(p: usize, len: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    const USER_END: usize = 1 << 47;
    #[cfg(target_arch = "aarch64")]
    const USER_END: usize = 1 << 48;
    p >= 4096 && p.checked_add(len).is_some_and(|end| end <= USER_END)
}

/// Reads a `T` at `src`, a pointer the caller passed to a hooked function,
/// as the kernel would: `Err(EFAULT)` where it is not mapped readable
/// (null, wild, or in an unmapped hole), where a plain read would crash
/// the program. The copy is the kernel's (`process_vm_readv` on this
/// process: one system call); where that call is refused (a seccomp
/// filter answers `EPERM` or `ENOSYS`), a plain read after
/// `plausible_user_ptr`.
///
/// # Safety
///
/// Only where `process_vm_readv` is refused: a plausible `src` must point
/// at a readable `T` (the caller's contract with libc).
pub(crate) unsafe fn read_user<T: Copy>(src: *const T) -> Result<T, libc::c_int> {
    let size = std::mem::size_of::<T>();
    if !plausible_user_ptr(src as usize, size) {
        return Err(libc::EFAULT);
    }
    let mut out = std::mem::MaybeUninit::<T>::uninit();
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: size,
    };
    let remote = libc::iovec {
        iov_base: src as *mut libc::c_void,
        iov_len: size,
    };
    // SAFETY: `local` is `size` writable bytes of `out`; the kernel checks
    // `remote` and copies nothing from memory that is not mapped readable.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == size as isize {
        // SAFETY: the kernel wrote all `size` bytes of a `Copy` type.
        return Ok(unsafe { out.assume_init() });
    }
    match errno() {
        libc::EPERM | libc::ENOSYS => {
            // SAFETY: the caller's contract, for a plausible pointer; no
            // alignment is assumed.
            Ok(unsafe { src.read_unaligned() })
        }
        _ => Err(libc::EFAULT), // an unmapped page, or a partial copy
    }
}

/// Writes `value` at `dst` as the kernel would: `Err(EFAULT)` where it is
/// not mapped writable. The counterpart of `read_user`.
///
/// # Safety
///
/// Only where `process_vm_writev` is refused: a plausible `dst` must point
/// at writable memory for a `T`.
pub(crate) unsafe fn write_user<T: Copy>(dst: *mut T, value: T) -> Result<(), libc::c_int> {
    let size = std::mem::size_of::<T>();
    if !plausible_user_ptr(dst as usize, size) {
        return Err(libc::EFAULT);
    }
    let local = libc::iovec {
        iov_base: (&value as *const T).cast_mut().cast(),
        iov_len: size,
    };
    let remote = libc::iovec {
        iov_base: dst.cast(),
        iov_len: size,
    };
    // SAFETY: `local` is `value`'s `size` bytes, only read; the kernel
    // checks `remote` and writes nothing to memory not mapped writable.
    let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == size as isize {
        return Ok(());
    }
    match errno() {
        libc::EPERM | libc::ENOSYS => {
            // SAFETY: the caller's contract, for a plausible pointer.
            unsafe { dst.write_unaligned(value) };
            Ok(())
        }
        _ => Err(libc::EFAULT),
    }
}

/// The calling thread's `errno`.
pub(crate) fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(e: libc::c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e };
}

/// Blocks the calling thread while `word` holds `expected`, at most
/// `timeout` (`None`: no limit). It may return spuriously; callers re-check.
/// Goes straight to the kernel: no libc, no thread-local, no hook.
pub(crate) fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: Option<std::time::Duration>,
) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned `u32` at `word`, which the
    // reference keeps alive, and the timespec, which lives across the call.
    unsafe {
        raw::syscall6(
            libc::SYS_futex,
            [
                word.as_ptr() as libc::c_long,
                (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as libc::c_long,
                expected as libc::c_long,
                ts_ptr as libc::c_long,
                0,
                0,
            ],
        )
    };
}

/// Wakes up to `n` threads blocked in [`futex_wait`] on `word`.
pub(crate) fn futex_wake(word: &std::sync::atomic::AtomicU32, n: u32) {
    // SAFETY: FUTEX_WAKE only looks up waiters by the address.
    unsafe {
        raw::syscall6(
            libc::SYS_futex,
            [
                word.as_ptr() as libc::c_long,
                (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as libc::c_long,
                n.min(i32::MAX as u32) as libc::c_long,
                0,
                0,
                0,
            ],
        )
    };
}

/// Asks the kernel to wake the calling thread from timed sleeps as close to
/// their deadline as it can (its default slack for a thread is 50 µs,
/// longer than the monitor's shortest tick).
pub(crate) fn precise_timers() {
    // SAFETY: PR_SET_TIMERSLACK only changes a scheduling attribute of the
    // calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}
