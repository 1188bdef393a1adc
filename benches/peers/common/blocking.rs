//! Blocking `std::net` servers shared, as source, by the weft peer (each
//! connection in a `weft::go` coroutine) and the threads peer (each
//! connection on its own OS thread): the two peers run literally the same
//! connection code, only the spawn differs. Included with `#[path]`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};

/// Read buffer of one echo connection (the Go and tokio echo servers use
/// the same size).
pub const ECHO_BUF: usize = 1024;
/// Request buffer of one HTTP connection: a request head must fit in it.
pub const HTTP_BUF: usize = 4096;
/// The whole reply to every HTTP request.
pub const HTTP_REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";

/// Raises this process's soft open-file limit to the hard limit: the
/// idle_rss workload holds 10,000 sockets.
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Binds 127.0.0.1:`port` (the harness picks the port).
pub fn listen(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// Accepts connections forever, handing each to `on_conn`.
pub fn serve(listener: TcpListener, mut on_conn: impl FnMut(TcpStream)) -> ! {
    loop {
        match listener.accept() {
            Ok((stream, _)) => on_conn(stream),
            // Out of descriptors or a connection reset before we took it:
            // say so and keep serving.
            Err(e) => {
                eprintln!("accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

/// Echoes everything the peer sends until it closes the connection.
pub fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; ECHO_BUF];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Minimal HTTP/1.1 keep-alive server for one connection: every request
/// head (up to the blank line) gets the same 200 reply. Request bodies are
/// not supported (the load is GETs from wrk). Pipelined requests that arrive
/// in one read are answered with one write.
pub fn http(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; HTTP_BUF];
    let mut filled = 0;
    let mut out = Vec::with_capacity(HTTP_REPLY.len());
    loop {
        if filled == buf.len() {
            return; // a request head larger than the buffer: give up on it
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let mut start = 0;
        let mut close = false;
        while let Some(end) = find_head_end(&buf[start..filled]) {
            close = wants_close(&buf[start..start + end]);
            out.extend_from_slice(HTTP_REPLY);
            start += end + 4;
            if close {
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// Offset of the "\r\n\r\n" that ends a request head, if it has arrived.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Whether the client asked to close after this request: HTTP/1.0 (we
/// never announce keep-alive) or a `Connection: close` header.
fn wants_close(head: &[u8]) -> bool {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    if lines.next().is_some_and(|l| l.ends_with(b"HTTP/1.0")) {
        return true;
    }
    lines.any(|line| {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        line[..colon].eq_ignore_ascii_case(b"connection")
            && line[colon + 1..]
                .trim_ascii()
                .eq_ignore_ascii_case(b"close")
    })
}

/// Port from argv[2] of `<peer> <server-kind> PORT`.
pub fn port_arg(args: &[String]) -> Option<u16> {
    args.get(2).and_then(|p| p.parse().ok())
}
