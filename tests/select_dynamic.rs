//! `weft::channel::Select`, selection over operations added at run time,
//! against crossbeam-channel's documented behaviour, between coroutines,
//! plain threads, and both.
//!
//! Every wait is bounded: a bug makes a test fail (see `Task::join`,
//! `LIMIT`, `wait_until`), never hang.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::channel::{
    after, bounded, never, tick, unbounded, ReadyTimeoutError, Receiver, RecvError, Select,
    SelectTimeoutError, SendError, Sender, TryReadyError, TryRecvError, TrySelectError,
};

mod common;
use common::sides::*;

/// Waits, yielding, until `r` has a sender waiting on it (a rendezvous
/// receive would go ahead).
fn until_a_sender_waits<T>(r: &Receiver<T>) {
    let mut sel = Select::new();
    sel.recv(r);
    wait_until("a sender waits", || sel.try_ready().is_ok());
}

/// Waits, yielding, until `s` has a receiver waiting on it.
fn until_a_receiver_waits<T>(s: &Sender<T>) {
    let mut sel = Select::new();
    sel.send(s);
    wait_until("a receiver waits", || sel.try_ready().is_ok());
}

// ---------------------------------------------------------------------------
// Choosing and completing

#[test]
fn select_chooses_the_operation_that_can_go_ahead_and_returns_its_index() {
    for side in SIDES {
        on(side, || {
            let (tx0, rx0) = bounded::<u32>(0);
            let (_tx1, rx1) = unbounded::<u32>();
            let (tx2, rx2) = bounded::<u32>(1);
            let mut sel = Select::new();
            let i0 = sel.send(&tx0); // nobody receives
            let i1 = sel.recv(&rx1); // empty
            let i2 = sel.send(&tx2); // room
            assert_eq!((i0, i1, i2), (0, 1, 2));
            let oper = sel.select();
            assert_eq!(oper.index(), i2);
            assert_eq!(oper.send(&tx2, 7), Ok(()));
            assert_eq!(rx2.try_recv(), Ok(7));
            // Nothing else moved.
            assert_eq!(rx0.try_recv(), Err(TryRecvError::Empty));
            assert!(rx1.is_empty());
        });
    }
}

#[test]
fn a_waiting_select_parks_its_coroutine_so_a_partner_on_the_same_worker_runs() {
    // One worker: had the select spun instead of parking, the sending
    // coroutine would never run, and `join` would fail at its deadline.
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = bounded::<u32>(0);
    let (_idle_tx, idle_rx) = bounded::<u32>(0);
    let selector = rt.spawn(move || {
        let mut sel = Select::new();
        sel.recv(&idle_rx);
        let i = sel.recv(&rx);
        let oper = sel.select();
        assert_eq!(oper.index(), i);
        oper.recv(&rx)
    });
    let sender = rt.spawn(move || {
        for _ in 0..10 {
            weft::yield_now();
        }
        tx.send(5).unwrap();
    });
    let deadline = Instant::now() + LIMIT;
    while !(selector.is_finished() && sender.is_finished()) {
        assert!(Instant::now() < deadline, "the select kept its worker");
        std::thread::sleep(ms(1));
    }
    assert_eq!(selector.join().unwrap(), Ok(5));
    sender.join().unwrap();
}

#[test]
fn a_waiting_select_blocks_a_plain_thread_until_a_coroutine_sends() {
    let (tx, rx) = bounded::<&str>(0);
    let waiter = spawn(Side::Thread, {
        let rx = rx.clone();
        move || {
            let mut sel = Select::new();
            sel.recv(&rx);
            sel.select().recv(&rx)
        }
    });
    until_a_receiver_waits(&tx);
    from_a_coroutine(move || tx.send("hi").unwrap());
    assert_eq!(waiter.join(), Ok("hi"));
}

/// Runs `f` in a coroutine and waits for it.
fn from_a_coroutine(f: impl FnOnce() + Send + 'static) {
    on(Side::Co, f);
}

#[test]
fn try_select_never_waits() {
    let (tx, rx) = bounded::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.send(&tx);
    let t = Instant::now();
    // Neither side of a rendezvous has a partner: nothing can go ahead.
    assert_eq!(sel.try_select().unwrap_err(), TrySelectError);
    assert!(t.elapsed() < SLACK);
    // Nor with no operations at all.
    assert!(Select::new().try_select().is_err());
}

