//! Panic messages that name the coroutine.
//!
//! std's default hook prints `thread '<name>' panicked at ...`, which inside a
//! coroutine would name the worker thread. weft installs (once, when its first
//! worker starts) a hook that prints `coroutine '<name or id>' panicked at
//! <location>:` followed by the message when the panic happens in a
//! coroutine, and defers to the previous hook everywhere else. The panic is
//! then caught at the coroutine boundary and handed to `JoinHandle::join`.
//! Panics in coroutines being cancelled by their runtime's shutdown are not
//! printed: they follow from the cancellation.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::runtime::current_task;

/// Installs the hook once per process.
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let Some(task) = current_task() else {
                return previous(info);
            };
            if task.is_cancelled() {
                // A consequence of the runtime's shutdown (an I/O call that
                // failed with ECANCELED, unwrapped): not worth a report.
                return;
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
