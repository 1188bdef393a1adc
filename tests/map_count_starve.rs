//! Near the `vm.max_map_count` budget, slots that coroutines give back are
//! not stranded in the caches of workers that do not need them: a new
//! coroutine, which may be the one that lets the others finish, can be
//! spawned and starts. This file is its own test binary (process), so the
//! budget it fills is not shared with other tests.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Waits until `counter` reaches `n`, or stops moving for `stall`.
fn settle(counter: &AtomicUsize, n: usize, stall: Duration) -> usize {
    let mut last = (counter.load(Ordering::SeqCst), Instant::now());
    loop {
        let now = counter.load(Ordering::SeqCst);
        if now >= n {
            return now;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > stall {
            return now;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn near_the_budget_a_new_coroutine_starts_once_others_finish() {
    const FREE: usize = 20;
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    // Which worker each started coroutine runs on, by its index: the name
    // of the worker's first thread ("weft-worker-0"). A worker's spare
    // threads ("weft-worker-0.2"), which run its coroutines while one of
    // them waits in a blocking call (the contended std `Mutex` below is
    // one), count as the same worker.
    let threads = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    let mut held = Vec::new();
    // Refused spawns panic (`Runtime::spawn`); keep them quiet.
    // The test's own failures still print: they come from its thread.
    panic::set_hook(Box::new(|info| {
        if thread::current().name()
            == Some("near_the_budget_a_new_coroutine_starts_once_others_finish")
        {
            eprintln!("{info}");
        }
    }));
    // Fill the budget with coroutines that each wait for their own
    // message, on their own stack, until a spawn is refused.
    'filling: loop {
        assert!(held.len() < 200_000, "no refusal");
        for _ in 0..1000 {
            let i = held.len();
            let (tx, rx) = weft::channel::bounded::<()>(1);
            let (started, finished, threads) = (started.clone(), finished.clone(), threads.clone());
            let spawned = panic::catch_unwind(AssertUnwindSafe(|| {
                rt.spawn(move || {
                    let name = thread::current().name().unwrap_or("").to_owned();
                    let worker = name.split('.').next().unwrap_or("").to_owned();
                    threads.lock().unwrap().push((i, worker));
                    started.fetch_add(1, Ordering::SeqCst);
                    let _ = rx.recv();
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            }));
            match spawned {
                Ok(h) => {
                    held.push(h);
                    senders.push(tx);
                }
                Err(_) => break 'filling,
            }
        }
        settle(&started, held.len(), Duration::from_secs(2));
    }
    let running = settle(&started, held.len(), Duration::from_secs(2));
    let waiting = held.len() - running;
    eprintln!("budget full: {running} running, {waiting} waiting for a stack");

    // Enough coroutines of one worker finish for those that wait to start
    // and for `FREE` slots to be free again; on one worker, whose cache of
    // slots could hold them all.
    let first = threads.lock().unwrap()[0].1.clone();
    let on_first: Vec<usize> = threads
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, t)| *t == first)
        .map(|&(i, _)| i)
        .collect();
    let m = waiting + FREE;
    assert!(
        on_first.len() > m,
        "one worker runs {} coroutines",
        on_first.len()
    );
    for &i in &on_first[..m] {
        senders[i].send(()).unwrap();
    }
    assert_eq!(settle(&finished, m, Duration::from_secs(5)), m);
    let all_started = settle(&started, held.len(), Duration::from_secs(2));

    // As many new coroutines as slots are free can be spawned, and they
    // start.
    let fresh = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut spawned = 0;
    while spawned < FREE && Instant::now() < deadline {
        let f = fresh.clone();
        let ok = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.spawn(move || {
                f.fetch_add(1, Ordering::SeqCst);
            })
        }));
        match ok {
            Ok(h) => {
                held.push(h);
                spawned += 1;
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    let started_fresh = settle(&fresh, FREE, Duration::from_secs(3));
    let _ = panic::take_hook();
    eprintln!("{all_started} of the first started; {spawned} spawned, {started_fresh} started");
    assert_eq!(
        (all_started, spawned, started_fresh),
        (senders.len(), FREE, FREE),
        "free slots stayed cached in a worker that did not need them"
    );
    drop(senders);
    drop(rt);
}
