//! A tour of weft's core: run it with `cargo run --release --example demo`.
//!
//! It spawns a hundred thousand coroutines, puts ten thousand to sleep at
//! once, shows what a sleeping coroutine costs in memory, and catches a
//! panic from a named coroutine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    weft::run(|| {
        // 1. Spawn and join 100k coroutines.
        let t = Instant::now();
        let handles: Vec<_> = (0..100_000u64).map(|i| weft::go(move || i % 7)).collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        println!(
            "spawned and joined 100000 coroutines in {:?} (checksum {sum})",
            t.elapsed()
        );

        // 2. Ten thousand coroutines sleeping at once.
        let asleep = Arc::new(AtomicUsize::new(0));
        let before = rss_bytes();
        let t = Instant::now();
        let sleepers: Vec<_> = (0..10_000)
            .map(|_| {
                let asleep = asleep.clone();
                weft::go(move || {
                    asleep.fetch_add(1, Ordering::Relaxed);
                    weft::sleep(Duration::from_millis(500));
                })
            })
            .collect();
        while asleep.load(Ordering::Relaxed) < 10_000 {
            weft::sleep(Duration::from_millis(5));
        }
        let per = (rss_bytes().saturating_sub(before)) / 10_000;
        println!("10000 coroutines asleep, about {per} bytes of RSS each");
        for h in sleepers {
            h.join().unwrap();
        }
        println!("all 10000 slept 500 ms; wall time {:?}", t.elapsed());

        // 3. A panic stays inside its coroutine.
        let h = weft::Builder::new()
            .name("doomed")
            .spawn(|| -> () { panic!("this panic is caught at the coroutine boundary") })
            .unwrap();
        println!(
            "join of the panicking coroutine: is_err = {}",
            h.join().is_err()
        );
    });
}
