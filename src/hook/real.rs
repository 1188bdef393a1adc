//! libc's own definitions of the functions weft interposes, for the hooks
//! that cannot reach the kernel directly (libc's pthread waits, its process
//! spawning).
//!
//! The table at the end of this file names each such function once, with
//! its C signature, as an `extern` block would. `libc_table!` makes of each
//! line:
//!
//! - a slot in `TABLE` that holds the function's address, found with
//!   `dlsym(RTLD_NEXT, name)` (the next definition after this executable's),
//!   or with `dlvsym` for a line marked with the symbol version to ask for;
//! - its look-up in `resolve`, which fills every slot;
//! - a function of the same name and signature that calls libc's, which
//!   the hooks call as `real::pthread_mutex_lock(mutex)`: a load of the
//!   slot, a test that it is filled, and an indirect call.
//!
//! # When the slots are filled
//!
//! `dlsym` takes the dynamic loader's lock. A forked child must never call
//! it: another thread of the parent may have held that lock at the fork,
//! and the child would wait for it for good (a child's `execvp` goes
//! through `spawn.rs`). So `resolve` runs before `main`, while the process
//! has one thread, from the executable's constructor list (`.init_array`).
//! A call that comes earlier (from a shared library's constructor, which
//! runs before the executable's) fills its own slot then. A libc without
//! one of the functions ends the process with a message, rather than
//! jumping to address zero.

use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicPtr, Ordering};

use libc::{
    addrinfo, c_char, c_int, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t, pthread_cond_t,
    pthread_mutex_t, pthread_t, sem_t, timespec,
};

/// One libc function: its name, the symbol version to ask for, and its
/// address once found.
struct Symbol {
    name: &'static CStr,
    /// The version to ask `dlvsym` for, where libc has more than one.
    version: Option<&'static CStr>,
    /// Null until the function is found; then its address, for good.
    /// Written by the first caller of `get` (normally `resolve`, before
    /// `main`); two callers that race both write the same address.
    addr: AtomicPtr<c_void>,
}

impl Symbol {
    /// A slot for `name` (NUL-terminated), not yet looked up.
    const fn new(name: &'static str, version: Option<&'static CStr>) -> Symbol {
        let Ok(name) = CStr::from_bytes_with_nul(name.as_bytes()) else {
            panic!("a libc function's name with an inner NUL");
        };
        Symbol {
            name,
            version,
            addr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The function's address, never null. Two threads may look it up at
    /// once; both find the same one.
    #[inline(always)]
    fn get(&self) -> *mut c_void {
        let addr = self.addr.load(Ordering::Relaxed);
        if addr.is_null() {
            self.look_up()
        } else {
            addr
        }
    }

    #[cold]
    fn look_up(&self) -> *mut c_void {
        let versioned = self.version.map_or(std::ptr::null_mut(), |v| {
            // SAFETY: two NUL-terminated strings; RTLD_NEXT is a pseudo
            // handle that dlvsym accepts.
            unsafe { libc::dlvsym(libc::RTLD_NEXT, self.name.as_ptr(), v.as_ptr()) }
        });
        let addr = if versioned.is_null() {
            // SAFETY: as above.
            unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) }
        } else {
            versioned
        };
        if addr.is_null() {
            // libc without this function: nothing to call. Saying so beats
            // jumping to address zero.
            eprintln!("weft: libc has no {}", self.name.to_string_lossy());
            std::process::abort();
        }
        self.addr.store(addr, Ordering::Relaxed);
        addr
    }
}

