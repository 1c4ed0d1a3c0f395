//! [`Gc<T>`]: the strong handle.

use std::borrow::Borrow;
use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::callbacks::{self, Registration};
use super::death_table;
use super::deferred::{self, Pending};
use super::ephemeron::take_attached;
use super::header::{Header, HAS_ATTACHMENTS, HAS_CALLBACKS};
use super::layout::{self, free, gc_head_of, release_weak, vtable_of, GcBox};
use super::space::{heap_of, Heap, HeapInner};
use super::thread_state::{self, ThreadState};
use super::trace::{Trace, Tracer};
use super::weak::Weak;
use super::{pause, pin};
use crate::contain::contained;
use crate::sync::Ordering;

/// A strong handle to an object on a shared, reference-counted heap: Python's object
/// reference, for Rust.
///
/// `Gc<T>` is to Python's names what `Arc<T>` is to Rust's shared ownership: cloning it adds a
/// reference, dropping it removes one, and **the value is dropped the moment the last strong
/// handle goes** — no pause, no collector involved. [`Weak<T>`] observes an object without
/// keeping it alive and can carry a death callback ([`Gc::downgrade_with`]). (One opt-in
/// exception: a leaf that was read under a [`ReadPin`](crate::ReadPin) and dies while pins
/// are held is dead at once, but dropped when those pins end.)
///
/// Reference counting cannot free cycles (`a.friend = b; b.friend = a`). Objects whose type
/// may hold handles ([`Trace`] with `LEAF = false`) are *tracked* on their heap so that the
/// cycle collector can find such cycles; other objects are *leaves* and cost nothing beyond
/// their counts (16 bytes per object, as `Arc`; 32 for a tracked object).
///
/// Pointer operations are associated functions (`Gc::strong_count(&g)`), because `Gc<T>`
/// dereferences to `T` and method names must not shadow `T`'s.
///
/// # Thread safety
///
/// `Gc<T>` is `Send` and `Sync` when `T` is. Cloning, dropping (short of the last handle),
/// dereferencing and upgrading take no lock and write nothing shared besides the object's
/// own counts. Counts never wrap: past `isize::MAX / 2` handles the process aborts.
///
/// # Interaction with `Drop`
///
/// * When the last strong handle goes: first every weak reference stops upgrading, then the
///   death callbacks run (newest registered first), then `T` is dropped, then the memory is
///   freed once no weak reference remains.
/// * A panic in `T`'s `Drop` (or in a callback) is caught and reported with
///   `tracing::error!`; the rest of the destruction still happens and the panic does not
///   reach the code that dropped the handle (Python's "Exception ignored in `__del__`").
/// * Deep structures do not overflow the stack: destruction beyond a small nesting depth
///   is queued and finished by the outermost `drop` (see the `deferred` module).
/// * When the cycle collector frees a cycle it drops each member's value while other members
///   may still hold handles to it. Such a handle's plain access (`Deref`) then panics with a
///   clear message, and [`Gc::try_get`] returns `None`; no access ever reads freed memory.
///
/// # Examples
///
/// ```
/// use weakling::Gc;
///
/// let a = Gc::new(String::from("shared"));
/// let b = Gc::clone(&a);
/// assert_eq!(Gc::strong_count(&a), 2);
/// assert!(Gc::ptr_eq(&a, &b));
/// drop(b);
/// assert_eq!(Gc::strong_count(&a), 1);
/// assert_eq!(*a, "shared");
/// ```
pub struct Gc<T> {
    /// The box, with `TRACKED_TAG` set when the object is tracked: whether it is never
    /// changes, and keeping it in the handle spares the hot paths a load of the header.
    tagged: NonNull<GcBox<T>>,
    _owns: PhantomData<GcBox<T>>,
}

/// Low bit of a handle's pointer: the object is tracked (boxes are at least 8-aligned).
const TRACKED_TAG: usize = 1;

