//! Taking over a worker while one of its coroutines is blocked in the kernel.
//!
//! Some calls wait in the kernel and cannot become a park: a futex wait
//! inside `std::sync::Mutex`, `mpsc`, parking_lot or crossbeam, the
//! `epoll_wait` of a tokio runtime that a sync client drives, `waitpid`, a
//! read of a pipe or a file. Their waits keep per-thread state (std's
//! `Thread`, parking_lot's `ThreadData`, tokio's runtime context), so a
//! second coroutine of the same thread may not enter one while the first
//! waits: each such wait needs an OS thread of its own while it lasts. If
//! the worker's only thread waited, every other coroutine of the worker
//! would wait with it, and the one that would end the wait (the sender, the
//! lock holder) could never run: a deadlock.
//!
//! # A worker is a domain, not a thread
//!
//! A worker's state (`Worker`: its queues, poller, timers, fd cache, park
//! state and the coroutines bound to it) is one value, a `Domain`
//! (`domain.rs`), that the worker's own threads take turns *holding*. The
//! thread that holds it runs the scheduler loop; the others wait, each on
//! a *seat* of the worker, or are inside a blocking call. A worker starts
//! with one thread (seat 0); the monitor (`monitor.rs`) starts more when it
//! takes the worker over, up to `RuntimeBuilder::max_threads`, and they
//! stay, idle, for later take-overs.
//!
//! # Where the code lives
//!
//! This file holds the protocol's state, [`Takeover`] (the hold word and
//! the seats), and every step taken on it. It names neither the worker nor
//! the runtime's shared state, so that both can hold a `Takeover` and call
//! it: the worker's loop gives the worker back at its switch points
//! (step 5) and leaves it at shutdown; the monitor looks at each worker
//! ([`Takeover::check`], step 3). A spare thread runs the worker's loop
//! through the [`SpareMain`] the worker's first thread left here.
//! `domain.rs` ties the protocol to the worker: the `Domain` value, what a
//! spare thread runs, and a coroutine's blocking call (steps 1, 2 and 4,
//! from the caller's side: `BlockingCall`).
//!
//! # The hold word
//!
//! `Takeover::hold` says who holds the worker and whether it is in a
//! blocking call:
//!
//! ```text
//!   bits 32..64   bits 1..32   bit 0
//!   episode       seat         blocking
//! ```
//!
//! | state | meaning | written by |
//! |---|---|---|
//! | `seat s, blocking 0` | seat s's thread holds the worker and runs it | the holder; whoever gives it the worker |
//! | `seat s, blocking 1` | seat s's thread holds it but waits in the kernel | the holder (enter), the holder or the monitor (CAS out) |
//!
//! The episode counts blocking calls, so that the monitor can tell a call
//! that has lasted a whole tick from a new one, and so that a CAS of the
//! blocked thread can never succeed on a later state that looks the same.
//!
//! # Protocol
//!
//! 1. **Enter.** A thread that holds its worker and runs a coroutine is
//!    about to make a call that may wait in the kernel. It marks the task
//!    `blocked` and swaps the hold word to `(episode + 1, me, blocking)`
//!    (SeqCst: the monitor's sleep re-check reads it), and wakes the monitor
//!    if it sleeps. No system call otherwise.
//! 2. **Leave, fast.** When the call returns, one CAS puts the word back to
//!    `(episode + 1, me, running)`. If it succeeds, nobody took the worker:
//!    the thread held it all along.
//! 3. **Take over.** The monitor finds the same blocking word at two ticks
//!    in a row: the call has lasted at least a tick. Under the seats lock it
//!    takes an idle seat (or starts a thread on a new one) and CASes the
//!    word from what it saw to `(episode, spare, running)`; on success it
//!    counts the blocked seat *away* and gives the spare its turn. The spare
//!    runs the scheduler loop from where it last stopped.
//! 4. **Come back.** The blocked thread's CAS in step 2 fails: the worker
//!    was taken. Under the seats lock it queues its seat in `returning`,
//!    sets the `returning` flag, wakes the holder if it sleeps in its poller
//!    (`Shared::wake_worker`) and waits on its seat.
//! 5. **Give back.** The holder looks at the flag at its switch points:
//!    between two coroutines (the fairness round, and before it searches or
//!    sleeps), never inside a coroutine. Seeing it, it writes the returning
//!    seat into the hold word, gives that seat its turn, puts its own seat
//!    among the idle ones and waits on it. The returned thread goes on with
//!    the coroutine it blocked in, on the thread it blocked on.
//!
//! No thread is lost: the blocked thread's CAS (step 2) and the monitor's
//! (step 3) compete for the one word, so exactly one wins; a returning seat
//! is queued under the lock that the holder takes to give the worker back,
//! and the flag is set before the holder is woken, whose sleep re-checks it
//! after announcing that it sleeps (`shared.rs`, idle protocol step 2).
//!
//! # Why it is sound
//!
//! The rule that makes `go` a safe function is that nothing a coroutine
//! keeps of a thread (its thread-locals, `errno`, `!Send` values on its
//! stack, thread-local addresses LLVM kept in registers across a park) is
//! ever used from two threads at once. Take-over keeps it:
//!
//! 1. A coroutine never leaves its worker: only the threads of its worker
//!    resume it, and only while holding the worker.
//! 2. A worker's coroutines never run at the same time: one thread holds
//!    the worker, and the hand-overs (steps 3-5) are release/acquire pairs,
//!    so each holder sees everything the previous one did.
//! 3. A thread serves one worker for life, and a worker's threads all live
//!    until the worker has finished every coroutine (shutdown, below). A
//!    coroutine that ran on thread A and now runs on thread B may still use
//!    A's thread-locals through an address it kept; it does so only while B
//!    holds the worker, and A then does nothing that touches a thread-local:
//!    it waits in the kernel, or in this module's code (atomics, the seats
//!    lock, a futex on its seat). That is why the blocking hooks enter the
//!    kernel through `sys::raw::syscall6`, which leaves `errno` alone, and
//!    set `errno` only after step 2 or 5 gave them the worker back.
//! 4. The coroutine that blocked continues on its own thread, so whatever a
//!    library set in a thread-local before the call (tokio's context,
//!    parking_lot's `ThreadData`) it reads back after.
//!
//! What a user may notice: a coroutine that was parked while a sibling was
//! blocked can resume on another thread of the same worker, and then
//! `thread::current()` and thread-locals are that thread's.
//!
//! # Hand-offs
//!
//! A coroutine resumed by a hand-off (`park.rs`) runs inside its partner's
//! resume, which is not a switch point: its thread could not give the worker
//! back in the middle, and the partner, live on this thread's stack, must
//! not be resumed by another holder meanwhile. So a coroutine in a hand-off
//! yields before it enters a blocking call, and enters it from the worker's
//! loop. That yield must not move it to another thread: the caller may
//! already hold per-thread state for the wait it is entering (parking_lot's
//! `ThreadData` of this thread, std's `Thread` handle), and a wait entered
//! on another thread with it would share that state with whatever runs
//! here next. So it is a *pinned* yield (`pin_yield`, in `domain.rs`): the
//! partner suspends at once (`Worker::hand_off`), and the same thread
//! resumes the coroutine before anything else, before any switch point
//! where the worker could change hands.
//!
//! # Signal handlers
//!
//! A signal handler runs on the thread it interrupts, on the stack of the
//! coroutine it interrupts, and may make a blocking call of its own: a
//! `read` or `write` of a pipe is one, and `hook/mod.rs` promises that it
//! allocates nothing and takes no lock that the interrupted code may hold.
//! The protocol keeps that promise:
//!
//! 1. If the interrupted coroutine is inside a blocking call of its own
//!    (its task is marked `blocked`, from the first thing step 1 does until
//!    after step 2 or 4), the handler's call is made plainly, outside the
//!    protocol (`BlockingCall::enter`): the thread may not hold the worker,
//!    and a second step 1 would overwrite the first call's word. Because
//!    the mark comes first, a handler never finds the worker's table of
//!    suspended coroutines borrowed by the step 1 it interrupted.
//! 2. Otherwise the thread holds the worker and was running the coroutine,
//!    and the handler's call takes the steps any call does. Steps 1 and 2
//!    are atomics; step 1 also enters the coroutine in the worker's table
//!    if it is not there yet, which allocates nothing: the worker keeps a
//!    free place there for the coroutine it runs (`room_to_track` in
//!    `worker.rs`).
//! 3. If the worker was taken over meanwhile, step 4 takes the seats lock.
//!    No thread holds that lock while it runs one of the worker's
//!    coroutines: it is taken at the worker's start, by the holder between
//!    coroutines (step 5, shutdown), by a thread whose coroutine is inside
//!    a blocking call (step 4), by the monitor, and by `Runtime::drop`,
//!    which returns before it takes the lock when it runs on one of its own
//!    runtime's threads. The reports a coroutine may ask for
//!    (`weft::metrics`, a dump) read atomics and a lock of their own
//!    instead. So the interrupted thread does not hold it, and the handler
//!    waits at most for another thread's few instructions.
//! 4. Step 4 allocates nothing: `returning` has room for every seat,
//!    reserved when the seat was added (by the monitor). Waking the holder
//!    is a write to its eventfd, and the wait is a futex wait on the seat.
//!
//! # Shutdown
//!
//! A thread that sees its runtime shut down while holding the worker
//! cancels every coroutine it can (not the `blocked` ones: their threads
//! still run them) and then [`Takeover::leave`]s: if no seat is away, the
//! worker is finished and every idle seat is told to exit; otherwise it
//! gives the worker to a returning seat, or leaves it free for the first
//! that returns, and waits as an idle seat. A call that never returns keeps
//! its worker's threads alive for good: `Runtime::drop` gives up on them
//! after a few seconds and says so.
//!
//! A take-over can race with the finish: the monitor takes a seat from the
//! idle ones, or adds one, and only then finds that its CAS fails because
//! the blocked call returned and the worker shut down. The worker marks
//! itself finished under the seats lock, after telling its idle seats to
//! exit; the monitor, under the same lock, tells its seat to exit if the
//! worker has finished, and otherwise returns it to the idle ones, where
//! the finish will find it. Either way every seat's thread ends, and
//! `Runtime::drop`, which joins the monitor before the seats, can join
//! them all.

