//! The names of living named coroutines, by id, for a thread that knows an
//! id but may not touch the task: the watchdog naming a coroutine that
//! hogs its worker (`runtime/watchdog.rs`).
//!
//! Only named coroutines (`Builder::name`) are entered, at spawn, and leave
//! when their task record is freed; a plain `go` pays nothing. The table is
//! split into shards by id so that spawning threads rarely meet on a lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

type Shard = Mutex<Option<HashMap<u64, Arc<str>>>>;

static NAMES: [Shard; SHARDS] = [const { Mutex::new(None) }; SHARDS];

fn shard(id: u64) -> std::sync::MutexGuard<'static, Option<HashMap<u64, Arc<str>>>> {
    NAMES[id as usize % SHARDS]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Enters a named coroutine.
pub(crate) fn insert(id: u64, name: &str) {
    shard(id)
        .get_or_insert_with(HashMap::new)
        .insert(id, name.into());
}

/// Takes a coroutine out, as its record is freed.
pub(crate) fn remove(id: u64) {
    if let Some(map) = shard(id).as_mut() {
        map.remove(&id);
    }
}

/// The name of the living coroutine `id`, if it has one.
pub(crate) fn get(id: u64) -> Option<Arc<str>> {
    shard(id).as_ref()?.get(&id).cloned()
}
