//! Proxy-style access: Python's `weakref.proxy`, with errors as values.
//!
//! A Python proxy forwards attribute access to its referent and raises `ReferenceError`
//! once the referent is gone. [`WeakProxy`] does the same with `Result`s, for code that
//! would rather write `?` than match on an `Option`.

use std::error::Error;
use std::fmt;

use crate::{Gc, Weak};

/// The referent of a [`WeakProxy`] is gone (Python's `ReferenceError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceError {
    type_name: &'static str,
}

impl ReferenceError {
    /// The type of the referent that is gone, as `std::any::type_name` spells it.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "weakly-referenced object no longer exists (a `{}`)", self.type_name)
    }
}

impl Error for ReferenceError {}

/// A weak handle whose accessors report a dead referent as a [`ReferenceError`] (Python's
/// `weakref.proxy`).
///
/// ```
/// use weakling::{Gc, ReferenceError, WeakProxy};
///
/// struct Data { value: u32 }
///
/// fn read(proxy: &WeakProxy<Data>) -> Result<u32, ReferenceError> {
///     proxy.with(|d| d.value)
/// }
///
/// let obj = Gc::new_leaf(Data { value: 42 });
/// let proxy = WeakProxy::new(&obj);
/// assert_eq!(read(&proxy), Ok(42));
/// drop(obj);
/// let err = read(&proxy).unwrap_err();
/// assert!(err.to_string().starts_with("weakly-referenced object no longer exists"));
/// ```
pub struct WeakProxy<T> {
    weak: Weak<T>,
}

impl<T: Send + 'static> WeakProxy<T> {
    /// A proxy for `obj`.
    #[must_use]
    pub fn new(obj: &Gc<T>) -> WeakProxy<T> {
        WeakProxy { weak: Gc::downgrade(obj) }
    }

    /// A proxy for `obj` whose `callback` runs once when `obj` dies (Python's
    /// `proxy(obj, callback)`); see [`Gc::downgrade_with`].
    #[must_use]
    pub fn with_callback<C>(obj: &Gc<T>, callback: C) -> WeakProxy<T>
    where
        C: FnOnce(&Weak<T>) + Send + 'static,
    {
        WeakProxy { weak: Gc::downgrade_with(obj, callback) }
    }
}

impl<T> WeakProxy<T> {
    /// A strong handle to the referent, or the error if it is gone.
    pub fn get(&self) -> Result<Gc<T>, ReferenceError> {
        self.weak.upgrade().ok_or(ReferenceError { type_name: std::any::type_name::<T>() })
    }

    /// Runs `f` on the referent, holding it alive meanwhile, or returns the error if it is
    /// gone.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R, ReferenceError> {
        let obj = self.get()?;
        Ok(f(&obj))
    }

    /// Whether the referent still lives.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.weak.upgrade().is_some()
    }

    /// The underlying weak handle.
    #[must_use]
    pub fn weak(&self) -> &Weak<T> {
        &self.weak
    }
}

impl<T> Clone for WeakProxy<T> {
    fn clone(&self) -> Self {
        WeakProxy { weak: self.weak.clone() }
    }
}

impl<T> From<Weak<T>> for WeakProxy<T> {
    fn from(weak: Weak<T>) -> Self {
        WeakProxy { weak }
    }
}

impl<T> fmt::Debug for WeakProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakProxy").field("weak", &self.weak).finish()
    }
}
