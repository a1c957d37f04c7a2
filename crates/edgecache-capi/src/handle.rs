//! Opaque handles and the only casts between them and Rust types.
//!
//! Each C object is an opaque struct (`struct edgecache_cache { _private:
//! [u8; 0] }`) that C only ever sees behind a pointer. [`Castable`] ties it
//! to the Rust type the pointer really points at; C owns that value as a
//! `Box` made by [`into_raw`] and released by [`free`]. No other code casts
//! handle pointers.

use crate::status::{edgecache_status, fail};

/// Links an opaque C type to the Rust type behind its pointers.
pub(crate) trait Castable {
    /// The Rust value a handle pointer points at.
    type Rust;
    /// The type's C name, for error messages.
    const NAME: &'static str;
}

/// Moves `value` to the heap and hands the pointer to C as `*mut C`.
pub(crate) fn into_raw<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast::<C>()
}

/// Borrows the value behind a handle; NULL gives `EDGECACHE_NULL_ARGUMENT`.
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`] for the same `C` and has not been
/// freed; the borrow must not outlive the handle.
pub(crate) unsafe fn try_ref<'a, C: Castable>(ptr: *const C) -> Result<&'a C::Rust, edgecache_status> {
    if ptr.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, format!("{} pointer is NULL", C::NAME)));
    }
    // SAFETY: non-NULL, and by the caller's promise it points at a live
    // `C::Rust` made by `into_raw`.
    Ok(unsafe { &*ptr.cast::<C::Rust>() })
}

/// Takes back ownership of the value behind a handle (NULL gives `None`).
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`] for the same `C` and has not been
/// freed; it must not be used afterwards.
pub(crate) unsafe fn take<C: Castable>(ptr: *mut C) -> Option<Box<C::Rust>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: by the caller's promise, `ptr` is a live `Box<C::Rust>` that
    // nobody else will free.
    Some(unsafe { Box::from_raw(ptr.cast::<C::Rust>()) })
}

/// Writes `value` through an out-parameter that the caller checked.
///
/// # Safety
/// `out` is non-NULL and valid for one write.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the caller's promise.
    unsafe { out.write(value) };
}

/// Checks that an out-parameter is non-NULL.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<(), edgecache_status> {
    if out.is_null() {
        Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, format!("the out-parameter {what} is NULL")))
    } else {
        Ok(())
    }
}

/// Links a declared opaque C type to its Rust type. The struct itself is
/// written out (not generated) so that cbindgen sees it:
/// `pub struct edgecache_x { _private: [u8; 0] }`, not `repr(C)`, which the
/// header shows as an incomplete type.
macro_rules! opaque {
    ($c:ident => $rust:ty) => {
        impl $crate::handle::Castable for $c {
            type Rust = $rust;
            const NAME: &'static str = stringify!($c);
        }
    };
}
pub(crate) use opaque;

/// Unwraps a `Result<T, edgecache_status>`, returning the status on error.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use tri;