// SAFETY: as for Arc: handles on several threads share `&T` (needs Sync) and the last one may
// drop `T` on any thread (needs Send).
unsafe impl<T: Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Gc<T> {}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Puts `value` on the process-wide default heap.
    ///
    /// The object is tracked by the cycle collector unless `T` is a leaf ([`Trace::LEAF`]).
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new(value: T) -> Gc<T> {
        Gc::new_in(value, Heap::global())
    }

    /// Puts `value` on `heap`.
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new_in(value: T, heap: &Heap) -> Gc<T> {
        let inner = heap.inner();
        let tracked = !T::LEAF;
        let ptr = layout::allocate::<T>(
            Header::new(inner.id(), tracked, 1, 1),
            tracked.then(vtable_of::<T>),
        );
        // SAFETY: freshly allocated, value slot uninitialised and ours to write.
        unsafe { Gc::finish(ptr, value, inner, tracked) }
    }

    /// Builds an object that refers to itself weakly: `build` receives a [`Weak`] to the
    /// object under construction (upgrading it fails until `new_cyclic` returns).
    ///
    /// If `build` panics the allocation is released and the panic propagates.
    ///
    /// ```
    /// use weakling::{Gc, Trace, Weak};
    ///
    /// #[derive(Trace)]
    /// struct Me { this: Weak<Me> }
    ///
    /// let me = Gc::new_cyclic(|w| Me { this: w.clone() });
    /// assert!(Gc::ptr_eq(&me.this.upgrade().unwrap(), &me));
    /// ```
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new_cyclic<F: FnOnce(&Weak<T>) -> T>(build: F) -> Gc<T> {
        Gc::new_cyclic_in(build, Heap::global())
    }

    /// [`Gc::new_cyclic`] on `heap`.
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new_cyclic_in<F: FnOnce(&Weak<T>) -> T>(build: F, heap: &Heap) -> Gc<T> {
        let inner = heap.inner();
        let tracked = !T::LEAF;
        // Strong 0 (nothing can upgrade yet); weak 2: the strong handles' shared one, which
        // `new_cyclic` holds on their behalf, and the one of the handle given to `build`.
        let ptr = layout::allocate::<T>(
            Header::new(inner.id(), tracked, 0, 2),
            tracked.then(vtable_of::<T>),
        );
        let header = ptr.cast::<Header>();

        /// Releases the strong handles' weak reference if `build` unwinds.
        struct Unbuilt<T>(NonNull<Header>, PhantomData<T>);
        impl<T> Drop for Unbuilt<T> {
            fn drop(&mut self) {
                // SAFETY: the constructor owned this reference; the value was never written,
                // and `free` does not drop it.
                unsafe { release_weak::<T>(self.0) };
            }
        }
        let guard = Unbuilt::<T>(header, PhantomData);
        let weak = Weak::from_header(header, tracked);
        let value = build(&weak);
        std::mem::forget(guard);
        // SAFETY: the value slot is still uninitialised and only this function writes it.
        unsafe { (&raw mut (*ptr.as_ptr()).value).write(value) };
        // SAFETY: the header is allocated; the value is now complete.
        unsafe { header.as_ref() }.publish_first_strong();
        // SAFETY: a new box of this heap, complete, on no list yet.
        let due = unsafe { enter_heap(inner, header, tracked) };
        drop(weak);
        if due {
            crate::collect::at_safe_point(inner);
        }
        Gc::from_box(ptr, tracked)
    }
}

impl<T: 'static> Gc<T> {
    /// Puts a value that holds no handles on the default heap, without any tracing code.
    ///
    /// The object is a leaf: the collector never looks inside it. A handle stored inside
    /// anyway is treated as a reference from outside, so a cycle through it is never freed
    /// (a leak, never unsoundness). `T` need not be `Send` or `Sync`; the handle then is not
    /// either.
    ///
    /// ```
    /// use weakling::Gc;
    ///
    /// struct Opaque(std::cell::Cell<u32>); // no Trace impl needed
    /// let g = Gc::new_leaf(Opaque(std::cell::Cell::new(1)));
    /// g.0.set(2);
    /// assert_eq!(g.0.get(), 2);
    /// ```
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new_leaf(value: T) -> Gc<T> {
        Gc::new_leaf_in(value, Heap::global())
    }

    /// [`Gc::new_leaf`] on `heap`.
    #[must_use = "the value is dropped at once if the handle is not kept"]
    pub fn new_leaf_in(value: T, heap: &Heap) -> Gc<T> {
        let inner = heap.inner();
        let ptr = layout::allocate::<T>(Header::new(inner.id(), false, 1, 1), None);
        // SAFETY: freshly allocated, value slot uninitialised and ours to write.
        unsafe { Gc::finish(ptr, value, inner, false) }
    }
}

impl<T> Gc<T> {
    /// Writes the value of a fresh box and puts it in its heap's books.
    ///
    /// # Safety
    /// `ptr` is a fresh box from `layout::allocate` for heap `inner`, strong count 1, tracked
    /// as `tracked` says.
    #[inline]
    unsafe fn finish(
        ptr: NonNull<GcBox<T>>,
        value: T,
        inner: &'static HeapInner,
        tracked: bool,
    ) -> Gc<T> {
        // SAFETY: per contract the value slot is uninitialised and exclusively ours.
        unsafe { (&raw mut (*ptr.as_ptr()).value).write(value) };
        // SAFETY: a new box of this heap, complete, on no list yet.
        let due = unsafe { enter_heap(inner, ptr.cast(), tracked) };
        let this = Gc::from_box(ptr, tracked);
        if due {
            crate::collect::at_safe_point(inner);
        }
        this
    }

