//! Where task blocks come from: chunks of mapped memory, one size class
//! each, unmapped again once every block in them is back.
//!
//! The caches in `task/alloc.rs` recycle task memory; the chunks serve
//! what the caches cannot: blocks for a growing number of live tasks, and
//! blocks the caches have no room for. Left to the global allocator, a
//! growing heap would cost a system call per page: glibc extends a worker
//! thread's arena one page at a time, one `mprotect` per page, a large
//! share of a spawning worker's time when the coroutines it spawns stay
//! alive.
//!
//! 1. A chunk is `CHUNK` bytes aligned to `CHUNK`, so a block's chunk is its
//!    address rounded down. Its [`Header`] (the first `HEADER` bytes) says
//!    how many of its blocks are out, which came back (a list linked
//!    through the blocks themselves) and where its never-used blocks start.
//!    A class's first chunk has normal pages, so a program with a few
//!    thousand coroutines pays for the pages it touches; any further chunk
//!    asks for a transparent huge page (a chunk is one), which the kernel
//!    faults in and clears with one fault instead of 512.
//! 2. [`take`] hands out a batch of blocks under the class's lock: blocks
//!    that came back first, then never-used ones, from the chunks on the
//!    class's `partial` list (those with a block to give); it maps a chunk
//!    when that list is empty. The pages of never-used blocks are faulted
//!    in `PREFAULT` bytes at a time (one `madvise` instead of a page fault
//!    per page), so the resident size follows use.
//! 3. [`give_back`] returns blocks to their chunks under the class's lock.
//!    A chunk whose blocks are all back is unmapped, unless it is the only
//!    one on `partial`: at most one empty chunk per class stays mapped, so
//!    a program that hovers around a chunk boundary does not map and unmap
//!    it over and over.
//!
//! Every field of a header is touched only under its class's lock.

use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard};

use super::{Block, CLASSES};
use crate::sys;

/// Bytes per chunk (and their alignment).
const CHUNK: usize = 2 << 20;
/// Bytes before a chunk's first block: its header, rounded up to keep
/// blocks aligned.
const HEADER: usize = 64;
/// How far ahead of use the pages of never-used blocks are faulted in.
const PREFAULT: usize = 64 << 10;
/// `Header::slot` of a chunk that is not on `partial`.
const FULL: usize = usize::MAX;

/// The head of a chunk (step 1).
#[repr(C)]
struct Header {
    /// Blocks handed out and not given back: in caches or in tasks.
    live: usize,
    /// Blocks given back, each holding the address of the next.
    free: *mut u8,
    /// Offset of the first never-used block.
    bump: usize,
    /// Offset up to which pages have been faulted in (a multiple of
    /// `PREFAULT`).
    faulted: usize,
    /// Index in the class's `partial` list, or `FULL`.
    slot: usize,
}

const _: () = assert!(std::mem::size_of::<Header>() <= HEADER);

/// One class's chunks.
struct Pool {
    /// Chunks with a block to give (step 2).
    partial: Vec<NonNull<Header>>,
    /// Chunks mapped (for tests).
    mapped: usize,
}

// SAFETY: a pool is only touched under its lock, and the chunks it points
// to belong to it: their headers are only touched under the same lock.
unsafe impl Send for Pool {}

static POOLS: [Mutex<Pool>; CLASSES] = [const {
    Mutex::new(Pool {
        partial: Vec::new(),
        mapped: 0,
    })
}; CLASSES];