/// The table of libc functions: each line `fn name(arg: Type, ...) -> Ret;`,
/// optionally after `#[version = V]`. See the module docs for what it
/// makes of a line.
macro_rules! libc_table {
    ($(
        $(#[version = $version:expr])?
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        /// A slot for every function of the table.
        struct Table {
            $($name: Symbol,)*
        }

        /// The table's slots, filled by `resolve`.
        static TABLE: Table = Table {
            $($name: Symbol::new(
                concat!(stringify!($name), "\0"),
                libc_table!(@version $($version)?),
            ),)*
        };

        /// Looks up every function of the table that is not found yet (see
        /// the module docs for when).
        pub(super) extern "C" fn resolve() {
            $(TABLE.$name.get();)*
        }

        $(
            #[doc = concat!("libc's `", stringify!($name), "`.")]
            ///
            /// # Safety
            ///
            #[doc = concat!("The caller's contract for `", stringify!($name), "`.")]
            #[inline(always)]
            pub(super) unsafe fn $name($($arg: $ty),*) -> $ret {
                // SAFETY: the slot holds the address of libc's function of
                // this name, never null, and the table's line for it gives
                // its C type.
                let f = unsafe {
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($ty),*) -> $ret>(
                        TABLE.$name.get(),
                    )
                };
                // SAFETY: the caller's contract.
                unsafe { f($($arg),*) }
            }
        )*
    };
    (@version) => { None };
    (@version $version:expr) => { Some($version) };
}

/// The version of `pthread_cond_*` that current programs link against
/// (libc keeps an older one beside it on x86_64).
#[cfg(target_arch = "x86_64")]
const COND_VERSION: &CStr = c"GLIBC_2.3.2";
#[cfg(not(target_arch = "x86_64"))]
const COND_VERSION: &CStr = c"GLIBC_2.17";

// Each line is a promise, as in an `extern` block: libc's function of that
// name (and version) has that C type.
libc_table! {
    // libc's pthread and semaphore waits (`pthread.rs`).
    fn pthread_mutex_lock(mutex: *mut pthread_mutex_t) -> c_int;
    fn pthread_mutex_trylock(mutex: *mut pthread_mutex_t) -> c_int;
    fn pthread_mutex_timedlock(mutex: *mut pthread_mutex_t, abstime: *const timespec) -> c_int;
    #[version = COND_VERSION]
    fn pthread_cond_wait(cond: *mut pthread_cond_t, mutex: *mut pthread_mutex_t) -> c_int;
    #[version = COND_VERSION]
    fn pthread_cond_timedwait(
        cond: *mut pthread_cond_t,
        mutex: *mut pthread_mutex_t,
        abstime: *const timespec,
    ) -> c_int;
    fn pthread_join(thread: pthread_t, retval: *mut *mut c_void) -> c_int;
    fn pthread_timedjoin_np(
        thread: pthread_t,
        retval: *mut *mut c_void,
        abstime: *const timespec,
    ) -> c_int;
    fn sem_wait(sem: *mut sem_t) -> c_int;
    fn sem_trywait(sem: *mut sem_t) -> c_int;
    fn sem_timedwait(sem: *mut sem_t, abstime: *const timespec) -> c_int;

    // libc's process spawning (`spawn.rs`).
    fn posix_spawn(
        pid: *mut pid_t,
        path: *const c_char,
        actions: *const posix_spawn_file_actions_t,
        attr: *const posix_spawnattr_t,
        argv: *const *mut c_char,
        envp: *const *mut c_char,
    ) -> c_int;
    fn posix_spawnp(
        pid: *mut pid_t,
        file: *const c_char,
        actions: *const posix_spawn_file_actions_t,
        attr: *const posix_spawnattr_t,
        argv: *const *mut c_char,
        envp: *const *mut c_char,
    ) -> c_int;
    fn posix_spawn_file_actions_adddup2(
        actions: *mut posix_spawn_file_actions_t,
        fd: c_int,
        new_fd: c_int,
    ) -> c_int;
    fn execve(
        path: *const c_char,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> c_int;
    fn execv(path: *const c_char, argv: *const *const c_char) -> c_int;
    fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int;
    fn execvpe(
        file: *const c_char,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> c_int;

    // libc's resolver, which weft runs on its blocking pool (`dns.rs`).
    fn getaddrinfo(
        node: *const c_char,
        service: *const c_char,
        hints: *const addrinfo,
        res: *mut *mut addrinfo,
    ) -> c_int;
}

/// Runs `resolve` as the program starts, before `main` (see the module
/// docs).
#[used]
#[link_section = ".init_array"]
static RESOLVE_AT_START: extern "C" fn() = resolve;
