//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the ignored test `name` of the current test binary in a child
/// process (with `WEFT_TEST_CHILD=1` and extra `env`) and returns its output.
pub fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
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
    cmd.output().expect("spawn child test process")
}

/// Whether this process is a child started by `run_child`.
pub fn is_child() -> bool {
    std::env::var_os("WEFT_TEST_CHILD").is_some()
}

pub mod net;
pub mod sides;
