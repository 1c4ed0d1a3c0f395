//! How an object sits in memory, and how it is allocated and freed.
//!
//! ```text
//! leaf:     [ Header 16 B ][ value T ]
//! tracked:  [ padding* ][ GcHead 16 B ][ Header 16 B ][ value T ]
//!                                       ^ every handle points here
//! ```
//!
//! A *leaf* holds no handles the collector must see, so it carries only the counted
//! [`Header`]: 16 bytes, like `Arc`. A *tracked* object (one whose type may hold handles) also
//! carries a [`GcHead`] just before the header, as CPython puts its `PyGC_Head` before the
//! object: a vtable for type-erased tracing and teardown, and the slot that places it on its
//! heap's lists. Because the prefix sits *before* the header, every handle points at the same
//! place whatever the kind, and the collector needs no other layout.
//!
//! (*) Padding appears only for values aligned to more than 16 bytes.
//!
//! Boxes are allocated and freed through [`box_cache`](super::box_cache), which keeps freed
//! boxes of up to 256 bytes for the next ones of their size.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::box_cache;
use super::header::Header;
use super::space::OFF_LIST;
use super::trace::{Trace, Tracer};
use crate::sync::AtomicU64;
use crate::Gc;

/// A header followed by the value. Handles point at this.
#[repr(C)]
pub(crate) struct GcBox<T> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// The collector's prefix of a tracked object.
#[repr(C)]
pub(crate) struct GcHead {
    pub(crate) vtable: &'static VTable,
    /// Where the object sits on its heap's lists (see `space`); written under the list's lock,
    /// except for the garbage of a collection, whose slot only the collecting thread writes
    /// (its `TEARING` tally, see `collect`).
    pub(crate) slot: AtomicU64,
}

/// Type-erased operations on a tracked object, for code that holds only its header: the
/// cycle collector's view of an object.
pub(crate) struct VTable {
    /// Reports the object's outgoing strong edges.
    pub(crate) trace: unsafe fn(NonNull<Header>, &mut Tracer<'_>),
    /// Runs the value's finalizer (`None` when its type has none).
    pub(crate) finalize: Option<unsafe fn(NonNull<Header>)>,
    /// Drops the value in place; the box stays allocated (`None` when the value's type needs
    /// no drop).
    pub(crate) drop_value: Option<unsafe fn(NonNull<Header>)>,
    /// Frees the allocation (value already dropped or moved out).
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `std::any::type_name` of the value, for the census.
    pub(crate) type_name: fn() -> &'static str,
    /// The value's type, to turn a type-erased handle back into a `Gc<T>`.
    pub(crate) type_id: fn() -> std::any::TypeId,
}

struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + 'static> VTableOf<T> {
    const VTABLE: VTable = VTable {
        trace: trace_erased::<T>,
        finalize: if T::FINALIZE { Some(finalize_erased::<T>) } else { None },
        drop_value: drop_value_of::<T>(),
        dealloc: dealloc_erased::<T>,
        type_name: std::any::type_name::<T>,
        type_id: std::any::TypeId::of::<T>,
    };
}

/// # Safety
/// `header` must point at the header of a live `GcBox<T>` whose value is not torn down.
unsafe fn trace_erased<T: Trace>(header: NonNull<Header>, tracer: &mut Tracer<'_>) {
    // SAFETY: per this function's contract the value is alive and initialised.
    let value = unsafe { &(*header.cast::<GcBox<T>>().as_ptr()).value };
    value.trace(tracer);
}

/// # Safety
/// `header` must point at the header of a tracked `GcBox<T>` whose value is not torn down,
/// kept allocated by a strong count the caller holds.
unsafe fn finalize_erased<T: Trace>(header: NonNull<Header>) {
    // SAFETY: a tracked box of `T`; the handle is borrowed, never dropped, so the caller's
    // count is neither taken nor released.
    let this = std::mem::ManuallyDrop::new(unsafe { Gc::<T>::from_header(header, true) });
    T::finalize(&this);
}

/// What drops the value of a `GcBox<T>` in place: `None` when `T` needs no drop, so that a
/// destruction neither calls nor guards anything for it.
pub(crate) const fn drop_value_of<T>() -> Option<unsafe fn(NonNull<Header>)> {
    if std::mem::needs_drop::<T>() {
        Some(drop_value_erased::<T>)
    } else {
        None
    }
}

/// # Safety
/// `header` must point at a `GcBox<T>` whose value is initialised and not yet dropped, and
/// nothing may use the value afterwards.
unsafe fn drop_value_erased<T>(header: NonNull<Header>) {
    // SAFETY: per this function's contract the value is initialised and dropped once.
    unsafe { std::ptr::drop_in_place(&raw mut (*header.cast::<GcBox<T>>().as_ptr()).value) };
}

/// # Safety
/// `header` must come from [`allocate`] for `T` and not be used afterwards.
unsafe fn dealloc_erased<T>(header: NonNull<Header>) {
    // SAFETY: forwarded contract.
    unsafe { free::<T>(header) }
}

/// The layout of a tracked allocation and the offset of the header within it.
fn tracked_layout<T>() -> (Layout, usize) {
    let boxed = Layout::new::<GcBox<T>>();
    let offset = size_of::<GcHead>().max(boxed.align());
    let align = boxed.align().max(align_of::<GcHead>());
    let size = offset + boxed.size();
    // Cannot fail for a type that has a layout at all, barring sizes near isize::MAX.
    let layout = Layout::from_size_align(size, align).expect("object too large");
    (layout, offset)
}

