//! One guarded stack: a single anonymous mapping with a `PROT_NONE` page at
//! its low end.
//!
//! ```text
//!   high addresses
//!   +----------------------+ <- base()   (corosensei starts here, grows down)
//!   | top page             |    touched by every coroutine: always resident
//!   +----------------------+
//!   | ...                  |    committed on first touch (MAP_NORESERVE);
//!   | usable stack         |    handed back with madvise(MADV_DONTNEED)
//!   | ...                  |    when the stack is pooled cold
//!   +----------------------+ <- guard().1
//!   | guard page PROT_NONE |    a touch here is a stack overflow (SIGSEGV)
//!   +----------------------+ <- limit(), guard().0   (the mapping's start)
//!   low addresses
//! ```
//!
//! The mapping and the guard are two kernel VMAs, which is what the budget in
//! `budget.rs` counts.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use crate::sys;

/// An owned guarded stack. Dropping it unmaps it.
pub(crate) struct GuardedStack {
    /// Start of the mapping (the guard page).
    start: NonNull<u8>,
    /// Length of the mapping, guard page included.
    len: usize,
}

// SAFETY: the stack is plain memory owned by this value; nothing about it is
// tied to the thread that mapped it.
unsafe impl Send for GuardedStack {}

impl GuardedStack {
    /// Maps a stack with at least `size` usable bytes (rounded up to pages).
    pub(crate) fn new(size: usize) -> io::Result<GuardedStack> {
        let page = sys::page_size();
        let usable = Self::rounded(size);
        let len = usable + page;
        // SAFETY: an anonymous private mapping at an address the kernel picks
        // touches no existing memory.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = GuardedStack {
            start: NonNull::new(start.cast()).expect("mmap returned null"),
            len,
        };
        // SAFETY: the first page lies inside the mapping we own.
        sys::cvt(unsafe { libc::mprotect(start, page, libc::PROT_NONE) })?;
        Ok(stack)
    }

    /// The usable size a request for `size` bytes gets.
    pub(crate) fn rounded(size: usize) -> usize {
        let page = sys::page_size();
        size.max(super::MIN_STACK_SIZE).div_ceil(page) * page
    }

    /// Usable bytes (guard page excluded).
    pub(crate) fn size(&self) -> usize {
        self.len - sys::page_size()
    }

    /// The guard page as `[lo, hi)`.
    pub(crate) fn guard(&self) -> (usize, usize) {
        let lo = self.start.as_ptr() as usize;
        (lo, lo + sys::page_size())
    }

    /// Hands every page but the top one back to the kernel; they read as zero
    /// and are committed again on the next touch.
    pub(crate) fn release_cold_pages(&self) {
        let page = sys::page_size();
        let cold = self.size() - page;
        if cold == 0 {
            return;
        }
        // SAFETY: [guard_hi, guard_hi + cold) lies inside our mapping and no
        // coroutine runs on this stack while it is pooled.
        let addr = unsafe { self.start.as_ptr().add(page) };
        // SAFETY: see above; MADV_DONTNEED on private anonymous memory only
        // drops its contents.
        let _ = unsafe { libc::madvise(addr.cast(), cold, libc::MADV_DONTNEED) };
    }
}

impl Drop for GuardedStack {
    fn drop(&mut self) {
        // SAFETY: we own the whole mapping and nothing runs on it any more.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the stack has a PROT_NONE guard page directly below its usable part,
// and `MIN_STACK_SIZE` (16 KiB) exceeds corosensei's minimum of 4 KiB. `base`
// and `limit` are page aligned, so aligned to `STACK_ALIGNMENT`.
unsafe impl corosensei::stack::Stack for GuardedStack {
    fn base(&self) -> corosensei::stack::StackPointer {
        NonZeroUsize::new(self.start.as_ptr() as usize + self.len).expect("stack at address 0")
    }

    fn limit(&self) -> corosensei::stack::StackPointer {
        NonZeroUsize::new(self.start.as_ptr() as usize).expect("stack at address 0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corosensei::stack::Stack;

    #[test]
    fn rounds_up_and_places_guard_below() {
        let s = GuardedStack::new(20_000).unwrap();
        let page = sys::page_size();
        assert_eq!(s.size() % page, 0);
        assert!(s.size() >= 20_000);
        let (lo, hi) = s.guard();
        assert_eq!(lo, s.limit().get());
        assert_eq!(hi - lo, page);
        assert_eq!(s.base().get() - hi, s.size());
    }

    #[test]
    fn cold_pages_read_back_as_zero() {
        let s = GuardedStack::new(64 * 1024).unwrap();
        let (_, hi) = s.guard();
        // SAFETY: `hi` is the lowest usable byte of a stack nothing runs on.
        unsafe {
            *(hi as *mut u8) = 7;
            s.release_cold_pages();
            assert_eq!(*(hi as *const u8), 0);
        }
    }
}
