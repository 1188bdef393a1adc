//! `read`, `write` and the socket send/receive family.
//!
//! On a socket weft manages, a call that would block parks the coroutine
//! (`io/mod.rs`). On a `PER_CALL` socket (its description blocks, as the
//! user set it) a coroutine's call asks not to block: `MSG_DONTWAIT` on the
//! `send`/`recv` family, and `read`, `write`, `readv` and `writev` made as
//! the `recv`/`send` calls the kernel turns them into on a socket. `read`,
//! `write` and their vectored and positioned forms on any other fd (a file,
//! a pipe, a tty) run as blocking calls (`block.rs`): the worker may be
//! taken over while they wait.

use libc::{c_int, c_void, iovec, msghdr, off64_t, size_t, sockaddr, socklen_t, ssize_t};

use super::block::blocking_rw;
use crate::io::fd_table::{Slot, SEQPACKET, STREAM};
use crate::io::{managed, retry, transfer_all, Direction};
use crate::sys::raw;

/// `read(2)`. Async-signal-safe where it cannot park (`hook/mod.rs`).
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    match managed(fd) {
        // On a socket, `read` is `recv` with no flags; a `PER_CALL` socket
        // asks not to block. (A zero-byte read returns at once either way
        // and must not consume a datagram, so it stays a `read`.)
        Some(slot) if slot.state().per_call_flags() != 0 && count != 0 => {
            // SAFETY: the caller's contract for read(2), which recv(2) shares.
            retry(slot, fd, Direction::Read, count, || unsafe {
                raw::recvfrom(
                    fd,
                    buf,
                    count,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            })
        }
        // SAFETY: the caller's contract for read(2).
        Some(slot) => retry(slot, fd, Direction::Read, count, || unsafe {
            raw::read(fd, buf, count)
        }),
        // SAFETY: as above.
        None => unsafe { blocking_rw(libc::SYS_read, syscall_args!(fd, buf, count)) },
    }
}

/// `readv(2)`.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    match managed(fd) {
        Some(slot) if slot.state().per_call_flags() != 0 && iov_count_ok(iovcnt) => {
            let mut msg = iov_msg(iov, iovcnt);
            // SAFETY: the caller's contract for readv(2): `msg` carries its
            // iovecs, as readv on a socket hands them to recvmsg.
            retry(slot, fd, Direction::Read, 0, || unsafe {
                raw::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT)
            })
        }
        // SAFETY: the caller's contract for readv(2).
        Some(slot) => retry(slot, fd, Direction::Read, 0, || unsafe {
            raw::readv(fd, iov, iovcnt)
        }),
        // SAFETY: as above.
        None => unsafe { blocking_rw(libc::SYS_readv, syscall_args!(fd, iov, iovcnt)) },
    }
}

/// Whether `readv`/`writev` would accept `iovcnt` (else they fail at once
/// with `EINVAL`, where `recvmsg` would say `EMSGSIZE`: leave them to it).
fn iov_count_ok(iovcnt: c_int) -> bool {
    (0..=libc::UIO_MAXIOV).contains(&iovcnt)
}

/// A `msghdr` that carries `iov` and nothing else.
fn iov_msg(iov: *const iovec, iovcnt: c_int) -> msghdr {
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.cast_mut();
    msg.msg_iovlen = iovcnt as _;
    msg
}

/// The flags `write` on this socket has as `send`: a record ends at each
/// `write` on a `SOCK_SEQPACKET` socket.
fn write_flags(slot: &Slot) -> c_int {
    if slot.state().has(SEQPACKET) {
        libc::MSG_EOR
    } else {
        0
    }
}

/// `pread64(2)`: std's `FileExt::read_at` ends here. Sockets refuse it, so
/// it never parks.
#[no_mangle]
pub unsafe extern "C" fn pread64(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: the caller's contract for pread(2).
    unsafe { blocking_rw(libc::SYS_pread64, syscall_args!(fd, buf, count, off)) }
}

/// `pread(2)`: the same call (file offsets are 64-bit here).
#[no_mangle]
pub unsafe extern "C" fn pread(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: as `pread64`.
    unsafe { pread64(fd, buf, count, off) }
}

