//! `weft::select!` against crossbeam-channel's documented behaviour and Go's
//! `select`, between coroutines, plain threads, and both.
//!
//! Every wait is bounded: a bug makes a test fail (see `Task::join`,
//! `LIMIT` and the `default(LIMIT)` arms), never hang.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::channel::{bounded, unbounded, Receiver, RecvError, SendError, Sender, TryRecvError};

mod common;
use common::sides::*;

// ---------------------------------------------------------------------------
// Basics

#[test]
fn recv_and_send_arms() {
    for side in SIDES {
        on(side, || {
            let (tx1, rx1) = unbounded::<i32>();
            let (tx2, rx2) = bounded::<i32>(1);
            tx1.send(5).unwrap();
            let got = weft::select! {
                recv(rx1) -> msg => msg,
                recv(rx2) -> _ => panic!("rx2 is empty"),
                default(LIMIT) => panic!("rx1 was ready"),
            };
            assert_eq!(got, Ok(5));

            let res = weft::select! {
                send(tx2, 6) -> res => res,
                default(LIMIT) => panic!("tx2 had room"),
            };
            assert_eq!(res, Ok(()));
            assert_eq!(rx2.try_recv(), Ok(6));

            // A send arm waits for room, a recv arm for a message.
            tx2.send(7).unwrap();
            let consumer = weft::go({
                let rx2 = rx2.clone();
                move || {
                    weft::sleep(ms(30));
                    (rx2.recv(), rx2.recv())
                }
            });
            let t = Instant::now();
            weft::select! {
                send(tx2, 8) -> res => res.unwrap(),
                default(LIMIT) => panic!("the consumer made room"),
            }
            assert!(t.elapsed() >= ms(20), "the send arm did not wait for room");
            assert_eq!(consumer.join().unwrap(), (Ok(7), Ok(8)));

            let producer = weft::go(move || {
                weft::sleep(ms(30));
                tx1.send(9).unwrap();
            });
            let got = weft::select! {
                recv(rx1) -> msg => msg.unwrap(),
                default(LIMIT) => panic!("the producer sent"),
            };
            assert_eq!(got, 9);
            producer.join().unwrap();
        });
    }
}

#[test]
fn default_fires_only_when_nothing_is_ready() {
    let (tx, rx) = bounded::<u32>(1);
    let (tx0, rx0) = bounded::<u32>(0);
    // Nothing ready: default, at once.
    let t = Instant::now();
    let got = weft::select! {
        recv(rx) -> _ => "recv",
        recv(rx0) -> _ => "recv0",
        send(tx0, 1) -> _ => "send0",
        default => "default",
    };
    assert_eq!(got, "default");
    assert!(t.elapsed() < SLACK);
    // The unsent message of the default round was not left in the channel.
    assert_eq!(rx0.try_recv(), Err(TryRecvError::Empty));

    // Something ready: never default.
    tx.send(1).unwrap();
    let got = weft::select! {
        recv(rx) -> msg => msg.unwrap(),
        recv(rx0) -> _ => 100,
        default => 0,
    };
    assert_eq!(got, 1);
    let got = weft::select! {
        send(tx, 2) -> res => { res.unwrap(); 2 }
        default => 0,
    };
    assert_eq!(got, 2);
    // A disconnected channel is ready too.
    drop(tx0);
    let got = weft::select! {
        recv(rx0) -> msg => msg,
        default => Ok(0),
    };
    assert_eq!(got, Err(RecvError));
    // A rendezvous partner that waits is ready.
    let (tx0, rx0) = bounded::<u32>(0);
    let sender = spawn(Side::Thread, move || tx0.send(3));
    let deadline = Instant::now() + LIMIT;
    loop {
        let got = weft::select! {
            recv(rx0) -> msg => Some(msg.unwrap()),
            default => None,
        };
        if let Some(v) = got {
            assert_eq!(v, 3);
            break;
        }
        assert!(Instant::now() < deadline, "the waiting sender never paired");
        std::thread::sleep(ms(1));
    }
    assert_eq!(sender.join(), Ok(()));
}

