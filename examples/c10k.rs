//! c10k: ten thousand TCP connections at once, one coroutine each, on a few
//! worker threads.
//!
//! ```sh
//! cargo run --release --example c10k                            # 10,000 connections, 5 s
//! cargo run --release --example c10k -- --conns 2000 --secs 2   # smaller and shorter
//! ```
//!
//! The program is an echo server on a loopback port. It starts a copy of
//! itself as the client, in a child process: a connection with both ends in
//! one process would cost two file descriptors there, and the open-file limit
//! is per process. The client first opens every connection. Then, for
//! `--secs` seconds, each of its coroutines sends a 64-byte request, waits for
//! the echo, checks every byte, and records the round trip.
//!
//! Both sides are ordinary blocking `std::net` code with one coroutine per
//! connection: `accept`, `connect`, `read` and `write` park the coroutine
//! until the socket is ready, and `--workers` threads per side (default: one
//! per core) run them all.
//!
//! The client prints a line a second and then the totals: requests, latency
//! percentiles, errors. Every connection always has one request in flight,
//! so a round trip is mostly time spent waiting in line: expect about
//! connections / (requests per second), e.g. 200 ms for 10,000 connections
//! at 50,000 requests/s; `--conns 1` shows the bare round trip. The server
//! prints its peak memory and what each connection added to it. The exit status is non-zero if any connection
//! failed or any byte came back wrong. Everything stays on 127.0.0.1, and the
//! run ends by itself.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: c10k [--conns N] [--secs N] [--workers N]
  --conns N    connections to hold open at once (default 10000)
  --secs N     seconds of traffic once they are all open (default 5)
  --workers N  worker threads on each side (default: one per core)";

/// Size of each request, and of its echo.
const MSG_LEN: usize = 64;
/// How long the client may take to open all its connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A read or write that waits longer than this fails the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// File descriptors each process needs besides its connections.
const SPARE_FDS: u64 = 100;

