//! Client side of weft's network workloads: one program drives every
//! server peer (weft, threads, tokio, Go, may), so the servers are the only
//! thing that changes between runs. Each subcommand talks to a server on
//! 127.0.0.1:PORT, checks every reply, and prints one
//! `RESULT <workload> <value> <unit>` line; any wrong or missing reply is a
//! failure (message on stderr, exit status 1).
//!
//! ```text
//! loadgen echo1 PORT            one connection, 10k warm-up + 100k round trips
//! loadgen echo1000 PORT         1000 connections, 1 s warm-up + 5 s measured
//!                               (`--server-pid PID`: also the server's CPU
//!                               time per round trip in the measured window)
//! loadgen idle_rss PORT PID     10k idle connections, server RSS growth per conn
//! loadgen http-check PORT       two keep-alive GETs must each get "Hello, world!"
//!                               (`--conns N`: on N connections open at once)
//! ```
//! Options (after the positional arguments): `--conns N`, `--secs S`,
//! `--warmup S`, `--threads N` (tokio workers of the client, default 2),
//! `--server-pid PID`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

/// Size of every echo message.
const MSG: usize = 64;
/// How long any single blocking read may wait before the run is declared
/// stuck.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections being opened at once: keeps the SYN burst within any
/// server's listen backlog.
const CONNECT_BATCH: usize = 100;

fn fail(msg: String) -> ! {
    eprintln!("loadgen: {msg}");
    exit(1)
}

struct Opts {
    conns: usize,
    secs: f64,
    warmup: f64,
    threads: usize,
    server_pid: Option<u32>,
}

fn parse_opts(rest: &[String], conns: usize) -> Opts {
    let mut o = Opts {
        conns,
        secs: 5.0,
        warmup: 1.0,
        threads: 2,
        server_pid: None,
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let val = it
            .next()
            .unwrap_or_else(|| fail(format!("{flag} wants a value")));
        let bad = || -> ! { fail(format!("bad value {val:?} for {flag}")) };
        match flag.as_str() {
            "--conns" => o.conns = val.parse().unwrap_or_else(|_| bad()),
            "--secs" => o.secs = val.parse().unwrap_or_else(|_| bad()),
            "--warmup" => o.warmup = val.parse().unwrap_or_else(|_| bad()),
            "--threads" => o.threads = val.parse().unwrap_or_else(|_| bad()),
            "--server-pid" => o.server_pid = Some(val.parse().unwrap_or_else(|_| bad())),
            _ => fail(format!("unknown option {flag}")),
        }
    }
    if o.conns == 0 || o.threads == 0 || o.secs <= 0.0 || o.warmup < 0.0 {
        fail("--conns, --threads and --secs must be positive".into());
    }
    o
}

/// Fills `buf` with a message no other (connection, sequence) pair sends,
/// so a reply that is stale, misrouted or mangled does not compare equal.
fn fill_msg(buf: &mut [u8; MSG], conn: usize, seq: u64) {
    buf[..8].copy_from_slice(&(conn as u64).to_le_bytes());
    buf[8..16].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in buf[16..].iter_mut().enumerate() {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(i as u8) ^ conn as u8;
    }
}

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

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")))
}

fn addr(port: u16) -> (Ipv4Addr, u16) {
    (Ipv4Addr::LOCALHOST, port)
}

// ---------------------------------------------------------------- echo1