#[test]
fn default_with_timeout_fires_at_about_the_timeout() {
    for side in SIDES {
        on(side, move || {
            let (_tx, rx) = unbounded::<u32>();
            let (tx0, rx0) = bounded::<u32>(0);
            for timeout in [ms(0), ms(20), ms(60)] {
                let t = Instant::now();
                let got = weft::select! {
                    recv(rx) -> _ => "recv",
                    send(tx0, 1) -> _ => "send",
                    default(timeout) => "timeout",
                };
                let waited = t.elapsed();
                assert_eq!(got, "timeout");
                assert!(
                    waited >= timeout,
                    "{side:?}: early: {waited:?} < {timeout:?}"
                );
                assert!(waited < timeout + SLACK, "{side:?}: late: {waited:?}");
                // No waiter left behind: the dead select's send arm does not
                // pair, nor does its recv arm take a message.
                assert_eq!(rx0.try_recv(), Err(TryRecvError::Empty));
                assert!(tx0.try_send(2).unwrap_err().is_full());
            }
            // A timeout that does not fit an Instant waits for ever.
            let (tx, rx) = bounded::<u32>(0);
            let sender = weft::go(move || {
                weft::sleep(ms(20));
                tx.send(4).unwrap();
            });
            let got = weft::select! {
                recv(rx) -> msg => msg.unwrap(),
                default(Duration::MAX) => 0,
            };
            assert_eq!(got, 4);
            sender.join().unwrap();
        });
    }
}

#[test]
fn a_recv_arm_on_a_disconnected_channel_is_selected_with_err() {
    for side in SIDES {
        on(side, || {
            let (tx, rx) = bounded::<u32>(2);
            let (_other_tx, other_rx) = unbounded::<u32>();
            tx.send(1).unwrap();
            drop(tx);
            // Queued messages first, then the error.
            let got = weft::select! {
                recv(rx) -> msg => msg,
                recv(other_rx) -> _ => panic!("nothing there"),
                default(LIMIT) => panic!("rx was ready"),
            };
            assert_eq!(got, Ok(1));
            let got = weft::select! {
                recv(rx) -> msg => msg,
                recv(other_rx) -> _ => panic!("nothing there"),
                default(LIMIT) => panic!("rx is disconnected: ready"),
            };
            assert_eq!(got, Err(RecvError));

            // A select that waits is woken by the disconnect.
            let (tx, rx) = bounded::<u32>(0);
            let dropper = weft::go(move || {
                weft::sleep(ms(30));
                drop(tx);
            });
            let got = weft::select! {
                recv(other_rx) -> _ => panic!("nothing there"),
                recv(rx) -> msg => msg,
                default(LIMIT) => panic!("the disconnect did not wake the select"),
            };
            assert_eq!(got, Err(RecvError));
            dropper.join().unwrap();
        });
    }
}

#[test]
fn a_send_arm_without_receivers_is_selected_with_its_message() {
    for side in SIDES {
        on(side, || {
            for cap in [Some(0), Some(1), None] {
                let (tx, rx) = match cap {
                    Some(n) => bounded::<String>(n),
                    None => unbounded::<String>(),
                };
                let (_other_tx, other_rx) = unbounded::<u32>();
                drop(rx);
                let got = weft::select! {
                    recv(other_rx) -> _ => panic!("nothing there"),
                    send(tx, "v".to_string()) -> res => res,
                    default(LIMIT) => panic!("a disconnected send is ready"),
                };
                assert_eq!(got, Err(SendError("v".to_string())));
            }

            // A select waiting to send is woken by the disconnect and gets
            // its message back.
            let (tx, rx) = bounded::<String>(1);
            tx.send("queued".into()).unwrap();
            let dropper = weft::go(move || {
                weft::sleep(ms(30));
                drop(rx);
            });
            let got = weft::select! {
                send(tx, "mine".to_string()) -> res => res,
                default(LIMIT) => panic!("the disconnect did not wake the select"),
            };
            assert_eq!(got.unwrap_err().into_inner(), "mine");
            dropper.join().unwrap();
        });
    }
}