    /// A handle to `ptr`, tagged when the object is tracked.
    #[inline]
    fn from_box(ptr: NonNull<GcBox<T>>, tracked: bool) -> Gc<T> {
        let tagged = ptr.map_addr(|a| a | usize::from(tracked));
        Gc { tagged, _owns: PhantomData }
    }

    /// The box, untagged.
    #[inline]
    fn boxed(&self) -> NonNull<GcBox<T>> {
        self.tagged.map_addr(|a| {
            // SAFETY: clearing the tag bit of a non-null, 8-aligned address leaves it non-zero.
            unsafe { std::num::NonZeroUsize::new_unchecked(a.get() & !TRACKED_TAG) }
        })
    }

    /// Whether the object is tracked, from the handle alone.
    #[inline]
    pub(crate) fn is_tracked(this: &Gc<T>) -> bool {
        this.tagged.addr().get() & TRACKED_TAG != 0
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: a strong handle keeps the box allocated.
        unsafe { &self.boxed().as_ref().header }
    }

    /// The address of the object's header: its identity on the heap.
    #[inline]
    pub(crate) fn header_ptr(this: &Gc<T>) -> NonNull<Header> {
        this.boxed().cast()
    }

    /// Makes a strong handle from a header whose strong count the caller already raised.
    ///
    /// # Safety
    /// `header` belongs to a `GcBox<T>`, and the caller transfers one strong count to the
    /// result.
    #[inline]
    pub(crate) unsafe fn from_header(header: NonNull<Header>, tracked: bool) -> Gc<T> {
        Gc::from_box(header.cast(), tracked)
    }

    /// The id of the [`Heap`] the object lives on (see [`Heap::id`]).
    #[must_use]
    pub fn heap_id(this: &Gc<T>) -> u32 {
        this.header().heap_id()
    }

    /// The value, or `None` if the cycle collector has already torn it down (only code that
    /// runs during the teardown of a cycle, such as a `Drop` of another member, can see that).
    #[inline]
    #[must_use]
    pub fn try_get(this: &Gc<T>) -> Option<&T> {
        // Leaves are never torn down: only the cycle collector tears down, and it never sees them.
        if Gc::is_tracked(this) && this.header().is_torn_down() {
            None
        } else {
            // SAFETY: the value is initialised and not torn down; a strong handle keeps it so.
            Some(unsafe { &this.boxed().as_ref().value })
        }
    }

    /// The number of strong handles to the object: the answer to Python's
    /// `sys.getrefcount`, less the temporary reference that the call itself adds in Python.
    ///
    /// Another thread may change it at any moment.
    #[inline]
    #[must_use]
    pub fn strong_count(this: &Gc<T>) -> usize {
        this.header().strong_count()
    }

    /// The number of weak references to the object: plain [`Weak`] handles, plus one per
    /// callback registration whose handles still exist (its clones share one reference).
    #[inline]
    #[must_use]
    pub fn weak_count(this: &Gc<T>) -> usize {
        // The strong handles own one weak reference together.
        this.header().raw_weak_count() - 1
    }

