//! Hand-off: a coroutine that parks while its worker's `next` slot holds a
//! woken partner resumes that partner itself (`Worker::hand_off`). These
//! tests drive every way the partner can stop, on one worker so that every
//! wake-up is local and every park can hand off.
//!
//! Every loop is bounded: a lost wake-up fails a join or an assertion, it
//! does not hang.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::channel::{bounded, Receiver, Sender};
use weft::Runtime;

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

/// A pair ping-ponging on one worker (each round a hand-off) still lets a
/// third coroutine of that worker run: hand-offs count as picks, so the
/// worker's fairness round comes.
#[test]
fn a_ping_pong_pair_does_not_starve_its_worker() {
    let rt = one_worker();
    let flag = Arc::new(AtomicBool::new(false));
    let (to_b, from_a) = bounded::<u64>(0);
    let (to_a, from_b) = bounded::<u64>(0);
    let b = rt.spawn(move || {
        for v in from_a.iter() {
            to_a.send(v + 1).unwrap();
        }
    });
    let seen = flag.clone();
    let a = rt.spawn(move || {
        for i in 0..2_000_000u64 {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i + 1);
            if seen.load(Ordering::Relaxed) {
                return Some(i);
            }
        }
        None
    });
    let set = flag.clone();
    let c = rt.spawn(move || set.store(true, Ordering::Relaxed));
    c.join().unwrap();
    let rounds = a.join().unwrap();
    assert!(rounds.is_some(), "the third coroutine never ran");
    b.join().unwrap();
}

/// A ring of three: each coroutine wakes the next, not the one that
/// handed off to it, so the hander-off must suspend and be woken later.
#[test]
fn a_partner_that_wakes_a_third_coroutine() {
    let rt = one_worker();
    let ring: Vec<(Sender<u64>, Receiver<u64>)> = (0..3).map(|_| bounded(0)).collect();
    let rounds = 20_000u64;
    let mut handles = Vec::new();
    for k in 0..3 {
        let rx = ring[k].1.clone();
        let tx = ring[(k + 1) % 3].0.clone();
        handles.push(rt.spawn(move || {
            let mut last = None;
            for _ in 0..rounds {
                let v = rx.recv().unwrap();
                if let Some(prev) = last {
                    assert_eq!(v, prev + 3, "coroutine {k} skipped a message");
                }
                last = Some(v);
                if v + 1 < 3 * rounds {
                    tx.send(v + 1).unwrap();
                }
            }
            last
        }));
    }
    ring[0].0.send(0).unwrap();
    let lasts: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        lasts,
        vec![
            Some(3 * rounds - 3),
            Some(3 * rounds - 2),
            Some(3 * rounds - 1)
        ]
    );
}

/// The partner finishes, or panics, inside the hand-off; the coroutine that
/// handed off then joins it.
#[test]
fn a_partner_that_finishes_or_panics_during_the_hand_off() {
    let rt = one_worker();
    let outer = rt.spawn(|| {
        for i in 0..200u64 {
            let (tx, rx) = bounded::<u64>(0);
            let partner = weft::go(move || {
                let v = rx.recv().unwrap();
                if v % 20 == 19 {
                    panic!("partner {v} panics on purpose");
                }
                v * 10
            });
            // Let the partner reach its `recv`, so the send wakes it.
            weft::yield_now();
            tx.send(i).unwrap();
            match partner.join() {
                Ok(v) => assert_eq!(v, i * 10),
                Err(_) => assert_eq!(i % 20, 19, "partner {i} panicked"),
            }
        }
    });
    outer.join().unwrap();
}

/// The partner yields, or sleeps, inside the hand-off: it goes to the
/// ready queue or a timer, and still gets its answer through.
#[test]
fn a_partner_that_yields_or_sleeps_during_the_hand_off() {
    let rt = one_worker();
    let (to_b, from_a) = bounded::<u64>(0);
    let (to_a, from_b) = bounded::<u64>(0);
    let b = rt.spawn(move || {
        for v in from_a.iter() {
            if v % 3 == 0 {
                weft::yield_now();
            } else if v % 100 == 1 {
                weft::sleep(Duration::from_micros(100));
            }
            to_a.send(v + 1).unwrap();
        }
    });
    let a = rt.spawn(move || {
        for i in 0..5_000u64 {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i + 1);
        }
    });
    a.join().unwrap();
    b.join().unwrap();
}