use std::collections::VecDeque;
use std::fmt;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use crate::loom::Lock;
use crate::stack::Budget;
use crate::sys;

/// Stack-budget slots a spare thread takes: its stack and its alternate
/// signal stack are two mappings each, as much as two coroutine stacks.
const SPARE_SLOTS: usize = 2;

/// Bytes of stack for a spare thread: it runs only the scheduler loop, as
/// a worker's first thread does (coroutines run on their own stacks).
const SPARE_STACK: usize = 256 * 1024;

/// What a spare thread runs once it is first given the worker: the
/// worker's loop, from where its last holder stopped (`domain.rs`). It
/// keeps the worker's state alive; `Takeover::leave` drops it when the
/// worker finishes.
pub(crate) type SpareMain = Arc<dyn Fn() + Send + Sync>;

/// The hold word's value (module docs). `BlockingCall` (`domain.rs`) keeps
/// the word it stored in step 1 for its CAS in step 2.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hold(u64);

impl Hold {
    const BLOCKING: u64 = 1;

    fn held(seat: usize, episode: u32) -> Hold {
        Hold(((episode as u64) << 32) | ((seat as u64) << 1))
    }

    fn seat(self) -> usize {
        ((self.0 & 0xffff_ffff) >> 1) as usize
    }

    fn episode(self) -> u32 {
        (self.0 >> 32) as u32
    }