/// As in crossbeam-channel, a send arm's value is evaluated only if that
/// arm is chosen: the losers' values are never made.
#[test]
fn send_values_are_made_only_for_the_chosen_arm() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    let make = || {
        made.fetch_add(1, Ordering::SeqCst);
        Counted(drops.clone())
    };
    let (full_tx, _full_rx) = bounded::<Counted>(0);
    let (tx, rx) = unbounded::<Counted>();
    for _ in 0..10 {
        weft::select! {
            send(full_tx, make()) -> res => res.unwrap(),
            send(tx, make()) -> res => res.unwrap(),
        }
    }
    assert_eq!(made.load(Ordering::SeqCst), 10, "one value per select");
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(rx.len(), 10);
    weft::select! {
        send(full_tx, make()) -> _ => panic!("nobody receives"),
        default => {}
    }
    assert_eq!(made.load(Ordering::SeqCst), 10, "no value for the default");
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    assert_eq!(Arc::strong_count(&drops), 1, "nothing leaked");
}

// ---------------------------------------------------------------------------
// Rendezvous pairing

#[test]
fn a_select_pairs_with_a_plain_send_or_recv_on_a_rendezvous_channel() {
    for a in SIDES {
        for b in SIDES {
            // select recv <-> plain send
            let (tx, rx) = bounded::<u32>(0);
            let (_idle_tx, idle_rx) = bounded::<u32>(0);
            let selector = spawn(a, move || {
                weft::select! {
                    recv(idle_rx) -> _ => panic!("idle"),
                    recv(rx) -> msg => msg,
                    default(LIMIT) => panic!("the sender never paired"),
                }
            });
            let sender = spawn(b, move || {
                weft::sleep(ms(20));
                tx.send(1)
            });
            assert_eq!(selector.join(), Ok(1), "{a:?} select, {b:?} send");
            assert_eq!(sender.join(), Ok(()));

            // select send <-> plain recv
            let (tx, rx) = bounded::<u32>(0);
            let (idle_tx, _idle_rx) = bounded::<u32>(0);
            let selector = spawn(a, move || {
                weft::select! {
                    send(idle_tx, 0) -> _ => panic!("idle"),
                    send(tx, 2) -> res => res,
                    default(LIMIT) => panic!("the receiver never paired"),
                }
            });
            let receiver = spawn(b, move || {
                weft::sleep(ms(20));
                rx.recv()
            });
            assert_eq!(selector.join(), Ok(()), "{a:?} select, {b:?} recv");
            assert_eq!(receiver.join(), Ok(2));

            // The plain side first, the select second.
            let (tx, rx) = bounded::<u32>(0);
            let sender = spawn(b, move || tx.send(3));
            std::thread::sleep(ms(20));
            let got = on(a, move || {
                weft::select! {
                    recv(rx) -> msg => msg,
                    default(LIMIT) => panic!("the waiting sender never paired"),
                }
            });
            assert_eq!(got, Ok(3));
            assert_eq!(sender.join(), Ok(()));
        }
    }
}

