//! `Builder`: spawn a coroutine with a name or a stack size.

use std::io;
use std::sync::Arc;

use super::job::JobCell;
use super::{Coroutine, JoinHandle};
use crate::runtime::{self, Shared};
use crate::stack::Budget;
use crate::task::{Options, Task, TaskRef};

/// Largest stack a coroutine may ask for (it is reserved, not committed).
const MAX_STACK_SIZE: usize = 1 << 32;

/// Coroutine factory, to configure a coroutine before spawning it (like
/// `std::thread::Builder`).
///
/// ```
/// let h = weft::Builder::new()
///     .name("resolver")
///     .stack_size(64 * 1024)
///     .spawn(|| weft::current().unwrap().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("resolver"));
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    options: Option<Box<Options>>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    ///
    /// ```
    /// let h = weft::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine; the name appears in panic and overflow messages.
    ///
    /// ```
    /// let h = weft::Builder::new().name("conn-42").spawn(|| ()).unwrap();
    /// assert_eq!(h.coroutine().name(), Some("conn-42"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.options.get_or_insert_with(Box::default).name = Some(name.into());
        self
    }

    /// Usable stack size in bytes, rounded up to whole pages (at least
    /// 16 KiB). Only touched pages cost memory. The default is the runtime's
    /// (`WEFT_STACK_SIZE`, or 256 KiB).
    ///
    /// ```
    /// let h = weft::Builder::new().stack_size(1 << 20).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.options.get_or_insert_with(Box::default).stack_size = Some(bytes);
        self
    }

    /// Spawns the coroutine: onto the caller's runtime inside a coroutine,
    /// else onto the global runtime. With the `tracing` feature, the
    /// coroutine starts inside the caller's current span, if any.
    ///
    /// # Errors
    ///
    /// `ErrorKind::OutOfMemory` when the process is at its budget of
    /// coroutine stacks (the message names `vm.max_map_count`);
    /// `ErrorKind::InvalidInput` for a stack size over 4 GiB; the error that
    /// stopped the global runtime from starting (it says so; the next call
    /// tries to start it again).
    ///
    /// ```
    /// let h = weft::Builder::new().spawn(|| "done").unwrap();
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_on(runtime::current_or_global()?, f)
    }

    /// Spawns onto a given runtime.
    #[track_caller]
    pub(crate) fn spawn_on<F, T>(self, shared: &Arc<Shared>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let stack_size = self.options.as_ref().and_then(|o| o.stack_size);
        if let Some(stack_size) = stack_size.filter(|&s| s > MAX_STACK_SIZE) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft: stack size {stack_size} is over the 4 GiB limit"),
            ));
        }
        if let Err(e) = Budget::check() {
            // Idle workers may cache free slots: have them give them back,
            // so that a later spawn finds them (`stack/budget.rs`, step 2).
            shared.wake_all();
            return Err(e);
        }
        // A coroutine spawned inside a span starts inside it (`task/spans.rs`).
        #[cfg(feature = "tracing")]
        if let Some(span) = crate::task::spans::inherit() {
            return Ok(self.spawn_job(shared, move || span.run(f)));
        }
        Ok(self.spawn_job(shared, f))
    }

    /// Makes the task for `f` and schedules it.
    #[track_caller]
    fn spawn_job<F, T>(self, shared: &Arc<Shared>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, own) = TaskRef::new_pair(Task::new(
            runtime::share_spawned(shared),
            self.options,
            std::panic::Location::caller(),
            JobCell::new(f),
        ));
        let handle = JoinHandle::new(Coroutine::new(own));
        shared.schedule_fresh(task);
        handle
    }
}
