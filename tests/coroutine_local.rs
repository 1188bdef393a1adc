//! `coroutine_local!`: one value per coroutine, kept across parks, dropped
//! when the coroutine ends however it ends; a thread-local on plain threads.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Counts its drops in the counter it carries.
struct Tally(Option<Arc<AtomicUsize>>);

impl Drop for Tally {
    fn drop(&mut self) {
        if let Some(n) = &self.0 {
            n.fetch_add(1, Ordering::SeqCst);
        }
    }
}

weft::coroutine_local! {
    static ID: Cell<u64> = Cell::new(0);
    static INITS: Cell<u32> = {
        INIT_CALLS.fetch_add(1, Ordering::SeqCst);
        Cell::new(7)
    };
    static TALLY: RefCell<Tally> = RefCell::new(Tally(None));
}

weft::coroutine_local! {
    /// A second declaration block, with attributes and visibility.
    pub(crate) static TRAIL: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

static INIT_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A bounded join.
fn join<T: Send + 'static>(h: weft::JoinHandle<T>) -> std::thread::Result<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("coroutine did not finish in time")
}

#[test]
fn each_coroutine_keeps_its_own_value_across_parks_on_one_worker() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let handles: Vec<_> = (1..=100u64)
        .map(|id| {
            rt.spawn(move || {
                // Fresh in every coroutine.
                let first = ID.with(Cell::get);
                ID.with(|v| v.set(id));
                for round in 0..5 {
                    if round % 2 == 0 {
                        weft::yield_now();
                    } else {
                        weft::sleep(Duration::from_millis(id % 3));
                    }
                    TRAIL.with(|t| t.borrow_mut().push(ID.with(Cell::get)));
                }
                (first, TRAIL.with(|t| t.borrow().clone()))
            })
        })
        .collect();
    for (id, h) in (1..=100u64).zip(handles) {
        let (first, trail) = join(h).unwrap();
        assert_eq!(first, 0, "coroutine {id} saw another's value");
        assert_eq!(trail, vec![id; 5], "coroutine {id}");
    }
}

#[test]
fn the_initialiser_runs_once_per_coroutine_on_first_use() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let before = INIT_CALLS.load(Ordering::SeqCst);
    let h = rt.spawn(|| {
        let a = INITS.with(|v| {
            v.set(v.get() + 1);
            v.get()
        });
        weft::yield_now();
        let b = INITS.with(Cell::get);
        (a, b)
    });
    assert_eq!(join(h).unwrap(), (8, 8));
    let untouched = rt.spawn(|| ());
    join(untouched).unwrap();
    // Only this test uses `INITS`: one coroutine used it, once initialised.
    assert_eq!(INIT_CALLS.load(Ordering::SeqCst) - before, 1);
}

#[test]
fn a_spawned_coroutine_does_not_inherit_its_parents_values() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let h = rt.spawn(|| {
        ID.with(|v| v.set(42));
        let child = weft::go(|| ID.with(Cell::get));
        (ID.with(Cell::get), child.join().unwrap())
    });
    assert_eq!(join(h).unwrap(), (42, 0));
}

#[test]
fn values_are_dropped_when_their_coroutine_returns() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let drops = drops.clone();
            rt.spawn(move || {
                TALLY.with(|t| *t.borrow_mut() = Tally(Some(drops.clone())));
                weft::sleep(Duration::from_millis(1));
                // Still alive while the coroutine runs.
                drops.load(Ordering::SeqCst)
            })
        })
        .collect();
    for h in handles {
        join(h).unwrap();
    }
    // Dropped before each joiner got its result.
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[test]
fn values_are_dropped_when_their_coroutine_panics() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let h = rt.spawn(move || {
        TALLY.with(|t| *t.borrow_mut() = Tally(Some(d)));
        weft::yield_now();
        panic!("boom");
    });
    let err = join(h).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn values_of_parked_coroutines_are_dropped_when_the_runtime_is_dropped() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (_keep, rx) = weft::channel::bounded::<()>(0);
    let (ready_tx, ready) = weft::channel::bounded::<()>(16);
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let (d, rx, ready_tx) = (drops.clone(), rx.clone(), ready_tx.clone());
            rt.spawn(move || {
                TALLY.with(|t| *t.borrow_mut() = Tally(Some(d)));
                ready_tx.send(()).unwrap();
                rx.recv() // parks until the runtime goes
            })
        })
        .collect();
    for _ in 0..5 {
        ready.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    for h in handles {
        assert!(join(h).is_err(), "cancelled by the runtime's drop");
    }
}

