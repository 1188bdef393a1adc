//! Criterion benchmarks of what context costs a park: two coroutines on one
//! worker taking turns by `yield_now`, and a channel ping-pong between two
//! coroutines on one worker (a park and a hand-off per message).
//!
//! Each runs three times, in this order: with no subscriber, with a global
//! tracing-subscriber `Registry` but no span entered, and with each
//! coroutine inside a span of its own. Compare a build with the `tracing`
//! feature against one without:
//!
//! ```text
//! cargo bench --bench context
//! cargo bench --bench context --features tracing
//! ```
//!
//! Without the feature the spans stay on the worker thread (and the
//! coroutines' lines are mislabelled); with it, each park takes its
//! coroutine's span off the thread and each resume puts it back.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use weft::channel::bounded;

/// What surrounds the coroutines' loops.
#[derive(Clone, Copy)]
enum Setting {
    /// No subscriber has been set.
    NoSubscriber,
    /// A subscriber, no span.
    NoSpan,
    /// Each coroutine entered in a span of its own.
    OneSpan,
}

impl Setting {
    fn name(self) -> &'static str {
        match self {
            Setting::NoSubscriber => "no_subscriber",
            Setting::NoSpan => "subscriber_no_span",
            Setting::OneSpan => "subscriber_one_span",
        }
    }

    /// Runs `f` as the setting asks (a span named after `who`).
    fn around<T>(self, who: u64, f: impl FnOnce() -> T) -> T {
        match self {
            Setting::OneSpan => tracing::info_span!("coroutine", who).in_scope(f),
            _ => f(),
        }
    }
}

/// Two coroutines alternating `yield_now`, `iters` times each.
fn yields(rt: &weft::Runtime, setting: Setting, iters: u64) -> Duration {
    rt.run(move || {
        let start = Instant::now();
        let peers: Vec<_> = (0..2)
            .map(|who| {
                weft::go(move || {
                    setting.around(who, || {
                        for _ in 0..iters {
                            weft::yield_now();
                        }
                    })
                })
            })
            .collect();
        for p in peers {
            p.join().unwrap();
        }
        start.elapsed()
    })
}

/// `iters` round trips between two coroutines over rendezvous channels.
fn ping_pong(rt: &weft::Runtime, setting: Setting, iters: u64) -> Duration {
    let (to_b, from_a) = bounded::<u64>(0);
    let (to_a, from_b) = bounded::<u64>(0);
    let b = rt.spawn(move || {
        setting.around(1, || {
            for v in from_a.iter() {
                to_a.send(v + 1).unwrap();
            }
        })
    });
    let a = rt.spawn(move || {
        setting.around(0, || {
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
        })
    });
    let elapsed = a.join().unwrap();
    b.join().unwrap();
    elapsed
}

fn park_resume(c: &mut Criterion) {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let mut g = c.benchmark_group("park_resume");
    for setting in [Setting::NoSubscriber, Setting::NoSpan, Setting::OneSpan] {
        if let Setting::NoSpan = setting {
            // Global, so the worker thread sees it; from here on.
            tracing::subscriber::set_global_default(tracing_subscriber::registry()).unwrap();
        }
        g.bench_function(
            format!("yield_round_trip_1_worker/{}", setting.name()),
            |b| b.iter_custom(|iters| yields(&rt, setting, iters)),
        );
        g.bench_function(format!("pingpong_1_worker/{}", setting.name()), |b| {
            b.iter_custom(|iters| ping_pong(&rt, setting, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, park_resume);
criterion_main!(benches);
