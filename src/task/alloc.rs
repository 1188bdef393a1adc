//! Task memory: `TaskRef`, the reference-counted pointer to a task, and the
//! per-thread caches its memory is recycled through.
//!
//! Spawning is the hottest allocation in a coroutine program, and its
//! pattern is the one general-purpose allocators handle worst: a task is
//! allocated by the spawning worker and freed by whichever thread drops the
//! last reference, usually the worker that ran it. With glibc that free
//! takes the spawner's arena lock, and the spawner's next allocation misses
//! its cache (`benches/core.rs`, `spawn_join`, measures the spawn path). So
//! task memory goes through caches of its own, as Go recycles its `g`s:
//!
//! 1. Sizes are rounded up to a *class* (multiples of `GRANULE` bytes, up to
//!    `MAX_CACHED`); larger or over-aligned tasks use the global allocator
//!    directly.
//! 2. A freed block goes to the freeing thread's list for its class, which
//!    trades whole batches with the class's global stack (`crate::batches`:
//!    one lock per `BATCH` frees); a batch that stack has no room for (it
//!    keeps `GLOBAL_MAX`) goes back to the chunks it came from.
//! 3. An allocation pops the thread's list, which an empty list first
//!    refills with a batch from the global stack (one lock per `BATCH`
//!    spawns), or else with a batch of blocks from the class's chunks
//!    (`task/alloc/chunk.rs`: memory mapped for task blocks, returned to
//!    the system once all its blocks are back).
//! 4. A thread's lists go to the global stacks (or the chunks) when the
//!    thread exits; a block freed after that, during the thread's teardown,
//!    goes straight back to its chunk.
//!
//! What the caches keep is bounded: per thread `LOCAL_MAX` blocks a class,
//! process-wide `GLOBAL_MAX * BATCH` a class.
//!
//! `TaskRef` is `Arc<Task>` with this allocator (std's `Arc` cannot take a
//! custom allocator on stable Rust): a strong count in the task itself,
//! `Clone` adds one, `Drop` releases one, and the last release drops the
//! task and frees its block.

mod chunk;

use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, Ordering};

use super::job::Job;
use super::record::Task;
use crate::batches::{Batches, BATCH};

/// Class sizes are multiples of this.
const GRANULE: usize = 64;
/// Larger tasks are not cached (a task without captures fits 128 bytes:
/// `record.rs`, `an_empty_coroutine_takes_128_bytes`).
const MAX_CACHED: usize = 1024;
const CLASSES: usize = MAX_CACHED / GRANULE;
/// Alignment of every cached block.
const ALIGN: usize = 16;
/// Batches the global stack of a class keeps.
const GLOBAL_MAX: usize = 64;

/// A free block of some class.
struct Block(NonNull<u8>);

// SAFETY: a free block is plain memory that no one else refers to.
unsafe impl Send for Block {}

/// Step 1: the class of a layout, if it is cached.
fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX_CACHED && layout.align() <= ALIGN)
        .then(|| layout.size().max(1).div_ceil(GRANULE) - 1)
}

fn class_layout(class: usize) -> Layout {
    Layout::from_size_align((class + 1) * GRANULE, ALIGN).expect("a valid class layout")
}

/// Each class's global stack of batches (steps 2 and 3).
static GLOBAL: [Batches<Block>; CLASSES] = [const { Batches::new(GLOBAL_MAX) }; CLASSES];

/// One thread's free lists.
struct Cache {
    classes: [Vec<Block>; CLASSES],
}

