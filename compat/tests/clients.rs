//! Blocking client crates whose waits cannot become parks, unchanged, in
//! 200 coroutines on ONE worker, against real servers that each test
//! starts on loopback:
//!
//! - `postgres`, the sync client, drives a private tokio runtime: its
//!   calls wait in that runtime's `epoll_wait`;
//! - an `r2d2` pool of four `postgres` connections: a checkout waits on
//!   parking_lot's condition variable (a futex);
//! - `reqwest::blocking`: the caller waits on a channel from reqwest's own
//!   runtime thread (a futex);
//! - one `memcache::Client` shared by every coroutine: its pool of one
//!   connection makes each caller wait (a futex) while another coroutine,
//!   parked on the socket, holds the connection.
//!
//! Without take-over (`runtime/takeover.rs`) each of these waits holds the
//! worker's only thread: the calls run one at a time, or deadlock until a
//! pool times out. With it they overlap. The bounds asserted are a quarter
//! of the serial time or less; the figures measured are printed.
//!
//! The servers come from Debian's `postgresql` and `memcached` packages
//! (`.ci/run` installs them); the HTTP server is the test's own.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::Runtime;

#[path = "../../tests/common/mod.rs"]
mod common;

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

/// A free loopback port (bound, then let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The uid and gid of the system user `name`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a NUL-terminated name; getpwnam's answer is read at once, on
    // this thread, before any other getpw* call.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    // SAFETY: a non-null answer points to a valid passwd record.
    (!pw.is_null()).then(|| unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// A private PostgreSQL cluster on a loopback port, in a temporary
/// directory; stopped and removed on drop.
struct Postgres {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// The directory of Debian's PostgreSQL programs (the newest version).
    fn bin_dir() -> PathBuf {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        dirs.pop()
            .expect("this test needs PostgreSQL (apt-get install postgresql)")
    }

    fn start() -> Postgres {
        let bin = Self::bin_dir();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "weft-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        // PostgreSQL refuses to run as root: as root, run it as the
        // `postgres` user that Debian's package creates.
        // SAFETY: geteuid cannot fail.
        let ids = if unsafe { libc::geteuid() } == 0 {
            let ids = user_ids("postgres").expect("no `postgres` user to run PostgreSQL as");
            std::os::unix::fs::chown(&dir, Some(ids.0), Some(ids.1)).unwrap();
            Some(ids)
        } else {
            None
        };
        let command = |program: &str| {
            let mut c = Command::new(bin.join(program));
            if let Some((uid, gid)) = ids {
                std::os::unix::process::CommandExt::uid(&mut c, uid);
                std::os::unix::process::CommandExt::gid(&mut c, gid);
            }
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c
        };
        let data = dir.join("data");
        let status = command("initdb")
            .args(["-U", "weft", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .arg("-D")
            .arg(&data)
            .status()
            .expect("initdb");
        assert!(status.success(), "initdb failed");
        let port = free_port();
        let child = command("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=250"])
            .spawn()
            .expect("postgres");
        let pg = Postgres { child, dir, port };
        pg.wait_ready();
        pg
    }

    fn config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=weft dbname=postgres",
            self.port
        )
    }

    /// Waits until the server answers a query.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = postgres::Client::connect(&self.config(), postgres::NoTls) {
                if c.simple_query("SELECT 1").is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Prints a measured figure beside the test's name.
fn report(what: &str, took: Duration, serial: Duration) {
    eprintln!("{what}: {took:.2?} (one at a time: {serial:?})");
}

#[test]
fn postgres_queries_of_100_ms_each_overlap_on_one_worker() {
    let pg = Postgres::start();
    let config = pg.config();
    let rt = one_worker();
    let n = 200;
    let (got, took) = rt.run(move || {
        // Connect first (each client starts its own tokio runtime), then
        // time the queries alone.
        let connects: Vec<_> = (0..n)
            .map(|_| {
                let config = config.clone();
                weft::go(move || postgres::Client::connect(&config, postgres::NoTls).unwrap())
            })
            .collect();
        let clients: Vec<postgres::Client> =
            connects.into_iter().map(|h| h.join().unwrap()).collect();
        let start = Instant::now();
        let queries: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                weft::go(move || {
                    let row = client
                        .query_one("SELECT $1::int4 FROM pg_sleep(0.1)", &[&(i as i32)])
                        .unwrap();
                    row.get::<_, i32>(0)
                })
            })
            .collect();
        let got: Vec<i32> = queries.into_iter().map(|h| h.join().unwrap()).collect();
        (got, start.elapsed())
    });
    assert_eq!(got, (0..n as i32).collect::<Vec<_>>());
    let serial = Duration::from_millis(100) * n;
    report("200 postgres pg_sleep(0.1) queries", took, serial);
    assert!(took < serial / 4, "{n} queries of 100 ms took {took:?}");
}

