//! `Trace` for std's types: leaves, containers, locks, tuples and arrays.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::hash::BuildHasher;

use super::{Trace, Tracer};

/// Types that can never own a handle.
macro_rules! leaves {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: the type owns no handles, so reporting none and LEAF = true are correct.
        unsafe impl Trace for $t {
            const LEAF: bool = true;
            #[inline]
            fn trace(&self, _: &mut Tracer<'_>) {}
        }
    )*};
}

leaves!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    str,
    String,
    std::ffi::CString,
    std::ffi::CStr,
    std::ffi::OsString,
    std::ffi::OsStr,
    std::path::PathBuf,
    std::path::Path,
    std::time::Duration,
    std::time::Instant,
    std::time::SystemTime,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::net::IpAddr,
    std::net::SocketAddr,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::sync::atomic::AtomicIsize,
);

// SAFETY: holds no value at all.
unsafe impl<T: ?Sized> Trace for std::marker::PhantomData<T> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: a shared reference owns nothing; `'static` data reachable through it is reachable
// from elsewhere anyway.
unsafe impl<T: ?Sized> Trace for &'static T {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: an `Arc` shares its contents with other owners, so reporting handles inside it
// could count them once per owner (rule 1). Its contents count as referenced from outside.
unsafe impl<T: ?Sized> Trace for std::sync::Arc<T> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

/// Containers that own their elements and yield each once by `iter()`.
macro_rules! sequences {
    ($($t:ident),*) => {$(
        // SAFETY: each element is owned by the container and visited once.
        unsafe impl<T: Trace> Trace for $t<T> {
            const LEAF: bool = T::LEAF;
            #[inline]
            fn trace(&self, tracer: &mut Tracer<'_>) {
                if !T::LEAF {
                    self.iter().for_each(|item| item.trace(tracer));
                }
            }
        }
    )*};
}

sequences!(Vec, VecDeque, LinkedList, BinaryHeap, BTreeSet, Option);

// SAFETY: the box owns its contents.
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    const LEAF: bool = T::LEAF;
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        (**self).trace(tracer);
    }
}

// SAFETY: each element visited once.
unsafe impl<T: Trace> Trace for [T] {
    const LEAF: bool = T::LEAF;
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if !T::LEAF {
            self.iter().for_each(|item| item.trace(tracer));
        }
    }
}

// SAFETY: each element visited once.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const LEAF: bool = T::LEAF;
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.as_slice().trace(tracer);
    }
}

// SAFETY: the held variant is owned.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    const LEAF: bool = T::LEAF && E::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        match self {
            Ok(v) => v.trace(tracer),
            Err(e) => e.trace(tracer),
        }
    }
}

// SAFETY: keys and values are owned by the map and each visited once.
unsafe impl<K: Trace, V: Trace, S: BuildHasher> Trace for HashMap<K, V, S> {
    const LEAF: bool = K::LEAF && V::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if !Self::LEAF {
            for (k, v) in self {
                k.trace(tracer);
                v.trace(tracer);
            }
        }
    }
}

// SAFETY: members owned and each visited once.
unsafe impl<T: Trace, S: BuildHasher> Trace for HashSet<T, S> {
    const LEAF: bool = T::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if !T::LEAF {
            self.iter().for_each(|item| item.trace(tracer));
        }
    }
}

// SAFETY: keys and values are owned by the map and each visited once.
unsafe impl<K: Trace, V: Trace> Trace for BTreeMap<K, V> {
    const LEAF: bool = K::LEAF && V::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if !Self::LEAF {
            for (k, v) in self {
                k.trace(tracer);
                v.trace(tracer);
            }
        }
    }
}

// SAFETY: a borrowed-or-owned value; the owned case is visited once, the borrowed case is
// `'static` data (a leaf by the `&'static T` impl's reasoning).
unsafe impl<T: ToOwned + ?Sized + 'static> Trace for std::borrow::Cow<'static, T>
where
    T::Owned: Trace,
{
    const LEAF: bool = <T::Owned as Trace>::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if let std::borrow::Cow::Owned(v) = self {
            v.trace(tracer);
        }
    }
}

/// Locks whose writes the collector cannot pause (rule 5 of [`Trace`]): their contents are
/// never traced but reported as opaque, so the object holding the lock, and everything the
/// contents reach, stays alive. A cycle through such a lock is never collected (a leak, never
/// an early free); put edges that change in a [`GcCell`](crate::GcCell) instead.
macro_rules! opaque_locks {
    ($($lock:ty),* $(,)?) => {$(
        // SAFETY: reports no edge (rule 2: safe) and, if the contents may hold handles, marks
        // the value opaque, so that nothing they reach is freed while a thread may change them.
        unsafe impl<T: Trace + ?Sized> Trace for $lock {
            const LEAF: bool = T::LEAF;
            fn trace(&self, tracer: &mut Tracer<'_>) {
                if !T::LEAF {
                    tracer.opaque();
                }
            }
        }
    )*};
}

opaque_locks!(
    std::sync::Mutex<T>,
    std::sync::RwLock<T>,
    parking_lot::Mutex<T>,
    parking_lot::RwLock<T>,
);

// SAFETY: once set, the value is owned and immutable; unset holds nothing.
unsafe impl<T: Trace> Trace for std::sync::OnceLock<T> {
    const LEAF: bool = T::LEAF;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if let Some(v) = self.get() {
            v.trace(tracer);
        }
    }
}

macro_rules! tuples {
    ($(($($name:ident),+)),* $(,)?) => {$(
        // SAFETY: each field owned and visited once.
        unsafe impl<$($name: Trace),+> Trace for ($($name,)+) {
            const LEAF: bool = $($name::LEAF)&&+;
            #[allow(non_snake_case)]
            fn trace(&self, tracer: &mut Tracer<'_>) {
                let ($($name,)+) = self;
                $($name.trace(tracer);)+
            }
        }
    )*};
}

tuples!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
    (A, B, C, D, E, F, G, H, I),
    (A, B, C, D, E, F, G, H, I, J),
    (A, B, C, D, E, F, G, H, I, J, K),
    (A, B, C, D, E, F, G, H, I, J, K, L),
);
