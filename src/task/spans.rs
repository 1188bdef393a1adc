//! Spans that follow their coroutine (the `tracing` feature).
//!
//! A `tracing` subscriber keeps the spans a thread has entered on a stack
//! per OS thread (tracing-subscriber's `Registry` does). Coroutines that take
//! turns on one worker thread would share that stack: a span one coroutine
//! entered before it parked would still be current when the next one logs.
//! So a coroutine takes its spans with it when it suspends, and puts them
//! back when it resumes, through the public `Dispatch` API only
//! (`current_span`, `exit`, `enter`), which every subscriber implements.
//!
//! # Protocol
//!
//! The *baseline* of a worker thread is no span at all: a worker's threads
//! run nothing but coroutines, nothing enters a span between two of them,
//! and a coroutine that ends with spans still entered (a leaked guard) has
//! them exited at its end (`clear_leftovers`).
//!
//! 1. **Leave** (the coroutine is about to yield or park, before a park
//!    may resume another coroutine in a hand-off): while the thread's
//!    default dispatcher has a current span, `exit` it and push its id on
//!    the coroutine's stash. It stops at the baseline. The dispatcher goes
//!    in the stash too.
//! 2. **Come back** (resumed, on whichever thread of its worker holds the
//!    worker now): `enter` the stashed spans through that dispatcher,
//!    deepest first.
//!
//! With no dispatcher ever set, step 1 is one relaxed load, and step 2
//! does not run; with the feature off, neither step exists. With a
//! subscriber, a coroutine whose spans are all exited costs one
//! `current_span` per park.
//!
//! # Why the restored stack is the one that left
//!
//! What a per-thread span stack exposes through `Dispatch` is the current
//! span, and, for each span, how many times it is entered; exiting a span
//! makes the span entered before it current once its own entries are
//! used up. (tracing-subscriber's stack marks a re-entry of a span that is
//! already on it as a duplicate, which does not change the current span,
//! and an `exit` removes the topmost entry of that span: so its state is
//! the order in which distinct spans were first entered, and a count per
//! span.) Step 1 exits the current span until none is left, so it records
//! each span as many times as it was entered, top to bottom; step 2
//! re-enters them bottom to top, which rebuilds the same order and the
//! same counts. The user's guards then exit their spans just as they would
//! have, in any order, because their effect depends only on that state.
//! Guards dropped out of order before the park need no special case:
//! whatever they left is the state step 1 reads.
//!
//! Both steps take the stash's list out while they call the subscriber, so
//! a subscriber callback that parks the coroutine itself (a layer writing
//! an `exit` event to a socket) runs steps 1 and 2 again, nested, on what
//! is entered at that moment, and the outer step goes on from there.
//!
//! The stash holds ids, not references: what keeps a stashed span open is
//! what kept it open while it was entered, the coroutine's own `Span`,
//! which its guard borrows (`enter`, `in_scope`) or owns (`entered`). The
//! coroutine is suspended inside that guard's scope, so the `Span` lives
//! until it resumes. (Taking a reference of our own, `clone_span` and
//! `try_close` around each park, would double what a park inside a span
//! costs, to protect only a guard leaked with `mem::forget` whose `Span`
//! was then dropped.)
//!
//! # Spawned coroutines start inside the current span
//!
//! `go` and `Builder::spawn` called while a span is current (on a plain
//! thread or in a coroutine) start the coroutine inside that span, as
//! tokio's `in_current_span` would: the closure runs entered in it, and the
//! coroutine holds it open until the closure returns.

use std::cell::Cell;

use tracing_core::dispatcher::{self, Dispatch};
use tracing_core::span::Id;

/// Most spans one coroutine takes with it. A subscriber whose `exit` does
/// not change its current span would otherwise keep step 1 going for ever;
/// past this depth the rest stays on the thread.
const MAX_DEPTH: usize = 256;

