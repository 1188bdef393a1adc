//! Migrating from crossbeam-channel is a change of import: every public
//! item and macro form crossbeam-channel documents is reachable through
//! `use weft::channel as crossbeam_channel;` and behaves as documented
//! there.
//!
//! `select!` must expand to safe code, so this file forbids `unsafe`.

#![forbid(unsafe_code)]

use std::panic::{catch_unwind, RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::channel as crossbeam_channel;

// Every name crossbeam-channel exports, macros included, from the alias.
use crossbeam_channel::{
    after, at, bounded, never, select, select_biased, tick, unbounded, IntoIter, Iter,
    ReadyTimeoutError, Receiver, RecvError, RecvTimeoutError, Select, SelectTimeoutError,
    SelectedOperation, SendError, SendTimeoutError, Sender, TryIter, TryReadyError, TryRecvError,
    TrySelectError, TrySendError,
};

/// A module of the program's own named `select`, beside the imported
/// macro: the macro's plumbing must not claim that name.
mod select {
    pub fn answer() -> u32 {
        42
    }
}

const LIMIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn every_public_name_is_reachable_through_the_alias() {
    let (s, r): (Sender<u8>, Receiver<u8>) = bounded(1);
    s.send(1).unwrap();
    let it: TryIter<'_, u8> = r.try_iter();
    assert_eq!(it.collect::<Vec<_>>(), [1]);
    s.send(2).unwrap();
    drop(s);
    let it: Iter<'_, u8> = r.iter();
    assert_eq!(it.collect::<Vec<_>>(), [2]);
    let it: IntoIter<u8> = r.into_iter();
    assert_eq!(it.count(), 0);

    let (s, r) = unbounded::<u8>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.recv_timeout(ms(1)), Err(RecvTimeoutError::Timeout));
    drop(s);
    assert_eq!(r.recv(), Err(RecvError));
    let (s, r) = bounded::<u8>(0);
    assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(s.send_timeout(2, ms(1)), Err(SendTimeoutError::Timeout(2)));
    drop(r);
    assert_eq!(s.send(3), Err(SendError(3)));

    let when = Instant::now() + ms(1);
    assert_eq!(at(when).recv(), Ok(when));
    assert!(after(ms(1)).recv().is_ok());
    assert!(tick(ms(1)).recv().is_ok());
    assert!(never::<u8>().try_recv().is_err());

    let (_s, r) = unbounded::<u8>();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.try_select().unwrap_err(), TrySelectError);
    assert_eq!(sel.select_timeout(ms(1)).unwrap_err(), SelectTimeoutError);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    assert_eq!(sel.ready_timeout(ms(1)), Err(ReadyTimeoutError));
    let mut sel = Select::new();
    sel.recv(&r);
    let (s2, r2) = unbounded::<u8>();
    s2.send(4).unwrap();
    sel.recv(&r2);
    let oper: SelectedOperation<'_> = sel.select();
    assert_eq!(oper.recv(&r2), Ok(4));

    let got = select! {
        recv(r2) -> _ => 0,
        default => select::answer(),
    };
    assert_eq!(got, 42);
}

#[test]
fn the_macros_are_exported_from_the_channel_module_and_the_crate_root() {
    let (s, r) = unbounded::<u32>();
    s.send(1).unwrap();
    let a = weft::channel::select! { recv(r) -> m => m };
    s.send(2).unwrap();
    let b = weft::select! { recv(r) -> m => m };
    s.send(3).unwrap();
    let c = weft::channel::select_biased! { recv(r) -> m => m };
    s.send(4).unwrap();
    let d = weft::select_biased! { recv(r) -> m => m };
    assert_eq!([a, b, c, d], [Ok(1), Ok(2), Ok(3), Ok(4)]);
}

// ---------------------------------------------------------------------------
// select! grammar

#[test]
fn default_with_empty_parentheses_runs_when_nothing_is_ready() {
    let (s, r) = bounded::<u32>(0);
    let got = select! {
        recv(r) -> _ => "recv",
        default() => "default",
    };
    assert_eq!(got, "default");
    let got = select! {
        send(s, 1) -> _ => "send",
        default() => { "default" }
    };
    assert_eq!(got, "default");
    let got = select! { default() => 5 };
    assert_eq!(got, 5);
}