impl Drop for Cache {
    /// Step 4.
    fn drop(&mut self) {
        for (class, list) in self.classes.iter_mut().enumerate() {
            for batch in GLOBAL[class].flush(list) {
                release(class, batch);
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { classes: [const { Vec::new() }; CLASSES] })
    };
}

/// Gives blocks the caches have no room for back to their chunks.
fn release(class: usize, blocks: Vec<Block>) {
    // SAFETY: every block of a class comes from its chunks, and a block
    // in a cache is unused.
    unsafe { chunk::give_back(class, blocks) };
}

/// Step 3: a block for `layout`.
fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        return system_alloc(layout);
    };
    let size = class_layout(class).size();
    let block = CACHE.try_with(|cache| {
        let list = &mut cache.borrow_mut().classes[class];
        GLOBAL[class].pop(list).or_else(|| {
            chunk::take(class, size, BATCH, list);
            list.pop()
        })
    });
    let block = block.unwrap_or_else(|_| {
        // The thread's cache is gone (step 4): one block, uncached.
        let mut one = Vec::with_capacity(1);
        chunk::take(class, size, 1, &mut one);
        one.pop()
    });
    match block {
        Some(block) => block.0,
        None => alloc::handle_alloc_error(class_layout(class)),
    }
}

fn system_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: task layouts are never zero-sized (a task has a header).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Step 2: frees a block that `allocate(layout)` returned.
///
/// # Safety
///
/// `block` must come from `allocate` with this `layout`, and must not be
/// used again.
unsafe fn free(block: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: uncached blocks come from the allocator with `layout`.
        unsafe { alloc::dealloc(block.as_ptr(), layout) };
        return;
    };
    let refused = CACHE
        .try_with(|cache| GLOBAL[class].push(&mut cache.borrow_mut().classes[class], Block(block)));
    match refused {
        Ok(None) => {}
        Ok(Some(batch)) => release(class, batch),
        // The thread's cache is gone (step 4).
        Err(_) => release(class, vec![Block(block)]),
    }
}

/// A counted reference to a task, like `Arc<Task>`; see the module docs.
pub(crate) struct TaskRef {
    ptr: NonNull<Task>,
}

// SAFETY: as for `Arc<Task>`: `Task` is `Send + Sync`, and the count is
// atomic.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

/// Counts past this abort, as `Arc` does: a leak of that many references is
/// a bug, and wrapping would free the task early.
const MAX_REFS: usize = isize::MAX as usize;

impl TaskRef {
    /// Moves `task` into a block from the caches, with a count of one.
    pub(crate) fn new<J: Job + 'static>(task: Task<J>) -> TaskRef {
        let layout = Layout::new::<Task<J>>();
        let block = allocate(layout).cast::<Task<J>>();
        // SAFETY: `block` is fresh memory with room and alignment for
        // `Task<J>` (`allocate` rounds up, never down).
        unsafe { block.as_ptr().write(task) };
        let ptr: NonNull<Task> = block;
        TaskRef { ptr }
    }

    /// `new`, returning two references (a run-queue entry and a handle)
    /// for the price of one: the count starts at two instead of taking a
    /// read-modify-write, which would make the spawner contend with the
    /// worker that already runs the task.
    pub(crate) fn new_pair<J: Job + 'static>(task: Task<J>) -> (TaskRef, TaskRef) {
        task.refs().store(2, Ordering::Relaxed);
        let first = TaskRef::new(task);
        let second = TaskRef { ptr: first.ptr };
        (first, second)
    }

    /// The task's address, without changing the count.
    pub(crate) fn as_ptr(this: &TaskRef) -> *const Task {
        this.ptr.as_ptr()
    }

    /// Takes over one counted reference, as `Arc::from_raw`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live task, and the caller must own one of its
    /// counts (left by a `TaskRef` given to `mem::forget`, or added by
    /// `increment`), which the returned `TaskRef` now owns.
    pub(crate) unsafe fn from_raw(ptr: *const Task) -> TaskRef {
        TaskRef {
            // SAFETY: a live task is not at address zero.
            ptr: unsafe { NonNull::new_unchecked(ptr.cast_mut()) },
        }
    }

    /// Adds a count to the task at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a task kept alive (a count above zero) for the
    /// whole call.
    pub(crate) unsafe fn increment(ptr: *const Task) {
        // SAFETY: the caller keeps the task alive.
        let old = unsafe { &*ptr }.refs().fetch_add(1, Ordering::Relaxed);
        if old >= MAX_REFS {
            std::process::abort();
        }
    }

    /// Releases a count of the task at `ptr`, freeing it if that was the
    /// last.
    ///
    /// # Safety
    ///
    /// The caller must own a count of the task at `ptr`, and gives it up.
    pub(crate) unsafe fn decrement(ptr: *const Task) {
        // SAFETY: the caller's count is a `TaskRef` in all but name.
        drop(unsafe { TaskRef::from_raw(ptr) });
    }

    /// The task's current count (for tests).
    #[cfg(all(test, not(weft_loom)))]
    pub(crate) fn count(this: &TaskRef) -> usize {
        this.refs().load(Ordering::Acquire)
    }

    /// Drops the task and frees its block: the count reached zero.
    #[cold]
    #[inline(never)]
    fn drop_slow(&mut self) {
        // SAFETY: no other reference is left; the value is a task written
        // by `new` into a block allocated for its layout. `home` is taken
        // out once, before the rest is dropped (it is a `ManuallyDrop`).
        let home = unsafe {
            let task = self.ptr.as_ptr();
            let layout = Layout::for_value(&*task);
            let home = ManuallyDrop::take(&mut (*task).home);
            ptr::drop_in_place(task);
            free(self.ptr.cast(), layout);
            home
        };
        // The task may have held the last reference to its runtime.
        drop(home);
    }
}

