//! weft's non-blocking mode stays invisible through every fd that shares a
//! socket's open file description: a `try_clone` made before weft saw the
//! socket, an fd passed with `SCM_RIGHTS`, a forked child's copy; on plain
//! threads and in coroutines.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

/// `O_NONBLOCK` of `fd`'s description, asked of the kernel directly.
fn is_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL through the raw system call (weft's hook would give
    // the user's view).
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL, 0) } as i32;
    assert!(fl >= 0);
    fl & libc::O_NONBLOCK != 0
}

/// A connected pair on 127.0.0.1, made on this (plain) thread.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    (a, b)
}

/// Writes `msg` to `peer` after `delay`, on a helper thread.
fn write_later(
    mut peer: TcpStream,
    delay: Duration,
    msg: &'static [u8],
) -> thread::JoinHandle<TcpStream> {
    thread::spawn(move || {
        thread::sleep(delay);
        peer.write_all(msg).unwrap();
        peer
    })
}

/// Reads once from `s`, bounded by a 5 s timeout; returns what came and
/// how long it took.
fn read_once(s: &mut impl Read) -> (std::io::Result<Vec<u8>>, Duration) {
    let mut buf = [0u8; 16];
    let t = Instant::now();
    let r = s.read(&mut buf).map(|n| buf[..n].to_vec());
    (r, t.elapsed())
}

#[test]
fn a_clone_made_before_weft_saw_the_socket_keeps_blocking() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (original, peer) = tcp_pair();
    original
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let clone = original.try_clone().unwrap();
    // A coroutine reads the clone: it parks until the peer writes.
    let peer = write_later(peer, Duration::from_millis(50), b"a");
    let (got, clone) = rt.run(move || {
        let mut clone = clone;
        let (got, _) = read_once(&mut clone);
        (got.unwrap(), clone)
    });
    assert_eq!(got, b"a");
    assert!(
        !is_nonblocking(original.as_raw_fd()),
        "the shared description was made non-blocking"
    );

    // A plain thread's read of the original blocks until data comes.
    let peer = write_later(peer.join().unwrap(), Duration::from_millis(100), b"b");
    let mut original = original;
    let (got, took) = read_once(&mut original);
    assert_eq!(got.unwrap(), b"b", "a plain thread's read did not block");
    assert!(took >= Duration::from_millis(90), "returned after {took:?}");

    // So does another coroutine's read of the original.
    let peer = write_later(peer.join().unwrap(), Duration::from_millis(100), b"c");
    let (got, took) = rt.run(move || read_once(&mut original));
    assert_eq!(got.unwrap(), b"c", "another coroutine's read did not block");
    assert!(took >= Duration::from_millis(90), "returned after {took:?}");
    drop((peer.join().unwrap(), clone));
}

/// Sends `fd` over `via` with `SCM_RIGHTS`.
fn send_fd(via: &UnixStream, fd: RawFd) {
    let byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut _,
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; the pointers set below outlive the
    // call; the control buffer has room for one fd.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        assert_eq!(libc::sendmsg(via.as_raw_fd(), &msg, 0), 1);
    }
}

/// Receives one fd sent with `send_fd`.
fn recv_fd(via: &UnixStream) -> RawFd {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: as in `send_fd`; the kernel fills the control buffer.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        assert_eq!(libc::recvmsg(via.as_raw_fd(), &mut msg, 0), 1);
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null());
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>())
    }
}

#[test]
fn a_socket_accepted_in_a_coroutine_blocks_where_it_is_passed_with_scm_rights() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.write_all(b"0").unwrap();
    // Accepted and read by a coroutine: weft manages it.
    let accepted = rt.run(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        s.read_exact(&mut buf).unwrap();
        s
    });
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, accepted.as_raw_fd());
    let received = recv_fd(&b);
    // SAFETY: a fresh fd from SCM_RIGHTS, owned here.
    let mut received = unsafe { TcpStream::from_raw_fd(received) };
    let peer = write_later(peer, Duration::from_millis(100), b"x");
    let (got, took) = read_once(&mut received);
    assert_eq!(got.unwrap(), b"x", "the received fd did not block");
    assert!(took >= Duration::from_millis(90), "returned after {took:?}");
    drop((peer.join().unwrap(), accepted));
}

#[test]
fn a_forked_child_reads_an_inherited_socket_as_blocking() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let (s, peer) = tcp_pair();
    // A coroutine uses the socket first.
    let s = rt.run(move || {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    });
    let fd = s.as_raw_fd();
    // SAFETY: the child calls only read, clock_gettime and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut buf = [0u8; 4];
        let t = Instant::now();
        // SAFETY: a valid buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 4) };
        let code = if n == 4 && &buf == b"kid!" && t.elapsed() >= Duration::from_millis(90) {
            0
        } else {
            1
        };
        // SAFETY: leave without running anything of the parent's.
        unsafe { libc::_exit(code) };
    }
    let peer = write_later(peer, Duration::from_millis(100), b"kid!");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = 0;
    loop {
        // SAFETY: our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break;
        }
        if Instant::now() >= deadline {
            // SAFETY: our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child hung");
        }
        thread::sleep(Duration::from_millis(2));
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    drop((peer.join().unwrap(), s));
}

