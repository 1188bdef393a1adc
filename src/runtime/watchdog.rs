//! The watchdog: warnings on stderr about what stalls a runtime, run by the
//! monitor thread every `WATCH_TICK` (`monitor.rs`).
//!
//! - **Hogs.** A coroutine cannot be preempted soundly (thread-locals and
//!   allocators are not reentrant), so one that computes for long without
//!   parking holds its worker and every coroutine queued behind it. Each
//!   worker publishes the id of the coroutine it runs, one store per resume
//!   (`stats.rs`). The watchdog marks the id it sees (`SEEN`, with a CAS
//!   that fails if the worker stored meanwhile); the worker's next resume,
//!   or its sleep, overwrites the mark. A mark still there `WEFT_HOG_MS`
//!   (100 ms) later means the same coroutine has run all that time.
//!   Workers asleep, or whose holder is in a blocking call
//!   (`takeover.rs`), are not hogged.
//! - **Lock cycles.** While some coroutine waits for a `weft::sync` lock,
//!   the watchdog probes the workers for their lock waiters every
//!   `LOCK_EVERY` (`probe.rs`, `Detail::Locks`) and follows each waiter to
//!   the lock's holder (`task/owner.rs`). A cycle seen in two probes in a
//!   row is a deadlock: each coroutine on it waits for the next.
//! - **No more threads.** A worker whose threads are all in blocking calls
//!   (`takeover.rs`) says so once, until it gets one back.
//!
//! Each incident is reported once, through `warn.rs` (rate-limited, and
//! off with `WEFT_WARN=0`).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::current_worker;
use super::park;
use super::probe::{Detail, Probe, State, TaskInfo, WaitInfo};
use super::shared::Shared;
use super::stats::SEEN;
use super::warn::{self, warn};

/// How long a coroutine may run without parking before it is reported,
/// unless `WEFT_HOG_MS` says otherwise.
const HOG_AFTER: Duration = Duration::from_millis(100);

/// How often lock waiters are looked at for cycles.
const LOCK_EVERY: Duration = Duration::from_millis(500);

/// How long a lock probe waits for a busy worker.
const PROBE_PATIENCE: Duration = Duration::from_millis(200);

/// How long a coroutine may run without parking (`WEFT_HOG_MS`), from
/// the environment once per process.
fn hog_after() -> Duration {
    static HOG: OnceLock<Duration> = OnceLock::new();
    *HOG.get_or_init(|| {
        std::env::var("WEFT_HOG_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map_or(HOG_AFTER, Duration::from_millis)
    })
}

/// A coroutine counted among its runtime's lock waiters while this lives
/// (`Shared::lock_waiters`): the watchdog looks for cycles while there are
/// any.
#[cfg_attr(weft_loom, allow(dead_code))]
pub(crate) struct LockWait(Arc<Shared>);

impl std::fmt::Debug for LockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockWait").finish_non_exhaustive()
    }
}

