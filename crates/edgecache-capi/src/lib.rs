//! The C ABI of edgecache.
//!
//! C programs (and Go through cgo) link `libedgecache.a` or
//! `libedgecache.so` and include `include/edgecache.h`, which cbindgen
//! generates from this crate. The conventions, once for every function:
//!
//! - **Names**: `edgecache_<object>_<verb>`; objects are opaque
//!   (`edgecache_cache`, `edgecache_group`, `edgecache_flight`,
//!   `edgecache_ticket`, `edgecache_watch_cache`, `edgecache_watcher`,
//!   `edgecache_list_page`, ...).
//!   `_new` creates, `_free` releases (NULL-safe; must not be called twice).
//! - **Status**: every fallible function returns `edgecache_status`; its
//!   values are fixed and never renumbered. Out-parameters are written only
//!   on `EDGECACHE_OK` (or where a function documents otherwise). A failing
//!   call may leave detail for `edgecache_last_error_message`.
//! - **Pointers**: a `const` object pointer means the call is safe to make
//!   from many threads at once; NULL is `EDGECACHE_NULL_ARGUMENT`, never a
//!   crash. Byte inputs are `(pointer, length)`, copied when kept;
//!   `(NULL, 0)` is an empty slice, NULL with a nonzero length an error.
//! - **Values out**: `edgecache_bytes`, shared with the cache without a
//!   copy, owned by the receiver until `edgecache_bytes_free`.
//! - **Panics**: none crosses the ABI. A panic inside a call becomes
//!   `EDGECACHE_PANIC` (or NULL/0/false for functions without a status) and
//!   the object stays usable.
//! - **Sizes**: a negative byte budget is `EDGECACHE_INVALID_ARGUMENT`; 0
//!   disables caching. TTLs are milliseconds, 0 for none. Timeouts are
//!   milliseconds, `EDGECACHE_WAIT_FOREVER` for none.
//! - **Counts**: an array is `(pointer, count)`; a count whose byte size
//!   no array can have (such as `SIZE_MAX`) is `EDGECACHE_INVALID_ARGUMENT`,
//!   never a read.
//! - **Growable requests**: structs that start with `size_t size` are
//!   initialised by their `_init` function; the library reads only the
//!   first `size` bytes (see `edgecache_watch_request`).

mod boundary;
mod bytes;
mod cache;
mod enums;
mod error;
mod flight;
mod group;
mod group_ticket;
mod handle;
mod list_page;
mod ready;
mod sized;
mod status;
mod wait;
mod watch;
// The watch cache's functions, declared in the order of the header's
// sections: cbindgen writes items in the order it meets the modules (the
// blank lines keep rustfmt from sorting these three).
mod watch_write;

mod watch_read;

mod watch_items;

mod watch_error;
mod watch_hooks;
mod watch_request;
mod window_stats;

pub use bytes::{edgecache_bytes, edgecache_bytes_free};
pub use cache::*;
pub use enums::*;
pub use error::*;
pub use flight::*;
pub use group::*;
pub use group_ticket::*;
pub use list_page::*;
pub use ready::edgecache_ready_fn;
pub use status::{edgecache_last_error_message, edgecache_status, edgecache_status_message};
pub use watch::*;
pub use watch_error::{edgecache_watch_error, edgecache_watch_last_error};
pub use watch_hooks::*;
pub use watch_items::*;
pub use watch_read::*;
pub use watch_request::*;
pub use watch_write::*;
pub use window_stats::*;

use boundary::ffi_boundary;

/// The major version of this library (Cargo's version; a test checks they
/// agree).
pub const EDGECACHE_VERSION_MAJOR: u32 = 0;
/// The minor version.
pub const EDGECACHE_VERSION_MINOR: u32 = 1;
/// The patch version.
pub const EDGECACHE_VERSION_PATCH: u32 = 0;

/// The library's version as a static NUL-terminated string ("0.1.0"); the
/// caller must not free it. Compare with the `EDGECACHE_VERSION_*` macros
/// to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn edgecache_version() -> *const std::ffi::c_char {
    ffi_boundary! {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}

/// Test hook (only with the `test-hooks` feature): panics inside the FFI
/// boundary, so tests can show a Rust panic becomes `EDGECACHE_PANIC`.
#[cfg(feature = "test-hooks")]
#[unsafe(no_mangle)]
pub extern "C" fn edgecache_test_panic() -> edgecache_status {
    ffi_boundary! {
        panic!("edgecache_test_panic was called")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_follow_cargo() {
        assert_eq!(EDGECACHE_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(EDGECACHE_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(EDGECACHE_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
        // SAFETY: the function returns a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(edgecache_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
