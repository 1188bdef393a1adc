//! C code for tests: a file of `tests/c/` compiled into a shared library
//! and loaded with `dlopen`, so that its libc calls bind to weft's hooks
//! the way any C library's do.

use std::ffi::{CStr, CString};
use std::process::Command;

/// A loaded library; it stays loaded for the rest of the process.
pub struct CLib {
    handle: *mut libc::c_void,
}

impl CLib {
    /// Compiles `tests/c/<stem>.c` with the target's C compiler and loads
    /// it. The compiler is `cc`, or `TARGET_CC` when that is set: the
    /// variable with which the `cc` crate, too, learns the target's
    /// compiler when the tests are built for another machine (`.ci/aarch64`).
    pub fn build(stem: &str) -> CLib {
        let out = std::env::temp_dir().join(format!("libweft_{stem}_{}.so", std::process::id()));
        let src = format!("{}/tests/c/{stem}.c", env!("CARGO_MANIFEST_DIR"));
        let cc = std::env::var("TARGET_CC").unwrap_or_else(|_| "cc".to_owned());
        let status = Command::new(&cc)
            .args(["-shared", "-fPIC", "-O2", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("this test needs a C compiler ({cc}): {e}"));
        assert!(status.success(), "{cc} failed on {src}");
        let path = CString::new(out.to_str().unwrap()).unwrap();
        // SAFETY: loading a library we just built; it has no constructors.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
        assert!(!handle.is_null(), "dlopen of {} failed", out.display());
        let _ = std::fs::remove_file(&out);
        CLib { handle }
    }

    /// The function `name` of the library.
    ///
    /// # Safety
    ///
    /// `F` must be the function's C type.
    pub unsafe fn get<F: Copy>(&self, name: &CStr) -> F {
        // SAFETY: looking up a symbol of a loaded library.
        let sym = unsafe { libc::dlsym(self.handle, name.as_ptr()) };
        assert!(!sym.is_null(), "{name:?} not found");
        assert_eq!(size_of::<F>(), size_of::<*mut libc::c_void>());
        // SAFETY: a function address of type `F` (the caller's contract).
        unsafe { std::mem::transmute_copy(&sym) }
    }
}
