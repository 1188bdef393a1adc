//! Taking over a worker (`src/runtime/takeover.rs`): a coroutine that waits
//! in the kernel in a call weft cannot turn into a park (a std lock or
//! channel, parking_lot, crossbeam-channel, `thread::park`, a child
//! process, a FIFO, another poller's `epoll_wait`, a C library's pthread
//! mutex, condition, join or semaphore wait) does not stall or deadlock the
//! other coroutines of its worker.
//!
//! Every test runs on ONE worker, where, without take-over, the coroutine
//! that would end the wait could never run. Every wait is bounded: a
//! deadlock fails a timeout or an assertion, it does not hang.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use weft::Runtime;

use common::clib::CLib;

mod common;

// The C waits without a time limit (`pthread_mutex_lock`, `pthread_cond_wait`,
// `sem_wait`) are bounded by `common::deadline`, which fails the whole test
// process if they deadlock.

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

/// How long `n` waits of `each` would take one after another.
fn serial(n: u32, each: Duration) -> Duration {
    each * n
}

#[test]
fn std_mpsc_pairs_on_one_worker_overlap_instead_of_deadlocking() {
    let rt = one_worker();
    let pairs = 50;
    let wait = Duration::from_millis(40);
    let start = Instant::now();
    let got = rt.run(move || {
        let mut receivers = Vec::new();
        for i in 0..pairs {
            let (tx, rx) = mpsc::channel::<u32>();
            // The receiver blocks its thread in a futex wait...
            receivers.push(weft::go(move || {
                rx.recv_timeout(Duration::from_secs(20)).unwrap()
            }));
            // ...and the sender, on the same worker, sleeps first.
            weft::go(move || {
                weft::sleep(wait);
                tx.send(i).unwrap();
            });
        }
        receivers
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<u32>()
    });
    assert_eq!(got, (0..pairs).sum::<u32>());
    let took = start.elapsed();
    assert!(
        took < serial(pairs, wait) / 2,
        "{pairs} blocked receivers took {took:?}: they did not overlap"
    );
}

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a timespec to write, on the stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn a_spare_threads_cpu_time_counts_in_its_workers_busy_time() {
    let rt = one_worker();
    let (tx, rx) = mpsc::channel::<()>();
    let (spinner_thread, spare_cpu) = rt.run(move || {
        // Blocks the worker's first thread in a futex wait...
        let waiter = weft::go(move || rx.recv_timeout(Duration::from_secs(20)).unwrap());
        // ...so a spare thread runs this one, which spins for 60 ms of CPU
        // (under the watchdog's 100 ms) before it ends the wait.
        let spinner = weft::go(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while thread_cpu_time() < Duration::from_millis(60) && Instant::now() < deadline {}
            let seen = (
                std::thread::current().name().map(String::from),
                thread_cpu_time(),
            );
            tx.send(()).unwrap();
            seen
        });
        let seen = spinner.join().unwrap();
        waiter.join().unwrap();
        seen
    });
    assert_eq!(
        spinner_thread.as_deref(),
        Some("weft-worker-0.1"),
        "the spinner ran on the worker's first spare"
    );
    // The spare still runs (idle, until the drop), so its clock still counts.
    let busy = rt.metrics().per_worker[0].busy;
    assert!(
        busy >= spare_cpu,
        "worker busy {busy:?}, less than its spare thread's CPU time {spare_cpu:?}"
    );
}

#[test]
fn a_std_mutex_held_across_a_socket_read_does_not_deadlock_its_worker() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let rt = one_worker();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let total = rt.run(move || {
        let lock = Arc::new(Mutex::new(0u32));
        let (a, b) = (lock.clone(), lock.clone());
        // The holder parks in a socket read with the std lock held.
        let holder = weft::go(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut guard = a.lock().unwrap();
            let mut byte = [0u8];
            conn.read_exact(&mut byte).unwrap();
            *guard += u32::from(byte[0]);
        });
        // A second coroutine blocks its thread on the lock: the worker must
        // be taken over so that the writer below can run.
        let waiter = weft::go(move || {
            weft::sleep(Duration::from_millis(5));
            *b.lock().unwrap() += 1;
        });
        let writer = weft::go(move || {
            weft::sleep(Duration::from_millis(30));
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(&[41]).unwrap();
            c
        });
        holder.join().unwrap();
        waiter.join().unwrap();
        drop(writer.join().unwrap());
        let n = *lock.lock().unwrap();
        n
    });
    assert_eq!(total, 42);
}

