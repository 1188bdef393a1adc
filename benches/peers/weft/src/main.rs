//! weft side of the peer comparison: one workload per run, selected by
//! argv[1]; prints one `RESULT <name> <value> <unit>` line on stdout.
//! `echo-server PORT` and `http-server PORT` instead serve on 127.0.0.1
//! until killed, one `weft::go` coroutine per connection running plain
//! blocking `std::net` code: the echo handler of ../common/blocking.rs
//! (shared with the threads peer), and the connection handler of
//! `examples/http_hello.rs` itself. The load generator or wrk measures them.

#[path = "../../common/blocking.rs"]
#[allow(dead_code)] // its `http` handler serves the threads peer
mod blocking;

/// The `http` workload serves with the README's example itself.
#[path = "../../../../examples/http_hello.rs"]
#[allow(dead_code)] // its `main`
mod http_hello;

use std::net::TcpStream;
use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::channel::{Receiver, Sender};

const SPAWN_TASKS: usize = 1_000_000;
const SPAWN_WARMUP: usize = 100_000;
/// Tasks of the current spawn round that ran. A static, as the Go peer's
/// closures share their counter by reference: no reference count per task.
static DONE: AtomicUsize = AtomicUsize::new(0);
const YIELD_ROUNDS: usize = 2_000_000;
const SLEEPERS: usize = 10_000;
const SLEEP_FOR: Duration = Duration::from_secs(2);
const PINGPONG1_ROUNDS: u64 = 1_000_000;
const PINGPONG1_WARMUP: u64 = 100_000;
// Fewer for pingpong2: each message there wakes the other worker thread,
// which costs microseconds rather than nanoseconds.
const PINGPONG2_ROUNDS: u64 = 100_000;
const PINGPONG2_WARMUP: u64 = 10_000;
const PAIR_ROUNDS: u64 = 200_000;
/// Blocks timed back to back (the monitor or sysmon busy) and after a
/// pause (asleep or backed off).
const SIBLING_BLOCKS: usize = 2_000;
const SIBLING_COLD_BLOCKS: usize = 50;
const SIBLING_PAUSE: Duration = Duration::from_millis(20);
const PAIR_WARMUP: u64 = 20_000;
/// How long a task of a start barrier waits for its partners (in a busy
/// loop) before giving up.
const BARRIER_LIMIT: Duration = Duration::from_secs(10);

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
    DONE.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            weft::go(|| {
                DONE.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        if h.join().is_err() {
            fail("spawn: a task panicked".into());
        }
    }
    let elapsed = start.elapsed();
    let ran = DONE.load(Ordering::Relaxed);
    if ran != n {
        fail(format!("spawn: {ran} of {n} tasks ran"));
    }
    elapsed
}

/// Spawns `n` empty coroutines and waits for all of them with a
/// `WaitGroup`, dropping the handles: the shape of the Go peer's program.
fn spawn_wait(n: usize) -> Duration {
    DONE.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let wg = weft::sync::WaitGroup::new();
    for _ in 0..n {
        let wg = wg.clone();
        weft::go(move || {
            DONE.fetch_add(1, Ordering::Relaxed);
            drop(wg);
        });
    }
    wg.wait();
    let elapsed = start.elapsed();
    let ran = DONE.load(Ordering::Relaxed);
    if ran != n {
        fail(format!("spawn_wg: {ran} of {n} tasks ran"));
    }
    elapsed
}

/// `spawn_wg`: as `spawn`, waiting with a `WaitGroup` as the Go peer does.
fn bench_spawn_wg() {
    let elapsed = runtime(2).run(|| {
        spawn_wait(SPAWN_WARMUP);
        spawn_wait(SPAWN_TASKS)
    });
    let ns = elapsed.as_nanos() as f64 / SPAWN_TASKS as f64;
    println!("RESULT spawn_wg {ns:.1} ns/task");
}

