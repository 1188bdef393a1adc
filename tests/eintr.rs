//! Signals and `EINTR`. On a plain thread a blocking call on a socket weft
//! manages is interrupted as the kernel's call would be: `EINTR` when the
//! handler lacks `SA_RESTART`, a restart when it has it. In a coroutine a
//! call that parks is never interrupted (as if every handler had
//! `SA_RESTART`).
//!
//! The tests install a `SIGUSR1` handler, which is process-wide: they take
//! turns.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

static TURN: Mutex<()> = Mutex::new(());
static CAUGHT: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    CAUGHT.fetch_add(1, Ordering::SeqCst);
}

/// Installs the `SIGUSR1` handler with `flags`.
fn install(flags: libc::c_int) {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as usize;
        sa.sa_flags = flags;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
}

/// The default `SIGUSR1` action back, at the end of a test.
fn uninstall() {
    // SAFETY: restoring the default action.
    unsafe { libc::signal(libc::SIGUSR1, libc::SIG_DFL) };
}

/// A connected pair whose second socket weft manages: it was accepted by
/// a coroutine of `rt`, which read from it.
fn managed_pair(rt: &weft::Runtime) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.write_all(b"0").unwrap();
    let managed = rt.run(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        s
    });
    // No read timeout: the kernel never restarts a socket call that has
    // one. The peer's write ends every read.
    (peer, managed)
}

/// Reads once from `s` on a new plain thread while this thread sends it
/// `SIGUSR1` after 100 ms and `peer` writes after 500 ms; returns what the
/// read gave and when.
fn read_through_a_signal(
    mut s: TcpStream,
    mut peer: TcpStream,
) -> (std::io::Result<usize>, Duration) {
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        let mut buf = [0u8; 8];
        let t = Instant::now();
        let r = s.read(&mut buf);
        (r, t.elapsed())
    });
    let thread = rx.recv().unwrap();
    thread::sleep(Duration::from_millis(100));
    let before = CAUGHT.load(Ordering::SeqCst);
    // SAFETY: the reader thread is alive until it is joined below.
    assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
    thread::sleep(Duration::from_millis(400));
    peer.write_all(b"late").unwrap();
    let out = reader.join().unwrap();
    assert!(
        CAUGHT.load(Ordering::SeqCst) > before,
        "the signal was caught"
    );
    out
}

#[test]
fn a_plain_threads_read_fails_with_eintr_without_sa_restart() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (peer, managed) = managed_pair(&rt);
    install(0);
    let (r, took) = read_through_a_signal(managed, peer);
    uninstall();
    assert_eq!(
        r.map_err(|e| e.kind()),
        Err(ErrorKind::Interrupted),
        "after {took:?}"
    );
    assert!(took < Duration::from_millis(400), "took {took:?}");
}

#[test]
fn a_plain_threads_read_restarts_with_sa_restart() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (peer, managed) = managed_pair(&rt);
    install(libc::SA_RESTART);
    let (r, took) = read_through_a_signal(managed, peer);
    uninstall();
    assert_eq!(r.unwrap(), 4);
    assert!(took >= Duration::from_millis(390), "took {took:?}");
}

#[test]
fn a_plain_threads_accept_on_a_weft_listener_fails_with_eintr() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // Made in a coroutine: its description is non-blocking underneath.
    let listener = weft::go(|| TcpListener::bind("127.0.0.1:0").unwrap())
        .join()
        .unwrap();
    install(0);
    let fd = listener.as_raw_fd();
    let (tx, rx) = mpsc::channel();
    let acceptor = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        let t = Instant::now();
        // SAFETY: accept with no address wanted (std's accept retries EINTR).
        let rc = unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) };
        let err = std::io::Error::last_os_error();
        (rc, err, t.elapsed())
    });
    let thread = rx.recv().unwrap();
    thread::sleep(Duration::from_millis(100));
    // SAFETY: the acceptor is alive until joined.
    assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
    // Unblock it in any case after 1 s, so the test cannot hang.
    let client = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1000));
        TcpStream::connect(listener.local_addr().unwrap())
    });
    let (rc, err, took) = acceptor.join().unwrap();
    uninstall();
    drop(client.join().unwrap());
    assert_eq!(rc, -1, "accepted after {took:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EINTR));
    assert!(took < Duration::from_millis(900), "took {took:?}");
}

#[test]
fn a_coroutines_parked_read_is_never_interrupted() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (mut peer, mut managed) = managed_pair(&rt);
    install(0);
    // SAFETY: pthread_self has no preconditions.
    let worker = rt.run(|| unsafe { libc::pthread_self() });
    let reader = rt.spawn(move || {
        let mut buf = [0u8; 8];
        let t = Instant::now();
        let r = managed.read(&mut buf).map_err(|e| e.kind());
        (r, t.elapsed())
    });
    let before = CAUGHT.load(Ordering::SeqCst);
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(50));
        // SAFETY: the worker thread lives as long as `rt`.
        assert_eq!(unsafe { libc::pthread_kill(worker, libc::SIGUSR1) }, 0);
    }
    thread::sleep(Duration::from_millis(50));
    peer.write_all(b"late").unwrap();
    let (r, took) = reader.join().unwrap();
    let caught = CAUGHT.load(Ordering::SeqCst) - before;
    uninstall();
    assert!(caught >= 1, "the worker caught no signal");
    assert_eq!(r, Ok(4), "after {took:?}");
    assert!(took >= Duration::from_millis(250), "took {took:?}");
}
