//! With the `tracing` feature, the spans a coroutine enters follow it across
//! parks: a real tracing-subscriber `fmt` layer, writing to a buffer, sees
//! each coroutine's lines under that coroutine's spans only.
//!
//! One global subscriber serves every test in this binary (worker threads
//! only see a global one); each test tags its events and reads back only
//! its own lines.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::{info, info_span};
use tracing_subscriber::fmt::MakeWriter;

/// Every line the subscriber wrote.
fn log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| Mutex::new(Vec::new()))
}

/// Writes whole lines into `log()`.
struct Buffer;

/// One event's output, appended to the log in one piece when dropped.
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        log().lock().unwrap().extend_from_slice(&self.0);
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

/// Installs the global `fmt` subscriber, once.
fn subscribe() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Buffer)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_level(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// This test's lines (those whose event has `test = tag`), as
/// `(span context, message)`: `"req{id=3}:step{n=1}"`, `"start"`.
fn lines(tag: &str) -> Vec<(String, String)> {
    let marker = format!(" test=\"{tag}\"");
    let log = log().lock().unwrap();
    String::from_utf8_lossy(&log)
        .lines()
        .filter_map(|line| {
            let line = line.trim().strip_suffix(marker.as_str())?;
            Some(match line.rsplit_once(": ") {
                Some((spans, message)) => (spans.to_string(), message.to_string()),
                None => (String::new(), line.to_string()),
            })
        })
        .collect()
}

/// A bounded wait for `rt`'s coroutines: joins every handle, failing after
/// `limit` instead of hanging.
fn join_all<T: Send + 'static>(handles: Vec<weft::JoinHandle<T>>, limit: Duration) -> Vec<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let results: Vec<T> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let _ = tx.send(results);
    });
    rx.recv_timeout(limit)
        .expect("coroutines did not finish in time")
}

#[test]
fn each_line_carries_exactly_its_own_coroutines_span() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let n = 50;
    let handles: Vec<_> = (0..n)
        .map(|id| {
            rt.spawn(move || {
                let _g = info_span!("req", id).entered();
                info!(test = "own", "start");
                weft::sleep(Duration::from_millis(1 + id % 7));
                info!(test = "own", "middle");
                weft::yield_now();
                info!(test = "own", "end");
            })
        })
        .collect();
    join_all(handles, Duration::from_secs(30));
    let lines = lines("own");
    assert_eq!(lines.len(), 3 * n as usize, "{lines:?}");
    for id in 0..n {
        let mine = format!("req{{id={id}}}");
        let messages: Vec<&str> = lines
            .iter()
            .filter(|(spans, _)| *spans == mine)
            .map(|(_, m)| m.as_str())
            .collect();
        assert_eq!(messages, ["start", "middle", "end"], "{id}: {lines:?}");
    }
}