/// `pwrite64(2)`: std's `FileExt::write_at` ends here.
#[no_mangle]
pub unsafe extern "C" fn pwrite64(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: the caller's contract for pwrite(2).
    unsafe { blocking_rw(libc::SYS_pwrite64, syscall_args!(fd, buf, count, off)) }
}

/// `pwrite(2)`.
#[no_mangle]
pub unsafe extern "C" fn pwrite(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: as `pwrite64`.
    unsafe { pwrite64(fd, buf, count, off) }
}

/// `recv(2)`. Async-signal-safe where it cannot park (`hook/mod.rs`).
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract for recv(2).
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `recvfrom(2)`.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's contract for recvfrom(2).
        return unsafe { raw::recvfrom(fd, buf, len, flags, addr, addrlen) };
    }
    let Some(slot) = managed(fd) else {
        // An fd weft does not manage (`io::managed`), which may block: in a
        // coroutine, a blocking call.
        let args = syscall_args!(fd, buf, len, flags, addr, addrlen);
        // SAFETY: as above.
        return unsafe { blocking_rw(libc::SYS_recvfrom, args) };
    };
    let real = flags | slot.state().per_call_flags();
    if flags & libc::MSG_WAITALL != 0 && slot.state().has(STREAM) {
        // SAFETY: as above; `done <= len`.
        return transfer_all(slot, fd, Direction::Read, len, |done| unsafe {
            raw::recvfrom(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                real,
                addr,
                addrlen,
            )
        });
    }
    // A peek leaves the data in place: it says nothing about draining.
    let want = if flags & libc::MSG_PEEK != 0 { 0 } else { len };
    // SAFETY: as above.
    retry(slot, fd, Direction::Read, want, || unsafe {
        raw::recvfrom(fd, buf, len, real, addr, addrlen)
    })
}

/// `recvmsg(2)`.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    let slot = (flags & libc::MSG_DONTWAIT == 0)
        .then(|| managed(fd))
        .flatten();
    let Some(slot) = slot else {
        // SAFETY: the caller's contract for recvmsg(2).
        return unsafe {
            unmanaged_or_dontwait(libc::SYS_recvmsg, flags, syscall_args!(fd, msg, flags))
        };
    };
    let real = flags | slot.state().per_call_flags();
    // SAFETY: as above.
    retry(slot, fd, Direction::Read, 0, || unsafe {
        raw::recvmsg(fd, msg, real)
    })
}

/// `write(2)`. Async-signal-safe where it cannot park (`hook/mod.rs`).
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    match managed(fd) {
        // On a socket, `write` is `send` (with `MSG_EOR` on a seqpacket
        // socket); a `PER_CALL` socket asks not to block.
        Some(slot) if slot.state().per_call_flags() != 0 => {
            let flags = libc::MSG_DONTWAIT | write_flags(slot);
            // SAFETY: the caller's contract for write(2), which send(2)
            // shares; `done <= count`.
            transfer_all(slot, fd, Direction::Write, count, |done| unsafe {
                raw::sendto(
                    fd,
                    buf.cast::<u8>().add(done).cast(),
                    count - done,
                    flags,
                    std::ptr::null(),
                    0,
                )
            })
        }
        // SAFETY: the caller's contract for write(2); `done <= count`.
        Some(slot) => transfer_all(slot, fd, Direction::Write, count, |done| unsafe {
            raw::write(fd, buf.cast::<u8>().add(done).cast(), count - done)
        }),
        // SAFETY: as above.
        None => unsafe { blocking_rw(libc::SYS_write, syscall_args!(fd, buf, count)) },
    }
}

