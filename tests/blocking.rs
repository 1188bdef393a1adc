//! `weft::spawn_blocking`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn blocking_work_runs_off_the_workers_and_joins_park() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..20)
        .map(|i| {
            rt.spawn(move || {
                // A blocking call weft does not intercept: a std Mutex wait,
                // emulated with a real thread sleep on the pool.
                weft::spawn_blocking(move || {
                    let t = std::time::Instant::now();
                    while t.elapsed() < Duration::from_millis(200) {
                        std::thread::park_timeout(Duration::from_millis(200));
                    }
                    i * 2
                })
                .join()
                .unwrap()
            })
        })
        .collect();
    let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..20).map(|i| i * 2).sum());
    // 20 x 200 ms on one worker would be 4 s; on the pool they overlap.
    assert!(
        start.elapsed() < Duration::from_millis(2000),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn panics_in_blocking_work_come_back_from_join() {
    let h = weft::spawn_blocking(|| -> u8 { panic!("blocking panic") });
    assert!(h.join().is_err());
    let ok = weft::spawn_blocking(|| 5);
    assert!(!ok.coroutine().id().to_string().is_empty());
    assert_eq!(ok.join().unwrap(), 5);
}

#[test]
fn many_blocking_jobs_all_run() {
    let count = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2000)
        .map(|_| {
            let c = count.clone();
            weft::spawn_blocking(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 2000);
}
