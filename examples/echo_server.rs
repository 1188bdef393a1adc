//! A TCP echo server: one coroutine per connection, written as plain blocking
//! `std::net` code.
//!
//! ```sh
//! cargo run --release --example echo_server          # listens on 127.0.0.1:7000
//! cargo run --release --example echo_server -- 7001  # or on another port
//! ```
//!
//! Then, from another terminal, type a few lines into `nc 127.0.0.1 7000`:
//! each comes back as you send it. Open as many connections as you like;
//! Ctrl-C stops the server.
//!
//! `accept`, `read` and `write` look blocking, and inside a coroutine they
//! are: they *park the coroutine* until the socket is ready, while the worker
//! threads run the other connections. No `async`, no special socket types.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

fn main() -> ExitCode {
    let port = match std::env::args().nth(1) {
        None => 7000,
        Some(arg) => match arg.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("usage: echo_server [PORT]  (a port number, not {arg:?})");
                return ExitCode::from(2);
            }
        },
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("echo_server: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("echo server on 127.0.0.1:{port}; try `nc 127.0.0.1 {port}`");

    weft::run(move || {
        for stream in listener.incoming() {
            match stream {
                // One coroutine per connection, like `go echo(conn)` in Go.
                // The handle is not kept: the coroutine runs on by itself.
                Ok(stream) => {
                    weft::go(move || echo(stream));
                }
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
    });
    ExitCode::SUCCESS
}

/// Sends every byte back until the client hangs up.
fn echo(mut stream: TcpStream) {
    let peer = match stream.peer_addr() {
        Ok(addr) => addr.to_string(),
        Err(_) => "?".to_string(),
    };
    println!("{peer} connected");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break, // end of stream, or the connection broke
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    println!("{peer} disconnected");
}