    fn is_blocking(self) -> bool {
        self.0 & Self::BLOCKING != 0
    }

    /// The word a holder stores when it enters a blocking call.
    fn entering(self) -> Hold {
        Hold::held(self.seat(), self.episode().wrapping_add(1)).with_blocking()
    }

    fn with_blocking(self) -> Hold {
        Hold(self.0 | Self::BLOCKING)
    }

    fn without_blocking(self) -> Hold {
        Hold(self.0 & !Self::BLOCKING)
    }
}

/// What a seat is told (`Seat::turn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Hold the worker now.
    Hold,
    /// The worker is finished: leave the loop and end the thread.
    Exit,
}

const WAIT: u32 = 0;
const HOLD: u32 = 1;
const EXIT: u32 = 2;

/// One of a worker's threads.
struct Seat {
    /// `WAIT`, `HOLD` or `EXIT`: written by whoever gives the seat its turn
    /// (release), reset to `WAIT` by the seat's thread when it takes a
    /// `HOLD`. A futex word: the seat's thread waits on it.
    turn: AtomicU32,
}

impl Seat {
    fn new() -> Arc<Seat> {
        Arc::new(Seat {
            turn: AtomicU32::new(WAIT),
        })
    }

    fn give(&self, turn: Turn) {
        let v = match turn {
            Turn::Hold => HOLD,
            Turn::Exit => EXIT,
        };
        self.turn.store(v, Ordering::Release);
        sys::futex_wake(&self.turn, 1);
    }