/// Command-line settings; `client` is set only in the child process.
struct Opts {
    conns: usize,
    secs: u64,
    workers: usize,
    client: Option<SocketAddr>,
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("c10k: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = raise_fd_limit(opts.conns).and_then(|()| match opts.client {
        None => server(&opts),
        Some(addr) => client(&opts, addr),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            let side = if opts.client.is_some() {
                "client"
            } else {
                "c10k"
            };
            eprintln!("{side}: {msg}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- server ---

/// Counters the server's coroutines update and its main thread reads.
#[derive(Default)]
struct ServerStats {
    /// Set when the accept loop is about to wait for its first connection.
    accepting: AtomicBool,
    /// Echo coroutines that have started.
    started: AtomicUsize,
    /// Failed `accept` calls, and coroutines that could not be spawned.
    errors: AtomicUsize,
}

fn server(opts: &Opts) -> Result<(), String> {
    println!(
        "c10k: {}, {} s, {} workers per side",
        connections(opts.conns),
        opts.secs,
        opts.workers
    );
    let rt = weft::Runtime::builder()
        .workers(opts.workers)
        .thread_name("server")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    let stats = Arc::new(ServerStats::default());
    let accept_stats = stats.clone();
    rt.spawn(move || accept_loop(listener, accept_stats));
    while !stats.accepting.load(Ordering::Acquire) {
        thread::sleep(Duration::from_millis(1));
    }
    let rss_before = status_kib("VmRSS");

    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--client", &addr.to_string()])
        .args(["--conns", &opts.conns.to_string()])
        .args(["--secs", &opts.secs.to_string()])
        .args(["--workers", &opts.workers.to_string()])
        .spawn()
        .map_err(|e| format!("cannot start the client process: {e}"))?;

    // Wait for the client to finish, taking the server's RSS once every
    // connection has its coroutine, and killing the client if it overruns.
    let limit = CONNECT_TIMEOUT + Duration::from_secs(opts.secs) + 2 * IO_TIMEOUT + 10 * SECOND;
    let deadline = Instant::now() + limit;
    let mut rss_loaded = None;
    let status = loop {
        if rss_loaded.is_none() && stats.started.load(Ordering::Acquire) >= opts.conns {
            rss_loaded = Some(status_kib("VmRSS"));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the client was still running after {} s; killed it",
                    limit.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for the client: {e}")),
        }
    };

    let per_conn = match rss_loaded {
        Some(kib) => format!(
            "{:.1} KiB per connection",
            kib.saturating_sub(rss_before) as f64 / opts.conns as f64
        ),
        None => "per connection: n/a (not every connection arrived)".to_string(),
    };
    println!(
        "server: peak RSS {} MiB, {per_conn}",
        (status_kib("VmHWM") + 512) / 1024
    );
    let errors = stats.errors.load(Ordering::Relaxed);
    // Shut the server down: the accept loop ends, the listener closes.
    drop(rt);

    if !status.success() {
        return Err(format!("the client failed ({status})"));
    }
    match errors {
        0 => Ok(()),
        n => Err(format!("the server saw {n} errors")),
    }
}

/// Accepts connections forever, one echo coroutine each.
fn accept_loop(listener: TcpListener, stats: Arc<ServerStats>) {
    stats.accepting.store(true, Ordering::Release);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = stats.clone();
                let spawned = weft::Builder::new().spawn(move || {
                    s.started.fetch_add(1, Ordering::Release);
                    echo(stream);
                });
                if let Err(e) = spawned {
                    if stats.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("server: cannot spawn a coroutine: {e}");
                    }
                }
            }
            // The runtime is shutting down: weft cancels the parked accept.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => return,
            Err(e) => {
                if stats.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("server: accept failed: {e}");
                }
                weft::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Sends every byte back until the client hangs up.
fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    // Until end of stream (a read of 0 bytes) or an error.
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

// ---------------------------------------------------------------- client ---

/// Completed requests, counted in several cache-line-sized shards so that
/// coroutines on different workers rarely touch the same line.
const SHARDS: usize = 16;

#[derive(Default)]
#[repr(align(64))]
struct Shard(AtomicU64);

/// What the client's coroutines and its main thread share.
#[derive(Default)]
struct Shared {
    /// Connections opened so far.
    connected: AtomicUsize,
    /// Connections that broke (an I/O error, a timeout, a wrong echo).
    broken: AtomicUsize,
    /// Connections that could not be opened.
    connect_failed: AtomicUsize,
    /// The first connect error, to show.
    connect_error: OnceLock<io::Error>,
    /// When traffic starts; set once every connection is open.
    start: OnceLock<Instant>,
    /// Set when the run is called off: waiting coroutines return.
    abort: AtomicBool,
    /// Requests completed inside the measured window.
    done: [Shard; SHARDS],
}

/// What one connection's coroutine reports when it ends.
struct Report {
    requests: u64,
    latency: Histogram,
    error: Option<String>,
}

fn client(opts: &Opts, server: SocketAddr) -> Result<(), String> {
    let rt = weft::Runtime::builder()
        .workers(opts.workers)
        .thread_name("client")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let shared = Arc::new(Shared::default());

    // One coroutine per connection. `Builder::spawn` reports a failure
    // (such as too many coroutines) as an error instead of panicking.
    let (conns, secs) = (opts.conns, opts.secs);
    let sh = shared.clone();
    let spawned = rt.run(move || {
        (0..conns)
            .map(|id| {
                let sh = sh.clone();
                weft::Builder::new().spawn(move || connection(id, server, secs, &sh))
            })
            .collect::<io::Result<Vec<_>>>()
    });
    let handles = match spawned {
        Ok(handles) => handles,
        Err(e) => {
            shared.abort.store(true, Ordering::Relaxed);
            return Err(format!("cannot spawn {conns} coroutines: {e}"));
        }
    };

    // Wait until every connection is open.
    let t0 = Instant::now();
    let mut next_line = t0 + SECOND;
    loop {
        let connected = shared.connected.load(Ordering::Relaxed);
        if connected == conns {
            break;
        }
        let failed = shared.connect_failed.load(Ordering::Relaxed);
        let late = t0.elapsed() > CONNECT_TIMEOUT;
        if failed > 0 || late {
            shared.abort.store(true, Ordering::Relaxed);
            let why = match shared.connect_error.get() {
                Some(e) => format!("{failed} failed; the first with: {e}{}", hint(e)),
                None => format!("gave up after {} s", CONNECT_TIMEOUT.as_secs()),
            };
            return Err(format!("opened {connected} of {conns} connections: {why}"));
        }
        if Instant::now() >= next_line {
            println!("[connecting] {connected} open");
            next_line += SECOND;
        }
        thread::sleep(Duration::from_millis(5));
    }
    println!(
        "client: {} open in {:.2} s",
        connections(conns),
        t0.elapsed().as_secs_f64()
    );

    // Start the clock a moment from now, so every coroutine (they look every
    // 50 ms) starts on time, and report once a second.
    let start = Instant::now() + Duration::from_millis(100);
    let _ = shared.start.set(start);
    let mut before = 0;
    for s in 1..=secs {
        thread::sleep((start + s as u32 * SECOND).saturating_duration_since(Instant::now()));
        let total: u64 = shared
            .done
            .iter()
            .map(|d| d.0.load(Ordering::Relaxed))
            .sum();
        let open = conns - shared.broken.load(Ordering::Relaxed);
        println!("[{s}s] {open} open, {} req/s", total - before);
        before = total;
    }

    // Collect every connection's report.
    let mut requests = 0;
    let mut latency = vec![0u64; BUCKETS];
    let (mut errors, mut first_error) = (0, None);
    for h in handles {
        let report = h.join().unwrap_or_else(|_| Report {
            requests: 0,
            latency: Histogram::default(),
            error: Some("its coroutine panicked".to_string()),
        });
        requests += report.requests;
        add(&mut latency, &report.latency);
        if let Some(e) = report.error {
            errors += 1;
            first_error.get_or_insert(e);
        }
    }
    println!(
        "requests: {requests} ({} req/s), latency p50 {}, p99 {}, errors {errors}",
        requests / secs,
        fmt_us(percentile(&latency, 0.50)),
        fmt_us(percentile(&latency, 0.99)),
    );
    match first_error {
        Some(e) => Err(format!("{errors} connections failed; the first: {e}")),
        None if requests == 0 => Err("no request completed".to_string()),
        None => Ok(()),
    }
}

/// One client connection: connect, wait for the start, then request after
/// request until the time is up.
fn connection(id: usize, server: SocketAddr, secs: u64, sh: &Shared) -> Report {
    let mut report = Report {
        requests: 0,
        latency: Histogram::default(),
        error: None,
    };
    let mut stream = match TcpStream::connect(server) {
        Ok(stream) => stream,
        Err(e) => {
            let _ = sh.connect_error.set(e);
            sh.connect_failed.fetch_add(1, Ordering::Relaxed);
            return report;
        }
    };
    sh.connected.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = run_requests(&mut stream, id, secs, sh, &mut report) {
        report.error = Some(format!("connection {id}: {e}"));
        sh.broken.fetch_add(1, Ordering::Relaxed);
    }
    report
}

fn run_requests(
    stream: &mut TcpStream,
    id: usize,
    secs: u64,
    sh: &Shared,
    report: &mut Report,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;

    // Sleep until every connection is open and the start time is known,
    // then until that time.
    let start = loop {
        if sh.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(&start) = sh.start.get() {
            break start;
        }
        weft::sleep(Duration::from_millis(50));
    };
    weft::sleep(start.saturating_duration_since(Instant::now()));
    let end = start + Duration::from_secs(secs);

    let mut request = [0u8; MSG_LEN];
    let mut echo = [0u8; MSG_LEN];
    for seq in 0u64.. {
        // A request the server can only echo correctly if it keeps each
        // connection's bytes apart and in order.
        request[..8].copy_from_slice(&(id as u64).to_le_bytes());
        request[8..16].copy_from_slice(&seq.to_le_bytes());
        for (i, b) in request[16..].iter_mut().enumerate() {
            *b = (id as u64 ^ seq).wrapping_add(i as u64) as u8;
        }

        let sent = Instant::now();
        if sent >= end {
            break;
        }
        stream.write_all(&request)?;
        stream.read_exact(&mut echo)?;
        let back = Instant::now();
        if echo != request {
            return Err(io::Error::other(format!("request {seq}: echo mismatch")));
        }
        // Count only what completed inside the window.
        if back <= end {
            report.requests += 1;
            report.latency.record(back - sent);
            sh.done[id % SHARDS].0.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Advice for a connect error the user can do something about.
fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            "\n  (out of file descriptors: raise the open-file limit, see `ulimit -n`)"
        }
        Some(libc::EADDRNOTAVAIL) => {
            "\n  (out of local ports: widen net.ipv4.ip_local_port_range, or use fewer --conns)"
        }
        _ => "",
    }
}

// -------------------------------------------------------- latency buckets ---

/// Round trips counted in microsecond buckets: exact below 8 us, then 8
/// buckets per power of two, so a bucket is at most 12.5% wide. Each
/// connection fills its own; the main thread adds them up at the end.
struct Histogram(Vec<u32>);

/// Buckets up to 2^24 us (16.7 s); longer round trips land in the last.
const BUCKETS: usize = 24 * 8;

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram(vec![0; BUCKETS])
    }
}

