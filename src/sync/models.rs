//! loom models of the wait queue, the channel core and the locks built on
//! them. Run with (as `.ci/run` does):
//!
//! ```text
//! RUSTFLAGS="--cfg weft_loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release --lib --target-dir target/loom models
//! ```

use std::ptr;
use std::sync::Arc;

use loom::thread;

use super::queue::{Context, Outcome, WaitList};
use super::{Condvar, Mutex, WaitGroup};
use crate::channel::{bounded, unbounded, Select};
use crate::loom::Lock;

/// A waiter that gives up while a waker claims it: exactly one of them
/// wins, and the list is left empty either way.
#[test]
fn abort_races_claim() {
    loom::model(|| {
        let list = Arc::new(Lock::new(WaitList::new()));
        let cx = Context::new(crate::task::WaitFor::UNKNOWN);
        // SAFETY: `cx` outlives the list's use of it: the waker's claim or
        // the `unregister` below unlinks it. Nothing reads the packet.
        unsafe { list.lock().register(&cx, 7, ptr::null_mut()) };
        let waker = {
            let list = list.clone();
            thread::spawn(move || list.lock().claim().map(|c| c.op()).is_some())
        };
        let aborted = cx.try_abort().is_none();
        list.lock().unregister(&cx);
        let claimed = waker.join().unwrap();
        assert!(aborted != claimed, "aborted {aborted}, claimed {claimed}");
        assert!(list.lock().claim().is_none());
    });
}

/// A parked waiter is woken by a claim, whichever comes first.
#[test]
fn claim_wakes_a_parked_waiter() {
    loom::model(|| {
        let list = Arc::new(Lock::new(WaitList::new()));
        let cx = Context::new(crate::task::WaitFor::UNKNOWN);
        // SAFETY: `cx` outlives the list's use of it: the waker's claim
        // unlinks it before `wait` returns `Selected`, the only outcome
        // under loom. Nothing reads the packet.
        unsafe { list.lock().register(&cx, 3, ptr::null_mut()) };
        let waker = {
            let list = list.clone();
            thread::spawn(move || {
                if let Some(c) = list.lock().claim() {
                    c.complete();
                }
            })
        };
        match cx.wait(None) {
            Outcome::Selected(sel) => assert_eq!(sel.op, 3),
            other => panic!("{other:?}"),
        }
        waker.join().unwrap();
    });
}

#[test]
fn rendezvous_hands_over_one_message() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let sender = thread::spawn(move || tx.send(5).unwrap());
        assert_eq!(rx.recv(), Ok(5));
        sender.join().unwrap();
    });
}

#[test]
fn bounded_two_senders_one_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || tx2.send(2).unwrap());
        let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
        got.sort();
        assert_eq!(got, [1, 2]);
        // Both senders are gone once joined: the channel is disconnected.
        a.join().unwrap();
        b.join().unwrap();
        assert!(rx.recv().is_err());
    });
}

#[test]
fn last_sender_drop_wakes_a_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || drop(tx));
        assert!(rx.recv().is_err());
        t.join().unwrap();
    });
}

#[test]
fn last_receiver_drop_hands_the_message_back() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || drop(rx));
        assert_eq!(tx.send(9).unwrap_err().into_inner(), 9);
        t.join().unwrap();
    });
}

#[test]
fn select_takes_both_messages_from_two_channels() {
    loom::model(|| {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = unbounded::<u32>();
        // The model keeps `tx1` and `tx2`, so no arm disconnects.
        let (s1, s2) = (tx1.clone(), tx2.clone());
        let a = thread::spawn(move || s1.send(1).unwrap());
        let b = thread::spawn(move || s2.send(2).unwrap());
        let mut got = Vec::new();
        for _ in 0..2 {
            crate::select! {
                recv(rx1) -> m => got.push(m.unwrap()),
                recv(rx2) -> m => got.push(m.unwrap()),
            }
        }
        got.sort();
        assert_eq!(got, [1, 2]);
        a.join().unwrap();
        b.join().unwrap();
        drop((tx1, tx2));
    });
}

#[test]
fn mutex_excludes_and_hands_over() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || *m2.lock() += 1);
        *m.lock() += 1;
        t.join().unwrap();
        assert_eq!(*m.lock(), 2);
    });
}

#[test]
fn condvar_notify_is_not_lost() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let t = thread::spawn(move || {
            *p2.0.lock() = true;
            p2.1.notify_one();
        });
        let g = pair.1.wait_while(pair.0.lock(), |ready| !*ready);
        assert!(*g);
        drop(g);
        t.join().unwrap();
    });
}

#[test]
fn waitgroup_waits_for_the_clone() {
    loom::model(|| {
        let wg = WaitGroup::new();
        let flag = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (wg2, flag2) = (wg.clone(), flag.clone());
        let t = thread::spawn(move || {
            flag2.store(true, loom::sync::atomic::Ordering::Relaxed);
            drop(wg2);
        });
        wg.wait();
        assert!(flag.load(loom::sync::atomic::Ordering::Relaxed));
        t.join().unwrap();
    });
}

#[test]
fn select_wakes_on_the_arm_that_became_ready() {
    loom::model(|| {
        let (tx2, rx2) = unbounded::<u32>();
        let s2 = tx2.clone();
        let b = thread::spawn(move || s2.send(2).unwrap());
        let (_tx1, rx1) = bounded::<u32>(0);
        crate::select! {
            recv(rx1) -> m => panic!("{m:?}"),
            recv(rx2) -> m => assert_eq!(m, Ok(2)),
        }
        b.join().unwrap();
    });
}

/// Two selects on opposite sides of a rendezvous channel pair up.
#[test]
fn selects_on_both_sides_of_a_rendezvous_pair_up() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || {
            crate::select! {
                send(tx, 4) -> res => res.unwrap(),
            }
        });
        crate::select! {
            recv(rx) -> m => assert_eq!(m, Ok(4)),
        }
        t.join().unwrap();
    });
}

/// The last of two concurrent drops wakes the waiter, whichever it is.
#[test]
fn waitgroup_last_of_two_drops_wakes_the_waiter() {
    loom::model(|| {
        let wg = WaitGroup::new();
        let (a, b) = (wg.clone(), wg.clone());
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || drop(b));
        wg.wait();
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// A `Select`'s send and a plain receive on a rendezvous channel, in
/// either order: the receiver commits to the chosen send and gets its
/// message.
#[test]
fn a_chosen_select_send_pays_its_committed_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || rx.recv());
        let mut sel = Select::new();
        sel.send(&tx);
        sel.select().send(&tx, 5).unwrap();
        assert_eq!(t.join().unwrap(), Ok(5));
    });
}

/// A chosen send dropped unfinished lets its committed receiver receive
/// as usual, from the next send.
#[test]
fn a_dropped_chosen_send_forgives_its_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || rx.recv());
        {
            let ops = [crate::channel::__private::send(&tx)];
            drop(crate::channel::__private::select(&ops, false));
        }
        tx.send(6).unwrap();
        assert_eq!(t.join().unwrap(), Ok(6));
    });
}

/// `Select::ready` is woken by a send that comes while it watches.
#[test]
fn ready_is_woken_by_a_send() {
    loom::model(|| {
        let (tx, rx) = unbounded::<u32>();
        let t = thread::spawn(move || tx.send(7).unwrap());
        let mut sel = Select::new();
        sel.recv(&rx);
        assert_eq!(sel.ready(), 0);
        assert_eq!(rx.try_recv(), Ok(7));
        t.join().unwrap();
    });
}
