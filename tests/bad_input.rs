//! Bad arguments get the same answer in a coroutine as on a plain thread,
//! where the hooks behave as libc: the same return value and `errno`, for
//! every interposed function. Null and wild pointers, huge counts,
//! negative and unnormalised timeouts, bad fds and odd flags. A hook that
//! dereferenced a pointer the kernel would have checked would crash this
//! test.

use std::ffi::CStr;
use std::ptr::{null, null_mut};

/// A pointer no process has mapped.
const WILD: usize = 8;
/// A pointer past the top of the user address space.
const HIGH: usize = usize::MAX - 4095;
/// An fd number above any limit.
const BIG_FD: i32 = 1 << 20;

/// The signature of `posix_spawn` and `posix_spawnp`.
type SpawnFn = unsafe extern "C" fn(
    *mut libc::pid_t,
    *const libc::c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *mut libc::c_char,
    *const *mut libc::c_char,
) -> i32;

/// `spawn` of a `program` that does not exist, with no file actions,
/// attributes or environment. Where `spawn` cannot report the failed
/// `exec` (under qemu-user, which runs the child as a plain fork), it
/// returns 0 and the child exits with 127: that child is reaped here, so
/// it is no zombie for the `wait` cases.
fn spawn_nothing(spawn: SpawnFn, program: &std::ffi::CStr) -> Outcome {
    let mut pid = 0;
    let argv = [c"x".as_ptr().cast_mut(), null_mut()];
    // SAFETY: a pid to write, a NUL-terminated name, a NULL-terminated
    // argv of live strings; null for the optional arguments.
    let r = unsafe {
        spawn(
            &mut pid,
            program.as_ptr(),
            null(),
            null(),
            argv.as_ptr(),
            null(),
        )
    };
    if r == 0 {
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, null_mut(), 0) };
    }
    code(r)
}

/// A pointer into user memory that cannot be read or written: a page
/// mapped with no access, as a guard page is. The kernel answers `EFAULT`
/// for it as for a hole; a plain read of it crashes. Kept mapped so that
/// nothing else is ever placed there.
fn hole() -> usize {
    static HOLE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *HOLE.get_or_init(|| {
        // SAFETY: a fresh private anonymous page with no access, never
        // unmapped; only its address is used.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p as usize
    })
}

/// What a call gave: its return value, and `errno` when it failed.
type Outcome = (i64, i32);

/// For calls that fail with -1 and `errno`.
fn res(r: i64) -> Outcome {
    if r == -1 {
        (r, std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        (r, 0)
    }
}

/// For calls that return an error number (or an `EAI_*` code).
fn code(r: i32) -> Outcome {
    (r as i64, 0)
}

/// A connected Unix stream pair with four bytes waiting at the first fd.
fn pair() -> [i32; 2] {
    let mut sv = [0; 2];
    // SAFETY: room for two fds; a valid four-byte buffer.
    unsafe {
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()),
            0
        );
        assert_eq!(libc::write(sv[1], b"data".as_ptr().cast(), 4), 4);
    }
    sv
}

fn close_all(fds: &[i32]) {
    for &fd in fds {
        // SAFETY: fds this test opened.
        unsafe { libc::close(fd) };
    }
}

/// Runs `f` on the first fd of a fresh `pair`, then closes both.
fn on_pair(f: impl FnOnce(i32) -> Outcome) -> Outcome {
    let sv = pair();
    let out = f(sv[0]);
    close_all(&sv);
    out
}

/// Runs `f` on a fresh, unconnected TCP socket.
fn on_tcp_socket(f: impl FnOnce(i32) -> Outcome) -> Outcome {
    // SAFETY: no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let out = f(fd);
    close_all(&[fd]);
    out
}

/// Runs `f` on a fresh epoll instance.
fn on_epoll(f: impl FnOnce(i32) -> Outcome) -> Outcome {
    // SAFETY: no pointers.
    let fd = unsafe { libc::epoll_create1(0) };
    assert!(fd >= 0);
    let out = f(fd);
    close_all(&[fd]);
    out
}

fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

