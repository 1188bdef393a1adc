//! `weft::channel` against crossbeam-channel's documented behaviour and Go's
//! channel semantics, between coroutines, plain threads, and both.
//!
//! Every wait is bounded: a bug makes a test fail (see `Task::join` and
//! `LIMIT`), never hang.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft::channel::{
    bounded, unbounded, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender,
    TryRecvError, TrySendError,
};

mod common;
use common::sides::*;

// ---------------------------------------------------------------------------
// Rendezvous

#[test]
fn rendezvous_without_a_receiver_is_full_and_times_out() {
    for side in SIDES {
        on(side, || {
            let (tx, rx) = bounded::<u32>(0);
            assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
            let t = Instant::now();
            assert_eq!(
                tx.send_timeout(2, ms(50)),
                Err(SendTimeoutError::Timeout(2))
            );
            let waited = t.elapsed();
            assert!(waited >= ms(50), "send_timeout returned early: {waited:?}");
            assert!(
                waited < ms(50) + SLACK,
                "send_timeout returned late: {waited:?}"
            );
            // Nothing was left behind by the timed-out send.
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(rx.len(), 0);
        });
    }
}

#[test]
fn rendezvous_send_waits_for_a_receiver() {
    for s in SIDES {
        for r in SIDES {
            let (tx, rx) = bounded::<u32>(0);
            let sender = spawn(s, move || {
                tx.send(7).unwrap();
                Instant::now()
            });
            std::thread::sleep(ms(60));
            assert!(
                !sender.is_finished(),
                "{s:?} send returned without a receiver"
            );
            let receiver = spawn(r, move || {
                let start = Instant::now();
                (start, rx.recv())
            });
            let sent_at = sender.join();
            let (recv_start, got) = receiver.join();
            assert_eq!(got, Ok(7), "sender {s:?}, receiver {r:?}");
            assert!(
                sent_at >= recv_start,
                "sender {s:?} finished before receiver {r:?} arrived"
            );
        }
    }
}

#[test]
fn rendezvous_recv_waits_for_a_sender() {
    for s in SIDES {
        for r in SIDES {
            let (tx, rx) = bounded::<u32>(0);
            let receiver = spawn(r, move || {
                let got = rx.recv();
                (Instant::now(), got)
            });
            std::thread::sleep(ms(60));
            assert!(
                !receiver.is_finished(),
                "{r:?} recv returned without a sender"
            );
            let sender = spawn(s, move || {
                let start = Instant::now();
                tx.send(9).unwrap();
                start
            });
            let send_start = sender.join();
            let (got_at, got) = receiver.join();
            assert_eq!(got, Ok(9), "sender {s:?}, receiver {r:?}");
            assert!(got_at >= send_start);
        }
    }
}

#[test]
fn rendezvous_try_ops_pair_with_a_waiting_partner() {
    for side in SIDES {
        // try_recv takes the message of a sender that waits.
        let (tx, rx) = bounded::<u32>(0);
        let sender = spawn(side, move || tx.send(3));
        wait_until("the sender waits", || match rx.try_recv() {
            Ok(v) => {
                assert_eq!(v, 3);
                true
            }
            Err(e) => {
                assert!(e.is_empty());
                false
            }
        });
        assert_eq!(sender.join(), Ok(()));

        // try_send hands the message to a receiver that waits.
        let (tx, rx) = bounded::<u32>(0);
        let receiver = spawn(side, move || rx.recv());
        wait_until("the receiver waits", || match tx.try_send(4) {
            Ok(()) => true,
            Err(e) => {
                assert!(e.is_full());
                false
            }
        });
        assert_eq!(receiver.join(), Ok(4));
    }
}

