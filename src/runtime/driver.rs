//! A worker's poller: one `mio::Poll` (epoll on Linux), the [`Waker`]
//! (an eventfd) other threads use to break its wait, and the table of
//! coroutines waiting for readiness of each registered fd.
//!
//! The worker blocks here when it has nothing to run, with the timeout of
//! its next timer; an idle runtime therefore sleeps in `epoll_wait` and uses
//! no CPU. Remote wake-ups (a task unparked from another thread, fresh work
//! to steal, a probe, a thread of the worker back from a blocking call,
//! shutdown) write the waker's eventfd.
//!
//! # Registrations
//!
//! A coroutine bound to this worker that finds an fd not ready registers the
//! fd here once (edge-triggered, readable and writable), then adds itself to
//! the fd's readers or writers and parks. Every registration has a key in
//! `Poller::waiters` and is made for one generation of the fd
//! (`io/fd_table.rs`); the epoll token carries both, so an event that was
//! already fetched for an fd that has since been closed, even if its key was
//! reused, is recognised as stale and dropped. An event wakes every waiter
//! of its direction: they retry their call, and those that find nothing park
//! again (the edge for new data comes later).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::unix::SourceFd;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::readiness::{Direction, Event, Readiness};
use super::unparker::Unparker;
use crate::sys::raw;
use crate::task::Task;

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

    fn wake_all(self, mut wake: impl FnMut(Unparker)) {
        for w in self.readers.into_iter().chain(self.writers) {
            wake(w);
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

    /// Drops the registration of a closed fd and hands its waiters to
    /// `wake` (they find the generation changed and fail with `EBADF`).
    pub(crate) fn forget(&self, fd: RawFd, key: usize, wake: impl FnMut(Unparker)) {
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let entry = self.waiters.lock().unwrap().try_remove(key);
        if let Some(entry) = entry {
            entry.wake_all(wake);
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

/// One worker's I/O state, owned by the worker (its holder thread uses
/// it): the poller, the cache of the worker's registrations by fd, what the
/// poller last said about each (`readiness.rs`), and how many of the
/// worker's coroutines wait for readiness.
pub(crate) struct Driver {
    /// The epoll instance and its buffers; borrowed by `poll` alone.
    polling: RefCell<Polling>,
    poller: Arc<Poller>,
    /// Poller keys by fd: `key << 32 | generation`, or `NO_REGISTRATION`.
    /// Only this worker's coroutines touch it.
    registrations: RefCell<Vec<u64>>,
    readiness: Readiness,
    /// This worker's coroutines parked until an fd is ready (`io_wait`):
    /// while there are any, a searching worker looks at its poller.
    io_waiters: Cell<usize>,
}

/// What `Driver::poll` needs mutably.
struct Polling {
    poll: Poll,
    events: Events,
    woken: Vec<Unparker>,
}

/// An empty entry of `Driver::registrations`.
const NO_REGISTRATION: u64 = u64::MAX;

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
            polling: RefCell::new(Polling {
                poll,
                events: Events::with_capacity(1024),
                woken: Vec::new(),
            }),
            poller: poller.clone(),
            registrations: RefCell::new(Vec::new()),
            readiness: Readiness::default(),
            io_waiters: Cell::new(0),
        };
        Ok((driver, poller, waker))
    }

    /// Waits for readiness or a wake-up, at most `timeout` (`None`: no
    /// limit; zero: just look), and hands `wake` the waiters of what became
    /// ready. Returns how many it handed over.
    pub(crate) fn poll(&self, timeout: Option<Duration>, mut wake: impl FnMut(Unparker)) -> usize {
        let polling = &mut *self.polling.borrow_mut();
        match polling.poll.poll(&mut polling.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => panic!("weft: epoll_wait failed: {e}"),
        }
        if polling.events.is_empty() {
            return 0;
        }
        self.poller
            .dispatch(&polling.events, &self.readiness, &mut polling.woken);
        let n = polling.woken.len();
        // Waking a coroutine first reads its record, cold in a server with
        // many connections: start all those loads before the first wake-up
        // waits on one.
        for w in &polling.woken {
            w.prefetch();
        }
        for w in polling.woken.drain(..) {
            wake(w);
        }
        n
    }

    /// The poller key this worker registered `fd` under, if it did so for
    /// this generation of the fd.
    #[inline]
    pub(crate) fn cached_registration(&self, fd: RawFd, generation: u32) -> Option<usize> {
        let entry = *self.registrations.borrow().get(usize::try_from(fd).ok()?)?;
        (entry != NO_REGISTRATION && entry as u32 == generation).then_some((entry >> 32) as usize)
    }

    /// Remembers the poller key of `fd` for this generation.
    pub(crate) fn cache_registration(&self, fd: RawFd, generation: u32, key: usize) {
        let Ok(fd) = usize::try_from(fd) else { return };
        let mut regs = self.registrations.borrow_mut();
        if regs.len() <= fd {
            regs.resize(fd + 1, NO_REGISTRATION);
        }
        regs[fd] = ((key as u64) << 32) | generation as u64;
        self.readiness.reset(key, generation);
    }

    /// What this worker's poller last said about its registrations.
    #[inline]
    pub(crate) fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Counts the calling coroutine as waiting for I/O readiness on this
    /// worker until the guard drops.
    #[inline]
    pub(crate) fn io_wait(&self) -> IoWait<'_> {
        self.io_waiters.set(self.io_waiters.get() + 1);
        IoWait(&self.io_waiters)
    }

    /// Whether some coroutine of this worker waits for readiness.
    #[inline]
    pub(crate) fn has_io_waiters(&self) -> bool {
        self.io_waiters.get() > 0
    }
}

/// A coroutine counted in `Driver::io_waiters`.
pub(crate) struct IoWait<'a>(&'a Cell<usize>);

impl Drop for IoWait<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}
