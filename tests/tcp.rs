//! TCP through the hooks: std::net inside coroutines parks instead of
//! blocking, with kernel semantics preserved.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::net::{echo_client, echo_server, raise_fd_limit};

fn is_nonblocking(fd: i32) -> bool {
    // SAFETY: F_GETFL through the raw syscall, so weft's hook does not
    // translate the answer.
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL, 0) } as i32;
    fl & libc::O_NONBLOCK != 0
}

#[test]
fn ten_thousand_clients_echo_every_byte_on_two_workers() {
    // The server side holds 10,000 sockets in this process; the clients run
    // in a child process (one connection costs an fd on each side, and the
    // limit here is 20,000 per process).
    raise_fd_limit();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let addr = echo_server(&rt);
    let out = common::run_child(
        "child_ten_thousand_clients",
        &[("WEFT_TEST_ADDR", &addr.to_string())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client process failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("verified 10000 clients 12800000 bytes"),
        "{stdout}"
    );
}

#[test]
#[ignore = "client half of ten_thousand_clients_echo_every_byte_on_two_workers"]
fn child_ten_thousand_clients() {
    if !common::is_child() {
        return;
    }
    raise_fd_limit();
    let addr: std::net::SocketAddr = std::env::var("WEFT_TEST_ADDR").unwrap().parse().unwrap();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let connected = Arc::new(AtomicUsize::new(0));
    let c = connected.clone();
    let bytes = rt.run(move || {
        let hs: Vec<_> = (0..10_000u32)
            .map(|i| {
                let c = c.clone();
                weft::go(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    c.fetch_add(1, Ordering::SeqCst);
                    // Hold every connection open at once before talking.
                    while c.load(Ordering::SeqCst) < 10_000 {
                        weft::sleep(Duration::from_millis(5));
                    }
                    let mut verified = 0;
                    let mut back = [0u8; 64];
                    for r in 0..20u32 {
                        let msg = [(i.wrapping_mul(7) + r) as u8; 64];
                        s.write_all(&msg).unwrap();
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg);
                        verified += 64;
                    }
                    verified
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    println!(
        "verified {} clients {bytes} bytes",
        connected.load(Ordering::SeqCst)
    );
}

#[test]
fn two_thousand_connections_in_process() {
    raise_fd_limit();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let addr = echo_server(&rt);
    let bytes = rt.run(move || {
        let hs: Vec<_> = (0..2000u32)
            .map(|i| weft::go(move || echo_client(addr, i, 10, 100)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(bytes, 2000 * 10 * 100);
}

#[test]
fn large_transfers_are_complete_in_both_directions() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let addr = echo_server(&rt);
    // 4 MiB each way through one connection: exercises partial writes and
    // full socket buffers on both sides.
    let n = rt.run(move || echo_client(addr, 9, 4, 1 << 20));
    assert_eq!(n, 4 << 20);
}

#[test]
fn a_socket_made_in_a_coroutine_still_blocks_on_a_plain_thread() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = weft::go(move || TcpStream::connect(addr).unwrap())
        .join()
        .unwrap();
    assert!(
        !is_nonblocking(stream.as_raw_fd()),
        "once connected, its description blocks as the user set it"
    );
    let (mut server_side, _) = listener.accept().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        server_side.write_all(b"late").unwrap();
        server_side
    });
    let mut stream = stream;
    let mut buf = [0u8; 4];
    let t = Instant::now();
    // A plain thread: this must block until the data arrives, not fail with
    // WouldBlock.
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    assert!(t.elapsed() >= Duration::from_millis(90));
    drop(writer.join().unwrap());
}

#[test]
fn a_listener_made_in_a_coroutine_still_blocks_on_a_plain_thread() {
    let listener = weft::go(|| TcpListener::bind("127.0.0.1:0").unwrap())
        .join()
        .unwrap();
    assert!(
        is_nonblocking(listener.as_raw_fd()),
        "weft made it non-blocking underneath"
    );
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        TcpStream::connect(addr).unwrap()
    });
    let t = Instant::now();
    // A plain thread: accept must wait for the client, not fail with
    // WouldBlock.
    let (accepted, _) = listener.accept().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert!(!is_nonblocking(accepted.as_raw_fd()));
    drop(client.join().unwrap());
}

#[test]
fn the_users_nonblocking_flag_gives_would_block_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let r = weft::go(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 8];
        let t = Instant::now();
        let e = (&s).read(&mut buf).unwrap_err();
        (e.kind(), t.elapsed(), s)
    })
    .join()
    .unwrap();
    assert_eq!(r.0, ErrorKind::WouldBlock);
    assert!(r.1 < Duration::from_millis(50));
    // And F_GETFL reports the user's view.
    // SAFETY: F_GETFL on an open fd.
    let fl = unsafe { libc::fcntl(r.2.as_raw_fd(), libc::F_GETFL) };
    assert!(fl & libc::O_NONBLOCK != 0);
    r.2.set_nonblocking(false).unwrap();
    // SAFETY: as above.
    let fl = unsafe { libc::fcntl(r.2.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(
        fl & libc::O_NONBLOCK,
        0,
        "the user sees a blocking socket again"
    );
    drop(listener);
}

#[test]
fn read_timeout_expires_at_its_deadline_while_others_run() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t2, s2) = (ticks.clone(), stop.clone());
    // A coroutine on the same single worker that keeps ticking.
    let ticker = rt.spawn(move || {
        while !s2.load(Ordering::SeqCst) {
            t2.fetch_add(1, Ordering::SeqCst);
            weft::sleep(Duration::from_millis(5));
        }
    });
    let (kind, waited) = rt.run(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let t = Instant::now();
        let e = s.read(&mut [0u8; 8]).unwrap_err();
        (e.kind(), t.elapsed())
    });
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    assert!(
        matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{kind:?}"
    );
    assert!(
        waited >= Duration::from_millis(190),
        "timed out early: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "timed out late: {waited:?}"
    );
    assert!(
        ticks.load(Ordering::SeqCst) >= 10,
        "the worker ran others meanwhile"
    );
    drop(listener);
}

