//! C code in a shared library, unchanged, inside coroutines: its libc
//! calls bind to weft's, so its blocking socket calls park. The library is
//! built from `tests/c/fetch.c` with the C compiler (`cc`, or `TARGET_CC`).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

type Fetch = unsafe extern "C" fn(i32, *mut u8, i32) -> i32;

/// Compiles tests/c/fetch.c into a shared library and loads it.
fn load_c_library() -> Fetch {
    let lib = common::clib::CLib::build("fetch");
    // SAFETY: the C function has exactly this signature.
    unsafe { lib.get::<Fetch>(c"weft_c_fetch") }
}

#[test]
fn c_code_in_a_shared_library_is_intercepted() {
    let fetch = load_c_library();
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    // A server that answers each connection after 300 ms.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as i32;
    rt.spawn(move || loop {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        weft::go(move || {
            let mut q = [0u8; 1];
            s.read_exact(&mut q).unwrap();
            weft::sleep(Duration::from_millis(300));
            s.write_all(b"from the server").unwrap();
        });
    });
    let start = Instant::now();
    let replies = rt.run(move || {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                weft::go(move || {
                    let mut buf = [0u8; 64];
                    // SAFETY: the buffer is valid for 64 bytes.
                    let n = unsafe { fetch(port, buf.as_mut_ptr(), 64) };
                    assert!(n > 0, "C fetch failed");
                    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let elapsed = start.elapsed();
    assert!(replies.iter().all(|r| r == "from the server"));
    // On one worker, 20 blocking C calls of 300 ms each would take 6 s if
    // the C library's recv blocked the thread; parked, they overlap.
    assert!(
        elapsed < Duration::from_secs(3),
        "C calls did not overlap: {elapsed:?}"
    );
}