fn loopback() -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 9u16.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn gai(node: Option<&CStr>, family: i32, socktype: i32, flags: i32) -> Outcome {
    // SAFETY: a zeroed addrinfo is a valid hints struct.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_flags = flags;
    let mut res = null_mut();
    // SAFETY: valid strings or null, valid hints and out-pointer.
    let rc =
        unsafe { libc::getaddrinfo(node.map_or(null(), CStr::as_ptr), null(), &hints, &mut res) };
    if rc == 0 {
        // SAFETY: a list getaddrinfo returned.
        unsafe { libc::freeaddrinfo(res) };
    }
    code(rc)
}

type Case = (&'static str, &'static str, fn() -> Outcome);

/// (hook name, what is wrong, the call). Each call makes the fds it needs
/// in the context it runs in, and closes them.
fn cases() -> Vec<Case> {
    let mut cases = plain_cases();
    if kernel_copies_for_weft() {
        cases.extend(hole_cases());
    }
    cases
}

/// Whether `process_vm_readv` works on this process's own memory: the
/// kernel copy with which weft's sleep hooks read a caller's `timespec`
/// (`sys::read_user`). Where it is refused (qemu-user has no such call,
/// and some seccomp filters forbid it), weft falls back to a plain read
/// after its plausibility check, and a pointer into an inaccessible page
/// crashes there as it would in any code that reads it; the cases of
/// `hole_cases` are then left out, and this says so.
fn kernel_copies_for_weft() -> bool {
    let value = 42u64;
    let mut out = 0u64;
    let local = libc::iovec {
        iov_base: (&mut out as *mut u64).cast(),
        iov_len: 8,
    };
    let remote = libc::iovec {
        iov_base: (&value as *const u64).cast_mut().cast(),
        iov_len: 8,
    };
    // SAFETY: both iovecs name 8 bytes of live locals.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == 8 && out == 42 {
        return true;
    }
    eprintln!(
        "process_vm_readv is refused here ({}): the cases with a pointer into an \
         inaccessible page are left out",
        std::io::Error::last_os_error()
    );
    false
}

/// Pointers into a page with no access (`hole`), which the kernel answers
/// with `EFAULT`.
fn hole_cases() -> Vec<Case> {
    // SAFETY (every call below): as in `plain_cases`.
    vec![
        ("nanosleep", "request in a page with no access", || {
            res(unsafe { libc::nanosleep(hole() as *const _, null_mut()) } as i64)
        }),
        (
            "nanosleep",
            "short sleep, remainder in a page with no access",
            || res(unsafe { libc::nanosleep(&ts(0, 1000), hole() as *mut _) } as i64),
        ),
        (
            "clock_nanosleep",
            "request in a page with no access",
            || {
                code(unsafe {
                    libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, hole() as *const _, null_mut())
                })
            },
        ),
    ]
}