#[test]
fn condvar_and_thread_park_waits_are_woken_by_coroutines_of_the_same_worker() {
    let rt = one_worker();
    rt.run(|| {
        // A std Condvar.
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        let waiter = weft::go(move || {
            let (m, c) = &*p;
            let (ready, timeout) = c
                .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(20), |r| !*r)
                .unwrap();
            assert!(*ready && !timeout.timed_out());
        });
        weft::go(move || {
            weft::sleep(Duration::from_millis(20));
            *pair.0.lock().unwrap() = true;
            pair.1.notify_all();
        });
        waiter.join().unwrap();

        // std::thread::park, unparked through the parked thread's handle.
        let (tx, rx) = weft::channel::bounded(1);
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let parker = weft::go(move || {
            tx.send(std::thread::current()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !w.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::park_timeout(Duration::from_secs(20));
            }
            assert!(w.load(Ordering::Acquire), "never unparked");
        });
        weft::go(move || {
            let thread = rx.recv().unwrap();
            weft::sleep(Duration::from_millis(20));
            woken.store(true, Ordering::Release);
            thread.unpark();
        });
        parker.join().unwrap();
    });
}

#[test]
fn crossbeam_and_parking_lot_waits_overlap_on_one_worker() {
    let rt = one_worker();
    let n = 20;
    let wait = Duration::from_millis(40);
    let start = Instant::now();
    rt.run(move || {
        let mut hs = Vec::new();
        for i in 0..n {
            let (tx, rx) = crossbeam_channel::bounded::<u32>(0);
            hs.push(weft::go(move || rx.recv().unwrap()));
            weft::go(move || {
                weft::sleep(wait);
                tx.send(i).unwrap();
            });
            let pair = Arc::new((parking_lot::Mutex::new(None), parking_lot::Condvar::new()));
            let p = pair.clone();
            hs.push(weft::go(move || {
                let mut slot = p.0.lock();
                while slot.is_none() {
                    p.1.wait(&mut slot);
                }
                slot.unwrap()
            }));
            weft::go(move || {
                weft::sleep(wait);
                *pair.0.lock() = Some(i);
                pair.1.notify_one();
            });
        }
        let sum: u32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 2 * (0..n).sum::<u32>());
    });
    let took = start.elapsed();
    assert!(
        took < serial(2 * n, wait) / 2,
        "{} blocked waits took {took:?}: they did not overlap",
        2 * n
    );
}

#[test]
fn child_processes_waited_for_in_coroutines_overlap() {
    let rt = one_worker();
    let n = 20;
    let start = Instant::now();
    let ok = rt.run(move || {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                weft::go(|| {
                    std::process::Command::new("sleep")
                        .arg("0.2")
                        .status()
                        .unwrap()
                        .success()
                })
            })
            .collect();
        hs.into_iter().all(|h| h.join().unwrap())
    });
    assert!(ok);
    let took = start.elapsed();
    assert!(
        took < serial(n, Duration::from_millis(200)) / 2,
        "{n} children took {took:?}: their waits did not overlap"
    );
}

