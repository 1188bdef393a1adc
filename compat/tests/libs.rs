//! Real blocking client crates, unchanged, inside coroutines: ureq against
//! a small HTTP server of the test's own, and the redis crate against a
//! real redis-server (Debian's `redis-server` package) that the test
//! starts on loopback.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::net::raise_fd_limit;

/// A small HTTP/1.1 server in blocking std::net style, one coroutine per
/// connection, answering `GET /n` with `n` doubled.
fn http_server(rt: &weft::Runtime) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(move || loop {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        weft::go(move || serve_http(s));
    });
    port
}

fn serve_http(s: TcpStream) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut out = s;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 2 {
            line.clear();
        }
        let n: u64 = request_line
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.trim_start_matches('/').parse().ok())
            .unwrap_or(0);
        let body = (n * 2).to_string();
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn ureq_makes_a_thousand_concurrent_requests_from_coroutines() {
    raise_fd_limit();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let port = http_server(&rt);
    let sum = rt.run(move || {
        let agent = ureq::AgentBuilder::new().max_idle_connections(0).build();
        let hs: Vec<_> = (0..1000u64)
            .map(|i| {
                let agent = agent.clone();
                weft::go(move || {
                    let body = agent
                        .get(&format!("http://127.0.0.1:{port}/{i}"))
                        .call()
                        .unwrap()
                        .into_string()
                        .unwrap();
                    assert_eq!(body, (i * 2).to_string());
                    i * 2
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, (0..1000u64).map(|i| i * 2).sum());
}

/// A redis-server on a free loopback port, stopped on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("this test needs redis-server on PATH (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut pong = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut pong).is_ok()
                    && &pong == b"+PONG\r\n"
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_sync_client_from_a_thousand_coroutines() {
    raise_fd_limit();
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let total = rt.run(move || {
        let client = redis::Client::open(url).unwrap();
        let hs: Vec<_> = (0..1000i64)
            .map(|i| {
                let client = client.clone();
                weft::go(move || {
                    let mut con = client.get_connection().unwrap();
                    let key = format!("weft:test:{i}");
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(i * 3)
                        .query::<()>(&mut con)
                        .unwrap();
                    let got: i64 = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
                    let n: i64 = redis::cmd("INCR")
                        .arg("weft:test:counter")
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(got, i * 3);
                    assert!(n >= 1);
                    got
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<i64>()
    });
    assert_eq!(total, (0..1000i64).map(|i| i * 3).sum());
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let counter: i64 = redis::cmd("GET")
        .arg("weft:test:counter")
        .query(&mut con)
        .unwrap();
    assert_eq!(counter, 1000);
}
