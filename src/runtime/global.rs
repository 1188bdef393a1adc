//! The global runtime, started on first use.
//!
//! `WEFT_WORKERS` (default: available cores), `WEFT_STACK_SIZE` (bytes,
//! default 256 KiB) and `WEFT_MAX_THREADS` (threads per worker, default
//! 512) configure it; its threads' names start with `weft` (`weft-0`,
//! `weft-1`, ...: `RuntimeBuilder::thread_name`). It lives until the
//! process exits; its workers are never joined, like any detached thread.
//! A start that fails (no fds or memory left, a bad variable) is reported
//! to the caller and tried again at the next use.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use super::{current_worker, Runtime, Shared};

/// The global runtime, once a start succeeded. A failed start leaves it
/// empty, so the next call tries again (the failure may be passing: fds or
/// memory running out for a moment).
static GLOBAL: OnceLock<Runtime> = OnceLock::new();
/// Held while a start is under way, so two first calls build one runtime.
static STARTING: Mutex<()> = Mutex::new(());

/// The global runtime, starting it if needed. The error of a failed start
/// says that the runtime failed to start, and why.
pub(crate) fn global() -> io::Result<&'static Runtime> {
    if super::outside_weft() {
        return Err(super::fork::forked_error());
    }
    if let Some(rt) = GLOBAL.get() {
        return Ok(rt);
    }
    // A start that panicked left nothing behind: the lock guards no data.
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = GLOBAL.get() {
        return Ok(rt);
    }
    let rt = build().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("weft: the global runtime failed to start (the next use tries again): {e}"),
        )
    })?;
    Ok(GLOBAL.get_or_init(|| rt))
}

/// The runtime of the calling coroutine, else the global one.
pub(crate) fn current_or_global() -> io::Result<&'static Arc<Shared>> {
    match current_worker() {
        Some(w) => Ok(&w.shared),
        None => global().map(|rt| rt.shared()),
    }
}

fn build() -> io::Result<Runtime> {
    let mut builder = Runtime::builder().thread_name("weft");
    if let Some(n) = env_usize("WEFT_WORKERS")? {
        builder = builder.workers(n);
    }
    if let Some(n) = env_usize("WEFT_STACK_SIZE")? {
        builder = builder.stack_size(n);
    }
    if let Some(n) = env_usize("WEFT_MAX_THREADS")? {
        builder = builder.max_threads(n);
    }
    builder.build()
}

fn env_usize(name: &str) -> io::Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft: {name} must be a positive integer, not {v:?}"),
            )
        }),
        Err(_) => Ok(None),
    }
}