fn plain_cases() -> Vec<Case> {
    // SAFETY (every call below): arguments that are wrong on purpose, of
    // kinds the kernel checks; the valid ones point at live locals.
    vec![
        ("read", "bad fd", || {
            res(unsafe { libc::read(-1, [0u8; 4].as_mut_ptr().cast(), 4) } as i64)
        }),
        ("read", "huge fd", || {
            res(unsafe { libc::read(BIG_FD, [0u8; 4].as_mut_ptr().cast(), 4) } as i64)
        }),
        ("read", "null buffer", || {
            on_pair(|fd| res(unsafe { libc::read(fd, null_mut(), 4) } as i64))
        }),
        ("read", "wild buffer", || {
            on_pair(|fd| res(unsafe { libc::read(fd, WILD as *mut _, 4) } as i64))
        }),
        ("readv", "null iov", || {
            on_pair(|fd| res(unsafe { libc::readv(fd, null(), 1) } as i64))
        }),
        ("readv", "negative count", || {
            on_pair(|fd| {
                let mut b = [0u8; 4];
                let iov = libc::iovec {
                    iov_base: b.as_mut_ptr().cast(),
                    iov_len: 4,
                };
                res(unsafe { libc::readv(fd, &iov, -1) } as i64)
            })
        }),
        ("readv", "count over IOV_MAX", || {
            on_pair(|fd| {
                let mut b = [0u8; 4];
                let iov = libc::iovec {
                    iov_base: b.as_mut_ptr().cast(),
                    iov_len: 4,
                };
                res(unsafe { libc::readv(fd, &iov, 1 << 20) } as i64)
            })
        }),
        ("recv", "null buffer", || {
            on_pair(|fd| res(unsafe { libc::recv(fd, null_mut(), 4, 0) } as i64))
        }),
        ("recv", "bad fd", || {
            res(unsafe { libc::recv(-1, [0u8; 4].as_mut_ptr().cast(), 4, 0) } as i64)
        }),
        ("recvfrom", "wild address", || {
            on_pair(|fd| {
                let mut b = [0u8; 4];
                res(unsafe {
                    libc::recvfrom(
                        fd,
                        b.as_mut_ptr().cast(),
                        4,
                        0,
                        WILD as *mut _,
                        WILD as *mut _,
                    )
                } as i64)
            })
        }),
        ("recvfrom", "not a socket", || {
            let mut b = [0u8; 4];
            res(unsafe {
                libc::recvfrom(
                    0,
                    b.as_mut_ptr().cast(),
                    0,
                    libc::MSG_DONTWAIT,
                    null_mut(),
                    null_mut(),
                )
            } as i64)
        }),
        ("recvmsg", "null msghdr", || {
            on_pair(|fd| res(unsafe { libc::recvmsg(fd, null_mut(), 0) } as i64))
        }),
        ("recvmsg", "wild msghdr", || {
            on_pair(|fd| res(unsafe { libc::recvmsg(fd, HIGH as *mut _, 0) } as i64))
        }),
        ("write", "bad fd", || {
            res(unsafe { libc::write(-1, b"x".as_ptr().cast(), 1) } as i64)
        }),
        ("write", "null buffer", || {
            on_pair(|fd| res(unsafe { libc::write(fd, null(), 4) } as i64))
        }),
        ("writev", "null iov", || {
            on_pair(|fd| res(unsafe { libc::writev(fd, null(), 1) } as i64))
        }),
        ("writev", "negative count", || {
            on_pair(|fd| {
                let iov = libc::iovec {
                    iov_base: b"x".as_ptr() as *mut _,
                    iov_len: 1,
                };
                res(unsafe { libc::writev(fd, &iov, -1) } as i64)
            })
        }),
        ("send", "null buffer", || {
            on_pair(|fd| res(unsafe { libc::send(fd, null(), 4, 0) } as i64))
        }),
        ("send", "out-of-band on a Unix socket", || {
            on_pair(|fd| {
                res(unsafe { libc::send(fd, b"x".as_ptr().cast(), 1, libc::MSG_OOB) } as i64)
            })
        }),
        ("sendto", "wild address", || {
            on_pair(|fd| {
                res(
                    unsafe { libc::sendto(fd, b"x".as_ptr().cast(), 1, 0, WILD as *const _, 16) }
                        as i64,
                )
            })
        }),
        ("sendto", "bad fd", || {
            res(unsafe { libc::sendto(BIG_FD, b"x".as_ptr().cast(), 1, 0, null(), 0) } as i64)
        }),
        ("sendmsg", "null msghdr", || {
            on_pair(|fd| res(unsafe { libc::sendmsg(fd, null(), 0) } as i64))
        }),
        ("pread", "a socket", || {
            on_pair(|fd| res(unsafe { libc::pread(fd, [0u8; 4].as_mut_ptr().cast(), 4, 0) } as i64))
        }),
        ("pread64", "bad fd", || {
            res(unsafe { libc::pread64(-1, [0u8; 4].as_mut_ptr().cast(), 4, 0) } as i64)
        }),
        ("pwrite", "a socket", || {
            on_pair(|fd| res(unsafe { libc::pwrite(fd, b"x".as_ptr().cast(), 1, 0) } as i64))
        }),
        ("pwrite64", "negative offset", || {
            on_pair(|fd| res(unsafe { libc::pwrite64(fd, b"x".as_ptr().cast(), 1, -1) } as i64))
        }),
        ("poll", "null list", || {
            res(unsafe { libc::poll(null_mut(), 1, 30) } as i64)
        }),
        ("poll", "wild list", || {
            res(unsafe { libc::poll(WILD as *mut _, 1, 30) } as i64)
        }),
        ("poll", "huge count", || {
            let mut p = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            res(unsafe { libc::poll(&mut p, 1 << 40, 30) } as i64)
        }),
        ("poll", "only a negative fd, timeout passes", || {
            let mut p = libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            };
            res(unsafe { libc::poll(&mut p, 1, 20) } as i64)
        }),
        ("poll", "closed fd", || {
            let mut p = libc::pollfd {
                fd: BIG_FD,
                events: libc::POLLIN,
                revents: 0,
            };
            let r = res(unsafe { libc::poll(&mut p, 1, 20) } as i64);
            (r.0 * 1000 + p.revents as i64, r.1)
        }),
        ("close", "bad fd", || res(unsafe { libc::close(-1) } as i64)),
        ("close", "huge fd", || {
            res(unsafe { libc::close(BIG_FD) } as i64)
        }),
        ("dup", "bad fd", || res(unsafe { libc::dup(-1) } as i64)),
        ("dup2", "bad old fd", || {
            res(unsafe { libc::dup2(-1, 100) } as i64)
        }),
        ("dup2", "negative new fd", || {
            on_pair(|fd| res(unsafe { libc::dup2(fd, -1) } as i64))
        }),
        ("dup3", "same fds", || {
            on_pair(|fd| res(unsafe { libc::dup3(fd, fd, 0) } as i64))
        }),
        ("dup3", "odd flags", || {
            on_pair(|fd| res(unsafe { libc::dup3(fd, 1000, 0xdead) } as i64))
        }),
        ("fcntl", "bad fd", || {
            res(unsafe { libc::fcntl(-1, libc::F_GETFL) } as i64)
        }),
        ("fcntl", "unknown command", || {
            on_pair(|fd| res(unsafe { libc::fcntl(fd, 99999) } as i64))
        }),
        ("fcntl", "null lock", || {
            on_pair(|fd| {
                res(unsafe { libc::fcntl(fd, libc::F_SETLKW, null::<libc::flock>()) } as i64)
            })
        }),
        ("fcntl", "negative F_DUPFD", || {
            on_pair(|fd| res(unsafe { libc::fcntl(fd, libc::F_DUPFD, -1) } as i64))
        }),
        ("ioctl", "wild FIONBIO argument", || {
            on_pair(|fd| res(unsafe { libc::ioctl(fd, libc::FIONBIO, WILD as *const i32) } as i64))
        }),
        ("ioctl", "null FIONREAD argument", || {
            on_pair(|fd| res(unsafe { libc::ioctl(fd, libc::FIONREAD, null_mut::<i32>()) } as i64))
        }),
        ("ioctl", "bad fd", || {
            res(unsafe { libc::ioctl(-1, libc::FIONBIO, &1i32) } as i64)
        }),
        ("ioctl", "unknown request", || {
            on_pair(|fd| res(unsafe { libc::ioctl(fd, 0x7fff_beef, 0) } as i64))
        }),
        ("setsockopt", "null timeout", || {
            on_pair(|fd| {
                res(
                    unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, null(), 16) }
                        as i64,
                )
            })
        }),
        ("setsockopt", "short timeout", || {
            on_pair(|fd| {
                let tv = libc::timeval {
                    tv_sec: 1,
                    tv_usec: 0,
                };
                res(unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_SNDTIMEO,
                        (&tv as *const libc::timeval).cast(),
                        3,
                    )
                } as i64)
            })
        }),
        ("setsockopt", "unnormalised timeout", || {
            on_pair(|fd| {
                let tv = libc::timeval {
                    tv_sec: 1,
                    tv_usec: 2_000_000,
                };
                res(unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_RCVTIMEO,
                        (&tv as *const libc::timeval).cast(),
                        16,
                    )
                } as i64)
            })
        }),
        ("shutdown", "bad fd", || {
            res(unsafe { libc::shutdown(-1, libc::SHUT_RD) } as i64)
        }),
        ("shutdown", "odd how", || {
            on_pair(|fd| res(unsafe { libc::shutdown(fd, 99) } as i64))
        }),
        ("socket", "bad domain", || {
            res(unsafe { libc::socket(9999, libc::SOCK_STREAM, 0) } as i64)
        }),
        ("socket", "bad type", || {
            res(unsafe { libc::socket(libc::AF_INET, 9999, 0) } as i64)
        }),
        ("socket", "bad protocol", || {
            res(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 9999) } as i64)
        }),
        ("socketpair", "null array", || {
            res(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, null_mut()) } as i64)
        }),
        ("socketpair", "a domain without pairs", || {
            let mut sv = [0; 2];
            res(
                unsafe { libc::socketpair(libc::AF_INET, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) }
                    as i64,
            )
        }),
        ("accept", "bad fd", || {
            res(unsafe { libc::accept(-1, null_mut(), null_mut()) } as i64)
        }),
        ("accept", "not listening", || {
            on_pair(|fd| res(unsafe { libc::accept(fd, null_mut(), null_mut()) } as i64))
        }),
        ("accept4", "odd flags", || {
            on_pair(|fd| res(unsafe { libc::accept4(fd, null_mut(), null_mut(), 0xdead) } as i64))
        }),
        ("connect", "bad fd", || {
            let a = loopback();
            res(unsafe { libc::connect(-1, (&a as *const libc::sockaddr_in).cast(), 16) } as i64)
        }),
        ("connect", "null address", || {
            on_tcp_socket(|fd| res(unsafe { libc::connect(fd, null(), 16) } as i64))
        }),
        ("connect", "short address", || {
            on_tcp_socket(|fd| {
                let a = loopback();
                res(unsafe { libc::connect(fd, (&a as *const libc::sockaddr_in).cast(), 1) } as i64)
            })
        }),
        ("nanosleep", "null request", || {
            res(unsafe { libc::nanosleep(null(), null_mut()) } as i64)
        }),
        ("nanosleep", "wild request", || {
            res(unsafe { libc::nanosleep(WILD as *const _, null_mut()) } as i64)
        }),
        ("nanosleep", "request past user space", || {
            res(unsafe { libc::nanosleep(HIGH as *const _, null_mut()) } as i64)
        }),
        ("nanosleep", "negative seconds", || {
            res(unsafe { libc::nanosleep(&ts(-1, 0), null_mut()) } as i64)
        }),
        ("nanosleep", "unnormalised nanoseconds", || {
            res(unsafe { libc::nanosleep(&ts(0, 1_000_000_000), null_mut()) } as i64)
        }),
        ("nanosleep", "short sleep, wild remainder", || {
            res(unsafe { libc::nanosleep(&ts(0, 1000), WILD as *mut _) } as i64)
        }),
        ("clock_nanosleep", "null request", || {
            code(unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, null(), null_mut()) })
        }),
        ("clock_nanosleep", "null absolute request", || {
            code(unsafe {
                libc::clock_nanosleep(
                    libc::CLOCK_REALTIME,
                    libc::TIMER_ABSTIME,
                    null(),
                    null_mut(),
                )
            })
        }),
        ("clock_nanosleep", "bad clock", || {
            code(unsafe { libc::clock_nanosleep(9999, 0, &ts(0, 1000), null_mut()) })
        }),
        ("clock_nanosleep", "negative nanoseconds", || {
            code(unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts(0, -1), null_mut()) })
        }),
        ("clock_nanosleep", "wild request", || {
            code(unsafe {
                libc::clock_nanosleep(libc::CLOCK_BOOTTIME, 0, WILD as *const _, null_mut())
            })
        }),
        ("posix_spawn", "no such program", || {
            spawn_nothing(libc::posix_spawn, c"/nonexistent/weft-test")
        }),
        ("posix_spawnp", "no such program", || {
            spawn_nothing(libc::posix_spawnp, c"weft-no-such-program")
        }),
        ("posix_spawn_file_actions_adddup2", "negative fd", || {
            // SAFETY: a zeroed actions object is initialised before use and
            // destroyed after.
            code(unsafe {
                let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
                libc::posix_spawn_file_actions_init(&mut fa);
                let r = libc::posix_spawn_file_actions_adddup2(&mut fa, -1, 0);
                libc::posix_spawn_file_actions_destroy(&mut fa);
                r
            })
        }),
        ("execve", "no such program", || {
            let argv = [c"x".as_ptr(), null()];
            res(
                unsafe { libc::execve(c"/nonexistent/weft-test".as_ptr(), argv.as_ptr(), null()) }
                    as i64,
            )
        }),
        ("execv", "no such program", || {
            let argv = [c"x".as_ptr(), null()];
            res(unsafe { libc::execv(c"/nonexistent/weft-test".as_ptr(), argv.as_ptr()) } as i64)
        }),
        ("execvp", "no such program", || {
            let argv = [c"x".as_ptr(), null()];
            res(unsafe { libc::execvp(c"weft-no-such-program".as_ptr(), argv.as_ptr()) } as i64)
        }),
        ("execvpe", "no such program", || {
            let argv = [c"x".as_ptr(), null()];
            let envp = [null()];
            res(unsafe {
                libc::execvpe(
                    c"weft-no-such-program".as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                )
            } as i64)
        }),
        ("usleep", "zero", || res(unsafe { libc::usleep(0) } as i64)),
        ("sleep", "zero", || (unsafe { libc::sleep(0) } as i64, 0)),
        ("getaddrinfo", "no node and no service", || {
            gai(None, libc::AF_UNSPEC, 0, 0)
        }),
        ("getaddrinfo", "bad family", || {
            gai(Some(c"localhost"), 9999, 0, 0)
        }),
        ("getaddrinfo", "bad socket type", || {
            gai(Some(c"localhost"), libc::AF_INET, 9999, 0)
        }),
        ("getaddrinfo", "odd flags", || {
            gai(Some(c"localhost"), libc::AF_INET, 0, 0x7fff_0000)
        }),
        ("syscall", "unknown number", || {
            res(unsafe { libc::syscall(99999) })
        }),
        ("syscall", "futex wait on null", || {
            res(unsafe { libc::syscall(libc::SYS_futex, 0usize, libc::FUTEX_WAIT, 0, 0usize) })
        }),
        ("epoll_wait", "bad fd", || {
            res(unsafe {
                libc::epoll_wait(
                    -1,
                    [libc::epoll_event { events: 0, u64: 0 }].as_mut_ptr(),
                    1,
                    0,
                )
            } as i64)
        }),
        ("epoll_wait", "null events", || {
            on_epoll(|ep| res(unsafe { libc::epoll_wait(ep, null_mut(), 1, 0) } as i64))
        }),
        ("epoll_wait", "zero maxevents", || {
            on_epoll(|ep| {
                res(unsafe {
                    libc::epoll_wait(
                        ep,
                        [libc::epoll_event { events: 0, u64: 0 }].as_mut_ptr(),
                        0,
                        10,
                    )
                } as i64)
            })
        }),
        ("epoll_pwait", "negative maxevents", || {
            on_epoll(|ep| {
                res(unsafe {
                    libc::epoll_pwait(
                        ep,
                        [libc::epoll_event { events: 0, u64: 0 }].as_mut_ptr(),
                        -1,
                        10,
                        null(),
                    )
                } as i64)
            })
        }),
        ("epoll_pwait", "not an epoll fd", || {
            on_pair(|fd| {
                res(unsafe {
                    libc::epoll_pwait(
                        fd,
                        [libc::epoll_event { events: 0, u64: 0 }].as_mut_ptr(),
                        1,
                        10,
                        null(),
                    )
                } as i64)
            })
        }),
        ("wait4", "no children", || {
            res(unsafe { libc::wait4(-1, null_mut(), libc::WNOHANG, null_mut()) } as i64)
        }),
        ("wait4", "wild status, no children", || {
            res(unsafe { libc::wait4(-1, WILD as *mut _, 0, null_mut()) } as i64)
        }),
        ("waitpid", "odd options", || {
            res(unsafe { libc::waitpid(-1, null_mut(), 0x0dea_0000) } as i64)
        }),
        ("wait", "no children", || {
            res(unsafe { libc::wait(null_mut()) } as i64)
        }),
        ("waitid", "no children", || {
            res(
                unsafe { libc::waitid(libc::P_ALL, 0, null_mut(), libc::WEXITED | libc::WNOHANG) }
                    as i64,
            )
        }),
        ("waitid", "bad id type", || {
            // SAFETY: a zeroed siginfo_t is a valid out-buffer.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            res(unsafe { libc::waitid(99, 0, &mut info, libc::WEXITED) } as i64)
        }),
        ("open", "null path", || {
            res(unsafe { libc::open(null(), libc::O_RDONLY) } as i64)
        }),
        ("open", "missing file", || {
            res(unsafe { libc::open(c"/nonexistent/weft".as_ptr(), libc::O_RDONLY) } as i64)
        }),
        ("open64", "wild path", || {
            res(unsafe { libc::open64(WILD as *const _, libc::O_RDONLY) } as i64)
        }),
        ("openat", "bad directory fd", || {
            res(unsafe { libc::openat(-1, c"relative".as_ptr(), libc::O_RDONLY) } as i64)
        }),
        ("openat64", "null path", || {
            res(unsafe { libc::openat64(libc::AT_FDCWD, null(), libc::O_RDONLY) } as i64)
        }),
        ("fsync", "bad fd", || res(unsafe { libc::fsync(-1) } as i64)),
        ("fsync", "a socket", || {
            on_pair(|fd| res(unsafe { libc::fsync(fd) } as i64))
        }),
        ("fdatasync", "bad fd", || {
            res(unsafe { libc::fdatasync(BIG_FD) } as i64)
        }),
        ("flock", "bad fd", || {
            res(unsafe { libc::flock(-1, libc::LOCK_EX) } as i64)
        }),
        ("flock", "odd operation", || {
            on_pair(|fd| res(unsafe { libc::flock(fd, 0xdead) } as i64))
        }),
        (
            "pthread_mutex_lock",
            "an error-checking mutex locked twice",
            || {
                with_errorcheck_mutex(|m| {
                    unsafe { libc::pthread_mutex_lock(m) };
                    let r = code(unsafe { libc::pthread_mutex_lock(m) });
                    unsafe { libc::pthread_mutex_unlock(m) };
                    r
                })
            },
        ),
        (
            "pthread_mutex_timedlock",
            "a timeout of -1 ns on a held mutex",
            || {
                with_errorcheck_mutex(|m| {
                    unsafe { libc::pthread_mutex_lock(m) };
                    let bad = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: -1,
                    };
                    let r = code(unsafe { libc::pthread_mutex_timedlock(m, &bad) });
                    unsafe { libc::pthread_mutex_unlock(m) };
                    r
                })
            },
        ),
        (
            "pthread_cond_wait",
            "an error-checking mutex not held",
            || {
                with_errorcheck_mutex(|m| {
                    let mut c = libc::PTHREAD_COND_INITIALIZER;
                    code(unsafe { libc::pthread_cond_wait(&mut c, m) })
                })
            },
        ),
        ("pthread_cond_timedwait", "a timeout of -1 ns", || {
            with_errorcheck_mutex(|m| {
                let mut c = libc::PTHREAD_COND_INITIALIZER;
                let bad = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: -1,
                };
                unsafe { libc::pthread_mutex_lock(m) };
                let r = code(unsafe { libc::pthread_cond_timedwait(&mut c, m, &bad) });
                unsafe { libc::pthread_mutex_unlock(m) };
                r
            })
        }),
        ("pthread_join", "the calling thread", || {
            code(unsafe { libc::pthread_join(libc::pthread_self(), null_mut()) })
        }),
        ("pthread_timedjoin_np", "the calling thread", || {
            let t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            code(unsafe { libc::pthread_timedjoin_np(libc::pthread_self(), null_mut(), &t) })
        }),
        ("sem_wait", "a semaphore of one", || {
            let mut sem: libc::sem_t = unsafe { std::mem::zeroed() };
            unsafe { libc::sem_init(&mut sem, 0, 1) };
            res(unsafe { libc::sem_wait(&mut sem) } as i64)
        }),
        (
            "sem_timedwait",
            "a timeout of -1 ns on an empty semaphore",
            || {
                let mut sem: libc::sem_t = unsafe { std::mem::zeroed() };
                unsafe { libc::sem_init(&mut sem, 0, 0) };
                let bad = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: -1,
                };
                res(unsafe { libc::sem_timedwait(&mut sem, &bad) } as i64)
            },
        ),
        ("ppoll", "null list", || {
            let t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 30_000_000,
            };
            res(unsafe { libc::ppoll(null_mut(), 1, &t, null()) } as i64)
        }),
        ("ppoll", "a timeout of -1 ns", || {
            on_pair(|fd| {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let bad = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: -1,
                };
                res(unsafe { libc::ppoll(&mut p, 1, &bad, null()) } as i64)
            })
        }),
        ("select", "negative count", || {
            let mut tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 30_000,
            };
            res(unsafe { libc::select(-1, null_mut(), null_mut(), null_mut(), &mut tv) } as i64)
        }),
        ("select", "wild set", || {
            let mut tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 30_000,
            };
            res(unsafe { libc::select(4, WILD as *mut _, null_mut(), null_mut(), &mut tv) } as i64)
        }),
        ("select", "2 s of microseconds", || {
            let mut tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 2_000_000,
            };
            res(unsafe { libc::select(0, null_mut(), null_mut(), null_mut(), &mut tv) } as i64)
        }),
        ("pselect", "set past user space", || {
            let t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 30_000_000,
            };
            res(
                unsafe { libc::pselect(4, null_mut(), HIGH as *mut _, null_mut(), &t, null()) }
                    as i64,
            )
        }),
        ("epoll_pwait2", "bad epoll fd", || {
            let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 1];
            res(unsafe { libc::epoll_pwait2(-1, ev.as_mut_ptr(), 1, null(), null()) } as i64)
        }),
    ]
}