fn lock(class: usize) -> MutexGuard<'static, Pool> {
    // Nothing panics under this lock but a failing `Vec` growth (an abort),
    // so a poisoned pool is still sound.
    POOLS[class].lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// Puts `chunk` on `partial`.
    ///
    /// # Safety
    ///
    /// `chunk` must be a mapped chunk of this pool, not on `partial`.
    unsafe fn add(&mut self, chunk: NonNull<Header>) {
        // SAFETY: the caller's chunk; we hold the class's lock.
        unsafe { (*chunk.as_ptr()).slot = self.partial.len() };
        self.partial.push(chunk);
    }

    /// Takes `chunk` off `partial`.
    ///
    /// # Safety
    ///
    /// `chunk` must be on this pool's `partial`.
    unsafe fn remove(&mut self, chunk: NonNull<Header>) {
        // SAFETY: the caller's chunk and the ones on `partial` are mapped
        // chunks of this pool; we hold the class's lock.
        unsafe {
            let slot = (*chunk.as_ptr()).slot;
            self.partial.swap_remove(slot);
            if let Some(moved) = self.partial.get(slot) {
                (*moved.as_ptr()).slot = slot;
            }
            (*chunk.as_ptr()).slot = FULL;
        }
    }

    /// Maps a fresh chunk and puts it on `partial`; `None` if the system
    /// has no memory to give.
    fn map(&mut self) -> Option<NonNull<Header>> {
        // Twice the size, then the unaligned ends cut off.
        // SAFETY: an anonymous private mapping; no memory of ours is
        // touched.
        let raw = unsafe {
            libc::mmap(
                ptr::null_mut(),
                2 * CHUNK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return None;
        }
        let raw = raw as usize;
        let start = raw.next_multiple_of(CHUNK);
        let head = start - raw;
        let tail = CHUNK - head;
        // SAFETY: both ranges lie in the mapping made above and hold
        // nothing; `start..start + CHUNK` stays mapped.
        unsafe {
            if head > 0 {
                libc::munmap(raw as *mut libc::c_void, head);
            }
            if tail > 0 {
                libc::munmap((start + CHUNK) as *mut libc::c_void, tail);
            }
        }
        if self.mapped > 0 {
            // A class that outgrew one chunk gets huge pages (step 1).
            sys::huge_pages(start, CHUNK);
        }
        let chunk = NonNull::new(start as *mut Header).expect("a mapping is not at zero");
        // SAFETY: the chunk is fresh, writable memory with room for a
        // header at its start.
        unsafe {
            chunk.as_ptr().write(Header {
                live: 0,
                free: ptr::null_mut(),
                bump: HEADER,
                faulted: 0,
                slot: FULL,
            });
            self.add(chunk);
        }
        self.mapped += 1;
        Some(chunk)
    }

    /// Unmaps `chunk`, which is off `partial` and has no block out.
    ///
    /// # Safety
    ///
    /// As above: nothing refers to `chunk` or its blocks any more.
    unsafe fn unmap(&mut self, chunk: NonNull<Header>) {
        // SAFETY: the chunk is a whole mapping of `CHUNK` bytes made by
        // `map`; the caller guarantees nothing uses it.
        unsafe { libc::munmap(chunk.as_ptr().cast(), CHUNK) };
        self.mapped -= 1;
    }
}

/// The chunk a block lies in.
fn chunk_of(block: NonNull<u8>) -> NonNull<Header> {
    let start = block.as_ptr() as usize & !(CHUNK - 1);
    NonNull::new(start as *mut Header).expect("a chunk is not at zero")
}