    /// Waits for this seat's turn. Touches no thread-local (soundness,
    /// point 3).
    fn wait(&self) -> Turn {
        loop {
            match self.turn.load(Ordering::Acquire) {
                WAIT => sys::futex_wait(&self.turn, WAIT, None),
                HOLD => {
                    self.turn.store(WAIT, Ordering::Relaxed);
                    return Turn::Hold;
                }
                _ => return Turn::Exit,
            }
        }
    }
}

/// The slow-path state of a worker's threads, under `Takeover::seats`.
struct Seats {
    /// Every seat, by number; seat 0 is the worker's first thread.
    all: Vec<Arc<Seat>>,
    /// Seats waiting to be given the worker. Has room for every seat.
    idle: Vec<usize>,
    /// Seats whose blocking call returned, oldest first (step 4). Has room
    /// for every seat, so that queueing one allocates nothing ("Signal
    /// handlers").
    returning: VecDeque<usize>,
    /// Nobody holds the worker: it shut down while a seat was away, and the
    /// first to return takes it.
    free: bool,
    /// What a spare thread runs; dropped when the worker finishes.
    spare_main: Option<SpareMain>,
    /// The spare threads started so far.
    spares: Vec<thread::JoinHandle<()>>,
    /// The "no more threads" warning was printed.
    warned: bool,
}

impl Seats {
    /// Adds a seat, with room for it among the idle and the returning
    /// ones; returns its number.
    fn add(&mut self, seat: Arc<Seat>) -> usize {
        self.all.push(seat);
        let n = self.all.len();
        self.idle.reserve(n - self.idle.len());
        self.returning.reserve(n - self.returning.len());
        n - 1
    }
}

/// A worker's take-over state: the part of the worker its threads and the
/// monitor share.
pub(crate) struct Takeover {
    /// Who holds the worker (module docs, "The hold word").
    hold: AtomicU64,
    /// Some seat waits in `returning` (step 4). Set and cleared under the
    /// seats lock; read by the holder at its switch points.
    returning: AtomicBool,
    /// Every thread of the worker has ended its loop (shutdown).
    finished: AtomicBool,
    /// Take-overs so far (for `weft::metrics`). Written by the monitor.
    takeovers: AtomicU64,
    seats: Lock<Seats>,
    /// How many seats there are, and how many are away.
    counts: SeatCounts,
    /// The CPU-time clock of each of the worker's threads, for
    /// `weft::metrics` (`note_first_thread`, `add_seat`). A lock of its
    /// own, for the same reason.
    cpu_clocks: Lock<Vec<libc::clockid_t>>,
    /// The worker's number, for warnings.
    index: usize,
    /// The worker's first thread's name; a spare's adds `.seat`.
    name: String,
    /// Most threads the worker may have (`RuntimeBuilder::max_threads`).
    max_threads: usize,
}