#[test]
fn select_timeout_and_deadline_give_up_in_time_and_leave_nothing_behind() {
    for side in SIDES {
        on(side, || {
            let (tx, rx) = bounded::<u32>(0);
            let (_tx2, rx2) = unbounded::<u32>();
            for timeout in [ms(0), ms(30)] {
                let mut sel = Select::new();
                sel.send(&tx);
                sel.recv(&rx2);
                let t = Instant::now();
                assert_eq!(sel.select_timeout(timeout).unwrap_err(), SelectTimeoutError);
                assert!(t.elapsed() >= timeout && t.elapsed() < timeout + SLACK);
                let t = Instant::now();
                let err = sel.select_deadline(t + timeout).unwrap_err();
                assert_eq!(err, SelectTimeoutError);
                assert!(t.elapsed() >= timeout && t.elapsed() < timeout + SLACK);
            }
            // The dead selects left no waiting sender: a receive finds none.
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // Without operations, the timeout is simply waited out.
            let t = Instant::now();
            assert!(Select::new().select_timeout(ms(20)).is_err());
            assert!(t.elapsed() >= ms(20));
            // A timeout too long for an `Instant` waits for ever.
            let late = weft::go(move || {
                weft::sleep(ms(20));
                tx.send(3).unwrap();
            });
            let mut sel = Select::new();
            sel.recv(&rx);
            let oper = sel.select_timeout(Duration::MAX).unwrap();
            assert_eq!(oper.recv(&rx), Ok(3));
            late.join().unwrap();
        });
    }
}

#[test]
#[should_panic(expected = "without operations would wait for ever")]
fn select_without_operations_panics() {
    let _ = Select::new().select();
}

#[test]
fn a_disconnected_channel_is_chosen_and_completes_with_an_error() {
    for side in SIDES {
        on(side, || {
            let (tx, rx) = bounded::<u32>(0);
            let (_idle_tx, idle_rx) = unbounded::<u32>();
            drop(tx);
            let mut sel = Select::new();
            sel.recv(&idle_rx);
            let i = sel.recv(&rx);
            let oper = sel.select();
            assert_eq!(oper.index(), i);
            assert_eq!(oper.recv(&rx), Err(RecvError));

            let (tx, rx) = bounded::<String>(1);
            drop(rx);
            let mut sel = Select::new();
            sel.recv(&idle_rx);
            sel.send(&tx);
            let oper = sel.select();
            assert_eq!(oper.send(&tx, "back".into()), Err(SendError("back".into())));

            // A select waiting on a channel is woken by its disconnection.
            let (tx, rx) = bounded::<u32>(0);
            let dropper = weft::go(move || {
                weft::sleep(ms(20));
                drop(tx);
            });
            let mut sel = Select::new();
            sel.recv(&idle_rx);
            let i = sel.recv(&rx);
            let oper = sel.select_timeout(LIMIT).unwrap();
            assert_eq!(oper.index(), i);
            assert_eq!(oper.recv(&rx), Err(RecvError));
            dropper.join().unwrap();
        });
    }
}

#[test]
fn remove_takes_an_operation_out_and_keeps_the_other_indices() {
    let (tx1, rx1) = unbounded::<u32>();
    let (tx2, rx2) = unbounded::<u32>();
    let (tx3, rx3) = unbounded::<u32>();
    let mut sel = Select::new();
    let i1 = sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    let i3 = sel.recv(&rx3);
    sel.remove(i2);
    tx2.send(2).unwrap();
    assert!(
        sel.try_select().is_err(),
        "the removed operation was chosen"
    );
    tx3.send(3).unwrap();
    let oper = sel.try_select().unwrap();
    assert_eq!(oper.index(), i3);
    assert_eq!(oper.recv(&rx3), Ok(3));
    // Indices are not reused after a removal.
    let (tx4, rx4) = unbounded::<u32>();
    let i4 = sel.recv(&rx4);
    assert_eq!(i4, 3);
    tx1.send(1).unwrap();
    let oper = sel.select();
    assert_eq!(oper.index(), i1);
    assert_eq!(oper.recv(&rx1), Ok(1));
    tx4.send(4).unwrap();
    let oper = sel.select();
    assert_eq!(oper.index(), i4);
    assert_eq!(oper.recv(&rx4), Ok(4));
    assert_eq!(rx2.try_recv(), Ok(2));

    let removed_twice = catch_unwind(AssertUnwindSafe(|| sel.remove(i2)));
    assert!(
        removed_twice.is_err(),
        "removing a removed operation panics"
    );
}

