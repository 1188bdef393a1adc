//! A stack overflow in a coroutine is reported by name and aborts, like std
//! does for threads. Each case runs in a child process.

mod common;

use std::os::unix::process::ExitStatusExt;

fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 128]);
    if n == 0 {
        return 0;
    }
    1 + recurse(pad[0] - 1) + std::hint::black_box(0)
}

fn assert_overflow_report(child: &str, expect_name_prefix: &str) {
    let out = common::run_child(child, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "the child must abort; status {:?}, stderr: {stderr}",
        out.status
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("has overflowed its stack"))
        .unwrap_or_else(|| panic!("no overflow report; stderr was: {stderr}"));
    let who = line
        .strip_prefix("coroutine '")
        .and_then(|rest| rest.strip_suffix("' has overflowed its stack (64 KiB)"))
        .unwrap_or_else(|| panic!("unexpected report: {line}"));
    assert!(who.starts_with(expect_name_prefix), "report names {who:?}");
    assert!(
        stderr.contains("weft::grow"),
        "the hint is printed; stderr was: {stderr}"
    );
}

#[test]
fn overflow_in_a_named_coroutine_is_reported_and_aborts() {
    assert_overflow_report("child_overflows_named", "deep");
}

#[test]
fn overflow_in_an_unnamed_coroutine_names_its_id() {
    assert_overflow_report("child_overflows_unnamed", "#");
}

#[test]
fn a_segfault_that_is_not_an_overflow_still_kills_the_process() {
    let out = common::run_child("child_segfaults_elsewhere", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "stderr: {stderr}");
    assert!(!stderr.contains("overflowed"), "stderr: {stderr}");
}

/// Child side: overflows a 64 KiB coroutine built by `builder`.
fn overflow_in(builder: weft::Builder) {
    if !common::is_child() {
        return;
    }
    let h = builder
        .stack_size(64 * 1024)
        .spawn(|| recurse(1_000_000))
        .unwrap();
    let _ = h.join();
    unreachable!("the overflow must abort the process");
}

#[test]
#[ignore = "child process of overflow_in_a_named_coroutine_is_reported_and_aborts"]
fn child_overflows_named() {
    overflow_in(weft::Builder::new().name("deep"));
}

#[test]
#[ignore = "child process of overflow_in_an_unnamed_coroutine_names_its_id"]
fn child_overflows_unnamed() {
    overflow_in(weft::Builder::new());
}

#[test]
#[ignore = "child process of a_segfault_that_is_not_an_overflow_still_kills_the_process"]
fn child_segfaults_elsewhere() {
    if !common::is_child() {
        return;
    }
    let h = weft::go(|| {
        // SAFETY: none; this child process exists to fault on purpose.
        unsafe { std::ptr::write_volatile(16 as *mut u8, 1) };
    });
    let _ = h.join();
}

#[test]
fn overflow_in_a_grow_segment_of_a_plain_thread_is_reported_without_a_runtime() {
    let out = common::run_child("child_overflows_grow_on_a_plain_thread", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "the child must abort; status {:?}, stderr: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("a weft::grow segment has overflowed its stack (64 KiB)"),
        "stderr: {stderr}"
    );
}

#[test]
#[ignore = "child process of overflow_in_a_grow_segment_of_a_plain_thread_is_reported_without_a_runtime"]
fn child_overflows_grow_on_a_plain_thread() {
    if !common::is_child() {
        return;
    }
    // No runtime is ever built in this process: `grow` itself must see to
    // the handler. A red zone larger than any stack forces a segment.
    let t = std::thread::spawn(|| weft::grow(usize::MAX, 64 * 1024, || recurse(1_000_000)));
    let _ = t.join();
    unreachable!("the overflow must abort the process");
}