/// Runs `f` on a fresh error-checking pthread mutex.
fn with_errorcheck_mutex(f: impl FnOnce(*mut libc::pthread_mutex_t) -> Outcome) -> Outcome {
    // SAFETY: initialising a mutex attribute and a mutex this function
    // owns, and destroying both after `f`.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_settype(&mut attr, libc::PTHREAD_MUTEX_ERRORCHECK);
        let mut m: libc::pthread_mutex_t = std::mem::zeroed();
        libc::pthread_mutex_init(&mut m, &attr);
        let r = f(&mut m);
        libc::pthread_mutex_destroy(&mut m);
        libc::pthread_mutexattr_destroy(&mut attr);
        r
    }
}

/// The hooks' names: every `#[no_mangle]` function in `src/hook/`.
fn hook_names() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/hook");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src/hook") {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for item in src.split("\n#[no_mangle]\n").skip(1) {
            let name = item
                .split("fn ")
                .nth(1)
                .and_then(|rest| rest.split('(').next())
                .expect("a function after #[no_mangle]");
            names.push(name.trim().to_string());
        }
    }
    names
}

#[test]
fn every_hook_has_a_bad_input_case() {
    let names = hook_names();
    assert!(names.len() > 40, "found only {names:?}");
    let covered: Vec<&str> = cases().iter().map(|c| c.0).collect();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !covered.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "hooks with no bad-input case: {missing:?}"
    );
}

#[test]
fn bad_arguments_get_libcs_answer_in_a_coroutine() {
    let plain: Vec<Outcome> = cases().iter().map(|c| (c.2)()).collect();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let in_coroutine: Vec<Outcome> = rt.run(|| cases().iter().map(|c| (c.2)()).collect());
    let mut differ = Vec::new();
    for (i, (name, what, _)) in cases().into_iter().enumerate() {
        if plain[i] != in_coroutine[i] {
            differ.push(format!(
                "{name} ({what}): plain thread {:?}, coroutine {:?}",
                plain[i], in_coroutine[i]
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The table provokes errors: most calls fail.
    let failed = plain.iter().filter(|o| o.1 != 0 || o.0 != 0).count();
    assert!(failed * 10 > plain.len() * 9, "only {failed} calls failed");
}
