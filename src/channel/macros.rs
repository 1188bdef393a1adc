//! `select!` and `select_biased!`: a selection (`selection.rs`) over arms
//! written out in the code.
//!
//! The expansion evaluates every arm's channel expression once, in order,
//! as the scrutinee of one `match`, so temporaries in them live until the
//! select is over; builds one operation per arm (an array on the stack: no
//! allocation); chooses one; and completes it in its arm, evaluating a send
//! arm's message only there. It contains no `unsafe`, so crates that
//! forbid `unsafe_code` can use it.

/// Waits on several channel operations and runs the arm of the first one
/// that can go ahead, in crossbeam-channel's syntax:
///
/// - `recv(r) -> msg => body`: `msg` is `Result<T, RecvError>` (an error
///   once `r` is disconnected and empty);
/// - `send(s, value) -> res => body`: `res` is `Result<(), SendError<T>>`
///   (the error hands `value` back if `s` is disconnected);
/// - `default => body` (or `default() => body`): runs if no operation can
///   go ahead now;
/// - `default(timeout) => body`: runs if none can within `timeout`.
///
/// Without a `default` arm the select waits for ever (`select! {}` too).
/// When several operations can go ahead, one is chosen at random, so none
/// starves, even among several arms on one channel; [`select_biased!`]
/// chooses the first instead. A disconnected channel's operation can
/// always go ahead, with an error. The select parks the coroutine (or
/// blocks the thread) in one place: no coroutine or thread is started per
/// arm. Arms may end with a comma, and so may the arguments inside their
/// parentheses (`recv(r,)`).
///
/// The channel expressions are evaluated once, in order, before choosing,
/// and temporaries in them live until the select is over
/// (`recv(r.unwrap_or(&never()))`); a send arm's `value` is evaluated only
/// if that arm is chosen, just before its message is sent. Bodies may
/// `break`, `continue` or `return`.
///
/// [`select_biased!`]: crate::select_biased
///
/// ```
/// use std::time::Duration;
/// use weft::channel::{bounded, unbounded};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = bounded::<&str>(0);
/// weft::go(move || tx2.send("ready").unwrap());
///
/// weft::select! {
///     recv(rx1) -> msg => panic!("nothing was sent on rx1: {msg:?}"),
///     recv(rx2) -> msg => assert_eq!(msg, Ok("ready")),
/// }
///
/// let got = weft::select! {
///     recv(rx1) -> _ => "message",
///     default(Duration::from_millis(10)) => "timed out",
/// };
/// assert_eq!(got, "timed out");
///
/// weft::select! {
///     send(tx1, 42) -> res => res.unwrap(),
///     default => unreachable!("an unbounded channel has room"),
/// }
/// assert_eq!(rx1.recv(), Ok(42));
/// ```
#[macro_export]
macro_rules! select {
    // Every rule but the last is internal, marked by its leading `@`.
    //
    // Parsing: `@parse (biased next) [arms] [default] tokens...`. An arm is
    // `(name index kind (args) (pattern) {body})`, where `name` is a fresh
    // (hygienic) identifier made by the `@arm` step that adds it and
    // `index` counts from 1 as `(1 + 1 ...)`. A default is `(now)` or
    // `(after (timeout))` followed by its body.
    (@parse $st:tt $arms:tt $def:tt
        recv($r:expr $(,)?) -> $p:pat => $($rest:tt)*) => {
        $crate::select!(@body $st $arms $def (recv ($r) ($p)) $($rest)*)
    };
    (@parse $st:tt $arms:tt $def:tt
        send($s:expr, $v:expr $(,)?) -> $p:pat => $($rest:tt)*) => {
        $crate::select!(@body $st $arms $def (send ($s, $v) ($p)) $($rest)*)
    };
    (@parse $st:tt $arms:tt [] default $(())? => $($rest:tt)*) => {
        $crate::select!(@body $st $arms [] (now) $($rest)*)
    };
    (@parse $st:tt $arms:tt [] default($t:expr $(,)?) => $($rest:tt)*) => {
        $crate::select!(@body $st $arms [] (after ($t)) $($rest)*)
    };
    (@parse $st:tt $arms:tt [$($def:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("a select takes at most one `default` arm")
    };
    (@parse $st:tt $arms:tt $def:tt) => {
        $crate::select!(@expand $st $arms $def)
    };
    (@parse $st:tt $arms:tt $def:tt $($rest:tt)+) => {
        ::core::compile_error!(
            "a select expects arms `recv(r) -> msg => ...`, `send(s, v) -> res => ...`, \
             `default => ...` or `default(timeout) => ...`"
        )
    };

    // An arm's body: a block, with or without a comma after it, or an
    // expression followed by a comma or the end.
    (@body $st:tt $arms:tt $def:tt $head:tt $body:block , $($rest:tt)*) => {
        $crate::select!(@arm $st $arms $def $head $body $($rest)*)
    };
    (@body $st:tt $arms:tt $def:tt $head:tt $body:block $($rest:tt)*) => {
        $crate::select!(@arm $st $arms $def $head $body $($rest)*)
    };
    (@body $st:tt $arms:tt $def:tt $head:tt $body:expr , $($rest:tt)*) => {
        $crate::select!(@arm $st $arms $def $head { $body } $($rest)*)
    };
    (@body $st:tt $arms:tt $def:tt $head:tt $body:expr) => {
        $crate::select!(@arm $st $arms $def $head { $body })
    };

    // Adding the parsed arm.
    (@arm $st:tt $arms:tt [] (now) $body:block $($rest:tt)*) => {
        $crate::select!(@parse $st $arms [(now) $body] $($rest)*)
    };
    (@arm $st:tt $arms:tt [] (after ($t:expr)) $body:block $($rest:tt)*) => {
        $crate::select!(@parse $st $arms [(after ($t)) $body] $($rest)*)
    };
    (@arm ($biased:tt $i:tt) [$($arms:tt)*] $def:tt
        ($kind:ident $args:tt $p:tt) $body:block $($rest:tt)*) => {
        $crate::select!(@parse ($biased ($i + 1))
            [$($arms)* (__weft_arm $i $kind $args $p $body)] $def $($rest)*)
    };

    // Expansion: evaluate the channels, choose, complete in the winning arm.
    (@expand ($biased:tt $next:tt)
        [$(($a:ident $i:tt $kind:ident $args:tt ($p:pat) $body:block))*] $def:tt) => {
        match ($($crate::select!(@side $kind $args),)*) {
            ($($a,)*) => {
                let __weft_ops: &[$crate::channel::__private::Op<'_>] =
                    &[$($crate::select!(@op $kind $a)),*];
                $crate::select!(@run $biased __weft_ops
                    [$(($a $i $kind $args ($p) $body))*] $def)
            }
        }
    };
    (@side recv ($r:expr)) => { &$r };
    (@side send ($s:expr, $v:expr)) => { &$s };
    (@op recv $a:ident) => { $crate::channel::__private::recv($a) };
    (@op send $a:ident) => { $crate::channel::__private::send($a) };
    (@run $biased:tt $ops:ident $arms:tt []) => {{
        let __weft_chosen = $crate::channel::__private::select($ops, $biased);
        $crate::select!(@complete __weft_chosen $arms)
    }};
    (@run $biased:tt $ops:ident $arms:tt [(now) $dbody:block]) => {
        match $crate::channel::__private::try_select($ops, $biased) {
            ::core::option::Option::Some(__weft_chosen) => {
                $crate::select!(@complete __weft_chosen $arms)
            }
            ::core::option::Option::None => $dbody,
        }
    };
    (@run $biased:tt $ops:ident $arms:tt [(after ($t:expr)) $dbody:block]) => {
        match $crate::channel::__private::select_timeout($ops, $biased, $t) {
            ::core::option::Option::Some(__weft_chosen) => {
                $crate::select!(@complete __weft_chosen $arms)
            }
            ::core::option::Option::None => $dbody,
        }
    };
    (@complete $c:ident [$(($a:ident $i:tt $kind:ident $args:tt ($p:pat) $body:block))*]) => {{
        let __weft_index = $c.index() + 1;
        $(
            if __weft_index == $i {
                let $p = $crate::select!(@finish $kind $c $a $args);
                $body
            } else
        )*
        {
            ::core::unreachable!()
        }
    }};
    (@finish recv $c:ident $a:ident ($r:expr)) => { $c.recv($a) };
    (@finish send $c:ident $a:ident ($s:expr, $v:expr)) => { $c.send($a, $v) };

    // The entry point.
    ($($tokens:tt)*) => {
        $crate::select!(@parse (false 1) [] [] $($tokens)*)
    };
}

/// [`select!`](crate::select!), except that when several operations can go
/// ahead it chooses the one written first, rather than one at random.
///
/// ```
/// use weft::channel::unbounded;
///
/// let (tx1, rx1) = unbounded();
/// let (tx2, rx2) = unbounded();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// for _ in 0..10 {
///     let got = weft::select_biased! {
///         recv(rx2) -> msg => msg,
///         recv(rx1) -> msg => msg,
///     };
///     assert_eq!(got, Ok(2));
///     tx2.send(2).unwrap();
/// }
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::select!(@parse (true 1) [] [] $($tokens)*)
    };
}
