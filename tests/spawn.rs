//! Spawning and joining, from coroutines and from plain threads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn spawn_and_join_from_a_plain_thread() {
    let h = weft::go(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn spawn_and_join_from_a_coroutine() {
    let total = weft::go(|| {
        let hs: Vec<_> = (0..100u64).map(|i| weft::go(move || i * i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
    .join()
    .unwrap();
    assert_eq!(total, (0..100u64).map(|i| i * i).sum());
}

#[test]
fn plain_threads_join_coroutines_spawned_by_coroutines() {
    let handles = weft::go(|| (0..50).map(|i| weft::go(move || i)).collect::<Vec<_>>())
        .join()
        .unwrap();
    let threads: Vec<_> = handles
        .into_iter()
        .map(|h| std::thread::spawn(move || h.join().unwrap()))
        .collect();
    let sum: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(sum, (0..50).sum());
}

#[test]
fn hundred_thousand_coroutines_each_yielding() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let yields = Arc::new(AtomicUsize::new(0));
    let y = yields.clone();
    let finished = rt.run(move || {
        let hs: Vec<_> = (0..100_000)
            .map(|_| {
                let y = y.clone();
                weft::go(move || {
                    for _ in 0..3 {
                        weft::yield_now();
                        y.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().is_ok() as usize)
            .sum::<usize>()
    });
    assert_eq!(finished, 100_000);
    assert_eq!(yields.load(Ordering::Relaxed), 300_000);
}

#[test]
fn join_by_another_coroutine_on_one_worker_does_not_deadlock() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let v = rt.run(|| {
        // A chain: each coroutine joins the one it spawned.
        fn chain(n: u32) -> u32 {
            if n == 0 {
                weft::yield_now();
                weft::sleep(Duration::from_millis(5));
                return 0;
            }
            1 + weft::go(move || chain(n - 1)).join().unwrap()
        }
        chain(50)
    });
    assert_eq!(v, 50);
}

#[test]
fn a_joiner_waiting_before_completion_is_woken() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let slow = rt.spawn(|| {
        weft::sleep(Duration::from_millis(30));
        "slow"
    });
    // The plain thread parks on the packet well before the coroutine ends.
    assert!(!slow.is_finished());
    assert_eq!(slow.join().unwrap(), "slow");
}

#[test]
fn ids_are_unique_and_names_are_kept() {
    let hs: Vec<_> = (0..1000)
        .map(|i| {
            weft::Builder::new()
                .name(format!("c{i}"))
                .spawn(move || {
                    let me = weft::current().expect("inside a coroutine");
                    assert_eq!(me.name(), Some(format!("c{i}").as_str()));
                    me.id()
                })
                .unwrap()
        })
        .collect();
    let mut ids = HashSet::new();
    for h in hs {
        let from_handle = h.coroutine().id();
        let from_inside = h.join().unwrap();
        assert_eq!(from_handle, from_inside);
        assert!(ids.insert(from_inside), "duplicate id {from_inside}");
    }
    assert_eq!(weft::go(|| ()).coroutine().name(), None);
}

#[test]
fn current_and_in_coroutine_are_none_on_plain_threads() {
    assert!(weft::current().is_none());
    assert!(!weft::in_coroutine());
    assert!(
        weft::go(|| weft::current().is_some() && weft::in_coroutine())
            .join()
            .unwrap()
    );
}

#[test]
fn detached_coroutines_still_run() {
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..100 {
        let tx = tx.clone();
        drop(weft::go(move || tx.send(i).unwrap()));
    }
    drop(tx);
    let mut got: Vec<i32> = rx.iter().collect();
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn run_returns_the_value_and_resumes_panics() {
    assert!(weft::run(weft::in_coroutine));
    let r = std::panic::catch_unwind(|| weft::run(|| panic!("inside run")));
    let payload = r.expect_err("the panic comes back to the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside run"));
}

#[test]
fn builder_rejects_absurd_stack_sizes() {
    let err = weft::Builder::new()
        .stack_size(usize::MAX)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(weft::Runtime::builder().workers(0).build().is_err());
    assert!(weft::Runtime::builder()
        .stack_size(usize::MAX)
        .build()
        .is_err());
}

#[test]
fn small_and_large_stacks_work() {
    let small = weft::Builder::new()
        .stack_size(1)
        .spawn(|| [1u8; 4096].iter().map(|&b| b as u32).sum::<u32>());
    assert_eq!(small.unwrap().join().unwrap(), 4096);
    let big = weft::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let buf = [7u8; 4 << 20];
            std::hint::black_box(&buf)[12345]
        })
        .unwrap();
    assert_eq!(big.join().unwrap(), 7);
}