#[test]
fn rendezvous_ping_pong_between_threads_and_coroutines() {
    for a in SIDES {
        for b in SIDES {
            let (ping_tx, ping_rx) = bounded::<u32>(0);
            let (pong_tx, pong_rx) = bounded::<u32>(0);
            let echo = spawn(b, move || {
                for v in ping_rx.iter() {
                    pong_tx.send(v + 1).unwrap();
                }
            });
            on(a, move || {
                for i in 0..2000 {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv(), Ok(i + 1));
                }
            });
            echo.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Buffering

#[test]
fn bounded_takes_n_without_waiting_then_the_next_send_waits() {
    for side in SIDES {
        let (tx, rx) = bounded::<u32>(3);
        let tx2 = tx.clone();
        // `send` (not only `try_send`) returns at once while there is room.
        on(side, move || {
            for i in 0..3 {
                tx2.send(i).unwrap();
            }
        });
        assert_eq!(rx.len(), 3);
        assert!(tx.is_full());
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        let sender = spawn(side, move || {
            tx.send(3).unwrap();
            Instant::now()
        });
        std::thread::sleep(ms(60));
        assert!(
            !sender.is_finished(),
            "the send into a full channel returned"
        );
        assert_eq!(rx.len(), 3);
        let recv_at = Instant::now();
        assert_eq!(rx.recv(), Ok(0));
        assert!(sender.join() >= recv_at);
        // The waiting sender's message went in behind the queued ones.
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }
}

#[test]
fn fifo_order_is_kept() {
    for s in SIDES {
        for r in SIDES {
            for cap in [0, 1, 16] {
                let (tx, rx) = bounded::<u32>(cap);
                let producer = spawn(s, move || {
                    for i in 0..5000 {
                        tx.send(i).unwrap();
                    }
                });
                let consumer = spawn(r, move || rx.iter().collect::<Vec<_>>());
                producer.join();
                let got = consumer.join();
                assert!(
                    got.iter().copied().eq(0..5000),
                    "out of order: {s:?} -> {r:?}, cap {cap}"
                );
            }
        }
    }
    let (tx, rx) = unbounded();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert!(rx.iter().eq(0..10_000));
}

#[test]
fn waiting_senders_and_receivers_are_served_oldest_first() {
    // Senders waiting on a full channel.
    let (tx, rx) = bounded::<u32>(1);
    tx.send(0).unwrap();
    let mut senders = Vec::new();
    for i in 1..=3 {
        let tx = tx.clone();
        senders.push(spawn(Side::Thread, move || tx.send(i).unwrap()));
        std::thread::sleep(ms(30));
    }
    let got: Vec<u32> = (0..4).map(|_| rx.recv_timeout(LIMIT).unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    senders.into_iter().for_each(Task::join);

    // Receivers waiting on an empty channel.
    let (tx, rx) = bounded::<u32>(0);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut receivers = Vec::new();
    for i in 0..3 {
        let (rx, order) = (rx.clone(), order.clone());
        receivers.push(spawn(Side::Thread, move || {
            let v = rx.recv().unwrap();
            order.lock().unwrap().push((i, v));
        }));
        std::thread::sleep(ms(30));
    }
    for v in 0..3 {
        tx.send(v).unwrap();
    }
    receivers.into_iter().for_each(Task::join);
    let mut order = order.lock().unwrap().clone();
    order.sort();
    assert_eq!(order, [(0, 0), (1, 1), (2, 2)], "receiver i got message i");
}

#[test]
fn len_is_empty_is_full_capacity() {
    let (tx, rx) = bounded::<u8>(0);
    assert_eq!((tx.capacity(), rx.capacity()), (Some(0), Some(0)));
    assert_eq!((tx.len(), rx.len()), (0, 0));
    assert!(tx.is_empty() && rx.is_empty());
    assert!(
        tx.is_full() && rx.is_full(),
        "a rendezvous channel is always full"
    );

    let (tx, rx) = bounded::<u8>(2);
    assert_eq!((tx.capacity(), rx.capacity()), (Some(2), Some(2)));
    assert!(tx.is_empty() && rx.is_empty() && !tx.is_full() && !rx.is_full());
    tx.send(1).unwrap();
    assert_eq!((tx.len(), rx.len()), (1, 1));
    assert!(!tx.is_empty() && !rx.is_empty() && !tx.is_full() && !rx.is_full());
    tx.send(2).unwrap();
    assert_eq!((tx.len(), rx.len()), (2, 2));
    assert!(tx.is_full() && rx.is_full());
    rx.recv().unwrap();
    assert_eq!(rx.len(), 1);
    assert!(!rx.is_full());

    let (tx, rx) = unbounded::<u8>();
    assert_eq!((tx.capacity(), rx.capacity()), (None, None));
    assert!(tx.is_empty() && rx.is_empty() && !tx.is_full() && !rx.is_full());
    for _ in 0..1000 {
        tx.send(0).unwrap();
    }
    assert_eq!((tx.len(), rx.len()), (1000, 1000));
    assert!(!tx.is_full() && !rx.is_empty());

    // Sizes too large to preallocate are fine.
    let (tx, rx) = bounded::<u8>(usize::MAX);
    tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
    assert!(tx.capacity().is_some());
}

#[test]
fn handles_are_send_sync_clone_debug_and_compare() {
    fn send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    send_sync::<Sender<String>>();
    send_sync::<Receiver<String>>();
    // Debug does not need `T: Debug`.
    struct Opaque;
    let (tx, rx) = unbounded::<Opaque>();
    assert!(!format!("{tx:?}").is_empty());
    assert!(!format!("{rx:?}").is_empty());
    assert!(tx.same_channel(&tx.clone()));
    assert!(rx.same_channel(&rx.clone()));
    let (tx2, rx2) = unbounded::<Opaque>();
    assert!(!tx.same_channel(&tx2));
    assert!(!rx.same_channel(&rx2));
}

#[test]
fn zero_sized_messages() {
    for cap in [Some(0), Some(2), None] {
        let (tx, rx) = match cap {
            Some(n) => bounded::<()>(n),
            None => unbounded::<()>(),
        };
        let producer = spawn(Side::Co, move || {
            for _ in 0..1000 {
                tx.send(()).unwrap();
            }
        });
        assert_eq!(rx.iter().count(), 1000);
        producer.join();
    }
}

// ---------------------------------------------------------------------------
// Disconnection

#[test]
fn receivers_drain_queued_messages_then_see_disconnection() {
    for cap in [Some(5), None] {
        let (tx, rx) = match cap {
            Some(n) => bounded::<u32>(n),
            None => unbounded::<u32>(),
        };
        let tx2 = tx.clone();
        let rx2 = rx.clone();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        drop(tx);
        // One sender remains: not disconnected yet.
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(rx.recv_timeout(ms(10)), Ok(1));
        drop(tx2);
        assert_eq!(rx2.try_recv(), Ok(2));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Disconnected));
        let t = Instant::now();
        assert_eq!(rx.recv_timeout(LIMIT), Err(RecvTimeoutError::Disconnected));
        assert_eq!(
            rx.recv_deadline(Instant::now() + LIMIT),
            Err(RecvTimeoutError::Disconnected)
        );
        assert!(t.elapsed() < SLACK, "a disconnected recv returns at once");
    }
    let (tx, rx) = bounded::<u32>(0);
    drop(tx);
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn a_waiting_receiver_wakes_with_err_when_the_last_sender_goes() {
    for r in SIDES {
        for d in SIDES {
            for cap in [0, 2] {
                let (tx, rx) = bounded::<u32>(cap);
                let tx2 = tx.clone();
                let receiver = spawn(r, move || rx.recv());
                std::thread::sleep(ms(30));
                drop(tx2); // not the last one
                std::thread::sleep(ms(30));
                assert!(!receiver.is_finished(), "woken while a sender remains");
                let dropper = spawn(d, move || {
                    std::thread::sleep(ms(20));
                    drop(tx);
                });
                assert_eq!(receiver.join(), Err(RecvError), "{r:?} woken by {d:?}");
                dropper.join();
            }
        }
    }
}

#[test]
fn waiting_receivers_all_wake_on_disconnect() {
    let (tx, rx) = bounded::<u32>(0);
    let receivers: Vec<_> = (0..8)
        .map(|i| {
            let rx = rx.clone();
            let side = if i % 2 == 0 { Side::Co } else { Side::Thread };
            spawn(side, move || rx.recv_timeout(LIMIT))
        })
        .collect();
    std::thread::sleep(ms(50));
    drop(tx);
    for r in receivers {
        assert_eq!(r.join(), Err(RecvTimeoutError::Disconnected));
    }
}

#[test]
fn send_without_receivers_fails_and_hands_the_message_back() {
    for cap in [Some(0), Some(2), None] {
        let (tx, rx) = match cap {
            Some(n) => bounded::<String>(n),
            None => unbounded::<String>(),
        };
        let rx2 = rx.clone();
        drop(rx);
        // rx2 remains: queued (full, for the rendezvous channel).
        let _ = tx.try_send("queued".into());
        drop(rx2);
        assert_eq!(tx.send("a".into()), Err(SendError("a".into())));
        assert_eq!(
            tx.try_send("b".into()),
            Err(TrySendError::Disconnected("b".into()))
        );
        assert_eq!(
            tx.send_timeout("c".into(), LIMIT),
            Err(SendTimeoutError::Disconnected("c".into()))
        );
        assert_eq!(
            tx.send_deadline("d".into(), Instant::now() + LIMIT),
            Err(SendTimeoutError::Disconnected("d".into()))
        );
        assert!(tx.is_empty(), "queued messages were dropped");
    }
}

#[test]
fn a_waiting_sender_wakes_with_its_message_when_the_last_receiver_goes() {
    for s in SIDES {
        for d in SIDES {
            for cap in [0, 1] {
                let (tx, rx) = bounded::<String>(cap);
                if cap == 1 {
                    tx.send("queued".into()).unwrap();
                }
                let rx2 = rx.clone();
                let sender = spawn(s, move || tx.send("mine".into()));
                std::thread::sleep(ms(30));
                drop(rx2);
                std::thread::sleep(ms(30));
                assert!(!sender.is_finished(), "woken while a receiver remains");
                let dropper = spawn(d, move || {
                    std::thread::sleep(ms(20));
                    drop(rx);
                });
                let err = sender.join().unwrap_err();
                assert_eq!(err.into_inner(), "mine", "{s:?} woken by {d:?}, cap {cap}");
                dropper.join();
            }
        }
    }
}

#[test]
fn queued_messages_are_dropped_with_the_last_receiver() {
    let drops = Arc::new(AtomicUsize::new(0));
    let c = || Counted(drops.clone());

    // Bounded, with a waiting sender whose message must come back, not drop.
    let (tx, rx) = bounded::<Counted>(4);
    for _ in 0..4 {
        tx.send(c()).unwrap();
    }
    let tx2 = tx.clone();
    let extra = c();
    let sender = spawn(Side::Thread, move || tx2.send(extra));
    std::thread::sleep(ms(30));
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a receiver remains");
    drop(rx2);
    assert_eq!(drops.load(Ordering::SeqCst), 4, "queued messages dropped");
    let back = sender.join().unwrap_err().into_inner();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        4,
        "the waiting sender's message came back"
    );
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    // A failed send hands the message back undropped.
    let err = tx.send(c()).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    drop(err);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
    drop(tx);

    // Unbounded, many messages.
    drops.store(0, Ordering::SeqCst);
    let (tx, rx) = unbounded::<Counted>();
    for _ in 0..1000 {
        tx.send(c()).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 1000);
    drop(tx);

    // Senders gone first: the messages go with the channel.
    drops.store(0, Ordering::SeqCst);
    let (tx, rx) = bounded::<Counted>(8);
    for _ in 0..5 {
        tx.send(c()).unwrap();
    }
    drop(tx);
    drop(rx.recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 5);

    assert_eq!(Arc::strong_count(&drops), 1, "no message leaked");
}

/// A message whose destructor uses its own channel: the channel must not
/// drop queued messages while holding its lock.
struct Reentrant {
    tx: Option<Sender<Reentrant>>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if let Some(tx) = self.tx.take() {
            let _ = tx.len();
            let inner = Reentrant {
                tx: None,
                drops: self.drops.clone(),
            };
            // The receivers are gone: the message comes back and drops here.
            assert!(tx.try_send(inner).unwrap_err().is_disconnected());
            // Dropping `tx` may disconnect the sending side too.
        }
    }
}