#[test]
fn a_fifo_opened_and_read_in_a_coroutine_is_fed_by_a_sibling() {
    use std::io::{Read, Write};

    let dir = std::env::temp_dir().join(format!("weft-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fifo");
    let _ = std::fs::remove_file(&path);
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let rt = one_worker();
    let (p1, p2) = (path.clone(), path.clone());
    let text = rt.run(move || {
        // Opening a FIFO for reading waits for a writer; then the read
        // waits for data. Both block the thread.
        let reader = weft::go(move || {
            let mut s = String::new();
            std::fs::File::open(p1)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            s
        });
        weft::go(move || {
            weft::sleep(Duration::from_millis(20));
            let mut f = std::fs::OpenOptions::new().write(true).open(p2).unwrap();
            f.write_all(b"through the fifo").unwrap();
        });
        reader.join().unwrap()
    });
    assert_eq!(text, "through the fifo");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_nested_epoll_wait_does_not_stall_its_worker() {
    let rt = one_worker();
    rt.run(|| {
        // SAFETY: plain system calls on fds this test owns.
        let (ep, ev) = unsafe { (libc::epoll_create1(0), libc::eventfd(0, 0)) };
        assert!(ep >= 0 && ev >= 0);
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 7,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ev, &mut event) },
            0
        );
        let waiter = weft::go(move || {
            let mut out = [libc::epoll_event { events: 0, u64: 0 }];
            // SAFETY: one writable event.
            let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 1, 20_000) };
            (n, { out[0].u64 })
        });
        weft::go(move || {
            weft::sleep(Duration::from_millis(20));
            let one = 1u64;
            // SAFETY: eight readable bytes.
            let w = unsafe { libc::write(ev, (&one as *const u64).cast(), 8) };
            assert_eq!(w, 8);
        });
        assert_eq!(waiter.join().unwrap(), (1, 7));
        // SAFETY: closing our own fds.
        unsafe {
            libc::close(ev);
            libc::close(ep);
        }
    });
}

#[test]
fn a_ticker_keeps_ticking_while_a_sibling_is_blocked() {
    let rt = one_worker();
    let worst = rt.run(|| {
        let (tx, rx) = mpsc::channel::<()>();
        let blocked = weft::go(move || rx.recv_timeout(Duration::from_secs(20)).unwrap());
        let ticker = weft::go(move || {
            let mut worst = Duration::ZERO;
            let mut last = Instant::now();
            for _ in 0..200 {
                weft::sleep(Duration::from_millis(1));
                let now = Instant::now();
                worst = worst.max(now - last);
                last = now;
            }
            tx.send(()).unwrap();
            worst
        });
        blocked.join().unwrap();
        ticker.join().unwrap()
    });
    // Each tick sleeps 1 ms; the take-over itself costs well under a
    // millisecond. The bound leaves room for a loaded CI machine.
    assert!(
        worst < Duration::from_millis(100),
        "worst gap between ticks: {worst:?}"
    );
}

#[test]
fn a_thread_local_set_before_a_blocking_call_reads_the_same_after_it() {
    thread_local! {
        static MARK: Cell<u64> = const { Cell::new(0) };
    }
    let rt = one_worker();
    rt.run(|| {
        let hs: Vec<_> = (1..=20u64)
            .map(|i| {
                let (tx, rx) = mpsc::channel::<()>();
                weft::go(move || {
                    weft::sleep(Duration::from_millis(20));
                    tx.send(()).unwrap();
                });
                weft::go(move || {
                    MARK.with(|m| m.set(i));
                    let thread = std::thread::current().id();
                    rx.recv().unwrap(); // blocks this thread; the worker is taken over
                    assert_eq!(
                        std::thread::current().id(),
                        thread,
                        "came back on another thread"
                    );
                    MARK.with(|m| m.get())
                })
            })
            .collect();
        for (i, h) in (1..=20u64).zip(hs) {
            assert_eq!(
                h.join().unwrap(),
                i,
                "a thread-local changed across a blocking call"
            );
        }
    });
}

#[test]
fn dropping_a_runtime_with_a_coroutine_stuck_for_good_returns() {
    let rt = one_worker();
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started) = weft::channel::bounded::<()>(1);
    let stuck = rt.spawn(move || {
        started_tx.send(()).unwrap();
        let _ = rx.recv(); // its sender lives on below: never returns
    });
    // Another coroutine keeps running beside it, on the taken-over worker.
    let beside = rt.spawn(|| {
        weft::sleep(Duration::from_millis(30));
        7
    });
    started.recv().unwrap();
    assert_eq!(beside.join().unwrap(), 7);
    let start = Instant::now();
    drop(rt);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "drop took {took:?}");
    drop(stuck);
    // The stuck thread is left behind; ending its wait lets it go.
    drop(tx);
}

