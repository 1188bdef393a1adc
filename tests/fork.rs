//! A forked child is outside weft: its hooks are libc's, it runs none of
//! the parent's coroutines, no lock of the parent's can hold it, and what it
//! does to its fds leaves the parent's pollers alone. Every child is waited
//! for with a time limit and killed past it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Exited(i32),
    Signalled(i32),
    /// Still running at the time limit (it was killed).
    Hung,
}

/// Waits for `pid` at most `limit`; kills it past that.
fn wait_child(pid: libc::pid_t, limit: Duration) -> End {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(rc >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if rc == pid {
            return if libc::WIFEXITED(status) {
                End::Exited(libc::WEXITSTATUS(status))
            } else {
                End::Signalled(libc::WTERMSIG(status))
            };
        }
        if Instant::now() >= deadline {
            // SAFETY: our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return End::Hung;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `fork()`, asserting it worked.
fn fork() -> libc::pid_t {
    // SAFETY: the children below call only async-signal-safe functions
    // (close, nanosleep, clock_gettime, getpid, _exit) and weft's hooks.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    pid
}

/// A connected pair of TCP sockets on 127.0.0.1: (client, server side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn a_childs_close_leaves_the_parents_parked_reader_working() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (mut client, mut server) = tcp_pair();
    let fd = server.as_raw_fd();
    let (tx, rx) = mpsc::channel();
    let reader = rt.spawn(move || {
        let mut buf = [0u8; 8];
        for _ in 0..2 {
            let n = server.read(&mut buf).unwrap();
            tx.send(buf[..n].to_vec()).unwrap();
        }
    });
    // The first byte arrives after the reader registered the socket with
    // its worker's poller and parked: from here on it reads by that
    // registration.
    client.write_all(b"a").unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), b"a");

    let pid = fork();
    if pid == 0 {
        // SAFETY: the child closes its copy of the fd and leaves.
        unsafe {
            libc::close(fd);
            libc::_exit(0);
        }
    }
    assert_eq!(wait_child(pid, Duration::from_secs(5)), End::Exited(0));

    client.write_all(b"b").unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5));
    assert_eq!(
        got.as_deref(),
        Ok(&b"b"[..]),
        "the parent's reader was not woken after the child closed its copy"
    );
    reader.join().unwrap();
}

#[test]
fn children_forked_under_load_never_hang_in_close() {
    const FORKS: usize = 1000;
    let rt = weft::Runtime::builder().workers(4).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fds = Vec::new();
    // Ping-pong pairs keep every worker's poller and its lock busy.
    let mut handles = Vec::new();
    for _ in 0..32 {
        let mut c = TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        fds.push(c.as_raw_fd());
        fds.push(s.as_raw_fd());
        handles.push(rt.spawn(move || {
            let mut b = [0u8; 1];
            while s.read_exact(&mut b).is_ok() && s.write_all(&b).is_ok() {}
        }));
        let stop = stop.clone();
        handles.push(rt.spawn(move || {
            let mut b = [7u8; 1];
            while !stop.load(Ordering::Relaxed) {
                if c.write_all(&b).is_err() || c.read_exact(&mut b).is_err() {
                    break;
                }
            }
        }));
    }
    let mut hung = 0;
    for _ in 0..FORKS {
        let pid = fork();
        if pid == 0 {
            for &fd in &fds {
                // SAFETY: the child closes its copies of the sockets.
                unsafe { libc::close(fd) };
            }
            // SAFETY: leave without running anything of the parent's.
            unsafe { libc::_exit(0) };
        }
        match wait_child(pid, Duration::from_secs(3)) {
            End::Exited(0) => {}
            End::Hung => hung += 1,
            other => panic!("child ended as {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(hung, 0, "{hung} of {FORKS} children hung in close");
}

/// A `MAP_SHARED` anonymous word: both sides of a fork see its writes.
fn shared_word() -> &'static AtomicU32 {
    // SAFETY: a fresh anonymous shared mapping of one page, never unmapped.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: page-aligned, zeroed, lives for the program.
    unsafe { &*(p as *const AtomicU32) }
}

#[test]
fn a_child_forked_in_a_coroutine_runs_none_of_the_parents_coroutines() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // Set by any coroutine that finds itself running in another process.
    let foreign = shared_word();
    let stop = Arc::new(AtomicBool::new(false));
    let tickers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                    // SAFETY: getpid has no preconditions.
                    let me = unsafe { libc::getpid() };
                    if me != parent {
                        foreign.store(me as u32, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let pid = rt.run(|| {
        let pid = fork();
        if pid == 0 {
            // The child: the hooks are libc's. `nanosleep` sleeps the thread
            // (a park would run the worker loop, and the tickers with it),
            // and no runtime can start here.
            let start = Instant::now();
            std::thread::sleep(Duration::from_millis(100));
            let slept = start.elapsed() >= Duration::from_millis(100);
            let refused = weft::Builder::new().spawn(|| ()).is_err();
            let code = if !slept {
                1
            } else if !refused {
                2
            } else {
                0
            };
            // SAFETY: leave without running anything of the parent's.
            unsafe { libc::_exit(code) };
        }
        pid
    });
    let end = wait_child(pid, Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    for t in tickers {
        t.join().unwrap();
    }
    assert_eq!(
        foreign.load(Ordering::SeqCst),
        0,
        "a coroutine of the parent ran in the child"
    );
    // 1: the sleep was cut short; 2: a runtime started in the child.
    assert_eq!(end, End::Exited(0));
}

#[test]
fn a_coroutine_that_returns_in_a_child_ends_the_child() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let ran_after = shared_word();
    // Would run in the child if its worker loop went on.
    let other = rt.spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        ran_after.fetch_add(1, Ordering::SeqCst);
    });
    let pid = rt.run(fork);
    if pid == 0 {
        // Unreachable in the child: `run`'s coroutine returned there, and
        // the child ended before its worker loop resumed anything.
        // SAFETY: leave at once.
        unsafe { libc::_exit(3) };
    }
    assert_eq!(wait_child(pid, Duration::from_secs(5)), End::Exited(70));
    other.join().unwrap();
    assert_eq!(
        ran_after.load(Ordering::SeqCst),
        1,
        "only the parent's copy ran"
    );
}