#[test]
fn message_destructors_may_use_the_channel() {
    // On a thread with a deadline: a self-deadlock fails the test.
    on(Side::Thread, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<Reentrant>(8);
        for _ in 0..4 {
            tx.send(Reentrant {
                tx: Some(tx.clone()),
                drops: drops.clone(),
            })
            .unwrap();
        }
        drop(tx); // the queued messages now hold the only senders
        drop(rx); // the last receiver: drops the 4 messages, each try_sends
        assert_eq!(drops.load(Ordering::SeqCst), 8);
    });
}

#[test]
fn iterators() {
    // iter ends when the senders are gone and the queue is drained.
    for side in SIDES {
        let (tx, rx) = bounded::<u32>(2);
        let producer = spawn(side, move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        let got: Vec<u32> = on(Side::Thread, move || rx.iter().collect());
        assert!(got.into_iter().eq(0..100));
        producer.join();
    }
    // `for .. in &rx` and into_iter.
    let (tx, rx) = unbounded::<u32>();
    let producer = spawn(Side::Co, move || (0..10).for_each(|i| tx.send(i).unwrap()));
    let mut sum = 0;
    for v in &rx {
        sum += v;
    }
    assert_eq!(sum, 45);
    producer.join();
    let (tx, rx) = bounded::<u32>(0);
    let consumer = spawn(Side::Co, move || rx.into_iter().collect::<Vec<_>>());
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert!(consumer.join().into_iter().eq(0..10));

    // try_iter takes what is ready and never waits.
    let (tx, rx) = unbounded::<u32>();
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    let t = Instant::now();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(rx.try_iter().next(), None, "empty, senders alive: no wait");
    assert!(t.elapsed() < SLACK);
    tx.send(3).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [3]);
}

