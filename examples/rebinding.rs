//! An object is destroyed at the very statement that rebinds its last name (seeds 000, 001
//! and 002): no collector, no pause.
//!
//! Seed 001:
//!
//! ```python
//! a = Foo()          # Object(...) is being Created.
//! print('...')
//! a = 1              # Object(...) is being destroyed.
//! print('end')
//! ```
//!
//! Seed 000:
//!
//! ```python
//! a = Foo()
//! b = Foo()
//! a = b  ## 1)       # Object(<first>) is being destroyed.
//! b = 1  ## 2)       # nothing: `a` still refers to the second Foo
//! a = 2  ## 3)       # Object(<second>) is being destroyed.
//! ```
//!
//! Seed 002 (the version without `self.me = self`; the cyclic one needs the collector):
//!
//! ```python
//! a = RefExam()      # create object
//! a = 0              # destroy ...
//! print('end .....')
//! ```
//!
//! `__del__` becomes `impl Drop`, which prints the value's address as Python prints `id(self)`.
//! A Python name can be rebound to an object of another type; here each name is a small enum,
//! `Name::Foo(handle)` or `Name::Int(n)`, and assigning a new variant drops the handle the
//! name held at that statement. `b = a` is `b = a.clone()`: a second name is a second handle.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary. Addresses differ from run to run.

use std::fmt;

use weakling::{Gc, Trace};

#[derive(Trace)]
struct Foo {
    value: i32,
}

impl Foo {
    fn new() -> Gc<Foo> {
        let obj = Gc::new(Foo { value: 1 });
        println!("Object({:p}) is being created.", Gc::as_ptr(&obj));
        obj
    }
}

impl Drop for Foo {
    // Python's `__del__`: runs when the last handle goes. `self` is the value in place on
    // the heap, so its address is the one `Gc::as_ptr` printed at creation.
    fn drop(&mut self) {
        println!("Object({:p}) is being destroyed.", self);
    }
}

/// What a Python name is bound to in these snippets: an object, or an int.
#[derive(Clone)]
enum Name {
    Foo(Gc<Foo>),
    RefExam(Gc<RefExam>),
    Int(i64),
}

impl fmt::Display for Name {
    // As the Python REPL shows a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Foo(obj) => {
                write!(f, "<Foo object at {:p}, value {}>", Gc::as_ptr(obj), obj.value)
            }
            Name::RefExam(obj) => write!(f, "<RefExam object at {:p}>", Gc::as_ptr(obj)),
            Name::Int(i) => write!(f, "{i}"),
        }
    }
}

#[derive(Trace)]
struct RefExam;

impl Drop for RefExam {
    fn drop(&mut self) {
        println!("destroy {:p}", self);
    }
}

// The snippets bind names only to hold references, as the Python names do; some bindings
// are overwritten before anything reads them, which is the point being shown.
#[allow(unused_assignments)]
fn seed_001() {
    println!("# seed 001: rebinding the only name destroys the object on that line");
    println!(">>> a = Foo()");
    let mut a = Name::Foo(Foo::new());
    println!(">>> print('...')");
    println!("...");
    println!(">>> a = 1");
    a = Name::Int(1);
    println!(">>> print('end')");
    println!("end");
    println!(">>> a");
    println!("{a}");
}

#[allow(unused_assignments)]
fn seed_000() {
    println!("# seed 000: two names, one object, destroyed when the second name lets go");
    println!(">>> a = Foo()");
    let mut a = Name::Foo(Foo::new());
    println!(">>> b = Foo()");
    let mut b = Name::Foo(Foo::new());
    println!(">>> a = b");
    // The first Foo loses its only name here, so its Drop runs inside this assignment.
    a = b.clone();
    println!(">>> b = 1");
    // `a` still holds the second Foo: nothing is destroyed.
    b = Name::Int(1);
    println!(">>> a");
    println!("{a}");
    println!(">>> a = 2");
    a = Name::Int(2);
    println!(">>> a, b");
    println!("({a}, {b})");
}

#[allow(unused_assignments)]
fn seed_002() {
    println!("# seed 002: no cycle, so the object is freed before 'end .....'");
    println!(">>> a = RefExam()");
    println!("create object");
    let mut a = Name::RefExam(Gc::new(RefExam));
    println!(">>> a = 0");
    a = Name::Int(0);
    println!(">>> print('end .....')");
    println!("end .....");
    println!(">>> a");
    println!("{a}");
}

fn main() {
    seed_001();
    seed_000();
    seed_002();
}