    /// A weak handle to the object (Python's `weakref.ref(obj)`).
    #[must_use = "a weak handle that is not kept observes nothing"]
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        this.header().inc_weak();
        Weak::from_header(Gc::header_ptr(this), Gc::is_tracked(this))
    }

    /// Whether two handles point at the same object (Python's `is`).
    #[inline]
    #[must_use]
    pub fn ptr_eq(this: &Gc<T>, other: &Gc<T>) -> bool {
        this.tagged == other.tagged
    }

    /// The address of the value (Python's `id(obj)`, as a pointer).
    #[inline]
    #[must_use]
    pub fn as_ptr(this: &Gc<T>) -> *const T {
        // SAFETY: in bounds of the live box; no reference is created.
        unsafe { &raw const (*this.boxed().as_ptr()).value }
    }

    /// Takes the value out if `this` is the only strong handle; otherwise gives the handle
    /// back.
    ///
    /// Taking the value out ends the object's life on the heap: weak references stop
    /// upgrading and their death callbacks run (newest first) before the value is returned.
    ///
    /// A leaf that has been read under a [`ReadPin`](crate::ReadPin) is always refused: a
    /// pinned reader may be borrowing the value.
    ///
    /// ```
    /// use weakling::Gc;
    ///
    /// let a = Gc::new(5);
    /// let b = a.clone();
    /// let a = Gc::try_unwrap(a).unwrap_err();
    /// drop(b);
    /// assert_eq!(Gc::try_unwrap(a).ok(), Some(5));
    /// ```
    pub fn try_unwrap(this: Gc<T>) -> Result<T, Gc<T>> {
        let header = Gc::header_ptr(&this);
        let op = Gc::is_tracked(&this).then(pause::begin);
        if this.header().is_torn_down() || !this.header().try_take_unique() {
            return Err(this);
        }
        let this = ManuallyDrop::new(this);
        // SAFETY: the strong count just reached zero through this handle, once, inside an
        // operation if the object is tracked.
        unsafe { leave_heap(header, op.as_ref()) };
        drop(op);
        // SAFETY: header allocated; object dead, so no one else reaches the callbacks.
        let flags = unsafe { header.as_ref() }.flags(Ordering::Acquire);
        if flags & HAS_CALLBACKS != 0 {
            death_table::take_and_fire(header);
        }
        if flags & HAS_ATTACHMENTS != 0 {
            contained("dropping values attached to a dead key", || drop(take_attached(header)));
        }
        // SAFETY: the value is initialised; it is moved out once and never dropped in place
        // (`release_weak` frees without dropping).
        let value = unsafe { ptr::read(&this.boxed().as_ref().value) };
        // SAFETY: the strong handles' shared weak reference, released once.
        unsafe { release_weak::<T>(header) };
        Ok(value)
    }

    /// Destroys an object whose strong count just reached zero: callbacks, value, memory.
    /// Never unwinds.
    ///
    /// # Safety
    /// The object's strong count reached zero, it left the heap's books, and this runs once.
    unsafe fn destroy(header: NonNull<Header>) {
        // SAFETY: forwarded contract; the functions are those of `GcBox<T>`.
        unsafe { destroy_object(header, layout::drop_value_of::<T>(), layout::free::<T>) }
    }

    /// As [`destroy`](Gc::destroy) for a leaf that read pins may be borrowing: the death
    /// callbacks run now, the value is dropped and the memory released once every pin held
    /// now has ended.
    ///
    /// # Safety
    /// As for `destroy`.
    unsafe fn destroy_after_pins(header: NonNull<Header>) {
        // SAFETY: forwarded contract.
        unsafe { notify_death(header) };
        // SAFETY: the rest of the destruction, handed over once; it may run on any thread
        // (objects are `Send`), and no one else reaches the object any more.
        unsafe { pin::defer(Pending { header, run: Gc::<T>::drop_and_release }) };
    }

    /// The second half of [`destroy_after_pins`](Gc::destroy_after_pins).
    ///
    /// # Safety
    /// Runs once, after `notify_death`, when no read pin can borrow the value any more.
    unsafe fn drop_and_release(header: NonNull<Header>) {
        // SAFETY: forwarded contract; the functions are those of `GcBox<T>`.
        unsafe { drop_and_release(header, layout::drop_value_of::<T>(), layout::free::<T>) }
    }
}

/// Destroys an object whose strong count just reached zero: callbacks, attached values, the
/// value (unless torn down), then the memory once no weak reference remains. Never unwinds.
///
/// # Safety
/// The object's strong count reached zero, it left the heap's books, this runs once, and
/// `drop_value` and `dealloc` are those of the object's type.
pub(crate) unsafe fn destroy_object(
    header: NonNull<Header>,
    drop_value: Option<unsafe fn(NonNull<Header>)>,
    dealloc: unsafe fn(NonNull<Header>),
) {
    // SAFETY: forwarded contract.
    unsafe {
        notify_death(header);
        drop_and_release(header, drop_value, dealloc);
    }
}

/// The first half of a destruction: the death callbacks and the values attached to the
/// object. Never unwinds.
///
/// # Safety
/// The object's strong count reached zero, it left the heap's books, and this runs once.
unsafe fn notify_death(header: NonNull<Header>) {
    // SAFETY: allocated until the strong handles' weak reference is released, after this.
    let h = unsafe { header.as_ref() };
    let flags = h.flags(Ordering::Acquire);
    if flags & HAS_CALLBACKS != 0 {
        death_table::take_and_fire(header);
    }
    if flags & HAS_ATTACHMENTS != 0 {
        contained("dropping values attached to a dead key", || drop(take_attached(header)));
    }
}

