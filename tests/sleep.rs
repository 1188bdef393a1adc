//! `weft::sleep`, `std::thread::sleep` and libc's sleep family park
//! coroutines on their worker's timers instead of blocking workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn ten_thousand_sleepers_on_two_workers_finish_in_about_one_sleep() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..10_000)
        .map(|_| {
            rt.spawn(|| {
                let t = Instant::now();
                weft::sleep(Duration::from_millis(200));
                t.elapsed()
            })
        })
        .collect();
    for h in hs {
        let slept = h.join().unwrap();
        assert!(slept >= Duration::from_millis(200), "woke early: {slept:?}");
    }
    let wall = start.elapsed();
    assert!(
        wall < Duration::from_millis(2000),
        "10k sleeps took {wall:?}"
    );
}

#[test]
fn sleepers_wake_in_deadline_order_on_one_worker() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    // Deadlines from one instant, far enough ahead that every coroutine
    // has started its sleep by then even on a loaded machine: the order
    // tested is the timers', not the order the coroutines happened to start.
    let start = Instant::now() + Duration::from_millis(300);
    let hs: Vec<_> = [50u64, 10, 30, 20, 40]
        .into_iter()
        .map(|ms| {
            let order = order.clone();
            rt.spawn(move || {
                let deadline = start + Duration::from_millis(ms);
                weft::sleep(deadline.saturating_duration_since(Instant::now()));
                order.lock().unwrap().push(ms);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![10, 20, 30, 40, 50]);
}

#[test]
fn a_sleeping_coroutine_does_not_block_its_worker() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let sleeper = rt.spawn(move || {
        weft::sleep(Duration::from_millis(100));
        r.load(Ordering::SeqCst)
    });
    let r = ran.clone();
    rt.spawn(move || r.store(1, Ordering::SeqCst))
        .join()
        .unwrap();
    assert_eq!(
        sleeper.join().unwrap(),
        1,
        "the other coroutine ran during the sleep"
    );
}

#[test]
fn zero_and_huge_durations() {
    weft::go(|| weft::sleep(Duration::ZERO)).join().unwrap();
    weft::sleep(Duration::from_millis(1)); // a plain thread: std::thread::sleep
                                           // A sleep too long to represent ends when its runtime shuts down.
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let h = rt.spawn(|| weft::sleep(Duration::MAX));
    weft::sleep(Duration::from_millis(20));
    drop(rt);
    assert!(h.join().is_err(), "cancelled by the shutdown");
}

#[test]
fn std_thread_sleep_in_ten_thousand_coroutines_takes_about_one_sleep() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..10_000)
        .map(|_| rt.spawn(|| std::thread::sleep(Duration::from_millis(200))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let wall = start.elapsed();
    assert!(wall >= Duration::from_millis(200));
    assert!(
        wall < Duration::from_millis(2000),
        "10k std::thread::sleep calls took {wall:?}"
    );
}

#[test]
fn libc_sleep_family_parks_coroutines() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..50)
        .map(|i| {
            rt.spawn(move || {
                // SAFETY: plain libc calls with valid arguments.
                unsafe {
                    match i % 3 {
                        0 => {
                            libc::usleep(100_000);
                        }
                        1 => {
                            let ts = libc::timespec {
                                tv_sec: 0,
                                tv_nsec: 100_000_000,
                            };
                            assert_eq!(libc::nanosleep(&ts, std::ptr::null_mut()), 0);
                        }
                        _ => {
                            let ts = libc::timespec {
                                tv_sec: 0,
                                tv_nsec: 100_000_000,
                            };
                            let rc = libc::clock_nanosleep(
                                libc::CLOCK_MONOTONIC,
                                0,
                                &ts,
                                std::ptr::null_mut(),
                            );
                            assert_eq!(rc, 0);
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let wall = start.elapsed();
    // 50 sleeps of 100 ms on one worker: serial would be 5 s.
    assert!(wall < Duration::from_millis(1500), "{wall:?}");
    // Invalid arguments fail as libc's do.
    let rc = weft::go(|| {
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 2_000_000_000,
        };
        // SAFETY: a valid pointer to an invalid timespec.
        unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()) }
    })
    .join()
    .unwrap();
    assert_eq!(rc, libc::EINVAL);
}
