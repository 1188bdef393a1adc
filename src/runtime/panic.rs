//! Panic messages that name the coroutine, and the program's own hook.
//!
//! std's default hook prints `thread '<name>' panicked at ...`, which inside
//! a coroutine would name the worker thread. weft installs (once, when its
//! first worker starts) a hook that, for a panic in a coroutine, prints
//! `coroutine '<name or id>' panicked at <location>:` followed by the
//! message, if the hook it replaced is std's default one. If the program
//! had installed a hook of its own (a crash reporter, `human-panic`,
//! `tracing-panic`), weft calls that hook instead, for every panic, in a
//! coroutine or not (but those below); inside it `weft::current()` names
//! the coroutine. A hook the program installs after weft replaces weft's,
//! and so hears of every panic anyway. The panic is then caught at the
//! coroutine boundary and handed to `JoinHandle::join`. Panics in
//! coroutines being cancelled by their runtime's shutdown are not reported,
//! to either hook: they follow from the cancellation.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use super::current_task;

/// Installs the hook once per process.
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        // With no hook of the program's in place, `take_hook` hands out std's
        // default hook: take it again, now that none is set, and compare.
        // Both are the same zero-sized function behind the same vtable.
        let default = panic::take_hook();
        let programs_own = !std::ptr::eq(&*previous, &*default);
        drop(default);
        panic::set_hook(Box::new(move |info| {
            let Some(task) = current_task() else {
                return previous(info);
            };
            if task.is_cancelled() {
                // A consequence of the runtime's shutdown (an I/O call that
                // failed with ECANCELED, unwrapped): not worth a report.
                return;
            }
            if programs_own {
                return previous(info);
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let location = info
                .location()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "an unknown location".into());
            let who = match task.name() {
                Some(name) => name.to_owned(),
                None => task.id().to_string(),
            };
            let backtrace = Backtrace::capture();
            if backtrace.status() == BacktraceStatus::Captured {
                eprintln!("\ncoroutine '{who}' panicked at {location}:\n{msg}\nstack backtrace:\n{backtrace}");
            } else {
                eprintln!("\ncoroutine '{who}' panicked at {location}:\n{msg}");
                static NOTE: AtomicBool = AtomicBool::new(true);
                if NOTE.swap(false, Ordering::Relaxed) {
                    eprintln!("note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace");
                }
            }
        }));
    });
}
