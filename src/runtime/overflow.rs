//! Stack overflow reporting.
//!
//! A coroutine that runs off the end of its stack touches the guard page and
//! the kernel raises SIGSEGV (SIGBUS on some targets). The handler runs on the
//! thread's alternate signal stack (the faulting stack is unusable):
//!
//! 1. Read the faulting address from `siginfo`.
//! 2. Compare it with the guard page of the stack the thread runs on: the
//!    running coroutine's recorded segment (its own stack, or the `weft::grow`
//!    segment it is on), or on a plain thread the `grow` segment in use.
//! 3. If it is ours, write `coroutine '<name>' has overflowed its stack
//!    (<size> KiB)` and a hint to stderr with `write(2)` (no allocation, no
//!    locks), then `abort()`, as std does for threads.
//! 4. Otherwise hand the signal to the handler that was installed before ours
//!    (std's own overflow check for thread stacks, a debugger, or the
//!    default action: a core dump).

use std::fmt::Write as _;
use std::mem;
use std::ptr;
use std::sync::{Once, OnceLock};

use super::current_task;
use crate::stack::Segment;
use crate::sys;
use crate::task::Task;

/// The segment this thread runs on, if weft knows it: the running
/// coroutine's recorded segment (its own stack, or the `weft::grow` segment
/// it is on), or on a plain thread the `grow` segment in use.
pub(crate) fn current_segment() -> Segment {
    match current_task() {
        Some(task) => task.segment(),
        None => Segment::active(),
    }
}

/// The handlers that were in place before ours, one per signal in
/// `sys::OVERFLOW_SIGNALS`. Set once, before our handler is installed.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

/// Installs the process-wide handler (once) and makes sure the calling
/// thread has an alternate signal stack. Called by each worker's first
/// thread as it starts (`builder.rs`); the worker's spare threads, started
/// later, need only their own alternate stack (`domain.rs`).
pub(crate) fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: zeroed is a valid `sigaction` to receive the old handlers.
        let mut prev: [libc::sigaction; 2] = unsafe { mem::zeroed() };
        for (i, &sig) in sys::OVERFLOW_SIGNALS.iter().enumerate() {
            // SAFETY: querying a handler only writes `prev[i]`.
            unsafe { libc::sigaction(sig, ptr::null(), &mut prev[i]) };
        }
        if PREVIOUS.set(prev).is_err() {
            return;
        }
        for &sig in &sys::OVERFLOW_SIGNALS {
            // SAFETY: zeroed is a valid `sigaction`; we fill in the fields
            // we use.
            let mut action: libc::sigaction = unsafe { mem::zeroed() };
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `action` is initialised and our handler only reads
            // `PREVIOUS`, which is set above.
            unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, ptr::null_mut());
            }
        }
    });
    crate::stack::ensure_altstack();
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { sys::fault_address(info) };
    let seg = current_segment();
    if seg.guards(addr) {
        report(&seg, current_task());
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    // SAFETY: we pass on exactly what the kernel gave us.
    unsafe { chain(sig, info, ctx) };
}

/// Passes a fault that is not ours to the previous handler.
///
/// # Safety
///
/// Must be called from our handler with the arguments it received.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(i) = sys::OVERFLOW_SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    let Some(prev) = PREVIOUS.get().map(|p| &p[i]) else {
        return;
    };
    match prev.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Restore the default action and return: the faulting instruction
            // runs again and the kernel applies it (a core dump).
            // SAFETY: a zeroed sigaction with SIG_DFL is valid.
            unsafe {
                let mut dfl: libc::sigaction = mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
        }
        f if prev.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: the previous handler asked for the three-argument form.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { mem::transmute(f) };
            f(sig, info, ctx);
        }
        f => {
            // SAFETY: the previous handler is a plain one-argument handler.
            let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(f) };
            f(sig);
        }
    }
}

/// A formatter into a fixed buffer: no allocation inside a signal handler.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn report(seg: &Segment, task: Option<&Task>) {
    let mut buf = Buf {
        bytes: [0; 512],
        len: 0,
    };
    let kib = seg.size / 1024;
    let _ = match task {
        Some(task) => match task.name() {
            Some(name) => write!(
                buf,
                "\ncoroutine '{name}' has overflowed its stack ({kib} KiB)\n"
            ),
            None => write!(
                buf,
                "\ncoroutine '{}' has overflowed its stack ({kib} KiB)\n",
                task.id()
            ),
        },
        None => write!(
            buf,
            "\na weft::grow segment has overflowed its stack ({kib} KiB)\n"
        ),
    };
    let _ = writeln!(
        buf,
        "help: give it a bigger stack with weft::Builder::stack_size or WEFT_STACK_SIZE, \
         or grow it around deep recursion with weft::grow"
    );
    // SAFETY: the raw write(2) system call is async-signal-safe (weft's own
    // `write` hook is not: it may allocate); the buffer is valid for `len`
    // bytes.
    unsafe { sys::raw::write(2, buf.bytes.as_ptr().cast(), buf.len) };
}