/// The second half of a destruction: the value (unless torn down), then the memory once no
/// weak reference remains. Never unwinds.
///
/// # Safety
/// Runs once, after `notify_death`; `drop_value` and `dealloc` are those of the object's
/// type.
unsafe fn drop_and_release(
    header: NonNull<Header>,
    drop_value: Option<unsafe fn(NonNull<Header>)>,
    dealloc: unsafe fn(NonNull<Header>),
) {
    // SAFETY: allocated until the weak reference released below.
    let h = unsafe { header.as_ref() };
    if let Some(drop_value) = drop_value.filter(|_| !h.is_torn_down()) {
        contained("Drop of a Gc value", || {
            // SAFETY: the value is initialised, dropped here once; no handle can reach it.
            unsafe { drop_value(header) }
        });
    }
    // The strong handles' shared weak reference, released once.
    if h.release_strong_share() {
        // SAFETY: no reference of any kind remains.
        unsafe { dealloc(header) };
    }
}

impl<T: Send + 'static> Gc<T> {
    /// A weak handle whose `callback` runs once when the object dies (Python's
    /// `weakref.ref(obj, callback)`).
    ///
    /// The callback receives the (dead) weak handle. It runs after every weak reference to the
    /// object has stopped upgrading, before the value is dropped, newest registered first; it
    /// does **not** run if every clone of the returned handle was dropped before the object
    /// died. It may do anything: allocate, drop other objects, register callbacks, upgrade
    /// (and fail). A panic in it is caught and reported with `tracing::error!`, and the
    /// remaining callbacks still run.
    ///
    /// The callback runs on the thread that drops the last strong handle. A callback that
    /// captures a strong handle to its own object keeps that object alive (as in Python).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use weakling::Gc;
    ///
    /// let fired = Arc::new(AtomicBool::new(false));
    /// let obj = Gc::new(String::from("data"));
    /// let f = fired.clone();
    /// let w = Gc::downgrade_with(&obj, move |dead| {
    ///     assert!(dead.upgrade().is_none());
    ///     f.store(true, Ordering::SeqCst);
    /// });
    /// drop(obj);
    /// assert!(fired.load(Ordering::SeqCst));
    /// assert!(w.upgrade().is_none());
    /// ```
    #[must_use = "the callback is cancelled when the returned handle is dropped"]
    pub fn downgrade_with<F>(this: &Gc<T>, callback: F) -> Weak<T>
    where
        F: FnOnce(&Weak<T>) + Send + 'static,
    {
        Gc::register_callback(this, callback, false)
    }

    /// Like [`Gc::downgrade_with`], but the callback is a *finalizer*: when the object dies in
    /// cyclic garbage, it runs in the collector's finalizer phase, before any member of the
    /// garbage is torn down (with [`Trace::finalize`] hooks), and the collector checks
    /// reachability again after it, so code it runs may resurrect objects. When the object
    /// dies by its count alone it runs exactly as `downgrade_with`'s callback does.
    ///
    /// [`Gc::on_death`] runs an action at the same points with no weak handle at all. Keep
    /// the returned handle outside the objects it could die with (in a registry or a static):
    /// a finalizer runs even if its handle lives inside the garbage, where a plain callback
    /// would not.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use weakling::{Gc, GcCell, Heap, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Node { next: GcCell<Option<Gc<Node>>> }
    ///
    /// let heap = Heap::new();
    /// let a = Gc::new_in(Node { next: GcCell::new(None) }, &heap);
    /// a.next.set(Some(a.clone()));
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let r = ran.clone();
    /// let _watch = Gc::downgrade_with_finalizer(&a, move |_| r.store(true, Ordering::SeqCst));
    /// drop(a);
    /// heap.collect();
    /// assert!(ran.load(Ordering::SeqCst));
    /// ```
    #[must_use = "the callback is cancelled when the returned handle is dropped"]
    pub fn downgrade_with_finalizer<F>(this: &Gc<T>, callback: F) -> Weak<T>
    where
        F: FnOnce(&Weak<T>) + Send + 'static,
    {
        Gc::register_callback(this, callback, true)
    }

    fn register_callback<F>(this: &Gc<T>, user_callback: F, finalizer: bool) -> Weak<T>
    where
        F: FnOnce(&Weak<T>) + Send + 'static,
    {
        let header = Gc::header_ptr(this);
        let tracked = Gc::is_tracked(this);
        // The registration's own weak reference on the box, and the flag that sends its death
        // to the registry.
        this.header().inc_weak_flagging(HAS_CALLBACKS);
        // Stored in the registration's block: the wrapper captures the callback only, and the
        // box's kind is read from its header when the callback runs.
        let callback = move |registration: NonNull<Registration>| {
            // SAFETY: the death hands the callback one handle of its registration, which
            // keeps its target's box allocated (the registration's weak reference).
            let dead = unsafe {
                let tracked = registration.as_ref().target().as_ref().is_tracked();
                Weak::<T>::from_registration(registration, tracked)
            };
            user_callback(&dead);
        };
        let registration = Registration::new(header, release_weak::<T>, callback, finalizer);
        // SAFETY: `this` is a strong handle to the target; the table's reference is handed
        // over and the caller's handle is adopted below. When the collector is already
        // tearing the object down nothing is registered: the handle is dead from the start.
        unsafe { callbacks::register(registration) };
        // SAFETY: the registration's first handle, adopted.
        unsafe { Weak::from_registration(registration, tracked) }
    }

    /// A weak handle ([`Watch`](crate::Watch)) whose registration tells `listener` when the
    /// object dies:
    /// `listener.object_died(token, Gc::as_ptr(this).cast())`. The cheap form of
    /// [`Gc::downgrade_with`] for a structure that watches many objects: no closure is
    /// allocated, and one listener serves every registration.
    ///
    /// Everything [`Gc::downgrade_with`] says about its callback holds for the notification
    /// (when it runs, in which order, that it does not run once every clone of the returned
    /// handle is dropped, panics contained); see [`DeathListener`](crate::DeathListener). The
    /// registration holds `listener` only weakly.
    ///
    /// Returns `None`, registering nothing, when the cycle collector is already tearing the
    /// object down: it is dead, and no notification would ever come. Only code that a
    /// collection runs (the `Drop` of a member of a freed cycle, holding a handle to another
    /// member) can see that. (An object whose finalizers are running is condemned but may
    /// still be resurrected: registering on it works.)
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use weakling::{DeathListener, Gc};
    ///
    /// #[derive(Default)]
    /// struct Deaths(Mutex<Vec<u64>>);
    /// impl DeathListener for Deaths {
    ///     fn object_died(&self, token: u64, _object: *const ()) {
    ///         self.0.lock().unwrap().push(token);
    ///     }
    /// }
    ///
    /// let deaths = Arc::new(Deaths::default());
    /// let a = Gc::new(1);
    /// let b = Gc::new(2);
    /// let wa = Gc::downgrade_notify(&a, &deaths, 10).unwrap();
    /// let wb = Gc::downgrade_notify(&b, &deaths, 20).unwrap();
    /// drop(b);
    /// drop(wa); // cancels the registration on `a`
    /// drop(a);
    /// assert_eq!(*deaths.0.lock().unwrap(), [20]);
    /// assert!(wb.upgrade().is_none());
    /// ```
    #[must_use = "the registration is cancelled when the returned handle is dropped"]
    pub fn downgrade_notify<L: callbacks::DeathListener>(
        this: &Gc<T>,
        listener: &Arc<L>,
        token: u64,
    ) -> Option<super::watch::Watch<T>> {
        let header = Gc::header_ptr(this);
        let tracked = Gc::is_tracked(this);
        // The registration's own weak reference on the box, and the flag that sends its death
        // to the registry.
        this.header().inc_weak_flagging(HAS_CALLBACKS);
        let listener: std::sync::Weak<L> = Arc::downgrade(listener);
        let listener: std::sync::Weak<dyn callbacks::DeathListener> = listener;
        let object = Gc::as_ptr(this).cast::<()>();
        let registration =
            Registration::with_listener(header, release_weak::<T>, listener, token, object);
        // SAFETY: as in `downgrade_with`.
        let registered = unsafe { callbacks::register(registration) };
        // Dropped at once when refused: that releases the registration's weak reference.
        // SAFETY: the registration's first handle, adopted.
        let watch =
            super::watch::Watch::new(unsafe { Weak::from_registration(registration, tracked) });
        registered.then_some(watch)
    }
}

