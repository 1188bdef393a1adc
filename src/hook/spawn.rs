//! Handing sockets to other programs: `posix_spawn`, `posix_spawnp`,
//! `posix_spawn_file_actions_adddup2`, and the `exec` functions that take
//! an argument vector (`execve`, `execv`, `execvp`, `execvpe`).
//!
//! weft makes two kinds of socket non-blocking underneath (`WEFT_NB` in
//! `io/fd_table.rs`): a listener created in a coroutine, and a stream
//! socket created in one until its `connect` completes. Its hooks hide
//! that from this process, but another program would see it: its
//! `accept` or `read` on an inherited socket would fail with `EAGAIN`.
//! So before another program can see such a socket, its description gets
//! back the blocking mode the user expects (`io::share`), and this
//! process goes on using it as a `PER_CALL` socket:
//!
//! 1. fds that an `execve` keeps (no `FD_CLOEXEC`): before `posix_spawn`,
//!    `posix_spawnp` and the `exec` functions here;
//! 2. the source of a `dup2` file action (std's `Command` passes
//!    `Stdio::from(fd)` so), when the action is added;
//! 3. in a forked child, the source of `dup2` and `dup3` (std's `Command`
//!    prepares a child's standard fds so when it forks: `hook/fd.rs`);
//! 4. fds passed with `SCM_RIGHTS`, once the kernel has accepted the
//!    message (`sendmsg` in `hook/rw.rs`). The receiver may look at the
//!    description in the microseconds between `sendmsg`'s return and the
//!    change: a listener created on a plain thread, or one whose
//!    description the program set itself with `fcntl`, has no such window.
//!
//! Each is a walk of the fd table or two `fcntl` calls, on paths that
//! start a process. This process may then find a socket it thought
//! non-blocking blocking (a forked child changed the description they
//! share): a coroutine's `accept` on it runs as a blocking call
//! (`hook/socket.rs`), so at worst its worker is taken over while it waits.
//!
//! Not covered: `execl`, `execle` and `execlp` (C-variadic), `fexecve`,
//! `sendmmsg`, and libc's own internal spawns (`system`, `popen`).
//!
//! The calls themselves are libc's own (`real.rs`).

use libc::{c_char, c_int, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t};

use super::real;
use crate::io;

/// `posix_spawn(3)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for posix_spawn(3).
    unsafe { real::posix_spawn(pid, path, actions, attr, argv, envp) }
}

/// `posix_spawnp(3)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for posix_spawnp(3).
    unsafe { real::posix_spawnp(pid, file, actions, attr, argv, envp) }
}

/// `posix_spawn_file_actions_adddup2(3)`: step 2, then libc's.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn_file_actions_adddup2(
    actions: *mut posix_spawn_file_actions_t,
    fd: c_int,
    new_fd: c_int,
) -> c_int {
    io::share(fd);
    // SAFETY: the caller's contract for this function.
    unsafe { real::posix_spawn_file_actions_adddup2(actions, fd, new_fd) }
}

/// `execve(2)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for execve(2).
    unsafe { real::execve(path, argv, envp) }
}

/// `execv(3)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for execv(3).
    unsafe { real::execv(path, argv) }
}

/// `execvp(3)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for execvp(3).
    unsafe { real::execvp(file, argv) }
}

/// `execvpe(3)`: step 1, then libc's.
#[no_mangle]
pub unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    io::share_inherited();
    // SAFETY: the caller's contract for execvpe(3).
    unsafe { real::execvpe(file, argv, envp) }
}
