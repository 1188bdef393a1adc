//! A signal handler may call `write`, `read` and `close`, even when it
//! interrupts a coroutine and the fd is one weft has never seen: the hooks
//! allocate nothing on that path, not even when the worker is taken over
//! while the handler's call waits, or when the interrupted coroutine has
//! never suspended and its worker's table is full. A counting allocator
//! watches the handlers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

/// Counts the allocations a thread makes while `IN_HANDLER` names a
/// counter: the handler's own (the tests run at once, on several threads).
struct Counting;

thread_local! {
    static IN_HANDLER: Cell<Option<&'static AtomicUsize>> = const { Cell::new(None) };
}

// SAFETY: forwards to the system allocator; the counting touches only a
// const-initialised thread-local and an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(count) = IN_HANDLER.with(Cell::get) {
            count.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The fds the handler uses: a pipe's write end and read end, moved to
/// numbers in fd-table chunks no one has touched.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static READ_FD: AtomicI32 = AtomicI32::new(-1);
/// What the handler's calls returned: write, read, close.
static RESULTS: [AtomicI32; 3] = [const { AtomicI32::new(0) }; 3];
/// Allocations made inside `handler`.
static HANDLER_ALLOCS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn handler(_: libc::c_int) {
    IN_HANDLER.with(|h| h.set(Some(&HANDLER_ALLOCS)));
    let w = WRITE_FD.load(Ordering::SeqCst);
    let r = READ_FD.load(Ordering::SeqCst);
    let mut byte = [0u8; 1];
    // SAFETY: valid buffers and fds set before the signal was raised.
    unsafe {
        RESULTS[0].store(
            libc::write(w, b"s".as_ptr().cast(), 1) as i32,
            Ordering::SeqCst,
        );
        RESULTS[1].store(
            libc::read(r, byte.as_mut_ptr().cast(), 1) as i32,
            Ordering::SeqCst,
        );
        RESULTS[2].store(libc::close(w), Ordering::SeqCst);
    }
    IN_HANDLER.with(|h| h.set(None));
}

/// Moves `fd` to number `to` (and closes the old number).
fn move_fd(fd: i32, to: i32) -> i32 {
    // SAFETY: dup2 onto a free number, then close our own old fd.
    unsafe {
        assert_eq!(libc::dup2(fd, to), to);
        libc::close(fd);
    }
    to
}

#[test]
fn write_read_and_close_in_a_handler_that_interrupts_a_coroutine_allocate_nothing() {
    // Fd numbers in chunks of the fd table no one has touched (4096 fds a
    // chunk): below the usual hard limit, far above what tests open.
    let limit = common::net::raise_fd_limit();
    let top = (limit.min(1 << 20) as i32) - 1;
    assert!(top >= 3 * 4096, "the fd limit is too low for this test");
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    READ_FD.store(move_fd(fds[0], top), Ordering::SeqCst);
    WRITE_FD.store(move_fd(fds[1], top - 4096), Ordering::SeqCst);

    // SAFETY: a valid handler for SIGUSR1, no flags.
    unsafe { libc::signal(libc::SIGUSR1, handler as *const () as libc::sighandler_t) };
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    rt.run(|| {
        // The handler runs here, on the coroutine's stack, before raise
        // returns.
        // SAFETY: the handler is installed.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    });
    // SAFETY: back to the default action; closing our read end.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_DFL);
        libc::close(READ_FD.load(Ordering::SeqCst));
    }
    let results: Vec<i32> = RESULTS.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(results, [1, 1, 0], "write, read and close in the handler");
    assert_eq!(
        HANDLER_ALLOCS.load(Ordering::SeqCst),
        0,
        "the hooks allocated inside the signal handler"
    );
}

/// The pipe `slow_handler` reads: its read end, and the write end a plain
/// thread writes to once the worker has been taken over.
static SLOW_READ_FD: AtomicI32 = AtomicI32::new(-1);
/// What the slow handler's read returned.
static SLOW_RESULT: AtomicI32 = AtomicI32::new(0);
/// Allocations made inside `slow_handler`.
static SLOW_ALLOCS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn slow_handler(_: libc::c_int) {
    IN_HANDLER.with(|h| h.set(Some(&SLOW_ALLOCS)));
    let mut byte = [0u8; 1];
    // SAFETY: a valid buffer and an fd set before the signal was raised.
    let n = unsafe {
        libc::read(
            SLOW_READ_FD.load(Ordering::SeqCst),
            byte.as_mut_ptr().cast(),
            1,
        )
    };
    SLOW_RESULT.store(n as i32, Ordering::SeqCst);
    IN_HANDLER.with(|h| h.set(None));
}

#[test]
fn a_read_in_a_handler_during_which_the_worker_is_taken_over_allocates_nothing() {
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [read_fd, write_fd] = fds;
    SLOW_READ_FD.store(read_fd, Ordering::SeqCst);

    // SAFETY: a valid handler for SIGUSR2, no flags.
    unsafe {
        libc::signal(
            libc::SIGUSR2,
            slow_handler as *const () as libc::sighandler_t,
        )
    };
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    // The handler's read waits until the thread below writes, which it
    // does once the monitor has taken the worker over (within two monitor
    // ticks, 40 µs to 2 ms), or after 10 s, when the test fails.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while rt.metrics().takeovers == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            // SAFETY: one byte from a valid buffer to our pipe's write end.
            assert_eq!(unsafe { libc::write(write_fd, b"s".as_ptr().cast(), 1) }, 1);
        });
        rt.run(|| {
            // SAFETY: the handler is installed.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
        });
    });
    let takeovers = rt.metrics().takeovers;
    // SAFETY: back to the default action; closing our pipe.
    unsafe {
        libc::signal(libc::SIGUSR2, libc::SIG_DFL);
        libc::close(read_fd);
        libc::close(write_fd);
    }
    assert_eq!(SLOW_RESULT.load(Ordering::SeqCst), 1, "the handler's read");
    assert!(
        takeovers >= 1,
        "the worker was not taken over during the handler's read"
    );
    assert_eq!(
        SLOW_ALLOCS.load(Ordering::SeqCst),
        0,
        "the hooks allocated inside a handler whose call outlasted a take-over"
    );
}

