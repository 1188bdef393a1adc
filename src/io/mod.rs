//! Waiting for I/O readiness: the fd table, and how a coroutine parks on
//! an fd. Each worker's poller and what it last said about its fds are the
//! worker's own (`runtime/driver.rs`, `runtime/readiness.rs`).
//!
//! # Parking on an fd (a coroutine on worker W calls `recv` on socket fd)
//!
//! 1. The hook looks fd up in the fd table. The first time a coroutine
//!    touches a socket, weft records whether the user made it non-blocking;
//!    if not, the coroutine's calls on it ask not to block (`MSG_DONTWAIT`,
//!    `PER_CALL` in `fd_table.rs`), and its open file description, which
//!    other fds and processes may share, is left alone. Only the stream
//!    and seqpacket sockets weft creates in a coroutine start non-blocking
//!    (`WEFT_NB`): a listener until another program may see it, a socket
//!    that connects until it has connected (`hook/socket.rs`,
//!    `hook/spawn.rs`).
//! 2. It tries the call, unless this worker's poller knows the socket is
//!    still empty (`runtime/readiness.rs`). Data there: done, at the cost
//!    of the system call.
//! 3. `EAGAIN` on a socket the user expects to block: the coroutine
//!    registers fd with W's poller (once per fd and worker), adds itself to
//!    the fd's readers and parks, with a deadline if the socket has
//!    `SO_RCVTIMEO`.
//! 4. The kernel reports the edge on W's epoll; W's next poll wakes every
//!    reader of fd, on W itself: no cross-thread hop on the I/O path.
//! 5. The coroutine retries from step 2. A deadline that passed gives
//!    `EAGAIN`, as the kernel would; a `close` of fd meanwhile gives `EBADF`.
//!
//! On a plain thread the hook makes the kernel's own call, which blocks as
//! the user set it; only on a `WEFT_NB` socket does it block the thread in
//! `poll(2)` instead, so blocking semantics hold everywhere.

mod fd_limit;
pub(crate) mod fd_table;
mod wait;

pub(crate) use crate::runtime::{Direction, Poller};
pub(crate) use fd_limit::{fd_freed, wait_for_free_fd};
pub(crate) use wait::{
    block_thread, connected, deadline_after, forget, kind_of, managed, register_new, retry, share,
    share_inherited, transfer_all, type_flags, wait_any, Wait,
};
