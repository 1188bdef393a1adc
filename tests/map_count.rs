//! The `vm.max_map_count` budget: a spawn past it is refused with a clear
//! error, the process keeps working, and spawns succeed again once
//! coroutines finish. This file is its own test binary (process), so the
//! budget it exhausts is not shared with other tests.

use std::io::ErrorKind;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn spawn_past_the_map_budget_is_refused_then_recovers() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut held = Vec::new();
    // Coroutines that stay parked hold their stacks. Spawn in batches and let
    // each batch start (that is when a coroutine takes its stack) until a
    // spawn is refused.
    let refusal = 'spawning: loop {
        assert!(
            held.len() < 200_000,
            "no refusal after {} coroutines",
            held.len()
        );
        for _ in 0..1000 {
            let (guard, started) = (DropCount(dropped.clone()), started.clone());
            let spawned = panic::catch_unwind(AssertUnwindSafe(|| {
                rt.spawn(move || {
                    let _guard = guard;
                    started.fetch_add(1, Ordering::SeqCst);
                    weft::sleep(Duration::from_secs(3600));
                })
            }));
            match spawned {
                Ok(h) => held.push(h),
                Err(payload) => {
                    break 'spawning payload.downcast::<String>().map(|s| *s).unwrap_or_default();
                }
            }
        }
        // Wait until the batch has started, or stopped making progress
        // (the budget is full and the rest wait for a stack).
        let mut last = (started.load(Ordering::SeqCst), Instant::now());
        while started.load(Ordering::SeqCst) < held.len() {
            let now = started.load(Ordering::SeqCst);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(2) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let n = held.len();
    let running = started.load(Ordering::SeqCst);
    eprintln!("refused with {running} coroutines parked and {n} spawned");
    assert!(
        refusal.contains("vm.max_map_count"),
        "Runtime::spawn panicked with {refusal:?}"
    );
    assert!(
        running > 10_000,
        "the budget allows a useful number of coroutines ({running})"
    );

    // The fallible API returns the error.
    let err = weft::Builder::new().spawn(|| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    let msg = err.to_string();
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
    // And `go` panics with it.
    let panic = panic::catch_unwind(|| weft::go(|| ())).expect_err("go must panic at the limit");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains("vm.max_map_count"),
        "go panicked with {text:?}"
    );

    // The process still maps memory and starts threads.
    let big = vec![1u8; 64 << 20];
    assert_eq!(
        big.iter().step_by(4096).map(|&b| b as usize).sum::<usize>(),
        16384
    );
    assert_eq!(std::thread::spawn(|| 3).join().unwrap(), 3);

    // Let them finish (dropping the runtime unwinds them all) and spawn again.
    drop(rt);
    // The closure of the refused spawn was dropped too, at the refusal.
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        n + 1,
        "every closure was dropped"
    );
    for h in held {
        assert!(h.is_finished());
    }
    let hs: Vec<_> = (0..1000)
        .map(|i| weft::Builder::new().spawn(move || i).unwrap())
        .collect();
    assert_eq!(
        hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(),
        (0..1000).sum()
    );
}

struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
