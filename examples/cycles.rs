//! Cycles leak under reference counting alone and are freed by the cycle collector (seeds
//! 001, 002 and 004).
//!
//! Seed 002, an object that refers to itself:
//!
//! ```python
//! class RefExam():
//!   def __init__(self):
//!     print('create object')
//!     self.me = self
//!   def __del__(self):
//!     print(f'destroy {id(self)}')
//!
//! a = RefExam()
//! a = 0              # nothing: self.me still holds the object
//! print('end .....')
//! # the post's output: create object / end ..... / destroy 2110595412432
//! ```
//!
//! Seed 001, two friends that hold each other (the post's `#b.friend = a`, uncommented):
//!
//! ```python
//! a, b = Foo(), Foo()
//! a.friend = b
//! b.friend = a
//! a = None           # each keeps the other alive: neither __del__ runs
//! b = None
//! ```
//!
//! Seed 004, the ring a -> b -> c -> a:
//!
//! ```python
//! a.b = b  # b: 参照カウント 2
//! b.c = c  # c: 参照カウント 2
//! c.a = a  # a: 参照カウント 2
//! a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)
//! a = b = c = None   # メモリ破棄できない (a, b, c: 参照カウント 1)
//! print(a_ref, b_ref, c_ref)
//! # <weakref at 0x...; to 'object' at 0x...> ... (alive: not dead)
//! ```
//!
//! Each shape is shown leaking with automatic collection off (`gc.disable()`; here an
//! isolated [`Heap`] with `set_automatic_collection(false)`, so nothing else interferes), the
//! `Drop` message not printed and the weak handles alive, and then freed by `gc.collect()`:
//! the `Drop` messages print during the collection, the weak handles print `dead` after it,
//! and `collect` returns the number of unreachable objects, as Python's `gc.collect()` does.
//!
//! The attributes assigned after construction (`self.me`, `a.friend`, `a.b`) are `GcCell`
//! fields. A weak handle prints through its `Debug` impl as `(Weak at <address>; alive)` or
//! `(Weak at <address>; dead)`, weakling's `<weakref at ...>`.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary. Addresses differ from run to run.

use weakling::{Gc, GcCell, Heap, Trace, Weak};

/// Seed 002's `RefExam` with `self.me = self`.
#[derive(Trace)]
struct RefExam {
    me: GcCell<Option<Gc<RefExam>>>,
}

impl RefExam {
    fn new(heap: &Heap) -> Gc<RefExam> {
        println!("create object");
        let obj = Gc::new_in(RefExam { me: GcCell::new(None) }, heap);
        obj.me.set(Some(obj.clone()));
        obj
    }
}

impl Drop for RefExam {
    fn drop(&mut self) {
        println!("destroy {:p}", self);
    }
}

/// Seed 001's `Foo`: a strong `friend` attribute, which `__del__` deletes first.
#[derive(Trace)]
struct Foo {
    value: i32,
    friend: GcCell<Option<Gc<Foo>>>,
}

impl Foo {
    fn new(heap: &Heap) -> Gc<Foo> {
        let obj = Gc::new_in(Foo { value: 1, friend: GcCell::new(None) }, heap);
        println!("Object({:p}) is being created.", Gc::as_ptr(&obj));
        obj
    }
}

impl Drop for Foo {
    // `del self.friend`, then the message. Inside a collection the friend is garbage too:
    // releasing the handle here frees nothing early, because the collector frees the whole
    // cycle itself.
    fn drop(&mut self) {
        drop(self.friend.take());
        println!("Object({:p}) is being destroyed.", self);
    }
}

/// Seed 004's bare `object` with one attribute linking to the next.
#[derive(Trace)]
struct Obj {
    name: &'static str,
    next: GcCell<Option<Gc<Obj>>>,
}

impl Obj {
    fn new(name: &'static str, heap: &Heap) -> Gc<Obj> {
        Gc::new_in(Obj { name, next: GcCell::new(None) }, heap)
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        println!("{} destroyed", self.name);
    }
}

/// Python's `print(r1, r2, ...)` of weak references.
fn print_refs<T>(refs: &[&Weak<T>]) {
    let shown: Vec<String> = refs.iter().map(|r| format!("{r:?}")).collect();
    println!("{}", shown.join(" "));
}

