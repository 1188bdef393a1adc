//! Helpers for the network tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Raises the soft open-file limit to the hard one, once per process.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

/// Starts an echo server coroutine per connection on `rt`; returns its address.
pub fn echo_server(rt: &weft::Runtime) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(move || loop {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        weft::go(move || echo(s));
    });
    addr
}

/// Echoes until EOF or error.
pub fn echo(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends `rounds` messages of `size` bytes derived from `seed` and checks
/// every echoed byte; returns the bytes verified.
pub fn echo_client(addr: SocketAddr, seed: u32, rounds: u32, size: usize) -> usize {
    let mut c = TcpStream::connect(addr).unwrap();
    let mut verified = 0;
    let mut msg = vec![0u8; size];
    let mut back = vec![0u8; size];
    for r in 0..rounds {
        for (i, b) in msg.iter_mut().enumerate() {
            *b = (seed.wrapping_mul(31).wrapping_add(r * 7 + i as u32)) as u8;
        }
        c.write_all(&msg).unwrap();
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg, "echo mismatch for client {seed} round {r}");
        verified += size;
    }
    verified
}