// ---------------------------------------------------------------------------
// Timeouts

#[test]
fn recv_timeout_and_deadline_time_out_and_leave_no_waiter_behind() {
    for side in SIDES {
        on(side, move || {
            let (tx, rx) = bounded::<u32>(0);
            let t = Instant::now();
            assert_eq!(rx.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
            let waited = t.elapsed();
            assert!(waited >= ms(50), "{side:?}: early: {waited:?}");
            assert!(waited < ms(50) + SLACK, "{side:?}: late: {waited:?}");
            // The timed-out receiver is gone: nobody takes this message.
            assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));

            let t = Instant::now();
            let deadline = t + ms(40);
            assert_eq!(rx.recv_deadline(deadline), Err(RecvTimeoutError::Timeout));
            assert!(Instant::now() >= deadline);
            assert!(t.elapsed() < ms(40) + SLACK);
            assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
            assert_eq!(
                tx.send_timeout(3, ms(10)),
                Err(SendTimeoutError::Timeout(3))
            );

            // A deadline in the past or a zero timeout: no wait at all.
            let past = Instant::now() - ms(100);
            assert_eq!(rx.recv_deadline(past), Err(RecvTimeoutError::Timeout));
            assert_eq!(
                rx.recv_timeout(Duration::ZERO),
                Err(RecvTimeoutError::Timeout)
            );

            // The channel still works.
            let receiver = weft::go(move || (rx.recv_timeout(LIMIT), rx));
            assert_eq!(tx.send_timeout(4, LIMIT), Ok(()));
            let (got, rx) = receiver.join().unwrap();
            assert_eq!(got, Ok(4));

            // Buffered channels too.
            let (tx2, rx2) = bounded::<u32>(1);
            assert_eq!(rx2.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
            tx2.send(5).unwrap();
            assert_eq!(rx2.recv_timeout(ms(20)), Ok(5));
            drop((tx, rx));
        });
    }
}