/// A worker's seats and how many of them are *away* (inside a blocking
/// call during which the worker was taken), in one word, so that a report
/// reads both as of one moment: the seats in the high half, the away ones
/// (fewer than the seats, which are threads) in the low. Changed only
/// under the seats lock; read without it by the reports, which may run in
/// a coroutine ("Signal handlers").
struct SeatCounts(AtomicU64);

impl SeatCounts {
    const SEAT: u64 = 1 << 32;

    fn new(seats: usize) -> SeatCounts {
        SeatCounts(AtomicU64::new(seats as u64 * Self::SEAT))
    }

    /// The seats, and the away ones.
    fn get(&self) -> (usize, usize) {
        let counts = self.0.load(Ordering::Relaxed);
        (
            (counts / Self::SEAT) as usize,
            (counts % Self::SEAT) as usize,
        )
    }

    fn seat_added(&self) {
        self.0.fetch_add(Self::SEAT, Ordering::Relaxed);
    }

    fn went_away(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn came_back(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Takeover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Takeover").finish_non_exhaustive()
    }
}

impl Takeover {
    /// Worker `index`, held by its first thread (seat 0, named `name`),
    /// which may have up to `max_threads` threads.
    pub(crate) fn new(index: usize, name: String, max_threads: usize) -> Takeover {
        let mut seats = Seats {
            all: Vec::new(),
            idle: Vec::new(),
            returning: VecDeque::new(),
            free: false,
            spare_main: None,
            spares: Vec::new(),
            warned: false,
        };
        seats.add(Seat::new());
        let counts = SeatCounts::new(seats.all.len());
        Takeover {
            hold: AtomicU64::new(Hold::held(0, 0).0),
            returning: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            takeovers: AtomicU64::new(0),
            seats: Lock::new(seats),
            counts,
            cpu_clocks: Lock::new(Vec::new()),
            index,
            name,
            max_threads,
        }
    }

    /// Keeps what the spare threads to come will run.
    pub(crate) fn set_spare_main(&self, main: SpareMain) {
        self.seats.lock().spare_main = Some(main);
    }

    /// Whether a seat waits to get the worker back (step 5's check).
    #[inline]
    pub(crate) fn is_wanted(&self) -> bool {
        self.returning.load(Ordering::Relaxed)
    }

    /// Whether the monitor should look at this worker: its holder is in a
    /// blocking call. Returns the word it saw then.
    fn blocking_word(&self) -> Option<Hold> {
        let h = Hold(self.hold.load(Ordering::SeqCst));
        h.is_blocking().then_some(h)
    }

    /// Whether the worker's holder is in a blocking call now. A SeqCst
    /// load: the monitor's sleep re-check (`shared.rs`, "The monitor's
    /// sleep").
    pub(crate) fn is_blocking(&self) -> bool {
        self.blocking_word().is_some()
    }

    /// How many times the worker was taken over.
    pub(crate) fn takeovers(&self) -> u64 {
        self.takeovers.load(Ordering::Relaxed)
    }

    /// The worker's OS threads (its first, and the spares started for
    /// take-overs), and how many of them are away in blocking calls, as of
    /// one moment.
    pub(crate) fn threads(&self) -> (usize, usize) {
        self.counts.get()
    }

    /// Notes the calling thread, the worker's first, as it starts: its CPU
    /// time counts in the worker's busy time (`cpu_time`).
    pub(crate) fn note_first_thread(&self) {
        // SAFETY: the calling thread's own handle, alive while it runs.
        if let Some(clock) = unsafe { cpu_clock(libc::pthread_self()) } {
            self.cpu_clocks.lock().push(clock);
        }
    }