impl<T> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Gc<T> {
        self.header().inc_strong();
        Gc { tagged: self.tagged, _owns: PhantomData }
    }
}

impl<T> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        if Gc::is_tracked(self) {
            return self.drop_tracked();
        }
        if self.header().dec_strong() {
            // SAFETY: this drop took the strong count of a leaf to zero.
            unsafe { Gc::<T>::last_leaf_handle_gone(Gc::header_ptr(self)) };
        }
    }
}

impl<T> Gc<T> {
    /// Drops a handle to a tracked object: a mutator operation, so that a scanning collector
    /// never sees the count fall. The common case (the count stays above zero, the world runs,
    /// this thread tears no garbage down) makes no call; everything else is out of line.
    #[inline]
    fn drop_tracked(&mut self) {
        let Some(state) = pause::begin_fast() else {
            return self.drop_tracked_slow();
        };
        if state.tearing() != 0 {
            // SAFETY: `begin_fast` began this operation on this thread, and it is handed over.
            return unsafe { self.drop_tracked_tearing(state) };
        }
        if self.header().dec_strong() {
            // SAFETY: this drop took the strong count to zero, inside the operation begun by
            // `begin_fast` on this thread.
            unsafe { Gc::<T>::last_tracked_handle_gone(Gc::header_ptr(self), state) };
        } else {
            pause::end_fast(state);
        }
    }