#[test]
fn send_timeout_and_deadline_time_out_and_leave_no_waiter_behind() {
    for side in SIDES {
        on(side, move || {
            // Full buffered channel.
            let (tx, rx) = bounded::<u32>(1);
            tx.send(0).unwrap();
            let t = Instant::now();
            assert_eq!(
                tx.send_timeout(1, ms(50)),
                Err(SendTimeoutError::Timeout(1))
            );
            let waited = t.elapsed();
            assert!(waited >= ms(50) && waited < ms(50) + SLACK, "{waited:?}");
            let deadline = Instant::now() + ms(30);
            assert_eq!(
                tx.send_deadline(2, deadline),
                Err(SendTimeoutError::Timeout(2))
            );
            assert!(Instant::now() >= deadline);
            // Only the queued message is there; the timed-out ones are not.
            assert_eq!(rx.try_recv(), Ok(0));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(tx.send_timeout(3, ms(10)), Ok(()));
            assert_eq!(rx.recv(), Ok(3));

            // Rendezvous: the timed-out sender is gone.
            let (tx, rx) = bounded::<u32>(0);
            assert_eq!(
                tx.send_timeout(1, ms(30)),
                Err(SendTimeoutError::Timeout(1))
            );
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(
                tx.send_deadline(2, Instant::now() - ms(1)),
                Err(SendTimeoutError::Timeout(2))
            );
            assert_eq!(rx.recv_timeout(ms(10)), Err(RecvTimeoutError::Timeout));
            let receiver = weft::go(move || rx.recv_timeout(LIMIT));
            assert_eq!(tx.send_timeout(4, LIMIT), Ok(()));
            assert_eq!(receiver.join().unwrap(), Ok(4));
        });
    }
}

#[test]
fn huge_timeouts_mean_wait_for_ever() {
    for side in SIDES {
        let (tx, rx) = bounded::<u32>(0);
        let receiver = spawn(side, move || rx.recv_timeout(Duration::MAX));
        std::thread::sleep(ms(20));
        tx.send_timeout(1, Duration::MAX).unwrap();
        assert_eq!(receiver.join(), Ok(1));
    }
}