/// One blocking connection, strictly one message in flight.
fn echo1(port: u16) {
    const WARMUP: u64 = 10_000;
    const ROUNDS: u64 = 100_000;
    let mut s = TcpStream::connect(addr(port)).unwrap_or_else(|e| fail(format!("connect: {e}")));
    s.set_nodelay(true)
        .unwrap_or_else(|e| fail(format!("nodelay: {e}")));
    s.set_read_timeout(Some(IO_TIMEOUT))
        .unwrap_or_else(|e| fail(format!("timeout: {e}")));
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    let mut round = |seq: u64| {
        fill_msg(&mut msg, 0, seq);
        s.write_all(&msg)
            .unwrap_or_else(|e| fail(format!("echo1: write {seq}: {e}")));
        s.read_exact(&mut back).unwrap_or_else(|e| {
            fail(format!(
                "echo1: reply {seq}: {e} (read timeout {IO_TIMEOUT:?})"
            ))
        });
        if back != msg {
            fail(format!("echo1: reply {seq} differs from what was sent"));
        }
    };
    for seq in 0..WARMUP {
        round(seq);
    }
    let start = Instant::now();
    for seq in WARMUP..WARMUP + ROUNDS {
        round(seq);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;
    println!("RESULT echo1 {us:.2} us/roundtrip");
}

// ------------------------------------------------------------- echo1000

/// Opens `n` connections, at most CONNECT_BATCH at a time; with `probe`,
/// each makes one echo round trip (sequence `probe_seq`) once connected.
/// Returns them in order, or fails the run after `limit`.
async fn open_all(
    port: u16,
    n: usize,
    probe: Option<u64>,
    limit: Duration,
) -> Vec<tokio::net::TcpStream> {
    let open = async {
        let mut slots: Vec<Option<tokio::net::TcpStream>> = (0..n).map(|_| None).collect();
        let mut set = JoinSet::new();
        let mut next = 0;
        loop {
            while next < n && set.len() < CONNECT_BATCH {
                let id = next;
                set.spawn(async move {
                    let res = async {
                        let mut s = tokio::net::TcpStream::connect(addr(port)).await?;
                        s.set_nodelay(true)?;
                        if let Some(seq) = probe {
                            round_trip(&mut s, id, seq).await?;
                        }
                        Ok::<_, io::Error>(s)
                    };
                    (id, res.await)
                });
                next += 1;
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (id, res) = joined.unwrap_or_else(|e| fail(format!("connect task: {e}")));
            slots[id] = Some(res.unwrap_or_else(|e| fail(format!("connection {id}: {e}"))));
        }
        slots
            .into_iter()
            .map(|s| s.expect("every connection opened"))
            .collect()
    };
    tokio::time::timeout(limit, open).await.unwrap_or_else(|_| {
        let what = if probe.is_some() {
            "open and echo once on"
        } else {
            "open"
        };
        fail(format!("could not {what} {n} connections within {limit:?}"))
    })
}

/// One echo round trip on an async stream.
async fn round_trip(s: &mut tokio::net::TcpStream, id: usize, seq: u64) -> io::Result<()> {
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    fill_msg(&mut msg, id, seq);
    s.write_all(&msg).await?;
    s.read_exact(&mut back).await?;
    if back != msg {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("reply {seq} differs from what was sent"),
        ));
    }
    Ok(())
}

