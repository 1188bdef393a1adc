//! Every runtime of the process, for the dump signal (`signal.rs`),
//! which prints them all.

use std::sync::{Arc, Mutex, Weak};

use super::Shared;

static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Registers a new runtime (dropped ones are forgotten on the way).
pub(crate) fn add(shared: &Arc<Shared>) {
    let mut all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(shared));
}

/// The runtimes alive now, oldest first.
pub(crate) fn live() -> Vec<Arc<Shared>> {
    let all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .filter_map(Weak::upgrade)
        .filter(|s| !s.is_shut_down())
        .collect()
}