#[cfg_attr(weft_loom, allow(dead_code))]
impl LockWait {
    /// Counts the calling coroutine; `None` on a plain thread. Wakes the
    /// monitor if it sleeps for good (`shared.rs`, "The monitor's
    /// sleep", step 2).
    pub(crate) fn begin() -> Option<LockWait> {
        let w = current_worker()?;
        w.shared.lock_waiters.fetch_add(1, Ordering::SeqCst);
        w.shared.monitor.worker_awake(&w.shared.clock);
        Some(LockWait(w.shared.clone()))
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        self.0.lock_waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the watchdog remembers of one worker's running coroutine.
#[derive(Default)]
struct Hog {
    /// The id it marked, 0 for none.
    id: u64,
    /// When it marked it.
    since: Option<Instant>,
    /// Reported already (once per incident).
    warned: bool,
}

/// The monitor's watchdog state.
pub(crate) struct Watchdog {
    hogs: Vec<Hog>,
    /// A lock probe in flight, and when to give up on it.
    probe: Option<(Arc<Probe>, Instant)>,
    next_probe: Instant,
    /// Cycles seen by the last probe, as sorted lists of (id, lock).
    last_cycles: HashSet<Vec<(u64, usize)>>,
    /// Cycles reported and still there.
    reported: HashSet<Vec<(u64, usize)>>,
}

impl Watchdog {
    pub(crate) fn new(shared: &Shared) -> Watchdog {
        Watchdog {
            hogs: (0..shared.workers.len()).map(|_| Hog::default()).collect(),
            probe: None,
            next_probe: Instant::now(),
            last_cycles: HashSet::new(),
            reported: HashSet::new(),
        }
    }

    /// Whether a lock probe is in flight (the monitor keeps ticking).
    pub(crate) fn is_busy(&self) -> bool {
        self.probe.is_some()
    }

    /// One look (module docs).
    pub(crate) fn tick(&mut self, shared: &Shared, now: Instant) {
        if !warn::enabled() {
            return;
        }
        for i in 0..shared.workers.len() {
            self.watch_hog(shared, i, now);
        }
        self.watch_locks(shared, now);
    }

    fn watch_hog(&mut self, shared: &Shared, index: usize, now: Instant) {
        let remote = &shared.workers[index];
        let hog = &mut self.hogs[index];
        let running = remote.stats.running.load(Ordering::Relaxed);
        let idle = remote.idle.is_asleep() || remote.takeover.is_blocking();
        if running == 0 || idle {
            *hog = Hog::default();
            return;
        }
        if running & SEEN == 0 {
            // A resume since the last look: mark the coroutine, and time it
            // from now.
            let marked = remote
                .stats
                .running
                .compare_exchange(
                    running,
                    running | SEEN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
            *hog = Hog {
                id: if marked { running } else { 0 },
                since: marked.then_some(now),
                warned: false,
            };
            return;
        }
        let (Some(since), false) = (hog.since, hog.warned) else {
            return;
        };
        let ran = now.duration_since(since);
        if hog.id != running & !SEEN || ran < hog_after() {
            return;
        }
        hog.warned = true;
        let behind = remote.stats.queued.get() as usize + remote.inbox.len() + remote.stealer.len();
        let who = match crate::task::names::get(hog.id) {
            Some(name) => format!("coroutine {} '{name}'", hog.id),
            None => format!("coroutine {}", hog.id),
        };
        warn(&format!(
            "{who} has run for {} ms on worker {index} without parking; {behind} coroutine(s) \
             wait behind it. Move long computations to weft::spawn_blocking, or call \
             weft::yield_now() now and then (WEFT_HOG_MS sets this limit, WEFT_WARN=0 silences it)",
            ran.as_millis()
        ));
    }

    fn watch_locks(&mut self, shared: &Shared, now: Instant) {
        if let Some((probe, give_up)) = &self.probe {
            if !probe.is_done() && now < *give_up {
                return;
            }
            let probe = probe.clone();
            self.probe = None;
            shared.end_probe(&probe);
            let tasks: Vec<TaskInfo> = probe
                .take_parts()
                .into_iter()
                .flatten()
                .flat_map(|p| p.tasks)
                .collect();
            self.judge(&tasks);
            return;
        }
        if shared.lock_waiters.load(Ordering::Relaxed) == 0 {
            self.last_cycles.clear();
            self.reported.clear();
            return;
        }
        if now >= self.next_probe {
            self.next_probe = now + LOCK_EVERY;
            self.probe = Some((
                shared.request_probe(Detail::Locks, park::current()),
                now + PROBE_PATIENCE,
            ));
        }
    }

    /// Reports the cycles among `tasks` that the previous probe saw too.
    fn judge(&mut self, tasks: &[TaskInfo]) {
        let mut now_seen = HashSet::new();
        for cycle in lock_cycles(tasks) {
            let mut key: Vec<(u64, usize)> = cycle
                .iter()
                .map(|&i| (tasks[i].id, lock_of(&tasks[i])))
                .collect();
            key.sort_unstable();
            if self.last_cycles.contains(&key) && !self.reported.contains(&key) {
                warn(&describe_cycle(tasks, &cycle));
                self.reported.insert(key.clone());
            }
            now_seen.insert(key);
        }
        self.reported.retain(|k| now_seen.contains(k));
        self.last_cycles = now_seen;
    }
}

fn lock_of(t: &TaskInfo) -> usize {
    match t.wait {
        Some(WaitInfo::Lock { lock, .. }) => lock,
        _ => 0,
    }
}

/// The cycles of coroutines waiting for each other's locks among `tasks`:
/// each a list of indices into `tasks`, in wait order (each waits for a lock
/// the next holds; the last for one the first holds).
///
/// A parked coroutine waits for one lock, so each has at most one edge,
/// to the coroutine whose stack holds the lock's owner address: the graph
/// is a functional graph, and each walk from a node ends in a cycle or at
/// a coroutine that waits for no lock.
pub(crate) fn lock_cycles(tasks: &[TaskInfo]) -> Vec<Vec<usize>> {
    let next: Vec<Option<usize>> = tasks
        .iter()
        .map(|t| match (&t.wait, t.state) {
            (Some(WaitInfo::Lock { holder, .. }), State::Parked) => {
                tasks.iter().position(|h| h.owns(*holder))
            }
            _ => None,
        })
        .collect();
    // 0: not visited; 1: on the current walk; 2: done.
    let mut mark = vec![0u8; tasks.len()];
    let mut cycles = Vec::new();
    for start in 0..tasks.len() {
        let mut walk = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match mark[i] {
                0 => {
                    mark[i] = 1;
                    walk.push(i);
                    at = next[i];
                }
                1 => {
                    let from = walk.iter().position(|&j| j == i).unwrap_or(0);
                    cycles.push(walk[from..].to_vec());
                    break;
                }
                _ => break,
            }
        }
        for i in walk {
            mark[i] = 2;
        }
    }
    cycles
}

/// "coroutine 14 'a'" or "coroutine 14".
pub(crate) fn name_of(t: &TaskInfo) -> String {
    match &t.name {
        Some(name) => format!("coroutine {} '{name}'", t.id),
        None => format!("coroutine {}", t.id),
    }
}

/// The warning for a lock cycle.
fn describe_cycle(tasks: &[TaskInfo], cycle: &[usize]) -> String {
    let mut s = String::from(
        "deadlock: these coroutines wait for each other's locks, and none of them can go on:",
    );
    for (k, &i) in cycle.iter().enumerate() {
        let t = &tasks[i];
        let holder = &tasks[cycle[(k + 1) % cycle.len()]];
        let (what, lock) = match t.wait {
            Some(WaitInfo::Lock { what, lock, .. }) => (what, lock),
            _ => ("a lock", 0),
        };
        let _ = write!(
            s,
            "\n  {} (worker {}, spawned at {}) waits for {what} {lock:#x}, held by {}",
            name_of(t),
            t.worker,
            t.spawned_at,
            name_of(holder)
        );
    }
    s
}
