//! Containment of panics raised by user code (callbacks, `Drop`, loaders, observers): the
//! panic is caught, reported with `tracing::error!` (the analogue of Python's "Exception
//! ignored in ..."), and the structure that ran the code carries on.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic is reported against `context` and turned into `None`.
pub(crate) fn contained<R>(context: &'static str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(payload) => {
            report(context, &*payload);
            // A payload whose own `Drop` panics would escape here; forget it instead.
            if catch_unwind(AssertUnwindSafe(|| drop(payload))).is_err() {
                tracing::error!(target: "weakling", context, "panic payload panicked while dropped");
            }
            None
        }
    }
}

fn report(context: &'static str, payload: &(dyn Any + Send)) {
    let message = panic_message(payload);
    tracing::error!(target: "weakling", context, message, "panic in user code contained");
}

/// The text of a panic payload, when it carries one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}
