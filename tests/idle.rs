//! An idle runtime sleeps in its pollers and burns no CPU.
//!
//! CPU time is the whole process's, so the tests here take turns.

use std::sync::{mpsc, Mutex};
use std::time::Duration;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn cpu_time() -> Duration {
    // SAFETY: a zeroed rusage is a valid output buffer for getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The process uses under 25 ms of CPU in the next 500 ms.
fn assert_idle(what: &str) {
    let before = cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_time() - before;
    assert!(
        used < Duration::from_millis(25),
        "{what} used {used:?} of CPU in 500 ms"
    );
}

#[test]
fn idle_runtime_uses_almost_no_cpu() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    // Some work first, so pools and timers have been used.
    let hs: Vec<_> = (0..1000)
        .map(|i| rt.spawn(move || weft::sleep(Duration::from_millis(i % 10))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_idle("idle runtime");
    // And it still responds.
    assert_eq!(rt.run(|| 1), 1);
}

/// A worker taken over for a coroutine blocked for good (`tests/takeover.rs`)
/// sleeps as any idle worker: its new holder in the poller, the blocked
/// thread in the kernel, the monitor on its futex.
#[test]
fn a_runtime_idle_around_a_blocked_coroutine_uses_almost_no_cpu() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let blocked = rt.spawn(move || rx.recv().unwrap());
    // Work beside it, which needs the worker taken over.
    let hs: Vec<_> = (0..200)
        .map(|i| rt.spawn(move || weft::sleep(Duration::from_millis(i % 10))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_idle("a runtime idle around a blocked coroutine");
    assert_eq!(rt.run(|| 1), 1);
    tx.send(()).unwrap();
    blocked.join().unwrap();
}
