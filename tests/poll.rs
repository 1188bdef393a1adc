//! `poll(2)`, `ppoll(2)`, `select(2)`, `pselect(2)` and `epoll_pwait2(2)`
//! called directly from coroutines and plain threads.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

#[test]
fn poll_parks_until_one_of_several_sockets_is_readable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (ready, which) = rt.run(move || {
        let a = TcpStream::connect(addr).unwrap();
        let b = TcpStream::connect(addr).unwrap();
        let _sa = listener.accept().unwrap().0;
        let mut sb = listener.accept().unwrap().0;
        let writer = weft::go(move || {
            weft::sleep(Duration::from_millis(50));
            sb.write_all(b"!").unwrap();
            sb
        });
        let mut fds = [
            pollfd(a.as_raw_fd(), libc::POLLIN),
            pollfd(b.as_raw_fd(), libc::POLLIN),
        ];
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 5000) };
        drop(writer.join().unwrap());
        (n, [fds[0].revents, fds[1].revents])
    });
    assert_eq!(ready, 1);
    assert_eq!(which[0], 0);
    assert!(which[1] & libc::POLLIN != 0);
}

#[test]
fn poll_timeout_expires_and_other_coroutines_run_meanwhile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (n, waited, other) = rt.run(move || {
        let a = TcpStream::connect(addr).unwrap();
        let other = weft::go(|| {
            weft::sleep(Duration::from_millis(10));
            Instant::now()
        });
        let mut fds = [pollfd(a.as_raw_fd(), libc::POLLIN)];
        let t = Instant::now();
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 150) };
        let waited = t.elapsed();
        let other_done = other.join().unwrap();
        (n, waited, other_done.duration_since(t))
    });
    assert_eq!(n, 0);
    assert!(waited >= Duration::from_millis(140), "{waited:?}");
    assert!(
        other < Duration::from_millis(140),
        "the other coroutine ran during the poll"
    );
    drop(listener);
}

#[test]
fn poll_reports_writable_at_once_and_works_on_plain_threads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let a = TcpStream::connect(addr).unwrap();
    let fd = a.as_raw_fd();
    let n = weft::go(move || {
        let mut fds = [pollfd(fd, libc::POLLOUT)];
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, 1000) }
    })
    .join()
    .unwrap();
    assert_eq!(n, 1);
    let mut fds = [pollfd(fd, libc::POLLIN)];
    // SAFETY: one valid pollfd; a plain thread, so the real poll.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 30) };
    assert_eq!(n, 0);
    drop((a, listener));
}

/// A pipe, both ends, closed on drop.
struct Pipe {
    r: i32,
    w: i32,
}

impl Pipe {
    fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        Pipe {
            r: fds[0],
            w: fds[1],
        }
    }

    /// Writes one byte after `delay`, from a coroutine.
    fn feed_later(&self, delay: Duration) -> weft::JoinHandle<()> {
        let w = self.w;
        weft::go(move || {
            weft::sleep(delay);
            // SAFETY: one byte from a valid buffer to the pipe's write end.
            assert_eq!(unsafe { libc::write(w, b"!".as_ptr().cast(), 1) }, 1);
        })
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: closing the two fds this value owns.
        unsafe {
            libc::close(self.r);
            libc::close(self.w);
        }
    }
}

fn fd_set_of(fd: i32) -> libc::fd_set {
    // SAFETY: an all-zero fd_set is an empty one; FD_SET of an fd below
    // FD_SETSIZE.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut set);
        set
    }
}

/// `select` for reading `fd` alone, with `tv`: its result, and whether
/// `fd` is still in the set.
fn select_read(fd: i32, tv: &mut libc::timeval) -> (i32, bool) {
    let mut set = fd_set_of(fd);
    // SAFETY: a valid set and timeval; nfds covers `fd`.
    let n = unsafe {
        libc::select(
            fd + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            tv,
        )
    };
    // SAFETY: a valid set.
    (n, unsafe { libc::FD_ISSET(fd, &set) })
}

#[test]
fn select_in_a_coroutine_is_woken_by_a_sibling_and_reports_the_time_left() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (n, set, left, took) = rt.run(|| {
        let pipe = Pipe::new();
        let feeder = pipe.feed_later(Duration::from_millis(30));
        let mut tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        let start = Instant::now();
        let (n, set) = select_read(pipe.r, &mut tv);
        let took = start.elapsed();
        feeder.join().unwrap();
        (
            n,
            set,
            Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000),
            took,
        )
    });
    assert_eq!(n, 1);
    assert!(set, "the pipe's read end is not in the set");
    assert!(took < Duration::from_secs(2), "select took {took:?}");
    // Linux's select writes the time left: about 5 s less the wait.
    assert!(
        left > Duration::from_secs(3) && left < Duration::from_secs(5),
        "time left {left:?}"
    );
}