/// Step 2: pushes up to `n` blocks of `size` bytes (class `class`) onto
/// `out`. Fewer only when the system has no memory left.
pub(super) fn take(class: usize, size: usize, n: usize, out: &mut Vec<Block>) {
    debug_assert!(size % 16 == 0 && size <= (CHUNK - HEADER) / 4);
    let mut pool = lock(class);
    let mut wanted = n;
    while wanted > 0 {
        let Some(chunk) = pool.partial.last().copied().or_else(|| pool.map()) else {
            return;
        };
        // SAFETY: chunks on `partial` are mapped chunks of this class, and
        // we hold its lock.
        let h = unsafe { &mut *chunk.as_ptr() };
        let base = chunk.as_ptr() as usize;
        while wanted > 0 {
            let block = if let Some(block) = NonNull::new(h.free) {
                // SAFETY: a given-back block holds the next one's address.
                h.free = unsafe { block.cast::<*mut u8>().read() };
                block
            } else if h.bump + size <= CHUNK {
                if h.bump + size > h.faulted {
                    let end = (h.faulted + PREFAULT).min(CHUNK);
                    sys::prefault(base + h.faulted, end - h.faulted);
                    h.faulted = end;
                }
                let block = (base + h.bump) as *mut u8;
                h.bump += size;
                // SAFETY: inside the chunk, which is not at zero.
                unsafe { NonNull::new_unchecked(block) }
            } else {
                break;
            };
            h.live += 1;
            out.push(Block(block));
            wanted -= 1;
        }
        if h.free.is_null() && h.bump + size > CHUNK {
            // SAFETY: it came from `partial`.
            unsafe { pool.remove(chunk) };
        }
    }
}

/// Step 3: returns blocks that `take` handed out for class `class`.
///
/// # Safety
///
/// Each block must come from `take` for this class and not be used again.
pub(super) unsafe fn give_back(class: usize, blocks: impl IntoIterator<Item = Block>) {
    let mut pool = lock(class);
    for Block(block) in blocks {
        let chunk = chunk_of(block);
        // SAFETY: the block's chunk is mapped (its `live` counts the block)
        // and belongs to this class; we hold its lock. The block is free
        // memory of at least a pointer's size.
        unsafe {
            let h = &mut *chunk.as_ptr();
            block.cast::<*mut u8>().write(h.free);
            h.free = block.as_ptr();
            h.live -= 1;
            if h.slot == FULL {
                pool.add(chunk);
            }
            if h.live == 0 && pool.partial.len() > 1 {
                pool.remove(chunk);
                pool.unmap(chunk);
            }
        }
    }
}

/// How many chunks class `class` has mapped.
#[cfg(test)]
pub(super) fn mapped(class: usize) -> usize {
    lock(class).mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_and_empty_chunks_unmapped() {
        // Next to the largest class: no task in the tests is that big, and
        // no other test takes blocks of it.
        let class = CLASSES - 2;
        let size = (class + 1) * 64;
        let per_chunk = (CHUNK - HEADER) / size;
        assert_eq!(mapped(class), 0);

        let mut blocks = Vec::new();
        take(class, size, 3 * per_chunk, &mut blocks);
        assert_eq!(blocks.len(), 3 * per_chunk);
        assert_eq!(
            mapped(class),
            3,
            "chunks are filled before new ones are mapped"
        );
        // Blocks are aligned and disjoint: fill each with its own byte and
        // read every one back.
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.0.as_ptr() as usize % 16, 0);
            // SAFETY: a block of `size` bytes that only this test uses.
            unsafe { b.0.as_ptr().write_bytes(i as u8, size) };
        }
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: as above.
            let bytes = unsafe { std::slice::from_raw_parts(b.0.as_ptr(), size) };
            assert!(
                bytes.iter().all(|&x| x == i as u8),
                "block {i} was overwritten"
            );
        }

        // One chunk's blocks all back: it stays mapped (the only chunk with
        // room) and is where the next blocks come from.
        let first = chunk_of(blocks[0].0);
        let (back, rest): (Vec<_>, Vec<_>) =
            blocks.into_iter().partition(|b| chunk_of(b.0) == first);
        // SAFETY: taken above, not used again.
        unsafe { give_back(class, back) };
        assert_eq!(mapped(class), 3);
        let mut again = Vec::new();
        take(class, size, 10, &mut again);
        assert!(
            again.iter().all(|b| chunk_of(b.0) == first),
            "given-back blocks are reused"
        );

        // Everything back: the other two chunks are unmapped, one empty
        // chunk is kept.
        // SAFETY: taken above, not used again.
        unsafe {
            give_back(class, again);
            give_back(class, rest);
        }
        assert_eq!(mapped(class), 1);
    }
}
