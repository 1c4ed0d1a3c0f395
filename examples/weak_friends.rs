//! Objects that refer to each other through weak references die as soon as their names go
//! (seeds 001 and 004).
//!
//! Seed 001, a one-way strong friend (no cycle; `b.friend = a` is commented out in the post):
//!
//! ```python
//! def func(a):
//!   b = Foo()
//!   print(a)
//!   print(b)
//!   a.friend = b
//!
//! a = Foo()
//! func(a)
//! del a          # b destroyed (a.__del__ does `del self.friend` first), then a
//! ```
//!
//! Seed 001, two friends through weak references:
//!
//! ```python
//! a, b = Foo(), Foo()
//! a.friend = weakref.ref(b)
//! b.friend = weakref.ref(a)
//! b = None       # Object(...) is being destroyed.
//! a.friend()
//! a = None       # Object(...) is being destroyed.
//! ```
//!
//! Seed 004, a strong chain a -> b -> c without a cycle, then the ring a -> b -> c -> a made
//! of weak references; both are freed by reference counting alone:
//!
//! ```python
//! a.b = weakref.ref(b)
//! b.c = weakref.ref(c)
//! c.a = weakref.ref(a)
//! a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)
//! a = b = c = None
//! print(a_ref, b_ref, c_ref)
//! # <weakref at 0x...; dead> <weakref at 0x...; dead> <weakref at 0x...; dead>
//! ```
//!
//! The middle example of seed 004 (the same ring made of strong references) and seed 002's
//! `self.me = self` are cycles: only a cycle collector frees them, so they are not here.
//!
//! An attribute assigned after construction (`a.friend = ...`) is a `GcCell` field. A weak
//! handle prints through its `Debug` impl as `(Weak at <address>; dead)`, weakling's
//! `<weakref at ...; dead>`.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary. Addresses differ from run to run.

use weakling::{Gc, GcCell, Trace, Weak};

/// Seed 001's first `Foo`: a strong `friend` attribute.
#[derive(Trace)]
struct Foo {
    value: i32,
    friend: GcCell<Option<Gc<Foo>>>,
}

impl Foo {
    fn new() -> Gc<Foo> {
        let obj = Gc::new(Foo { value: 1, friend: GcCell::new(None) });
        println!("Object({:p}) is being created.", Gc::as_ptr(&obj));
        obj
    }
}

impl Drop for Foo {
    // The post's `__del__` runs `del self.friend` before printing, so the friend's message
    // comes first. Taking the handle out here does the same; without it the friend would
    // be released after this body, with the fields, and print second.
    fn drop(&mut self) {
        drop(self.friend.take());
        println!("Object({:p}) is being destroyed.", self);
    }
}

/// Seed 001's second `Foo`: its `friend` is a weak reference, and `__del__` leaves it alone.
#[derive(Trace)]
struct WeakFoo {
    value: i32,
    friend: GcCell<Option<Weak<WeakFoo>>>,
}

impl WeakFoo {
    fn new() -> Gc<WeakFoo> {
        let obj = Gc::new(WeakFoo { value: 1, friend: GcCell::new(None) });
        println!("Object({:p}) is being created.", Gc::as_ptr(&obj));
        obj
    }
}

impl Drop for WeakFoo {
    fn drop(&mut self) {
        println!("Object({:p}) is being destroyed.", self);
    }
}

/// Seed 004's bare `object`: one attribute that links to the next object.
#[derive(Trace)]
struct Obj {
    name: &'static str,
    link: GcCell<Option<Link>>,
}

#[derive(Trace)]
enum Link {
    Strong(Gc<Obj>),
    Weak(Weak<Obj>),
}

impl Obj {
    fn new(name: &'static str) -> Gc<Obj> {
        Gc::new(Obj { name, link: GcCell::new(None) })
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        println!("{} destroyed", self.name);
    }
}

/// Python's `print(a_ref, b_ref, c_ref)`.
fn print_refs(refs: &[Weak<Obj>]) {
    let shown: Vec<String> = refs.iter().map(|r| format!("{r:?}")).collect();
    println!("{}", shown.join(" "));
}

