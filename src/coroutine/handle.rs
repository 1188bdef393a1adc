//! The public, cheap handle to a coroutine.

use std::fmt;

use crate::task::{CoroutineId, Task, TaskRef};

/// A handle to a coroutine: its id and name. Cheap to clone.
///
/// ```
/// let h = weft::Builder::new().name("worker-7").spawn(|| ()).unwrap();
/// assert_eq!(h.coroutine().name(), Some("worker-7"));
/// h.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Coroutine {
    task: TaskRef,
}

impl Coroutine {
    pub(crate) fn new(task: TaskRef) -> Coroutine {
        Coroutine { task }
    }

    pub(crate) fn task(&self) -> &Task {
        &self.task
    }

    /// The counted reference this handle holds.
    pub(crate) fn task_ref(&self) -> &TaskRef {
        &self.task
    }

    /// References to the task: handles, queue entries, the worker's table.
    #[cfg(all(test, not(weft_loom)))]
    pub(crate) fn task_refs(&self) -> usize {
        TaskRef::count(&self.task)
    }

    /// The coroutine's unique id.
    ///
    /// ```
    /// let h = weft::go(|| ());
    /// let id = h.coroutine().id();
    /// h.join().unwrap();
    /// assert!(id.as_u64() > 0);
    /// ```
    pub fn id(&self) -> CoroutineId {
        self.task.id()
    }

    /// The name given with [`Builder::name`](crate::Builder::name), if any.
    ///
    /// ```
    /// assert_eq!(weft::go(|| ()).coroutine().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.task.name()
    }
}

impl fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish()
    }
}