/// `try_select` fails only if no operation could go ahead at some moment
/// of its call. Here a helper fills one channel before it empties
/// the other, so one of them holds a message at every moment, and
/// `try_select` must never fail, though the helper may fill the one
/// channel after its try and empty the other before its try. (Idle
/// operations between them, in the random order of a round, make that
/// window wide.)
#[test]
fn try_select_fails_only_if_no_operation_could_go_ahead_at_one_moment() {
    const ROUNDS: usize = 20_000;
    for cap in [Some(1), None] {
        let pair = || cap.map_or_else(unbounded::<()>, bounded::<()>);
        let ((a_tx, a_rx), (b_tx, b_rx)) = (pair(), pair());
        let idle: Vec<Receiver<()>> = (0..48).map(|_| weft::channel::never()).collect();
        let (go_tx, go_rx) = bounded::<()>(0);
        let (done_tx, done_rx) = bounded::<()>(0);
        let helper = spawn(Side::Thread, {
            let a_rx = a_rx.clone();
            move || {
                for _ in 0..ROUNDS {
                    go_rx.recv().unwrap();
                    b_tx.send(()).unwrap();
                    let _ = a_rx.try_recv();
                    done_rx.recv().unwrap();
                }
            }
        });
        let mut failures = 0;
        for _ in 0..ROUNDS {
            go_tx.send(()).unwrap();
            a_tx.send(()).unwrap();
            let mut sel = Select::new();
            for r in &idle {
                sel.recv(r);
            }
            let a = sel.recv(&a_rx);
            let b = sel.recv(&b_rx);
            match sel.try_select() {
                Ok(oper) if oper.index() == a => oper.recv(&a_rx).unwrap(),
                Ok(oper) if oper.index() == b => oper.recv(&b_rx).unwrap(),
                Ok(oper) => panic!("an idle operation was chosen: {}", oper.index()),
                Err(_) => failures += 1,
            }
            done_tx.send(()).unwrap();
            let _ = b_rx.try_recv();
        }
        helper.join();
        assert_eq!(failures, 0, "capacity {cap:?}");
    }
}

// ---------------------------------------------------------------------------
// Rendezvous pairing: the partner of a chosen send waits for its message

#[test]
fn a_select_send_pairs_with_a_plain_receiver_waiting_first() {
    for (a, b) in [
        (Side::Thread, Side::Co),
        (Side::Co, Side::Thread),
        (Side::Co, Side::Co),
    ] {
        let (tx, rx) = bounded::<u32>(0);
        let receiver = spawn(b, move || rx.recv_timeout(LIMIT));
        until_a_receiver_waits(&tx);
        on(a, move || {
            let mut sel = Select::new();
            sel.send(&tx);
            let oper = sel.select();
            // The receiver is committed to this send now: it waits for the
            // message while the caller still computes it.
            oper.send(&tx, 11).unwrap();
        });
        assert_eq!(receiver.join(), Ok(11), "{a:?}/{b:?}");
    }
}

#[test]
fn a_plain_receiver_takes_the_message_of_a_select_send_waiting_first() {
    for (a, b) in [
        (Side::Thread, Side::Co),
        (Side::Co, Side::Thread),
        (Side::Co, Side::Co),
    ] {
        let (tx, rx) = bounded::<u32>(0);
        let sender = spawn(a, {
            let tx = tx.clone();
            move || {
                let mut sel = Select::new();
                sel.send(&tx);
                sel.select().send(&tx, 12)
            }
        });
        until_a_sender_waits(&rx);
        let got = on(b, move || (rx.recv(), rx.try_recv()));
        assert_eq!(got, (Ok(12), Err(TryRecvError::Empty)), "{a:?}/{b:?}");
        assert_eq!(sender.join(), Ok(()));
        drop(tx);
    }
}

