//! An accept loop that runs out of file descriptors reports `EMFILE` as
//! libc does: in a coroutine without spinning (it waits for a `close`, at
//! most 100 ms), outside coroutines at once. Each case runs in a child
//! process with a low limit.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn cpu_time() -> Duration {
    // SAFETY: getrusage with a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn an_accept_loop_at_emfile_does_not_spin() {
    common::assert_child_prints("child_accept_at_emfile", "emfile-ok");
}

#[test]
#[ignore = "child process of an_accept_loop_at_emfile_does_not_spin"]
fn child_accept_at_emfile() {
    if !common::is_child() {
        return;
    }
    let rt = weft::Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Clients connect first: the kernel completes their handshakes into the
    // listen backlog whether or not the server can accept them.
    let clients: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Then leave exactly five free descriptor numbers: lower the limit, fill
    // every free number below it, and give five back.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    lim.rlim_cur = highest + 64;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let mut filler = Vec::new();
    loop {
        // SAFETY: dup of stdin; closed below.
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            break;
        }
        filler.push(fd);
    }
    for fd in filler.drain(filler.len() - 5..) {
        // SAFETY: our own dup.
        unsafe { libc::close(fd) };
    }
    // Never hang in accept if the backlog runs dry: a 3 s accept timeout.
    let tv = libc::timeval {
        tv_sec: 3,
        tv_usec: 0,
    };
    // SAFETY: a valid timeval for SO_RCVTIMEO.
    unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let (accepted, emfiles, cpu) = rt.run(move || {
        let mut accepted = Vec::new();
        let mut emfiles = 0;
        let start_cpu = cpu_time();
        let start = Instant::now();
        // A naive loop that retries at once on errors, for one second.
        while start.elapsed() < Duration::from_secs(1) {
            match listener.accept() {
                Ok((s, _)) => accepted.push(s),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => emfiles += 1,
                Err(e) => panic!("unexpected accept error: {e}"),
            }
        }
        (accepted.len(), emfiles, cpu_time() - start_cpu)
    });
    assert!(accepted > 0, "some connections were accepted");
    assert!(emfiles > 0, "EMFILE surfaced");
    assert!(
        emfiles < 100,
        "EMFILE was reported {emfiles} times in 1 s: the loop spun"
    );
    assert!(
        cpu < Duration::from_millis(300),
        "the loop used {cpu:?} of CPU in 1 s"
    );
    drop(clients);
    println!("emfile-ok accepted={accepted} emfiles={emfiles} cpu={cpu:?}");
}

#[test]
fn accept_outside_coroutines_reports_emfile_at_once() {
    common::assert_child_prints("child_plain_accept_at_emfile", "plain-emfile-ok");
}

#[test]
#[ignore = "child process of accept_outside_coroutines_reports_emfile_at_once"]
fn child_plain_accept_at_emfile() {
    if !common::is_child() {
        return;
    }
    let blocking = TcpListener::bind("127.0.0.1:0").unwrap();
    let nonblocking = TcpListener::bind("127.0.0.1:0").unwrap();
    nonblocking.set_nonblocking(true).unwrap();
    let _c1 = TcpStream::connect(blocking.local_addr().unwrap()).unwrap();
    let _c2 = TcpStream::connect(nonblocking.local_addr().unwrap()).unwrap();
    let mut filler = Vec::new();
    loop {
        // SAFETY: dup of stdin; closed below.
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            break;
        }
        filler.push(fd);
    }
    let mut slow = Vec::new();
    for (name, listener) in [("blocking", &blocking), ("non-blocking", &nonblocking)] {
        for _ in 0..5 {
            let start = Instant::now();
            let err = listener.accept().map(|_| ()).unwrap_err();
            let took = start.elapsed();
            if err.raw_os_error() != Some(libc::EMFILE) {
                slow.push(format!("{name}: {err}"));
            } else if took > Duration::from_millis(50) {
                slow.push(format!("{name}: EMFILE after {took:?}"));
            }
        }
    }
    for fd in filler {
        // SAFETY: our own dup.
        unsafe { libc::close(fd) };
    }
    assert!(slow.is_empty(), "libc returns EMFILE at once: {slow:?}");
    println!("plain-emfile-ok");
}
