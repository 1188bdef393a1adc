//! A panic in a coroutine is caught at its boundary and reported like std
//! reports a thread's.

mod common;

use std::time::Duration;

#[test]
fn panic_comes_back_from_join_and_the_runtime_keeps_working() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let bystander = rt.spawn(|| {
        weft::sleep(Duration::from_millis(20));
        "still here"
    });
    let n = std::hint::black_box(7);
    let err = rt
        .spawn(move || -> u32 { panic!("boom {n}") })
        .join()
        .unwrap_err();
    assert_eq!(message(&*err), "boom 7");
    // The single worker survived and runs both old and new coroutines.
    assert_eq!(bystander.join().unwrap(), "still here");
    assert_eq!(rt.spawn(|| 5).join().unwrap(), 5);
}

fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<not a string>")
}

#[test]
fn many_panics_do_not_disturb_other_coroutines() {
    let hs: Vec<_> = (0..200)
        .map(|i| {
            weft::go(move || {
                weft::yield_now();
                if i % 2 == 0 {
                    panic!("even {i}");
                }
                i
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for h in hs {
        match h.join() {
            Ok(i) => {
                assert_eq!(i % 2, 1);
                ok += 1;
            }
            Err(_) => failed += 1,
        }
    }
    assert_eq!((ok, failed), (100, 100));
}

#[test]
fn panic_message_names_the_coroutine() {
    let out = common::run_child("child_panics_in_named_coroutine", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(
        stderr.contains("coroutine 'parser' panicked at tests/panic.rs:"),
        "stderr was: {stderr}"
    );
    assert!(stderr.contains("bad input"), "stderr was: {stderr}");
    assert!(
        stderr.contains("coroutine '#") && stderr.contains("anonymous failure"),
        "an unnamed coroutine is named by its id; stderr was: {stderr}"
    );
}

#[test]
#[ignore = "run by panic_message_names_the_coroutine in a child process"]
fn child_panics_in_named_coroutine() {
    if !common::is_child() {
        return;
    }
    let h = weft::Builder::new()
        .name("parser")
        .spawn(|| panic!("bad input"))
        .unwrap();
    assert!(h.join().is_err());
    assert!(weft::go(|| panic!("anonymous failure")).join().is_err());
}
