//! Plain-threads peer for weft's comparison harness: the same blocking
//! `std::net` connection code as the weft peer (../common/blocking.rs), but
//! each connection gets its own OS thread. Serves on 127.0.0.1:PORT until
//! killed: `threads-peer echo-server|http-server PORT`.

#[path = "../../common/blocking.rs"]
mod blocking;

use std::net::TcpStream;
use std::process::exit;

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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), blocking::port_arg(&args)) {
        (Some("echo-server"), Some(port)) if args.len() == 3 => serve(port, blocking::echo),
        (Some("http-server"), Some(port)) if args.len() == 3 => serve(port, blocking::http),
        _ => fail("usage: threads-peer echo-server|http-server PORT".into()),
    }
}