#[test]
fn write_timeout_expires_when_the_peer_does_not_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (kind, sent) = weft::go(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let chunk = vec![0u8; 1 << 16];
        let mut sent = 0usize;
        loop {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => return (e.kind(), sent),
            }
        }
    })
    .join()
    .unwrap();
    assert!(
        matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{kind:?}"
    );
    assert!(sent > 0);
    drop(listener);
}

#[test]
fn close_wakes_a_parked_reader_with_an_error_at_once() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = rt.run(move || TcpStream::connect(addr).unwrap().into_raw_fd());
    let parked = Arc::new(AtomicBool::new(false));
    let p = parked.clone();
    let reader = rt.spawn(move || {
        p.store(true, Ordering::SeqCst);
        let mut buf = [0u8; 8];
        // SAFETY: reads into a local buffer; the fd is closed by the test.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        (
            n,
            std::io::Error::last_os_error().raw_os_error(),
            Instant::now(),
        )
    });
    while !parked.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(50)); // let it reach epoll
    let closed_at = Instant::now();
    // SAFETY: the fd belongs to this test.
    assert_eq!(unsafe { libc::close(fd) }, 0);
    let (n, errno, woke) = reader.join().unwrap();
    assert_eq!(n, -1);
    assert_eq!(errno, Some(libc::EBADF));
    assert!(woke.duration_since(closed_at) < Duration::from_millis(500));
    drop(listener);
}

#[test]
fn a_reused_fd_number_gets_no_stale_wake_up() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let outcome = rt.run(move || {
        // An fd that gets registered with the poller, then closed.
        let a = TcpStream::connect(addr).unwrap();
        let (mut a_peer, _) = listener.accept().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let _ = (&a).read(&mut [0u8; 1]); // registers and times out
        let old = a.into_raw_fd();
        // SAFETY: our fd.
        unsafe { libc::close(old) };
        // A new socket, very likely with the same number.
        let b = TcpStream::connect(addr).unwrap();
        let (mut b_peer, _) = listener.accept().unwrap();
        let same = b.as_raw_fd() == old;
        // Traffic on the old connection's peer must not wake b's reader.
        let _ = a_peer.write_all(b"noise");
        b.set_read_timeout(Some(Duration::from_millis(150)))
            .unwrap();
        let t = Instant::now();
        let first = (&b).read(&mut [0u8; 8]).map_err(|e| e.kind());
        let waited = t.elapsed();
        b_peer.write_all(b"real").unwrap();
        let mut buf = [0u8; 4];
        (&b).read_exact(&mut buf).unwrap();
        (same, first, waited, buf)
    });
    let (same, first, waited, buf) = outcome;
    assert!(
        matches!(first, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "{first:?} (same fd: {same})"
    );
    assert!(waited >= Duration::from_millis(140));
    assert_eq!(&buf, b"real");
}

#[test]
fn shutdown_of_the_peer_wakes_a_reader_with_eof() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let n = rt.run(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        let closer = weft::go(move || {
            weft::sleep(Duration::from_millis(30));
            s.shutdown(Shutdown::Write).unwrap();
            s
        });
        let n = c.read(&mut [0u8; 8]).unwrap();
        drop(closer.join().unwrap());
        n
    });
    assert_eq!(n, 0);
}

