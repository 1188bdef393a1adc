//! The runtime a task belongs to, as the task layer sees it.
//!
//! Every task keeps its runtime alive, and its last `TaskRef` gives that
//! reference back after the task's memory is freed (`alloc.rs`). How a
//! runtime counts its tasks' references is its own business (it reserves
//! them in batches per worker: `runtime/shared.rs`, "Task references"), so
//! a task holds a `HomeRef`: the address of a `Home`, a header that the
//! runtime keeps in its shared state, which says how to give the reference
//! back. The runtime finds its state from the header's address
//! (`Shared::of`), so the record names nothing above this layer.

use std::ptr::NonNull;

/// The header a runtime keeps in its shared state.
pub(crate) struct Home {
    /// Gives back one task's reference to the runtime that holds this
    /// header.
    release: unsafe fn(NonNull<Home>),
}

impl Home {
    /// A header whose references `release` gives back.
    ///
    /// # Safety
    ///
    /// `release(home)`, called once for each reference that the runtime
    /// counted for `home` (`HomeRef::from_counted`), must be sound: the
    /// runtime keeps the header alive while it has counted references.
    pub(crate) const unsafe fn new(release: unsafe fn(NonNull<Home>)) -> Home {
        Home { release }
    }
}

/// A task's counted reference to its runtime, given back on drop.
pub(crate) struct HomeRef(NonNull<Home>);

// SAFETY: an address and a count the runtime keeps with atomics; the
// runtime's header is shared by its threads (`Home` holds only a function
// pointer), and `release` may run on any thread (`Home::new`'s contract).
unsafe impl Send for HomeRef {}
// SAFETY: `&HomeRef` gives only the address.
unsafe impl Sync for HomeRef {}

impl HomeRef {
    /// Takes over one reference that the runtime counted for `home`.
    ///
    /// # Safety
    ///
    /// The runtime counted one reference for this `HomeRef` to give back,
    /// and `home` stays valid until it is given back (`Home::new`).
    #[inline]
    pub(crate) unsafe fn from_counted(home: NonNull<Home>) -> HomeRef {
        HomeRef(home)
    }

    /// The header's address, which the runtime turns back into its own
    /// state; valid while this reference lives.
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<Home> {
        self.0
    }
}

impl Drop for HomeRef {
    fn drop(&mut self) {
        // SAFETY: the reference keeps the header alive until the call, which
        // gives back the one reference it counted (`from_counted`); nothing
        // touches it afterwards.
        unsafe { (self.0.as_ref().release)(self.0) }
    }
}
