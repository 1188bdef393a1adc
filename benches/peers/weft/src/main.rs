//! weft side of the peer comparison: one workload per run, selected by
//! argv[1]; prints one `RESULT <name> <value> <unit>` line on stdout.
//! `echo-server PORT` and `http-server PORT` instead serve on 127.0.0.1
//! until killed, one `weft::go` coroutine per connection running plain
//! blocking `std::net` code (../common/blocking.rs, shared with the threads
//! peer); the load generator or wrk measures them.

#[path = "../../common/blocking.rs"]
mod blocking;

use std::net::TcpStream;
use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPAWN_TASKS: usize = 1_000_000;
const SPAWN_WARMUP: usize = 100_000;
const YIELD_ROUNDS: usize = 2_000_000;
const SLEEPERS: usize = 10_000;
const SLEEP_FOR: Duration = Duration::from_secs(2);

fn fail(msg: String) -> ! {
    eprintln!("weft-peer: {msg}");
    exit(1)
}

fn runtime(workers: usize) -> weft::Runtime {
    weft::Runtime::builder()
        .workers(workers)
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")))
}

/// Spawns `n` empty coroutines, keeping the handles, then joins them all.
fn spawn_join(n: usize) -> Duration {
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let done = done.clone();
            weft::go(move || {
                done.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        if h.join().is_err() {
            fail("spawn: a task panicked".into());
        }
    }
    let elapsed = start.elapsed();
    let ran = done.load(Ordering::Relaxed);
    if ran != n {
        fail(format!("spawn: {ran} of {n} tasks ran"));
    }
    elapsed
}

fn bench_spawn() {
    let workers = std::env::var("SPAWN_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let elapsed = runtime(workers).run(|| {
        spawn_join(SPAWN_WARMUP);
        spawn_join(SPAWN_TASKS)
    });
    let ns = elapsed.as_nanos() as f64 / SPAWN_TASKS as f64;
    println!("RESULT spawn {ns:.1} ns/task");
}

fn bench_yield() {
    let (elapsed, counts) = runtime(1).run(|| {
        let start = Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                weft::go(|| {
                    let mut count = 0;
                    for _ in 0..YIELD_ROUNDS {
                        weft::yield_now();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let counts: Vec<usize> = tasks.into_iter().map(|t| t.join().unwrap()).collect();
        (start.elapsed(), counts)
    });
    if counts != [YIELD_ROUNDS, YIELD_ROUNDS] {
        fail(format!(
            "yield: counts {counts:?}, want {YIELD_ROUNDS} each"
        ));
    }
    let ns = elapsed.as_nanos() as f64 / YIELD_ROUNDS as f64;
    println!("RESULT yield {ns:.1} ns/roundtrip");
}

extern "C" {
    fn sysconf(name: i32) -> i64;
}
const SC_PAGESIZE: i32 = 30; // Linux value of _SC_PAGESIZE

/// Resident set size from /proc/self/statm, in bytes.
fn rss_bytes() -> i64 {
    let statm =
        std::fs::read_to_string("/proc/self/statm").unwrap_or_else(|e| fail(format!("statm: {e}")));
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| fail(format!("statm: cannot parse {statm:?}")));
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { sysconf(SC_PAGESIZE) }
}

fn bench_sleep_rss() {
    let (before, after, finished) = runtime(2).run(|| {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let before = rss_bytes();
        let handles: Vec<_> = (0..SLEEPERS)
            .map(|_| {
                let (started, finished) = (started.clone(), finished.clone());
                weft::go(move || {
                    started.fetch_add(1, Ordering::Relaxed);
                    weft::sleep(SLEEP_FOR);
                    finished.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        while started.load(Ordering::Relaxed) < SLEEPERS {
            weft::sleep(Duration::from_millis(1));
        }
        weft::sleep(Duration::from_millis(100));
        let after = rss_bytes();
        for h in handles {
            if h.join().is_err() {
                fail("sleep_rss: a sleeper panicked".into());
            }
        }
        (before, after, finished.load(Ordering::Relaxed))
    });
    if finished != SLEEPERS {
        fail(format!(
            "sleep_rss: {finished} of {SLEEPERS} sleepers finished"
        ));
    }
    eprintln!("weft-peer: rss before {before}, after {after}");
    let per_task = (after - before) as f64 / SLEEPERS as f64;
    println!("RESULT sleep_rss {per_task:.1} bytes/task");
}

/// Serves 127.0.0.1:`port` on a 2-worker runtime: the accept loop and each
/// connection run in coroutines, so every `accept`, `read` and `write` is a
/// plain blocking `std::net` call made from inside weft.
fn serve(port: u16, handler: fn(TcpStream)) -> ! {
    blocking::raise_nofile_limit();
    let listener = blocking::listen(port).unwrap_or_else(|e| fail(format!("bind: {e}")));
    runtime(2).run(move || {
        blocking::serve(listener, |stream| {
            weft::go(move || handler(stream));
        })
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.len()) {
        (Some("spawn"), 2) => bench_spawn(),
        (Some("yield"), 2) => bench_yield(),
        (Some("sleep_rss"), 2) => bench_sleep_rss(),
        (Some("echo-server"), 3) => serve(port(&args), blocking::echo),
        (Some("http-server"), 3) => serve(port(&args), blocking::http),
        _ => {
            fail("usage: weft-peer spawn|yield|sleep_rss|echo-server PORT|http-server PORT".into())
        }
    }
}

fn port(args: &[String]) -> u16 {
    blocking::port_arg(args).unwrap_or_else(|| fail(format!("bad port {:?}", args[2])))
}
