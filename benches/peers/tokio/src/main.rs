//! tokio peer for weft's comparison harness: one workload per run, selected
//! by argv[1]; prints one `RESULT <name> <value> <unit>` line on stdout.
//! `echo-server PORT` (a task per connection) and `http-server PORT` (hyper
//! 1.x, HTTP/1.1 keep-alive) instead serve on 127.0.0.1 until killed; the
//! load generator or wrk measures them.

use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
// Fewer for pingpong2, as in the weft peer (where each message wakes the
// other worker thread).
const PINGPONG2_ROUNDS: u64 = 100_000;
const PINGPONG2_WARMUP: u64 = 10_000;
const PAIR_ROUNDS: u64 = 200_000;
const PAIR_WARMUP: u64 = 20_000;

fn fail(msg: String) -> ! {
    eprintln!("tokio-peer: {msg}");
    exit(1)
}

/// Spawns `n` empty tasks, keeping the handles, then joins them all.
async fn spawn_join(n: usize) -> Duration {
    DONE.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async {
                DONE.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.await
            .unwrap_or_else(|e| fail(format!("spawn: task failed: {e}")));
    }
    let elapsed = start.elapsed();
    let ran = DONE.load(Ordering::Relaxed);
    if ran != n {
        fail(format!("spawn: {ran} of {n} tasks ran"));
    }
    elapsed
}

/// A `multi_thread` runtime with `workers` workers.
fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")))
}

/// `spawn` (2 workers) and `spawn_w W` (W workers, for scaling.sh).
fn bench_spawn(name: &str, workers: usize) {
    let rt = multi_thread(workers);
    let elapsed = rt.block_on(async {
        // block_on runs on the main thread; run the driver on a worker like
        // the Go and weft peers do.
        tokio::spawn(async {
            spawn_join(SPAWN_WARMUP).await;
            spawn_join(SPAWN_TASKS).await
        })
        .await
        .unwrap()
    });
    let ns = elapsed.as_nanos() as f64 / SPAWN_TASKS as f64;
    println!("RESULT {name} {ns:.1} ns/task");
}

