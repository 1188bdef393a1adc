//! Plain-threads peer for weft's comparison harness: the same blocking
//! `std::net` connection code as the weft peer (../common/blocking.rs), but
//! each connection gets its own OS thread. Serves on 127.0.0.1:PORT until
//! killed: `threads-peer echo-server|http-server PORT`.
//! `threads-peer pingpong1|pingpong2` instead runs a channel ping-pong
//! between two OS threads and prints one `RESULT <name> <value> <unit>` line.

#[path = "../../common/blocking.rs"]
mod blocking;

use std::net::TcpStream;
use std::process::exit;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

// pingpong2's counts for both workloads (the other peers run pingpong1 ten
// times as long): every round trip here is two thread wake-ups (~10-25 us on
// a small VM), and the cost per round trip is what the table compares.
const PINGPONG_ROUNDS: u64 = 100_000;
const PINGPONG_WARMUP: u64 = 10_000;

fn fail(msg: String) -> ! {
    eprintln!("threads-peer: {msg}");
    exit(1)
}

fn serve(port: u16, handler: fn(TcpStream)) -> ! {
    blocking::raise_nofile_limit();
    let listener = blocking::listen(port).unwrap_or_else(|e| fail(format!("bind: {e}")));
    blocking::serve(listener, |stream| {
        if let Err(e) = std::thread::Builder::new().spawn(move || handler(stream)) {
            eprintln!("threads-peer: spawn: {e}");
        }
    })
}

/// Thread B of the pair: sends back every number it receives until A drops
/// its sender; returns how many it echoed.
fn echo_back(rx: Receiver<u64>, tx: SyncSender<u64>) -> u64 {
    let mut echoed = 0;
    while let Ok(v) = rx.recv() {
        if tx.send(v).is_err() {
            fail("pingpong: A hung up mid round trip".into());
        }
        echoed += 1;
    }
    echoed
}

/// Thread A's side of round trips `from..to`: send the number, await it back.
fn round_trips(tx: &SyncSender<u64>, rx: &Receiver<u64>, from: u64, to: u64) {
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

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: the set is a plain bit mask we own; sched_setaffinity(0, ..)
    // only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
            fail(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
}

/// The first CPU this process may run on.
fn first_cpu() -> usize {
    // SAFETY: sched_getaffinity(0, ..) writes the set we pass; CPU_ISSET only
    // reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) != 0 {
            fail(format!(
                "sched_getaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
        (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .unwrap_or_else(|| fail("sched_getaffinity: empty CPU set".into()))
    }
}

/// Two OS threads, A and B, over two `sync_channel(0)` (rendezvous)
/// channels: every message is a thread wake-up. With `one_cpu` both threads
/// are pinned to one CPU (pingpong1, the analogue of one worker); otherwise
/// the kernel places them (pingpong2). Returns the timed span.
fn ping_pong(one_cpu: bool) -> Duration {
    let cpu = one_cpu.then(first_cpu);
    let (to_b, from_a) = sync_channel::<u64>(0);
    let (to_a, from_b) = sync_channel::<u64>(0);
    let b = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin_to(cpu);
        }
        echo_back(from_a, to_a)
    });
    let a = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin_to(cpu);
        }
        round_trips(&to_b, &from_b, 0, PINGPONG_WARMUP);
        let start = Instant::now();
        round_trips(
            &to_b,
            &from_b,
            PINGPONG_WARMUP,
            PINGPONG_WARMUP + PINGPONG_ROUNDS,
        );
        start.elapsed()
    });
    let elapsed = a
        .join()
        .unwrap_or_else(|_| fail("pingpong: A panicked".into()));
    let echoed = b
        .join()
        .unwrap_or_else(|_| fail("pingpong: B panicked".into()));
    if echoed != PINGPONG_WARMUP + PINGPONG_ROUNDS {
        fail(format!(
            "pingpong: B echoed {echoed} of {} numbers",
            PINGPONG_WARMUP + PINGPONG_ROUNDS
        ));
    }
    elapsed
}

fn bench_pingpong(name: &str, one_cpu: bool) {
    let elapsed = ping_pong(one_cpu);
    let ns = elapsed.as_nanos() as f64 / PINGPONG_ROUNDS as f64;
    println!("RESULT {name} {ns:.1} ns/rt");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), blocking::port_arg(&args)) {
        (Some("pingpong1"), _) if args.len() == 2 => bench_pingpong("pingpong1", true),
        (Some("pingpong2"), _) if args.len() == 2 => bench_pingpong("pingpong2", false),
        (Some("echo-server"), Some(port)) if args.len() == 3 => serve(port, blocking::echo),
        (Some("http-server"), Some(port)) if args.len() == 3 => serve(port, blocking::http),
        _ => {
            fail("usage: threads-peer pingpong1|pingpong2|echo-server PORT|http-server PORT".into())
        }
    }
}
