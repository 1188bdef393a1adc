//! The global runtime starts on first use; a start that fails is reported
//! as such, and the next use tries again. Runs in a child process, whose
//! global runtime nothing else has started.

mod common;

/// Fills every free descriptor number below the soft limit with copies of
/// stdin; returns them.
fn use_up_fds() -> Vec<i32> {
    let mut taken = Vec::new();
    loop {
        // SAFETY: dup of stdin; the caller closes it.
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EMFILE)
            );
            return taken;
        }
        taken.push(fd);
    }
}

#[test]
fn a_failed_global_start_is_retried_and_says_what_failed() {
    common::assert_child_prints("child_global_start_without_fds", "startup-ok");
}

#[test]
#[ignore = "child process of a_failed_global_start_is_retried_and_says_what_failed"]
fn child_global_start_without_fds() {
    if !common::is_child() {
        return;
    }
    let taken = use_up_fds();
    let Err(err) = weft::Builder::new().spawn(|| 1) else {
        panic!("the global runtime started without a free fd");
    };
    let msg = err.to_string();
    // Free the fds before asserting, so a failure can be reported.
    for fd in taken {
        // SAFETY: our own dup.
        unsafe { libc::close(fd) };
    }
    assert!(
        msg.contains("global runtime failed to start"),
        "the error does not say the start failed: {msg}"
    );
    assert!(msg.contains("os error 24"), "the cause is missing: {msg}");

    // Fds are free again: the next uses start the runtime and run.
    let h = weft::Builder::new()
        .spawn(|| 2)
        .expect("the global runtime did not start once fds were free");
    assert_eq!(h.join().unwrap(), 2);
    assert_eq!(weft::go(|| 3).join().unwrap(), 3);
    assert_eq!(weft::run(|| 4), 4);
    println!("startup-ok: {msg}");
}
