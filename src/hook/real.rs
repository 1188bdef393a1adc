//! libc's own definition of a function that weft interposes, for hooks
//! that cannot reach the kernel directly (libc's pthread waits, its process
//! spawning): found with `dlsym(RTLD_NEXT)`, the next definition after this
//! executable's.

use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A libc function found on first use: `dlsym(RTLD_NEXT, name)`, or
/// `dlvsym` for a symbol with several versions.
pub(super) struct Real {
    name: &'static CStr,
    /// The symbol version to ask for, where libc has more than one.
    version: Option<&'static CStr>,
    addr: AtomicUsize,
}

impl Real {
    pub(super) const fn new(name: &'static CStr) -> Real {
        Real {
            name,
            version: None,
            addr: AtomicUsize::new(0),
        }
    }

    pub(super) const fn versioned(name: &'static CStr, version: &'static CStr) -> Real {
        Real {
            name,
            version: Some(version),
            addr: AtomicUsize::new(0),
        }
    }

    /// The function's address. Two threads may look it up at once; both
    /// find the same one.
    #[inline]
    pub(super) fn get(&self) -> usize {
        match self.addr.load(Ordering::Relaxed) {
            0 => self.look_up(),
            addr => addr,
        }
    }

    #[cold]
    fn look_up(&self) -> usize {
        let versioned = self.version.map_or(std::ptr::null_mut(), |v| {
            // SAFETY: two NUL-terminated strings; RTLD_NEXT is a pseudo
            // handle that dlvsym accepts.
            unsafe { libc::dlvsym(libc::RTLD_NEXT, self.name.as_ptr(), v.as_ptr()) }
        });
        let addr = if versioned.is_null() {
            // SAFETY: as above.
            unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) }
        } else {
            versioned
        };
        if addr.is_null() {
            // libc without this function: nothing to call. Saying so beats
            // jumping to address zero.
            eprintln!("weft: libc has no {}", self.name.to_string_lossy());
            std::process::abort();
        }
        self.addr.store(addr as usize, Ordering::Relaxed);
        addr as usize
    }
}

/// `real.get()` as a function of type `F`.
///
/// # Safety
///
/// `F` must be the C type of the function `real` names.
#[inline]
pub(super) unsafe fn real<F: Copy>(real: &Real) -> F {
    let addr = real.get();
    debug_assert_eq!(size_of::<F>(), size_of::<usize>());
    // SAFETY: `addr` is a non-null function address of type `F` (caller).
    unsafe { std::mem::transmute_copy(&addr) }
}
