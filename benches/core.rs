//! Criterion benchmarks of the core runtime: spawn+join, yield ping-pong,
//! and the raw corosensei switch they are built on.
//!
//! `cargo bench --bench core`. Peer figures (Go, tokio) for the same
//! workloads come from `benches/peers/run.sh`.

use std::time::{Duration, Instant};

use corosensei::{Coroutine, CoroutineResult};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// One resume+suspend round trip on a bare corosensei coroutine: the floor.
fn raw_switch(c: &mut Criterion) {
    c.bench_function("raw_corosensei_round_trip", |b| {
        let mut co = Coroutine::new(|y, ()| loop {
            y.suspend(());
        });
        b.iter(|| {
            let r: CoroutineResult<(), ()> = co.resume(());
            std::hint::black_box(r);
        });
    });
}

/// Two bare coroutines resumed in turn from a queue, as a scheduler would:
/// the floor for `yield_round_trip_1_worker`.
fn raw_two_coroutines(c: &mut Criterion) {
    c.bench_function("raw_corosensei_two_in_turn", |b| {
        let mut q: std::collections::VecDeque<Coroutine<(), (), ()>> = (0..2)
            .map(|_| {
                Coroutine::new(|y, ()| loop {
                    y.suspend(());
                })
            })
            .collect();
        b.iter(|| {
            for _ in 0..2 {
                let mut co = q.pop_front().unwrap();
                std::hint::black_box(co.resume(()));
                q.push_back(co);
            }
        });
    });
}

/// Two coroutines on one worker alternating `yield_now`; time per round trip
/// (each yields once).
fn yield_ping_pong(c: &mut Criterion) {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    c.bench_function("yield_round_trip_1_worker", |b| {
        b.iter_custom(|iters| {
            rt.run(move || {
                let start = Instant::now();
                let peers: Vec<_> = (0..2)
                    .map(|_| {
                        weft::go(move || {
                            for _ in 0..iters {
                                weft::yield_now();
                            }
                        })
                    })
                    .collect();
                for p in peers {
                    p.join().unwrap();
                }
                start.elapsed()
            })
        });
    });
}

/// Spawn `n` empty coroutines from a coroutine, keeping the handles, then
/// join them all; 2 workers.
fn spawn_join(c: &mut Criterion) {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let mut g = c.benchmark_group("spawn_join");
    for n in [1_000u64, 1_000_000] {
        g.throughput(Throughput::Elements(n));
        if n >= 1_000_000 {
            g.sample_size(10).measurement_time(Duration::from_secs(10));
        }
        g.bench_function(format!("{n}_coroutines_2_workers"), |b| {
            b.iter_custom(|iters| {
                rt.run(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let hs: Vec<_> = (0..n).map(|_| weft::go(|| ())).collect();
                        for h in hs {
                            h.join().unwrap();
                        }
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

/// What a hook adds to a system call that does not block: `recv` of one
/// byte that is already there, through libc's symbol (weft's hook) versus
/// the raw system call, on a plain thread and inside a coroutine.
fn hook_overhead(c: &mut Criterion) {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    // One round: put a byte in, take it out. Only the `recv` differs.
    fn round(tx: i32, rx: i32, hooked: bool) {
        let byte = [7u8];
        let mut got = [0u8];
        // SAFETY: raw send of one byte from a live buffer.
        unsafe {
            libc::syscall(
                libc::SYS_sendto,
                tx,
                byte.as_ptr(),
                1usize,
                0,
                0usize,
                0usize,
            )
        };
        let n = if hooked {
            // SAFETY: a one-byte buffer.
            unsafe { libc::recv(rx, got.as_mut_ptr().cast(), 1, 0) }
        } else {
            // SAFETY: as above, through the raw system call.
            unsafe {
                libc::syscall(
                    libc::SYS_recvfrom,
                    rx,
                    got.as_mut_ptr(),
                    1usize,
                    0,
                    0usize,
                    0usize,
                ) as isize
            }
        };
        assert_eq!(n, 1);
    }
    let mut g = c.benchmark_group("recv_1_byte_ready");
    for hooked in [false, true] {
        let name = if hooked {
            "plain_thread_hook"
        } else {
            "plain_thread_raw_syscall"
        };
        let (a, b) = UnixStream::pair().unwrap();
        g.bench_function(name, |bch| {
            bch.iter(|| round(a.as_raw_fd(), b.as_raw_fd(), hooked))
        });
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    for hooked in [false, true] {
        let name = if hooked {
            "coroutine_hook"
        } else {
            "coroutine_raw_syscall"
        };
        g.bench_function(name, |bch| {
            bch.iter_custom(|iters| {
                rt.run(move || {
                    let (a, b) = UnixStream::pair().unwrap();
                    let (tx, rx) = (a.as_raw_fd(), b.as_raw_fd());
                    round(tx, rx, hooked); // classify the fds first
                    let start = Instant::now();
                    for _ in 0..iters {
                        round(tx, rx, hooked);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    raw_switch,
    raw_two_coroutines,
    yield_ping_pong,
    spawn_join,
    hook_overhead
);
criterion_main!(benches);
