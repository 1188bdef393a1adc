//! `poll(2)` called directly from coroutines.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

#[test]
fn poll_parks_until_one_of_several_sockets_is_readable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (ready, which) = rt.run(move || {
        let a = TcpStream::connect(addr).unwrap();
        let b = TcpStream::connect(addr).unwrap();
        let _sa = listener.accept().unwrap().0;
        let mut sb = listener.accept().unwrap().0;
        let writer = weft::go(move || {
            weft::sleep(Duration::from_millis(50));
            sb.write_all(b"!").unwrap();
            sb
        });
        let mut fds = [
            pollfd(a.as_raw_fd(), libc::POLLIN),
            pollfd(b.as_raw_fd(), libc::POLLIN),
        ];
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 5000) };
        drop(writer.join().unwrap());
        (n, [fds[0].revents, fds[1].revents])
    });
    assert_eq!(ready, 1);
    assert_eq!(which[0], 0);
    assert!(which[1] & libc::POLLIN != 0);
}

#[test]
fn poll_timeout_expires_and_other_coroutines_run_meanwhile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (n, waited, other) = rt.run(move || {
        let a = TcpStream::connect(addr).unwrap();
        let other = weft::go(|| {
            weft::sleep(Duration::from_millis(10));
            Instant::now()
        });
        let mut fds = [pollfd(a.as_raw_fd(), libc::POLLIN)];
        let t = Instant::now();
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 150) };
        let waited = t.elapsed();
        let other_done = other.join().unwrap();
        (n, waited, other_done.duration_since(t))
    });
    assert_eq!(n, 0);
    assert!(waited >= Duration::from_millis(140), "{waited:?}");
    assert!(
        other < Duration::from_millis(140),
        "the other coroutine ran during the poll"
    );
    drop(listener);
}

#[test]
fn poll_reports_writable_at_once_and_works_on_plain_threads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let a = TcpStream::connect(addr).unwrap();
    let fd = a.as_raw_fd();
    let n = weft::go(move || {
        let mut fds = [pollfd(fd, libc::POLLOUT)];
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, 1000) }
    })
    .join()
    .unwrap();
    assert_eq!(n, 1);
    let mut fds = [pollfd(fd, libc::POLLIN)];
    // SAFETY: one valid pollfd; a plain thread, so the real poll.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 30) };
    assert_eq!(n, 0);
    drop((a, listener));
}