fn func(a: &Gc<Foo>) {
    println!(">>>   b = Foo()");
    let b = Foo::new();
    println!(">>>   print(a); print(b)");
    println!("<Foo object at {:p}, value {}>", Gc::as_ptr(a), a.value);
    println!("<Foo object at {:p}, value {}>", Gc::as_ptr(&b), b.value);
    println!(">>>   a.friend = b");
    // The local name `b` ends with the function; `a.friend` keeps the object alive.
    a.friend.set(Some(b));
}

fn strong_friend() {
    println!("# seed 001: a.friend = b keeps b alive after func returns; del a frees both");
    println!(">>> a = Foo()");
    let a = Foo::new();
    println!(">>> func(a)");
    func(&a);
    println!(">>> del a");
    drop(a);
}

fn weak_friends() {
    println!("# seed 001: two friends through weak references");
    println!(">>> a, b = Foo(), Foo()");
    let a = WeakFoo::new();
    let mut b = Some(WeakFoo::new());
    let b_ref = b.as_ref().expect("just bound");
    println!(">>> a.friend = weakref.ref(b)");
    a.friend.set(Some(Gc::downgrade(b_ref)));
    println!(">>> b.friend = weakref.ref(a)");
    b_ref.friend.set(Some(Gc::downgrade(&a)));
    println!(">>> b = None");
    // `b` was the only strong handle: a weak friend does not keep it alive.
    b = None;
    println!(">>> a.friend()");
    let friend = a.friend.read().as_ref().and_then(Weak::upgrade);
    println!("{}", if friend.is_none() { "None" } else { "<Foo>" });
    println!(">>> a = None");
    drop(a);
    assert!(b.is_none());
}

fn strong_chain() {
    println!("# seed 004: a strong chain a -> b -> c, no cycle");
    println!(">>> a, b, c = object(), object(), object()");
    let (a, b, c) = (Obj::new("a"), Obj::new("b"), Obj::new("c"));
    println!(">>> a.b = b; b.c = c");
    a.link.set(Some(Link::Strong(b.clone())));
    b.link.set(Some(Link::Strong(c.clone())));
    let refs = [&a, &b, &c].map(Gc::downgrade);
    println!(">>> sys.getrefcount(b) - 1, sys.getrefcount(c) - 1");
    println!("({}, {})", Gc::strong_count(&b), Gc::strong_count(&c));
    println!(">>> a = b = c = None");
    // Dropped in the order Python unbinds them: a goes and takes its link to b, which
    // still has its name until `b` is dropped, and so on.
    drop(a);
    drop(b);
    drop(c);
    println!(">>> print(a_ref, b_ref, c_ref)");
    print_refs(&refs);
}

fn weak_ring() {
    println!("# seed 004: a ring a -> b -> c -> a of weak references");
    println!(">>> a, b, c = object(), object(), object()");
    let (a, b, c) = (Obj::new("a"), Obj::new("b"), Obj::new("c"));
    println!(">>> a.b = weakref.ref(b); b.c = weakref.ref(c); c.a = weakref.ref(a)");
    a.link.set(Some(Link::Weak(Gc::downgrade(&b))));
    b.link.set(Some(Link::Weak(Gc::downgrade(&c))));
    c.link.set(Some(Link::Weak(Gc::downgrade(&a))));
    println!(">>> a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)");
    let refs = [&a, &b, &c].map(Gc::downgrade);
    println!(">>> print(a_ref, b_ref, c_ref)");
    print_refs(&refs);
    println!(">>> sys.getrefcount(a) - 1, sys.getrefcount(b) - 1, sys.getrefcount(c) - 1");
    // Only the names count: the ring's links are weak.
    println!("({}, {}, {})", Gc::strong_count(&a), Gc::strong_count(&b), Gc::strong_count(&c));
    println!(">>> a = b = c = None");
    drop(a);
    drop(b);
    drop(c);
    println!(">>> print(a_ref, b_ref, c_ref)");
    print_refs(&refs);
}

fn main() {
    strong_friend();
    weak_friends();
    strong_chain();
    weak_ring();
}