#[test]
fn try_recv_takes_the_message_of_a_waiting_select_send() {
    let (tx, rx) = bounded::<u32>(0);
    let sender = spawn(Side::Thread, move || {
        let mut sel = Select::new();
        sel.send(&tx);
        sel.select().send(&tx, 13)
    });
    until_a_sender_waits(&rx);
    assert_eq!(rx.try_recv(), Ok(13));
    assert_eq!(sender.join(), Ok(()));
}

#[test]
fn two_selects_pair_across_a_rendezvous_channel_in_order() {
    const N: u32 = 2_000;
    for (a, b) in [
        (Side::Thread, Side::Thread),
        (Side::Co, Side::Thread),
        (Side::Co, Side::Co),
    ] {
        let (tx, rx) = bounded::<u32>(0);
        // An idle operation each, so that both really register and wait.
        let (_idle_tx, idle_rx) = bounded::<u32>(0);
        let (idle_tx2, _idle_rx2) = bounded::<u32>(0);
        let sender = spawn(a, move || {
            for i in 0..N {
                let mut sel = Select::new();
                sel.recv(&idle_rx);
                let s = sel.send(&tx);
                let oper = sel.select();
                assert_eq!(oper.index(), s);
                oper.send(&tx, i).unwrap();
            }
        });
        let receiver = spawn(b, move || {
            let mut got = Vec::new();
            for _ in 0..N {
                let mut sel = Select::new();
                sel.send(&idle_tx2);
                let r = sel.recv(&rx);
                let oper = sel.select();
                assert_eq!(oper.index(), r);
                got.push(oper.recv(&rx).unwrap());
            }
            got
        });
        assert_eq!(receiver.join(), (0..N).collect::<Vec<_>>(), "{a:?}/{b:?}");
        sender.join();
    }
}

/// Every selector offers both a send and a receive on one rendezvous
/// channel; they pair up among themselves, and none pairs with itself.
#[test]
fn selects_offering_both_directions_pair_among_themselves() {
    const SELECTORS: u32 = 24;
    for side in SIDES {
        let (tx, rx) = bounded::<u32>(0);
        let tasks: Vec<_> = (0..SELECTORS)
            .map(|id| {
                let (tx, rx) = (tx.clone(), rx.clone());
                spawn(side, move || {
                    let mut sel = Select::new();
                    let r = sel.recv(&rx);
                    let s = sel.send(&tx);
                    let oper = sel.select();
                    if oper.index() == r {
                        let got = oper.recv(&rx).unwrap();
                        assert_ne!(got, id, "a select paired with itself");
                        Some(got)
                    } else {
                        assert_eq!(oper.index(), s);
                        oper.send(&tx, id).unwrap();
                        None
                    }
                })
            })
            .collect();
        let mut received: Vec<u32> = tasks.into_iter().filter_map(Task::join).collect();
        assert_eq!(received.len(), SELECTORS as usize / 2, "{side:?}");
        received.sort();
        received.dedup();
        assert_eq!(
            received.len(),
            SELECTORS as usize / 2,
            "a message arrived twice"
        );
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "a message was left over"
        );
    }
}

/// As `select!`'s test of the same name: a `Select` receiving from a
/// buffered channel while a sender fills it gets the messages in order.
#[test]
fn a_selecting_receiver_gets_a_buffered_channels_messages_in_order() {
    const N: u32 = 20_000;
    for cap in [1, 16] {
        let (tx, rx) = bounded::<u32>(cap);
        let (_idle_tx, idle_rx) = bounded::<u32>(0);
        let sender = spawn(Side::Thread, move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        });
        let mut sel = Select::new();
        sel.recv(&idle_rx);
        let r = sel.recv(&rx);
        for i in 0..N {
            let oper = sel.select();
            assert_eq!(oper.index(), r);
            assert_eq!(oper.recv(&rx), Ok(i), "cap {cap}");
        }
        sender.join();
    }
}

// ---------------------------------------------------------------------------
// Fairness and bias