/// Python's `gc.collect()`: prints the returned count and what is left on the heap.
fn collect(heap: &Heap) {
    println!(">>> gc.collect()");
    let found = heap.collect();
    println!("{found}");
    println!("(live objects on the heap: {})", heap.counts().live);
}

fn self_cycle(heap: &Heap) {
    println!("# seed 002: self.me = self, a cycle of one");
    println!(">>> a = RefExam()");
    let a = RefExam::new(heap);
    println!(">>> a_ref = weakref.ref(a)");
    let a_ref = Gc::downgrade(&a);
    println!(">>> sys.getrefcount(a) - 1");
    println!("{}", Gc::strong_count(&a));
    println!(">>> a = 0");
    drop(a);
    println!(">>> print('end .....')");
    println!("end .....");
    println!(">>> print(a_ref)");
    print_refs(&[&a_ref]);
    println!("(live objects on the heap: {})", heap.counts().live);
    collect(heap);
    println!(">>> print(a_ref)");
    print_refs(&[&a_ref]);
}

fn two_friends(heap: &Heap) {
    println!("# seed 001: a.friend = b; b.friend = a, a cycle of two");
    println!(">>> a, b = Foo(), Foo()");
    let a = Foo::new(heap);
    let b = Foo::new(heap);
    println!(">>> a.friend = b; b.friend = a");
    a.friend.set(Some(b.clone()));
    b.friend.set(Some(a.clone()));
    println!(">>> a_ref, b_ref = weakref.ref(a), weakref.ref(b)");
    let (a_ref, b_ref) = (Gc::downgrade(&a), Gc::downgrade(&b));
    println!(">>> print(a.value, b.friend.value)");
    println!("{} {}", a.value, b.friend.read().as_ref().map_or(0, |f| f.value));
    println!(">>> a = None; b = None");
    drop(a);
    drop(b);
    println!(">>> print(a_ref, b_ref)");
    print_refs(&[&a_ref, &b_ref]);
    println!("(live objects on the heap: {})", heap.counts().live);
    collect(heap);
    println!(">>> print(a_ref, b_ref)");
    print_refs(&[&a_ref, &b_ref]);
}

fn three_ring(heap: &Heap) {
    println!("# seed 004: the ring a -> b -> c -> a");
    println!(">>> a, b, c = object(), object(), object()");
    let (a, b, c) = (Obj::new("a", heap), Obj::new("b", heap), Obj::new("c", heap));
    println!(">>> a.b = b; b.c = c; c.a = a");
    a.next.set(Some(b.clone()));
    b.next.set(Some(c.clone()));
    c.next.set(Some(a.clone()));
    println!(">>> a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)");
    let [a_ref, b_ref, c_ref] = [&a, &b, &c].map(Gc::downgrade);
    println!(">>> sys.getrefcount(a) - 1, sys.getrefcount(b) - 1, sys.getrefcount(c) - 1");
    println!("({}, {}, {})", Gc::strong_count(&a), Gc::strong_count(&b), Gc::strong_count(&c));
    println!(">>> a = b = c = None");
    drop(a);
    drop(b);
    drop(c);
    println!(">>> print(a_ref, b_ref, c_ref)");
    print_refs(&[&a_ref, &b_ref, &c_ref]);
    println!(">>> a_ref().b.c.a is a_ref()");
    let a_again = a_ref.upgrade().expect("the ring keeps a alive");
    let b_again = a_again.next.get().expect("a.b");
    let c_again = b_again.next.get().expect("b.c");
    let around = c_again.next.get().expect("c.a");
    println!("{}", if Gc::ptr_eq(&around, &a_again) { "True" } else { "False" });
    drop((a_again, b_again, c_again, around));
    println!(">>> sys.getrefcount(a_ref()) - 1   # only c.a is left");
    println!("{}", a_ref.strong_count());
    println!("(live objects on the heap: {})", heap.counts().live);
    collect(heap);
    println!(">>> print(a_ref, b_ref, c_ref)");
    print_refs(&[&a_ref, &b_ref, &c_ref]);
}

fn main() {
    println!("# gc.disable(): an isolated heap with automatic collection off");
    println!(">>> gc.disable()");
    let heap = Heap::new();
    heap.set_automatic_collection(false);
    println!(">>> gc.isenabled()");
    println!("{}", if heap.automatic_collection() { "True" } else { "False" });
    self_cycle(&heap);
    two_friends(&heap);
    three_ring(&heap);
}