#[test]
fn dropping_a_runtime_unwinds_a_coroutine_whose_call_returns_during_the_drop() {
    let rt = one_worker();
    let (tx, rx) = mpsc::channel::<u32>();
    let (started_tx, started) = weft::channel::bounded::<()>(1);
    let h = rt.spawn(move || {
        started_tx.send(()).unwrap();
        let v = rx.recv().unwrap();
        weft::sleep(Duration::from_secs(30)); // cancelled: unwinds here
        v
    });
    started.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // let the worker be taken over
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        tx.send(1).unwrap();
    });
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        h.join().is_err(),
        "the coroutine was cancelled, not finished"
    );
    sender.join().unwrap();
}

/// A blocking call about as long as a monitor tick or two, then the
/// runtime's drop at once: the monitor's take-over races with the call's
/// return and the worker's finish (`takeover.rs`, "Shutdown"). Each drop
/// must return, with no seat left waiting for a turn that never comes.
#[test]
fn runtimes_dropped_as_their_blocking_calls_end_all_return() {
    let _deadline = common::deadline(Duration::from_secs(120), "runtime drops racing take-overs");
    let word = Arc::new(std::sync::atomic::AtomicU32::new(0));
    for i in 0..2000u32 {
        let rt = one_worker();
        let w = word.clone();
        let wait = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000 + i64::from(i % 8) * 10_000,
        };
        rt.run(move || {
            // A futex wait that times out: a blocking call (`hook/block.rs`).
            // SAFETY: a valid futex word and timeout for the call's duration.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    w.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    0u32,
                    &wait as *const libc::timespec,
                )
            };
            assert_eq!(rc, -1, "the futex wait should time out");
        });
        drop(rt);
    }
}

/// A coroutine woken by a rendezvous partner blocks its thread right away,
/// while a third coroutine wakes that partner: on one worker, all three
/// finish with the right values. (The guard for a coroutine that blocks
/// while it runs inside its partner's hand-off, `takeover.rs`, "Hand-offs",
/// is not reached by this test: here the partner's park does not hand off.)
#[test]
fn a_coroutine_that_blocks_after_a_channel_wake_up_does_not_strand_its_partner() {
    let rt = one_worker();
    for _ in 0..20 {
        let got = rt.run(|| {
            let (to_b, b_rx) = weft::channel::bounded::<()>(0);
            let (a_tx, a_rx) = weft::channel::bounded::<u32>(0);
            let (m_tx, m_rx) = mpsc::channel::<u32>();
            let b = weft::go(move || {
                b_rx.recv().unwrap();
                // Woken by A: now block the thread.
                m_rx.recv_timeout(Duration::from_secs(20)).unwrap()
            });
            // Let B park in its receive first.
            weft::yield_now();
            let c = weft::go(move || {
                weft::sleep(Duration::from_millis(2));
                a_tx.send(40).unwrap(); // wakes A while B is blocked
            });
            let d = weft::go(move || {
                weft::sleep(Duration::from_millis(10));
                m_tx.send(2).unwrap();
            });
            to_b.send(()).unwrap(); // wakes B into the `next` slot
            let from_c = a_rx.recv().unwrap(); // parks until C sends
            c.join().unwrap();
            d.join().unwrap();
            from_c + b.join().unwrap()
        });
        assert_eq!(got, 42);
    }
}

/// The pthread and semaphore waits of a C library (`tests/c/pthread_waits.c`).
struct PthreadWaits {
    lock: unsafe extern "C" fn(i32) -> i32,
    lock_plain: unsafe extern "C" fn() -> i32,
    unlock: unsafe extern "C" fn() -> i32,
    wait_value: unsafe extern "C" fn(i32, i32) -> i32,
    wait_value_plain: unsafe extern "C" fn(i32) -> i32,
    set_value: unsafe extern "C" fn(i32),
    sem_init: unsafe extern "C" fn() -> i32,
    sem_wait: unsafe extern "C" fn(i32) -> i32,
    sem_wait_plain: unsafe extern "C" fn() -> i32,
    sem_post: unsafe extern "C" fn() -> i32,
    join_sleeper: unsafe extern "C" fn(i32) -> i32,
}