#[test]
fn new_chooses_among_ready_operations_at_random() {
    const N: usize = 10_000;
    let (tx1, rx1) = unbounded::<()>();
    let (tx2, rx2) = unbounded::<()>();
    let (_tx0, rx0) = bounded::<()>(0);
    for _ in 0..N {
        tx1.send(()).unwrap();
        tx2.send(()).unwrap();
    }
    let mut sel = Select::new();
    // Two operations that are never ready come first: a random starting
    // point alone would favour the first ready one three times to one.
    sel.recv(&rx0);
    sel.recv(&rx0);
    let i1 = sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    let mut first = 0;
    for _ in 0..N {
        let oper = sel.select();
        if oper.index() == i1 {
            oper.recv(&rx1).unwrap();
            first += 1;
        } else {
            assert_eq!(oper.index(), i2);
            oper.recv(&rx2).unwrap();
        }
    }
    assert!(
        (N * 45 / 100..=N * 55 / 100).contains(&first),
        "{first} of {N}"
    );
}

#[test]
fn new_biased_chooses_the_first_ready_operation() {
    let (tx1, rx1) = unbounded::<u32>();
    let (tx2, rx2) = unbounded::<u32>();
    let (tx3, rx3) = unbounded::<u32>();
    for i in 0..100 {
        tx2.send(i).unwrap();
        tx3.send(i).unwrap();
    }
    let mut sel = Select::new_biased();
    let i1 = sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    sel.recv(&rx3);
    for i in 0..100 {
        let oper = sel.select();
        assert_eq!(oper.index(), i2, "round {i}");
        assert_eq!(oper.recv(&rx2), Ok(i));
    }
    tx1.send(9).unwrap();
    let oper = sel.select();
    assert_eq!(oper.index(), i1);
    assert_eq!(oper.recv(&rx1), Ok(9));
    assert_eq!(rx3.len(), 100);
}

