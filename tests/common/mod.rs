//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The variable that names the command which runs this test binary when
/// it cannot run by itself (an emulator, as in `.ci/aarch64`): cargo
/// keeps its own runner setting to itself, so the child processes of the
/// tests learn it from here.
const RUNNER_VAR: &str = "WEFT_TEST_RUNNER";

/// The runner of [`RUNNER_VAR`], split at whitespace: the program and its
/// leading arguments; empty when the tests run natively.
fn runner() -> Vec<String> {
    std::env::var(RUNNER_VAR)
        .map(|r| r.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Runs the ignored test `name` of the current test binary in a child
/// process (with `WEFT_TEST_CHILD=1` and extra `env`) and returns its
/// output. The child starts through the runner of [`RUNNER_VAR`] if any.
pub fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let runner = runner();
    let mut cmd = match runner.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads=1",
    ])
    .env("WEFT_TEST_CHILD", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn child test process");
    // 127 is what a child that could not start at all exits with; no
    // child test exits with it on purpose.
    assert!(
        out.status.code() != Some(127) || !runner.is_empty(),
        "the child test process could not start (exit 127): if this test \
         binary runs under an emulator, set {RUNNER_VAR} to the same runner \
         cargo uses; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the ignored test `name` in a child process (`run_child`) and
/// asserts that it succeeded and printed `marker`.
pub fn assert_child_prints(name: &str, marker: &str) {
    let out = run_child(name, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(marker), "{stdout}");
}

/// Whether this process is a child started by `run_child`.
pub fn is_child() -> bool {
    std::env::var_os("WEFT_TEST_CHILD").is_some()
}

pub mod clib;
pub mod net;
pub mod sides;

/// Ends the whole test process with a failure if it is still alive
/// `limit` after this call, unless the returned guard was dropped: for
/// tests whose failure would otherwise be a wait that never ends.
pub fn deadline(limit: std::time::Duration, what: &'static str) -> Deadline {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let done = Arc::new(AtomicBool::new(false));
    let seen = done.clone();
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if seen.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Raw calls: the process may be stuck on std's stderr lock itself.
        let msg = format!("{what}: still waiting after {limit:?}; a deadlock\n");
        // SAFETY: a valid buffer of its length, to fd 2; then the process
        // ends at once, without waiting for any lock.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(101);
        }
    });
    Deadline { done }
}

/// The guard of [`deadline`].
pub struct Deadline {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
