//! A worker's poller: one `mio::Poll` (epoll on Linux), the `mio::Waker`
//! other threads use to break its wait, and the table of coroutines waiting
//! for readiness of each registered fd.
//!
//! The worker blocks here when it has nothing to run, with the timeout of its
//! next timer; an idle runtime therefore sleeps in `epoll_wait` and uses no
//! CPU. Remote wake-ups (a task unparked from another thread, fresh work to
//! steal, shutdown) write the waker's eventfd.
//!
//! # Registrations
//!
//! A coroutine bound to this worker that finds an fd not ready registers the
//! fd here once (edge-triggered, readable and writable), then adds itself to
//! the fd's readers or writers and parks. Every registration has a key in
//! `Poller::waiters` and is made for one generation of the fd
//! (`fd_table.rs`); the epoll token carries both, so an event that was
//! already fetched for an fd that has since been closed, even if its key was
//! reused, is recognised as stale and dropped. An event wakes every waiter
//! of its direction: they retry their call, and those that find nothing park
//! again (the edge for new data comes later).

use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::unix::SourceFd;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::readiness::Event;
use super::Readiness;
use crate::coroutine::Task;
use crate::runtime::park::Unparker;
use crate::sys::raw;

/// The token of the waker registration.
const WAKER: Token = Token(usize::MAX);

