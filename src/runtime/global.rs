//! The global runtime, started on first use.
//!
//! `WEFT_WORKERS` (default: available cores), `WEFT_STACK_SIZE` (bytes,
//! default 256 KiB) and `WEFT_MAX_THREADS` (threads per worker, default
//! 512) configure it. It lives until the process exits; its
//! workers are never joined, like any detached thread.

use std::io;
use std::sync::{Arc, OnceLock};

use super::{current_worker, Runtime, Shared};

static GLOBAL: OnceLock<Result<Runtime, (io::ErrorKind, String)>> = OnceLock::new();

/// The global runtime, starting it if needed.
pub(crate) fn global() -> io::Result<&'static Runtime> {
    GLOBAL
        .get_or_init(|| build().map_err(|e| (e.kind(), e.to_string())))
        .as_ref()
        .map_err(|(kind, msg)| io::Error::new(*kind, msg.clone()))
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
