//! An fd in words, for a dump:
//! `read fd 7 tcp 127.0.0.1:5432 <- 127.0.0.1:40112`.

use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use crate::sys::socket_int_option;

/// What a coroutine parked on `fd` waits for: `verb` ("read" or "write")
/// with the socket's protocol and addresses (the local one first; the
/// arrow points the way the bytes go), or `accept` on a listener.
pub(crate) fn describe_fd(fd: RawFd, verb: &str) -> String {
    let Some(ty) = socket_int_option(fd, libc::SO_TYPE) else {
        return format!("{verb} fd {fd}");
    };
    let local = address(fd, libc::getsockname);
    let proto = match (local.as_ref().map(|a| a.1), ty) {
        (Some(libc::AF_UNIX), libc::SOCK_STREAM) => "unix",
        (Some(libc::AF_UNIX), _) => "unix datagram",
        (_, libc::SOCK_STREAM) => "tcp",
        (_, libc::SOCK_DGRAM) => "udp",
        _ => "socket",
    };
    let local = local.map_or_else(|| "?".to_owned(), |a| a.0);
    if socket_int_option(fd, libc::SO_ACCEPTCONN) == Some(1) {
        return format!("accept fd {fd} {proto} {local}");
    }
    match address(fd, libc::getpeername) {
        Some((peer, _)) => {
            let arrow = if verb == "write" { "->" } else { "<-" };
            format!("{verb} fd {fd} {proto} {local} {arrow} {peer}")
        }
        None => format!("{verb} fd {fd} {proto} {local}"),
    }
}

type NameFn =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// The socket's own address (`getsockname`) or its peer's (`getpeername`),
/// in words, with its family.
fn address(fd: RawFd, get: NameFn) -> Option<(String, libc::c_int)> {
    // SAFETY: all-zero is a valid `sockaddr_storage`.
    let mut ss: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss` has room for any address, and `len` says how much.
    if unsafe {
        get(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    } != 0
    {
        return None;
    }
    let family = libc::c_int::from(ss.ss_family);
    let text = match family {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a `sockaddr_in`.
            let a = unsafe { *(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))).to_string()
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a `sockaddr_in6`.
            let a = unsafe { *(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))
            .to_string()
        }
        libc::AF_UNIX => {
            // SAFETY: the kernel wrote a `sockaddr_un` of `len` bytes.
            let a = unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
            let offset = mem::size_of::<libc::sa_family_t>();
            let n = (len as usize).saturating_sub(offset).min(a.sun_path.len());
            // `c_char` is `i8` on x86_64 and `u8` on aarch64.
            #[allow(clippy::unnecessary_cast)]
            let path: Vec<u8> = a.sun_path[..n].iter().map(|&c| c as u8).collect();
            match path.split(|&c| c == 0).next() {
                Some(p) if !p.is_empty() => String::from_utf8_lossy(p).into_owned(),
                _ if n > 1 => format!("@{}", String::from_utf8_lossy(&path[1..])),
                _ => "(unnamed)".to_owned(),
            }
        }
        _ => format!("(family {family})"),
    };
    Some((text, family))
}
