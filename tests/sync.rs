//! `weft::sync`: locks and coordination between coroutines and threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use weft::sync::{Barrier, Condvar, Mutex, RwLock, Semaphore, WaitGroup};

/// Runs `f` on a fresh thread and fails the test if it does not finish
/// within `limit` (a deadlock then fails instead of hanging the suite).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}: deadlock?"))
}

#[test]
fn mutex_held_across_a_park_does_not_deadlock_its_worker() {
    // One worker: the waiter and the holder share its thread. With a
    // std::sync::Mutex the waiter would block that thread for good.
    within(Duration::from_secs(10), || {
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        let order = rt.run(|| {
            let m = Arc::new(Mutex::new(Vec::new()));
            let m2 = m.clone();
            let holder = weft::go(move || {
                let mut g = m2.lock();
                g.push("holder locked");
                weft::sleep(Duration::from_millis(50)); // parks with the lock held
                g.push("holder unlocks");
            });
            weft::yield_now(); // let the holder take the lock first
            let m3 = m.clone();
            let waiter = weft::go(move || m3.lock().push("waiter locked"));
            holder.join().unwrap();
            waiter.join().unwrap();
            let v = m.lock().clone();
            v
        });
        assert_eq!(order, ["holder locked", "holder unlocks", "waiter locked"]);
    });
}

#[test]
fn mutex_counts_exactly_under_contention_from_coroutines_and_threads() {
    within(Duration::from_secs(30), || {
        const EACH: usize = 20_000;
        let m = Arc::new(Mutex::new(0usize));
        let mut coroutines = Vec::new();
        for _ in 0..8 {
            let m = m.clone();
            coroutines.push(weft::go(move || {
                for i in 0..EACH {
                    *m.lock() += 1;
                    if i % 64 == 0 {
                        weft::yield_now();
                    }
                }
            }));
        }
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..EACH {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        coroutines.into_iter().for_each(|h| h.join().unwrap());
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), 10 * EACH);
    });
}

#[test]
fn mutex_try_lock_and_unlock_on_panic() {
    let m = Arc::new(Mutex::new(1));
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_none());
    drop(g);
    let m2 = m.clone();
    let r = weft::go(move || {
        let _g = m2.lock();
        panic!("while holding the lock");
    })
    .join();
    assert!(r.is_err());
    // No poisoning: the panic unlocked it.
    assert_eq!(*m.try_lock().expect("unlocked by the unwind"), 1);
}

#[test]
fn condvar_queue_under_contention() {
    within(Duration::from_secs(30), || {
        const ITEMS: usize = 20_000;
        let shared = Arc::new((Mutex::new((Vec::<usize>::new(), 0usize)), Condvar::new()));
        let consumed = Arc::new(AtomicUsize::new(0));
        let sum = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        // 4 consumers: 2 coroutines, 2 threads; they stop at ITEMS.
        let consumer = {
            let (shared, consumed, sum) = (shared.clone(), consumed.clone(), sum.clone());
            move || loop {
                let (lock, cv) = &*shared;
                let mut g = cv.wait_while(lock.lock(), |(q, done)| q.is_empty() && *done < ITEMS);
                match g.0.pop() {
                    Some(v) => {
                        g.1 += 1;
                        drop(g);
                        consumed.fetch_add(1, Ordering::Relaxed);
                        sum.fetch_add(v, Ordering::Relaxed);
                        cv.notify_all(); // a producer may wait for room
                    }
                    None => {
                        cv.notify_all();
                        return;
                    }
                }
            }
        };
        for _ in 0..2 {
            handles.push(weft::go(consumer.clone()));
        }
        let threads: Vec<_> = (0..2).map(|_| thread::spawn(consumer.clone())).collect();
        // 4 producers, all coroutines, bounded queue of 16.
        for p in 0..4 {
            let shared = shared.clone();
            handles.push(weft::go(move || {
                for i in (p..ITEMS).step_by(4) {
                    let (lock, cv) = &*shared;
                    let mut g = cv.wait_while(lock.lock(), |(q, _)| q.len() >= 16);
                    g.0.push(i);
                    drop(g);
                    cv.notify_all();
                }
            }));
        }
        handles.into_iter().for_each(|h| h.join().unwrap());
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(consumed.load(Ordering::Relaxed), ITEMS);
        assert_eq!(sum.load(Ordering::Relaxed), ITEMS * (ITEMS - 1) / 2);
    });
}

#[test]
fn condvar_wait_timeout_times_out_and_notify_one_wakes_one() {
    let m = Mutex::new(());
    let cv = Condvar::new();
    let t = Instant::now();
    let (_g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(50));
    assert!(res.timed_out());
    assert!(t.elapsed() >= Duration::from_millis(50));

    let state = Arc::new((Mutex::new(0usize), Condvar::new(), AtomicUsize::new(0)));
    let woke: Vec<_> = (0..3)
        .map(|_| {
            let s = state.clone();
            weft::go(move || {
                let g = s.0.lock();
                s.2.fetch_add(1, Ordering::SeqCst);
                let (_g, res) = s.1.wait_timeout(g, Duration::from_secs(2));
                !res.timed_out()
            })
        })
        .collect();
    while state.2.load(Ordering::SeqCst) < 3 {
        thread::yield_now();
    }
    // All three are queued once they released the mutex.
    drop(state.0.lock());
    state.1.notify_one();
    let notified = woke.into_iter().map(|h| h.join().unwrap());
    assert_eq!(notified.filter(|&n| n).count(), 1);
}