/// `spawn` (2 workers, or `SPAWN_WORKERS`) and `spawn_w` (`workers` from
/// argv, for scaling.sh).
fn bench_spawn(name: &str, workers: usize) {
    let elapsed = runtime(workers).run(|| {
        spawn_join(SPAWN_WARMUP);
        spawn_join(SPAWN_TASKS)
    });
    let ns = elapsed.as_nanos() as f64 / SPAWN_TASKS as f64;
    println!("RESULT {name} {ns:.1} ns/task");
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

/// Task B of a ping-pong pair: sends back every number it receives until
/// A drops its sender; returns how many it echoed.
fn echo_back(rx: Receiver<u64>, tx: Sender<u64>) -> u64 {
    let mut echoed = 0;
    while let Ok(v) = rx.recv() {
        if tx.send(v).is_err() {
            fail("pingpong: A hung up mid round trip".into());
        }
        echoed += 1;
    }
    echoed
}

/// Task A's side of round trips `from..to`: send the number, await it back.
fn round_trips(tx: &Sender<u64>, rx: &Receiver<u64>, from: u64, to: u64) {
    for i in from..to {
        if tx.send(i).is_err() {
            fail("pingpong: B hung up".into());
        }
        match rx.recv() {
            Ok(v) if v == i => {}
            Ok(v) => fail(format!("pingpong: sent {i}, got {v} back")),
            Err(_) => fail("pingpong: B hung up".into()),
        }
    }
}

/// Task A: warm-up round trips, then the timed ones; drops its sender so B
/// ends. Returns the timed span.
fn ping(tx: Sender<u64>, rx: Receiver<u64>, warmup: u64, rounds: u64) -> Duration {
    round_trips(&tx, &rx, 0, warmup);
    let start = Instant::now();
    round_trips(&tx, &rx, warmup, warmup + rounds);
    start.elapsed()
}

/// Two rendezvous channels, a->b and b->a.
fn pair_channels() -> ((Sender<u64>, Receiver<u64>), (Sender<u64>, Receiver<u64>)) {
    let (to_b, from_a) = weft::channel::bounded::<u64>(0);
    let (to_a, from_b) = weft::channel::bounded::<u64>(0);
    ((to_b, from_b), (to_a, from_a))
}

fn check_echoed(echoed: u64, want: u64) {
    if echoed != want {
        fail(format!("pingpong: B echoed {echoed} of {want} numbers"));
    }
}

/// Busy-waits (without yielding, so the worker stays taken) until `n` tasks
/// have arrived: each of the `n` tasks then runs on its own worker, and as
/// weft binds a coroutine to the worker that first runs it, stays there.
fn start_barrier(arrived: &AtomicUsize, n: usize, what: &str) {
    arrived.fetch_add(1, Ordering::SeqCst);
    let start = Instant::now();
    while arrived.load(Ordering::SeqCst) < n {
        if start.elapsed() > BARRIER_LIMIT {
            fail(format!(
                "{what}: only {} of {n} tasks started within {BARRIER_LIMIT:?}",
                arrived.load(Ordering::SeqCst)
            ));
        }
        std::hint::spin_loop();
    }
}

/// pingpong1: A (the `run` coroutine) and B on one worker.
fn bench_pingpong1() {
    let (elapsed, echoed) = runtime(1).run(|| {
        let ((tx, rx), (b_tx, b_rx)) = pair_channels();
        let b = weft::go(move || echo_back(b_rx, b_tx));
        let elapsed = ping(tx, rx, PINGPONG1_WARMUP, PINGPONG1_ROUNDS);
        (elapsed, b.join().unwrap())
    });
    check_echoed(echoed, PINGPONG1_WARMUP + PINGPONG1_ROUNDS);
    let ns = elapsed.as_nanos() as f64 / PINGPONG1_ROUNDS as f64;
    println!("RESULT pingpong1 {ns:.1} ns/rt");
}

/// pingpong2: A and B spawned from the main thread on a 2-worker runtime. A
/// start barrier keeps each one's worker busy until the other has started,
/// so they start, and therefore stay, on different workers: every message
/// wakes a coroutine bound to the other worker.
fn bench_pingpong2() {
    let rt = runtime(2);
    let arrived = Arc::new(AtomicUsize::new(0));
    let ((tx, rx), (b_tx, b_rx)) = pair_channels();
    let a = {
        let arrived = arrived.clone();
        rt.spawn(move || {
            start_barrier(&arrived, 2, "pingpong2");
            let elapsed = ping(tx, rx, PINGPONG2_WARMUP, PINGPONG2_ROUNDS);
            (elapsed, std::thread::current().id())
        })
    };
    let b = rt.spawn(move || {
        start_barrier(&arrived, 2, "pingpong2");
        (echo_back(b_rx, b_tx), std::thread::current().id())
    });
    let (elapsed, a_thread) = a.join().unwrap();
    let (echoed, b_thread) = b.join().unwrap();
    check_echoed(echoed, PINGPONG2_WARMUP + PINGPONG2_ROUNDS);
    if a_thread == b_thread {
        fail("pingpong2: A and B ran on the same worker".into());
    }
    let ns = elapsed.as_nanos() as f64 / PINGPONG2_ROUNDS as f64;
    println!("RESULT pingpong2 {ns:.1} ns/rt");
}

/// `pairs` independent ping-pong pairs, each `rounds` round trips; returns
/// the wall time until all are done, and how many pairs ended up split
/// across two workers. Each pair's A is first held at a start barrier (one A
/// per worker), then spawns its B on its own worker, so a pair starts out on
/// one worker (B may still be stolen by an idle worker before it first runs,
/// and then stays split for good).
fn run_pairs(pairs: usize, rounds: u64) -> (Duration, usize) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let drivers: Vec<_> = (0..pairs)
        .map(|_| {
            let arrived = arrived.clone();
            weft::go(move || {
                start_barrier(&arrived, pairs, "pingpong_pairs");
                let ((tx, rx), (b_tx, b_rx)) = pair_channels();
                let b = weft::go(move || (echo_back(b_rx, b_tx), std::thread::current().id()));
                ping(tx, rx, 0, rounds);
                let (echoed, b_thread) = b.join().unwrap();
                check_echoed(echoed, rounds);
                (std::thread::current().id(), b_thread)
            })
        })
        .collect();
    let placement: Vec<_> = drivers.into_iter().map(|d| d.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let split = placement.iter().filter(|(a, b)| a != b).count();
    (elapsed, split)
}

/// pingpong_pairs W: W independent pairs on W workers; total round trips
/// per second, in millions.
fn bench_pingpong_pairs(workers: usize) {
    let (elapsed, split) = runtime(workers).run(move || {
        run_pairs(workers, PAIR_WARMUP);
        run_pairs(workers, PAIR_ROUNDS)
    });
    if split > 0 {
        eprintln!(
            "weft-peer: pingpong_pairs: {split} of {workers} pairs ran split across two workers"
        );
    }
    let mrts = (workers as u64 * PAIR_ROUNDS) as f64 / elapsed.as_secs_f64() / 1e6;
    println!("RESULT pingpong_pairs {mrts:.3} Mrt/s");
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

/// How long a ready sibling waits while the running coroutine blocks its
/// thread in a raw `futex` wait (a blocking call, which only a take-over
/// gets past) on one worker: the sibling notes when it runs and ends the
/// wait. Returns the waits, in µs.
fn sibling_waits(blocks: usize, pause: Duration) -> Vec<f64> {
    runtime(1).run(move || {
        let base = Instant::now();
        let mut waits = Vec::with_capacity(blocks);
        for _ in 0..blocks {
            std::thread::sleep(pause);
            let word = Arc::new(std::sync::atomic::AtomicU32::new(0));
            let ran_at = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let (w, r) = (word.clone(), ran_at.clone());
            // Queued behind us on our only worker.
            let sibling = weft::go(move || {
                r.store(base.elapsed().as_nanos() as u64, Ordering::SeqCst);
                w.store(1, Ordering::SeqCst);
                futex(
                    &w,
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    i32::MAX as u32,
                );
            });
            let blocked_at = base.elapsed().as_nanos() as u64;
            while word.load(Ordering::SeqCst) == 0 {
                futex(&word, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, 0);
            }
            sibling.join().unwrap();
            let ran = ran_at.load(Ordering::SeqCst);
            waits.push(ran.saturating_sub(blocked_at) as f64 / 1e3);
        }
        waits
    })
}

fn futex(word: &std::sync::atomic::AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: a valid futex word for the call's duration; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

fn bench_sibling_wait() {
    let mut warm = sibling_waits(SIBLING_BLOCKS, Duration::ZERO);
    let mut cold = sibling_waits(SIBLING_COLD_BLOCKS, SIBLING_PAUSE);
    warm.sort_by(f64::total_cmp);
    cold.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q) as usize];
    println!("RESULT sibling_wait {:.1} us", at(&warm, 0.5));
    println!("RESULT sibling_wait_p99 {:.1} us", at(&warm, 0.99));
    println!("RESULT sibling_wait_cold {:.1} us", at(&cold, 0.5));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.len()) {
        (Some("spawn"), 2) => {
            let workers = std::env::var("SPAWN_WORKERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2);
            bench_spawn("spawn", workers)
        }
        (Some("spawn_wg"), 2) => bench_spawn_wg(),
        (Some("yield"), 2) => bench_yield(),
        (Some("sibling_wait"), 2) => bench_sibling_wait(),
        (Some("sleep_rss"), 2) => bench_sleep_rss(),
        (Some("pingpong1"), 2) => bench_pingpong1(),
        (Some("pingpong2"), 2) => bench_pingpong2(),
        (Some("spawn_w"), 3) => bench_spawn("spawn_w", workers(&args)),
        (Some("pingpong_pairs"), 3) => bench_pingpong_pairs(workers(&args)),
        (Some("echo-server"), 3) => serve(port(&args), blocking::echo),
        (Some("http-server"), 3) => serve(port(&args), |conn| {
            // A broken or timed-out connection just ends its coroutine.
            let _ = http_hello::serve(conn);
        }),
        _ => fail(
            "usage: weft-peer spawn|spawn_wg|yield|sibling_wait|sleep_rss|pingpong1|pingpong2|spawn_w W\
             |pingpong_pairs W|echo-server PORT|http-server PORT"
                .into(),
        ),
    }
}

/// The worker count of `spawn_w W` and `pingpong_pairs W`.
fn workers(args: &[String]) -> usize {
    match args[2].parse() {
        Ok(w) if w >= 1 => w,
        _ => fail(format!("bad worker count {:?}", args[2])),
    }
}

fn port(args: &[String]) -> u16 {
    blocking::port_arg(args).unwrap_or_else(|| fail(format!("bad port {:?}", args[2])))
}