    /// [`drop_tracked`](Gc::drop_tracked) when its operation needs the full [`pause::begin`].
    #[cold]
    #[inline(never)]
    fn drop_tracked_slow(&mut self) {
        self.drop_tracked_in(pause::begin());
    }

    /// [`drop_tracked`](Gc::drop_tracked) while this thread's collection drops the values of
    /// its garbage: the handle may be one whose drop is only counted.
    ///
    /// # Safety
    /// `pause::begin_fast` returned `state` on this thread, and that operation is still open;
    /// this call ends it.
    #[inline(never)]
    unsafe fn drop_tracked_tearing(&mut self, state: &'static ThreadState) {
        // SAFETY: forwarded contract.
        self.drop_tracked_in(unsafe { pause::Operation::adopt(state) });
    }

    /// Drops this tracked handle inside `op`, counting the drop instead when it is one the
    /// teardown need not decrement.
    #[inline]
    fn drop_tracked_in(&mut self, op: pause::Operation) {
        let tearing = op.tearing();
        // SAFETY: this handle keeps the box allocated; `tearing` is this thread's.
        if tearing != 0 && unsafe { count_skipped_drop(Gc::header_ptr(self), tearing) } {
            return;
        }
        if self.header().dec_strong() {
            // SAFETY: this drop took the strong count to zero, inside `op`.
            unsafe { Gc::<T>::last_handle_gone(Gc::header_ptr(self), Some(op)) };
        }
    }

    /// [`last_handle_gone`](Gc::last_handle_gone) for a leaf.
    ///
    /// # Safety
    /// The caller took the strong count of the leaf `header` to zero.
    #[inline(never)]
    unsafe fn last_leaf_handle_gone(header: NonNull<Header>) {
        // SAFETY: forwarded contract.
        unsafe { Gc::<T>::last_handle_gone(header, None) };
    }

    /// [`last_handle_gone`](Gc::last_handle_gone) for a tracked object, inside the operation
    /// that `begin_fast` began.
    ///
    /// # Safety
    /// The caller took the strong count of the tracked object `header` to zero inside the
    /// operation that `pause::begin_fast` returned `state` for, and ends it here.
    #[inline(never)]
    unsafe fn last_tracked_handle_gone(header: NonNull<Header>, state: &'static ThreadState) {
        // SAFETY: forwarded contract: the operation is this thread's and still open.
        let op = unsafe { pause::Operation::adopt(state) };
        // SAFETY: forwarded contract.
        unsafe { Gc::<T>::last_handle_gone(header, Some(op)) };
    }

    /// Takes a dead object off the books and destroys it (inline or deferred).
    ///
    /// # Safety
    /// The caller took the strong count to zero; for a tracked object `op` is the operation
    /// around that.
    #[inline]
    unsafe fn last_handle_gone(header: NonNull<Header>, op: Option<pause::Operation>) {
        // SAFETY: forwarded contract.
        unsafe { leave_heap(header, op.as_ref()) };
        drop(op);
        // SAFETY: allocated until the shared weak reference is released below or in `destroy`.
        let h = unsafe { header.as_ref() };
        // A leaf read under a read pin, while pins exist: one of them may be borrowing the
        // value, so the value and the memory must outlast every pin held now.
        let after_pins = h.was_pinned_read() && pin::must_wait();
        if !after_pins
            && !std::mem::needs_drop::<T>()
            && h.flags(Ordering::Acquire) & (HAS_CALLBACKS | HAS_ATTACHMENTS) == 0
        {
            // Nothing to run and nothing that could recurse: free at once, unless weak
            // references keep the box.
            if h.release_strong_share() {
                // SAFETY: no reference of any kind remains; a box of `T`.
                unsafe { free::<T>(header) };
            }
            return;
        }
        let run = if after_pins { Gc::<T>::destroy_after_pins } else { Gc::<T>::destroy };
        // SAFETY: `run` runs once, for an object that left the books, on this thread.
        unsafe { deferred::run_or_defer(Pending { header, run }) };
    }
}