#[test]
fn arguments_inside_an_arm_may_end_with_a_comma() {
    let (s, r) = unbounded::<usize>();
    let got = select! {
        send(s, 1,) -> res => res.map(|()| "sent"),
        default(ms(1000),) => unreachable!("an unbounded channel has room"),
    };
    assert_eq!(got, Ok("sent"));
    let got = select! {
        recv(r,) -> msg => msg,
        default(ms(1000),) => unreachable!("a message is queued"),
    };
    assert_eq!(got, Ok(1));
    let t = Instant::now();
    let got = select! {
        recv(r,) -> _ => "message",
        default(ms(20),) => "timeout",
    };
    assert_eq!(got, "timeout");
    assert!(t.elapsed() >= ms(20));
}

#[test]
fn temporaries_in_arm_operands_live_for_the_whole_select() {
    let (s, r) = unbounded::<u32>();
    s.send(7).unwrap();
    // `&never()` is a temporary, borrowed by the operand's value.
    for (maybe, expected) in [(None, Err(0)), (Some(&r), Ok(Ok(7)))] {
        let got = select! {
            recv(maybe.unwrap_or(&never())) -> msg => Ok(msg),
            default => Err(0),
        };
        assert_eq!(got, expected);
    }
    // Operands that make their handle: evaluated once each.
    let made = AtomicUsize::new(0);
    let get = || {
        made.fetch_add(1, Ordering::SeqCst);
        s.clone()
    };
    let got = select! {
        send(get(), 8) -> res => res,
    };
    assert_eq!(got, Ok(()));
    assert_eq!(made.load(Ordering::SeqCst), 1);
    assert_eq!(r.try_recv(), Ok(8));
}

#[test]
fn select_biased_prefers_the_first_ready_arm() {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (s3, r3) = unbounded::<()>();
    for _ in 0..1000 {
        s2.send(()).unwrap();
        s3.send(()).unwrap();
    }
    let mut hits = [0; 3];
    for _ in 0..1000 {
        select_biased! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(r3) -> _ => hits[2] += 1,
        }
    }
    assert_eq!(hits, [0, 1000, 0]);
    // With a send arm first that can always go ahead.
    for _ in 0..100 {
        select_biased! {
            send(s1, ()) -> res => { res.unwrap(); hits[0] += 1 }
            recv(r3) -> _ => hits[2] += 1,
            default => panic!("an arm was ready"),
        }
    }
    assert_eq!(hits, [100, 1000, 0]);
    assert_eq!(r1.len(), 100);
}

