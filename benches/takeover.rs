//! Criterion benchmarks of taking over a worker (`src/runtime/takeover.rs`):
//!
//! - `takeover/sibling_waits`: a coroutine blocks its thread in a std
//!   `mpsc` receive while a sibling is ready on the same (only) worker; the
//!   time from the block until the sibling runs. That is how long the other
//!   coroutines of a worker wait when one of them blocks: the monitor's
//!   tick plus the hand-over. After the criterion run it prints the median
//!   and worst of every sample it took.
//! - `blocking_call/*`: the cost of a call that is wrapped as a blocking
//!   call but does not block (a `pread` of a cached file), in a coroutine
//!   against the same call on a plain thread; and an uncontended std
//!   `Mutex`, which never reaches the kernel, so never a hook.
//! - After the criterion runs, `monitor_cpu`: the monitor thread's CPU time
//!   while one coroutine makes back-to-back cached `pread`s (short blocking
//!   calls) for 3 s, read from `/proc/self/task/*/stat`. The monitor's tick
//!   backs off when it sees only short calls (`src/runtime/monitor.rs`).
//!
//! `cargo bench --bench takeover`.

use std::os::unix::fs::FileExt;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn sibling_waits(c: &mut Criterion) {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let samples = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let mut g = c.benchmark_group("takeover");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    let s = samples.clone();
    g.bench_function("sibling_waits", |b| {
        b.iter_custom(|iters| {
            let s = s.clone();
            rt.run(move || {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (tx, rx) = mpsc::channel::<Instant>();
                    // Queued behind us on our worker: it runs only once the
                    // worker is taken over.
                    let sibling = weft::go(move || tx.send(Instant::now()).unwrap());
                    let blocked_at = Instant::now();
                    let ran_at = rx.recv().unwrap();
                    let wait = ran_at - blocked_at;
                    s.lock().unwrap().push(wait);
                    total += wait;
                    sibling.join().unwrap();
                }
                total
            })
        });
    });
    g.finish();
    let mut all = samples.lock().unwrap().clone();
    all.sort();
    if !all.is_empty() {
        eprintln!(
            "takeover/sibling_waits over {} blocks: median {:?}, worst {:?}",
            all.len(),
            all[all.len() / 2],
            all[all.len() - 1]
        );
    }
}

fn blocking_call(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("weft-bench-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; 4096]).unwrap();
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let mut g = c.benchmark_group("blocking_call");
    g.bench_function("pread_4k_plain_thread", |b| {
        let mut buf = [0u8; 4096];
        b.iter(|| file.read_at(&mut buf, 0).unwrap());
    });
    g.bench_function("pread_4k_in_coroutine", |b| {
        b.iter_custom(|iters| {
            let file = file.clone();
            rt.run(move || {
                let mut buf = [0u8; 4096];
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(file.read_at(&mut buf, 0).unwrap());
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("std_mutex_uncontended_plain_thread", |b| {
        let m = Mutex::new(0u64);
        b.iter(|| *m.lock().unwrap() += 1);
    });
    g.bench_function("std_mutex_uncontended_in_coroutine", |b| {
        b.iter_custom(|iters| {
            rt.run(move || {
                let m = Mutex::new(0u64);
                let start = Instant::now();
                for _ in 0..iters {
                    *std::hint::black_box(&m).lock().unwrap() += 1;
                }
                start.elapsed()
            })
        });
    });
    // A C library's uncontended pthread mutex: libc's own function (found
    // past weft's hook), the hook on a plain thread, the hook in a
    // coroutine (a trylock first).
    type LockFn = unsafe extern "C" fn(*mut libc::pthread_mutex_t) -> i32;
    // SAFETY: looking up libc's definitions, past this executable's.
    let (libc_lock, libc_unlock) = unsafe {
        let lock = libc::dlsym(libc::RTLD_NEXT, c"pthread_mutex_lock".as_ptr());
        let unlock = libc::dlsym(libc::RTLD_NEXT, c"pthread_mutex_unlock".as_ptr());
        assert!(!lock.is_null() && !unlock.is_null());
        (
            std::mem::transmute::<*mut libc::c_void, LockFn>(lock),
            std::mem::transmute::<*mut libc::c_void, LockFn>(unlock),
        )
    };
    let mutex = Arc::new(PthreadMutex(std::cell::UnsafeCell::new(
        libc::PTHREAD_MUTEX_INITIALIZER,
    )));
    g.bench_function("pthread_mutex_uncontended_libc", |b| {
        let m = mutex.0.get();
        // SAFETY: a valid, initialised mutex, locked and unlocked in turn.
        b.iter(|| unsafe {
            libc_lock(m);
            libc_unlock(m);
        });
    });
    g.bench_function("pthread_mutex_uncontended_plain_thread", |b| {
        let m = mutex.0.get();
        // SAFETY: as above, through weft's hook.
        b.iter(|| unsafe {
            libc::pthread_mutex_lock(m);
            libc::pthread_mutex_unlock(m);
        });
    });
    g.bench_function("pthread_mutex_uncontended_in_coroutine", |b| {
        b.iter_custom(|iters| {
            let mutex = mutex.clone();
            rt.run(move || {
                let m = mutex.0.get();
                let start = Instant::now();
                for _ in 0..iters {
                    // SAFETY: as above.
                    unsafe {
                        libc::pthread_mutex_lock(std::hint::black_box(m));
                        libc::pthread_mutex_unlock(m);
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
    let _ = std::fs::remove_file(path);
}

/// The CPU time, in ms, of this process's threads whose name ends in
/// `suffix` (10 ms resolution: the kernel's clock ticks).
fn threads_cpu_ms(suffix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.trim_end().ends_with(suffix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: utime and stime are the 12th
        // and 13th.
        let rest: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
        total += ticks * 10;
    }
    total
}

/// Prints the monitor's CPU time while a coroutine makes short blocking
/// calls for 3 s (module docs).
fn monitor_cpu(_: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("weft-bench-mon-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; 4096]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // A short name, so that the monitor's ("mb-monitor") fits the 15
    // bytes the kernel keeps of a thread's name.
    let rt = weft::Runtime::builder()
        .workers(1)
        .thread_name("mb")
        .build()
        .unwrap();
    let before = threads_cpu_ms("mb-monitor");
    let calls = rt.run(move || {
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < Duration::from_secs(3) {
            file.read_at(&mut buf, 0).unwrap();
            calls += 1;
        }
        calls
    });
    let spent = threads_cpu_ms("mb-monitor") - before;
    eprintln!("monitor_cpu: {calls} cached preads in 3 s; the monitor used {spent} ms of CPU");
    let _ = std::fs::remove_file(path);
}

/// A pthread mutex shared with the benchmark's coroutine.
struct PthreadMutex(std::cell::UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made to be used from many threads.
unsafe impl Send for PthreadMutex {}
// SAFETY: as above.
unsafe impl Sync for PthreadMutex {}

criterion_group!(benches, sibling_waits, blocking_call, monitor_cpu);
criterion_main!(benches);