/// Two selects on opposite sides of one rendezvous channel, each with an
/// idle arm as well so that both really register and wait: every send
/// pairs with a receive, in order.
fn two_selects_pair(
    sender_on: impl FnOnce(Box<dyn FnOnce() + Send>) -> Task<()>,
    receiver_on: impl FnOnce(Box<dyn FnOnce() -> Vec<u32> + Send>) -> Task<Vec<u32>>,
    n: u32,
) {
    let (tx, rx) = bounded::<u32>(0);
    let (idle_tx, idle_rx) = bounded::<u32>(0);
    let sender = sender_on(Box::new(move || {
        let _keep = &idle_tx;
        for i in 0..n {
            weft::select! {
                recv(idle_rx) -> _ => panic!("idle"),
                send(tx, i) -> res => res.unwrap(),
                default(LIMIT) => panic!("the receiving select never paired"),
            }
        }
    }));
    let (idle_tx2, idle_rx2) = bounded::<u32>(0);
    let receiver = receiver_on(Box::new(move || {
        let _keep = &idle_rx2;
        let mut got = Vec::new();
        for _ in 0..n {
            weft::select! {
                send(idle_tx2, 0) -> _ => panic!("idle"),
                recv(rx) -> msg => got.push(msg.unwrap()),
                default(LIMIT) => panic!("the sending select never paired"),
            }
        }
        got
    }));
    sender.join();
    let got = receiver.join();
    assert!(got.into_iter().eq(0..n), "lost, duplicated or reordered");
}

#[test]
fn two_selects_pair_across_a_rendezvous_channel() {
    // Two coroutines on one worker: they take turns.
    let rt = Arc::new(weft::Runtime::builder().workers(1).build().unwrap());
    let (r1, r2) = (rt.clone(), rt.clone());
    two_selects_pair(
        move |f| Task::Co(r1.spawn(f)),
        move |f| Task::Co(r2.spawn(f)),
        2000,
    );
    // Two threads: they race.
    two_selects_pair(
        |f| Task::Thread(std::thread::spawn(f)),
        |f| Task::Thread(std::thread::spawn(f)),
        5000,
    );
    // A thread and a coroutine, both ways round.
    two_selects_pair(
        |f| Task::Thread(std::thread::spawn(f)),
        |f| Task::Co(weft::go(f)),
        3000,
    );
    two_selects_pair(
        |f| Task::Co(weft::go(f)),
        |f| Task::Thread(std::thread::spawn(f)),
        3000,
    );
    // Two coroutines on two workers.
    two_selects_pair(|f| Task::Co(weft::go(f)), |f| Task::Co(weft::go(f)), 3000);
}

#[test]
fn a_select_does_not_pair_with_itself() {
    for side in SIDES {
        on(side, move || {
            let (tx, rx) = bounded::<u32>(0);
            let t = Instant::now();
            let got = weft::select! {
                send(tx, 1) -> _ => "sent",
                recv(rx) -> _ => "received",
                default(ms(50)) => "timeout",
            };
            assert_eq!(got, "timeout", "{side:?}: the select paired with itself");
            assert!(t.elapsed() >= ms(50));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert!(tx.try_send(2).unwrap_err().is_full());
            // Arms in the other order, and no default: nothing is ready at
            // first, so it registers both arms; a partner then completes one.
            let other = {
                let rx = rx.clone();
                weft::go(move || {
                    weft::sleep(ms(30));
                    rx.recv_timeout(LIMIT)
                })
            };
            let got = weft::select! {
                recv(rx) -> msg => Err(msg),
                send(tx, 3) -> res => Ok(res),
            };
            assert_eq!(
                got,
                Ok(Ok(())),
                "{side:?}: the send arm paired with the receiver"
            );
            assert_eq!(other.join().unwrap(), Ok(3));
            let other = {
                let tx = tx.clone();
                weft::go(move || {
                    weft::sleep(ms(30));
                    tx.send_timeout(4, LIMIT)
                })
            };
            let got = weft::select! {
                send(tx, 5) -> res => Err(res),
                recv(rx) -> msg => Ok(msg),
            };
            assert_eq!(
                got,
                Ok(Ok(4)),
                "{side:?}: the recv arm paired with the sender"
            );
            other.join().unwrap().unwrap();
        });
    }
}