#[test]
fn errors_keep_their_errno() {
    // ECONNREFUSED: nobody listens on a port we just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = weft::go(move || TcpStream::connect(("127.0.0.1", port)).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // EPIPE / ECONNRESET: write to a connection the peer has closed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let e = weft::go(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        drop(s);
        weft::sleep(Duration::from_millis(20));
        let chunk = [0u8; 4096];
        loop {
            if let Err(e) = c.write_all(&chunk) {
                return e;
            }
            weft::sleep(Duration::from_millis(1));
        }
    })
    .join()
    .unwrap();
    assert!(
        matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{e:?}"
    );
}

#[test]
fn connect_timeout_and_peek_work_in_coroutines() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peeked = weft::go(move || {
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"peekaboo").unwrap();
        let mut buf = [0u8; 4];
        let n = c.peek(&mut buf).unwrap();
        let mut all = [0u8; 8];
        (&c).read_exact(&mut all).unwrap();
        (n, buf, all)
    })
    .join()
    .unwrap();
    assert_eq!(peeked.0, 4);
    assert_eq!(&peeked.1, b"peek");
    assert_eq!(&peeked.2, b"peekaboo");
}

#[test]
fn resolving_localhost_from_many_coroutines_does_not_stall_workers() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let addr = echo_server(&rt);
    let port = addr.port();
    let n = rt.run(move || {
        let hs: Vec<_> = (0..200u32)
            .map(|i| {
                weft::go(move || {
                    let mut s = TcpStream::connect(("localhost", port)).unwrap();
                    s.write_all(&[i as u8; 16]).unwrap();
                    let mut b = [0u8; 16];
                    s.read_exact(&mut b).unwrap();
                    assert_eq!(b, [i as u8; 16]);
                    1
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(n, 200);
}

#[test]
fn regular_files_and_stdio_pass_through() {
    let path = std::env::temp_dir().join(format!("weft-file-{}", std::process::id()));
    std::fs::write(&path, b"file contents").unwrap();
    let p = path.clone();
    let (text, file_nb, stdout_nb) = weft::go(move || {
        let f = std::fs::File::open(&p).unwrap();
        let mut s = String::new();
        (&f).read_to_string(&mut s).unwrap();
        println!("a line from a coroutine");
        (s, is_nonblocking(f.as_raw_fd()), is_nonblocking(1))
    })
    .join()
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text, "file contents");
    assert!(!file_nb, "weft never makes a regular file non-blocking");
    assert!(!stdout_nb, "weft never makes inherited stdio non-blocking");
}

#[test]
fn a_socket_from_a_plain_thread_parks_in_a_coroutine() {
    // Created outside any coroutine, then used inside one: classified on
    // first use, made non-blocking, parks.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let reader = rt.spawn(move || {
        let mut c = client;
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        b
    });
    // The single worker is free while the reader waits.
    assert_eq!(rt.run(|| 7), 7);
    server.write_all(b"hello").unwrap();
    assert_eq!(&reader.join().unwrap(), b"hello");
}

#[test]
fn raw_fd_round_trip_keeps_working() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    weft::go(move || {
        let c = TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        // dup the client; both numbers work and close independently.
        let dup = c.try_clone().unwrap();
        drop(c);
        s.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        (&dup).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
        // SAFETY: the fd is owned by `dup`; round-trip it.
        let again = unsafe { TcpStream::from_raw_fd(dup.into_raw_fd()) };
        s.write_all(b"y").unwrap();
        (&again).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"y");
    })
    .join()
    .unwrap();
}

#[test]
fn recv_with_waitall_fills_the_buffer_as_blocking_recv_does() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let got = rt.run(move || {
        let c = TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        let writer = weft::go(move || {
            for part in [b"abc", b"def", b"ghi"] {
                s.write_all(part).unwrap();
                weft::sleep(Duration::from_millis(20));
            }
            s
        });
        let mut buf = [0u8; 9];
        // SAFETY: a valid buffer of 9 bytes.
        let n = unsafe { libc::recv(c.as_raw_fd(), buf.as_mut_ptr().cast(), 9, libc::MSG_WAITALL) };
        drop(writer.join().unwrap());
        (n, buf)
    });
    assert_eq!(got.0, 9);
    assert_eq!(&got.1, b"abcdefghi");
}

#[test]
fn eof_right_after_a_short_read_is_seen() {
    // The reply and the FIN arrive together: the read that takes the reply
    // is short, and the next must still see EOF (not wait for another edge).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (first, second) = rt.run(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        weft::go(move || {
            weft::sleep(Duration::from_millis(20));
            s.write_all(b"bye").unwrap();
        });
        let mut buf = [0u8; 64];
        let first = c.read(&mut buf).unwrap();
        let second = c.read(&mut buf).unwrap();
        (first, second)
    });
    assert_eq!((first, second), (3, 0));
}