#[test]
fn an_r2d2_pool_of_four_serves_200_coroutines_on_one_worker() {
    let pg = Postgres::start();
    let manager = r2d2_postgres::PostgresConnectionManager::new(
        pg.config().parse().unwrap(),
        postgres::NoTls,
    );
    let rt = one_worker();
    let n = 200;
    let each = Duration::from_millis(10);
    let (got, took) = rt.run(move || {
        let pool = r2d2::Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .unwrap();
        let start = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let pool = pool.clone();
                weft::go(move || {
                    // Waits on the pool's condition variable while the
                    // four connections are out, their holders parked or
                    // blocked in their queries on the same worker.
                    let mut conn = pool.get().unwrap();
                    let row = conn
                        .query_one("SELECT $1::int4 FROM pg_sleep(0.01)", &[&(i as i32)])
                        .unwrap();
                    row.get::<_, i32>(0)
                })
            })
            .collect();
        let got: Vec<i32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        (got, start.elapsed())
    });
    assert_eq!(got, (0..n as i32).collect::<Vec<_>>());
    // Four at a time is the pool's own limit: 200 x 10 ms / 4 = 0.5 s.
    let floor = each * n / 4;
    report("r2d2 pool of 4, 200 checkouts of 10 ms", took, each * n);
    assert!(
        took < floor * 10,
        "200 checkouts of 10 ms through a pool of 4 took {took:?} (floor {floor:?})"
    );
}

/// An HTTP server, on a runtime of its own, that answers `GET /n` with `n`
/// after 100 ms.
fn slow_http_server() -> (Runtime, u16) {
    use std::io::{BufRead, BufReader, Write};
    let server = Runtime::builder().workers(2).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    server.spawn(move || loop {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        weft::go(move || {
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut out = s;
            loop {
                let mut request = String::new();
                if reader.read_line(&mut request).unwrap_or(0) == 0 {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let n = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = n.trim_start_matches('/');
                weft::sleep(Duration::from_millis(100));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if out.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            }
        });
    });
    (server, port)
}

#[test]
fn reqwest_blocking_requests_of_100_ms_each_overlap_on_one_worker() {
    common::net::raise_fd_limit();
    let (_server, port) = slow_http_server();
    let rt = one_worker();
    let n = 200;
    let (got, took) = rt.run(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let start = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let client = client.clone();
                weft::go(move || {
                    client
                        .get(format!("http://127.0.0.1:{port}/{i}"))
                        .send()
                        .unwrap()
                        .text()
                        .unwrap()
                })
            })
            .collect();
        let got: Vec<String> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        (got, start.elapsed())
    });
    let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    let serial = Duration::from_millis(100) * n;
    report("200 reqwest::blocking requests of 100 ms", took, serial);
    assert!(took < serial / 4, "{n} requests of 100 ms took {took:?}");
}

/// A memcached on a loopback port; stopped on drop.
struct Memcached {
    child: Child,
    port: u16,
}

impl Memcached {
    fn start() -> Memcached {
        let port = free_port();
        let mut c = Command::new("memcached");
        c.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]);
        // memcached refuses to run as root unless told which user to be.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            c.args(["-u", "root"]);
        }
        let child = c
            .stdout(Stdio::null())
            .spawn()
            .expect("this test needs memcached (apt-get install memcached)");
        wait_for_port(port, "memcached");
        Memcached { child, port }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn one_memcache_client_is_shared_by_200_coroutines_on_one_worker() {
    let mc = Memcached::start();
    let url = format!(
        "memcache://127.0.0.1:{}?timeout=30&tcp_nodelay=true",
        mc.port
    );
    let rt = one_worker();
    let n = 200;
    let pause = Duration::from_millis(100);
    let (got, took) = rt.run(move || {
        // One connection (the client's pool of one), shared: a coroutine
        // that holds it parks on its socket while others wait for it.
        let client = Arc::new(memcache::Client::connect(url.as_str()).unwrap());
        let start = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let client = client.clone();
                weft::go(move || {
                    let key = format!("weft:{i}");
                    client.set(&key, i * 3, 0).unwrap();
                    weft::sleep(pause);
                    client.get::<u32>(&key).unwrap()
                })
            })
            .collect();
        let got: Vec<Option<u32>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        (got, start.elapsed())
    });
    let want: Vec<Option<u32>> = (0..n).map(|i| Some(i * 3)).collect();
    assert_eq!(got, want);
    let serial = pause * n;
    report("200 coroutines sharing one memcache::Client", took, serial);
    assert!(took < serial / 4, "{n} coroutines took {took:?}");
}