/// Several operations on one rendezvous channel each get at least half of
/// their fair share, whether the select finds the partner waiting or waits
/// for it.
#[test]
fn duplicate_operations_on_one_rendezvous_channel_are_chosen_fairly() {
    const OPS: usize = 4;
    const ROUNDS: usize = 400;
    for select_waits_first in [false, true] {
        let (tx, rx) = bounded::<usize>(0);
        let partner = spawn(Side::Thread, move || {
            for i in 0..ROUNDS {
                if select_waits_first {
                    until_a_receiver_waits(&tx);
                }
                tx.send(i).unwrap();
            }
        });
        let mut hits = [0usize; OPS];
        for i in 0..ROUNDS {
            if !select_waits_first {
                until_a_sender_waits(&rx);
            }
            let mut sel = Select::new();
            for _ in 0..OPS {
                sel.recv(&rx);
            }
            let oper = sel.select();
            hits[oper.index()] += 1;
            assert_eq!(oper.recv(&rx), Ok(i));
        }
        partner.join();
        for h in hits {
            assert!(
                h >= ROUNDS / OPS / 2,
                "select waits first: {select_waits_first}: {hits:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Readiness

#[test]
fn ready_names_an_operation_that_can_go_ahead_without_performing_it() {
    let (tx, rx) = bounded::<u32>(1);
    let mut sel = Select::new();
    let r = sel.recv(&rx);
    let s = sel.send(&tx);
    // Only the send can go ahead; nothing is sent by asking.
    assert_eq!(sel.try_ready(), Ok(s));
    assert_eq!(sel.ready(), s);
    assert!(rx.is_empty());
    tx.send(1).unwrap();
    // Now only the receive can; nothing is received by asking.
    assert_eq!(sel.ready(), r);
    assert_eq!(sel.try_ready(), Ok(r));
    assert_eq!(rx.len(), 1);

    let (_tx0, rx0) = bounded::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx0);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    let t = Instant::now();
    assert_eq!(sel.ready_timeout(ms(20)), Err(ReadyTimeoutError));
    assert!(t.elapsed() >= ms(20));
    let t = Instant::now();
    assert_eq!(sel.ready_deadline(t + ms(20)), Err(ReadyTimeoutError));
    assert!(t.elapsed() >= ms(20));
}

/// The waiter may or may not be waiting already when its operation becomes
/// possible (nothing public shows a `ready` waiter); over the rounds both
/// happen, and a lost wake-up would fail the round at its deadline.
#[test]
fn ready_wakes_when_an_operation_becomes_possible() {
    for side in SIDES {
        for _ in 0..20 {
            // A message arrives in a buffered channel.
            let (tx, rx) = bounded::<u32>(1);
            let (_idle_tx, idle_rx) = bounded::<u32>(0);
            let waiter = spawn(side, move || {
                let mut sel = Select::new();
                sel.recv(&idle_rx);
                let r = sel.recv(&rx);
                assert_eq!(sel.ready_timeout(LIMIT), Ok(r));
                rx.try_recv()
            });
            from_a_coroutine(move || tx.send(4).unwrap());
            assert_eq!(waiter.join(), Ok(4), "{side:?}");

            // Room appears in a full channel.
            let (tx, rx) = bounded::<u32>(1);
            tx.send(0).unwrap();
            let waiter = spawn(side, move || {
                let mut sel = Select::new();
                let s = sel.send(&tx);
                assert_eq!(sel.ready_timeout(LIMIT), Ok(s));
                tx.try_send(5)
            });
            from_a_coroutine({
                let rx = rx.clone();
                move || assert_eq!(rx.recv(), Ok(0))
            });
            assert_eq!(waiter.join(), Ok(()), "{side:?}");
            assert_eq!(rx.recv(), Ok(5));

            // A receiver comes to wait on a rendezvous channel.
            let (tx, rx) = bounded::<u32>(0);
            let waiter = spawn(side, move || {
                let mut sel = Select::new();
                let s = sel.send(&tx);
                assert_eq!(sel.ready_timeout(LIMIT), Ok(s));
                tx.send(6)
            });
            assert_eq!(rx.recv_timeout(LIMIT), Ok(6), "{side:?}");
            assert_eq!(waiter.join(), Ok(()));
        }
    }
}

#[test]
fn ready_wakes_for_a_timer_channel() {
    // The clock starts before the timer does, so the bound below holds
    // however long building the select takes.
    let t = Instant::now();
    let timer = after(ms(20));
    let mut sel = Select::new();
    let i = sel.recv(&timer);
    assert_eq!(sel.ready_timeout(LIMIT), Ok(i));
    assert!(t.elapsed() >= ms(20));
    assert!(timer.try_recv().is_ok());
}

// ---------------------------------------------------------------------------
// Unfinished operations

#[test]
fn dropping_a_chosen_receive_unfinished_panics_and_leaves_the_message() {
    let (tx, rx) = bounded::<u32>(2);
    tx.send(1).unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.recv(&rx);
        drop(sel.select());
    }));
    assert!(res.is_err(), "dropping a chosen operation must panic");
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn dropping_a_chosen_send_unfinished_panics_and_frees_its_room() {
    let (tx, rx) = bounded::<u32>(1);
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(&tx);
        drop(sel.select());
    }));
    assert!(res.is_err());
    assert_eq!(
        tx.try_send(2),
        Ok(()),
        "the room reserved was not given back"
    );
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn dropping_a_chosen_send_unfinished_lets_its_committed_receiver_receive_as_usual() {
    let (tx, rx) = bounded::<u32>(0);
    let receiver = spawn(Side::Thread, move || rx.recv_timeout(LIMIT));
    until_a_receiver_waits(&tx);
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(&tx);
        drop(sel.select()); // the receiver was committed to this send
    }));
    assert!(res.is_err());
    // The receiver went back to waiting: a plain send reaches it.
    assert_eq!(tx.send_timeout(8, LIMIT), Ok(()));
    assert_eq!(receiver.join(), Ok(8));
}

#[test]
fn completing_with_another_handle_panics_and_gives_the_promise_back() {
    let (tx, rx) = unbounded::<u32>();
    let other = rx.clone();
    tx.send(1).unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.recv(&rx);
        // A clone of the receiver is another handle.
        let _ = sel.select().recv(&other);
    }));
    assert!(res.is_err());
    assert_eq!(rx.try_recv(), Ok(1));
}

// ---------------------------------------------------------------------------
// Sharing, timers, stress

