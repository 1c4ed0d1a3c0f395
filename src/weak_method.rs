//! Weak methods: Python's `weakref.WeakMethod`.
//!
//! A bound method in Python holds its receiver strongly, so a weak reference to it dies at
//! once; `WeakMethod` holds the receiver weakly and the function apart. [`WeakMethod`] is the
//! same pairing for Rust: a [`Weak`] receiver and a function of it, callable while the
//! receiver lives.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::{Gc, ReadPin, Weak};

/// A receiver held weakly, plus a function of it (Python's `weakref.WeakMethod`).
///
/// [`WeakMethod::upgrade`] gives a [`BoundMethod`], callable, while the receiver lives, and
/// `None` after; [`WeakMethod::call`] does both in one step.
///
/// # Equality and hashing
///
/// Two weak methods are equal when their receivers are the same object (by identity, alive
/// or not) and their functions are equal (`F: PartialEq`; for `fn` pointers that compares
/// addresses, which Rust does not promise to be unique per function). Hashing follows the
/// same parts. Unlike Python, equality does not change when the receiver dies.
///
/// ```
/// use weakling::{Gc, WeakMethod};
///
/// struct Counter { hits: std::sync::atomic::AtomicU32 }
/// impl Counter {
///     fn hit(&self, by: u32) -> u32 {
///         self.hits.fetch_add(by, std::sync::atomic::Ordering::SeqCst) + by
///     }
/// }
///
/// let counter = Gc::new_leaf(Counter { hits: 0.into() });
/// let method = WeakMethod::new(&counter, Counter::hit as fn(&Counter, u32) -> u32);
/// assert_eq!(method.call(2), Some(2));
/// assert_eq!(method.upgrade().unwrap().call(3), 5);
/// drop(counter);
/// assert_eq!(method.call(1), None);
/// ```
pub struct WeakMethod<T, F> {
    receiver: Weak<T>,
    method: F,
}

impl<T: Send + 'static, F> WeakMethod<T, F> {
    /// Pairs `receiver`, held weakly, with `method`.
    #[must_use]
    pub fn new(receiver: &Gc<T>, method: F) -> WeakMethod<T, F> {
        WeakMethod { receiver: Gc::downgrade(receiver), method }
    }

    /// Like [`WeakMethod::new`], and `callback` runs once when the receiver dies (Python's
    /// `WeakMethod(meth, callback)`), with the weak method's receiver handle, dead. As for
    /// [`Gc::downgrade_with`], it does not run if every clone of the weak method was dropped
    /// first, and a panic in it is reported and contained.
    #[must_use]
    pub fn with_callback<C>(receiver: &Gc<T>, method: F, callback: C) -> WeakMethod<T, F>
    where
        C: FnOnce(&Weak<T>) + Send + 'static,
    {
        WeakMethod { receiver: Gc::downgrade_with(receiver, callback), method }
    }
}

impl<T, F> WeakMethod<T, F> {
    /// The method bound to its receiver, while the receiver lives.
    #[must_use]
    pub fn upgrade(&self) -> Option<BoundMethod<'_, T, F>> {
        Some(BoundMethod { receiver: self.receiver.upgrade()?, method: &self.method })
    }

    /// Calls the method on its receiver with `args`, if the receiver lives.
    pub fn call<A, R>(&self, args: A) -> Option<R>
    where
        F: Fn(&T, A) -> R,
    {
        let receiver = self.receiver.upgrade()?;
        Some((self.method)(&receiver, args))
    }

    /// Like [`call`](WeakMethod::call), borrowing the receiver under `pin` instead of
    /// upgrading it ([`Weak::get_pinned`]): no write to the receiver's count when it is a
    /// leaf.
    pub fn call_pinned<A, R>(&self, pin: &ReadPin, args: A) -> Option<R>
    where
        F: Fn(&T, A) -> R,
    {
        let receiver = self.receiver.get_pinned(pin)?;
        Some((self.method)(&receiver, args))
    }

    /// Whether the receiver still lives.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.receiver.upgrade().is_some()
    }

    /// The weak handle to the receiver.
    #[must_use]
    pub fn receiver(&self) -> &Weak<T> {
        &self.receiver
    }

    /// The function.
    #[must_use]
    pub fn method(&self) -> &F {
        &self.method
    }
}

impl<T, F: Clone> Clone for WeakMethod<T, F> {
    fn clone(&self) -> Self {
        WeakMethod { receiver: self.receiver.clone(), method: self.method.clone() }
    }
}

impl<T, F: PartialEq> PartialEq for WeakMethod<T, F> {
    fn eq(&self, other: &Self) -> bool {
        self.receiver == other.receiver && self.method == other.method
    }
}

impl<T, F: Eq> Eq for WeakMethod<T, F> {}

impl<T, F: Hash> Hash for WeakMethod<T, F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.receiver.hash(state);
        self.method.hash(state);
    }
}

impl<T, F> fmt::Debug for WeakMethod<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakMethod")
            .field("receiver", &self.receiver)
            .field("method", &std::any::type_name::<F>())
            .finish()
    }
}

/// A [`WeakMethod`]'s function bound to its living receiver (Python's bound method).
pub struct BoundMethod<'a, T, F> {
    receiver: Gc<T>,
    method: &'a F,
}

impl<T, F> BoundMethod<'_, T, F> {
    /// Calls the method on the receiver.
    pub fn call<A, R>(&self, args: A) -> R
    where
        F: Fn(&T, A) -> R,
    {
        (self.method)(&self.receiver, args)
    }

    /// The receiver, held strongly while this bound method exists.
    #[must_use]
    pub fn receiver(&self) -> &Gc<T> {
        &self.receiver
    }
}

impl<T, F> fmt::Debug for BoundMethod<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundMethod")
            .field("receiver", &Gc::as_ptr(&self.receiver))
            .field("method", &std::any::type_name::<F>())
            .finish()
    }
}
