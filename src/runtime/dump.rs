//! `Dump`: every coroutine of a runtime, what it waits for and since when.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::inspect;
use super::json;
use super::park;
use super::probe::{Detail, State, TaskInfo, WaitInfo, NO_WORKER};
use super::stats::SEEN;
use super::watchdog::{lock_cycles, name_of};
use super::Shared;

/// How long a dump waits for a busy worker to answer.
const PATIENCE: Duration = Duration::from_millis(200);

/// One coroutine in a dump.
#[derive(Clone, Debug)]
struct Entry {
    info: TaskInfo,
    /// "running", "ready", "parked" or "blocked".
    state: &'static str,
    /// What it waits for, in words (`None` while it runs or is ready).
    wait: Option<String>,
    /// On a lock cycle.
    deadlock: bool,
}

/// One worker in a dump.
#[derive(Clone, Debug)]
struct WorkerEntry {
    index: usize,
    /// It answered in time; if not, `running` is the coroutine it ran.
    answered: bool,
    running: Option<u64>,
    threads: usize,
    blocked: usize,
    coroutines: usize,
}

/// A snapshot of every live coroutine of a runtime: what each is doing,
/// what it waits for and for how long, on which worker, and where it was
/// spawned; and any cycle of coroutines waiting for each other's locks (a
/// deadlock). Made by [`weft::dump`](crate::dump) or
/// [`Runtime::dump`](crate::Runtime::dump).
///
/// Print it (`{}`) for a text in the spirit of Go's goroutine dump, or
/// turn it into JSON with [`to_json`](Dump::to_json).
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Runtime::builder().workers(1).build().unwrap();
/// let (tx, rx) = weft::channel::bounded::<()>(0);
/// let waiter = weft::Builder::new().name("waiter");
/// let h = rt.run(move || waiter.spawn(move || rx.recv()).unwrap());
/// std::thread::sleep(Duration::from_millis(50)); // it parks in `recv`
/// let text = rt.dump().to_string();
/// assert!(text.contains("'waiter' [parked"), "{text}");
/// assert!(text.contains("channel recv"), "{text}");
/// drop(tx);
/// h.join().unwrap().unwrap_err();
/// ```
#[derive(Clone, Debug)]
pub struct Dump {
    runtime: String,
    entries: Vec<Entry>,
    workers: Vec<WorkerEntry>,
    /// Each cycle: indices into `entries`, in wait order.
    deadlocks: Vec<Vec<usize>>,
}

