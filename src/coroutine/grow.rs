//! `weft::grow`: run a closure on a fresh stack segment when the current one
//! is nearly used up (the technique of the `stacker` crate, on weft's guarded
//! stacks).
//!
//! ```text
//!   coroutine stack            fresh segment (mmap, guard page below)
//!   +-----------+              +-----------+
//!   | frames    |   grow(..)   | f's frames|
//!   | ...       | -----------> | ...       |
//!   | red zone  |  on_stack    |           |
//!   +-----------+              +-----------+
//!   | guard     |              | guard     |
//! ```
//!
//! While `f` runs, the segment is the coroutine's recorded segment (on a
//! plain thread, the thread's), so an overflow there is reported by name and
//! the next `grow` measures against it. The previous one is restored when `f`
//! returns or unwinds. The segment counts against the stack budget while it
//! is in use and is unmapped afterwards.

use std::cell::Cell;

use crate::runtime::{current_segment, current_task, install_overflow_handler};
use crate::stack::{Budget, GuardedStack, Segment};
use crate::sys;

/// Runs `f` on a fresh `stack_size`-byte segment if less than `red_zone`
/// bytes of the current stack remain, else runs it in place.
///
/// Wrap the recursive call of a deep recursion in it, with a red zone larger
/// than one level's frame, and the recursion can go as deep as memory allows
/// whatever the coroutine's stack size. Works on plain threads too.
///
/// # Panics
///
/// If a segment is needed and cannot be mapped (the stack budget is
/// exhausted, see `vm.max_map_count`), and, like any call, if `f` panics.
///
/// ```
/// fn depth(n: u64) -> u64 {
///     let pad = [n; 64]; // ~512 bytes of stack per level
///     if n == 0 {
///         return 0;
///     }
///     1 + weft::grow(16 * 1024, 256 * 1024, || depth(pad[0] - 1))
/// }
/// // 100k levels need ~50 MB of stack: far more than the default 256 KiB.
/// let h = weft::go(|| depth(100_000));
/// assert_eq!(h.join().unwrap(), 100_000);
/// ```
pub fn grow<R, F: FnOnce() -> R>(red_zone: usize, stack_size: usize, f: F) -> R {
    if remaining_stack() >= red_zone {
        return f();
    }
    grow_slow(stack_size, f)
}

#[inline(never)]
fn grow_slow<R, F: FnOnce() -> R>(stack_size: usize, f: F) -> R {
    let slot = Budget::reserve().unwrap_or_else(|e| panic!("weft::grow: {e}"));
    let stack = GuardedStack::new(stack_size).unwrap_or_else(|e| {
        panic!("weft::grow: cannot map a {stack_size}-byte stack segment: {e}")
    });
    let task = current_task();
    if task.is_none() {
        // A plain thread: the handler that reports an overflow of the
        // segment by name, and the alternate stack it runs on, may not be
        // there yet (workers install them as they start).
        install_overflow_handler();
    }
    let segment = Segment::of(&stack);
    let restore = match task {
        Some(t) => Restore::Task(t.replace_segment(segment)),
        None => Restore::Thread(segment.activate()),
    };
    let r = corosensei::on_stack(stack, f);
    drop(restore);
    drop(slot);
    r
}

/// Puts the previous segment back, also when `f` unwinds.
enum Restore {
    Task(Segment),
    Thread(Segment),
}

impl Drop for Restore {
    fn drop(&mut self) {
        match *self {
            Restore::Task(seg) => {
                if let Some(task) = current_task() {
                    task.replace_segment(seg);
                }
            }
            Restore::Thread(seg) => {
                seg.activate();
            }
        }
    }
}

/// Bytes left between the stack pointer and the current stack's guard.
fn remaining_stack() -> usize {
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    let low = match current_segment().low() {
        0 => thread_stack_low(),
        low => low,
    };
    sp.saturating_sub(low)
}

/// Lowest usable address of this (plain) thread's stack, cached.
fn thread_stack_low() -> usize {
    thread_local! {
        static LOW: Cell<usize> = const { Cell::new(0) };
    }
    LOW.with(|c| {
        if c.get() == 0 {
            // Unknown bounds: report plenty of room (f runs in place).
            c.set(sys::thread_stack_bounds().map_or(1, |(lo, _)| lo));
        }
        c.get()
    })
}