/// `writev(2)`. A partial write is returned as such (the caller's iovecs are
/// not rewritten).
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    match managed(fd) {
        Some(slot) if slot.state().per_call_flags() != 0 && iov_count_ok(iovcnt) => {
            let msg = iov_msg(iov, iovcnt);
            let flags = libc::MSG_DONTWAIT | write_flags(slot);
            // SAFETY: the caller's contract for writev(2): `msg` carries
            // its iovecs, as writev on a socket hands them to sendmsg.
            retry(slot, fd, Direction::Write, 0, || unsafe {
                raw::sendmsg(fd, &msg, flags)
            })
        }
        // SAFETY: the caller's contract for writev(2).
        Some(slot) => retry(slot, fd, Direction::Write, 0, || unsafe {
            raw::writev(fd, iov, iovcnt)
        }),
        // SAFETY: as above.
        None => unsafe { blocking_rw(libc::SYS_writev, syscall_args!(fd, iov, iovcnt)) },
    }
}

/// `send(2)`. Async-signal-safe where it cannot park (`hook/mod.rs`).
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract for send(2).
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `sendto(2)`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    let slot = (flags & libc::MSG_DONTWAIT == 0)
        .then(|| managed(fd))
        .flatten();
    let Some(slot) = slot else {
        let args = syscall_args!(fd, buf, len, flags, addr, addrlen);
        // SAFETY: the caller's contract for sendto(2).
        return unsafe { unmanaged_or_dontwait(libc::SYS_sendto, flags, args) };
    };
    let real = flags | slot.state().per_call_flags();
    // SAFETY: as above; `done <= len`.
    transfer_all(slot, fd, Direction::Write, len, |done| unsafe {
        raw::sendto(
            fd,
            buf.cast::<u8>().add(done).cast(),
            len - done,
            real,
            addr,
            addrlen,
        )
    })
}

/// `sendmsg(2)`. A partial write is returned as such. Sockets it passes
/// with `SCM_RIGHTS` that weft made non-blocking get their blocking mode
/// back (`hook/spawn.rs`, step 4).
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let slot = (flags & libc::MSG_DONTWAIT == 0)
        .then(|| managed(fd))
        .flatten();
    let sent = match slot {
        // SAFETY: the caller's contract for sendmsg(2).
        None => unsafe {
            unmanaged_or_dontwait(libc::SYS_sendmsg, flags, syscall_args!(fd, msg, flags))
        },
        Some(slot) => {
            let real = flags | slot.state().per_call_flags();
            // SAFETY: as above.
            retry(slot, fd, Direction::Write, 0, || unsafe {
                raw::sendmsg(fd, msg, real)
            })
        }
    };
    if sent >= 0 {
        // SAFETY: the kernel has just read `msg` and its control buffer.
        unsafe { share_passed(msg) };
    }
    sent
}

/// `io::share`s every fd that `msg` passes with `SCM_RIGHTS`.
///
/// # Safety
///
/// `msg` and its control buffer must be readable: the kernel accepted
/// them in a `sendmsg` that just returned.
unsafe fn share_passed(msg: *const msghdr) {
    // SAFETY: the caller's promise.
    let m = unsafe { &*msg };
    if m.msg_control.is_null() || m.msg_controllen < size_of::<libc::cmsghdr>() {
        return;
    }
    // SAFETY: CMSG_FIRSTHDR and CMSG_NXTHDR stay within the control buffer
    // the kernel accepted; each header they give is readable.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(m);
        while !cmsg.is_null() {
            let c = cmsg.read_unaligned();
            if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<c_int>();
                let fds = (c.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize)
                    / size_of::<c_int>();
                for i in 0..fds {
                    crate::io::share(data.add(i).read_unaligned());
                }
            }
            cmsg = libc::CMSG_NXTHDR(m, cmsg);
        }
    }
}

/// A socket call (`nr` with `args`) on an fd that `managed` leaves alone,
/// or with `MSG_DONTWAIT` in `flags`: the latter never waits, so it runs
/// plainly; the former may (a blocking socket weft does not track, such as
/// an inherited fd 0-2), so in a coroutine it is a blocking call.
///
/// # Safety
///
/// The caller's contract for that system call.
unsafe fn unmanaged_or_dontwait(
    nr: libc::c_long,
    flags: c_int,
    args: [libc::c_long; 6],
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the caller's contract.
        raw::cvt_raw(unsafe { raw::syscall6(nr, args) }) as ssize_t
    } else {
        // SAFETY: the caller's contract.
        unsafe { blocking_rw(nr, args) }
    }
}