impl Dump {
    /// Asks every worker of `shared` for its coroutines (`probe.rs`), with
    /// a backtrace of each suspended one if `backtraces`.
    pub(crate) fn take(shared: &Shared, backtraces: bool) -> Dump {
        let me = super::current_task().map(|t| t.id().as_u64());
        // The injector first: a coroutine a worker takes from it after this
        // is in that worker's answer, which comes at a switch point after
        // the take (it is listed twice then, and the worker's entry kept).
        let injected = inspect::injected(shared);
        let detail = if backtraces {
            Detail::Traced
        } else {
            Detail::Full
        };
        let probe = shared.request_probe(detail, park::current());
        inspect::wait(&probe, Instant::now() + PATIENCE);
        shared.end_probe(&probe);
        let parts = probe.take_parts();
        let mut entries = Vec::new();
        let mut workers = Vec::new();
        for (index, part) in parts.into_iter().enumerate() {
            let remote = &shared.workers[index];
            let (threads, away) = remote.takeover.threads();
            let blocked = away + usize::from(remote.takeover.is_blocking());
            let running = remote.stats.running.load(Ordering::Relaxed) & !SEEN;
            let answered = part.is_some();
            let tasks = part.map(|p| p.tasks).unwrap_or_default();
            workers.push(WorkerEntry {
                index,
                answered,
                running: (!answered && running != 0).then_some(running),
                threads,
                blocked,
                coroutines: tasks.len(),
            });
            for info in tasks {
                let state = match info.state {
                    _ if Some(info.id) == me => "running",
                    State::Ready => "ready",
                    State::Parked => "parked",
                    State::Blocked => "blocked",
                };
                entries.push(Entry {
                    info,
                    state,
                    wait: None,
                    deadlock: false,
                });
            }
        }
        for info in injected {
            if !entries.iter().any(|e| e.info.id == info.id) {
                entries.push(Entry {
                    info,
                    state: "ready",
                    wait: None,
                    deadlock: false,
                });
            }
        }
        entries.sort_by_key(|e| e.info.id);
        // A coroutine not started yet that one worker stole from another
        // between their answers is listed by both. (One stolen the other
        // way, from a worker yet to answer by one that answered, is missed:
        // the parts are taken at slightly different moments.)
        entries.dedup_by_key(|e| e.info.id);
        let all_answered = workers.iter().all(|w| w.answered);
        let infos: Vec<TaskInfo> = entries.iter().map(|e| e.info.clone()).collect();
        for e in &mut entries {
            if e.state == "running" {
                continue;
            }
            e.wait = e.info.wait.as_ref().map(|w| match w {
                WaitInfo::Text(t) => t.clone(),
                WaitInfo::Lock { what, holder, .. } => {
                    let by = match infos.iter().find(|t| t.owns(*holder)) {
                        Some(t) => match &t.name {
                            Some(name) => format!("{} '{name}'", t.id),
                            None => t.id.to_string(),
                        },
                        None if *holder == 0 => "readers".to_owned(),
                        None if all_answered => "a plain thread".to_owned(),
                        None => "a plain thread or a coroutine of a busy worker".to_owned(),
                    };
                    format!("{what} held by {by}")
                }
            });
        }
        let deadlocks = lock_cycles(&infos);
        for cycle in &deadlocks {
            for &i in cycle {
                entries[i].deadlock = true;
            }
        }
        Dump {
            runtime: shared.config.thread_name.clone(),
            entries,
            workers,
            deadlocks,
        }
    }

    /// How many coroutines the dump lists.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// assert_eq!(rt.dump().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dump lists no coroutine.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// assert!(rt.dump().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some coroutines wait for each other's locks (a deadlock).
    ///
    /// ```
    /// let rt = weft::Runtime::builder().build().unwrap();
    /// assert!(!rt.dump().has_deadlock());
    /// ```
    pub fn has_deadlock(&self) -> bool {
        !self.deadlocks.is_empty()
    }

    /// The dump as one JSON object: `"runtime"`, a `"workers"` array
    /// (`"index"`, `"answered"`, `"threads"`, `"blocked"`, `"coroutines"`,
    /// `"running"`: the id a worker that did not answer runs, else null), a
    /// `"coroutines"` array (`"id"`, `"name"` (string or null), `"state"`
    /// (`"running"`, `"ready"`, `"parked"` or `"blocked"`), `"wait"` (what
    /// it waits for, in words, or null), `"worker"` (null for a coroutine
    /// spawned from outside that no worker has taken yet), `"for_ms"` (how long
    /// it has been parked or blocked, or null), `"spawned_at"`
    /// (`"file:line:col"`), `"deadlock"` and `"backtrace"` (where it is
    /// suspended, as text, in a dump with backtraces; else null)), and a
    /// `"deadlocks"` array of cycles, each an array of coroutine ids in
    /// wait order.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().workers(2).build().unwrap();
    /// let json = rt.dump().to_json();
    /// assert!(json.starts_with('{') && json.contains("\"coroutines\":[]"));
    /// ```
    pub fn to_json(&self) -> String {
        let workers: Vec<String> = self
            .workers
            .iter()
            .map(|w| {
                format!(
                    "{{\"index\":{},\"answered\":{},\"threads\":{},\"blocked\":{},\
                     \"coroutines\":{},\"running\":{}}}",
                    w.index,
                    w.answered,
                    w.threads,
                    w.blocked,
                    w.coroutines,
                    json::opt_number(w.running)
                )
            })
            .collect();
        let coroutines: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{{\"id\":{},\"name\":{},\"state\":{},\"wait\":{},\"worker\":{},\
                     \"for_ms\":{},\"spawned_at\":{},\"deadlock\":{},\"backtrace\":{}}}",
                    e.info.id,
                    json::opt_string(e.info.name.as_deref()),
                    json::string(e.state),
                    json::opt_string(e.wait.as_deref()),
                    json::opt_number(worker_of(e).map(|w| w as u64)),
                    json::opt_number(for_ms(e)),
                    json::string(&e.info.spawned_at.to_string()),
                    e.deadlock,
                    json::opt_string(e.info.backtrace.as_ref().map(|b| b.to_string()).as_deref())
                )
            })
            .collect();
        let deadlocks: Vec<String> = self
            .deadlocks
            .iter()
            .map(|c| {
                let ids: Vec<String> = c
                    .iter()
                    .map(|&i| self.entries[i].info.id.to_string())
                    .collect();
                format!("[{}]", ids.join(","))
            })
            .collect();
        format!(
            "{{\"runtime\":{},\"workers\":[{}],\"coroutines\":[{}],\"deadlocks\":[{}]}}",
            json::string(&self.runtime),
            workers.join(","),
            coroutines.join(","),
            deadlocks.join(",")
        )
    }
}

