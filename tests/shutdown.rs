//! Dropping a `Runtime` ends the coroutines still on it, so that their
//! destructors run: parked ones unwind from weft's own waits, and their
//! libc calls fail (a socket read with `ECANCELED`, a sleep with `EINTR`
//! and the time left); coroutines that never started are dropped unrun;
//! and one that ignores its cancellation does not hang the drop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits, without sleeping blindly, until `n` coroutines have checked in.
fn wait_for(counter: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "coroutines did not start");
        std::thread::yield_now();
    }
}

#[test]
fn drop_unwinds_parked_coroutines_and_runs_their_destructors() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..300 {
        let (started, guard) = (started.clone(), CountDrop(dropped.clone()));
        handles.push(rt.spawn(move || {
            let _guard = guard;
            let _heap = vec![0u8; 1024]; // freed by the unwind too
            started.fetch_add(1, Ordering::SeqCst);
            match i % 3 {
                0 => weft::sleep(Duration::from_secs(3600)),
                // A child's cancellation propagates like any join error.
                1 => weft::go(|| weft::sleep(Duration::from_secs(3600)))
                    .join()
                    .unwrap(),
                _ => loop {
                    weft::yield_now();
                },
            }
        }));
    }
    wait_for(&started, 300);
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(5), "drop returned");
    assert_eq!(dropped.load(Ordering::SeqCst), 300, "every destructor ran");
    for h in handles {
        assert!(h.join().is_err(), "joiners of cancelled coroutines get Err");
    }
}

#[test]
fn drop_cancels_coroutines_that_never_started() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicUsize::new(0));
    // Occupy the only worker so the rest stay queued.
    let g = gate.clone();
    let blocker = rt.spawn(move || {
        g.store(1, Ordering::SeqCst);
        loop {
            weft::yield_now();
        }
    });
    wait_for(&gate, 1);
    let queued: Vec<_> = (0..50)
        .map(|_| {
            let guard = CountDrop(dropped.clone());
            rt.spawn(move || drop(guard))
        })
        .collect();
    drop(rt);
    assert!(blocker.join().is_err());
    // Each closure was either run or dropped unrun: its guard dropped either way.
    assert_eq!(dropped.load(Ordering::SeqCst), 50);
    assert!(queued.into_iter().all(|h| h.is_finished()));
}

#[test]
fn a_coroutine_waiting_in_drop_during_shutdown_does_not_hang() {
    struct JoinOnDrop(Option<weft::JoinHandle<()>>);
    impl Drop for JoinOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.take() {
                let _ = h.join();
            }
        }
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    rt.spawn(move || {
        let _j = JoinOnDrop(Some(weft::go(|| weft::sleep(Duration::from_secs(3600)))));
        s.store(1, Ordering::SeqCst);
        weft::sleep(Duration::from_secs(3600));
    });
    wait_for(&started, 1);
    drop(rt); // returns: the join inside the destructor does not park
}

#[test]
fn a_coroutine_that_ignores_its_cancellation_does_not_hang_the_drop() {
    use std::io::Read;
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let (s, e) = (started.clone(), errors.clone());
    rt.spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        s.store(1, Ordering::SeqCst);
        // Retries every failure forever: the runtime must give up on it.
        loop {
            if c.read(&mut [0u8; 8]).is_err() {
                e.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    wait_for(&started, 1);
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(10), "drop returned");
    assert!(
        errors.load(Ordering::SeqCst) > 0,
        "its reads failed with ECANCELED"
    );
    drop(listener);
}

#[test]
fn a_coroutine_parked_in_yield_now_is_unwound() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (d, s) = (dropped.clone(), started.clone());
    let h = rt.spawn(move || {
        let _guard = CountDrop(d);
        s.store(1, Ordering::SeqCst);
        loop {
            weft::yield_now();
        }
    });
    wait_for(&started, 1);
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(h.join().is_err());
}

#[test]
fn a_cancelled_thread_sleep_does_not_return_as_if_the_time_had_passed() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let after = Arc::new(AtomicUsize::new(0));
    let (s, a) = (started.clone(), after.clone());
    rt.spawn(move || {
        s.store(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(3600));
        // Must not run at shutdown: the hour has not passed.
        a.store(1, Ordering::SeqCst);
    });
    wait_for(&started, 1);
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(10), "drop returned");
    assert_eq!(
        after.load(Ordering::SeqCst),
        0,
        "the code after a one-hour sleep ran at shutdown"
    );
}

#[test]
fn a_cancelled_nanosleep_fails_with_eintr_and_the_time_left() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (s, out) = (started.clone(), seen.clone());
    rt.spawn(move || {
        s.store(1, Ordering::SeqCst);
        let req = libc::timespec {
            tv_sec: 3600,
            tv_nsec: 0,
        };
        let mut rem = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid timespecs.
        let rc = unsafe { libc::nanosleep(&req, &mut rem) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        *out.lock().unwrap() = Some((rc, errno, rem.tv_sec));
    });
    wait_for(&started, 1);
    drop(rt);
    let (rc, errno, left) = seen.lock().unwrap().expect("the coroutine went on");
    assert_eq!((rc, errno), (-1, Some(libc::EINTR)));
    assert!(left > 3500, "{left} s left of the hour");
}
