//! The dump on a signal: with `WEFT_DUMP_SIGNAL=SIGUSR1` (any signal name
//! or number), that signal prints a dump of every runtime on stderr, and
//! the program goes on.
//!
//! A signal handler may only do async-signal-safe work, and a dump
//! allocates, takes locks and waits for the workers. So the handler only
//! writes one byte to a pipe (a raw `write`, which leaves `errno` alone);
//! a thread of weft's, started with the first runtime, waits on the other
//! end and prints. The handler is installed with `SA_RESTART`, so a plain
//! thread's interrupted system call restarts as it would without it.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;
use std::thread;

use super::{registry, Dump};
use crate::sys::raw;

/// The pipe's write end, for the handler; -1 until installed.
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// Installs the handler once per process, if `WEFT_DUMP_SIGNAL` asks for
/// one.
pub(crate) fn install_from_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(name) = std::env::var("WEFT_DUMP_SIGNAL") else {
            return;
        };
        match signal_number(&name) {
            Some(sig) => {
                if let Err(e) = install(sig) {
                    eprintln!("weft: cannot set up the dump on {name}: {e}");
                }
            }
            None => eprintln!(
                "weft: WEFT_DUMP_SIGNAL={name:?} names no signal (try SIGUSR1, USR2 or a number)"
            ),
        }
    });
}

/// The number of a signal named like `SIGUSR1`, `usr1`, `SIGRTMIN+2` or `10`.
fn signal_number(name: &str) -> Option<libc::c_int> {
    let name = name.trim().to_ascii_uppercase();
    let bare = name.strip_prefix("SIG").unwrap_or(&name);
    if let Ok(n) = bare.parse::<libc::c_int>() {
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    if let Some(k) = bare.strip_prefix("RTMIN") {
        let k: libc::c_int = k.strip_prefix('+').map_or(Some(0), |k| k.parse().ok())?;
        let n = libc::SIGRTMIN() + k;
        return (n <= libc::SIGRTMAX()).then_some(n);
    }
    let n = match bare {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return None,
    };
    Some(n)
}

fn install(sig: libc::c_int) -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two ends.
    crate::sys::cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    let [read_end, write_end] = fds;
    thread::Builder::new()
        .name("weft-dump".into())
        .spawn(move || print_dumps(read_end))?;
    PIPE.store(write_end, Ordering::Release);
    // SAFETY: a zeroed `sigaction` is valid; we set the handler, an empty
    // mask and the flags before installing it. The handler is
    // async-signal-safe (module docs).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        crate::sys::cvt(libc::sigaction(sig, &action, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// The handler: one byte down the pipe. Async-signal-safe: an atomic load
/// and a raw `write`, which sets no `errno`.
extern "C" fn on_signal(_: libc::c_int) {
    let fd = PIPE.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: writes one byte from a live local to our pipe.
        unsafe {
            raw::syscall6(
                libc::SYS_write,
                [
                    fd as libc::c_long,
                    &byte as *const u8 as libc::c_long,
                    1,
                    0,
                    0,
                    0,
                ],
            )
        };
    }
}

/// The printing thread: a dump of every runtime for each byte read.
fn print_dumps(read_end: libc::c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into our buffer, at most its length.
        let n = unsafe { raw::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if crate::sys::errno() == libc::EINTR {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        for shared in registry::live() {
            eprintln!(
                "{}",
                Dump::take(&shared, super::dump::backtraces_from_env())
            );
        }
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::signal_number;

    #[test]
    fn signal_names_are_read_as_the_shell_writes_them() {
        assert_eq!(signal_number("SIGUSR1"), Some(libc::SIGUSR1));
        assert_eq!(signal_number("usr2"), Some(libc::SIGUSR2));
        assert_eq!(signal_number("QUIT"), Some(libc::SIGQUIT));
        assert_eq!(signal_number("10"), Some(10));
        assert_eq!(signal_number("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(signal_number("SIGNOPE"), None);
        assert_eq!(signal_number("0"), None);
    }
}
