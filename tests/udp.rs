//! UDP through the hooks.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn many_udp_clients_get_every_datagram_echoed() {
    common::net::raise_fd_limit();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    rt.spawn(move || {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = server.recv_from(&mut buf) else {
                return;
            };
            let _ = server.send_to(&buf[..n], from);
        }
    });
    let verified = rt.run(move || {
        let hs: Vec<_> = (0..1000u32)
            .map(|i| {
                weft::go(move || {
                    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                    s.connect(addr).unwrap();
                    // Loopback UDP may drop under load: resend on timeout.
                    s.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut ok = 0;
                    for r in 0..5u32 {
                        let msg: Vec<u8> = (0..100).map(|k| (i * 13 + r * 7 + k) as u8).collect();
                        let mut back = [0u8; 200];
                        let n = loop {
                            s.send(&msg).unwrap();
                            match s.recv(&mut back) {
                                Ok(n) => break n,
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                                Err(e) => panic!("{e}"),
                            }
                        };
                        assert_eq!(&back[..n], &msg[..]);
                        ok += n;
                    }
                    ok
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(verified, 1000 * 5 * 100);
}

#[test]
fn a_udp_read_timeout_parks_then_fails_with_would_block() {
    let kind = weft::go(|| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        s.recv(&mut [0u8; 16]).unwrap_err().kind()
    })
    .join()
    .unwrap();
    assert!(matches!(
        kind,
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
}

/// Several coroutines of one worker wait on one socket; one of them, a
/// `poll` with a short timeout, gives up from the front, the middle or the
/// back of the fd's waiter list. The others must all still be woken: each
/// gets one of the datagrams sent afterwards (a lost waiter would fail its
/// 5 s read timeout instead).
#[test]
fn readers_sharing_a_socket_are_all_woken_after_one_gives_up() {
    use std::os::fd::AsRawFd;
    use std::sync::Arc;

    for quitter in 0..4usize {
        let rt = weft::Runtime::builder().workers(1).build().unwrap();
        let got = rt.run(move || {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let addr = socket.local_addr().unwrap();
            let mut readers = Vec::new();
            let mut poller = None;
            for i in 0..4 {
                let s = socket.clone();
                if i == quitter {
                    poller = Some(weft::go(move || {
                        let mut pfd = libc::pollfd {
                            fd: s.as_raw_fd(),
                            events: libc::POLLIN,
                            revents: 0,
                        };
                        // SAFETY: one valid pollfd.
                        unsafe { libc::poll(&mut pfd, 1, 50) }
                    }));
                } else {
                    readers.push(weft::go(move || {
                        let mut buf = [0u8; 8];
                        let n = s.recv(&mut buf).expect("a reader was not woken");
                        buf[..n].to_vec()
                    }));
                }
                // Let it park before the next one queues behind it.
                weft::sleep(Duration::from_millis(5));
            }
            assert_eq!(poller.unwrap().join().unwrap(), 0, "poll should time out");
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            for k in 0..3u8 {
                client.send_to(&[k; 8], addr).unwrap();
            }
            let mut got: Vec<u8> = readers.into_iter().map(|r| r.join().unwrap()[0]).collect();
            got.sort_unstable();
            got
        });
        assert_eq!(got, [0, 1, 2], "quitter at {quitter}");
    }
}
