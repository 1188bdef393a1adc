//! A channel's side of a select: choosing one of its operations now, and
//! completing it later, once the select's caller has the message to send
//! or takes the one received.
//!
//! Choosing leaves a promise in the channel (see the parent module): a
//! message held for the receive, room reserved for the send, or a debt of
//! the send to a committed receiver. Completing keeps it; dropping a chosen
//! operation unfinished gives it back (`release_*`).

use super::{changed, deliver, hand, take_packet, Chan, Timer, COMMITTED, FORGIVEN};
use crate::channel::error::{RecvError, SendError};
use crate::sync::queue::{Context, Entry};

impl<T> Chan<T> {
    /// Chooses a receive if one is possible now: a message is held for it
    /// (from the queue, a waiting sender or the clock), or a waiting
    /// select's send now owes it one. `Some(true)` if the channel is
    /// disconnected and empty; `None` if the receive would wait.
    pub(crate) fn choose_recv(&self) -> Option<bool> {
        let mut st = self.lock();
        if let Some(msg) = self.pop(&mut st) {
            st.held.push_back(msg);
            // The held message has left the buffer: room for a sender.
            self.admit(&mut st);
            changed(&mut st);
            return Some(false);
        }
        if let Some(claim) = st.senders.claim() {
            if claim.packet().is_null() {
                st.owed += 1;
            } else {
                // SAFETY: a plain sender's packet, claimed and not
                // completed.
                let msg = unsafe { take_packet(claim.packet()) };
                st.held.push_back(msg);
            }
            claim.complete();
            return Some(false);
        }
        if let Some(msg) = st.timer.as_mut().and_then(Timer::fire) {
            st.held.push_back(msg);
            return Some(false);
        }
        st.disconnected.then_some(true)
    }

    /// Chooses a send if one is possible now: room is reserved for its
    /// message, or a waiting receiver is now owed it (and committed).
    /// `Some(true)` if the channel is disconnected; `None` if the send
    /// would wait.
    pub(crate) fn choose_send(&self) -> Option<bool> {
        let mut st = self.lock();
        if st.disconnected {
            return Some(true);
        }
        if self.has_room(&st) {
            st.reserved += 1;
            return Some(false);
        }
        let claim = st.receivers.claim()?;
        st.owed += 1;
        if claim.packet().is_null() {
            // A select's receive: completing it, its select waits for the
            // message we owe.
            claim.complete();
        } else {
            // A plain receiver: it comes back to wait for the message.
            claim.complete_as(COMMITTED);
        }
        Some(false)
    }

    /// Completes a chosen receive: takes its held message, or waits for
    /// the one owed to it.
    pub(crate) fn recv_chosen(&self) -> Result<T, RecvError> {
        self.recv_committed(self.lock())
    }

    /// Completes a chosen send with `msg`: pays a committed receiver, or
    /// uses the room reserved.
    pub(crate) fn send_chosen(&self, msg: T) -> Result<(), SendError<T>> {
        let mut st = self.lock();
        if st.owed > 0 {
            st.owed -= 1;
            if let Some(claim) = st.committed.claim() {
                // Completed outside the lock: the receiver, often spinning,
                // goes on at once and its next operation may well be on
                // this channel. Had it to wait for our lock, its select
                // would try this channel last, and two selects facing each
                // other would settle on one of their channels (seen under
                // CPU contention, where nearly every round went to one).
                drop(st);
                // SAFETY: a committed receiver's packet is its empty
                // `Option<T>` slot, valid until the claim completes (queue
                // protocol, step 4).
                unsafe { claim.packet().cast::<Option<T>>().write(Some(msg)) };
                claim.complete();
                return Ok(());
            }
            if st.abandoned == 0 {
                // The receiver it is owed to has not come to wait yet.
                st.held.push_back(msg);
                return Ok(());
            }
            // Owed to a receiver that left: the channel gets it, past its
            // capacity if need be.
            st.abandoned -= 1;
            if st.disconnected {
                return Err(SendError(msg));
            }
            deliver(&mut st, msg);
            return Ok(());
        }
        st.reserved -= 1;
        if st.disconnected {
            return Err(SendError(msg));
        }
        deliver(&mut st, msg);
        // Handed to a receiver, it left the reserved room free again.
        self.admit(&mut st);
        changed(&mut st);
        Ok(())
    }

    /// Gives a chosen receive's promise back: its held message returns to
    /// the channel, or the message owed to it will go there.
    pub(crate) fn release_recv(&self) {
        let mut st = self.lock();
        if let Some(msg) = st.held.pop_front() {
            match st.receivers.claim() {
                // SAFETY: claimed from the receivers.
                Some(claim) => unsafe { hand(&mut st, claim, msg) },
                None => {
                    st.queue.push_front(msg);
                    changed(&mut st);
                }
            }
        } else if st.forgiven > 0 {
            st.forgiven -= 1;
        } else {
            st.abandoned += 1;
        }
    }

    /// Gives a chosen send's promise back: its reserved room, or its debt
    /// (the committed receiver receives as usual instead).
    pub(crate) fn release_send(&self) {
        let mut st = self.lock();
        if st.owed > 0 {
            st.owed -= 1;
            match st.committed.claim() {
                Some(claim) => claim.complete_as(FORGIVEN),
                None => st.forgiven += 1,
            }
        } else {
            st.reserved -= 1;
            self.admit(&mut st);
            changed(&mut st);
        }
    }

    /// Registers a waiting receive of a select, operation `op` of `cx`,
    /// through `entry`, unless a message is queued: then it registers
    /// nothing and returns true, and the select must try again.
    /// Registered behind a queued message, it would be handed the next one
    /// first.
    ///
    /// # Safety
    ///
    /// As for `WaitList::register_entry`: `entry` is not linked, and until
    /// it is unlinked (by a claim, or by [`Chan::unregister`]) `entry` and
    /// `cx` stay alive and in place.
    pub(crate) unsafe fn register_recv(&self, entry: &Entry, cx: &Context, op: usize) -> bool {
        let mut st = self.lock();
        if !st.queue.is_empty() {
            return true;
        }
        // SAFETY: the caller's guarantees; a null packet is what a
        // select's receive has (`State::receivers`).
        unsafe {
            st.receivers
                .register_entry(entry, cx, op, std::ptr::null_mut())
        };
        changed(&mut st);
        false
    }

    /// Registers a waiting send of a select (always: a send registered
    /// while it could go ahead takes nobody's turn).
    ///
    /// # Safety
    ///
    /// As for [`Chan::register_recv`].
    pub(crate) unsafe fn register_send(&self, entry: &Entry, cx: &Context, op: usize) -> bool {
        let mut st = self.lock();
        // SAFETY: the caller's guarantees; a null packet is what a
        // select's send has (`State::senders`).
        unsafe {
            st.senders
                .register_entry(entry, cx, op, std::ptr::null_mut())
        };
        changed(&mut st);
        false
    }

    /// Registers a `ready` waiter, woken by any change.
    ///
    /// # Safety
    ///
    /// As for [`Chan::register_recv`], with [`Chan::unwatch`] to unlink.
    pub(crate) unsafe fn watch(&self, entry: &Entry, cx: &Context, op: usize) {
        // SAFETY: the caller's guarantees; watchers' packets are null
        // (`State::watchers`).
        unsafe {
            self.lock()
                .watchers
                .register_entry(entry, cx, op, std::ptr::null_mut())
        };
    }

    /// Unlinks a `ready` waiter's entry, if still linked.
    pub(crate) fn unwatch(&self, entry: &Entry) {
        self.lock().watchers.unregister_entry(entry);
    }
}