impl PthreadWaits {
    /// A fresh copy of the library: its mutex, value and semaphore are new.
    fn load() -> PthreadWaits {
        let lib = CLib::build("pthread_waits");
        // SAFETY: each function has the C type named here.
        unsafe {
            PthreadWaits {
                lock: lib.get(c"pw_lock"),
                lock_plain: lib.get(c"pw_lock_plain"),
                unlock: lib.get(c"pw_unlock"),
                wait_value: lib.get(c"pw_wait_value"),
                wait_value_plain: lib.get(c"pw_wait_value_plain"),
                set_value: lib.get(c"pw_set_value"),
                sem_init: lib.get(c"pw_sem_init"),
                sem_wait: lib.get(c"pw_sem_wait"),
                sem_wait_plain: lib.get(c"pw_sem_wait_plain"),
                sem_post: lib.get(c"pw_sem_post"),
                join_sleeper: lib.get(c"pw_join_sleeper"),
            }
        }
    }
}

/// A C mutex held across a park: its other lockers, on the same worker,
/// wait in libc (`pthread_mutex_lock`, `pthread_mutex_timedlock`) while
/// the holder sleeps, and all get it in turn.
#[test]
fn a_c_librarys_pthread_mutex_held_across_a_park_does_not_deadlock_its_worker() {
    let c = PthreadWaits::load();
    let rt = one_worker();
    let _deadline = common::deadline(Duration::from_secs(30), "C mutex lockers");
    let (lock, lock_plain, unlock) = (c.lock, c.lock_plain, c.unlock);
    let got = rt.run(move || {
        // SAFETY: the C functions take and return plain integers.
        assert_eq!(unsafe { lock(1000) }, 0);
        let lockers: Vec<_> = (0..20)
            .map(|i| {
                weft::go(move || {
                    // SAFETY: as above.
                    let r = unsafe {
                        if i % 2 == 0 {
                            lock(20_000)
                        } else {
                            lock_plain()
                        }
                    };
                    assert_eq!(r, 0, "locker {i}");
                    // SAFETY: as above; this coroutine holds the mutex.
                    unsafe { unlock() };
                    i
                })
            })
            .collect();
        // The lockers start and wait while this coroutine, on the same
        // worker, holds the mutex across a park.
        weft::sleep(Duration::from_millis(50));
        // SAFETY: as above.
        assert_eq!(unsafe { unlock() }, 0);
        lockers.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    });
    assert_eq!(got, (0..20).sum::<i32>());
}

/// `pthread_cond_wait` and `pthread_cond_timedwait` in C, woken by a
/// coroutine of the same worker; then `sem_wait` and `sem_timedwait`
/// likewise. The waits overlap.
#[test]
fn c_condition_and_semaphore_waits_are_woken_by_coroutines_of_the_same_worker() {
    let c = PthreadWaits::load();
    let rt = one_worker();
    let wait = Duration::from_millis(40);
    let waiters = 30;
    let _deadline = common::deadline(Duration::from_secs(30), "C condition and semaphore waits");
    // SAFETY: sem_init of the library's own semaphore.
    assert_eq!(unsafe { (c.sem_init)() }, 0);
    let (wait_value, wait_value_plain, set_value) = (c.wait_value, c.wait_value_plain, c.set_value);
    let (sem_wait, sem_wait_plain, sem_post) = (c.sem_wait, c.sem_wait_plain, c.sem_post);
    let start = Instant::now();
    let (seen, posted) = rt.run(move || {
        let conds: Vec<_> = (0..waiters)
            .map(|i| {
                weft::go(move || {
                    // SAFETY: the C functions take and return plain integers.
                    unsafe {
                        if i % 2 == 0 {
                            wait_value(1, 20_000)
                        } else {
                            wait_value_plain(1)
                        }
                    }
                })
            })
            .collect();
        let sems: Vec<_> = (0..waiters)
            .map(|i| {
                weft::go(move || {
                    // SAFETY: as above.
                    unsafe {
                        if i % 2 == 0 {
                            sem_wait(20_000)
                        } else {
                            sem_wait_plain()
                        }
                    }
                })
            })
            .collect();
        weft::go(move || {
            weft::sleep(wait);
            // SAFETY: as above.
            unsafe { set_value(1) };
            for _ in 0..waiters {
                // SAFETY: as above.
                unsafe { sem_post() };
            }
        });
        let seen: Vec<i32> = conds.into_iter().map(|h| h.join().unwrap()).collect();
        let posted: Vec<i32> = sems.into_iter().map(|h| h.join().unwrap()).collect();
        (seen, posted)
    });
    assert!(seen.iter().all(|&v| v == 1), "condition waits saw {seen:?}");
    assert!(
        posted.iter().all(|&r| r == 0),
        "semaphore waits gave {posted:?}"
    );
    let took = start.elapsed();
    assert!(
        took < serial(waiters as u32, wait) / 2,
        "{waiters} condition and {waiters} semaphore waiters took {took:?}"
    );
}

