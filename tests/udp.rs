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