impl Histogram {
    fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = if us < 8 {
            us as usize
        } else {
            let shift = 63 - us.leading_zeros() - 3; // keep the top 4 bits
            ((shift as usize + 1) << 3) + ((us >> shift) & 7) as usize
        };
        self.0[i.min(BUCKETS - 1)] += 1;
    }
}

/// Adds a connection's histogram to the totals.
fn add(totals: &mut [u64], h: &Histogram) {
    for (t, &c) in totals.iter_mut().zip(&h.0) {
        *t += u64::from(c);
    }
}

/// The round trip below which fraction `q` of them fall, in microseconds
/// (the middle of its bucket).
fn percentile(totals: &[u64], q: f64) -> u64 {
    let count: u64 = totals.iter().sum();
    let rank = ((count as f64 * q).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, &n) in totals.iter().enumerate() {
        seen += n;
        if seen >= rank {
            if i < 8 {
                return i as u64;
            }
            let shift = (i >> 3) - 1;
            let low = (8 + (i as u64 & 7)) << shift;
            return low + (1 << shift) / 2;
        }
    }
    0
}

fn connections(n: usize) -> String {
    match n {
        1 => "1 connection".to_string(),
        n => format!("{n} connections"),
    }
}

fn fmt_us(us: u64) -> String {
    if us < 10_000 {
        format!("{us} us")
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

// ----------------------------------------------------------------- setup ---

const SECOND: Duration = Duration::from_secs(1);

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Opts, String> {
    let mut opts = Opts {
        conns: 10_000,
        secs: 5,
        workers: thread::available_parallelism().map_or(1, |n| n.get()),
        client: None,
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: u64| match value.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "{flag} takes a whole number from 1 to {max}, not {value:?}"
            )),
        };
        match flag.as_str() {
            "--conns" => opts.conns = number(1_000_000)? as usize,
            "--secs" => opts.secs = number(3600)?,
            "--workers" => opts.workers = number(1024)? as usize,
            // Internal: how the server starts its client process.
            "--client" => {
                let addr = value
                    .parse()
                    .map_err(|_| format!("bad address {value:?}"))?;
                opts.client = Some(addr);
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    Ok(opts)
}

/// Raises this process's open-file limit as far as it may go, and checks it
/// leaves room for `conns` connections.
fn raise_fd_limit(conns: usize) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we lend it for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!(
            "cannot read the open-file limit: {}",
            io::Error::last_os_error()
        ));
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we lend it for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let need = conns as u64 + SPARE_FDS;
    if lim.rlim_cur < need {
        return Err(format!(
            "{conns} connections need about {need} open files per process, \
             but the limit here is {} (hard limit {}).\n  \
             Use fewer (--conns {}) or raise the limit before starting, e.g. as root \
             `ulimit -n {need}`\n  (for good: `nofile` in /etc/security/limits.conf, \
             or LimitNOFILE= for a systemd service).",
            lim.rlim_cur,
            lim.rlim_max,
            lim.rlim_cur.saturating_sub(SPARE_FDS).max(1),
        ));
    }
    Ok(())
}

/// A `kB` field of /proc/self/status (VmRSS: resident now; VmHWM: peak).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .unwrap_or(0)
}