#[test]
fn two_selects_each_with_both_arms_on_one_rendezvous_channel_pair() {
    for (a, b) in [
        (Side::Thread, Side::Thread),
        (Side::Co, Side::Thread),
        (Side::Co, Side::Co),
    ] {
        for _ in 0..50 {
            let (tx, rx) = bounded::<u32>(0);
            let both = |id: u32, tx: Sender<u32>, rx: Receiver<u32>| {
                move || {
                    weft::select! {
                        send(tx, id) -> res => { res.unwrap(); None }
                        recv(rx) -> msg => Some(msg.unwrap()),
                        default(LIMIT) => panic!("the two selects never paired"),
                    }
                }
            };
            let x = spawn(a, both(1, tx.clone(), rx.clone()));
            let y = spawn(b, both(2, tx.clone(), rx.clone()));
            let (x, y) = (x.join(), y.join());
            // One sent its id and the other received it.
            assert!(
                matches!((x, y), (None, Some(1)) | (Some(2), None)),
                "{a:?}/{b:?}: {x:?} {y:?}"
            );
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }
    }
}

/// A select receiving from a buffered channel while a sender fills it gets
/// the messages in the order they were sent: a receive that registers
/// after a message was queued must not be handed the next one first.
#[test]
fn a_selecting_receiver_gets_a_buffered_channels_messages_in_order() {
    const N: u32 = 20_000;
    for cap in [1, 2, 16] {
        for (a, b) in [
            (Side::Thread, Side::Thread),
            (Side::Co, Side::Thread),
            (Side::Thread, Side::Co),
        ] {
            let (tx, rx) = bounded::<u32>(cap);
            // An idle arm, so that the select really registers and waits.
            let (_idle_tx, idle_rx) = bounded::<u32>(0);
            let sender = spawn(a, move || {
                for i in 0..N {
                    tx.send(i).unwrap();
                }
            });
            on(b, move || {
                for i in 0..N {
                    let got = weft::select! {
                        recv(idle_rx) -> _ => unreachable!("nothing is sent there"),
                        recv(rx) -> msg => msg.unwrap(),
                    };
                    assert_eq!(got, i, "cap {cap}, {a:?} to {b:?}");
                }
            });
            sender.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Waking and fairness

#[test]
fn a_waiting_select_wakes_on_whichever_channel_gets_a_message_first() {
    for side in SIDES {
        for k in 0..3 {
            let (tx0, rx0) = unbounded::<usize>();
            let (tx1, rx1) = bounded::<usize>(0);
            let (tx2, rx2) = bounded::<usize>(2);
            let selector = spawn(side, move || {
                let got = weft::select! {
                    recv(rx0) -> msg => (0, msg.unwrap()),
                    recv(rx1) -> msg => (1, msg.unwrap()),
                    recv(rx2) -> msg => (2, msg.unwrap()),
                    default(LIMIT) => panic!("no wake-up"),
                };
                (got, rx0, rx1, rx2)
            });
            std::thread::sleep(ms(30));
            match k {
                0 => tx0.send(10).unwrap(),
                1 => tx1.send_timeout(11, LIMIT).unwrap(),
                _ => tx2.send(12).unwrap(),
            }
            let (got, rx0, rx1, rx2) = selector.join();
            assert_eq!(got, (k, 10 + k), "{side:?}");
            // The other arms' entries are dead: later messages stay in their
            // channels for the next receiver.
            if k != 1 {
                assert!(tx1.try_send(0).unwrap_err().is_full());
            }
            if k != 0 {
                tx0.send(20).unwrap();
                assert_eq!(rx0.try_recv(), Ok(20));
            }
            if k != 2 {
                tx2.send(22).unwrap();
                assert_eq!(rx2.try_recv(), Ok(22));
            }
            assert!(rx0.is_empty() && rx1.is_empty() && rx2.is_empty());
        }
    }
}

#[test]
fn ready_arms_are_chosen_fairly() {
    const N: usize = 10_000;
    for side in SIDES {
        on(side, || {
            // Two recv arms, both always ready.
            let (tx1, rx1) = unbounded::<()>();
            let (tx2, rx2) = unbounded::<()>();
            for _ in 0..N {
                tx1.send(()).unwrap();
                tx2.send(()).unwrap();
            }
            let mut first = 0;
            for _ in 0..N {
                weft::select! {
                    recv(rx1) -> _ => first += 1,
                    recv(rx2) -> _ => {}
                }
            }
            assert!(
                (N * 4 / 10..=N * 6 / 10).contains(&first),
                "recv arm 1 chosen {first} of {N} times"
            );
            // Two send arms, both always ready.
            let mut first = 0;
            for _ in 0..N {
                weft::select! {
                    send(tx1, ()) -> _ => first += 1,
                    send(tx2, ()) -> _ => (),
                }
            }
            assert!(
                (N * 4 / 10..=N * 6 / 10).contains(&first),
                "send arm 1 chosen {first} of {N} times"
            );
            // Three arms: each about a third.
            let (tx3, rx3) = unbounded::<()>();
            let mut counts = [0usize; 3];
            for _ in 0..N {
                let i = weft::select! {
                    send(tx1, ()) -> _ => 0,
                    recv(rx2) -> _ => 1,
                    send(tx3, ()) -> _ => 2,
                };
                counts[i] += 1;
            }
            for c in counts {
                assert!((N * 25 / 100..=N * 42 / 100).contains(&c), "{counts:?}");
            }
            drop(rx3);
        });
    }
}

// ---------------------------------------------------------------------------
// Stress: no message lost or duplicated

/// Producers send `n` distinct values into two channels (some by plain
/// send, some by selecting between the two), consumers receive them by
/// selecting over both (some with a short timeout, so they abort and
/// re-register often); every value arrives exactly once.
fn select_stress(cap0: usize, cap1: usize, n: u64) {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    let (tx0, rx0) = bounded::<u64>(cap0);
    let (tx1, rx1) = bounded::<u64>(cap1);
    let seen: Arc<Vec<AtomicU64>> =
        Arc::new((0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect());
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx0, tx1) = (tx0.clone(), tx1.clone());
            let side = if p % 2 == 0 { Side::Co } else { Side::Thread };
            spawn(side, move || {
                let mut v = p;
                while v < n {
                    match (p / 2 + v / PRODUCERS) % 3 {
                        0 => tx0.send(v).unwrap(),
                        1 => tx1.send(v).unwrap(),
                        _ => weft::select! {
                            send(tx0, v) -> res => res.unwrap(),
                            send(tx1, v) -> res => res.unwrap(),
                        },
                    }
                    v += PRODUCERS;
                }
            })
        })
        .collect();
    drop((tx0, tx1));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (rx0, rx1, seen) = (rx0.clone(), rx1.clone(), seen.clone());
            let side = if c % 2 == 0 { Side::Co } else { Side::Thread };
            let impatient = c >= CONSUMERS / 2;
            spawn(side, move || {
                let deadline = Instant::now() + LIMIT;
                let mut count = 0u64;
                let mut open = [true, true];
                let mut record = |v: u64| {
                    assert!(v < n, "a value that was never sent: {v}");
                    let bit = 1u64 << (v % 64);
                    let old = seen[(v / 64) as usize].fetch_or(bit, Ordering::Relaxed);
                    assert_eq!(old & bit, 0, "value {v} received twice");
                    count += 1;
                };
                while open[0] || open[1] {
                    assert!(Instant::now() < deadline, "consumer stuck");
                    if !open[0] {
                        match rx1.recv() {
                            Ok(v) => record(v),
                            Err(_) => open[1] = false,
                        }
                        continue;
                    }
                    if !open[1] {
                        match rx0.recv() {
                            Ok(v) => record(v),
                            Err(_) => open[0] = false,
                        }
                        continue;
                    }
                    let timeout = if impatient {
                        Duration::from_micros(20)
                    } else {
                        LIMIT
                    };
                    weft::select! {
                        recv(rx0) -> msg => match msg {
                            Ok(v) => record(v),
                            Err(_) => open[0] = false,
                        },
                        recv(rx1) -> msg => match msg {
                            Ok(v) => record(v),
                            Err(_) => open[1] = false,
                        },
                        default(timeout) => assert!(impatient, "no message in {LIMIT:?}"),
                    }
                }
                count
            })
        })
        .collect();
    drop((rx0, rx1));
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
}