/// Allocates an object box for `T` with `header` in place and the value uninitialised.
/// Tracked boxes get their prefix with the vtable of `T` and a slot that names no list.
#[inline]
pub(crate) fn allocate<T: 'static>(
    header: Header,
    vtable: Option<&'static VTable>,
) -> NonNull<GcBox<T>> {
    let (layout, offset) = match vtable {
        Some(_) => tracked_layout::<T>(),
        None => (Layout::new::<GcBox<T>>(), 0),
    };
    // The layout has a non-zero size: it holds at least a header.
    let base = box_cache::allocate(layout);
    // SAFETY: `offset` is within the allocation, as computed by `tracked_layout`.
    let boxed = unsafe { base.as_ptr().add(offset) }.cast::<GcBox<T>>();
    // SAFETY: `boxed` is aligned for GcBox<T> and valid for writes of its header.
    unsafe { (&raw mut (*boxed).header).write(header) };
    if let Some(vtable) = vtable {
        // SAFETY: the prefix ends exactly at the header and is inside the allocation; its
        // address is aligned for GcHead because `offset` is a multiple of 8 and >= 16.
        unsafe {
            gc_head_of(NonNull::new_unchecked(boxed.cast()))
                .as_ptr()
                .write(GcHead { vtable, slot: AtomicU64::new(OFF_LIST) })
        };
    }
    // SAFETY: non-null because the allocation succeeded.
    unsafe { NonNull::new_unchecked(boxed) }
}

/// The vtable a tracked object of type `T` carries.
pub(crate) fn vtable_of<T: Trace + 'static>() -> &'static VTable {
    &VTableOf::<T>::VTABLE
}

/// The collector prefix of a tracked object.
///
/// # Safety
/// `header` must belong to a tracked box, which need not be alive but must be allocated when
/// the result is used.
pub(crate) const unsafe fn gc_head_of(header: NonNull<Header>) -> NonNull<GcHead> {
    // SAFETY: tracked boxes place their GcHead directly before the header.
    unsafe { header.cast::<GcHead>().sub(1) }
}

/// Frees a box allocated by [`allocate`] for `T`, without dropping the value.
///
/// # Safety
/// `header` must come from [`allocate`] for `T`, no reference into the box may remain, and the
/// box must not be used afterwards.
pub(crate) unsafe fn free<T>(header: NonNull<Header>) {
    // SAFETY: the header is still allocated and readable.
    let tracked = unsafe { header.as_ref() }.is_tracked();
    let (layout, offset) =
        if tracked { tracked_layout::<T>() } else { (Layout::new::<GcBox<T>>(), 0) };
    // SAFETY: `offset` is the distance from the allocation's start, as at allocation.
    let base = unsafe { header.cast::<u8>().sub(offset) };
    // SAFETY: `base` and `layout` are exactly those returned by / given to `allocate`.
    unsafe { box_cache::free(base, layout) };
}

/// Drops one weak reference to a box of `T`, freeing the box if it was the last.
///
/// # Safety
/// The caller owns the weak reference it drops, and the box came from [`allocate`] for `T`.
pub(crate) unsafe fn release_weak<T>(header: NonNull<Header>) {
    // SAFETY: the caller's weak reference keeps the header allocated until this decrement.
    if unsafe { header.as_ref() }.dec_weak() {
        // SAFETY: the last reference of any kind is gone: nothing can reach the box.
        unsafe { free::<T>(header) };
    }
}

/// Bytes an object costs beyond its value, as allocated (alignment padding included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Overhead {
    /// For a leaf (a value that holds no handles): the counted header.
    pub leaf: usize,
    /// For a tracked object: the header and the collector's prefix.
    pub tracked: usize,
}

/// The bytes an object holding a `T` costs beyond `size_of::<T>()`.
///
/// ```
/// let o = weakling::overhead_of::<u64>();
/// assert_eq!((o.leaf, o.tracked), (16, 32));
/// ```
#[must_use]
pub fn overhead_of<T>() -> Overhead {
    Overhead {
        leaf: Layout::new::<GcBox<T>>().size() - size_of::<T>(),
        tracked: tracked_layout::<T>().0.size() - size_of::<T>(),
    }
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn overhead_is_sixteen_bytes_for_a_leaf_and_thirty_two_for_a_tracked_object() {
        let o = overhead_of::<u64>();
        assert_eq!((o.leaf, o.tracked), (16, 32));
        let wide = overhead_of::<[u8; 100]>();
        assert_eq!(wide.tracked - wide.leaf, 16);
    }

    #[test]
    fn a_new_tracked_box_names_no_list_until_it_is_listed() {
        // A box that some thread can already reach (an upgrade right after `new_cyclic`
        // publishes it) but that is not listed yet must never pass for a listed object.
        let boxed = allocate::<u64>(Header::new(0, true, 1, 1), Some(vtable_of::<u64>()));
        let header = boxed.cast::<Header>();
        // SAFETY: a tracked box just allocated.
        let slot = unsafe { gc_head_of(header).as_ref() }.slot.load(crate::sync::Ordering::Relaxed);
        assert_eq!(super::super::space::decode(slot).0, super::super::space::UNLISTED);
        // SAFETY: allocated above for u64, value never written, nothing else refers to it.
        unsafe { free::<u64>(header) };
    }

    #[test]
    fn over_aligned_values_keep_the_prefix_directly_before_the_header() {
        #[repr(align(64))]
        struct Wide(#[allow(dead_code)] u8);
        let (layout, offset) = tracked_layout::<Wide>();
        assert_eq!(offset, 64);
        assert_eq!(layout.align(), 64);
        assert!(offset >= size_of::<GcHead>());
    }
}
