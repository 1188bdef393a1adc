//! The floor for `echo1000`: an echo server with no runtime at all, two
//! threads each running a bare level-triggered `epoll_wait` loop over raw
//! `libc` calls. Per message it makes the calls every server must make, one
//! `recv` and one `send`, plus its share of one `epoll_wait` per batch of
//! ready connections, and runs almost no code of its own. Whatever it costs
//! is the kernel's loopback TCP path; no runtime that uses the socket API can
//! beat it by much. Serves on 127.0.0.1:PORT until killed:
//! `epoll-peer echo-server PORT`.

use std::io;
use std::os::fd::RawFd;
use std::process::exit;
use std::thread;

/// Event-loop threads, like the other servers' 2 workers.
const THREADS: usize = 2;
/// Read buffer, as in the other echo servers.
const BUF: usize = 1024;

fn fail(msg: String) -> ! {
    eprintln!("epoll-peer: {msg}");
    exit(1)
}

/// `r` as a result: -1 means the call failed with `errno`.
fn check(r: libc::c_int, what: &str) -> libc::c_int {
    if r == -1 {
        fail(format!("{what}: {}", io::Error::last_os_error()));
    }
    r
}

/// One event loop: echoes whatever arrives on the connections added to
/// `epfd`, and closes a connection on end of file or an error.
fn event_loop(epfd: RawFd) -> ! {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; BUF];
    loop {
        // SAFETY: `events` has room for the count we pass.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, -1) };
        if n == -1 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            fail(format!("epoll_wait: {}", io::Error::last_os_error()));
        }
        for ev in &events[..n as usize] {
            let fd = ev.u64 as RawFd;
            // SAFETY: `buf` is writable for BUF bytes.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), BUF, 0) };
            if got <= 0 {
                if got == 0 || io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
                    // SAFETY: closing our own connection, which also drops it
                    // from the epoll set.
                    unsafe { libc::close(fd) };
                }
                continue;
            }
            let mut done = 0;
            while done < got as usize {
                // SAFETY: the first `got` bytes of `buf` were just filled.
                let sent = unsafe {
                    libc::send(
                        fd,
                        buf[done..].as_ptr().cast(),
                        got as usize - done,
                        libc::MSG_NOSIGNAL,
                    )
                };
                if sent <= 0 {
                    break; // the peer is gone; its next recv reports it
                }
                done += sent as usize;
            }
        }
    }
}

fn serve(port: u16) -> ! {
    // SAFETY: plain socket calls on values we own; each result is checked.
    unsafe {
        let listener = check(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0), "socket");
        let one: libc::c_int = 1;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        check(
            libc::setsockopt(
                listener,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                len,
            ),
            "SO_REUSEADDR",
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        check(
            libc::bind(
                listener,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            "bind",
        );
        check(libc::listen(listener, 1024), "listen");
        let loops: Vec<RawFd> = (0..THREADS)
            .map(|_| {
                let epfd = check(libc::epoll_create1(libc::EPOLL_CLOEXEC), "epoll_create1");
                thread::spawn(move || event_loop(epfd));
                epfd
            })
            .collect();
        // Connections are dealt to the loops in turn.
        for next in loops.iter().cycle() {
            let conn = libc::accept(listener, std::ptr::null_mut(), std::ptr::null_mut());
            if conn == -1 {
                continue; // EMFILE and the like: the client reports the failure
            }
            check(
                libc::setsockopt(
                    conn,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    len,
                ),
                "TCP_NODELAY",
            );
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: conn as u64,
            };
            check(
                libc::epoll_ctl(*next, libc::EPOLL_CTL_ADD, conn, &mut ev),
                "epoll_ctl",
            );
        }
        unreachable!()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("echo-server"), Some(port)) if args.len() == 3 => serve(
            port.parse()
                .unwrap_or_else(|_| fail(format!("bad port {port:?}"))),
        ),
        _ => fail("usage: epoll-peer echo-server PORT".into()),
    }
}