#[test]
fn stress_selecting_consumers_lose_nothing_rendezvous() {
    let t = Instant::now();
    select_stress(0, 0, 40_000);
    eprintln!("select stress, bounded(0) x2, 40k: {:?}", t.elapsed());
}

#[test]
fn stress_selecting_consumers_lose_nothing_mixed() {
    let t = Instant::now();
    select_stress(0, 3, 40_000);
    eprintln!(
        "select stress, bounded(0) + bounded(3), 40k: {:?}",
        t.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Runtime shutdown

#[test]
fn runtime_drop_unwinds_a_coroutine_waiting_in_select() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx0, rx0) = bounded::<u32>(0);
    let (tx1, rx1) = bounded::<u32>(0);
    let unwound = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (guard, s) = (SetOnDrop(unwound.clone()), started.clone());
    let (rx0c, tx1c) = (rx0.clone(), tx1.clone());
    let h = rt.spawn(move || {
        let _guard = guard;
        s.store(true, Ordering::SeqCst);
        let what = weft::select! {
            recv(rx0c) -> msg => format!("received {msg:?}"),
            send(tx1c, 7) -> res => format!("sent: {res:?}"),
        };
        panic!("select returned ({what}) instead of unwinding");
    });
    wait_until("the coroutine waits", || started.load(Ordering::SeqCst));
    std::thread::sleep(ms(30));
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(unwound.load(Ordering::SeqCst), "the guard's destructor ran");
    assert!(h.join().is_err(), "the joiner sees the cancellation");

    // Neither of the dead select's arms pairs any more.
    assert!(tx0.try_send(1).unwrap_err().is_full());
    assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
    // And both channels work for others.
    let r = weft::go(move || rx0.recv_timeout(LIMIT));
    tx0.send_timeout(2, LIMIT).unwrap();
    assert_eq!(r.join().unwrap(), Ok(2));
    let s = weft::go(move || tx1.send_timeout(3, LIMIT));
    assert_eq!(rx1.recv_timeout(LIMIT), Ok(3));
    s.join().unwrap().unwrap();
}