/// `pthread_join` in C of a thread that sleeps 100 ms: 20 joins overlap on
/// one worker, and a ticker on that worker keeps ticking meanwhile.
#[test]
fn c_pthread_joins_overlap_and_the_worker_keeps_ticking() {
    let c = PthreadWaits::load();
    let rt = one_worker();
    let join_sleeper = c.join_sleeper;
    let each = Duration::from_millis(100);
    let start = Instant::now();
    let (joined, worst) = rt.run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            weft::go(move || {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    weft::sleep(Duration::from_millis(1));
                    let now = Instant::now();
                    worst = worst.max(now - last);
                    last = now;
                }
                worst
            })
        };
        let joins: Vec<_> = (0..20)
            // SAFETY: the C function takes and returns plain integers.
            .map(|_| weft::go(move || unsafe { join_sleeper(each.as_millis() as i32) }))
            .collect();
        let joined: Vec<i32> = joins.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        (joined, ticker.join().unwrap())
    });
    assert!(joined.iter().all(|&ms| ms == 100), "joins gave {joined:?}");
    let took = start.elapsed();
    assert!(
        took < serial(20, each) / 2,
        "20 joins of 100 ms sleepers took {took:?}"
    );
    assert!(
        worst < Duration::from_millis(100),
        "worst gap between ticks: {worst:?}"
    );
}

#[test]
fn a_blocking_socket_weft_does_not_track_is_a_blocking_call() {
    let out = common::run_child("child_recv_on_inherited_stdio", &[]);
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "child process of a_blocking_socket_weft_does_not_track_is_a_blocking_call"]
fn child_recv_on_inherited_stdio() {
    use std::os::fd::AsRawFd;

    if !common::is_child() {
        return;
    }
    let _guard = common::deadline(
        Duration::from_secs(20),
        "recv on fd 0 deadlocked its worker",
    );
    // A blocking socket on fd 0, as an inetd-style server inherits it:
    // weft leaves inherited stdio alone, so calls on it cannot park.
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    // SAFETY: both fds are open; fd 0 is replaced by a copy of `a`.
    assert_eq!(unsafe { libc::dup2(a.as_raw_fd(), 0) }, 0);
    drop(a);
    let rt = one_worker();
    let got = rt.run(move || {
        let reader = weft::go(|| {
            let mut buf = [0u8; 8];
            // SAFETY: a valid buffer of 8 bytes.
            let n = unsafe { libc::recv(0, buf.as_mut_ptr().cast(), buf.len(), 0) };
            buf[..n.max(0) as usize].to_vec()
        });
        // Runs only if the reader's recv handed the worker on.
        weft::go(move || {
            weft::sleep(Duration::from_millis(20));
            // SAFETY: a valid buffer of 2 bytes.
            unsafe { libc::send(b.as_raw_fd(), b"hi".as_ptr().cast(), 2, 0) };
            b
        });
        reader.join().unwrap()
    });
    assert_eq!(got, b"hi");
}