#[test]
fn waitgroup_waits_for_every_clone() {
    within(Duration::from_secs(20), || {
        for _ in 0..20 {
            let wg = WaitGroup::new();
            let done = Arc::new(AtomicUsize::new(0));
            for i in 0..500 {
                let (wg, done) = (wg.clone(), done.clone());
                let work = move || {
                    if i % 7 == 0 {
                        weft::sleep(Duration::from_millis(1));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    drop(wg);
                };
                if i % 50 == 0 {
                    thread::spawn(work);
                } else {
                    weft::go(work);
                }
            }
            // A second waiter, in a coroutine, on a clone.
            let (wg2, done2) = (wg.clone(), done.clone());
            let other = weft::go(move || {
                wg2.wait();
                done2.load(Ordering::SeqCst)
            });
            wg.wait();
            assert_eq!(done.load(Ordering::SeqCst), 500);
            assert_eq!(other.join().unwrap(), 500);
        }
    });
}

#[test]
fn semaphore_bounds_concurrency() {
    within(Duration::from_secs(20), || {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
                weft::go(move || {
                    let _p = sem.acquire();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    weft::sleep(Duration::from_micros(200));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(sem.available_permits(), 3);
        assert!(sem.try_acquire().is_some());
    });
}

#[test]
fn barrier_releases_rounds_of_coroutines_and_threads() {
    within(Duration::from_secs(20), || {
        const N: usize = 6;
        const ROUNDS: usize = 50;
        let barrier = Arc::new(Barrier::new(N));
        let arrived = Arc::new(AtomicUsize::new(0));
        let leaders = Arc::new(AtomicUsize::new(0));
        let body = {
            let (barrier, arrived, leaders) = (barrier.clone(), arrived.clone(), leaders.clone());
            move || {
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                    // Nobody passes round r before all N arrived in it.
                    assert!(arrived.load(Ordering::SeqCst) >= (round + 1) * N);
                }
            }
        };
        let coroutines: Vec<_> = (0..N - 2).map(|_| weft::go(body.clone())).collect();
        let threads: Vec<_> = (0..2).map(|_| thread::spawn(body.clone())).collect();
        coroutines.into_iter().for_each(|h| h.join().unwrap());
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(leaders.load(Ordering::SeqCst), ROUNDS);
    });
}

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    within(Duration::from_secs(20), || {
        let lock = Arc::new(RwLock::new(0usize));
        let readers_in = Arc::new(AtomicUsize::new(0));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let writer_in = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for i in 0..40 {
            let (lock, readers_in, max_readers, writer_in) = (
                lock.clone(),
                readers_in.clone(),
                max_readers.clone(),
                writer_in.clone(),
            );
            handles.push(weft::go(move || {
                for _ in 0..50 {
                    if i % 5 == 0 {
                        let mut w = lock.write();
                        assert!(!writer_in.swap(true, Ordering::SeqCst));
                        assert_eq!(readers_in.load(Ordering::SeqCst), 0);
                        *w += 1;
                        weft::yield_now();
                        writer_in.store(false, Ordering::SeqCst);
                    } else {
                        let _r = lock.read();
                        assert!(!writer_in.load(Ordering::SeqCst));
                        let n = readers_in.fetch_add(1, Ordering::SeqCst) + 1;
                        max_readers.fetch_max(n, Ordering::SeqCst);
                        weft::yield_now();
                        readers_in.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*lock.read(), 8 * 50);
        assert!(
            max_readers.load(Ordering::SeqCst) > 1,
            "readers never overlapped"
        );
    });
}

#[test]
fn runtime_drop_unwinds_a_coroutine_waiting_for_a_lock() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    within(Duration::from_secs(10), || {
        let m = Arc::new(Mutex::new(0));
        let held = m.lock(); // a plain thread holds it throughout
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (m2, flag, started2) = (m.clone(), Flag(dropped.clone()), started.clone());
        let h = rt.spawn(move || {
            let _flag = flag;
            started2.store(true, Ordering::SeqCst);
            *m2.lock() += 1;
        });
        while !started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(20)); // let it queue on the lock
        drop(rt);
        assert!(dropped.load(Ordering::SeqCst), "its destructors ran");
        assert!(h.join().is_err(), "the joiner learns it was cancelled");
        drop(held);
        // The waiter left the queue: the lock works for others.
        *m.lock() += 1;
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn a_cancelled_barrier_waiter_leaves_its_round() {
    within(Duration::from_secs(10), || {
        let barrier = Arc::new(Barrier::new(3));
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        let started = Arc::new(AtomicBool::new(false));
        let (b, s) = (barrier.clone(), started.clone());
        let h = rt.spawn(move || {
            s.store(true, Ordering::SeqCst);
            b.wait();
        });
        while !started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(20)); // let it wait in the barrier
        drop(rt);
        assert!(h.join().is_err(), "cancelled");
        // A full round of three still needs three arrivals: with the
        // cancelled one still counted, the third thread would hang.
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let b = barrier.clone();
                thread::spawn(move || b.wait().is_leader())
            })
            .collect();
        let leaders = threads.into_iter().map(|t| t.join().unwrap());
        assert_eq!(leaders.filter(|&l| l).count(), 1);
    });
}