    /// The CPU time the worker's threads have used: the time they ran its
    /// coroutines, looked for work or made system calls, not the time they
    /// slept in the poller or waited in a blocking call. Read from the
    /// kernel's per-thread clocks, so counting it costs the worker nothing.
    /// A thread that has ended (a runtime shutting down) no longer counts:
    /// the kernel refuses its clock.
    pub(crate) fn cpu_time(&self) -> std::time::Duration {
        self.cpu_clocks
            .lock()
            .iter()
            .map(|&clock| {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: a clock id and a timespec to write; the kernel
                // checks that the clock's thread is still one of ours.
                if unsafe { libc::clock_gettime(clock, &mut ts) } == 0 {
                    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
                } else {
                    std::time::Duration::ZERO
                }
            })
            .sum()
    }

    /// Whether every thread of the worker has left its loop.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Seats away in a blocking call (for shutdown's report).
    pub(crate) fn away(&self) -> usize {
        self.counts.get().1
    }

    /// The spare threads' handles, to join once the worker has finished.
    pub(crate) fn take_spares(&self) -> Vec<thread::JoinHandle<()>> {
        std::mem::take(&mut self.seats.lock().spares)
    }

    /// Step 5: called by the holder between coroutines. If a seat waits to
    /// get the worker back, gives it the worker and waits until this
    /// thread is given the worker again (`Turn::Hold`) or told to exit.
    #[cold]
    pub(crate) fn give_back(&self) -> Turn {
        let me = Hold(self.hold.load(Ordering::Relaxed));
        let (to, mine) = {
            let mut seats = self.seats.lock();
            let Some(next) = seats.returning.pop_front() else {
                return Turn::Hold;
            };
            if seats.returning.is_empty() {
                self.returning.store(false, Ordering::Relaxed);
            }
            self.counts.came_back();
            seats.idle.push(me.seat());
            self.hold
                .store(Hold::held(next, me.episode()).0, Ordering::Relaxed);
            (seats.all[next].clone(), seats.all[me.seat()].clone())
        };
        to.give(Turn::Hold);
        mine.wait()
    }

    /// Shutdown: the holder has cancelled what it could. If no seat is
    /// away, the worker is finished: every idle seat is told to exit, and
    /// so is the caller (`Turn::Exit`). Otherwise the worker goes to a
    /// returning seat, or is left free for the first to return, and the
    /// caller waits as an idle seat.
    pub(crate) fn leave(&self) -> Turn {
        let me = Hold(self.hold.load(Ordering::Relaxed));
        let mut seats = self.seats.lock();
        if self.away() == 0 {
            for &i in &seats.idle {
                seats.all[i].give(Turn::Exit);
            }
            seats.idle.clear();
            let main = seats.spare_main.take();
            // Under the lock, so that a seat the monitor adds meanwhile is
            // told to exit rather than left idle (`take_over`).
            self.finished.store(true, Ordering::Release);
            drop(seats);
            // Drops the spare threads' hold on the worker's state; the
            // caller's own keeps it alive until its thread ends.
            drop(main);
            return Turn::Exit;
        }
        let to = match seats.returning.pop_front() {
            Some(next) => {
                if seats.returning.is_empty() {
                    self.returning.store(false, Ordering::Relaxed);
                }
                self.counts.came_back();
                self.hold
                    .store(Hold::held(next, me.episode()).0, Ordering::Relaxed);
                Some(seats.all[next].clone())
            }
            None => {
                seats.free = true;
                None
            }
        };
        seats.idle.push(me.seat());
        let mine = seats.all[me.seat()].clone();
        drop(seats);
        if let Some(to) = to {
            to.give(Turn::Hold);
        }
        mine.wait()
    }

