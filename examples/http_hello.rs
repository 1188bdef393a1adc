//! "Hello, world!" over HTTP/1.1 with keep-alive: one coroutine per
//! connection, plain blocking `std::net` code, no HTTP library.
//!
//! ```sh
//! cargo run --release --example http_hello           # listens on 127.0.0.1:8080
//! cargo run --release --example http_hello -- 8081   # or on another port
//! curl -i http://127.0.0.1:8080/
//! wrk -t2 -c256 -d5s http://127.0.0.1:8080/          # 256 keep-alive connections
//! ```
//!
//! Each connection reads request heads (everything up to the blank line,
//! `\r\n\r\n`), answers every complete request it has buffered with a single
//! write (so pipelined requests cost one syscall), and waits for the next one
//! until the client closes, asks for `Connection: close`, or stays idle for
//! 60 seconds. A `Content-Length` request body is read and ignored; a chunked
//! one gets `501 Not Implemented`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// The largest request head accepted; a longer one gets status 431.
const MAX_HEAD: usize = 8 * 1024;
/// A keep-alive connection with no request for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let port = match std::env::args().nth(1) {
        None => 8080,
        Some(arg) => match arg.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("usage: http_hello [PORT]  (a port number, not {arg:?})");
                return ExitCode::from(2);
            }
        },
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("http_hello: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving http://127.0.0.1:{port}/ (Ctrl-C stops)");

    weft::run(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    // A broken or timed-out connection just ends its coroutine.
                    weft::go(move || serve(stream).ok());
                }
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
    });
    ExitCode::SUCCESS
}

/// What the server needs to know about one request.
struct Request {
    head_only: bool,
    http10: bool,
    keep_alive: bool,
    body_len: usize,
}

/// Serves one connection: as many requests as the client sends. (Also
/// the weft server of the peer benchmark's `http` workload.)
pub(crate) fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut buf = [0u8; MAX_HEAD];
    let mut len = 0; // bytes of `buf` in use
    let mut skip = 0; // bytes of a request body still to read and ignore
    let mut out = Vec::new(); // responses not yet written
    loop {
        // Answer every complete request in the buffer.
        let mut used = 0;
        let (mut close, mut failed) = (false, false);
        loop {
            let n = skip.min(len - used);
            used += n;
            skip -= n;
            if skip > 0 {
                break;
            }
            let Some(end) = find(&buf[used..len], b"\r\n\r\n") else {
                break;
            };
            let head = &buf[used..used + end];
            used += end + 4;
            match parse(head) {
                Ok(req) => {
                    respond(&mut out, "200 OK", "Hello, world!", &req);
                    skip = req.body_len;
                    close = !req.keep_alive;
                }
                Err(status) => {
                    respond(&mut out, status, status, &Request::bad());
                    (close, failed) = (true, true);
                }
            }
            if close {
                break;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if close {
            if failed {
                linger(stream);
            }
            return Ok(());
        }
        buf.copy_within(used..len, 0);
        len -= used;
        if len == buf.len() && skip == 0 {
            let status = "431 Request Header Fields Too Large";
            respond(&mut out, status, status, &Request::bad());
            stream.write_all(&out)?;
            linger(stream);
            return Ok(());
        }
        // Wait for more bytes: this parks the coroutine, not the thread.
        match stream.read(&mut buf[len..])? {
            0 => return Ok(()),
            n => len += n,
        }
    }
}

/// Closes a connection after an error response without losing it. Closing
/// a socket that still holds unread request bytes makes the kernel reset the
/// connection, and the client may never see the response; so stop writing,
/// read and drop what the client still sends for up to a second, then close.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut sink = [0u8; 4096];
    for _ in 0..64 {
        if let Ok(0) | Err(_) = stream.read(&mut sink) {
            break;
        }
    }
}

impl Request {
    /// How an unparsable request is answered: with a body, then a close.
    fn bad() -> Request {
        Request {
            head_only: false,
            http10: false,
            keep_alive: false,
            body_len: 0,
        }
    }
}

/// Parses a request head (without its final blank line), or returns the
/// error status to answer with.
fn parse(head: &[u8]) -> Result<Request, &'static str> {
    const BAD: &str = "400 Bad Request";
    let head = std::str::from_utf8(head).map_err(|_| BAD)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err("505 HTTP Version Not Supported"),
    };
    let (mut close, mut keep_alive, mut body_len) = (false, false, 0);
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(BAD)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| BAD)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("501 Not Implemented");
        }
    }
    Ok(Request {
        head_only: method == "HEAD",
        http10,
        // HTTP/1.1 keeps the connection unless told otherwise; 1.0 the reverse.
        keep_alive: !close && (keep_alive || !http10),
        body_len,
    })
}

/// Appends a response to `out`.
fn respond(out: &mut Vec<u8>, status: &str, body: &str, req: &Request) {
    let connection = match (req.keep_alive, req.http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    };
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{connection}\r\n",
        body.len()
    );
    if !req.head_only {
        out.extend_from_slice(body.as_bytes());
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