// ---------------------------------------------------------------------------
// Syntax

#[test]
fn body_forms_and_arm_expressions() {
    let (tx, rx) = unbounded::<u32>();
    let rxs = [rx.clone(), rx.clone()];
    let txs = vec![tx.clone()];
    let rx_ref = &rx;

    // `=> expr,` with a trailing comma after the last arm.
    tx.send(1).unwrap();
    let v = weft::select! {
        recv(rx) -> msg => msg.unwrap(),
        default => 0,
    };
    assert_eq!(v, 1);

    // `=> { block }` without commas, and the last arm without a comma.
    tx.send(2).unwrap();
    let v = weft::select! {
        recv(rx_ref) -> msg => {
            let v = msg.unwrap();
            v * 10
        }
        default => { 0 }
    };
    assert_eq!(v, 20);

    // `_` patterns; indexed and referenced channels; a send value computed
    // by an expression. (`=> { block },`, a block followed by a comma, is
    // checked by `block_bodies_followed_by_a_comma_compile` below.)
    let v = weft::select! {
        send(txs[0], 1 + 2) -> _ => { 3 }
        recv(rxs[1]) -> _ => { 4 }
    };
    // Only the send arm is ready (the channel is empty).
    assert_eq!(v, 3);
    assert_eq!(rx.try_recv(), Ok(3));

    // Destructuring patterns.
    tx.send(5).unwrap();
    let v = weft::select! {
        recv(rx) -> msg => match msg { Ok(v) => v * 2, Err(RecvError) => 1 },
    };
    assert_eq!(v, 10);
    let (pair_tx, pair_rx) = unbounded::<(u32, &str)>();
    pair_tx.send((6, "six")).unwrap();
    weft::select! {
        recv(pair_rx) -> res => {
            let (n, s) = res.unwrap();
            assert_eq!((n, s), (6, "six"));
        }
    }

    // A single arm, no trailing comma; the select as a statement.
    tx.send(7).unwrap();
    weft::select! {
        recv(rx) -> msg => assert_eq!(msg, Ok(7))
    }
    weft::select! { send(tx, 8) -> res => res.unwrap() }
    assert_eq!(rx.recv(), Ok(8));

    // default(timeout) with each body form.
    let v = weft::select! {
        recv(rx) -> _ => 0,
        default(ms(1)) => 1
    };
    assert_eq!(v, 1);
    let v = weft::select! {
        recv(rx) -> _ => 0,
        default(ms(1)) => { 2 }
    };
    assert_eq!(v, 2);

    // Only a default arm.
    let v = weft::select! { default => 4 };
    assert_eq!(v, 4);
    let t = Instant::now();
    let v = weft::select! { default(ms(5)) => { 5 } };
    assert_eq!(v, 5);
    assert!(t.elapsed() >= ms(5));

    // `break` and `continue` in bodies reach the enclosing loop.
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    drop(tx);
    drop(txs);
    let mut sum = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        weft::select! {
            recv(rx) -> msg => match msg {
                Ok(1) => continue,
                Ok(v) => sum += v,
                Err(_) => break,
            },
        }
    }
    assert_eq!((sum, rounds), (2, 4));

    // Arms mixing every kind, as in crossbeam's examples.
    let (a_tx, a_rx) = bounded::<u32>(1);
    let (_b_tx, b_rx) = bounded::<u32>(0);
    let got = weft::select! {
        recv(b_rx) -> _ => "b",
        send(a_tx, 1) -> res => { res.unwrap(); "a sent" }
        default(LIMIT) => "timeout",
    };
    assert_eq!(got, "a sent");
    assert_eq!(a_rx.recv(), Ok(1));
}