#[test]
fn a_select_can_be_cloned_and_used_from_other_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tx, rx) = bounded::<usize>(0);
    let mut sel = Select::new();
    let r = sel.recv(&rx);
    let s = sel.send(&tx);
    send_sync(&sel);
    let received = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for id in 0..8 {
            let mut sel = sel.clone();
            let (tx, rx, received) = (&tx, &rx, &received);
            scope.spawn(move || {
                let oper = sel.select_timeout(LIMIT).expect("the threads pair up");
                if oper.index() == r {
                    assert_ne!(oper.recv(rx), Ok(id));
                    received.fetch_add(1, Ordering::SeqCst);
                } else {
                    assert_eq!(oper.index(), s);
                    oper.send(tx, id).unwrap();
                }
            });
        }
    });
    assert_eq!(received.load(Ordering::SeqCst), 4);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn timer_channels_as_operations() {
    let (_tx, rx) = bounded::<Instant>(0);
    let timeout = after(ms(20));
    let nothing = never::<Instant>();
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.recv(&nothing);
    let t = sel.recv(&timeout);
    let start = Instant::now();
    let oper = sel.select_timeout(LIMIT).unwrap();
    assert_eq!(oper.index(), t);
    assert!(oper.recv(&timeout).is_ok());
    assert!(start.elapsed() >= ms(20));

    let ticks = tick(ms(5));
    let mut sel = Select::new();
    sel.recv(&nothing);
    let t = sel.recv(&ticks);
    for _ in 0..3 {
        let oper = sel.select_timeout(LIMIT).unwrap();
        assert_eq!(oper.index(), t);
        assert!(oper.recv(&ticks).is_ok());
    }
}

/// Producers send distinct values through `Select` sends over two channels,
/// consumers receive them through `Select` receives (some with a short
/// timeout, so they give up and re-register often); every value arrives
/// exactly once.
fn stress(cap0: usize, cap1: usize) {
    const PER_PRODUCER: u64 = 2_000;
    const PRODUCERS: u64 = 4;
    let (tx0, rx0) = bounded::<u64>(cap0);
    let (tx1, rx1) = bounded::<u64>(cap1);
    let seen = Arc::new(
        (0..PRODUCERS * PER_PRODUCER)
            .map(|_| AtomicUsize::new(0))
            .collect::<Vec<_>>(),
    );
    let received = Arc::new(AtomicUsize::new(0));
    let total = (PRODUCERS * PER_PRODUCER) as usize;
    let consumers: Vec<_> = (0..4)
        .map(|c| {
            let (rx0, rx1, seen, received) =
                (rx0.clone(), rx1.clone(), seen.clone(), received.clone());
            let side = if c % 2 == 0 { Side::Co } else { Side::Thread };
            spawn(side, move || {
                let mut sel = Select::new();
                let i0 = sel.recv(&rx0);
                let i1 = sel.recv(&rx1);
                while received.load(Ordering::SeqCst) < total {
                    let oper = if c < 2 {
                        match sel.select_timeout(ms(1)) {
                            Ok(oper) => oper,
                            Err(_) => continue,
                        }
                    } else {
                        match sel.select_timeout(ms(50)) {
                            Ok(oper) => oper,
                            Err(_) => continue,
                        }
                    };
                    let got = if oper.index() == i0 {
                        oper.recv(&rx0)
                    } else {
                        assert_eq!(oper.index(), i1);
                        oper.recv(&rx1)
                    };
                    let v = got.expect("the producers keep both channels alive");
                    assert_eq!(
                        seen[v as usize].fetch_add(1, Ordering::SeqCst),
                        0,
                        "{v} twice"
                    );
                    received.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx0, tx1) = (tx0.clone(), tx1.clone());
            let side = if p % 2 == 0 { Side::Thread } else { Side::Co };
            spawn(side, move || {
                let mut sel = Select::new();
                let i0 = sel.send(&tx0);
                let i1 = sel.send(&tx1);
                for k in 0..PER_PRODUCER {
                    let v = p * PER_PRODUCER + k;
                    let oper = sel.select();
                    if oper.index() == i0 {
                        oper.send(&tx0, v).unwrap();
                    } else {
                        assert_eq!(oper.index(), i1);
                        oper.send(&tx1, v).unwrap();
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join();
    }
    for c in consumers {
        c.join();
    }
    assert!(seen.iter().all(|n| n.load(Ordering::SeqCst) == 1));
    assert!(rx0.is_empty() && rx1.is_empty());
    drop((tx0, tx1));
}

#[test]
fn stress_selecting_producers_and_consumers_lose_nothing_rendezvous() {
    stress(0, 0);
}

#[test]
fn stress_selecting_producers_and_consumers_lose_nothing_mixed() {
    stress(0, 1);
    stress(3, 64);
}
