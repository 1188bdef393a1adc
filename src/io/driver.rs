//! A worker's poller: one `mio::Poll` (epoll on Linux) and the `mio::Waker`
//! other threads use to break its wait.
//!
//! The worker blocks here when it has nothing to run, with the timeout of its
//! next timer; an idle runtime therefore sleeps in `epoll_wait` and uses no
//! CPU. Remote wake-ups (a task unparked from another thread, fresh work to
//! steal, shutdown) write the waker's eventfd.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};

/// The token of the waker registration.
const WAKER: Token = Token(usize::MAX);

/// One worker's poller.
pub(crate) struct Driver {
    poll: Poll,
    events: Events,
}

impl Driver {
    /// A poller and the waker that breaks its wait.
    pub(crate) fn new() -> io::Result<(Driver, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok((
            Driver {
                poll,
                events: Events::with_capacity(256),
            },
            waker,
        ))
    }

    /// Waits for readiness or a wake-up, at most `timeout` (`None`: no limit).
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("weft: epoll_wait failed: {e}"),
        }
        // Only the waker is registered so far; its event needs no handling
        // (mio's eventfd waker is edge-triggered).
        debug_assert!(self.events.iter().all(|e| e.token() == WAKER));
    }
}
