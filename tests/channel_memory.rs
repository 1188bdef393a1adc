//! An unbounded channel's memory follows the messages it holds: drained
//! after a burst, it gives its buffer back. (One test in its own binary:
//! the allocation counter is global, and other tests would move it.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use weft::channel::unbounded;

/// Bytes allocated and not yet freed, by everything in this process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_drained_unbounded_channel_gives_its_buffer_back() {
    const BURST: u64 = 100_000;
    let (tx, rx) = unbounded::<u64>();
    // Warm up: whatever the channel keeps for small loads is counted in.
    tx.send(0).unwrap();
    assert_eq!(rx.recv(), Ok(0));
    let before = LIVE.load(Ordering::SeqCst);
    for round in 0..3 {
        for i in 0..BURST {
            tx.send(i).unwrap();
        }
        let during = LIVE.load(Ordering::SeqCst) - before;
        assert!(
            during >= (BURST * 8) as isize,
            "the burst is buffered: {during} bytes"
        );
        for i in 0..BURST {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        let after = LIVE.load(Ordering::SeqCst) - before;
        // What stays is at most the small buffer an empty channel keeps.
        assert!(
            after <= 16 * 1024,
            "round {round}: {after} bytes kept after draining"
        );
    }
}