#[test]
fn nested_spans_stay_nested_across_parks() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = weft::channel::bounded::<u32>(0);
    let n = 20u32;
    // Receivers park in `recv` inside two nested spans; one sender hands
    // them values, parking itself between sends.
    let mut handles: Vec<_> = (0..n)
        .map(|id| {
            let rx = rx.clone();
            rt.spawn(move || {
                let outer = info_span!("conn", id);
                let _o = outer.enter();
                info!(test = "nested", "open");
                {
                    let _i = info_span!("read", id).entered();
                    let got = rx.recv().unwrap();
                    info!(got, test = "nested", "inner");
                    weft::sleep(Duration::from_millis(1));
                    info!(test = "nested", "inner again");
                }
                weft::yield_now();
                info!(test = "nested", "close");
            })
        })
        .collect();
    handles.push(rt.spawn(move || {
        for v in 0..n {
            tx.send(v).unwrap();
            weft::yield_now();
        }
    }));
    join_all(handles, Duration::from_secs(30));
    let lines = lines("nested");
    assert_eq!(lines.len(), 4 * n as usize, "{lines:?}");
    for id in 0..n {
        let outer = format!("conn{{id={id}}}");
        let inner = format!("conn{{id={id}}}:read{{id={id}}}");
        let of = |spans: &str| -> Vec<String> {
            lines
                .iter()
                .filter(|(s, _)| s == spans)
                .map(|(_, m)| m.split(' ').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(of(&outer), ["open", "close"], "{id}: {lines:?}");
        assert_eq!(of(&inner), ["inner", "inner"], "{id}: {lines:?}");
    }
}

#[test]
fn guards_dropped_out_of_order_are_restored_as_left() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let handles: Vec<_> = (0..10)
        .map(|id| {
            rt.spawn(move || {
                let a = info_span!("a", id).entered();
                let b = info_span!("b", id).entered();
                // `a` exits first: `b` stays current, then alone.
                drop(a);
                weft::sleep(Duration::from_millis(1));
                info!(test = "order", "after a");
                drop(b);
                weft::yield_now();
                info!(test = "order", "after b");
            })
        })
        .collect();
    join_all(handles, Duration::from_secs(30));
    let lines = lines("order");
    assert_eq!(lines.len(), 20, "{lines:?}");
    for id in 0..10 {
        assert!(
            lines.contains(&(format!("a{{id={id}}}:b{{id={id}}}"), "after a".into())),
            "{id}: {lines:?}"
        );
    }
    let bare = lines.iter().filter(|(s, m)| s.is_empty() && m == "after b");
    assert_eq!(bare.count(), 10, "{lines:?}");
}