fn echo1000(port: u16, o: &Opts) {
    raise_nofile_limit();
    let rt = runtime(o.threads);
    let (rps, cpu_per_rt) = rt.block_on(async {
        let streams = open_all(port, o.conns, None, Duration::from_secs(20)).await;
        let counts: Arc<Vec<AtomicU64>> =
            Arc::new((0..o.conns).map(|_| AtomicU64::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let error: Arc<Mutex<Option<String>>> = Arc::default();
        for (id, mut s) in streams.into_iter().enumerate() {
            let (counts, stop, error) = (counts.clone(), stop.clone(), error.clone());
            tokio::spawn(async move {
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = round_trip(&mut s, id, seq).await {
                        if !stop.load(Ordering::Relaxed) {
                            error
                                .lock()
                                .unwrap()
                                .get_or_insert(format!("connection {id}: {e}"));
                        }
                        return;
                    }
                    seq += 1;
                    counts[id].fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let snapshot = || {
            counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        };
        let server_cpu = || o.server_pid.map(cpu_time);
        tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
        let (before, cpu0, t0) = (snapshot(), server_cpu(), Instant::now());
        tokio::time::sleep(Duration::from_secs_f64(o.secs)).await;
        let (after, cpu1, elapsed) = (snapshot(), server_cpu(), t0.elapsed());
        stop.store(true, Ordering::Relaxed);
        if let Some(e) = error.lock().unwrap().take() {
            fail(format!("echo1000: {e}"));
        }
        let stalled = before.iter().zip(&after).filter(|(b, a)| a == b).count();
        if stalled > 0 {
            fail(format!(
                "echo1000: {stalled} of {} connections made no round trip in the measured {:.1} s",
                o.conns, o.secs
            ));
        }
        let total: u64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
        let cpu_per_rt = cpu0.zip(cpu1).map(|(c0, c1)| (c1 - c0) / total as f64);
        (total as f64 / elapsed.as_secs_f64(), cpu_per_rt)
    });
    println!("RESULT echo1000 {rps:.0} req/s");
    if let Some(cpu) = cpu_per_rt {
        println!("RESULT echo1000_cpu {:.2} us/rt", cpu * 1e6);
    }
    // Connection tasks may be parked in a read; do not wait for them.
    exit(0)
}

/// CPU time (user + system, all threads) process `pid` has used, in
/// seconds, from `/proc/PID/stat` (clock-tick resolution).
fn cpu_time(pid: u32) -> f64 {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    // The command name (field 2) may hold spaces; the fields after its
    // closing parenthesis start with field 3, so utime (14) and stime (15)
    // are the 12th and 13th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().skip(11).take(2))
        .map(|f| f.filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or_else(|| fail(format!("{path}: cannot parse")));
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / hz.max(1) as f64
}

// ------------------------------------------------------------- idle_rss

/// VmRSS of process `pid`, in bytes.
fn vm_rss(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| fail(format!("{path}: no VmRSS line")))
}

fn idle_rss(port: u16, pid: u32, o: &Opts) {
    raise_nofile_limit();
    let rt = runtime(o.threads);
    let limit = Duration::from_secs(30);
    let (before, after) = rt.block_on(async {
        // A few connections first, so one-off costs of the first accepts
        // (lazy runtime state, buffers) are not charged to the 10k.
        let warm = open_all(port, 10, Some(0), limit).await;
        drop(warm);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = vm_rss(pid);
        // Each connection makes one echo round trip, which proves the server
        // accepted it and its handler reached (and came back to) its read;
        // then all of them stay open and silent.
        let held = open_all(port, o.conns, Some(1), limit).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = vm_rss(pid);
        drop(held);
        (before, after)
    });
    eprintln!(
        "loadgen: server {pid} VmRSS before {before}, with {} idle connections {after}",
        o.conns
    );
    let per_conn = (after as f64 - before as f64) / o.conns as f64;
    println!("RESULT idle_rss {per_conn:.0} bytes/conn");
}

// ----------------------------------------------------------- http-check

/// Opens `conns` connections and keeps them all open while each sends two
/// GETs and checks both replies: status 200, a Content-Length body of
/// exactly "Hello, world!", connection kept alive. wrk does not check
/// replies, and it does not notice connections that never get one, so this
/// runs first: a server that cannot serve all of wrk's connections at once
/// fails here instead of posting a number from a few of them.
fn http_check(port: u16, conns: usize) {
    let all_open = Arc::new(std::sync::Barrier::new(conns));
    let threads: Vec<_> = (0..conns)
        .map(|id| {
            let all_open = all_open.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr(port))
                    .unwrap_or_else(|e| fail(format!("connection {id}: connect: {e}")));
                s.set_read_timeout(Some(IO_TIMEOUT))
                    .unwrap_or_else(|e| fail(format!("timeout: {e}")));
                all_open.wait();
                let req = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
                let mut pending: Vec<u8> = Vec::new();
                for n in 1..=2 {
                    let ctx =
                        |e: String| -> ! { fail(format!("connection {id}, request {n}: {e}")) };
                    s.write_all(req.as_bytes())
                        .unwrap_or_else(|e| ctx(format!("write: {e}")));
                    let body = read_response(&mut s, &mut pending).unwrap_or_else(|e| ctx(e));
                    if body != b"Hello, world!" {
                        ctx(format!("body {:?}", String::from_utf8_lossy(&body)));
                    }
                }
                s // keep it open until every connection is done
            })
        })
        .collect();
    let open: Vec<TcpStream> = threads
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap_or_else(|_| fail("check thread panicked".into()))
        })
        .collect();
    drop(open);
    eprintln!("loadgen: http-check passed on {conns} concurrent connections");
}

fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> Result<Vec<u8>, String> {
    let mut chunk = [0u8; 4096];
    let mut fill = |pending: &mut Vec<u8>| -> Result<(), String> {
        match s.read(&mut chunk) {
            Ok(0) => Err("connection closed by the server".into()),
            Ok(n) => {
                pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!("no reply within {IO_TIMEOUT:?}"))
            }
            Err(e) => Err(format!("read: {e}")),
        }
    };
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        fill(pending)?;
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("status line {status:?}"));
    }
    let mut len = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(format!("header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            len = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            return Err("server asked to close the connection".into());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("unexpected Transfer-Encoding {value:?}"));
        }
    }
    let len = len.ok_or("no Content-Length")?;
    let body_start = head_end + 4;
    while pending.len() < body_start + len {
        fill(pending)?;
    }
    let body = pending[body_start..body_start + len].to_vec();
    pending.drain(..body_start + len);
    Ok(body)
}

// ----------------------------------------------------------------- main

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        fail("usage: loadgen echo1|echo1000|http-check PORT [opts] | loadgen idle_rss PORT PID [opts]".into())
    };
    let (Some(cmd), Some(port)) = (args.get(1), args.get(2)) else {
        usage()
    };
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| fail(format!("bad port {port:?}")));
    match cmd.as_str() {
        "echo1" if args.len() == 3 => echo1(port),
        "echo1000" => echo1000(port, &parse_opts(&args[3..], 1000)),
        "http-check" => http_check(port, parse_opts(&args[3..], 1).conns),
        "idle_rss" if args.len() >= 4 => {
            let pid = args[3]
                .parse()
                .unwrap_or_else(|_| fail(format!("bad pid {:?}", args[3])));
            idle_rss(port, pid, &parse_opts(&args[4..], 10_000))
        }
        _ => usage(),
    }
}