/// Forms crossbeam-channel accepts: block bodies followed by a comma, and
/// channel expressions that are temporaries.
#[test]
fn block_bodies_with_commas_and_temporary_channels() {
    let (tx, rx) = bounded::<u32>(1);
    let got = weft::select! {
        recv(rx) -> msg => { msg.unwrap() },
        default => { 0 },
    };
    assert_eq!(got, 0);
    let got = weft::select! {
        send(tx.clone(), 7) -> res => { res.unwrap(); 1 },
        default(ms(1)) => { 0 },
    };
    assert_eq!(got, 1);
    let got = weft::select! {
        recv(rx.clone()) -> msg => { msg.unwrap() },
    };
    assert_eq!(got, 7);
}

#[test]
fn timer_channels_as_select_arms() {
    for side in SIDES {
        on(side, || {
            let (_tx, rx) = bounded::<u32>(0);
            let start = Instant::now();
            let timeout = weft::channel::after(ms(30));
            let got = weft::select! {
                recv(rx) -> _ => "message",
                recv(timeout) -> _ => "timed out",
                recv(weft::channel::never::<u32>()) -> _ => "never",
                default(LIMIT) => "limit",
            };
            assert_eq!(got, "timed out");
            assert!(start.elapsed() >= ms(30));

            // A ticker driving a loop, with a message arriving meanwhile.
            let (tx, rx) = unbounded::<u32>();
            let ticks = weft::channel::tick(ms(5));
            let (mut ticked, mut got) = (0, None);
            while ticked < 4 || got.is_none() {
                if ticked == 2 {
                    tx.send(7).unwrap();
                }
                weft::select! {
                    recv(ticks) -> _ => ticked += 1,
                    recv(rx) -> m => got = m.ok(),
                    default(LIMIT) => panic!("neither the ticker nor the message came"),
                }
            }
            assert_eq!(got, Some(7));
        });
    }
}