    /// Step 1: the holder is about to wait in the kernel (its task is
    /// already marked `blocked`). Stores the word that says so, and returns
    /// it for step 2.
    #[inline]
    pub(crate) fn enter_call(&self) -> Hold {
        let word = Hold(self.hold.load(Ordering::Relaxed)).entering();
        // SeqCst: the monitor's sleep re-check reads it (`shared.rs`, "The
        // monitor's sleep").
        self.hold.swap(word.0, Ordering::SeqCst);
        word
    }

    /// Step 2: the call that stored `word` returned. True if nobody took
    /// the worker over: this thread held it all along.
    #[inline]
    pub(crate) fn leave_call(&self, word: Hold) -> bool {
        self.hold
            .compare_exchange(
                word.0,
                word.without_blocking().0,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Step 4: the worker was taken while this thread was in the call that
    /// stored `word`. If nobody holds it (it shut down meanwhile), this
    /// thread takes it back at once: `None`. Otherwise its seat is queued
    /// to get it back, and returned to wait on once the caller has woken
    /// the holder (`Returning::wait`).
    #[cold]
    pub(crate) fn queue_return(&self, word: Hold) -> Option<Returning> {
        let me = word.seat();
        let mut seats = self.seats.lock();
        if seats.free {
            seats.free = false;
            self.counts.came_back();
            self.hold
                .store(word.without_blocking().0, Ordering::Relaxed);
            return None;
        }
        seats.returning.push_back(me);
        self.returning.store(true, Ordering::Relaxed);
        Some(Returning(seats.all[me].clone()))
    }

    /// The monitor's look at this worker: `last` is the blocking word it
    /// saw at the previous look (0 for none), and is updated; a worker
    /// found in the same blocking call twice is taken over (step 3), unless
    /// `shut_down` says the runtime is shutting down.
    pub(crate) fn check(&self, last: &mut u64, shut_down: impl Fn() -> bool) -> Seen {
        match self.blocking_word() {
            Some(word) if *last == word.0 => {
                self.take_over(word, shut_down);
                *last = 0;
                Seen::TakenOver
            }
            Some(word) => {
                *last = word.0;
                Seen::Blocking
            }
            None => {
                *last = 0;
                Seen::Running
            }
        }
    }

    /// Step 3, for the monitor: takes the worker from a holder that has
    /// been blocked since it saw `seen`. False if it could not (the runtime
    /// is shutting down, the call returned meanwhile, or no thread could be
    /// had).
    fn take_over(&self, seen: Hold, shut_down: impl Fn() -> bool) -> bool {
        let spare = {
            let mut seats = self.seats.lock();
            match seats.idle.pop() {
                Some(spare) => spare,
                None => {
                    drop(seats);
                    match self.add_seat() {
                        Some(spare) => spare,
                        None => return false,
                    }
                }
            }
        };
        let mut seats = self.seats.lock();
        let taken = !shut_down()
            && self
                .hold
                .compare_exchange(
                    seen.0,
                    Hold::held(spare, seen.episode()).0,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok();
        if !taken {
            if self.finished.load(Ordering::Relaxed) {
                // The worker finished (`leave`, shutdown) after this seat
                // was taken from the idle ones or added: nobody will give it
                // a turn any more, and `Runtime::drop` joins its thread.
                seats.all[spare].give(Turn::Exit);
            } else {
                seats.idle.push(spare);
            }
            return false;
        }
        self.counts.went_away();
        // A thread was found: a later shortage is a new incident.
        seats.warned = false;
        self.takeovers.store(
            self.takeovers.load(Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        let to = seats.all[spare].clone();
        drop(seats);
        to.give(Turn::Hold);
        true
    }

    /// Starts a thread on a new seat, waiting for its turn; `None` past the
    /// thread limit or the stack budget, or before the worker's first
    /// thread has left its `SpareMain`.
    fn add_seat(&self) -> Option<usize> {
        let (index, max) = (self.index, self.max_threads);
        let (seat, turn, main) = {
            let mut seats = self.seats.lock();
            let main = seats.spare_main.clone()?;
            let full = seats.all.len() >= max || {
                let got = Budget::try_reserve_many(SPARE_SLOTS);
                if got < SPARE_SLOTS {
                    Budget::release(got); // all or nothing
                }
                got < SPARE_SLOTS
            };
            if full {
                let threads = seats.all.len();
                let first = !std::mem::replace(&mut seats.warned, true);
                // The warning (a lock and a write to stderr) waits until the
                // seats lock, which other threads spin on, is released.
                drop(seats);
                if first {
                    super::warn::warn(&format!(
                        "worker {index} has {threads} threads, all busy in calls that block \
                         (a std lock or channel, a file, a child process...); its other \
                         coroutines wait until one returns. Raise the limit with \
                         WEFT_MAX_THREADS or RuntimeBuilder::max_threads (now {max}), or \
                         use weft::sync and weft::channel, which park instead"
                    ));
                }
                return None;
            }
            let turn = Seat::new();
            let seat = seats.add(turn.clone());
            self.counts.seat_added();
            (seat, turn, main)
        };
        let spawned = thread::Builder::new()
            .name(format!("{}.{seat}", self.name))
            .stack_size(SPARE_STACK)
            .spawn(move || {
                if turn.wait() == Turn::Hold {
                    main();
                }
            });
        let mut seats = self.seats.lock();
        match spawned {
            Ok(handle) => {
                // SAFETY: the thread is not joined before `Runtime::drop`
                // takes its handle from `spares`, so its id stays valid.
                if let Some(clock) = unsafe { cpu_clock(handle.as_pthread_t()) } {
                    self.cpu_clocks.lock().push(clock);
                }
                seats.spares.push(handle);
                Some(seat)
            }
            Err(e) => {
                // The seat stays, unused: its number is taken.
                let first = !std::mem::replace(&mut seats.warned, true);
                drop(seats);
                if first {
                    super::warn::say(&format!(
                        "weft: cannot start a thread for worker {index}: {e}\n"
                    ));
                }
                Budget::release(SPARE_SLOTS);
                None
            }
        }
    }
}

/// A seat queued to get its worker back (step 4).
#[must_use = "a returning seat waits for its turn"]
pub(crate) struct Returning(Arc<Seat>);

impl Returning {
    /// Waits until the holder gives the worker back (step 5).
    pub(crate) fn wait(self) {
        // A seat in a call is never told to exit: the worker finishes only
        // once no seat is away.
        let turn = self.0.wait();
        debug_assert_eq!(turn, Turn::Hold);
    }
}

/// The CPU-time clock of a thread.
///
/// # Safety
///
/// `thread` names a thread that runs, or that has ended but is not joined
/// yet.
unsafe fn cpu_clock(thread: libc::pthread_t) -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the caller's promise; the clock id is written to a local.
    let rc = unsafe { libc::pthread_getcpuclockid(thread, &mut clock) };
    (rc == 0).then_some(clock)
}

/// What the monitor saw of one worker at one look (`Takeover::check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Its holder was not in a blocking call.
    Running,
    /// Its holder was in a blocking call, one that began since the last
    /// look.
    Blocking,
    /// Its holder was in the same blocking call as at the last look, and
    /// the monitor took the worker over (or tried: a spare could not start,
    /// or the call ended meanwhile).
    TakenOver,
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::Hold;

    #[test]
    fn the_hold_word_keeps_seat_episode_and_blocking_apart() {
        let h = Hold::held(5, 7);
        assert_eq!((h.seat(), h.episode(), h.is_blocking()), (5, 7, false));
        let b = h.entering();
        assert_eq!((b.seat(), b.episode(), b.is_blocking()), (5, 8, true));
        assert!(
            b.without_blocking() != h,
            "a new episode never equals the old"
        );
        let wrap = Hold::held(1, u32::MAX).entering();
        assert_eq!((wrap.seat(), wrap.episode()), (1, 0));
    }
}
