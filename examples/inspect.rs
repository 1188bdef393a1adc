//! A small server to look inside: `cargo run --example inspect`, then poke
//! it.
//!
//! - `kill -USR1 <pid>` prints a dump of every coroutine on stderr (the
//!   example sets `WEFT_DUMP_SIGNAL=SIGUSR1` for itself);
//! - `curl localhost:7070/dump` (or `/dump.json`, `/metrics`) answers with
//!   the same from inside a coroutine;
//! - `nc localhost 7070` opens a connection whose coroutine then waits in a
//!   socket read, with both addresses in the dump.
//!
//! It also keeps a few coroutines in the states a dump tells apart: one
//! sleeps while holding a lock, one waits for that lock, one waits on a
//! channel, one joins it, one blocks its thread in a std channel.
//! `--once` prints a dump and the metrics and exits (the README's sample).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use weft::sync::Mutex;
use weft::Builder;

fn main() -> std::io::Result<()> {
    // Before the runtime starts: it reads the variable once.
    std::env::set_var("WEFT_DUMP_SIGNAL", "SIGUSR1");
    let once = std::env::args().any(|a| a == "--once");
    let listener = TcpListener::bind("127.0.0.1:7070")?;

    let config = Arc::new(Mutex::new("v1".to_owned()));
    let c = config.clone();
    Builder::new().name("reloader").spawn(move || loop {
        let _cfg = c.lock(); // held across the sleep
        weft::sleep(Duration::from_secs(5));
    })?;
    // The reloader takes the lock first; the reader then waits for it.
    std::thread::sleep(Duration::from_millis(50));
    let c = config.clone();
    Builder::new()
        .name("reader-of-config")
        .spawn(move || loop {
            let cfg = c.lock().clone();
            weft::sleep(Duration::from_millis(100 + cfg.len() as u64));
        })?;
    let (jobs, queue) = weft::channel::bounded::<u32>(0);
    let consumer = Builder::new()
        .name("consumer")
        .spawn(move || queue.iter().count())?;
    Builder::new()
        .name("supervisor")
        .spawn(move || consumer.join().map(|n| println!("consumed {n}")))?;
    let (_keep, legacy) = std::sync::mpsc::channel::<()>();
    Builder::new()
        .name("legacy-client")
        .spawn(move || legacy.recv().ok())?;

    Builder::new().name("acceptor").spawn(move || {
        for conn in listener.incoming().flatten() {
            let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            Builder::new()
                .name(format!("conn {peer}"))
                .spawn(move || serve(conn))
                .expect("spawn");
        }
    })?;

    if once {
        // A connection that sends nothing: its coroutine waits in `read`.
        let _idle = TcpStream::connect("127.0.0.1:7070")?;
        std::thread::sleep(Duration::from_millis(300));
        print!("{}", weft::dump());
        println!("\n{:#?}", weft::metrics());
        drop(jobs);
        return Ok(());
    }
    eprintln!(
        "pid {}: try `kill -USR1 {}` or `curl localhost:7070/dump`",
        std::process::id(),
        std::process::id()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        let _ = jobs.try_send(1);
    }
}

/// One connection: `GET /dump`, `/dump.json` or `/metrics` gets an answer;
/// anything else is read line by line until the peer closes.
fn serve(conn: TcpStream) {
    let mut lines = BufReader::new(conn.try_clone().expect("clone"));
    let mut first = String::new();
    if lines.read_line(&mut first).is_err() {
        return;
    }
    let body = match first.split_whitespace().nth(1) {
        Some("/dump") => weft::dump().to_string(),
        Some("/dump.json") => weft::dump().to_json(),
        Some("/metrics") => format!("{:#?}\n", weft::metrics()),
        _ => {
            for line in lines.lines() {
                if line.is_err() {
                    break;
                }
            }
            return;
        }
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
