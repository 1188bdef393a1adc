//! A coroutine's [`Locals`]: the record behind `weft::CoroutineLocal`
//! (`coroutine/locals.rs` has the design and the numbered life of a value),
//! kept beside its stack (`frame.rs`). Keys are the addresses of the
//! `static`s that `coroutine_local!` declares; values are boxed `Any`s that
//! the API downcasts.

use std::any::Any;
use std::cell::RefCell;

/// One coroutine-local value.
pub(crate) struct Slot {
    key: *const (),
    value: Box<dyn Any>,
}

/// What a coroutine keeps beside its stack: its coroutine-local values and,
/// with the `tracing` feature, the spans it had entered when it last
/// suspended. Allocated on first use (`Frame::locals`); only the coroutine
/// itself touches it, on whichever thread of its worker runs it.
#[derive(Default)]
pub(crate) struct Locals {
    slots: RefCell<Vec<Slot>>,
    #[cfg(feature = "tracing")]
    pub(crate) spans: super::spans::Stash,
}

impl Locals {
    /// Step 1: the value of `key`, made by `init` if missing.
    pub(crate) fn get_or_init(
        &self,
        key: *const (),
        init: impl FnOnce() -> Box<dyn Any>,
    ) -> &dyn Any {
        if let Some(value) = self.find(key) {
            return value;
        }
        // No borrow is held while the initialiser runs: it may use other
        // coroutine-locals (or, recursively, this one).
        let value = init();
        let mut slots = self.slots.borrow_mut();
        let at = match slots.iter().position(|s| s.key == key) {
            // The initialiser set it already; keep that value, as the one
            // other borrowers may hold. (`value` drops after the borrow.)
            Some(at) => at,
            None => {
                slots.push(Slot { key, value });
                slots.len() - 1
            }
        };
        let value: *const dyn Any = &*slots[at].value;
        drop(slots);
        // SAFETY: the value is boxed, so it stays where it is while the
        // slot list changes; slots are only removed by `take_values`, at
        // the coroutine's end (`coroutine/locals.rs`, `drop_values`), which
        // takes the whole list out (and no `with` of the coroutine is still
        // running then: its closure has returned). So the value outlives
        // the borrow of `self`.
        unsafe { &*value }
    }

    fn find(&self, key: *const ()) -> Option<&dyn Any> {
        let slots = self.slots.borrow();
        let value: *const dyn Any = &*slots.iter().find(|s| s.key == key)?.value;
        // SAFETY: as in `get_or_init`.
        Some(unsafe { &*value })
    }

    /// Takes the values out, for step 3.
    pub(crate) fn take_values(&self) -> Vec<Slot> {
        std::mem::take(&mut *self.slots.borrow_mut())
    }
}