#[test]
fn a_destructor_may_use_other_coroutine_locals_and_weft() {
    struct Reporter(mpsc::Sender<Vec<u64>>);
    impl Drop for Reporter {
        fn drop(&mut self) {
            // Another local, possibly dropped already: initialised anew
            // then, and dropped in a later round.
            let trail = TRAIL.with(|t| t.borrow().clone());
            weft::yield_now();
            self.0.send(trail).unwrap();
        }
    }
    weft::coroutine_local! {
        static REPORTER: RefCell<Option<Reporter>> = RefCell::new(None);
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let h = rt.spawn(move || {
        TRAIL.with(|t| t.borrow_mut().push(1));
        REPORTER.with(|r| *r.borrow_mut() = Some(Reporter(tx)));
        TRAIL.with(|t| t.borrow_mut().push(2));
    });
    join(h).unwrap();
    let trail = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Dropped in the order they were first used: TRAIL went first, so the
    // reporter found a fresh one.
    assert_eq!(trail, Vec::<u64>::new());
}

#[test]
fn a_panicking_destructor_is_the_coroutines_panic() {
    struct Explodes;
    impl Drop for Explodes {
        fn drop(&mut self) {
            panic!("destructor");
        }
    }
    weft::coroutine_local! {
        static BOMB: RefCell<Option<Explodes>> = RefCell::new(None);
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let h = rt.spawn(|| BOMB.with(|b| *b.borrow_mut() = Some(Explodes)));
    let err = join(h).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"destructor"));
    // The worker survives it.
    assert_eq!(join(rt.spawn(|| 5)).unwrap(), 5);
}

#[test]
fn on_a_plain_thread_it_is_a_thread_local() {
    ID.with(|v| v.set(9));
    let other = std::thread::spawn(|| {
        let first = ID.with(Cell::get);
        ID.with(|v| v.set(3));
        (first, ID.with(Cell::get))
    })
    .join()
    .unwrap();
    assert_eq!(other, (0, 3));
    assert_eq!(ID.with(Cell::get), 9);
    // A coroutine does not see the thread's value, nor change it.
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let seen = join(rt.spawn(|| {
        let seen = ID.with(Cell::get);
        ID.with(|v| v.set(100));
        seen
    }))
    .unwrap();
    assert_eq!(seen, 0);
    assert_eq!(ID.with(Cell::get), 9);
}

#[test]
fn on_a_plain_thread_values_are_dropped_at_thread_exit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || TALLY.with(|t| *t.borrow_mut() = Tally(Some(d))))
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_value_stays_with_its_coroutine_when_another_thread_resumes_it() {
    thread_local! {
        static THREAD_MARK: Cell<u64> = const { Cell::new(0) };
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let h = rt.spawn(|| {
        let (release, blocked) = mpsc::channel::<()>();
        // Blocks the worker's thread in a kernel wait once the coroutine
        // below parks: another thread of the worker takes the worker over.
        let blocker = weft::go(move || blocked.recv_timeout(Duration::from_secs(20)).unwrap());
        ID.with(|v| v.set(77));
        THREAD_MARK.with(|m| m.set(77));
        let before = std::thread::current().id();
        weft::sleep(Duration::from_millis(50));
        let moved = std::thread::current().id() != before;
        let seen = (ID.with(Cell::get), THREAD_MARK.with(Cell::get));
        release.send(()).unwrap();
        blocker.join().unwrap();
        (moved, seen)
    });
    let (moved, (local, thread_local)) = join(h).unwrap();
    assert!(moved, "the coroutine resumed on its first thread");
    assert_eq!(local, 77, "the coroutine-local stayed with the coroutine");
    assert_eq!(thread_local, 0, "the new thread has its own thread-local");
}