impl Clone for TaskRef {
    #[inline]
    fn clone(&self) -> TaskRef {
        // SAFETY: `self` keeps the task alive.
        unsafe { TaskRef::increment(self.ptr.as_ptr()) };
        TaskRef { ptr: self.ptr }
    }
}

impl Drop for TaskRef {
    #[inline]
    fn drop(&mut self) {
        // Release, then acquire on the last count: every use of the task
        // through other references happens before it is dropped (as `Arc`).
        if self.refs().fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        self.drop_slow();
    }
}

impl Deref for TaskRef {
    type Target = Task;

    #[inline]
    fn deref(&self) -> &Task {
        // SAFETY: our count keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskRef").field(&self.ptr).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::{BATCH, LOCAL_MAX};

    #[test]
    fn classes_round_up_and_cap() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 8)), Some(0));
        assert_eq!(class_of(l(64, 8)), Some(0));
        assert_eq!(class_of(l(65, 8)), Some(1));
        assert_eq!(class_of(l(200, 16)), Some(3));
        assert_eq!(class_of(l(MAX_CACHED, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(l(MAX_CACHED + 1, 8)), None);
        assert_eq!(class_of(l(128, 32)), None);
        for class in 0..CLASSES {
            let layout = class_layout(class);
            assert_eq!(class_of(layout), Some(class));
        }
    }

    /// Blocks freed on one thread are reused by another through the global
    /// batches, and what the caches keep stays bounded.
    #[test]
    fn blocks_move_between_threads_in_batches() {
        // The largest class: no task in these tests is that big, so no other
        // test's frees mix in.
        let layout = Layout::from_size_align(MAX_CACHED - 8, 8).unwrap();
        let class = class_of(layout).unwrap();
        let blocks: Vec<usize> = (0..4 * LOCAL_MAX)
            .map(|_| allocate(layout).as_ptr() as usize)
            .collect();
        let freed = std::thread::spawn(move || {
            for &b in &blocks {
                // SAFETY: allocated above with `layout`, not used again.
                unsafe { free(NonNull::new(b as *mut u8).unwrap(), layout) };
            }
            blocks
        })
        .join()
        .unwrap();
        // The freeing thread kept at most `LOCAL_MAX` and has exited, so
        // every block is in the global batches (or back in its chunk); new
        // allocations here reuse them.
        assert!(GLOBAL[class].len() <= GLOBAL_MAX);
        let again: Vec<usize> = (0..BATCH)
            .map(|_| allocate(layout).as_ptr() as usize)
            .collect();
        assert!(again.iter().all(|b| freed.contains(b)), "reused, not new");
        for b in again {
            // SAFETY: allocated above with `layout`, not used again.
            unsafe { free(NonNull::new(b as *mut u8).unwrap(), layout) };
        }
    }
}
