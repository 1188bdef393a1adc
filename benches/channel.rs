//! Criterion benchmarks of channels and locks, with their std and
//! crossbeam counterparts measured in the same run.
//!
//! `cargo bench --bench channel`. Go's and tokio's ping-pong figures come
//! from `benches/peers/run.sh --only pingpong1,pingpong2`.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weft::channel::bounded;

/// Round trips between two coroutines over two rendezvous channels; returns
/// the time for `iters` round trips. With `apart`, retries until the two
/// run on different workers (the echo coroutine keeps its worker busy for a
/// moment, so an idle worker picks the other up).
fn ping_pong(rt: &weft::Runtime, iters: u64, apart: bool) -> Duration {
    for _ in 0..50 {
        let (to_b, from_a) = bounded::<u64>(0);
        let (to_a, from_b) = bounded::<u64>(0);
        let (where_tx, where_rx) = bounded(2);
        let where_b = where_tx.clone();
        let b = rt.spawn(move || {
            let t = Instant::now();
            while apart && t.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            where_b.send(thread::current().id()).unwrap();
            for v in from_a.iter() {
                to_a.send(v + 1).unwrap();
            }
        });
        let a = rt.spawn(move || {
            where_tx.send(thread::current().id()).unwrap();
            // Warm up (and let both start) before the clock runs.
            for i in 0..100 {
                to_b.send(i).unwrap();
                from_b.recv().unwrap();
            }
            let start = Instant::now();
            for i in 0..iters {
                to_b.send(i).unwrap();
                black_box(from_b.recv().unwrap());
            }
            start.elapsed()
        });
        let elapsed = a.join().unwrap();
        b.join().unwrap();
        let (x, y) = (where_rx.recv().unwrap(), where_rx.recv().unwrap());
        if (x != y) == apart {
            return elapsed;
        }
    }
    panic!("could not place the two coroutines as wanted (apart: {apart})");
}

fn channel_ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("pingpong_bounded0");
    for workers in [1, 2] {
        let rt = weft::Runtime::builder().workers(workers).build().unwrap();
        let name = if workers == 1 {
            "same_worker"
        } else {
            "across_workers"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| ping_pong(&rt, iters, workers > 1))
        });
    }
    // The same between two OS threads, over crossbeam-channel.
    g.bench_function("crossbeam_threads", |b| {
        b.iter_custom(|iters| {
            let (to_b, from_a) = crossbeam_channel::bounded::<u64>(0);
            let (to_a, from_b) = crossbeam_channel::bounded::<u64>(0);
            let t = thread::spawn(move || {
                for v in from_a.iter() {
                    to_a.send(v + 1).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..iters {
                to_b.send(i).unwrap();
                black_box(from_b.recv().unwrap());
            }
            let elapsed = start.elapsed();
            drop(to_b);
            t.join().unwrap();
            elapsed
        })
    });
    g.finish();
}

/// Messages through a `bounded(1024)` channel from one producer to one
/// consumer.
fn channel_throughput(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut g = c.benchmark_group("bounded1024_throughput");
    g.throughput(Throughput::Elements(N));
    for workers in [1, 2] {
        let rt = weft::Runtime::builder().workers(workers).build().unwrap();
        g.bench_function(format!("weft_{workers}_worker"), |b| {
            b.iter(|| {
                let (tx, rx) = bounded::<u64>(1024);
                let consumer = rt.spawn(move || rx.iter().sum::<u64>());
                let producer = rt.spawn(move || (0..N).for_each(|i| tx.send(i).unwrap()));
                producer.join().unwrap();
                assert_eq!(consumer.join().unwrap(), N * (N - 1) / 2);
            })
        });
    }
    g.bench_function("crossbeam_threads", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(1024);
            let consumer = thread::spawn(move || rx.iter().sum::<u64>());
            (0..N).for_each(|i| tx.send(i).unwrap());
            drop(tx);
            assert_eq!(consumer.join().unwrap(), N * (N - 1) / 2);
        })
    });
    g.finish();
}

/// Uncontended lock + unlock.
fn mutex_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_uncontended");
    let m = weft::sync::Mutex::new(0u64);
    g.bench_function("weft", |b| b.iter(|| *black_box(&m).lock() += 1));
    let s = std::sync::Mutex::new(0u64);
    g.bench_function("std", |b| b.iter(|| *black_box(&s).lock().unwrap() += 1));
    g.finish();
}

criterion_group!(
    benches,
    channel_ping_pong,
    channel_throughput,
    mutex_uncontended
);
criterion_main!(benches);
