//! may_minihttp peer for weft's comparison harness (http workload only):
//! `may-peer http-server PORT` answers every request on 127.0.0.1:PORT with
//! "Hello, world!" until killed, on 2 may workers.

use std::io;
use std::process::exit;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.body("Hello, world!");
        Ok(())
    }
}

fn fail(msg: String) -> ! {
    eprintln!("may-peer: {msg}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = match (args.get(1).map(String::as_str), args.len()) {
        (Some("http-server"), 3) => args[2]
            .parse()
            .unwrap_or_else(|_| fail(format!("bad port {:?}", args[2]))),
        _ => fail("usage: may-peer http-server PORT".into()),
    };
    may::config().set_workers(2);
    let server = HttpServer(Hello)
        .start(("127.0.0.1", port))
        .unwrap_or_else(|e| fail(format!("start: {e}")));
    server
        .join()
        .unwrap_or_else(|_| fail("server coroutine panicked".into()));
}