/// The spans a suspended coroutine has taken off its thread (step 1).
#[derive(Default)]
pub(crate) struct Stash {
    /// The dispatcher they were exited through; `None` when nothing is
    /// stashed.
    dispatch: Cell<Option<Dispatch>>,
    /// The spans, the current one first.
    ids: Cell<Vec<Id>>,
}

/// Step 1 for the running coroutine, whose stash `stash` gives (made on
/// first use: most coroutines never need one). True if it stashed spans,
/// so that `come_back` must run when it resumes.
#[inline]
pub(crate) fn leave<'a>(stash: impl Fn() -> &'a Stash) -> bool {
    // One relaxed load while no dispatcher was ever set: the check the
    // `tracing` macros themselves make before every event (hidden from
    // tracing-core's docs, but part of its interface with `tracing`). It
    // keeps a park's inlined path as short as without the feature.
    dispatcher::has_been_set() && leave_any(stash)
}

/// Step 1 once a dispatcher exists: out of line, so that `leave` stays
/// small where a park is inlined.
#[inline(never)]
fn leave_any<'a>(stash: impl Fn() -> &'a Stash) -> bool {
    dispatcher::get_default(|d| match d.current_span().id() {
        None => false,
        Some(top) => leave_from(stash(), d, top.clone()),
    })
}

fn leave_from(stash: &Stash, d: &Dispatch, top: Id) -> bool {
    let mut ids = stash.ids.take();
    let mut next = Some(top);
    while let Some(id) = next {
        d.exit(&id);
        ids.push(id);
        next = match d.current_span().id() {
            Some(id) if ids.len() < MAX_DEPTH => Some(id.clone()),
            _ => None,
        };
    }
    // A nested leave (from a callback above) stashed and restored its own
    // list, which is empty again: ours replaces it.
    stash.ids.set(ids);
    stash.dispatch.set(Some(d.clone()));
    true
}

/// Step 2 for the running coroutine, after a `leave` that stashed into
/// `stash`.
#[inline(never)]
pub(crate) fn come_back(stash: Option<&Stash>) {
    let Some(stash) = stash else {
        return;
    };
    let Some(d) = stash.dispatch.take() else {
        return;
    };
    let mut ids = stash.ids.take();
    for id in ids.drain(..).rev() {
        d.enter(&id);
    }
    // Keep the list's capacity for the next park.
    stash.ids.set(ids);
}

/// Exits whatever spans the running coroutine left entered at its end (a
/// leaked guard), so they do not stay on its worker thread.
pub(crate) fn clear_leftovers() {
    if !dispatcher::has_been_set() {
        return;
    }
    dispatcher::get_default(|d| {
        for _ in 0..MAX_DEPTH {
            let Some(id) = d.current_span().id().cloned() else {
                return;
            };
            d.exit(&id);
        }
    });
}

/// The span a coroutine spawned now starts in: the caller's current span,
/// held open.
pub(crate) struct Inherited {
    dispatch: Dispatch,
    id: Id,
}

/// The caller's current span, if any, for a coroutine it spawns.
#[inline]
pub(crate) fn inherit() -> Option<Inherited> {
    if !dispatcher::has_been_set() {
        return None;
    }
    dispatcher::get_default(|d| {
        let id = d.current_span().id()?.clone();
        Some(Inherited {
            id: d.clone_span(&id),
            dispatch: d.clone(),
        })
    })
}

impl Inherited {
    /// Runs `f` entered in the span (on the coroutine).
    pub(crate) fn run<T>(self, f: impl FnOnce() -> T) -> T {
        self.dispatch.enter(&self.id);
        let _entered = Entered(self);
        f()
    }
}

impl Drop for Inherited {
    fn drop(&mut self) {
        self.dispatch.try_close(self.id.clone());
    }
}

/// Exits the inherited span when the closure returns or unwinds, then
/// releases it.
struct Entered(Inherited);

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.dispatch.exit(&self.0.id);
    }
}