/// Lets a handle to an object of the garbage that this thread's collection is tearing down go
/// without decrementing its count: the drop is counted in the object's slot instead, where only
/// this thread reads or writes it, and the collector subtracts the tally when it releases its
/// own count (see "Drops the teardown need not count" in `collect`). Returns `false`, counting
/// nothing, for any other object.
///
/// # Safety
/// The caller drops a strong handle to the tracked object `header` inside an operation whose
/// [`tearing`](pause::Operation::tearing) is `tearing`, not 0.
#[inline]
unsafe fn count_skipped_drop(header: NonNull<Header>, tearing: u64) -> bool {
    // SAFETY: the caller's handle keeps the box allocated.
    let h = unsafe { header.as_ref() };
    if !h.is_torn_down() {
        return false;
    }
    // SAFETY: tracked and allocated.
    let head = unsafe { gc_head_of(header).as_ref() };
    // Relaxed: a slot with this thread's prefix is written only by this thread (the verdict of
    // its collection, and the drops counted here); any other slot value, however stale, is
    // not this prefix and takes the ordinary decrement.
    let slot = head.slot.load(Ordering::Relaxed);
    if slot & !u64::from(u32::MAX) != tearing || slot as u32 == u32::MAX {
        return false;
    }
    head.slot.store(slot + 1, Ordering::Relaxed);
    true
}

/// Puts a complete new object in its heap's books: a tracked one on this thread's nursery.
///
/// Returns whether an automatic collection became due.
///
/// # Safety
/// `header` is a new box of `inner`, value written, on no list yet, tracked as `tracked` says.
#[inline]
unsafe fn enter_heap(inner: &'static HeapInner, header: NonNull<Header>, tracked: bool) -> bool {
    if tracked {
        let op = pause::begin();
        // SAFETY: forwarded contract, inside `op`.
        unsafe { thread_state::track(&op, inner, header) }
    } else {
        thread_state::count_leaf_allocation(inner);
        false
    }
}

/// Takes a dead object off its heap's books.
///
/// # Safety
/// The object's strong count reached zero and the caller is the one that took it there;
/// for a tracked object, `op` is the caller's operation around that.
pub(crate) unsafe fn leave_heap(header: NonNull<Header>, op: Option<&pause::Operation>) {
    // SAFETY: the box is allocated until its weak references are gone.
    let h = unsafe { header.as_ref() };
    if h.is_torn_down() {
        // The collector already took it off the books when it tore the value down.
        return;
    }
    let heap = heap_of(h);
    if let (true, Some(op)) = (h.is_tracked(), op) {
        // SAFETY: tracked, of this heap, on a nursery or list; only this thread takes it off,
        // inside `op`.
        unsafe { thread_state::untrack(op, heap, header) };
    } else {
        debug_assert!(!h.is_tracked(), "a tracked object leaves the heap inside an operation");
        thread_state::count_leaf_free(heap);
    }
}

#[cold]
#[track_caller]
fn torn_down() -> ! {
    panic!(
        "weakling: this object's value was already dropped by the cycle collector \
         (its cycle is being freed); use Gc::try_get in Drop code that can see other members"
    )
}

impl<T> Deref for Gc<T> {
    type Target = T;

    /// # Panics
    ///
    /// If the cycle collector has torn the value down (only Drop code running during the
    /// teardown of a cycle can observe that); see [`Gc::try_get`].
    #[inline]
    #[track_caller]
    fn deref(&self) -> &T {
        match Gc::try_get(self) {
            Some(value) => value,
            None => torn_down(),
        }
    }
}

impl<T> AsRef<T> for Gc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T> Borrow<T> for Gc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T> Unpin for Gc<T> {}

impl<T: Default + Trace + Send + Sync + 'static> Default for Gc<T> {
    fn default() -> Gc<T> {
        Gc::new(T::default())
    }
}

impl<T: Trace + Send + Sync + 'static> From<T> for Gc<T> {
    fn from(value: T) -> Gc<T> {
        Gc::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_get(self) {
            Some(value) => fmt::Debug::fmt(value, f),
            None => f.write_str("<torn down>"),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> fmt::Pointer for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Gc::as_ptr(self), f)
    }
}

impl<T: PartialEq> PartialEq for Gc<T> {
    fn eq(&self, other: &Gc<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for Gc<T> {}

impl<T: PartialOrd> PartialOrd for Gc<T> {
    fn partial_cmp(&self, other: &Gc<T>) -> Option<CmpOrdering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord> Ord for Gc<T> {
    fn cmp(&self, other: &Gc<T>) -> CmpOrdering {
        (**self).cmp(&**other)
    }
}

impl<T: Hash> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

// SAFETY: a handle is one owned strong edge, reported once.
unsafe impl<T> Trace for Gc<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.edge(self);
    }
}
