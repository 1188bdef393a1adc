//! `Barrier`: a meeting point for a fixed number of tasks.

use std::fmt;
use std::ptr;

use super::queue::{Context, Outcome, WaitList};
use super::waiter;
use crate::loom::Lock;
use crate::task::{Kind, WaitFor};

/// Lets `n` coroutines or threads wait until all `n` have arrived, then
/// releases them together; it can be used again for the next round.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(10));
/// let handles: Vec<_> = (0..10)
///     .map(|_| {
///         let b = barrier.clone();
///         weft::go(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().map(|h| h.join().unwrap());
/// assert_eq!(leaders.filter(|&l| l).count(), 1);
/// ```
pub struct Barrier {
    n: usize,
    state: Lock<State>,
}

struct State {
    /// Arrivals in this round.
    arrived: usize,
    /// Rounds completed so far.
    round: usize,
    waiters: WaitList,
}

/// What [`Barrier::wait`] returns.
///
/// ```
/// let result: weft::sync::BarrierWaitResult = weft::sync::Barrier::new(1).wait();
/// assert!(result.is_leader());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one waiter per round: the last to arrive.
    ///
    /// ```
    /// assert!(weft::sync::Barrier::new(1).wait().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` waiters (0 behaves as 1).
    ///
    /// ```
    /// let b = weft::sync::Barrier::new(1);
    /// b.wait(); // the only waiter: returns at once
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            state: Lock::new(State {
                arrived: 0,
                round: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits until `n` callers have arrived in this round.
    ///
    /// ```
    /// let b = std::sync::Arc::new(weft::sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let h = weft::go(move || b2.wait().is_leader());
    /// let me = b.wait().is_leader();
    /// assert!(me != h.join().unwrap());
    /// ```
    pub fn wait(&self) -> BarrierWaitResult {
        let mut st = self.state.lock();
        st.arrived += 1;
        if st.arrived == self.n {
            st.arrived = 0;
            st.round = st.round.wrapping_add(1);
            while let Some(claim) = st.waiters.claim() {
                claim.complete();
            }
            return BarrierWaitResult(true);
        }
        let round = st.round;
        let cx = Context::new(WaitFor::new(Kind::Barrier, 0));
        // SAFETY: `cx` stays in this frame, unlinked before it goes: by
        // the last arrival's claim, or by the `unregister` below. The last
        // arrival reads no packet.
        unsafe { st.waiters.register(&cx, 0, ptr::null_mut()) };
        drop(st);
        match cx.wait(None) {
            Outcome::Selected(_) => BarrierWaitResult(false),
            Outcome::TimedOut | Outcome::Cancelled => {
                // Leave the round, if it is still gathering: we no longer
                // count as arrived. (If it completed meanwhile, we had
                // arrived in it and it went on without us.)
                let mut st = self.state.lock();
                st.waiters.unregister(&cx);
                if st.round == round {
                    st.arrived -= 1;
                }
                drop(st);
                waiter::checkpoint();
                BarrierWaitResult(false)
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
