//! `weft::grow` runs deep recursion on fresh segments.

fn depth(n: u32) -> u32 {
    // About 1 KiB of frame per level, kept alive across the call.
    let pad = std::hint::black_box([(n % 251) as u8; 1024]);
    if n == 0 {
        return 0;
    }
    let below = weft::grow(32 * 1024, 64 * 1024, || depth(n - 1));
    1 + below + u32::from(pad[0] == 255)
}

#[test]
fn recursion_ten_times_deeper_than_the_stack_succeeds() {
    // 64 KiB stack; 1000 levels of at least 1 KiB each is over 10x that.
    let h = weft::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| depth(1000))
        .unwrap();
    assert_eq!(h.join().unwrap(), 1000);
}

#[test]
fn grow_works_across_parks_and_on_plain_threads() {
    let h = weft::go(|| {
        weft::grow(usize::MAX, 64 * 1024, || {
            // On a fresh segment: park and come back.
            weft::yield_now();
            weft::sleep(std::time::Duration::from_millis(2));
            depth(200)
        })
    });
    assert_eq!(h.join().unwrap(), 200);
    assert_eq!(std::thread::spawn(|| depth(3000)).join().unwrap(), 3000);
}

#[test]
fn a_panic_inside_a_segment_propagates_and_restores_the_stack() {
    let h = weft::go(|| {
        let r = std::panic::catch_unwind(|| weft::grow(usize::MAX, 64 * 1024, || panic!("deep")));
        assert!(r.is_err());
        depth(100)
    });
    assert_eq!(h.join().unwrap(), 100);
}