#[test]
fn select_chooses_among_ready_arms_fairly() {
    const N: usize = 10_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (_s0, r0) = bounded::<()>(0);
    for _ in 0..N {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut first = 0;
    for _ in 0..N {
        // Unready arms first: the next ready one must not be favoured.
        select! {
            recv(r0) -> _ => unreachable!(),
            recv(r0) -> _ => unreachable!(),
            recv(r1) -> _ => first += 1,
            recv(r2) -> _ => {}
        }
    }
    assert!(
        (N * 45 / 100..=N * 55 / 100).contains(&first),
        "{first} of {N}"
    );
}

/// Several arms on one rendezvous channel each get at least half of their
/// fair share, on both sides of the channel.
#[test]
fn duplicate_arms_on_one_rendezvous_channel_are_chosen_fairly() {
    const ROUNDS: usize = 4_000;
    let (s, r) = bounded::<()>(0);
    let receiver = std::thread::spawn(move || {
        let mut hits = [0usize; 4];
        for _ in 0..ROUNDS {
            select! {
                recv(r) -> m => { m.unwrap(); hits[0] += 1 }
                recv(r) -> m => { m.unwrap(); hits[1] += 1 }
                recv(r) -> m => { m.unwrap(); hits[2] += 1 }
                recv(r) -> m => { m.unwrap(); hits[3] += 1 }
                default(LIMIT) => panic!("the sender stopped"),
            }
        }
        hits
    });
    let mut hits = [0usize; 4];
    for _ in 0..ROUNDS {
        select! {
            send(s, ()) -> res => { res.unwrap(); hits[0] += 1 }
            send(s, ()) -> res => { res.unwrap(); hits[1] += 1 }
            send(s, ()) -> res => { res.unwrap(); hits[2] += 1 }
            send(s, ()) -> res => { res.unwrap(); hits[3] += 1 }
            default(LIMIT) => panic!("the receiver stopped"),
        }
    }
    let received = receiver.join().unwrap();
    for h in [hits, received] {
        assert!(
            h.iter().all(|&n| n >= ROUNDS / 4 / 2),
            "{hits:?} {received:?}"
        );
    }
}

#[test]
fn a_panicking_send_value_gives_the_chosen_operation_back() {
    fn no_value() -> u32 {
        panic!("no value")
    }
    // A receiver waits; the select's send arm is chosen, committing it,
    // then the value's expression panics before there is a message.
    let (s, r) = bounded::<u32>(0);
    let receiver = std::thread::spawn(move || r.recv_timeout(LIMIT));
    let mut probe = Select::new();
    probe.send(&s);
    let deadline = Instant::now() + LIMIT;
    while probe.try_ready().is_err() {
        assert!(Instant::now() < deadline, "the receiver never waited");
        std::thread::yield_now();
    }
    let res = catch_unwind(|| {
        select! {
            send(s, no_value()) -> _ => {}
        }
    });
    assert!(res.is_err());
    // The receiver was let go, not left waiting for the lost value.
    s.send_timeout(9, LIMIT).unwrap();
    assert_eq!(receiver.join().unwrap(), Ok(9));
}

// ---------------------------------------------------------------------------
// Unwind safety, never, timers

#[test]
fn a_closure_capturing_a_sender_can_go_through_catch_unwind() {
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    unwind_safe::<Sender<String>>();
    unwind_safe::<Receiver<String>>();
    unwind_safe::<Iter<'_, String>>();
    unwind_safe::<TryIter<'_, String>>();
    unwind_safe::<IntoIter<String>>();

    let (s, r) = unbounded::<u32>();
    let res = catch_unwind(|| {
        s.send(1).unwrap();
        panic!("after the send");
    });
    assert!(res.is_err());
    // The channel is whole after the panic.
    s.send(2).unwrap();
    assert_eq!(r.try_iter().collect::<Vec<_>>(), [1, 2]);
    let res = catch_unwind(|| r.recv_timeout(ms(1)));
    assert_eq!(res.unwrap(), Err(RecvTimeoutError::Timeout));
}

#[test]
fn every_never_receiver_is_the_same_channel() {
    let a = never::<u32>();
    let b = never::<u32>();
    assert!(a.same_channel(&b));
    assert!(a.same_channel(&b.clone()));
    assert!(!a.same_channel(&unbounded().1));
    let (_s, r) = bounded::<u32>(0);
    assert!(!r.same_channel(&a));
}

#[test]
fn timer_channels_have_a_capacity_of_one_and_are_full_while_a_message_is_due() {
    for make in [after, tick] {
        let t = Instant::now();
        let r = make(ms(20));
        assert_eq!(r.capacity(), Some(1));
        assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
        let deadline = t + LIMIT;
        while r.is_empty() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(ms(1));
        }
        assert!(t.elapsed() >= ms(20));
        assert_eq!((r.len(), r.is_empty(), r.is_full()), (1, false, true));
        r.try_recv().unwrap();
        assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
    }
}

#[test]
fn a_panicking_message_destructor_leaves_the_messages_after_it_undropped() {
    struct Loud(Arc<AtomicUsize>);
    impl Drop for Loud {
        fn drop(&mut self) {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first drop");
            }
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = bounded(2);
    s.send(Loud(drops.clone())).unwrap();
    s.send(Loud(drops.clone())).unwrap();
    drop(s);
    // The first destructor's panic comes out of the last receiver's drop;
    // the second message is leaked rather than dropped while unwinding,
    // which would abort.
    let res = catch_unwind(move || drop(r));
    assert_eq!(
        *res.unwrap_err().downcast_ref::<&str>().unwrap(),
        "first drop"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