/// The pipe `first_handler` writes to and reads back from.
static FIRST_FDS: [AtomicI32; 2] = [const { AtomicI32::new(-1) }; 2];
/// How many of `first_handler`'s write-read pairs answered 1 and 1.
static FIRST_ANSWERED: AtomicUsize = AtomicUsize::new(0);
/// Allocations made inside `first_handler`.
static FIRST_ALLOCS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn first_handler(_: libc::c_int) {
    IN_HANDLER.with(|h| h.set(Some(&FIRST_ALLOCS)));
    let [r, w] = [0, 1].map(|i| FIRST_FDS[i].load(Ordering::SeqCst));
    let mut byte = [0u8; 1];
    // SAFETY: valid buffers and a pipe's fds, set before the signal was
    // raised.
    let answers = unsafe {
        (
            libc::write(w, b"f".as_ptr().cast(), 1),
            libc::read(r, byte.as_mut_ptr().cast(), 1),
        )
    };
    if answers == (1, 1) {
        FIRST_ANSWERED.fetch_add(1, Ordering::SeqCst);
    }
    IN_HANDLER.with(|h| h.set(None));
}

#[test]
fn a_handler_allocates_nothing_in_a_fresh_coroutine_whose_workers_table_is_full() {
    // A blocking call enters its coroutine in the worker's table of
    // suspended coroutines if it is not there yet. Here the call is a
    // handler's, in a coroutine that has never suspended, while the table
    // holds `n` parked siblings and the main coroutine. The table starts
    // with room for 256, so the sweep over `n` finds it full once.
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    for (slot, fd) in FIRST_FDS.iter().zip(fds) {
        slot.store(fd, Ordering::SeqCst);
    }
    // SAFETY: a valid handler for SIGWINCH, no flags.
    unsafe {
        libc::signal(
            libc::SIGWINCH,
            first_handler as *const () as libc::sighandler_t,
        )
    };
    let rounds = 300;
    for n in 0..rounds {
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        rt.run(move || {
            let (wake, asleep) = weft::channel::bounded::<()>(0);
            let parked = weft::sync::WaitGroup::new();
            for _ in 0..n {
                let (asleep, parked) = (asleep.clone(), parked.clone());
                weft::go(move || {
                    drop(parked);
                    assert!(asleep.recv().is_err());
                });
            }
            parked.wait();
            // Fresh, so it has never suspended: its handler's write is its
            // first blocking call.
            weft::go(|| {
                // SAFETY: the handler is installed.
                assert_eq!(unsafe { libc::raise(libc::SIGWINCH) }, 0);
            })
            .join()
            .unwrap();
            drop(wake);
        });
    }
    // SAFETY: back to the default action; closing our pipe.
    unsafe {
        libc::signal(libc::SIGWINCH, libc::SIG_DFL);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    assert_eq!(FIRST_ANSWERED.load(Ordering::SeqCst), rounds);
    assert_eq!(
        FIRST_ALLOCS.load(Ordering::SeqCst),
        0,
        "the hooks allocated inside a handler whose coroutine had never suspended"
    );
}