#[test]
fn a_span_entered_on_a_plain_thread_is_unaffected() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    // Coroutines spawned outside the span, parking and logging while the
    // thread logs inside its own.
    let handles: Vec<_> = (0..10)
        .map(|id| {
            rt.spawn(move || {
                for _ in 0..5 {
                    let _g = info_span!("co", id).entered();
                    info!(test = "thread", "coroutine");
                    weft::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let span = info_span!("plain");
    let g = span.enter();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handles.iter().all(weft::JoinHandle::is_finished) {
        assert!(Instant::now() < deadline, "coroutines did not finish");
        info!(test = "thread", "thread");
        // A blocking `weft` call from the thread, inside its span.
        weft::sleep(Duration::from_millis(2));
    }
    info!(test = "thread", "thread");
    assert_eq!(tracing::Span::current().id(), span.id());
    drop(g);
    join_all(handles, Duration::from_secs(30));
    let lines = lines("thread");
    for (spans, message) in &lines {
        match message.as_str() {
            "thread" => assert_eq!(spans, "plain"),
            "coroutine" => assert!(
                spans.starts_with("co{id=") && !spans.contains(':'),
                "{spans}"
            ),
            other => panic!("unexpected line {other}"),
        }
    }
    assert_eq!(lines.iter().filter(|(_, m)| m == "coroutine").count(), 50);
}

#[test]
fn a_coroutine_spawned_in_a_span_starts_inside_it() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let from_thread = {
        let _g = info_span!("spawner", at = "thread").entered();
        rt.spawn(|| {
            info!(test = "inherit", "child of thread");
            weft::sleep(Duration::from_millis(1));
            info!(test = "inherit", "child of thread");
        })
    };
    let from_coroutine = rt.spawn(|| {
        let child = {
            let _g = info_span!("spawner", at = "coroutine").entered();
            weft::go(|| {
                let _g = info_span!("own").entered();
                weft::yield_now();
                info!(test = "inherit", "grandchild");
            })
        };
        info!(test = "inherit", "parent");
        child.join().unwrap();
    });
    // Outside any span: a coroutine spawned now starts in none.
    let outside = rt.spawn(|| info!(test = "inherit", "no span"));
    join_all(
        vec![from_thread, from_coroutine, outside],
        Duration::from_secs(30),
    );
    let mut lines = lines("inherit");
    lines.sort();
    let expect = |s: &str, m: &str| (s.to_string(), m.to_string());
    assert_eq!(
        lines,
        [
            expect("", "no span"),
            expect("", "parent"),
            expect("spawner{at=\"coroutine\"}:own", "grandchild"),
            expect("spawner{at=\"thread\"}", "child of thread"),
            expect("spawner{at=\"thread\"}", "child of thread"),
        ]
    );
}

#[test]
fn spans_follow_coroutines_across_many_workers() {
    subscribe();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let counter = Arc::new(Mutex::new(0));
    let handles: Vec<_> = (0..40)
        .map(|id| {
            let counter = counter.clone();
            rt.spawn(move || {
                let _g = info_span!("job", id).entered();
                for _ in 0..3 {
                    *counter.lock().unwrap() += 1;
                    weft::yield_now();
                    info!(test = "many", "tick");
                }
            })
        })
        .collect();
    join_all(handles, Duration::from_secs(30));
    let lines = lines("many");
    assert_eq!(lines.len(), 120);
    for id in 0..40 {
        let mine = format!("job{{id={id}}}");
        assert_eq!(lines.iter().filter(|(s, _)| *s == mine).count(), 3);
    }
    assert_eq!(*counter.lock().unwrap(), 120);
}

#[test]
fn spans_come_back_on_whichever_thread_resumes_the_coroutine() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let mover = rt.spawn(|| {
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        // Runs when the mover first parks, and blocks the worker's thread
        // in a kernel wait: another thread of the worker takes it over.
        let blocker = weft::go(move || {
            let _g = info_span!("blocker").entered();
            info!(test = "takeover", "blocking");
            blocked.recv_timeout(Duration::from_secs(20)).unwrap();
            info!(test = "takeover", "unblocked");
        });
        let _g = info_span!("mover").entered();
        let before = std::thread::current().id();
        info!(test = "takeover", "before");
        weft::sleep(Duration::from_millis(50));
        info!(test = "takeover", "after");
        let after = std::thread::current().id();
        release.send(()).unwrap();
        drop(_g);
        blocker.join().unwrap();
        (before, after)
    });
    let [(before, after)]: [_; 1] = join_all(vec![mover], Duration::from_secs(30))
        .try_into()
        .unwrap();
    assert_ne!(before, after, "the mover resumed on its first thread");
    let mut lines = lines("takeover");
    lines.sort();
    let expect = |s: &str, m: &str| (s.to_string(), m.to_string());
    assert_eq!(
        lines,
        [
            expect("blocker", "blocking"),
            expect("blocker", "unblocked"),
            expect("mover", "after"),
            expect("mover", "before"),
        ]
    );
}

#[test]
fn a_span_left_entered_at_a_coroutines_end_does_not_stay_on_its_worker() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let leaker = rt.spawn(|| {
        // A guard that is never dropped: the span stays entered.
        std::mem::forget(info_span!("leaked").entered());
        weft::sleep(Duration::from_millis(1));
        info!(test = "leftover", "leaker");
    });
    join_all(vec![leaker], Duration::from_secs(30));
    let next = rt.spawn(|| info!(test = "leftover", "next"));
    join_all(vec![next], Duration::from_secs(30));
    let expect = |s: &str, m: &str| (s.to_string(), m.to_string());
    assert_eq!(
        lines("leftover"),
        [expect("leaked", "leaker"), expect("", "next")]
    );
}

#[test]
fn channel_partners_resuming_each_other_keep_their_own_spans() {
    subscribe();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (to_b, from_a) = weft::channel::bounded::<u32>(0);
    let (to_a, from_b) = weft::channel::bounded::<u32>(0);
    // Each send wakes the partner parked on the same worker, and the
    // sender's next receive resumes it directly (a hand-off).
    let b = rt.spawn(move || {
        let _g = info_span!("b").entered();
        for v in from_a.iter() {
            info!(test = "handoff", "b got");
            to_a.send(v + 1).unwrap();
        }
    });
    let a = rt.spawn(move || {
        let _g = info_span!("a").entered();
        for i in 0..100 {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i + 1);
            info!(test = "handoff", "a got");
        }
    });
    join_all(vec![a, b], Duration::from_secs(30));
    let lines = lines("handoff");
    assert_eq!(lines.len(), 200);
    for (spans, message) in &lines {
        match message.as_str() {
            "a got" => assert_eq!(spans, "a"),
            "b got" => assert_eq!(spans, "b"),
            other => panic!("unexpected line {other}"),
        }
    }
}