/// `O_NONBLOCK` of the description behind fd `n` of another program, as it
/// sees it: `sh` prints the `flags` line of its own `/proc/self/fdinfo/n`.
fn child_sees_nonblocking(mut cmd: std::process::Command, n: RawFd) -> bool {
    let out = cmd
        .arg("-c")
        .arg(format!("grep '^flags:' /proc/self/fdinfo/{n}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let octal = text
        .trim()
        .strip_prefix("flags:")
        .unwrap_or_else(|| panic!("no flags line: {text:?}, stderr {:?}", out.stderr));
    let flags = i32::from_str_radix(octal.trim(), 8).unwrap();
    flags & libc::O_NONBLOCK != 0
}

/// A listener bound in a coroutine, which weft makes non-blocking
/// underneath.
fn listener_from_a_coroutine(rt: &weft::Runtime) -> TcpListener {
    let listener = rt.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    assert!(
        is_nonblocking(listener.as_raw_fd()),
        "weft no longer makes a coroutine's listener non-blocking: this file tests nothing"
    );
    listener
}

/// Accepts one connection in a coroutine, bounded by a 5 s timeout.
fn accept_one_in_a_coroutine(rt: &weft::Runtime, listener: &TcpListener) {
    let addr = listener.local_addr().unwrap();
    let client = thread::spawn(move || TcpStream::connect(addr).unwrap());
    let l = listener.try_clone().unwrap();
    rt.run(move || l.accept().unwrap());
    drop(client.join().unwrap());
}

#[test]
fn a_coroutines_listener_given_to_a_spawned_child_as_stdin_blocks_there() {
    use std::os::fd::OwnedFd;
    use std::process::{Command, Stdio};
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = listener_from_a_coroutine(&rt);
    let mut sh = Command::new("sh");
    sh.stdin(Stdio::from(OwnedFd::from(listener.try_clone().unwrap())));
    assert!(!child_sees_nonblocking(sh, 0), "the child saw O_NONBLOCK");
    // This process goes on accepting on it.
    accept_one_in_a_coroutine(&rt, &listener);
}

#[test]
fn a_coroutines_listener_given_to_a_forked_child_as_stdin_blocks_there() {
    use std::os::fd::OwnedFd;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = listener_from_a_coroutine(&rt);
    let mut sh = Command::new("sh");
    sh.stdin(Stdio::from(OwnedFd::from(listener.try_clone().unwrap())));
    // A `pre_exec` closure makes std fork and execute rather than use
    // posix_spawn: the child's dup2 prepares its stdin.
    // SAFETY: the closure does nothing.
    unsafe { sh.pre_exec(|| Ok(())) };
    assert!(!child_sees_nonblocking(sh, 0), "the child saw O_NONBLOCK");
    accept_one_in_a_coroutine(&rt, &listener);
}

#[test]
fn a_coroutines_listener_inherited_across_exec_blocks_there() {
    use std::process::Command;
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = listener_from_a_coroutine(&rt);
    let fd = listener.as_raw_fd();
    // Kept open across execve, as a program hands a socket to a child.
    // SAFETY: F_SETFD with no flags on our own fd.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
    assert!(
        !child_sees_nonblocking(Command::new("sh"), fd),
        "the child saw O_NONBLOCK"
    );
    accept_one_in_a_coroutine(&rt, &listener);
}

#[test]
fn a_coroutines_listener_passed_with_scm_rights_blocks_where_it_arrives() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = listener_from_a_coroutine(&rt);
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, listener.as_raw_fd());
    let received = recv_fd(&b);
    assert!(
        !is_nonblocking(received),
        "the received listener is non-blocking"
    );
    // SAFETY: a fresh fd from SCM_RIGHTS, owned here.
    drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(received) });
    accept_one_in_a_coroutine(&rt, &listener);
}

#[test]
fn a_listener_made_blocking_behind_weft_keeps_its_worker_running() {
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = listener_from_a_coroutine(&rt);
    let addr = listener.local_addr().unwrap();
    // Another process sharing the description could do this; weft's
    // record still says it made the listener non-blocking.
    // SAFETY: F_SETFL through the raw system call, past weft's hook.
    let rc = unsafe { libc::syscall(libc::SYS_fcntl, listener.as_raw_fd(), libc::F_SETFL, 0) };
    assert_eq!(rc, 0);
    // Were the worker stuck in the accept, this connection would end the
    // wait, and the ticker's count would tell.
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(3));
        let _ = TcpStream::connect(addr);
    });
    let ticks = rt.run(move || {
        // The accept now waits in the kernel: its worker must be taken
        // over, so that this ticker, on the same worker, keeps ticking.
        let acceptor = weft::go(move || listener.accept().map(|_| ()));
        let mut ticks = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            weft::sleep(Duration::from_millis(5));
            ticks += 1;
        }
        TcpStream::connect(addr).unwrap();
        acceptor.join().unwrap().unwrap();
        ticks
    });
    assert!(ticks >= 10, "the ticker ran {ticks} times in 200 ms");
}