/// Breaks a worker's `epoll_wait`: an eventfd registered (edge-triggered)
/// in its poller. Written with a raw system call, never through weft's own
/// `write` hook: a thread that does not hold the worker wakes its holder
/// with it (`runtime/takeover.rs`, step 4), and must not look like a
/// blocking call of that worker.
#[derive(Debug)]
pub(crate) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    fn new(registry: &Registry, token: Token) -> io::Result<Waker> {
        // SAFETY: eventfd has no pointer arguments; a new fd is ours.
        let fd = crate::sys::cvt(unsafe {
            crate::sys::raw::eventfd2(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)
        })?;
        // SAFETY: `fd` was just opened and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Waker { fd })
    }

    /// Wakes the poller's wait (each write is a new edge).
    pub(crate) fn wake(&self) -> io::Result<()> {
        let one = 1u64;
        loop {
            // SAFETY: eight readable bytes, to our own eventfd.
            let n = unsafe { raw::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
            if n == 8 {
                return Ok(());
            }
            match crate::sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => {
                    // The counter is full (after 2^64 - 2 wake-ups): empty
                    // it, and write again.
                    let mut sink = 0u64;
                    // SAFETY: eight writable bytes.
                    unsafe { raw::read(self.fd.as_raw_fd(), (&mut sink as *mut u64).cast(), 8) };
                }
                e => return Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

/// The direction a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Waiters for one registered fd.
struct FdWaiters {
    generation: u32,
    readers: Waiters,
    writers: Waiters,
}

impl FdWaiters {
    fn list(&mut self, dir: Direction) -> &mut Waiters {
        match dir {
            Direction::Read => &mut self.readers,
            Direction::Write => &mut self.writers,
        }
    }

    fn wake_all(self) {
        for w in self.readers.into_iter().chain(self.writers) {
            w.unpark();
        }
    }
}

/// The waiters of one fd in one direction, oldest first. Nearly always
/// none or one (a connection's own coroutine), so the first is kept inline:
/// waiting and dispatching touch no memory beyond the fd's entry. Several
/// coroutines reading one socket spill into `more`.
#[derive(Default)]
struct Waiters {
    first: Option<Unparker>,
    more: Vec<Unparker>,
}

impl Waiters {
    fn push(&mut self, w: Unparker) {
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.more.push(w);
        }
    }

    fn remove(&mut self, task: &Task) {
        if self.first.as_ref().is_some_and(|w| w.is_task(task)) {
            self.first = if self.more.is_empty() {
                None
            } else {
                Some(self.more.remove(0))
            };
        } else {
            self.more.retain(|w| !w.is_task(task));
        }
    }

    /// Moves every waiter to the end of `out`, oldest first.
    fn take_into(&mut self, out: &mut Vec<Unparker>) {
        out.extend(self.first.take());
        out.append(&mut self.more);
    }
}

impl IntoIterator for Waiters {
    type Item = Unparker;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Unparker>, std::vec::IntoIter<Unparker>>;

    /// Every waiter, oldest first.
    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}

/// The part of a worker's poller other threads reach: the registry (for
/// `close` on any thread to deregister) and the waiter table.
pub(crate) struct Poller {
    registry: Registry,
    /// Locked by the worker's coroutines to wait, by the worker to dispatch
    /// events, and by `close` on any thread.
    waiters: Mutex<Slab<FdWaiters>>,
}

fn token(key: usize, generation: u32) -> Token {
    Token(((generation as usize) << 32) | key)
}

fn untoken(t: Token) -> (usize, u32) {
    (t.0 & 0xffff_ffff, (t.0 >> 32) as u32)
}

impl Poller {
    /// Registers `fd` (generation `generation`) and returns its key.
    pub(crate) fn register(&self, fd: RawFd, generation: u32) -> io::Result<usize> {
        let key = self.waiters.lock().unwrap().insert(FdWaiters {
            generation,
            readers: Waiters::default(),
            writers: Waiters::default(),
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        let t = token(key, generation);
        let res = match self.registry.register(&mut SourceFd(&fd), t, interest) {
            // A stale entry for an earlier file with this number, closed
            // without weft seeing it: take it over.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.registry.reregister(&mut SourceFd(&fd), t, interest)
            }
            res => res,
        };
        if let Err(e) = res {
            self.waiters.lock().unwrap().remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Adds a waiter; false if the registration is gone (the fd was closed).
    pub(crate) fn add_waiter(
        &self,
        key: usize,
        generation: u32,
        dir: Direction,
        w: Unparker,
    ) -> bool {
        let mut waiters = self.waiters.lock().unwrap();
        match waiters.get_mut(key) {
            Some(entry) if entry.generation == generation => {
                entry.list(dir).push(w);
                true
            }
            _ => false,
        }
    }

    /// Removes `task` from a waiter list if it is still there (it timed out,
    /// or was woken by something else).
    pub(crate) fn remove_waiter(&self, key: usize, generation: u32, dir: Direction, task: &Task) {
        let mut waiters = self.waiters.lock().unwrap();
        if let Some(entry) = waiters.get_mut(key).filter(|e| e.generation == generation) {
            entry.list(dir).remove(task);
        }
    }

    /// Drops the registration of a closed fd and wakes its waiters (they
    /// find the generation changed and fail with `EBADF`).
    pub(crate) fn forget(&self, fd: RawFd, key: usize) {
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let entry = self.waiters.lock().unwrap().try_remove(key);
        if let Some(entry) = entry {
            entry.wake_all();
        }
    }

    /// Records readiness and wakes the waiters an event is for.
    fn dispatch(&self, events: &Events, readiness: &Readiness, woken: &mut Vec<Unparker>) {
        let mut waiters = self.waiters.lock().unwrap();
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            let (key, generation) = untoken(event.token());
            let Some(entry) = waiters.get_mut(key).filter(|e| e.generation == generation) else {
                continue; // stale: the fd was closed after this event was fetched
            };
            let failed = event.is_error();
            let ev = Event {
                read: event.is_readable(),
                write: event.is_writable(),
                read_closed: failed || event.is_read_closed(),
                write_closed: failed || event.is_write_closed(),
            };
            readiness.mark(key, generation, ev);
            let read = ev.read || ev.read_closed;
            let write = ev.write || ev.write_closed;
            if read {
                entry.readers.take_into(woken);
            }
            if write {
                entry.writers.take_into(woken);
            }
        }
    }
}

/// One worker's poller, owned by the worker thread.
pub(crate) struct Driver {
    poll: Poll,
    events: Events,
    poller: Arc<Poller>,
    woken: Vec<Unparker>,
}

impl Driver {
    /// A poller, its shared half, and the waker that breaks its wait.
    pub(crate) fn new() -> io::Result<(Driver, Arc<Poller>, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let poller = Arc::new(Poller {
            registry: poll.registry().try_clone()?,
            waiters: Mutex::new(Slab::new()),
        });
        let driver = Driver {
            poll,
            events: Events::with_capacity(1024),
            poller: poller.clone(),
            woken: Vec::new(),
        };
        Ok((driver, poller, waker))
    }

    /// Waits for readiness or a wake-up, at most `timeout` (`None`: no
    /// limit; zero: just look), and unparks the coroutines that were
    /// waiting for what became ready. Returns how many it unparked.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, readiness: &Readiness) -> usize {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => panic!("weft: epoll_wait failed: {e}"),
        }
        if self.events.is_empty() {
            return 0;
        }
        self.poller
            .dispatch(&self.events, readiness, &mut self.woken);
        let n = self.woken.len();
        // Waking a coroutine first reads its record, cold in a server with
        // many connections: start all those loads before the first wake-up
        // waits on one.
        for w in &self.woken {
            w.prefetch();
        }
        for w in self.woken.drain(..) {
            w.unpark();
        }
        n
    }
}
