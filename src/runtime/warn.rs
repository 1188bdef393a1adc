//! weft's warnings on stderr (the watchdog's, take-over's): at most
//! `BURST` per `WINDOW`, all off with `WEFT_WARN=0`, written with raw
//! system calls.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// At most `BURST` warnings per `WINDOW`.
const BURST: u32 = 10;
const WINDOW: Duration = Duration::from_secs(10);

/// Whether warnings are on (`WEFT_WARN`), from the environment once per
/// process.
pub(crate) fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("WEFT_WARN").map_or(true, |v| v.trim() != "0"))
}

/// Prints a warning on stderr, unless warnings are off or too many went
/// out lately (then it is counted, and the count printed with the next one
/// that goes out).
pub(crate) fn warn(message: &str) {
    if !enabled() {
        return;
    }
    static LIMIT: Mutex<Option<(Instant, u32, u32)>> = Mutex::new(None);
    let mut limit = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let (start, sent, dropped) = limit.get_or_insert((now, 0, 0));
    if now.duration_since(*start) >= WINDOW {
        *start = now;
        *sent = 0;
    }
    if *sent >= BURST {
        *dropped += 1;
        return;
    }
    *sent += 1;
    let dropped = std::mem::take(dropped);
    drop(limit);
    if dropped > 0 {
        say(&format!(
            "weft: {dropped} warning(s) were not printed (too many at once)\n"
        ));
    }
    say(&format!("weft: {message}\n"));
}

/// Writes `text` to stderr with raw `write` calls, not through std's
/// `stderr`, whose lock a coroutine may hold: a coroutine that panics
/// prints its message and backtrace under that lock, and its file
/// reads (the backtrace's symbols) and its write to a pipe are blocking
/// calls, during which its worker is taken over. Were the monitor, which
/// prints these warnings and takes workers over, to wait for that lock, a
/// worker whose holder waits for the same lock would never be taken over
/// again, and the coroutine that holds it would never get its worker back.
pub(crate) fn say(text: &str) {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: a valid buffer of its length, to fd 2.
        let n = unsafe { crate::sys::raw::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            if n < 0 && crate::sys::errno() == libc::EINTR {
                continue;
            }
            return;
        }
        rest = &rest[n as usize..];
    }
}
