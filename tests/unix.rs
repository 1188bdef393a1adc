//! Unix-domain sockets through the hooks.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

fn socket_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("weft-{tag}-{}.sock", std::process::id()))
}

#[test]
fn unix_stream_echo_with_a_thousand_clients() {
    common::net::raise_fd_limit();
    let path = socket_path("stream");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let rt = weft::Runtime::builder().workers(2).build().unwrap();
    rt.spawn(move || loop {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        weft::go(move || {
            let mut buf = [0u8; 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => s.write_all(&buf[..n]).unwrap(),
                }
            }
        });
    });
    let p = path.clone();
    let total = rt.run(move || {
        let hs: Vec<_> = (0..1000u32)
            .map(|i| {
                let p = p.clone();
                weft::go(move || {
                    let mut c = UnixStream::connect(&p).unwrap();
                    let mut verified = 0;
                    for r in 0..10u32 {
                        let msg = [(i ^ r) as u8; 200];
                        c.write_all(&msg).unwrap();
                        let mut back = [0u8; 200];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg);
                        verified += 200;
                    }
                    verified
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    std::fs::remove_file(&path).unwrap();
    assert_eq!(total, 1000 * 10 * 200);
}

#[test]
fn unix_datagrams_and_pairs_park() {
    let (a, b) = weft::go(|| UnixDatagram::pair().unwrap()).join().unwrap();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let receiver = rt.spawn(move || {
        let mut buf = [0u8; 32];
        let n = b.recv(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    // The single worker is free while the receiver waits.
    assert_eq!(rt.run(|| 3), 3);
    a.send(b"datagram").unwrap();
    assert_eq!(receiver.join().unwrap(), b"datagram");

    let (mut x, mut y) = UnixStream::pair().unwrap();
    let echoed = rt.run(move || {
        let peer = weft::go(move || {
            let mut b = [0u8; 4];
            y.read_exact(&mut b).unwrap();
            y.write_all(&b).unwrap();
        });
        x.write_all(b"pair").unwrap();
        let mut b = [0u8; 4];
        x.read_exact(&mut b).unwrap();
        peer.join().unwrap();
        b
    });
    assert_eq!(&echoed, b"pair");
}