/// Timeouts racing with partners: both sides wait with tiny timeouts and
/// retry, so aborts race with claims all the time. Every message is received
/// exactly once, in order (a claim that beats an abort completes the
/// operation; an abort that beats it leaves the message with the sender).
#[test]
fn timeouts_racing_with_partners_lose_nothing() {
    const N: u64 = 2_000;
    let combos = [
        (Side::Thread, Side::Thread),
        (Side::Thread, Side::Co),
        (Side::Co, Side::Thread),
    ];
    for (s, r) in combos {
        for cap in [0, 1] {
            let (tx, rx) = bounded::<u64>(cap);
            let sender = spawn(s, move || {
                let deadline = Instant::now() + LIMIT;
                let mut timeouts = 0u64;
                for i in 0..N {
                    let mut v = i;
                    loop {
                        assert!(Instant::now() < deadline, "sent only {i} of {N}");
                        match tx.send_timeout(v, Duration::from_micros(i % 5 * 10 + 1)) {
                            Ok(()) => break,
                            Err(SendTimeoutError::Timeout(back)) => {
                                timeouts += 1;
                                v = back;
                            }
                            Err(SendTimeoutError::Disconnected(_)) => panic!("disconnected"),
                        }
                    }
                }
                timeouts
            });
            let receiver = spawn(r, move || {
                let deadline = Instant::now() + LIMIT;
                let mut got = Vec::with_capacity(N as usize);
                let mut timeouts = 0u64;
                while got.len() < N as usize {
                    assert!(
                        Instant::now() < deadline,
                        "received only {} of {N}",
                        got.len()
                    );
                    let n = got.len() as u64;
                    match rx.recv_timeout(Duration::from_micros(n % 3 * 10 + 1)) {
                        Ok(v) => got.push(v),
                        Err(RecvTimeoutError::Timeout) => timeouts += 1,
                        Err(RecvTimeoutError::Disconnected) => panic!("disconnected at {n}"),
                    }
                }
                // Nothing more arrives once the sender is done.
                assert_eq!(rx.recv_timeout(LIMIT), Err(RecvTimeoutError::Disconnected));
                (got, timeouts)
            });
            let _send_timeouts = sender.join();
            let (got, _recv_timeouts) = receiver.join();
            assert!(
                got.into_iter().eq(0..N),
                "lost, duplicated or reordered: {s:?} -> {r:?}, cap {cap}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Error types

#[test]
fn error_types() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> String {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
        let s = boxed.to_string();
        assert!(!s.is_empty());
        s
    }
    struct NoDebug;

    is_error(RecvError);
    is_error(TryRecvError::Empty);
    is_error(TryRecvError::Disconnected);
    is_error(RecvTimeoutError::Timeout);
    is_error(RecvTimeoutError::Disconnected);
    is_error(SendError(1u8));
    is_error(TrySendError::Full(1u8));
    is_error(TrySendError::Disconnected(1u8));
    is_error(SendTimeoutError::Timeout(1u8));
    is_error(SendTimeoutError::Disconnected(1u8));
    assert_ne!(
        TryRecvError::Empty.to_string(),
        TryRecvError::Disconnected.to_string()
    );
    assert_ne!(
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Disconnected.to_string()
    );
    assert_ne!(
        TrySendError::Full(()).to_string(),
        TrySendError::Disconnected(()).to_string()
    );
    assert_ne!(
        SendTimeoutError::Timeout(()).to_string(),
        SendTimeoutError::Disconnected(()).to_string()
    );
    // Display and Debug without `T: Debug` / `T: Display`.
    assert!(!SendError(NoDebug).to_string().is_empty());
    assert!(!format!("{:?}", SendError(NoDebug)).is_empty());
    assert!(!format!("{:?}", TrySendError::Full(NoDebug)).is_empty());
    assert!(!format!("{:?}", SendTimeoutError::Timeout(NoDebug)).is_empty());
    assert!(!format!("{:?}", RecvTimeoutError::Timeout).is_empty());

    // into_inner and the predicates.
    assert_eq!(SendError("a").into_inner(), "a");
    assert_eq!(SendError("a").0, "a");
    assert_eq!(TrySendError::Full("b").into_inner(), "b");
    assert_eq!(TrySendError::Disconnected("c").into_inner(), "c");
    assert_eq!(SendTimeoutError::Timeout("d").into_inner(), "d");
    assert_eq!(SendTimeoutError::Disconnected("e").into_inner(), "e");
    assert!(TrySendError::Full(()).is_full() && !TrySendError::Full(()).is_disconnected());
    assert!(TrySendError::Disconnected(()).is_disconnected());
    assert!(!TrySendError::Disconnected(()).is_full());
    assert!(SendTimeoutError::Timeout(()).is_timeout());
    assert!(!SendTimeoutError::Timeout(()).is_disconnected());
    assert!(SendTimeoutError::Disconnected(()).is_disconnected());
    assert!(!SendTimeoutError::Disconnected(()).is_timeout());
    assert!(TryRecvError::Empty.is_empty() && !TryRecvError::Empty.is_disconnected());
    assert!(TryRecvError::Disconnected.is_disconnected());
    assert!(RecvTimeoutError::Timeout.is_timeout());
    assert!(RecvTimeoutError::Disconnected.is_disconnected());
    assert!(!RecvTimeoutError::Disconnected.is_timeout());

    // From conversions.
    assert_eq!(
        TrySendError::from(SendError(1)),
        TrySendError::Disconnected(1)
    );
    assert_eq!(
        SendTimeoutError::from(SendError(2)),
        SendTimeoutError::Disconnected(2)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
    assert_eq!(
        RecvTimeoutError::from(RecvError),
        RecvTimeoutError::Disconnected
    );
    // `?` converts into `Box<dyn Error>`.
    fn fails() -> Result<(), Box<dyn std::error::Error>> {
        let (tx, rx) = bounded::<u8>(0);
        drop(rx);
        tx.send(1)?;
        Ok(())
    }
    assert!(fails().is_err());

    // Clone, Copy, Eq where the message allows.
    let e = TrySendError::Full(3);
    let f = e;
    assert_eq!(e, f);
    let g = SendError(String::from("x")).clone();
    assert_eq!(g, SendError("x".to_string()));
}

// ---------------------------------------------------------------------------
// Stress

/// 8 producers and 8 consumers (half coroutines, half threads on each side)
/// move `n` distinct values; each is received exactly once.
fn stress(cap: usize, n: u64) -> Duration {
    const SIDE: usize = 8;
    let start = Instant::now();
    let (tx, rx) = bounded::<u64>(cap);
    let seen: Arc<Vec<AtomicU64>> =
        Arc::new((0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect());
    let producers: Vec<_> = (0..SIDE)
        .map(|p| {
            let tx = tx.clone();
            let side = if p % 2 == 0 { Side::Co } else { Side::Thread };
            spawn(side, move || {
                let mut v = p as u64;
                while v < n {
                    tx.send(v).unwrap();
                    v += SIDE as u64;
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..SIDE)
        .map(|c| {
            let (rx, seen) = (rx.clone(), seen.clone());
            let side = if c % 2 == 0 { Side::Co } else { Side::Thread };
            spawn(side, move || {
                let mut count = 0u64;
                for v in rx.iter() {
                    assert!(v < n, "a value that was never sent: {v}");
                    let bit = 1u64 << (v % 64);
                    let old = seen[(v / 64) as usize].fetch_or(bit, Ordering::Relaxed);
                    assert_eq!(old & bit, 0, "value {v} received twice");
                    count += 1;
                }
                count
            })
        })
        .collect();
    drop(rx);
    producers.into_iter().for_each(Task::join);
    let total: u64 = consumers.into_iter().map(Task::join).sum();
    assert_eq!(total, n, "messages lost");
    for (i, w) in seen.iter().enumerate() {
        let w = w.load(Ordering::Relaxed);
        let expect = if (i as u64 + 1) * 64 <= n {
            u64::MAX
        } else {
            (1u64 << (n % 64)) - 1
        };
        assert_eq!(w, expect, "word {i}: some value was never received");
    }
    start.elapsed()
}

#[test]
fn stress_mpmc_bounded_64_one_million() {
    let took = stress(64, 1_000_000);
    eprintln!("bounded(64), 1M messages, 8x8: {took:?}");
}

#[test]
fn stress_mpmc_rendezvous() {
    let took = stress(0, 100_000);
    eprintln!("bounded(0), 100k messages, 8x8: {took:?}");
}

#[test]
fn stress_mpmc_bounded_1() {
    let took = stress(1, 100_000);
    eprintln!("bounded(1), 100k messages, 8x8: {took:?}");
}

// ---------------------------------------------------------------------------
// Many coroutines

#[test]
fn ten_thousand_coroutines_waiting_in_recv_get_one_message_each() {
    const N: u64 = 10_000;
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let (done_tx, done_rx) = unbounded::<u64>();
    let waiting = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (rx, done_tx, waiting) = (rx.clone(), done_tx.clone(), waiting.clone());
            rt.spawn(move || {
                waiting.fetch_add(1, Ordering::SeqCst);
                let v = rx.recv().unwrap();
                done_tx.send(v).unwrap();
            })
        })
        .collect();
    drop(done_tx);
    wait_until("every coroutine started", || {
        waiting.load(Ordering::SeqCst) == N as usize
    });
    std::thread::sleep(ms(20));
    assert!(rx.is_empty());
    let start = Instant::now();
    for i in 0..N {
        tx.send_timeout(i, LIMIT).expect("a receiver was waiting");
    }
    assert_eq!(
        tx.try_send(N),
        Err(TrySendError::Full(N)),
        "no receiver left"
    );
    let mut got = Vec::with_capacity(N as usize);
    while got.len() < N as usize {
        got.push(
            done_rx
                .recv_timeout(LIMIT)
                .expect("every coroutine reports"),
        );
    }
    got.sort_unstable();
    assert!(got.into_iter().eq(0..N));
    for h in handles {
        h.join().unwrap();
    }
    eprintln!(
        "10k rendezvous to waiting coroutines: {:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Runtime shutdown

#[test]
fn runtime_drop_unwinds_a_coroutine_waiting_in_recv() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = bounded::<u32>(0);
    let unwound = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (guard, s, rx2) = (SetOnDrop(unwound.clone()), started.clone(), rx.clone());
    let h = rt.spawn(move || {
        let _guard = guard;
        s.store(true, Ordering::SeqCst);
        let got = rx2.recv();
        panic!("recv returned {got:?} instead of unwinding");
    });
    wait_until("the coroutine waits", || started.load(Ordering::SeqCst));
    std::thread::sleep(ms(30));
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(unwound.load(Ordering::SeqCst), "the guard's destructor ran");
    assert!(h.join().is_err(), "the joiner sees the cancellation");

    // The dead receiver is no longer registered: nobody takes this.
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    // And the channel works for others.
    let receiver = weft::go(move || rx.recv_timeout(LIMIT));
    tx.send_timeout(2, LIMIT).unwrap();
    assert_eq!(receiver.join().unwrap(), Ok(2));
}

#[test]
fn runtime_drop_unwinds_a_coroutine_waiting_in_send() {
    for cap in [0, 1] {
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        let (tx, rx) = bounded::<String>(cap);
        if cap == 1 {
            tx.send("queued".into()).unwrap();
        }
        let unwound = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (guard, s, tx2) = (SetOnDrop(unwound.clone()), started.clone(), tx.clone());
        let h = rt.spawn(move || {
            let _guard = guard;
            s.store(true, Ordering::SeqCst);
            let res = tx2.send("from the dead".into());
            panic!("send returned {res:?} instead of unwinding");
        });
        wait_until("the coroutine waits", || started.load(Ordering::SeqCst));
        std::thread::sleep(ms(30));
        drop(rt);
        assert!(unwound.load(Ordering::SeqCst), "the guard's destructor ran");
        assert!(h.join().is_err());

        // The dead sender's message never arrives.
        if cap == 1 {
            assert_eq!(rx.try_recv().as_deref(), Ok("queued"));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let sender = weft::go(move || tx.send_timeout("alive".into(), LIMIT));
        assert_eq!(rx.recv_timeout(LIMIT).as_deref(), Ok("alive"));
        sender.join().unwrap().unwrap();
    }
}

#[test]
fn runtime_drop_with_many_waiters_on_one_channel() {
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u32>(0);
    let unwound = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (tx, rx, s) = (tx.clone(), rx.clone(), started.clone());
            let guard = Counted(unwound.clone());
            rt.spawn(move || {
                let _guard = guard;
                s.fetch_add(1, Ordering::SeqCst);
                if i % 2 == 0 {
                    let _ = rx.recv();
                } else {
                    let _ = tx.send(i);
                }
                // Only one pairing per recv/send pair can complete; the
                // survivors wait for ever.
                weft::sleep(Duration::from_secs(3600));
            })
        })
        .collect();
    wait_until("every coroutine started", || {
        started.load(Ordering::SeqCst) == 200
    });
    std::thread::sleep(ms(30));
    drop(rt);
    assert_eq!(unwound.load(Ordering::SeqCst), 200);
    for h in handles {
        assert!(h.join().is_err());
    }
    assert_eq!(tx.try_send(0), Err(TrySendError::Full(0)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

// ---------------------------------------------------------------------------
// Timer channels: after, at, tick, never

#[test]
fn after_delivers_once_when_due_then_nothing() {
    for side in SIDES {
        on(side, || {
            let start = Instant::now();
            let rx = weft::channel::after(ms(30));
            assert!(rx.try_recv().unwrap_err().is_empty());
            let due = rx.recv_timeout(LIMIT).expect("after fires");
            assert!(due >= start + ms(30));
            assert!(start.elapsed() >= ms(30));
            assert!(start.elapsed() < ms(30) + SLACK);
            // Once only, and never disconnected.
            assert_eq!(rx.recv_timeout(ms(30)), Err(RecvTimeoutError::Timeout));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        });
    }
}

#[test]
fn at_delivers_its_instant() {
    let when = Instant::now() + ms(10);
    let got = weft::go(move || weft::channel::at(when).recv().unwrap())
        .join()
        .unwrap();
    assert_eq!(got, when);
}

#[test]
fn tick_delivers_periodically_and_skips_missed_ticks() {
    for side in SIDES {
        on(side, || {
            let start = Instant::now();
            let ticks = weft::channel::tick(ms(10));
            let mut last = start;
            for _ in 0..5 {
                let due = ticks.recv_timeout(LIMIT).expect("tick");
                assert!(due > last);
                last = due;
            }
            assert!(start.elapsed() >= ms(50));
            // Nobody receives for 100 ms: the missed ticks are not queued.
            std::thread::sleep(ms(100));
            let resumed = Instant::now();
            ticks.recv_timeout(LIMIT).expect("a due tick");
            let next = ticks.recv_timeout(LIMIT).expect("the next tick");
            assert!(next > resumed, "missed ticks were queued");
        });
    }
}

#[test]
fn never_never_delivers_nor_disconnects() {
    let rx = weft::channel::never::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
}
