//! The panic boundary every export sits behind.
//!
//! A panic must never unwind into C (that is undefined behaviour), so every
//! exported body runs inside [`ffi_boundary!`], which catches it and returns
//! the value [`OnPanic`] chooses for the function's return type: a status
//! for fallible functions, NULL, 0 or false for the others.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::{edgecache_status, set_last_error};

/// What an export returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for edgecache_status {
    fn on_panic() -> Self {
        edgecache_status::EDGECACHE_PANIC
    }
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

impl OnPanic for bool {
    fn on_panic() -> Self {
        false
    }
}

impl OnPanic for u64 {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for u32 {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for usize {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

/// Records the panic's message as the thread's last error and disposes of
/// the payload. Both steps run under their own `catch_unwind`: formatting or
/// dropping a payload can panic too.
pub(crate) fn absorb_panic(payload: Box<dyn Any + Send>) {
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let msg = edgecache::flight::panic_message(payload);
        set_last_error(format!("internal panic in edgecache: {msg}"));
    }));
}

/// Runs the body; a panic becomes `OnPanic::on_panic()` for the return type.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(ret) => ret,
            Err(payload) => {
                $crate::boundary::absorb_panic(payload);
                $crate::boundary::OnPanic::on_panic()
            }
        }
    };
}
pub(crate) use ffi_boundary;
