//! The README's "Coming from std / crossbeam" table, checked: each claim
//! about a signature is pinned by a type annotation here, so a change to
//! one of them breaks this file before it makes the table wrong.

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use weft::sync::{
    Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
    RwLockWriteGuard, WaitGroup, WaitTimeoutResult,
};

#[test]
fn go_builder_and_join_mirror_std_thread() {
    let h: weft::JoinHandle<u32> = weft::go(|| 7);
    let r: std::thread::Result<u32> = h.join();
    assert_eq!(r.unwrap(), 7);

    let b: io::Result<weft::JoinHandle<u32>> = weft::Builder::new()
        .name("named")
        .stack_size(64 * 1024)
        .spawn(|| 5);
    let h = b.unwrap();
    assert_eq!(h.coroutine().name(), Some("named"));
    assert_eq!(h.join().unwrap(), 5);

    // A panic comes back from `join` as `Err`, as from std's.
    assert!(weft::go(|| panic!("expected in this test")).join().is_err());
}

#[test]
fn current_is_none_on_a_plain_thread() {
    let here: Option<weft::Coroutine> = weft::current();
    assert!(here.is_none());
    assert!(weft::go(|| weft::current().is_some()).join().unwrap());
}

#[test]
fn mutex_lock_returns_the_guard_and_a_panic_does_not_poison_it() {
    let m = Arc::new(Mutex::new(1));
    let g: MutexGuard<'_, i32> = m.lock();
    drop(g);
    let t: Option<MutexGuard<'_, i32>> = m.try_lock();
    drop(t);

    let m2 = m.clone();
    let panicked = weft::go(move || {
        let mut g = m2.lock();
        *g = 2;
        panic!("expected in this test: the guard is held");
    })
    .join();
    assert!(panicked.is_err());
    // No poisoning: the panic unlocked it, with the value it left.
    assert_eq!(*m.lock(), 2);

    let mut m = Arc::try_unwrap(m).unwrap();
    let r: &mut i32 = m.get_mut();
    *r = 3;
    let v: i32 = m.into_inner();
    assert_eq!(v, 3);
}

/// `.lock().unwrap()` is the std habit to drop. Where the protected value
/// is an `Option` or `Result` that is `Copy` it even compiles, and unwraps
/// that value.
#[test]
fn lock_unwrap_on_an_option_of_copy_unwraps_the_value() {
    let m = Mutex::new(Some(5));
    let v: i32 = m.lock().unwrap();
    assert_eq!(v, 5);
}

#[test]
fn rwlock_read_and_write_return_guards() {
    let l = RwLock::new(0);
    {
        let mut w: RwLockWriteGuard<'_, i32> = l.write();
        *w += 1;
    }
    let r: RwLockReadGuard<'_, i32> = l.read();
    assert_eq!(*r, 1);
    let r2: Option<RwLockReadGuard<'_, i32>> = l.try_read();
    assert!(r2.is_some());
    let w2: Option<RwLockWriteGuard<'_, i32>> = l.try_write();
    assert!(w2.is_none());
}

#[test]
fn condvar_waits_take_and_return_the_guard() {
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    for _ in 0..2 {
        let p = pair.clone();
        weft::go(move || {
            *p.0.lock() += 1;
            p.1.notify_all();
        });
    }
    let (m, cv) = &*pair;
    let mut g: MutexGuard<'_, i32> = m.lock();
    while *g == 0 {
        g = cv.wait(g);
    }
    let g: MutexGuard<'_, i32> = cv.wait_while(g, |n| *n < 2);
    assert_eq!(*g, 2);
    let (g, res): (MutexGuard<'_, i32>, WaitTimeoutResult) = cv.wait_timeout(g, Duration::ZERO);
    assert!(res.timed_out());
    drop(g);
}

#[test]
fn channels_mirror_crossbeam_and_receivers_clone() {
    let (tx, rx): (weft::channel::Sender<u8>, weft::channel::Receiver<u8>) =
        weft::channel::bounded(1);
    let rx2 = rx.clone(); // multi-consumer, unlike std's mpsc
    tx.send(1).unwrap();
    assert_eq!(rx2.recv(), Ok(1));
    drop(tx);
    assert_eq!(rx.recv(), Err(weft::channel::RecvError));
}

#[test]
fn waitgroup_and_barrier_have_crossbeams_and_stds_shapes() {
    let wg = WaitGroup::new();
    for _ in 0..4 {
        let wg = wg.clone();
        weft::go(move || drop(wg));
    }
    wg.wait();
    let b = Barrier::new(1);
    let r: BarrierWaitResult = b.wait();
    assert!(r.is_leader());
}

weft::coroutine_local! {
    static MINE: Cell<u32> = Cell::new(0);
}

#[test]
fn coroutine_locals_are_per_coroutine() {
    let hs: Vec<_> = (1..=2)
        .map(|i| {
            weft::go(move || {
                MINE.with(|m| m.set(i));
                weft::yield_now();
                MINE.with(Cell::get)
            })
        })
        .collect();
    let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, [1, 2]);
}
