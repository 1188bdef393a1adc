//! The alternate signal stack a thread needs for weft's stack overflow
//! handler (`runtime/overflow.rs`), which cannot run on the stack that
//! overflowed.

use std::cell::Cell;
use std::mem;
use std::ptr;

use super::GuardedStack;

/// Gives the calling thread an alternate signal stack if it has none (std
/// gives its threads one when it owns the SIGSEGV handler). The stack lives as
/// long as the thread.
pub(crate) fn ensure_altstack() {
    /// Our alternate stack; disabled before it is unmapped at thread exit.
    struct AltStack(#[allow(dead_code)] GuardedStack);
    impl Drop for AltStack {
        fn drop(&mut self) {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling the alternate stack touches no memory of ours.
            unsafe { libc::sigaltstack(&off, ptr::null_mut()) };
        }
    }
    thread_local! {
        static ALT: Cell<Option<AltStack>> = const { Cell::new(None) };
    }
    // SAFETY: a zeroed stack_t is valid to pass as the output of sigaltstack.
    let mut old: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: querying the current alternate stack only writes `old`.
    unsafe { libc::sigaltstack(ptr::null(), &mut old) };
    if old.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let Ok(stack) = GuardedStack::new(64 * 1024) else {
        return;
    };
    let (_, lo) = stack.guard();
    let new = libc::stack_t {
        ss_sp: lo as *mut libc::c_void,
        ss_flags: 0,
        ss_size: stack.size(),
    };
    // SAFETY: `new` describes memory that the thread-local below keeps mapped
    // for the rest of the thread's life.
    if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } == 0 {
        ALT.with(|a| a.set(Some(AltStack(stack))));
    }
}