fn bench_yield() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    let (elapsed, counts) = rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn(async {
                    let mut count = 0;
                    for _ in 0..YIELD_ROUNDS {
                        tokio::task::yield_now().await;
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let mut counts = Vec::new();
        for t in tasks {
            counts.push(t.await.unwrap());
        }
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

// tokio has no rendezvous channel: `mpsc::channel(1)` is the closest (a send
// completes once the value is queued, not once it is received). A round trip
// still waits for B's reply, so it is the same exchange as a capacity-0
// channel: two messages and two task wake-ups.
type Tx = tokio::sync::mpsc::Sender<u64>;
type Rx = tokio::sync::mpsc::Receiver<u64>;

/// Task B of a ping-pong pair: sends back every number it receives until A
/// drops its sender; returns how many it echoed.
async fn echo_back(mut rx: Rx, tx: Tx) -> u64 {
    let mut echoed = 0;
    while let Some(v) = rx.recv().await {
        if tx.send(v).await.is_err() {
            fail("pingpong: A hung up mid round trip".into());
        }
        echoed += 1;
    }
    echoed
}

/// Task A's side of round trips `from..to`: send the number, await it back.
async fn round_trips(tx: &Tx, rx: &mut Rx, from: u64, to: u64) {
    for i in from..to {
        if tx.send(i).await.is_err() {
            fail("pingpong: B hung up".into());
        }
        match rx.recv().await {
            Some(v) if v == i => {}
            Some(v) => fail(format!("pingpong: sent {i}, got {v} back")),
            None => fail("pingpong: B hung up".into()),
        }
    }
}

/// One pair on two channels a->b and b->a, both tasks spawned with
/// `tokio::spawn`: warm-up round trips, then the timed ones. Returns the
/// timed span.
async fn ping_pong(warmup: u64, rounds: u64) -> Duration {
    let (to_b, from_a) = tokio::sync::mpsc::channel(1);
    let (to_a, mut from_b) = tokio::sync::mpsc::channel(1);
    let a = tokio::spawn(async move {
        round_trips(&to_b, &mut from_b, 0, warmup).await;
        let start = Instant::now();
        round_trips(&to_b, &mut from_b, warmup, warmup + rounds).await;
        start.elapsed()
    });
    let b = tokio::spawn(echo_back(from_a, to_a));
    let elapsed = a
        .await
        .unwrap_or_else(|e| fail(format!("pingpong: A failed: {e}")));
    let echoed = b
        .await
        .unwrap_or_else(|e| fail(format!("pingpong: B failed: {e}")));
    if echoed != warmup + rounds {
        fail(format!(
            "pingpong: B echoed {echoed} of {} numbers",
            warmup + rounds
        ));
    }
    elapsed
}

/// pingpong1 (`current_thread`) and pingpong2 (`multi_thread`, 2 workers;
/// the scheduler decides where the two tasks run, and mostly keeps them on
/// one worker).
fn bench_pingpong(name: &str, rt: tokio::runtime::Runtime, warmup: u64, rounds: u64) {
    let elapsed = rt.block_on(ping_pong(warmup, rounds));
    let ns = elapsed.as_nanos() as f64 / rounds as f64;
    println!("RESULT {name} {ns:.1} ns/rt");
}

/// `pairs` independent pairs of `rounds` round trips each; the wall time
/// until all are done.
async fn run_pairs(pairs: usize, rounds: u64) -> Duration {
    let start = Instant::now();
    let drivers: Vec<_> = (0..pairs)
        .map(|_| tokio::spawn(ping_pong(0, rounds)))
        .collect();
    for d in drivers {
        d.await
            .unwrap_or_else(|e| fail(format!("pingpong_pairs: pair failed: {e}")));
    }
    start.elapsed()
}

/// pingpong_pairs W: W pairs on W workers; total round trips per second, in
/// millions.
fn bench_pingpong_pairs(workers: usize) {
    let elapsed = multi_thread(workers).block_on(async move {
        // The driver runs on a worker, as in bench_spawn.
        tokio::spawn(async move {
            run_pairs(workers, PAIR_WARMUP).await;
            run_pairs(workers, PAIR_ROUNDS).await
        })
        .await
        .unwrap()
    });
    let mrts = (workers as u64 * PAIR_ROUNDS) as f64 / elapsed.as_secs_f64() / 1e6;
    println!("RESULT pingpong_pairs {mrts:.3} Mrt/s");
}

/// The worker count of `spawn_w W` and `pingpong_pairs W`.
fn workers(arg: &str) -> usize {
    match arg.parse() {
        Ok(w) if w >= 1 => w,
        _ => fail(format!("bad worker count {arg:?}")),
    }
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    let (before, after, finished) = rt.block_on(async {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let before = rss_bytes();
        let handles: Vec<_> = (0..SLEEPERS)
            .map(|_| {
                let (started, finished) = (started.clone(), finished.clone());
                tokio::spawn(async move {
                    started.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(SLEEP_FOR).await;
                    finished.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        while started.load(Ordering::Relaxed) < SLEEPERS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = rss_bytes();
        for h in handles {
            h.await
                .unwrap_or_else(|e| fail(format!("sleep_rss: task failed: {e}")));
        }
        (before, after, finished.load(Ordering::Relaxed))
    });
    if finished != SLEEPERS {
        fail(format!(
            "sleep_rss: {finished} of {SLEEPERS} sleepers finished"
        ));
    }
    eprintln!("tokio-peer: rss before {before}, after {after}");
    let per_task = (after - before) as f64 / SLEEPERS as f64;
    println!("RESULT sleep_rss {per_task:.1} bytes/task");
}

/// Read buffer of one echo connection, as in the weft, threads and Go peers.
const ECHO_BUF: usize = 1024;

/// Raises the soft open-file limit to the hard limit (idle_rss holds 10,000
/// sockets).
fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Binds 127.0.0.1:`port` on a 2-worker runtime and hands every accepted
/// connection to `conn`, spawned as its own task. The accept loop itself is
/// a task too, so all the work runs on the two workers.
fn serve<F, Fut>(port: u16, conn: F) -> !
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap_or_else(|e| fail(format!("bind: {e}")));
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(conn(stream));
                    }
                    Err(e) => {
                        eprintln!("tokio-peer: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|e| fail(format!("accept loop: {e}")))
    })
}

async fn echo(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; ECHO_BUF];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(
        bytes::Bytes::from_static(b"Hello, world!"),
    )))
}

async fn http(stream: tokio::net::TcpStream) {
    let io = hyper_util::rt::TokioIo::new(stream);
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, hyper::service::service_fn(hello))
        .await;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port = || -> u16 {
        args[2]
            .parse()
            .unwrap_or_else(|_| fail(format!("bad port {:?}", args[2])))
    };
    match (args.get(1).map(String::as_str), args.len()) {
        (Some("spawn"), 2) => bench_spawn("spawn", 2),
        (Some("yield"), 2) => bench_yield(),
        (Some("sleep_rss"), 2) => bench_sleep_rss(),
        (Some("pingpong1"), 2) => bench_pingpong(
            "pingpong1",
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap_or_else(|e| fail(format!("runtime: {e}"))),
            PINGPONG1_WARMUP,
            PINGPONG1_ROUNDS,
        ),
        (Some("pingpong2"), 2) => bench_pingpong(
            "pingpong2",
            multi_thread(2),
            PINGPONG2_WARMUP,
            PINGPONG2_ROUNDS,
        ),
        (Some("spawn_w"), 3) => bench_spawn("spawn_w", workers(&args[2])),
        (Some("pingpong_pairs"), 3) => bench_pingpong_pairs(workers(&args[2])),
        (Some("echo-server"), 3) => serve(port(), echo),
        (Some("http-server"), 3) => serve(port(), http),
        _ => fail(
            "usage: tokio-peer spawn|yield|sleep_rss|pingpong1|pingpong2|spawn_w W\
             |pingpong_pairs W|echo-server PORT|http-server PORT"
                .into(),
        ),
    }
}
