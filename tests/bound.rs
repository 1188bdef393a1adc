//! A coroutine may be stolen until it first runs, and is bound to its worker
//! from then on. While none of a worker's coroutines blocks its thread (in a
//! std lock, a child wait, a file: `tests/takeover.rs`), one thread runs the
//! worker; when one does, the worker is handed to another of its own threads
//! meanwhile, so a started coroutine may change threads but never workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The worker the calling coroutine runs on: its threads are named
/// `weft-worker-<index>` and, for a worker's spare threads,
/// `weft-worker-<index>.<seat>`.
fn worker_of_this_thread() -> String {
    let name = thread::current()
        .name()
        .expect("worker threads are named")
        .to_owned();
    match name.split_once('.') {
        Some((worker, _seat)) => worker.to_owned(),
        None => name,
    }
}

#[test]
fn started_coroutines_never_change_worker_under_stealing() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let starts: Arc<weft::sync::Mutex<HashSet<String>>> = Arc::default();
    let s = starts.clone();
    let moved = rt.run(move || {
        // One coroutine spawns everything, so every fresh coroutine starts in
        // this worker's queue and the other worker can only get work by
        // stealing.
        let hs: Vec<_> = (0..2000)
            .map(|i| {
                let s = s.clone();
                weft::go(move || {
                    let home = worker_of_this_thread();
                    s.lock().insert(home.clone());
                    let mut moved = 0;
                    for round in 0..20 {
                        match (i + round) % 3 {
                            0 => weft::yield_now(),
                            1 => weft::sleep(Duration::from_micros(200)),
                            _ => weft::go(weft::yield_now).join().unwrap(),
                        }
                        if worker_of_this_thread() != home {
                            moved += 1;
                        }
                    }
                    moved
                })
            })
            .collect();
        // Keep this worker busy, without parking, until the other one has
        // stolen and started some: stealing is then exercised however
        // loaded the machine is.
        let deadline = Instant::now() + Duration::from_secs(30);
        while s.lock().len() < 2 && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(moved, 0, "a started coroutine changed workers");
    assert_eq!(
        starts.lock().len(),
        2,
        "both workers started coroutines, so stealing was active"
    );
}

#[test]
fn thread_locals_are_stable_across_parks() {
    thread_local! {
        static MARK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let hs: Vec<_> = (1..=500usize)
        .map(|i| {
            weft::go(move || {
                let rc = std::rc::Rc::new(i); // !Send, held across parks
                MARK.with(|m| m.set(i));
                weft::yield_now();
                weft::sleep(Duration::from_millis(1));
                // Other coroutines on this worker overwrote MARK meanwhile,
                // but the slot is still this thread's: reading it is sound.
                let _ = MARK.with(|m| m.get());
                *rc
            })
        })
        .collect();
    let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (1..=500).sum());
}