#[test]
fn select_times_out_with_its_set_cleared_and_no_time_left() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (n, set, tv, took) = rt.run(|| {
        let pipe = Pipe::new();
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        let start = Instant::now();
        let (n, set) = select_read(pipe.r, &mut tv);
        (n, set, tv, start.elapsed())
    });
    assert_eq!(n, 0);
    assert!(!set, "a timed-out select left the fd in its set");
    assert_eq!((tv.tv_sec, tv.tv_usec), (0, 0));
    assert!(took >= Duration::from_millis(50), "returned after {took:?}");
}

/// Whether the kernel under the test has `epoll_pwait2` (Linux 5.11 and
/// later). qemu-user 7.2, the emulator of the aarch64 run (`.ci/aarch64`),
/// does not: it answers `ENOSYS`. Asked with the raw system call on a
/// plain thread, where weft's hooks are the kernel's calls anyway.
fn kernel_has_epoll_pwait2() -> bool {
    // SAFETY: a new epoll instance, closed below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut out = [libc::epoll_event { events: 0, u64: 0 }];
    // SAFETY: a valid epoll fd, room for one event, a zero timeout, no
    // mask (so the mask size is not read).
    let n = unsafe { libc::syscall(libc::SYS_epoll_pwait2, ep, out.as_mut_ptr(), 1, &zero, 0, 8) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    // SAFETY: closing the epoll fd made above.
    unsafe { libc::close(ep) };
    assert!(n == 0 || errno == Some(libc::ENOSYS), "{n} {errno:?}");
    n == 0
}

#[test]
fn pselect_ppoll_and_epoll_pwait2_with_and_without_a_mask_are_woken_by_a_sibling() {
    let has_pwait2 = kernel_has_epoll_pwait2();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (results, missing) = rt.run(move || {
        let ts = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        // SAFETY: an all-zero sigset is an empty signal mask.
        let mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for with_mask in [false, true] {
            let mask_ptr = if with_mask {
                &mask as *const _
            } else {
                std::ptr::null()
            };

            let pipe = Pipe::new();
            let feeder = pipe.feed_later(Duration::from_millis(20));
            let mut set = fd_set_of(pipe.r);
            // SAFETY: a valid set, timespec and mask (or none).
            let n = unsafe {
                libc::pselect(
                    pipe.r + 1,
                    &mut set,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &ts,
                    mask_ptr,
                )
            };
            feeder.join().unwrap();
            // SAFETY: a valid set.
            results.push(("pselect", with_mask, n, unsafe {
                libc::FD_ISSET(pipe.r, &set)
            }));

            let pipe = Pipe::new();
            let feeder = pipe.feed_later(Duration::from_millis(20));
            let mut fds = [pollfd(pipe.r, libc::POLLIN)];
            // SAFETY: one valid pollfd, timespec and mask (or none).
            let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 1, &ts, mask_ptr) };
            feeder.join().unwrap();
            results.push(("ppoll", with_mask, n, fds[0].revents & libc::POLLIN != 0));

            let pipe = Pipe::new();
            // SAFETY: a new epoll instance, watching the pipe's read end.
            let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: 7,
            };
            // SAFETY: a valid epoll fd, pipe fd and event.
            assert_eq!(
                unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, pipe.r, &mut ev) },
                0
            );
            let feeder = pipe.feed_later(Duration::from_millis(20));
            let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
            // SAFETY: a valid epoll fd, room for 4 events, timespec and mask.
            let n = unsafe { libc::epoll_pwait2(ep, out.as_mut_ptr(), 4, &ts, mask_ptr) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            feeder.join().unwrap();
            // SAFETY: closing the epoll fd made above.
            unsafe { libc::close(ep) };
            let key = out[0].u64;
            if has_pwait2 {
                results.push(("epoll_pwait2", with_mask, n, key == 7));
            } else {
                missing.push((with_mask, n, errno));
            }
        }
        (results, missing)
    });
    for (call, with_mask, n, ready) in results {
        assert_eq!(n, 1, "{call} (mask: {with_mask}) returned {n}");
        assert!(ready, "{call} (mask: {with_mask}) did not report the pipe");
    }
    // Without the system call, the hook reports what the kernel does.
    for (with_mask, n, errno) in missing {
        assert_eq!(
            (n, errno),
            (-1, Some(libc::ENOSYS)),
            "epoll_pwait2 (mask: {with_mask}) on a kernel without it"
        );
    }
    if !has_pwait2 {
        eprintln!("epoll_pwait2: the kernel (or emulator) has no such call; checked ENOSYS only");
    }
}

#[test]
fn select_on_a_plain_thread_is_the_kernels() {
    let pipe = Pipe::new();
    let w = pipe.w;
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        // SAFETY: one byte to the pipe's write end.
        unsafe { libc::write(w, b"!".as_ptr().cast(), 1) }
    });
    let mut tv = libc::timeval {
        tv_sec: 5,
        tv_usec: 0,
    };
    let (n, set) = select_read(pipe.r, &mut tv);
    assert_eq!(writer.join().unwrap(), 1);
    assert_eq!(n, 1);
    assert!(set);
    assert!(tv.tv_sec < 5, "the kernel wrote the time left");
}