/// Whether `WEFT_DUMP_BACKTRACE` asks every dump for backtraces (`1`, or
/// any value but `0` and the empty string).
pub(crate) fn backtraces_from_env() -> bool {
    std::env::var_os("WEFT_DUMP_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The worker that holds an entry, if one does yet.
fn worker_of(e: &Entry) -> Option<usize> {
    (e.info.worker != NO_WORKER).then_some(e.info.worker)
}

/// How long an entry has been in its state, in milliseconds, if known.
fn for_ms(e: &Entry) -> Option<u64> {
    match e.state {
        "parked" | "blocked" => e.info.parked_for.map(|d| d.as_millis() as u64),
        _ => None,
    }
}

/// `1.5 s`, `320 ms`, `2 min`.
fn human(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=119_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min", ms / 60_000),
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "weft dump of runtime '{}': {} coroutine(s) on {} worker(s)",
            self.runtime,
            self.entries.len(),
            self.workers.len()
        )?;
        for w in &self.workers {
            write!(
                f,
                "worker {}: {} coroutine(s), {} thread(s)",
                w.index, w.coroutines, w.threads
            )?;
            if w.blocked > 0 {
                write!(f, ", {} in blocking calls", w.blocked)?;
            }
            if !w.answered {
                write!(f, "; did not answer within {} ms", PATIENCE.as_millis())?;
                if let Some(id) = w.running {
                    write!(f, ": coroutine {id} runs without parking")?;
                }
            }
            writeln!(f)?;
        }
        for cycle in &self.deadlocks {
            writeln!(
                f,
                "\nDEADLOCK: these coroutines wait for each other's locks:"
            )?;
            for (k, &i) in cycle.iter().enumerate() {
                let e = &self.entries[i];
                let next = &self.entries[cycle[(k + 1) % cycle.len()]];
                let what = match e.info.wait {
                    Some(WaitInfo::Lock { what, lock, .. }) => format!("{what} {lock:#x}"),
                    _ => "a lock".to_owned(),
                };
                writeln!(
                    f,
                    "    {} waits for {what}, held by {}",
                    name_of(&e.info),
                    name_of(&next.info)
                )?;
            }
        }
        for e in &self.entries {
            write!(f, "\ncoroutine {}", e.info.id)?;
            if let Some(name) = &e.info.name {
                write!(f, " '{name}'")?;
            }
            write!(f, " [{}", e.state)?;
            if let Some(ms) = for_ms(e) {
                write!(f, ", {}", human(ms))?;
            }
            if e.deadlock {
                write!(f, ", deadlock")?;
            }
            write!(f, "]")?;
            if let Some(wait) = &e.wait {
                write!(f, ": {wait}")?;
            }
            writeln!(f)?;
            match worker_of(e) {
                Some(w) => writeln!(f, "    worker {w}, spawned at {}", e.info.spawned_at)?,
                None => writeln!(f, "    not started, spawned at {}", e.info.spawned_at)?,
            }
            if let Some(trace) = &e.info.backtrace {
                for line in trace.to_string().lines() {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        Ok(())
    }
}
